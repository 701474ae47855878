//! `validate-jwt`: the API Gateway TOKEN authorizer.
//!
//! A valid token gets an Allow policy for the whole API stage, because API
//! Gateway caches the answer per token (300 s) and applies it to every route;
//! the functions check roles themselves. Anything else is [`Decision::Denied`],
//! which the Lambda answers with the `Unauthorized` error API Gateway turns
//! into a 401. Keys that cannot be read are a failure, not a denial: API
//! Gateway answers it with the template's authorizer gateway response (503
//! `service_unavailable`).

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequest,
    ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Map, Value};
use shared::config::{ConfigError, Env, TokenConfig};
use shared::domain::keys::KeyError;
use shared::domain::token::{TokenError, TokenService};

pub struct State {
    pub tokens: TokenService,
}

impl State {
    /// Reads the token settings; the keys are fetched on first use, not here.
    pub fn from_env(sdk: &aws_config::SdkConfig, env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            tokens: TokenConfig::for_verifying(env)?
                .service(aws_sdk_secretsmanager::Client::new(sdk)),
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
const UNAUTHORIZED: &str = "Unauthorized";

/// The Lambda handler (`service_fn` in main.rs).
pub async fn handle(
    state: &State,
    event: LambdaEvent<ApiGatewayCustomAuthorizerRequest>,
) -> Result<ApiGatewayCustomAuthorizerResponse, Error> {
    authorize(state, event.payload).await
}

/// What the Lambda answers API Gateway: the policy on Allow, the
/// `Unauthorized` error on Denied (API Gateway's 401), any other error on a
/// failure (API Gateway's authorizer failure, 503 in the template).
pub async fn authorize(
    state: &State,
    request: ApiGatewayCustomAuthorizerRequest,
) -> Result<ApiGatewayCustomAuthorizerResponse, Error> {
    match decide(state, request).await? {
        Decision::Allow(response) => Ok(response),
        Decision::Denied => Err(UNAUTHORIZED.into()),
    }
}

/// The authorizer's decision; `Err` only when the signing keys cannot be read,
/// since then nothing can be verified.
pub async fn decide(
    state: &State,
    request: ApiGatewayCustomAuthorizerRequest,
) -> Result<Decision, KeyError> {
    let token = request
        .authorization_token
        .as_deref()
        .and_then(shared::http::bearer);
    let claims = match token {
        Some(token) => state.tokens.verify(token).await,
        None => Err(TokenError::Missing),
    };
    let claims = match claims {
        Ok(claims) => claims,
        Err(TokenError::Keys(e)) => return Err(e),
        Err(e) => {
            tracing::info!(reason = e.code(), "token refused");
            return Ok(Decision::Denied);
        }
    };
    let Some(resource) = request.method_arn.as_deref().and_then(whole_api_arn) else {
        tracing::warn!("methodArn is not an execute-api ARN");
        return Ok(Decision::Denied);
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
    if let Some(name) = &claims.name {
        context.insert("name".into(), Value::String(name.clone()));
    }
    let mut response = ApiGatewayCustomAuthorizerResponse::default();
    response.principal_id = Some(claims.sub);
    response.policy_document = policy;
    response.context = Value::Object(context);
    Ok(Decision::Allow(response))
}

/// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{method}/{path}` →
/// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/*`.
pub fn whole_api_arn(method_arn: &str) -> Option<String> {
    let (prefix, path) = method_arn.rsplit_once(':')?;
    let mut segments = path.split('/');
    let (api, stage) = (segments.next()?, segments.next()?);
    let well_formed = prefix.starts_with("arn:")
        && prefix.contains(":execute-api:")
        && !api.is_empty()
        && !stage.is_empty();
    well_formed.then(|| format!("{prefix}:{api}/{stage}/*"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::domain::keys::{KeyRing, KeySet, KeySource, SigningKey};
    use shared::domain::token::{TokenService, TokenSettings};
    use shared::store::secrets::SecretVersions;
    use std::time::Duration;

    const METHOD_ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:api1/dev/GET/orders/42";

    fn settings() -> TokenSettings {
        TokenSettings {
            issuer: "kiosk-test".into(),
            audience: "kiosk-api".into(),
            customer_ttl: Duration::from_secs(3600),
            staff_ttl: Duration::from_secs(3600),
        }
    }

    fn state_with(source: KeySource) -> State {
        State {
            tokens: TokenService::new(KeyRing::new(source, Duration::from_secs(300)), settings()),
        }
    }

    fn state() -> State {
        let current = SigningKey::new("v1", "a-test-signing-key-of-at-least-32-bytes!").unwrap();
        state_with(KeySource::Fixed(KeySet {
            current,
            previous: None,
        }))
    }

    fn request(header: &str, method_arn: &str) -> ApiGatewayCustomAuthorizerRequest {
        let mut request = ApiGatewayCustomAuthorizerRequest::default();
        request.type_ = Some("TOKEN".into());
        request.authorization_token = Some(header.to_owned());
        request.method_arn = Some(method_arn.to_owned());
        request
    }

    async fn bearer(state: &State) -> String {
        let issued = state
            .tokens
            .issue("guest:1", shared::Role::Guest, Some("Ana"))
            .await
            .unwrap();
        format!("Bearer {}", issued.access_token)
    }

    #[tokio::test]
    async fn a_valid_token_is_allowed_on_the_whole_stage_with_its_claims_as_context() {
        let state = state();
        let header = bearer(&state).await;
        let Decision::Allow(answer) = decide(&state, request(&header, METHOD_ARN)).await.unwrap()
        else {
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
            serde_json::json!({"sub": "guest:1", "role": "guest", "name": "Ana"})
        );
    }

    #[tokio::test]
    async fn bad_tokens_and_foreign_method_arns_are_denied_not_failures() {
        let state = state();
        let header = bearer(&state).await;
        for (header, method_arn) in [
            ("", METHOD_ARN),
            ("Basic abc", METHOD_ARN),
            ("Bearer not.a.jwt", METHOD_ARN),
            (header.as_str(), "arn:aws:s3:::bucket/key"),
        ] {
            let decision = decide(&state, request(header, method_arn)).await.unwrap();
            assert!(
                matches!(decision, Decision::Denied),
                "{header:.20} on {method_arn}"
            );
        }
    }

    #[tokio::test]
    async fn the_lambda_answers_denied_with_the_error_api_gateway_turns_into_a_401() {
        let error = authorize(&state(), request("Bearer not.a.jwt", METHOD_ARN))
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "Unauthorized");
    }

    #[tokio::test]
    async fn unreadable_keys_are_a_failure_not_a_denial() {
        use aws_sdk_secretsmanager::config::{Credentials, Region, retry::RetryConfig};
        // Nothing listens on the discard port: the secret cannot be read.
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version_latest()
            .region(Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .retry_config(RetryConfig::disabled())
            .http_client(shared::config::https_client())
            .build();
        let state = state_with(KeySource::SecretsManager(SecretVersions::new(
            aws_sdk_secretsmanager::Client::from_conf(config),
            "jwt",
        )));
        let token = bearer(&self::state()).await;
        assert!(decide(&state, request(&token, METHOD_ARN)).await.is_err());
        let error = authorize(&state, request(&token, METHOD_ARN))
            .await
            .unwrap_err();
        assert_ne!(error.to_string(), "Unauthorized");
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
}
