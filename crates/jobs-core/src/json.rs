//! Reading JSON into typed values with errors a person can act on: text that is not JSON is told
//! apart from JSON of the wrong shape, a shape error names the field (`payload.ms`), and Rust's
//! type names (`u64`, `f64`) become words. The API's bodies and the kinds' payloads use it.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Why JSON did not become the value wanted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// The text is not JSON at all (or is cut short).
    #[error("not valid JSON: {0}")]
    Syntax(String),
    /// Valid JSON, not the expected shape. `path` is empty for the top level.
    #[error("{}{message}", if path.is_empty() { String::new() } else { format!("field `{path}`: ") })]
    Shape { path: String, message: String },
}

/// Parses `bytes` as JSON of type `T`.
/// JSON (and JSON Schema) does not tell `3` from `3.0`; serde's integers do. Integral numbers
/// written with a fraction become integers before typing.
pub fn integral(value: Value) -> Value {
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f >= 0.0 && f < u64::MAX as f64 => Value::from(f as u64),
            Some(f) if f.fract() == 0.0 && f < 0.0 && f >= i64::MIN as f64 => Value::from(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(integral).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, integral(v))).collect()),
        other => other,
    }
}

pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(explain)?;
    // Trailing characters after the value are a syntax error, as in `serde_json::from_slice`.
    de.end().map_err(|e| JsonError::Syntax(e.to_string()))?;
    Ok(value)
}

/// Types a JSON value as `T`.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, JsonError> {
    serde_path_to_error::deserialize(value).map_err(explain)
}

/// "an object", "a string", … for messages about a value of the wrong type.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn explain(e: serde_path_to_error::Error<serde_json::Error>) -> JsonError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    match inner.classify() {
        serde_json::error::Category::Data => JsonError::Shape {
            path: if path == "." { String::new() } else { path },
            message: humane(&without_position(&inner.to_string())),
        },
        _ => JsonError::Syntax(inner.to_string()),
    }
}

/// serde_json ends its messages with " at line 1 column 20": the field's path says more.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) if message[at..].contains(" column ") => message[..at].to_owned(),
        _ => message.to_owned(),
    }
}

/// Rust's type names in serde's messages, as words.
fn humane(message: &str) -> String {
    const TYPES: &[(&str, &str)] = &[
        ("u8", "a whole number from 0 to 255"),
        ("u16", "a whole number from 0 to 65535"),
        ("u32", "a whole number from 0 to 4294967295"),
        ("u64", "a whole number from 0 up"),
        ("usize", "a whole number from 0 up"),
        ("i8", "a whole number"),
        ("i16", "a whole number"),
        ("i32", "a whole number"),
        ("i64", "a whole number"),
        ("isize", "a whole number"),
        ("f32", "a number"),
        ("f64", "a number"),
        ("bool", "true or false"),
        ("a boolean", "true or false"),
        ("char", "a single character"),
        ("unit", "null"),
        ("a map", "an object"),
        ("a sequence", "an array"),
    ];
    let Some(at) = message.find(", expected ") else { return message.to_owned() };
    let (head, expected) = message.split_at(at + ", expected ".len());
    let expected = if expected.starts_with("struct ") {
        "an object"
    } else {
        TYPES.iter().find(|(rust, _)| *rust == expected).map_or(expected, |(_, words)| words)
    };
    format!("{head}{expected}")
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        ms: u64,
        ratio: Option<f64>,
        on: Option<bool>,
    }

    #[test]
    fn errors_name_the_field_and_the_type_in_words() {
        // (input, expected error)
        let shape = |path: &str, message: &str| JsonError::Shape { path: path.into(), message: message.into() };
        let cases = [
            (
                r#"{"name":"a","inner":{"ms":"x"}}"#,
                shape("inner.ms", r#"invalid type: string "x", expected a whole number from 0 up"#),
            ),
            (
                r#"{"name":"a","inner":{"ms":-1}}"#,
                shape("inner.ms", "invalid value: integer `-1`, expected a whole number from 0 up"),
            ),
            (
                r#"{"name":"a","inner":{"ms":1,"ratio":"x"}}"#,
                shape("inner.ratio", r#"invalid type: string "x", expected a number"#),
            ),
            (
                r#"{"name":"a","inner":{"ms":1,"on":1}}"#,
                shape("inner.on", "invalid type: integer `1`, expected true or false"),
            ),
            (r#"{"name":5}"#, shape("name", "invalid type: integer `5`, expected a string")),
            (r#"{"name":"a","extra":1}"#, shape("extra", "unknown field `extra`, expected `name` or `inner`")),
            (r#"{}"#, shape("", "missing field `name`")),
            (r#""text""#, shape("", r#"invalid type: string "text", expected an object"#)),
        ];
        for (input, want) in cases {
            assert_eq!(from_slice::<Body>(input.as_bytes()).unwrap_err(), want, "{input}");
        }
        assert_eq!(shape("inner.ms", "m").to_string(), "field `inner.ms`: m");
        assert_eq!(shape("", "m").to_string(), "m");
    }

    #[test]
    fn text_that_is_not_json_is_a_syntax_error() {
        for input in ["not json", r#"{"name":"a""#, r#"{"name":"a"} x"#, ""] {
            assert!(matches!(from_slice::<Body>(input.as_bytes()), Err(JsonError::Syntax(_))), "{input:?}");
        }
        assert!(from_slice::<Body>(br#" {"name":"a"} "#).is_ok());
    }

    #[test]
    fn values_are_typed_with_the_same_errors() {
        let err = from_value::<Inner>(serde_json::json!({"ms": true})).unwrap_err();
        assert_eq!(err.to_string(), "field `ms`: invalid type: boolean `true`, expected a whole number from 0 up");
    }
}
