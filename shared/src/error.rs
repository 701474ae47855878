//! The one error type of the API and its one mapping to HTTP.

use lambda_http::{Body, Response};
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
    /// A dependency is throttling or down: worth a retry.
    #[error("service unavailable")]
    Unavailable(#[source] BoxError),
    #[error("internal error")]
    Internal(#[source] BoxError),
}

#[derive(Serialize)]
pub struct ErrorBody<'a> {
    pub code: &'a str,
    pub message: &'a str,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: ErrorBody<'a>,
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
            Error::Unavailable(_) => 503,
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
            | Error::Unprocessable { code, message } => (code, message),
            Error::Unavailable(_) => ("service_unavailable", "the service is busy, try again"),
            Error::Internal(_) => ("internal_error", "something went wrong on our side"),
        }
    }

    /// The error as the API answers it; a server-side failure is logged here,
    /// once, with its whole chain.
    pub fn into_response(self) -> Response<Body> {
        if let Error::Unavailable(source) | Error::Internal(source) = &self {
            tracing::error!(error = %ErrorChain(source.as_ref()), status = self.status_code(), "request failed");
        }
        let (code, message) = self.public_parts();
        crate::http::json_response(
            self.status_code(),
            &Envelope {
                error: ErrorBody { code, message },
            },
        )
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

/// An AWS SDK failure as a domain error: throttling, time-outs and unreachable
/// endpoints are `Unavailable` (503, worth a retry); the rest is `Internal`.
/// Adapters first pick out the service errors they expect (conditional check
/// failed, user not found, ...) and hand the rest here.
pub fn from_sdk<E, R>(e: aws_smithy_runtime_api::client::result::SdkError<E, R>) -> Error
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    let throttled = matches!(
        e.as_service_error().and_then(|s| s.code()),
        Some(
            "TooManyRequestsException"
                | "ThrottlingException"
                | "ProvisionedThroughputExceededException"
                | "RequestLimitExceeded"
                | "LimitExceededException"
                | "InternalServerError"
                | "InternalErrorException"
                | "ServiceUnavailable"
        )
    );
    if throttled || matches!(e, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)) {
        Error::Unavailable(Box::new(e))
    } else {
        Error::Internal(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[test]
    fn client_errors_answer_their_code_and_message_in_the_contract_envelope() {
        let response = Error::validation("invalid_cpf", "bad cpf").into_response();
        assert_eq!(response.status(), 400);
        assert_eq!(
            body_of(&response),
            serde_json::json!({"error": {"code": "invalid_cpf", "message": "bad cpf"}})
        );
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let response =
            Error::internal("ResourceNotFoundException: table kiosk-prod-orders").into_response();
        assert_eq!(response.status(), 500);
        let text = String::from_utf8(response.body().as_ref().to_vec()).unwrap();
        assert!(!text.contains("kiosk-prod-orders"), "{text}");
        assert_eq!(body_of(&response)["error"]["code"], "internal_error");
    }
}
