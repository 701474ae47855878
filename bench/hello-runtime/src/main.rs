//! The floor `make bench` measures the authorizer against: the same runtime,
//! tokio and log setup as `validate-jwt`, and a handler that does nothing but
//! hand the event back.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(event.payload)
    }))
    .await
}
