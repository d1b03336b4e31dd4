//! Who triggered a job (`submittedBy` on the job item and in `GET /jobs/{id}`).
//!
//! One vocabulary, so a value says where it came from:
//! - `arn:aws:…`: in AWS, the IAM principal API Gateway authorized (a user or an assumed-role ARN);
//! - `schedule:<name>`: a firing of that schedule;
//! - `local:<name>`: a named local bearer token (`API_TOKENS`);
//! - `local`: the local API without a token, or with the unnamed `API_TOKEN`;
//! - `anonymous`: a Lambda request that reached the API without an IAM identity (only if the
//!   route's authorization was turned off).
//!
//! The value is recorded by whoever writes the job item first (the API, or for a schedule the
//! worker) and never changes. It is not part of the queue message, so workers of an older release
//! read the messages of a newer API unchanged.

/// The identity of the local API without a named token.
pub const LOCAL: &str = "local";
/// A Lambda request without an IAM identity.
pub const ANONYMOUS: &str = "anonymous";
/// The longest value kept (DynamoDB index keys take 2048 bytes; ARNs are far shorter).
pub const MAX_LEN: usize = 1024;

/// The submitter of a schedule's firings.
pub fn of_schedule(schedule: &str) -> String {
    format!("schedule:{schedule}")
}

/// The submitter of a request made with the local token named `name`.
pub fn of_local_token(name: &str) -> String {
    format!("{LOCAL}:{name}")
}

/// A usable value: 1 to [`MAX_LEN`] visible ASCII characters (IAM ARNs and the forms above).
pub fn valid(value: &str) -> bool {
    (1..=MAX_LEN).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic())
}

/// A local token's name: what `local:<name>` shows.
pub fn valid_token_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_table() {
        let long = "a".repeat(MAX_LEN + 1);
        let cases: &[(&str, bool)] = &[
            ("arn:aws:iam::123456789012:user/alice", true),
            ("arn:aws:sts::123456789012:assumed-role/deployer/session-1", true),
            ("schedule:nightly", true),
            ("local", true),
            ("local:alice", true),
            ("", false),
            ("has space", false),
            ("tab\there", false),
            ("é", false),
            (&long, false),
        ];
        for (value, want) in cases {
            assert_eq!(valid(value), *want, "{value:?}");
        }
        assert_eq!(of_schedule("nightly"), "schedule:nightly");
        assert_eq!(of_local_token("ci"), "local:ci");
        for (name, want) in [("ci", true), ("alice.b-2_c", true), ("", false), ("a:b", false), ("a=b", false)] {
            assert_eq!(valid_token_name(name), want, "{name:?}");
        }
    }
}
