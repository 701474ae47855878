//! Request parsing and response building shared by the HTTP functions.

use crate::{Error, Result, Role};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

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
    response
}

pub fn empty_response(status: u16) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::NO_CONTENT);
    response
}

/// The request body as JSON of type `T` (whose fields deny unknown keys).
/// A missing body, a body that is not JSON, an unknown field or a field of the
/// wrong type is 400 `invalid_body`; the message says what was wrong.
pub fn json_body<T: DeserializeOwned>(request: &Request) -> Result<T> {
    let bytes = request.body().as_ref();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::validation("invalid_body", "a JSON body is required"));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let message = match e.classify() {
            serde_json::error::Category::Data => describe(&e),
            _ => "the body is not valid JSON".to_owned(),
        };
        Error::validation("invalid_body", message)
    })
}

/// What was wrong with a well-formed body. serde_json's messages for unknown
/// and missing fields name only the field; the others quote the offending
/// value (which may be a CPF), so they are not passed on.
fn describe(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = text
        .rfind(" at line ")
        .map_or(text.as_str(), |at| &text[..at]);
    if text.starts_with("unknown field") || text.starts_with("missing field") {
        format!("invalid body: {text}")
    } else {
        "invalid body: a field has the wrong type or value".to_owned()
    }
}

/// The API Gateway route of the request, as declared in the template:
/// (`GET`, `/products/{id}`). Routing on the resource, not the raw path, keeps the
/// stage prefix and path parameters out of the match.
pub fn route(request: &Request) -> (&str, &str) {
    let resource = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.resource_path.as_deref().unwrap_or(""),
        _ => "",
    };
    (request.method().as_str(), resource)
}

pub fn route_not_found() -> Error {
    Error::not_found("route_not_found", "no such route")
}

/// The caller as established by the API Gateway authorizer (never by the client:
/// API Gateway fills `requestContext.authorizer` from the authorizer's answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub sub: String,
    pub role: Role,
    pub name: Option<String>,
}

impl Caller {
    pub fn from_request(request: &Request) -> Result<Self> {
        let unauthorized =
            || Error::unauthorized("unauthorized", "a valid bearer token is required");
        let Some(RequestContext::ApiGatewayV1(ctx)) = request.request_context_ref() else {
            return Err(unauthorized());
        };
        let field = |name: &str| ctx.authorizer.fields.get(name).and_then(|v| v.as_str());
        let sub = field("sub")
            .filter(|s| !s.is_empty())
            .ok_or_else(unauthorized)?;
        let role = field("role")
            .and_then(|r| r.parse().ok())
            .ok_or_else(unauthorized)?;
        Ok(Self {
            sub: sub.to_owned(),
            role,
            name: field("name").map(str::to_owned),
        })
    }

    pub fn require(&self, allowed: &[Role]) -> Result<()> {
        if allowed.contains(&self.role) {
            Ok(())
        } else {
            Err(Error::role_forbidden())
        }
    }
}

/// The bearer token of an `Authorization` header value, if it is one.
pub fn bearer(header_value: &str) -> Option<&str> {
    let (scheme, token) = header_value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

pub fn query_param<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .query_string_parameters_ref()
        .and_then(|q| q.first(name))
}

pub fn path_param<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.path_parameters_ref().and_then(|p| p.first(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_errors_name_fields_but_never_echo_values() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Body {
            cpf: String,
        }
        let request = |body: &str| {
            let mut request = Request::new(lambda_http::Body::Text(body.to_owned()));
            *request.method_mut() = http::Method::POST;
            request
        };
        let message = |body: &str| match json_body::<Body>(&request(body)) {
            Err(e) => e.public_parts().1.to_owned(),
            Ok(b) => panic!("accepted {b:?}"),
        };
        assert!(!message(r#"{"cpf": 52998224725}"#).contains("52998224725"));
        assert!(message(r#"{"cpf": "1", "x": 1}"#).contains("unknown field `x`"));
        assert!(message(r#"{}"#).contains("missing field `cpf`"));
        assert_eq!(message("{nope"), "the body is not valid JSON");
    }

    #[test]
    fn bearer_takes_the_token_of_a_bearer_header_only() {
        assert_eq!(bearer("Bearer abc.def"), Some("abc.def"));
        assert_eq!(bearer("bearer  abc"), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearer "), None);
    }
}
