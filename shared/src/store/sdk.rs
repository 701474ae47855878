//! AWS SDK failures as domain errors, for every adapter.

use crate::Error;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// What every SDK operation's error is: a service error with metadata (the
/// error code) and a raw response.
pub trait ServiceError: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static {}
impl<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static> ServiceError for E {}

/// The error codes AWS services answer when they throttle or fail on their side.
const UNAVAILABLE_CODES: &[&str] = &[
    "TooManyRequestsException",
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "InternalServerError",
    "InternalErrorException",
    "InternalFailure",
    "ServiceUnavailable",
    // A write that met a transaction in flight on the same item (DynamoDB).
    "TransactionConflictException",
];

/// Whether the failure is the dependency's and worth a retry: no answer in
/// time (`TimeoutError`: the bounds of `shared::config`), no connection
/// (`DispatchFailure`), throttling, or any 5xx answer, whether it parsed as a
/// service error (whatever its code) or not (a proxy's or an emulator's HTML
/// page is a `ResponseError`).
pub fn is_unavailable<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    match e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => true,
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            let code = e.as_service_error().and_then(ProvideErrorMetadata::code);
            status.is_some_and(|s| s >= 500 || s == 429)
                || code.is_some_and(|c| UNAVAILABLE_CODES.contains(&c))
        }
        // A request we could not build is our fault.
        _ => false,
    }
}

/// An AWS SDK failure as a domain error: a dependency that is down, slow or
/// throttling is `Unavailable` (503, worth a retry, see [`is_unavailable`]);
/// the rest (a 4xx we did not expect, a request we could not build) is
/// `Internal`. Adapters first pick out the service errors they expect
/// (conditional check failed, user not found, ...) and hand the rest here.
pub fn from_sdk<E: ServiceError>(e: SdkError<E, HttpResponse>) -> Error {
    if is_unavailable(&e) {
        Error::Unavailable(Box::new(e))
    } else {
        Error::Internal(Box::new(e))
    }
}

/// A failed list Query. With a start key from the client's cursor, a
/// ValidationException means DynamoDB could not place it: 400. Without one it
/// is a fault of ours (a missing index, say) and stays a 5xx.
pub fn query_failed<E: ServiceError>(e: SdkError<E, HttpResponse>, with_cursor: bool) -> Error {
    if with_cursor
        && e.as_service_error().and_then(ProvideErrorMetadata::code) == Some("ValidationException")
    {
        Error::invalid_cursor()
    } else {
        from_sdk(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    type Failure = SdkError<ErrorMetadata, HttpResponse>;

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from(body.to_owned()),
        )
    }

    fn service(status: u16, code: &str) -> Failure {
        let meta = ErrorMetadata::builder().code(code).build();
        SdkError::service_error(meta, response(status, "{}"))
    }

    fn status_of(e: Failure) -> u16 {
        from_sdk(e).status_code()
    }

    #[test]
    fn no_answer_in_time_or_no_connection_is_503() {
        assert_eq!(status_of(SdkError::timeout_error("operation timeout")), 503);
        let refused = ConnectorError::io("connection refused".into());
        assert_eq!(status_of(SdkError::dispatch_failure(refused)), 503);
    }

    #[test]
    fn any_5xx_answer_is_503_whatever_its_code_or_body() {
        let html = response(500, "<html><body>Internal Server Error</body></html>");
        assert_eq!(status_of(SdkError::response_error("not JSON", html)), 503);
        assert_eq!(status_of(service(500, "SomethingNobodyKnows")), 503);
        assert_eq!(status_of(service(502, "")), 503);
        assert_eq!(status_of(service(503, "ServiceUnavailable")), 503);
    }

    #[test]
    fn throttling_is_503_even_as_a_4xx() {
        assert_eq!(status_of(service(400, "ThrottlingException")), 503);
        assert_eq!(
            status_of(service(400, "ProvisionedThroughputExceededException")),
            503
        );
        assert_eq!(status_of(service(429, "")), 503);
    }

    #[test]
    fn an_unexpected_4xx_or_a_request_we_could_not_build_is_500() {
        assert_eq!(status_of(service(400, "ValidationException")), 500);
        assert_eq!(status_of(service(403, "AccessDeniedException")), 500);
        let garbled = response(400, "<html>bad request</html>");
        assert_eq!(
            status_of(SdkError::response_error("not JSON", garbled)),
            500
        );
        assert_eq!(status_of(SdkError::construction_failure("no region")), 500);
    }
}
