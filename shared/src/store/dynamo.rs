//! Small DynamoDB helpers shared by the stores.

use crate::store::sdk::from_sdk;
use crate::{Error, Result};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

/// One BatchGetItem over any tables (`table → keys`), strongly consistent
/// when asked, retrying only the keys DynamoDB leaves unprocessed
/// (throttling), a few times with backoff.
pub async fn batch_get(
    client: &Client,
    mut request: HashMap<String, Vec<Item>>,
    consistent: bool,
) -> Result<HashMap<String, Vec<Item>>> {
    request.retain(|_, keys| !keys.is_empty());
    let mut found: HashMap<String, Vec<Item>> = HashMap::new();
    for attempt in 0..4u32 {
        if request.is_empty() {
            return Ok(found);
        }
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(25 << attempt)).await;
        }
        let items = request
            .drain()
            .map(|(table, keys)| {
                Ok((
                    table,
                    KeysAndAttributes::builder()
                        .set_keys(Some(keys))
                        .consistent_read(consistent)
                        .build()
                        .map_err(Error::internal)?,
                ))
            })
            .collect::<Result<HashMap<_, _>>>()?;
        let output = client
            .batch_get_item()
            .set_request_items(Some(items))
            .send()
            .await
            .map_err(from_sdk)?;
        for (table, items) in output.responses.unwrap_or_default() {
            found.entry(table).or_default().extend(items);
        }
        request = output
            .unprocessed_keys
            .unwrap_or_default()
            .into_iter()
            .map(|(table, k)| (table, k.keys))
            .collect();
    }
    if request.is_empty() {
        Ok(found)
    } else {
        Err(Error::Unavailable("DynamoDB left keys unprocessed".into()))
    }
}

/// Whether a write failed on its condition (a concurrent write won, or the
/// item is not in the state the write requires): the one test every store
/// makes before turning the failure into its own answer.
pub fn is_condition_failure<E, R>(
    e: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> bool
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(aws_smithy_types::error::metadata::ProvideErrorMetadata::code)
        == Some("ConditionalCheckFailedException")
}

/// A conditional write's failure: `refused()` when its condition failed
/// (the item is not there, or not as the write requires), any other as the
/// SDK's.
pub fn refused_as<E: crate::store::sdk::ServiceError>(
    e: aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>,
    refused: fn() -> crate::Error,
) -> crate::Error {
    if is_condition_failure(&e) {
        refused()
    } else {
        from_sdk(e)
    }
}

/// A conditional write's outcome: `true` applied, `false` refused by its
/// condition; any other failure as the SDK's.
pub fn applied<T, E: crate::store::sdk::ServiceError>(
    result: std::result::Result<
        T,
        aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>,
    >,
) -> Result<bool> {
    match result {
        Ok(_) => Ok(true),
        Err(e) if is_condition_failure(&e) => Ok(false),
        Err(e) => Err(from_sdk(e)),
    }
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn text(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    }
}

pub fn from_item<T: serde::de::DeserializeOwned>(item: Item) -> Result<T> {
    serde_dynamo::from_item(item).map_err(Error::internal)
}

pub fn to_item<T: serde::Serialize>(value: &T) -> Result<Item> {
    serde_dynamo::to_item(value).map_err(Error::internal)
}
