//! The contract between the worker and a command it runs: the environment the command gets, what
//! its exit means, how its result file is read, and which of its stderr lines become the job's
//! `lastError`. Pure: the worker's runner does the I/O.
//!
//! | the command gets | |
//! |---|---|
//! | `JOB_ID`, `JOB_ATTEMPT` (1-based), `JOB_KIND` | who it is |
//! | `JOB_PAYLOAD` | the payload as JSON text (unset above [`MAX_PAYLOAD_ENV_BYTES`]: read the file) |
//! | `JOB_PAYLOAD_FILE` | a file holding the same JSON |
//! | `JOB_RESULT_FILE` | where it may write a JSON result (at most [`MAX_RESULT_BYTES`]) |
//! | `JOB_ARG_<NAME>` | each top-level string, number or boolean of the payload, for shell scripts |
//!
//! Exit 0 succeeds; a kind's `permanentExitCodes` fail the job at once; any other code, a signal
//! or the time limit is a failed attempt, retried per the kind's policy.

use std::collections::VecDeque;

use serde_json::Value;

/// Environment names starting with this belong to the contract; a kind's `env` may not use them.
pub const RESERVED_PREFIX: &str = "JOB_";
pub const JOB_ID: &str = "JOB_ID";
pub const JOB_ATTEMPT: &str = "JOB_ATTEMPT";
pub const JOB_KIND: &str = "JOB_KIND";
pub const JOB_PAYLOAD: &str = "JOB_PAYLOAD";
pub const JOB_PAYLOAD_FILE: &str = "JOB_PAYLOAD_FILE";
pub const JOB_RESULT_FILE: &str = "JOB_RESULT_FILE";
pub const JOB_ARG_PREFIX: &str = "JOB_ARG_";

/// The most result JSON stored on the job (its item holds at most 400 KB in all).
pub const MAX_RESULT_BYTES: u64 = 64 * 1024;
/// Linux refuses one environment string over 128 KiB; a payload above this is in the file only.
pub const MAX_PAYLOAD_ENV_BYTES: usize = 96 * 1024;
/// How many of the last stderr lines make `lastError`, and at most how many bytes.
pub const ERROR_TAIL_LINES: usize = 10;
pub const MAX_ERROR_BYTES: usize = 2048;
/// A longer line of output is cut (in the log and in `lastError`).
pub const MAX_LINE_BYTES: usize = 8 * 1024;
/// The most `JOB_ARG_*` variables, and the longest value one carries.
pub const MAX_ARGS: usize = 64;
pub const MAX_ARG_BYTES: usize = 4096;

/// One run's facts, for its environment.
#[derive(Debug, Clone, Copy)]
pub struct RunFacts<'a> {
    pub job_id: &'a str,
    pub attempt: u32,
    pub kind: &'a str,
    pub payload: &'a Value,
    pub payload_file: &'a str,
    pub result_file: &'a str,
}

/// The command's environment on top of the worker's: the kind's `env`, then the contract's
/// variables (which win: the config cannot declare them anyway).
pub fn environment(kind_env: &std::collections::BTreeMap<String, String>, run: RunFacts<'_>) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = kind_env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let payload = run.payload.to_string();
    env.push((JOB_ID.into(), run.job_id.into()));
    env.push((JOB_ATTEMPT.into(), run.attempt.to_string()));
    env.push((JOB_KIND.into(), run.kind.into()));
    if payload.len() <= MAX_PAYLOAD_ENV_BYTES {
        env.push((JOB_PAYLOAD.into(), payload));
    }
    env.push((JOB_PAYLOAD_FILE.into(), run.payload_file.into()));
    env.push((JOB_RESULT_FILE.into(), run.result_file.into()));
    env.extend(args(run.payload));
    env
}

/// `JOB_ARG_<NAME>` for each top-level scalar of an object payload: `reportDate` becomes
/// `JOB_ARG_REPORTDATE`, `max-rows` `JOB_ARG_MAX_ROWS`; strings as they are, numbers and
/// booleans as JSON writes them. Nested values, nulls, names that map to nothing or twice, and
/// values over [`MAX_ARG_BYTES`] are left to `JOB_PAYLOAD`.
pub fn args(payload: &Value) -> Vec<(String, String)> {
    let Some(fields) = payload.as_object() else { return Vec::new() };
    let mut out: Vec<(String, String)> = Vec::new();
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for (key, value) in fields {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => continue,
        };
        let name: String =
            key.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
        if name.trim_matches('_').is_empty() || name.len() > 64 || text.len() > MAX_ARG_BYTES || text.contains('\0') {
            continue;
        }
        *seen.entry(name.clone()).or_default() += 1;
        out.push((format!("{JOB_ARG_PREFIX}{name}"), text));
    }
    // Two keys mapping to one name (`a-b`, `a_b`) would be ambiguous: neither is set.
    out.retain(|(name, _)| seen[&name[JOB_ARG_PREFIX.len()..]] == 1);
    out.truncate(MAX_ARGS);
    out
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    /// Killed by a signal (its number).
    Signal(i32),
}

