//! The local stack: bootstrap of the emulated AWS resources and the local API
//! that serves template.yaml's routes, authorizer in front, with the real
//! handlers. Used by `make dev` and by the end-to-end tests.

pub mod bench;
pub mod bootstrap;
pub mod env_file;
pub mod events;
pub mod runtime_api;
pub mod server;
pub mod template;

use bootstrap::{BoxError, LocalStack, StaffUser};
use template::Template;

/// Bootstraps a stack named `prefix` in the emulator and returns the local API
/// for it, ready to serve.
pub async fn start(
    sdk: &aws_config::SdkConfig,
    template: &Template,
    prefix: &str,
    staff: &[StaffUser],
) -> Result<(LocalStack, axum::Router), BoxError> {
    start_with_secrets(
        sdk,
        template,
        prefix,
        staff,
        &std::collections::HashMap::new(),
    )
    .await
}

/// [`start`], with the values of some secrets (by logical id) chosen rather
/// than generated.
pub async fn start_with_secrets(
    sdk: &aws_config::SdkConfig,
    template: &Template,
    prefix: &str,
    staff: &[StaffUser],
    secret_values: &std::collections::HashMap<String, String>,
) -> Result<(LocalStack, axum::Router), BoxError> {
    let stack = bootstrap::bootstrap(sdk, template, prefix, staff, secret_values).await?;
    let api = server::LocalApi::new(template, &stack, sdk)?;
    Ok((stack, api.router()))
}

/// The SDK configuration for the emulator at `endpoint`, with moto's dummy
/// credentials: the same loader the functions use (its client and its bounds
/// on every call, [`shared::config::sdk_bounds`]), pointed elsewhere.
pub async fn emulator_sdk(endpoint: &str) -> aws_config::SdkConfig {
    shared::config::sdk_loader()
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "kiosk-local",
        ))
        .endpoint_url(endpoint)
        .load()
        .await
}

/// Seeds the menu table of `stack` with `local/demo-menu.json`, through the
/// same validation and store the products function uses.
pub async fn seed_demo_menu(
    sdk: &aws_config::SdkConfig,
    stack: &LocalStack,
) -> Result<usize, BoxError> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo-menu.json");
    let entries: Vec<shared::domain::product::ProductBody> =
        serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let store = shared::store::products::ProductStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        stack.get("ProductsTable")?,
    );
    let count = entries.len();
    for entry in entries {
        store
            .create(shared::domain::product::ProductDraft::try_from(entry)?)
            .await?;
    }
    Ok(count)
}
