#![recursion_limit = "256"] // the SDK futures nest deeper than the default layout limit

use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let sdk = shared::config::aws().await;
    let state = validate_jwt::State::from_env(&sdk, &shared::config::Env::Process)?;
    let state = &state;
    run(service_fn(move |event| validate_jwt::handle(state, event))).await
}