/// What a command's exit means for the attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Succeeded,
    Failed { permanent: bool, reason: String },
}

/// Judges an exit: 0 succeeds, a permanent code fails the job, anything else fails the attempt.
pub fn judge(exit: Exit, permanent_codes: &[i32]) -> Verdict {
    match exit {
        Exit::Code(0) => Verdict::Succeeded,
        // The job's record says that a permanent failure is not retried.
        Exit::Code(code) if permanent_codes.contains(&code) => {
            Verdict::Failed { permanent: true, reason: format!("exit code {code}") }
        }
        Exit::Code(code) => Verdict::Failed { permanent: false, reason: format!("exit code {code}") },
        Exit::Signal(signal) => {
            Verdict::Failed { permanent: false, reason: format!("killed by signal {signal} ({})", signal_name(signal)) }
        }
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        6 => "SIGABRT",
        9 => "SIGKILL: out of memory, or stopped",
        11 => "SIGSEGV",
        15 => "SIGTERM",
        _ => "a signal",
    }
}

/// What the result file held.
#[derive(Debug, Clone, PartialEq)]
pub enum ResultFile {
    /// Not written (or empty): the result is null.
    Absent,
    Json(Value),
    /// Over [`MAX_RESULT_BYTES`] (its size): not stored.
    TooLarge(u64),
    /// Not JSON: not stored.
    NotJson(String),
}

impl ResultFile {
    /// Reads a result file of `size` bytes whose first bytes (at most [`MAX_RESULT_BYTES`]) are
    /// `head`.
    pub fn read(size: u64, head: &[u8]) -> ResultFile {
        if size == 0 {
            ResultFile::Absent
        } else if size > MAX_RESULT_BYTES {
            ResultFile::TooLarge(size)
        } else {
            match serde_json::from_slice::<Value>(head) {
                Ok(v) => ResultFile::Json(v),
                Err(e) => ResultFile::NotJson(e.to_string()),
            }
        }
    }

    /// The job's result: the JSON, else null.
    pub fn result(&self) -> Value {
        match self {
            ResultFile::Json(v) => v.clone(),
            _ => Value::Null,
        }
    }

    /// Why a written result was not stored (shown in the attempt's history and the log).
    pub fn problem(&self) -> Option<String> {
        match self {
            ResultFile::TooLarge(size) => {
                Some(format!("result file ignored: {size} bytes, over the {MAX_RESULT_BYTES}-byte bound"))
            }
            ResultFile::NotJson(e) => Some(format!("result file ignored: not JSON ({e})")),
            _ => None,
        }
    }
}

/// The last lines of a command's stderr, bounded, for `lastError`.
#[derive(Debug, Clone, Default)]
pub struct ErrorTail(VecDeque<String>);

impl ErrorTail {
    pub fn push(&mut self, line: &str) {
        let line = cut(line.trim_end(), MAX_LINE_BYTES);
        if line.trim().is_empty() {
            return;
        }
        if self.0.len() == ERROR_TAIL_LINES {
            self.0.pop_front();
        }
        self.0.push_back(line.to_owned());
    }

    /// `reason`, then the last stderr lines: at most [`MAX_ERROR_BYTES`], keeping the end.
    pub fn last_error(&self, reason: &str) -> String {
        if self.0.is_empty() {
            return reason.to_owned();
        }
        let lines: Vec<&str> = self.0.iter().map(String::as_str).collect();
        let tail = lines.join("\n");
        let room = MAX_ERROR_BYTES.saturating_sub(reason.len() + 2);
        let start = tail.len().saturating_sub(room);
        let start = (start..=tail.len()).find(|i| tail.is_char_boundary(*i)).unwrap_or(tail.len());
        let cut_mark = if start > 0 { "…" } else { "" };
        format!("{reason}: {cut_mark}{}", &tail[start..])
    }
}

