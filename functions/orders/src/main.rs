// The SDK futures nest deeper than the compiler's default layout limit.
#![recursion_limit = "256"]

use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    kiosk::telemetry::init();
    let sdk = kiosk::config::aws().await;
    let state: &'static orders::State = Box::leak(Box::new(orders::State::from_env(
        &sdk,
        &kiosk::config::Env::Process,
    )?));
    run(service_fn(|request| orders::handle(state, request))).await
}
