//! Errors from AWS: one sentence saying what failed, the kind of failure (which decides whether
//! and how a caller retries) and the SDK's error as the source.

use std::fmt::Debug;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

/// The SDK error (or another cause) behind a [`BackendError`].
pub type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What kind of failure a [`BackendError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Another request touched the same item at the same time (DynamoDB `TransactionConflict`,
    /// `TransactionInProgressException`). Nothing was written; retry.
    Conflict,
    /// The service asked us to slow down. Nothing was written; retry after a pause.
    Throttled,
    /// No definite answer: a timeout, a broken connection or an internal service error. The request
    /// may have taken effect; read back (or retry idempotently) before concluding.
    Ambiguous,
    /// The table, queue or schedule does not exist (a configuration error or a deploy in progress).
    NotFound,
    /// The service refused this very request as malformed (a message body SQS does not carry, a
    /// DynamoDB validation error): the same request fails every time, whatever the service's
    /// health, so retrying it is useless.
    Invalid,
    /// Any other refusal (permissions, a malformed answer).
    Service,
}

/// A failure of an AWS service call.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("{context}: {detail}")]
    Conflict {
        context: String,
        detail: String,
        #[source]
        source: Option<Source>,
    },
    #[error("{context}: throttled: {detail}")]
    Throttled {
        context: String,
        detail: String,
        #[source]
        source: Option<Source>,
    },
    #[error("{context}: no definite answer (the request may have taken effect): {detail}")]
    Ambiguous {
        context: String,
        detail: String,
        #[source]
        source: Option<Source>,
    },
    #[error("{context}")]
    NotFound {
        context: String,
        #[source]
        source: Option<Source>,
    },
    #[error("{context}: refused as invalid: {detail}")]
    Invalid {
        context: String,
        detail: String,
        #[source]
        source: Option<Source>,
    },
    #[error("{context}{}", sep(.detail))]
    Service {
        context: String,
        detail: String,
        #[source]
        source: Option<Source>,
    },
}

/// Error codes that mean "slow down", across DynamoDB, SQS and Scheduler.
const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "ThrottlingError",
    "TooManyRequestsException",
    "AWS.SimpleQueueService.RequestThrottled",
];
const CONFLICT_CODES: &[&str] = &["TransactionConflict", "TransactionInProgressException"];
const NOT_FOUND_CODES: &[&str] =
    &["ResourceNotFoundException", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NonExistentQueue"];
/// Codes that refuse the request itself (SQS's query-compatible codes may carry a prefix).
const INVALID_CODES: &[&str] = &[
    "InvalidMessageContents",
    "ValidationException",
    "ValidationError",
    "InvalidParameterValue",
    "MissingParameter",
    "SerializationException",
];
const INTERNAL_CODES: &[&str] =
    &["InternalServerError", "InternalFailure", "InternalError", "ServiceUnavailable", "ServiceUnavailableException"];

impl BackendError {
    /// A failure that did not come from an SDK call (configuration, a malformed answer).
    pub fn other(context: impl Into<String>) -> Self {
        BackendError::Service { context: context.into(), detail: String::new(), source: None }
    }

    /// Builds an error of the given kind (the fault injector and callers that classify a
    /// service's answer themselves use this).
    pub fn of_kind(kind: ErrorKind, context: impl Into<String>, detail: impl Into<String>) -> Self {
        let (context, detail, source) = (context.into(), detail.into(), None);
        match kind {
            ErrorKind::Conflict => BackendError::Conflict { context, detail, source },
            ErrorKind::Throttled => BackendError::Throttled { context, detail, source },
            ErrorKind::Ambiguous => BackendError::Ambiguous { context, detail, source },
            ErrorKind::Invalid => BackendError::Invalid { context, detail, source },
            ErrorKind::NotFound => BackendError::NotFound { context: format!("{context}: {detail}"), source },
            ErrorKind::Service => BackendError::Service { context, detail, source },
        }
    }

    /// Classifies an SDK error. `context` says what was attempted ("DynamoDB GetItem on table …").
    pub fn from_sdk<E, R>(context: impl Into<String>, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: Debug + Send + Sync + 'static,
    {
        let kind = classify(&err);
        Self::with_source(kind, context, describe(&err), Box::new(err))
    }

    /// An error of `kind` keeping `source`.
    pub fn with_source(kind: ErrorKind, context: impl Into<String>, detail: String, source: Source) -> Self {
        let (context, source) = (context.into(), Some(source));
        match kind {
            ErrorKind::Conflict => BackendError::Conflict { context, detail, source },
            ErrorKind::Throttled => BackendError::Throttled { context, detail, source },
            ErrorKind::Ambiguous => BackendError::Ambiguous { context, detail, source },
            ErrorKind::Invalid => BackendError::Invalid { context, detail, source },
            ErrorKind::NotFound => BackendError::NotFound { context, source },
            ErrorKind::Service => BackendError::Service { context, detail, source },
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            BackendError::Conflict { .. } => ErrorKind::Conflict,
            BackendError::Throttled { .. } => ErrorKind::Throttled,
            BackendError::Ambiguous { .. } => ErrorKind::Ambiguous,
            BackendError::Invalid { .. } => ErrorKind::Invalid,
            BackendError::NotFound { .. } => ErrorKind::NotFound,
            BackendError::Service { .. } => ErrorKind::Service,
        }
    }

    /// The request may have taken effect although it reported an error.
    pub fn may_have_taken_effect(&self) -> bool {
        self.kind() == ErrorKind::Ambiguous
    }

    /// Worth retrying soon by itself: a conflict, throttling or no definite answer. Missing
    /// resources and other refusals need a person (or a deploy) first.
    pub fn is_transient(&self) -> bool {
        matches!(self.kind(), ErrorKind::Conflict | ErrorKind::Throttled | ErrorKind::Ambiguous)
    }
}

fn sep(detail: &str) -> String {
    if detail.is_empty() { String::new() } else { format!(": {detail}") }
}

/// The kind of an error code returned by a service (shared by the store's reading of cancelled
/// transactions).
pub fn kind_of_code(code: &str) -> Option<ErrorKind> {
    if THROTTLING_CODES.contains(&code) {
        Some(ErrorKind::Throttled)
    } else if CONFLICT_CODES.contains(&code) {
        Some(ErrorKind::Conflict)
    } else if NOT_FOUND_CODES.contains(&code) || code.contains("NonExistentQueue") {
        Some(ErrorKind::NotFound)
    } else if INVALID_CODES.iter().any(|c| code == *c || code.strip_suffix(c).is_some_and(|p| p.ends_with('.'))) {
        Some(ErrorKind::Invalid)
    } else if INTERNAL_CODES.contains(&code) {
        Some(ErrorKind::Ambiguous)
    } else {
        None
    }
}

fn classify<E, R>(err: &SdkError<E, R>) -> ErrorKind
where
    E: ProvideErrorMetadata,
{
    match err {
        // The request may have reached the service: nothing definite is known.
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => ErrorKind::Ambiguous,
        SdkError::ServiceError(_) => err.code().and_then(kind_of_code).unwrap_or(ErrorKind::Service),
        _ => ErrorKind::Service,
    }
}

/// "Code: message" for a service error, or the whole error chain for a transport failure.
pub fn describe<E>(err: &E) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => {
            let mut text = err.to_string();
            let mut source = err.source();
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        let cases = [
            ("ThrottlingException", Some(ErrorKind::Throttled)),
            ("ProvisionedThroughputExceededException", Some(ErrorKind::Throttled)),
            ("TransactionConflict", Some(ErrorKind::Conflict)),
            ("TransactionInProgressException", Some(ErrorKind::Conflict)),
            ("ResourceNotFoundException", Some(ErrorKind::NotFound)),
            ("AWS.SimpleQueueService.NonExistentQueue", Some(ErrorKind::NotFound)),
            ("InternalServerError", Some(ErrorKind::Ambiguous)),
            ("ValidationException", Some(ErrorKind::Invalid)),
            ("InvalidMessageContents", Some(ErrorKind::Invalid)),
            ("AWS.SimpleQueueService.InvalidMessageContents", Some(ErrorKind::Invalid)),
            ("NotInvalidMessageContents", None),
            ("AccessDeniedException", None),
        ];
        for (code, want) in cases {
            assert_eq!(kind_of_code(code), want, "{code}");
        }
    }

    #[test]
    fn kinds_decide_retries() {
        let e = |k| BackendError::of_kind(k, "DynamoDB GetItem", "x");
        assert!(e(ErrorKind::Conflict).is_transient() && !e(ErrorKind::Conflict).may_have_taken_effect());
        assert!(e(ErrorKind::Ambiguous).is_transient() && e(ErrorKind::Ambiguous).may_have_taken_effect());
        assert!(!e(ErrorKind::NotFound).is_transient() && !e(ErrorKind::Service).is_transient());
        assert!(!e(ErrorKind::Invalid).is_transient() && !e(ErrorKind::Invalid).may_have_taken_effect());
        assert_eq!(e(ErrorKind::Throttled).to_string(), "DynamoDB GetItem: throttled: x");
        assert_eq!(BackendError::other("no region").kind(), ErrorKind::Service);
    }
}