/// `line` cut to at most `max` bytes on a character boundary.
pub fn cut(line: &str, max: usize) -> &str {
    if line.len() <= max {
        return line;
    }
    let end = (0..=max).rev().find(|i| line.is_char_boundary(*i)).unwrap_or(0);
    &line[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn judge_table() {
        let permanent = [3, 64];
        let cases = [
            (Exit::Code(0), Verdict::Succeeded),
            (Exit::Code(3), Verdict::Failed { permanent: true, reason: "exit code 3".into() }),
            (Exit::Code(64), Verdict::Failed { permanent: true, reason: "exit code 64".into() }),
            (Exit::Code(1), Verdict::Failed { permanent: false, reason: "exit code 1".into() }),
            (Exit::Code(75), Verdict::Failed { permanent: false, reason: "exit code 75".into() }),
            (
                Exit::Signal(9),
                Verdict::Failed {
                    permanent: false,
                    reason: "killed by signal 9 (SIGKILL: out of memory, or stopped)".into(),
                },
            ),
            (Exit::Signal(15), Verdict::Failed { permanent: false, reason: "killed by signal 15 (SIGTERM)".into() }),
        ];
        for (exit, want) in cases {
            assert_eq!(judge(exit, &permanent), want, "{exit:?}");
        }
        assert_eq!(judge(Exit::Code(3), &[]), Verdict::Failed { permanent: false, reason: "exit code 3".into() });
    }

    #[test]
    fn args_table() {
        // (payload, the JOB_ARG_ variables)
        let cases: Vec<(Value, Vec<(&str, &str)>)> = vec![
            (
                json!({"campaign": "spring", "days": 7, "dry": true}),
                vec![("JOB_ARG_CAMPAIGN", "spring"), ("JOB_ARG_DAYS", "7"), ("JOB_ARG_DRY", "true")],
            ),
            (
                json!({"reportDate": "2026-12-05", "max-rows": 1.5}),
                vec![("JOB_ARG_MAX_ROWS", "1.5"), ("JOB_ARG_REPORTDATE", "2026-12-05")],
            ),
            (json!({"nested": {"a": 1}, "list": [1], "none": null}), vec![]),
            (json!({"a-b": "1", "a_b": "2", "c": "3"}), vec![("JOB_ARG_C", "3")]),
            (json!({"-": "x", "big": "y".repeat(MAX_ARG_BYTES + 1), "nul": "a\u{0}b"}), vec![]),
            (json!("not an object"), vec![]),
        ];
        for (payload, want) in cases {
            let got = args(&payload);
            let got: Vec<(&str, &str)> = got.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            assert_eq!(got, want, "{payload}");
        }
        let many: serde_json::Map<String, Value> = (0..100).map(|i| (format!("k{i:03}"), json!(i))).collect();
        assert_eq!(args(&Value::Object(many)).len(), MAX_ARGS);
    }

    #[test]
    fn environment_keeps_the_contract_over_the_kind_and_moves_big_payloads_to_the_file() {
        let kind_env = [("REGION".to_owned(), "eu".to_owned())].into_iter().collect();
        let payload = json!({"n": 1});
        let run = RunFacts {
            job_id: "j1",
            attempt: 2,
            kind: "report",
            payload: &payload,
            payload_file: "/t/p.json",
            result_file: "/t/r.json",
        };
        let env = environment(&kind_env, run);
        let get = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        assert_eq!(
            [
                get("REGION"),
                get(JOB_ID),
                get(JOB_ATTEMPT),
                get(JOB_KIND),
                get(JOB_PAYLOAD),
                get(JOB_PAYLOAD_FILE),
                get(JOB_RESULT_FILE),
                get("JOB_ARG_N")
            ],
            [
                Some("eu"),
                Some("j1"),
                Some("2"),
                Some("report"),
                Some(r#"{"n":1}"#),
                Some("/t/p.json"),
                Some("/t/r.json"),
                Some("1")
            ]
        );
        let big = json!({"blob": "x".repeat(MAX_PAYLOAD_ENV_BYTES)});
        let env = environment(&kind_env, RunFacts { payload: &big, ..run });
        assert!(env.iter().all(|(k, _)| k != JOB_PAYLOAD), "a payload over the bound is in the file only");
        assert!(env.iter().any(|(k, _)| k == JOB_PAYLOAD_FILE));
    }

    #[test]
    fn result_file_table() {
        let cases: Vec<(u64, &[u8], ResultFile, Option<&str>)> = vec![
            (0, b"", ResultFile::Absent, None),
            (11, br#"{"rows": 3}"#, ResultFile::Json(json!({"rows": 3})), None),
            (1, b"7", ResultFile::Json(json!(7)), None),
            (MAX_RESULT_BYTES + 1, b"{", ResultFile::TooLarge(MAX_RESULT_BYTES + 1), Some("over the 65536-byte bound")),
            (5, b"hello", ResultFile::NotJson("expected value at line 1 column 1".into()), Some("not JSON")),
        ];
        for (size, head, want, problem) in cases {
            let got = ResultFile::read(size, head);
            assert_eq!(got, want);
            assert_eq!(got.problem().is_some(), problem.is_some());
            if let Some(fragment) = problem {
                assert!(got.problem().unwrap().contains(fragment), "{:?}", got.problem());
                assert_eq!(got.result(), Value::Null);
            }
        }
    }

    #[test]
    fn error_tail_keeps_the_last_lines_within_the_bound() {
        let mut tail = ErrorTail::default();
        assert_eq!(tail.last_error("exit code 1"), "exit code 1");
        for i in 0..25 {
            tail.push(&format!("line {i}\n"));
        }
        tail.push("   ");
        let text = tail.last_error("exit code 1");
        assert_eq!(
            text,
            format!("exit code 1: {}", (15..25).map(|i| format!("line {i}")).collect::<Vec<_>>().join("\n"))
        );
        let mut long = ErrorTail::default();
        for _ in 0..ERROR_TAIL_LINES {
            long.push(&"é".repeat(MAX_LINE_BYTES));
        }
        let text = long.last_error("exit code 2");
        assert!(text.len() <= MAX_ERROR_BYTES + "…".len(), "{}", text.len());
        assert!(text.starts_with("exit code 2: …é"));
        assert_eq!(cut("héllo", 2), "h");
        assert_eq!(cut("héllo", 3), "hé");
    }
}
