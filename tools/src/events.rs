//! The API Gateway events of `events/` (the files `sam local invoke` takes)
//! and the sample ids they name, which a run against a stack of its own
//! replaces with ids of that stack, as a `sam local invoke` user edits them.

use kiosk_local::bootstrap::{BoxError, LocalStack};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The product the sample events name.
pub const SAMPLE_PRODUCT_ID: &str = "3f2b8c1e-8d7a-4c55-9a53-2a8f6c1d9e10";
/// The order the sample events name.
pub const SAMPLE_ORDER_ID: &str = "7a4d2e90-5c1b-4f3e-8d6a-1b2c3d4e5f60";
/// The store the sample events' kiosk, guest and kitchen belong to.
pub const SAMPLE_STORE_ID: &str = "7d1e4b2a-9c3f-4e8d-a5b6-1f2e3d4c5b6a";

/// `events/` of the workspace.
pub fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("events")
}

/// The event `file` (relative to `events/`), each sample id of `ids`
/// replaced by its value.
pub fn load(file: &str, ids: &HashMap<&str, String>) -> Result<Value, BoxError> {
    let path = folder().join(file);
    let mut text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    for (sample, real) in ids {
        text = text.replace(sample, real);
    }
    Ok(serde_json::from_str(&text)?)
}

/// A product of `stack`, written straight into its table: its id.
pub async fn create_product(
    sdk: &aws_config::SdkConfig,
    stack: &LocalStack,
) -> Result<String, BoxError> {
    let store = shared::store::products::ProductStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        stack.get("ProductsTable")?,
    );
    let body: shared::domain::product::ProductBody = serde_json::from_value(
        serde_json::json!({"name": "Misto Quente", "category": "sandwich", "price_cents": 1290}),
    )?;
    let draft = shared::domain::product::ProductDraft::try_from(body)?;
    Ok(store.create(draft).await?.id.to_string())
}

/// A store of `stack` open all day, every day, written straight into its
/// table: its id.
pub async fn create_store(
    sdk: &aws_config::SdkConfig,
    stack: &LocalStack,
) -> Result<String, BoxError> {
    use shared::domain::store::{Hours, StoreDraft, Timezone};
    let stores = shared::store::stores::StoreStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        stack.get("StoresTable")?,
    );
    let store = stores
        .create(StoreDraft {
            name: "Centro".to_owned(),
            timezone: Timezone::parse("America/Sao_Paulo")?,
            hours: Hours::always(),
            paused: false,
            mercadopago_pos_id: None,
        })
        .await?;
    Ok(store.id.to_string())
}
