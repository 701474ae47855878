//! The Lambda entry point every HTTP function shares: build the state once at
//! cold start, then borrow it into each invocation (no `Box::leak`, as the
//! runtime's `basic-shared-resource` example does).

use crate::config::{ConfigError, Env};
use lambda_http::{Body, Request, Response};
use std::future::Future;

/// An HTTP function: its state built from the environment, and its handler.
pub trait Function: Sized + Sync {
    /// Builds clients and reads settings; makes no network call.
    fn from_env(sdk: &aws_config::SdkConfig, env: &Env) -> Result<Self, ConfigError>;

    /// Answers one API Gateway request; errors are already answers here.
    fn handle(&self, request: Request) -> impl Future<Output = Response<Body>> + Send;
}

/// The runtime's default subscriber: honours `AWS_LAMBDA_LOG_LEVEL` and
/// `AWS_LAMBDA_LOG_FORMAT` (JSON in the template).
pub fn init_tracing() {
    use lambda_runtime::tracing::subscriber;
    let requested = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_default();
    let collector = subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .with_max_level(log_level(&requested));
    if std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        collector.json().init();
    } else {
        collector.init();
    }
}

/// The level Lambda's logging config (or `RUST_LOG`) asks for, INFO by
/// default, and never TRACE: at TRACE lambda_runtime logs every raw event,
/// and events carry CPFs, passwords and tokens. Per-target directives are not
/// read, so none can turn that back on.
pub fn log_level(requested: &str) -> lambda_runtime::tracing::level_filters::LevelFilter {
    use lambda_runtime::tracing::level_filters::LevelFilter;
    match requested.trim().to_ascii_uppercase().as_str() {
        "TRACE" | "DEBUG" => LevelFilter::DEBUG,
        "WARN" => LevelFilter::WARN,
        "ERROR" | "FATAL" => LevelFilter::ERROR,
        "OFF" => LevelFilter::OFF,
        _ => LevelFilter::INFO,
    }
}

/// Runs `F` as the Lambda function of this process.
pub async fn serve<F: Function>() -> Result<(), lambda_http::Error> {
    init_tracing();
    let sdk = crate::config::aws().await;
    let state = F::from_env(&sdk, &Env::Process)?;
    let state = &state;
    lambda_http::run(lambda_http::service_fn(move |request| async move {
        Ok::<_, std::convert::Infallible>(state.handle(request).await)
    }))
    .await
}
