//! The HTTP mapping of [`crate::Error`]: its status and the contract's
//! envelope. The error type and its codes live in [`crate::error`].

use crate::error::{Code, Error};
use serde::Serialize;

#[derive(Serialize)]
pub struct ErrorBody<'a> {
    pub code: &'a str,
    pub message: &'a str,
}

impl<'a> ErrorBody<'a> {
    pub fn new(code: Code, message: &'a str) -> Self {
        Self {
            code: code.as_str(),
            message,
        }
    }
}

/// The contract's error envelope: `{"error": {"code", "message"}}`.
#[derive(Serialize)]
pub struct Envelope<'a> {
    pub error: ErrorBody<'a>,
}

/// The HTTP status of an error.
pub fn status_code(error: &Error) -> u16 {
    match error {
        Error::Validation { .. } => 400,
        Error::Unauthorized { .. } => 401,
        Error::Forbidden { .. } => 403,
        Error::NotFound { .. } => 404,
        Error::Conflict { .. } => 409,
        Error::Unprocessable { .. } => 422,
        Error::TooLarge { .. } => 413,
        Error::TooManyRequests { .. } | Error::Throttled { .. } => 429,
        Error::Unavailable(_) | Error::ProviderUnavailable { .. } => 503,
        Error::ProviderRefused { .. } => 502,
        Error::Internal(_) => 500,
    }
}

impl Error {
    /// The HTTP status this error answers with.
    pub fn status_code(&self) -> u16 {
        status_code(self)
    }
}
