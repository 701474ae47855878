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

/// Runs `F` as the Lambda function of this process.
pub async fn serve<F: Function>() -> Result<(), lambda_http::Error> {
    crate::logging::init();
    let sdk = crate::config::aws().await;
    let state = F::from_env(&sdk, &Env::Process)?;
    let state = &state;
    lambda_http::run(lambda_http::service_fn(move |request| async move {
        Ok::<_, std::convert::Infallible>(state.handle(request).await)
    }))
    .await
}
