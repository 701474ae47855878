//! AWS SDK failures as domain errors, for every adapter.

use crate::Error;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// What every SDK operation's error is: a service error with metadata (the
/// error code) and a raw response.
pub trait ServiceError: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static {}
impl<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static> ServiceError for E {}

/// An AWS SDK failure as a domain error: throttling, time-outs and unreachable
/// endpoints are `Unavailable` (503, worth a retry); the rest is `Internal`.
/// Adapters first pick out the service errors they expect (conditional check
/// failed, user not found, ...) and hand the rest here.
pub fn from_sdk<E: ServiceError, R: std::fmt::Debug + Send + Sync + 'static>(
    e: SdkError<E, R>,
) -> Error {
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

/// A failed list Query. With a start key from the client's cursor, a
/// ValidationException means DynamoDB could not place it: 400. Without one it
/// is a fault of ours (a missing index, say) and stays a 5xx.
pub fn query_failed<E: ServiceError, R: std::fmt::Debug + Send + Sync + 'static>(
    e: SdkError<E, R>,
    with_cursor: bool,
) -> Error {
    if with_cursor
        && e.as_service_error().and_then(ProvideErrorMetadata::code) == Some("ValidationException")
    {
        crate::http::page::invalid_cursor()
    } else {
        from_sdk(e)
    }
}
