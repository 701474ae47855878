//! Small DynamoDB helpers shared by the stores.

use crate::store::sdk::from_sdk;
use crate::{Error, Result};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

/// The most keys one BatchGetItem may name (DynamoDB's limit).
pub const MAX_BATCH_KEYS: usize = 100;

/// `request` (`table → keys`) cut into requests of at most
/// [`MAX_BATCH_KEYS`] keys, in order: one when it fits.
fn batches(request: HashMap<String, Vec<Item>>) -> Vec<HashMap<String, Vec<Item>>> {
    let mut out: Vec<HashMap<String, Vec<Item>>> = vec![HashMap::new()];
    let mut room = MAX_BATCH_KEYS;
    for (table, keys) in request {
        for key in keys {
            if room == 0 {
                out.push(HashMap::new());
                room = MAX_BATCH_KEYS;
            }
            if let Some(batch) = out.last_mut() {
                batch.entry(table.clone()).or_default().push(key);
            }
            room -= 1;
        }
    }
    out
}

/// BatchGetItem over any tables (`table → keys`): one request per
/// [`MAX_BATCH_KEYS`] keys, made at once; strongly consistent when asked,
/// retrying only the keys DynamoDB leaves unprocessed (throttling), a few
/// times with backoff.
pub async fn batch_get(
    client: &Client,
    request: HashMap<String, Vec<Item>>,
    consistent: bool,
) -> Result<HashMap<String, Vec<Item>>> {
    let reads = batches(request)
        .into_iter()
        .map(|batch| batch_get_one(client, batch, consistent));
    let mut found: HashMap<String, Vec<Item>> = HashMap::new();
    for part in futures_util::future::try_join_all(reads).await? {
        for (table, items) in part {
            found.entry(table).or_default().extend(items);
        }
    }
    Ok(found)
}

async fn batch_get_one(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> Vec<Item> {
        (0..n)
            .map(|i| HashMap::from([("id".to_owned(), s(format!("k{i}")))]))
            .collect()
    }

    #[test]
    fn a_request_is_cut_into_batches_of_at_most_a_hundred_keys() {
        let small = batches(HashMap::from([
            ("menu".to_owned(), keys(98)),
            ("stores".to_owned(), keys(1)),
        ]));
        assert_eq!(small.len(), 1);
        let big = batches(HashMap::from([
            ("menu".to_owned(), keys(250)),
            ("stores".to_owned(), keys(1)),
        ]));
        let sizes: Vec<usize> = big.iter().map(|b| b.values().map(Vec::len).sum()).collect();
        assert_eq!(sizes, [100, 100, 51]);
        assert_eq!(batches(HashMap::new()).len(), 1);
    }
}
