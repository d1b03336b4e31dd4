//! SQS's refusals, by the error each names.

/// SQS's refusals, by the error it names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqsError {
    #[error("AWS.SimpleQueueService.NonExistentQueue: {0}")]
    NoQueue(String),
    #[error("InvalidParameterValue: {0}")]
    InvalidParameter(String),
    #[error("MissingParameter: {0}")]
    Missing(&'static str),
    #[error("InvalidMessageContents: {0}")]
    InvalidContents(String),
    #[error("ReceiptHandleIsInvalid: {0}")]
    BadReceipt(String),
    /// The message is not hidden by a receive (it is visible again, or gone, or the handle is
    /// stale): its visibility cannot be changed.
    #[error("MessageNotInflight: {0}")]
    NotInFlight(String),
    #[error("QueueAlreadyExists: {0}")]
    QueueExists(String),
}

impl SqsError {
    /// The error code SQS answers with (its query-compatible code, as the SDK reads it).
    pub fn code(&self) -> &'static str {
        match self {
            SqsError::NoQueue(_) => "AWS.SimpleQueueService.NonExistentQueue",
            SqsError::InvalidParameter(_) => "InvalidParameterValue",
            SqsError::Missing(_) => "MissingParameter",
            SqsError::InvalidContents(_) => "InvalidMessageContents",
            SqsError::BadReceipt(_) => "ReceiptHandleIsInvalid",
            SqsError::NotInFlight(_) => "AWS.SimpleQueueService.MessageNotInflight",
            SqsError::QueueExists(_) => "QueueAlreadyExists",
        }
    }
}
