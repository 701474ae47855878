//! `validate-jwt`: the API Gateway TOKEN authorizer.
//!
//! A valid token gets an Allow policy for the whole API stage, because API
//! Gateway caches the answer per token (300 s) and applies it to every route;
//! the functions check roles themselves. Anything else is [`Decision::Denied`],
//! which the Lambda answers with the `Unauthorized` error API Gateway turns
//! into a 401.
//!
//! It verifies with the public keys it was deployed with (`JWT_PUBLIC_KEYS`)
//! and makes no network call at all, so it links no AWS SDK, no HTTP client
//! and no async runtime: [`runtime`] speaks the Lambda Runtime API itself.

pub mod runtime;

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequest,
    ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use serde_json::{Map, Value};
use shared::config::{ConfigError, Env};
use shared::domain::token::{Amr, TokenError, Verifier};

pub struct State {
    pub tokens: Verifier,
}

impl State {
    /// Reads the issuer, audience and public keys from the environment.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            tokens: shared::config::token_verifier(env)?,
        })
    }
}

/// What the authorizer decides about one request.
#[derive(Debug)]
pub enum Decision {
    /// A valid token: the policy and context API Gateway applies to the request.
    Allow(ApiGatewayCustomAuthorizerResponse),
    /// No valid token, or a `methodArn` that is not an execute-api ARN.
    Denied,
}

/// The exact error message API Gateway turns into a 401. Only the Lambda's
/// answer ([`authorize`]) uses it; callers in Rust match on [`Decision`].
pub const UNAUTHORIZED: &str = "Unauthorized";

/// What the Lambda answers API Gateway: the policy on Allow, the
/// `Unauthorized` error on Denied (API Gateway's 401).
pub fn authorize(
    state: &State,
    request: ApiGatewayCustomAuthorizerRequest,
) -> Result<ApiGatewayCustomAuthorizerResponse, runtime::FunctionError> {
    match decide(state, request) {
        Decision::Allow(response) => Ok(response),
        Decision::Denied => Err(runtime::FunctionError::new(UNAUTHORIZED, UNAUTHORIZED)),
    }
}

/// The authorizer's decision. Nothing can fail: the keys are in memory.
pub fn decide(state: &State, request: ApiGatewayCustomAuthorizerRequest) -> Decision {
    let token = request
        .authorization_token
        .as_deref()
        .and_then(shared::http::bearer);
    let claims = match token {
        Some(token) => state.tokens.verify(token),
        None => Err(TokenError::Missing),
    };
    let claims = match claims {
        Ok(claims) => claims,
        Err(e) => {
            tracing::info!(reason = e.code().as_str(), "token refused");
            return Decision::Denied;
        }
    };
    let Some(resource) = request.method_arn.as_deref().and_then(whole_api_arn) else {
        tracing::warn!("methodArn is not an execute-api ARN");
        return Decision::Denied;
    };

    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".to_owned()];
    statement.effect = IamPolicyEffect::Allow;
    statement.resource = vec![resource];
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".to_owned());
    policy.statement = vec![statement];

    let mut context = Map::new();
    context.insert("sub".into(), Value::String(claims.sub.clone()));
    context.insert(
        "role".into(),
        Value::String(claims.role.as_str().to_owned()),
    );
    if let Some(store_id) = &claims.store_id {
        context.insert("store_id".into(), Value::String(store_id.clone()));
    }
    if let Some(kiosk_id) = &claims.kiosk_id {
        context.insert("kiosk_id".into(), Value::String(kiosk_id.clone()));
    }
    if let Some(pos_id) = &claims.pos_id {
        context.insert("pos_id".into(), Value::String(pos_id.clone()));
    }
    // API Gateway's context holds strings, numbers and booleans only.
    if !claims.amr.is_empty() {
        context.insert("amr".into(), Value::String(Amr::join(&claims.amr)));
    }
    let mut response = ApiGatewayCustomAuthorizerResponse::default();
    response.principal_id = Some(claims.sub);
    response.policy_document = policy;
    response.context = Value::Object(context);
    Decision::Allow(response)
}

/// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{method}/{path}` →
/// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/*`.
///
/// Read by position: the ARN has exactly five `:` before the resource, and a
/// path may hold more (`/orders/a:b`), so it is never split from the right.
pub fn whole_api_arn(method_arn: &str) -> Option<String> {
    let mut fields = method_arn.splitn(6, ':');
    let [arn, partition, service, region, account, resource] =
        std::array::from_fn(|_| fields.next().unwrap_or_default());
    let mut segments = resource.split('/');
    let (api, stage) = (segments.next()?, segments.next()?);
    let well_formed = arn == "arn"
        && !partition.is_empty()
        && service == "execute-api"
        && !region.is_empty()
        && !account.is_empty()
        && !api.is_empty()
        && !stage.is_empty();
    well_formed.then(|| format!("arn:{partition}:execute-api:{region}:{account}:{api}/{stage}/*"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::Role;
    use shared::domain::jwk::{PrivateKey, PublicKeys};
    use shared::domain::token::{Claims, sign};

    const METHOD_ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:api1/dev/GET/orders/42";

    fn key() -> PrivateKey {
        PrivateKey::from_seed([1; 32])
    }

    fn state() -> State {
        State {
            tokens: Verifier::new(
                PublicKeys::new(vec![key().public()]).unwrap(),
                "kiosk-test",
                "kiosk-api",
            ),
        }
    }

    fn request(header: &str, method_arn: &str) -> ApiGatewayCustomAuthorizerRequest {
        let mut request = ApiGatewayCustomAuthorizerRequest::default();
        request.type_ = Some("TOKEN".into());
        request.authorization_token = Some(header.to_owned());
        request.method_arn = Some(method_arn.to_owned());
        request
    }

    fn bearer(kiosk_id: Option<&str>) -> String {
        let now = shared::clock::now_unix();
        let claims = Claims {
            iss: "kiosk-test".into(),
            aud: "kiosk-api".into(),
            sub: "guest:1".into(),
            role: Role::Guest,
            store_id: kiosk_id.map(|_| "store-3".to_owned()),
            kiosk_id: kiosk_id.map(str::to_owned),
            pos_id: kiosk_id.map(|_| "SUC3POS7".to_owned()),
            amr: Vec::new(),
            iat: now,
            nbf: now,
            exp: now + 60,
            jti: "j".into(),
        };
        format!("Bearer {}", sign(&key(), &claims).unwrap())
    }

    #[test]
    fn a_valid_token_is_allowed_on_the_whole_stage_with_its_claims_as_context() {
        let header = bearer(Some("kiosk-7"));
        let Decision::Allow(answer) = decide(&state(), request(&header, METHOD_ARN)) else {
            panic!("a valid token was denied");
        };
        assert_eq!(answer.principal_id.as_deref(), Some("guest:1"));
        let statement = &answer.policy_document.statement[0];
        assert_eq!(statement.effect, IamPolicyEffect::Allow);
        assert_eq!(
            statement.resource,
            ["arn:aws:execute-api:us-east-1:123456789012:api1/dev/*"]
        );
        assert_eq!(
            answer.context,
            serde_json::json!({
                "sub": "guest:1", "role": "guest", "store_id": "store-3", "kiosk_id": "kiosk-7",
                "pos_id": "SUC3POS7"
            })
        );
    }

    #[test]
    fn a_customer_tokens_authentication_methods_reach_the_functions_as_one_string() {
        let now = shared::clock::now_unix();
        let claims = Claims {
            iss: "kiosk-test".into(),
            aud: "kiosk-api".into(),
            sub: "0a1b2c3d".into(),
            role: Role::Customer,
            store_id: Some("store-3".into()),
            kiosk_id: Some("kiosk-7".into()),
            pos_id: None,
            amr: vec![Amr::Cpf, Amr::Otp],
            iat: now,
            nbf: now,
            exp: now + 60,
            jti: "j".into(),
        };
        let header = format!("Bearer {}", sign(&key(), &claims).unwrap());
        let Decision::Allow(answer) = decide(&state(), request(&header, METHOD_ARN)) else {
            panic!("a valid token was denied");
        };
        assert_eq!(answer.context["amr"], "cpf otp");
    }

    #[test]
    fn bad_tokens_and_foreign_method_arns_are_denied() {
        let header = bearer(None);
        for (header, method_arn) in [
            ("", METHOD_ARN),
            ("Basic abc", METHOD_ARN),
            ("Bearer not.a.jwt", METHOD_ARN),
            (header.as_str(), "arn:aws:s3:::bucket/key"),
            (header.as_str(), "arn:aws:execute-api:us-east-1:123:api1"),
        ] {
            let decision = decide(&state(), request(header, method_arn));
            assert!(
                matches!(decision, Decision::Denied),
                "{header:.20} on {method_arn}"
            );
        }
    }

    #[test]
    fn the_lambda_answers_denied_with_the_error_api_gateway_turns_into_a_401() {
        let error = authorize(&state(), request("Bearer not.a.jwt", METHOD_ARN)).unwrap_err();
        assert_eq!(error.message, "Unauthorized");
    }

    #[test]
    fn the_policy_covers_every_route_of_the_stage() {
        assert_eq!(
            whole_api_arn("arn:aws:execute-api:sa-east-1:123456789012:abc123/prod/GET/orders/42")
                .as_deref(),
            Some("arn:aws:execute-api:sa-east-1:123456789012:abc123/prod/*")
        );
        assert_eq!(whole_api_arn("not-an-arn"), None);
        assert_eq!(whole_api_arn("arn:aws:s3:::bucket/key"), None);
    }

    #[test]
    fn a_colon_in_the_path_does_not_move_the_policy() {
        // Split from the right, this would allow `.../prod/GET/orders/a/*`
        // (or nothing) and cache that for every route for five minutes.
        for path in ["orders/a:b", "products/x:y:z", ":"] {
            let arn = format!("arn:aws:execute-api:sa-east-1:123456789012:abc123/prod/GET/{path}");
            assert_eq!(
                whole_api_arn(&arn).as_deref(),
                Some("arn:aws:execute-api:sa-east-1:123456789012:abc123/prod/*"),
                "{arn}"
            );
        }
    }
}
