// The SDK futures nest deeper than the compiler's default layout limit.
#![recursion_limit = "256"]

use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    kiosk::telemetry::init();
    let sdk = kiosk::config::aws().await;
    let state: &'static validate_jwt::State = Box::leak(Box::new(validate_jwt::State::from_env(
        &sdk,
        &kiosk::config::Env::Process,
    )?));
    run(service_fn(|event| validate_jwt::handle(state, event))).await
}
