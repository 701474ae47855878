//! The local API: what API Gateway does in front of the functions, on
//! 127.0.0.1. Routes, the authorizer and the gateway responses come from
//! template.yaml; each request becomes the REST proxy event API Gateway would
//! send, handed to the same handler the Lambda binary runs.

mod event;

use crate::bootstrap::LocalStack;
use crate::template::{GatewayResponse, Template, TemplateError};
use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest;
use aws_lambda_events::iam::IamPolicyEffect;
use axum::body::Body as AxumBody;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use event::{into_axum, proxy_event};
use serde_json::{Map, Value, json};
use shared::config::{ConfigError, Env};
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use validate_jwt::Decision;

/// API Gateway's payload limit.
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
pub const STAGE: &str = "local";
const ACCOUNT: &str = "123456789012";
const API_ID: &str = "localapi";

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A function behind API Gateway's proxy integration: the REST (v1) proxy
/// request in, the function's response out.
type ProxyHandler = Arc<
    dyn Fn(lambda_http::Request) -> BoxFuture<lambda_http::Response<lambda_http::Body>>
        + Send
        + Sync,
>;

/// The TOKEN authorizer: its request in, its decision (or failure) out.
type AuthorizerHandler = Arc<dyn Fn(ApiGatewayCustomAuthorizerRequest) -> Decision + Send + Sync>;

/// A function run by a schedule: EventBridge's scheduled event in, the
/// function's answer (or its error) out.
pub type ScheduledHandler = Arc<dyn Fn(Value) -> BoxFuture<Result<Value, String>> + Send + Sync>;

/// A function of the template, running in this process.
enum Function {
    Proxy(ProxyHandler),
    Authorizer(AuthorizerHandler),
    Scheduled(ScheduledHandler),
}

/// Builds a function's state from the SDK config and the environment the
/// template gives it, the way its `main` does, and wraps its handler.
type Build = fn(&aws_config::SdkConfig, &Env) -> Result<Function, ConfigError>;

/// Every function the local API can run, by the binary name template.yaml
/// gives it (`Metadata.BuildProperties.Binary`). A new function is one entry.
const REGISTRY: &[(&str, Build)] = &[
    ("authenticate", proxy::<authenticate::State>),
    ("products", proxy::<products::State>),
    ("orders", proxy::<orders::State>),
    ("order-expiry", |sdk, env| {
        // Run by its schedule (`LocalApi::schedules`), never by a route.
        let state = Arc::new(order_expiry::State::from_env(sdk, env)?);
        Ok(Function::Scheduled(Arc::new(move |event| {
            let state = Arc::clone(&state);
            Box::pin(async move {
                let event = serde_json::from_value(event)
                    .map_err(|e| format!("not a scheduled event: {e}"))?;
                let report = state.handle(event).await.map_err(|e| e.to_string())?;
                serde_json::to_value(report).map_err(|e| e.to_string())
            })
        })))
    }),
    ("validate-jwt", |_, env| {
        // Verifies with the public keys of its environment: no SDK client.
        let state = validate_jwt::State::from_env(env)?;
        Ok(Function::Authorizer(Arc::new(move |request| {
            validate_jwt::decide(&state, request)
        })))
    }),
];

/// An HTTP function behind the proxy integration, built as its `main` builds it.
fn proxy<F: shared::lambda::Function + Send + 'static>(
    sdk: &aws_config::SdkConfig,
    env: &Env,
) -> Result<Function, ConfigError> {
    let state = Arc::new(F::from_env(sdk, env)?);
    Ok(Function::Proxy(Arc::new(move |request| {
        let state = Arc::clone(&state);
        Box::pin(async move { state.handle(request).await })
    })))
}

struct Route {
    method: String,
    path: String,
    segments: Vec<String>,
    function: String,
    authorized: bool,
}

pub struct LocalApi {
    routes: Vec<Route>,
    authorizer_function: String,
    authorizer_header: String,
    authorizer_expression: Option<regex::Regex>,
    gateway: HashMap<String, GatewayResponse>,
    functions: HashMap<String, Function>,
}

#[derive(Debug, thiserror::Error)]
pub enum LocalApiError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("function {0}: {1}")]
    Config(String, ConfigError),
    #[error("template.yaml has function {0} with binary {1}, which the local API does not know")]
    UnknownBinary(String, String),
    #[error("template.yaml schedules function {0}, which is not a scheduled function here")]
    NotScheduled(String),
    #[error("the authorizer's ValidationExpression is not a valid regex: {0}")]
    Expression(#[from] regex::Error),
}

