//! Why a manifest cannot be read.

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("ScaledJob manifest: {0}")]
pub struct ManifestError(pub String);

pub(crate) fn err(message: impl Into<String>) -> ManifestError {
    ManifestError(message.into())
}
