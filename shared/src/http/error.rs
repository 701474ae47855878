//! The one error type of the API and its one mapping to HTTP.

use serde::Serialize;

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a caller can branch on. Each client variant carries the stable `code` of
/// the API contract and a human message; `Internal` carries the cause for the log
/// and answers a generic 500.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    Validation { code: &'static str, message: String },
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// Too many requests of one client (a kiosk's sign-ins): 429
    /// `too_many_requests`, `Retry-After` seconds.
    #[error("too many requests")]
    TooManyRequests { retry_after: u64 },
    /// A body over [`crate::http::parse::MAX_BODY_BYTES`]: 413, unread.
    #[error("{message}")]
    TooLarge { code: &'static str, message: String },
    /// A dependency is throttling or down: worth a retry.
    #[error("service unavailable")]
    Unavailable(#[source] BoxError),
    /// The payment provider is down or refusing: 503
    /// `payment_provider_unavailable`, nothing changed.
    #[error("{message}")]
    ProviderUnavailable { code: &'static str, message: String },
    #[error("internal error")]
    Internal(#[source] BoxError),
}

#[derive(Serialize)]
pub struct ErrorBody<'a> {
    pub code: &'a str,
    pub message: &'a str,
}

/// The contract's error envelope: `{"error": {"code", "message"}}`.
#[derive(Serialize)]
pub struct Envelope<'a> {
    pub error: ErrorBody<'a>,
}

impl Error {
    pub fn validation(code: &'static str, message: impl Into<String>) -> Self {
        Self::Validation {
            code,
            message: message.into(),
        }
    }
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unauthorized {
            code,
            message: message.into(),
        }
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::Forbidden {
            code,
            message: message.into(),
        }
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound {
            code,
            message: message.into(),
        }
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unprocessable {
            code,
            message: message.into(),
        }
    }
    pub fn internal(source: impl Into<BoxError>) -> Self {
        Self::Internal(source.into())
    }
    /// The caller's role may not do this.
    pub fn role_forbidden() -> Self {
        Self::forbidden("forbidden", "your role may not do this")
    }

    pub fn status_code(&self) -> u16 {
        match self {
            Error::Validation { .. } => 400,
            Error::Unauthorized { .. } => 401,
            Error::Forbidden { .. } => 403,
            Error::NotFound { .. } => 404,
            Error::Conflict { .. } => 409,
            Error::Unprocessable { .. } => 422,
            Error::TooLarge { .. } => 413,
            Error::TooManyRequests { .. } => 429,
            Error::Unavailable(_) | Error::ProviderUnavailable { .. } => 503,
            Error::Internal(_) => 500,
        }
    }

    /// The stable code and the message a client may see. Server-side failures
    /// answer generic text: no SDK message, table name or stack reaches a client.
    pub fn public_parts(&self) -> (&str, &str) {
        match self {
            Error::Validation { code, message }
            | Error::Unauthorized { code, message }
            | Error::Forbidden { code, message }
            | Error::NotFound { code, message }
            | Error::Conflict { code, message }
            | Error::Unprocessable { code, message }
            | Error::TooLarge { code, message }
            | Error::ProviderUnavailable { code, message } => (code, message),
            Error::Unavailable(_) => ("service_unavailable", "the service is busy, try again"),
            Error::TooManyRequests { .. } => (
                "too_many_requests",
                "too many sign-ins from this kiosk; try again in a minute",
            ),
            Error::Internal(_) => ("internal_error", "something went wrong on our side"),
        }
    }
}

/// Displays an error with its sources: `outer: inner: root`.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}