impl LocalApi {
    /// Builds every function of the template with the environment the
    /// template gives it, resolved against the local stack.
    pub fn new(
        template: &Template,
        stack: &LocalStack,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Self, LocalApiError> {
        let mut functions = HashMap::new();
        for (logical_id, binary) in template.functions()? {
            let env = Env::Map(template.function_env(&logical_id, &stack.refs)?);
            let function = build_function(&logical_id, &binary, sdk, &env)?;
            functions.insert(logical_id, function);
        }
        let authorizer = template.authorizer()?;
        let routes = template
            .routes()?
            .into_iter()
            .map(|r| Route {
                segments: r
                    .path
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                method: r.method,
                path: r.path,
                function: r.function,
                authorized: r.authorized,
            })
            .collect();
        Ok(Self {
            routes,
            authorizer_function: authorizer.function,
            authorizer_header: authorizer.header,
            authorizer_expression: authorizer
                .validation_expression
                .as_deref()
                .map(regex::Regex::new)
                .transpose()?,
            gateway: template.gateway_responses()?,
            functions,
        })
    }

    /// The functions the template runs on a schedule (`Type: Schedule`
    /// events): their logical id, how often, and their handler.
    pub fn schedules(
        &self,
        template: &Template,
    ) -> Result<Vec<(String, std::time::Duration, ScheduledHandler)>, LocalApiError> {
        let mut schedules = Vec::new();
        for (function, every) in template.schedules()? {
            match self.functions.get(&function) {
                Some(Function::Scheduled(handler)) => {
                    schedules.push((function, every, Arc::clone(handler)))
                }
                _ => return Err(LocalApiError::NotScheduled(function)),
            }
        }
        Ok(schedules)
    }

    pub fn router(self) -> axum::Router {
        axum::Router::new()
            .fallback(handle)
            .with_state(Arc::new(self))
    }

    /// The route for `method` and `path`, with its path parameters.
    fn find(&self, method: &str, path: &str) -> Option<(&Route, Map<String, Value>)> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        self.routes
            .iter()
            .filter(|r| r.method == method && r.segments.len() == segments.len())
            .find_map(|r| {
                let mut params = Map::new();
                for (pattern, actual) in r.segments.iter().zip(&segments) {
                    match pattern.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                        Some(name) => {
                            let decoded = percent_encoding::percent_decode_str(actual)
                                .decode_utf8_lossy()
                                .into_owned();
                            params.insert(name.to_owned(), Value::String(decoded));
                        }
                        None if pattern == actual => {}
                        None => return None,
                    }
                }
                Some((r, params))
            })
    }

    fn gateway_response(&self, kind: &str, fallback_status: u16) -> Response {
        // Like API Gateway: the specific response, else DEFAULT_4XX / DEFAULT_5XX.
        let default = if fallback_status >= 500 {
            "DEFAULT_5XX"
        } else {
            "DEFAULT_4XX"
        };
        let (status, body) = match self.gateway.get(kind).or_else(|| self.gateway.get(default)) {
            Some(r) => (r.status.unwrap_or(fallback_status), r.body.clone()),
            None => (fallback_status, json!({"message": kind}).to_string()),
        };
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (
            status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }

    /// Runs the authorizer as API Gateway does; the authorizer's context on
    /// Allow, or the gateway's answer otherwise.
    async fn authorize(
        &self,
        headers: &HeaderMap,
        method: &str,
        path: &str,
    ) -> Result<Value, Response> {
        let unauthorized = || self.gateway_response("UNAUTHORIZED", 401);
        let token = headers
            .get(&self.authorizer_header)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(unauthorized)?;
        if self
            .authorizer_expression
            .as_ref()
            .is_some_and(|re| !re.is_match(token))
        {
            return Err(unauthorized());
        }
        let Some(Function::Authorizer(decide)) = self.functions.get(&self.authorizer_function)
        else {
            return Err(self.gateway_response("AUTHORIZER_CONFIGURATION_ERROR", 500));
        };
        let method_arn =
            format!("arn:aws:execute-api:us-east-1:{ACCOUNT}:{API_ID}/{STAGE}/{method}{path}");
        let mut request = ApiGatewayCustomAuthorizerRequest::default();
        request.type_ = Some("TOKEN".to_owned());
        request.authorization_token = Some(token.to_owned());
        request.method_arn = Some(method_arn.clone());
        let answer = match decide(request) {
            Decision::Allow(answer) => answer,
            Decision::Denied => return Err(unauthorized()),
        };
        let allowed = answer.policy_document.statement.iter().any(|s| {
            s.effect == IamPolicyEffect::Allow
                && s.action
                    .iter()
                    .any(|a| a == "execute-api:Invoke" || a == "*")
                && s.resource.iter().any(|r| arn_matches(r, &method_arn))
        });
        if !allowed {
            return Err(self.gateway_response("ACCESS_DENIED", 403));
        }
        let mut context = match answer.context {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        context.insert(
            "principalId".to_owned(),
            answer
                .principal_id
                .map(Value::String)
                .unwrap_or(Value::Null),
        );
        Ok(Value::Object(context))
    }
}

/// The function `binary` of the template, built by its registry entry.
fn build_function(
    logical_id: &str,
    binary: &str,
    sdk: &aws_config::SdkConfig,
    env: &Env,
) -> Result<Function, LocalApiError> {
    let (_, build) = REGISTRY
        .iter()
        .find(|(name, _)| *name == binary)
        .ok_or_else(|| LocalApiError::UnknownBinary(logical_id.to_owned(), binary.to_owned()))?;
    build(sdk, env).map_err(|e| LocalApiError::Config(logical_id.to_owned(), e))
}

/// The environment variables the function `binary` reads when it starts,
/// given the variables `available` (no network call is made).
pub fn variables_read(
    binary: &str,
    sdk: &aws_config::SdkConfig,
    available: HashMap<String, String>,
) -> Result<std::collections::BTreeSet<String>, LocalApiError> {
    let asked = Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    build_function(
        binary,
        binary,
        sdk,
        &Env::Recorded(available, asked.clone()),
    )?;
    let names = asked.lock().map(|a| a.clone()).unwrap_or_default();
    Ok(names)
}

/// IAM-style match: `*` in the pattern matches any run of characters.
fn arn_matches(pattern: &str, arn: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == arn,
        Some((head, tail)) => {
            arn.starts_with(head)
                && (0..=arn.len() - head.len()).any(|i| {
                    arn.is_char_boundary(head.len() + i)
                        && arn_matches(tail, &arn[head.len() + i..])
                })
        }
    }
}

