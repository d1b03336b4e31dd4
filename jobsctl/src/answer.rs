//! What a command gives back (its answer, or why it failed), shared by the command files.

use serde_json::Value;

use crate::wait::WaitError;

/// A command's answer: as the API gave it (`--json`), in human form, and the exit code.
pub(crate) struct Answer {
    pub(crate) value: Value,
    pub(crate) human: String,
    pub(crate) code: u8,
}

impl Answer {
    pub(crate) fn ok(value: Value, human: String) -> Answer {
        Answer { value, human, code: 0 }
    }
}

pub(crate) enum Failure {
    Usage(String),
    Wait(WaitError),
}

impl<E: Into<WaitError>> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure::Wait(e.into())
    }
}

pub(crate) fn json_arg(name: &str, text: Option<&str>) -> Result<Option<Value>, Failure> {
    text.map(serde_json::from_str::<Value>)
        .transpose()
        .map_err(|e| Failure::Usage(format!("--{name} is not JSON: {e}")))
}
