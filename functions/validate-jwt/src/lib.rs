//! `validate-jwt`: the API Gateway TOKEN authorizer.
//!
//! A valid token gets an Allow policy for the whole API stage, because API
//! Gateway caches the answer per token (300 s) and applies it to every route;
//! the functions check roles themselves. Anything else gets `Unauthorized`,
//! which API Gateway answers as 401.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequest,
    ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Map, Value};
use shared::config::{ConfigError, Env, TokenConfig};
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

/// The exact message API Gateway turns into a 401.
pub const UNAUTHORIZED: &str = "Unauthorized";

pub async fn handle(
    state: &State,
    event: LambdaEvent<ApiGatewayCustomAuthorizerRequest>,
) -> Result<ApiGatewayCustomAuthorizerResponse, Error> {
    authorize(state, event.payload).await
}

pub async fn authorize(
    state: &State,
    request: ApiGatewayCustomAuthorizerRequest,
) -> Result<ApiGatewayCustomAuthorizerResponse, Error> {
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
        // Without keys nothing can be verified: a server fault (500), not a 401.
        Err(TokenError::Keys(e)) => return Err(Box::new(e)),
        Err(e) => {
            tracing::info!(reason = e.code(), "token refused");
            return Err(UNAUTHORIZED.into());
        }
    };
    let resource = request
        .method_arn
        .as_deref()
        .and_then(whole_api_arn)
        .ok_or_else(|| {
            tracing::warn!("methodArn is not an execute-api ARN");
            Error::from(UNAUTHORIZED)
        })?;

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
    Ok(response)
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