async fn handle(
    State(api): State<Arc<LocalApi>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: AxumBody,
) -> Response {
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return api.gateway_response("REQUEST_TOO_LARGE", 413);
    };
    let path = uri.path();
    let Some((route, path_parameters)) = api.find(method.as_str(), path) else {
        return api.gateway_response("MISSING_AUTHENTICATION_TOKEN", 403);
    };
    let authorizer = if route.authorized {
        match api.authorize(&headers, method.as_str(), path).await {
            Ok(context) => Some(context),
            Err(response) => return response,
        }
    } else {
        None
    };
    let event = proxy_event(
        route,
        path,
        uri.query(),
        &headers,
        &body,
        path_parameters,
        authorizer,
    );
    let request = match lambda_http::request::from_str(&event.to_string()) {
        Ok(request) => request,
        Err(e) => {
            tracing::error!(error = %e, "could not build the proxy event");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    match api.functions.get(&route.function) {
        Some(Function::Proxy(handler)) => into_axum(handler(request).await),
        _ => api.gateway_response("DEFAULT_5XX", 502),
    }
}

#[cfg(test)]
mod tests {
    use super::{REGISTRY, arn_matches};
    use crate::template::Template;
    use std::collections::BTreeSet;

    #[test]
    fn every_binary_of_the_template_has_exactly_one_registry_entry() {
        let names: BTreeSet<&str> = REGISTRY.iter().map(|(name, _)| *name).collect();
        assert_eq!(names.len(), REGISTRY.len(), "a binary registered twice");
        let template = Template::load(&Template::default_path()).unwrap();
        for (logical_id, binary) in template.functions().unwrap() {
            assert!(
                names.contains(binary.as_str()),
                "{logical_id} runs {binary}, which the registry does not know"
            );
        }
    }

    #[test]
    fn wildcards_in_policy_resources_match_like_iam() {
        let arn = "arn:aws:execute-api:us-east-1:1:api/local/GET/orders/1";
        assert!(arn_matches(
            "arn:aws:execute-api:us-east-1:1:api/local/*",
            arn
        ));
        assert!(arn_matches(arn, arn));
        assert!(!arn_matches(
            "arn:aws:execute-api:us-east-1:1:api/prod/*",
            arn
        ));
        assert!(arn_matches("*", arn));
    }
}
