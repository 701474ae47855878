//! Responses: JSON in the contract's content type, and errors as answers.

use super::error::{Envelope, ErrorBody};
use crate::error::{Error, ErrorChain};
use lambda_http::{Body, Response};
use serde::Serialize;

pub const JSON: &str = "application/json; charset=utf-8";

/// A JSON response with the contract's content type.
pub fn json_response<T: Serialize + ?Sized>(status: u16, value: &T) -> Response<Body> {
    // Serialising our own response types cannot fail (no maps with non-string keys).
    let body = serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned());
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(JSON),
    );
    // Tokens and personal data must not sit in any cache; the public routes
    // that may be cached (board, JWKS) say so themselves.
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}

pub fn empty_response(status: u16) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::NO_CONTENT);
    response
}

impl Error {
    /// The error as the API answers it; a server-side failure is logged here,
    /// once, with its whole chain.
    pub fn into_response(self) -> Response<Body> {
        if let Error::Unavailable(source) | Error::Internal(source) = &self {
            tracing::error!(error = %ErrorChain(source.as_ref()), status = self.status_code(), "request failed");
        }
        let (code, message) = self.public_parts();
        let mut response = json_response(
            self.status_code(),
            &Envelope {
                error: ErrorBody::new(code, message),
            },
        );
        if let Error::TooManyRequests { retry_after }
        | Error::Throttled {
            retry_after: Some(retry_after),
            ..
        } = self
        {
            response.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from(retry_after),
            );
        }
        response
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
        let response = Error::validation(crate::Code::InvalidCpf, "bad cpf").into_response();
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
