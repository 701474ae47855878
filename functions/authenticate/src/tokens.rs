//! Issuing tokens, `POST /validate` and the JWKS.

use crate::State;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::domain::Subject;
use shared::domain::token::{Amr, IssuedToken, Scope, TokenError};
use shared::http::error::ErrorBody;
use shared::http::{bearer, json_body, json_response};
use shared::{Error, Result, Role};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidateBody {
    /// Absent (`{}`) is a missing token: 401 `token_missing`, like no body.
    #[serde(default)]
    token: Option<String>,
}

pub(crate) async fn issue(
    state: &State,
    subject: &Subject,
    role: Role,
    scope: &Scope,
) -> Result<IssuedToken> {
    issue_proven(state, subject, role, scope, &[], None).await
}

/// [`issue`], with the token's `amr` and, when given, a shorter lifetime.
pub(crate) async fn issue_proven(
    state: &State,
    subject: &Subject,
    role: Role,
    scope: &Scope,
    amr: &[Amr],
    ttl: Option<std::time::Duration>,
) -> Result<IssuedToken> {
    state
        .tokens
        .issue_proven(subject, role, scope, amr, ttl)
        .await
        .map_err(|e| match e {
            TokenError::Keys(e) => Error::from(e),
            e => Error::internal(e),
        })
}

#[derive(Serialize)]
struct Validation<'a, C: Serialize> {
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    claims: Option<C>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorBody<'a>>,
}

/// `GET /.well-known/jwks.json`: the public keys tokens verify with (current
/// and previous), from the function's own configuration: no network call.
pub(crate) fn jwks(state: &State) -> Response<Body> {
    let mut response = Response::new(Body::from(state.tokens.verifier().public_keys().to_jwks()));
    *response.status_mut() = http::StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    // Keys change only with a deploy; verifiers elsewhere may cache them a while.
    headers.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// `POST /validate`: the token from the body, else from `Authorization`.
#[tracing::instrument(skip_all)]
pub(crate) fn validate(state: &State, request: &Request) -> Response<Body> {
    let from_body = if request.body().as_ref().iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match json_body::<ValidateBody>(request) {
            Ok(body) => body.token,
            Err(e) => return e.into_response(),
        }
    };
    let token = from_body.or_else(|| {
        request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer)
            .map(str::to_owned)
    });
    let verified = match token {
        Some(token) => state.tokens.verify(&token),
        None => Err(TokenError::Missing),
    };
    match verified {
        Ok(claims) => json_response(
            200,
            &Validation::<_> {
                valid: true,
                claims: Some(claims),
                error: None,
            },
        ),
        Err(TokenError::Keys(e)) => Error::from(e).into_response(),
        Err(e) => {
            tracing::info!(reason = e.code().as_str(), "token refused");
            let message = e.to_string();
            let error = ErrorBody::new(e.code(), &message);
            json_response(
                401,
                &Validation::<()> {
                    valid: false,
                    claims: None,
                    error: Some(error),
                },
            )
        }
    }
}
