//! The chain's stores in DynamoDB, one table keyed by (`pk`, `sk`):
//! - a store: `pk = "store#<id>"`, `sk = "store"`, the fields of
//!   [`Store`]. Everything a request of one store reads about it sits in its
//!   own partition (`store#<id>`), so the chain's checkouts never share one.
//! - the sparse GSI `list` (`list_pk = "stores"`, `list_sk = <lowercased
//!   name>#<id>`) lists them by name for `GET /stores`: a chain has tens or
//!   hundreds of stores, and the list is read by people, not by the hot paths.
//!
//! The store's record also holds its sold-out set (`sold_out`, a string set
//! of `product#<id>` / `option#<id>`), so the checkout's one BatchGetItem
//! that reads the store reads what it has sold out too.
//!
//! Writes are single conditional requests: a create never overwrites, an
//! update touches only an existing store and only the fields it names.

use crate::clock;
use crate::domain::StoreId;
use crate::domain::store::{Stock, Store, StoreDraft, StorePatch};
use crate::store::dynamo::{from_item, is_condition_failure, refused_as, s, text, to_item};
use crate::store::sdk::from_sdk;
use crate::{Error, Result};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub const LIST_INDEX: &str = "list";
const LIST_PARTITION: &str = "stores";
const STORE_SK: &str = "store";
pub const MAX_STORES_PER_PAGE: u16 = 100;

fn partition(id: &StoreId) -> String {
    format!("store#{id}")
}

fn list_sort_key(name: &str, id: &StoreId) -> String {
    format!("{}#{id}", name.to_lowercase())
}

/// A write conditioned on the store being there that was refused: 404
/// `store_not_found`; any other failure as the SDK's.
fn missing_if_refused<E: crate::store::sdk::ServiceError>(
    e: aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> Error {
    refused_as(e, Error::store_not_found)
}

#[derive(Serialize, Deserialize)]
struct StoreItem {
    pk: String,
    sk: String,
    list_pk: String,
    list_sk: String,
    #[serde(flatten)]
    store: Store,
}

/// A position in the list of stores: the last store of the previous page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreCursor {
    pub id: StoreId,
    pub sk: String,
}

#[derive(Clone)]
pub struct StoreStore {
    client: Client,
    table: String,
}

impl StoreStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The stores among items this table returned (a BatchGetItem's).
    pub fn stores_of(&self, items: Vec<crate::store::dynamo::Item>) -> Result<Vec<Store>> {
        items
            .into_iter()
            .map(|item| from_item::<StoreItem>(item).map(|i| i.store))
            .collect()
    }

    /// The key of store `id`'s record.
    pub fn key(id: &StoreId) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("pk".to_owned(), s(partition(id))),
            ("sk".to_owned(), s(STORE_SK)),
        ])
    }

    /// The store, if there is one with this id (one GetItem).
    pub async fn get(&self, id: &StoreId) -> Result<Option<Store>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(id)))
            .send()
            .await
            .map_err(from_sdk)?;
        output
            .item
            .map(|item| from_item::<StoreItem>(item).map(|i| i.store))
            .transpose()
    }

    /// Whether there is a store with this id: one GetItem of its key alone
    /// (nothing of the store is parsed, so a function that only checks
    /// does not link the timezone database).
    pub async fn exists(&self, id: &StoreId) -> Result<bool> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(id)))
            .projection_expression("pk")
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(output.item.is_some())
    }

    /// A new store from `draft`, under a new id.
    pub async fn create(&self, draft: StoreDraft) -> Result<Store> {
        let now = clock::now();
        let id = StoreId::generate();
        let item = StoreItem {
            pk: partition(&id),
            sk: STORE_SK.to_owned(),
            list_pk: LIST_PARTITION.to_owned(),
            list_sk: list_sort_key(&draft.name, &id),
            store: Store {
                id,
                name: draft.name,
                timezone: draft.timezone,
                hours: draft.hours,
                paused: draft.paused,
                mercadopago_pos_id: draft.mercadopago_pos_id,
                created_at: now,
                updated_at: now,
                sold_out: Default::default(),
            },
        };
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&item)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| {
                if is_condition_failure(&e) {
                    Error::internal("a new store id was taken")
                } else {
                    from_sdk(e)
                }
            })?;
        Ok(item.store)
    }

    /// Sets the fields `patch` names on an existing store, in one conditional
    /// UpdateItem; a missing store is 404 `store_not_found`, never created.
    pub async fn update(&self, id: &StoreId, patch: StorePatch) -> Result<Store> {
        // Every attribute by placeholder: several of these names (`name`,
        // `timezone`, `hours`) are DynamoDB reserved words.
        let mut sets = vec!["#updated_at = :updated_at"];
        let mut values = HashMap::from([(":updated_at".to_owned(), s(clock::now_rfc3339()))]);
        if let Some(name) = &patch.name {
            sets.push("#name = :name");
            sets.push("#list_sk = :list_sk");
            values.insert(":name".to_owned(), s(name.clone()));
            values.insert(":list_sk".to_owned(), s(list_sort_key(name, id)));
        }
        if let Some(timezone) = &patch.timezone {
            sets.push("#timezone = :timezone");
            values.insert(":timezone".to_owned(), s(timezone.as_str()));
        }
        if let Some(hours) = &patch.hours {
            sets.push("#hours = :hours");
            values.insert(
                ":hours".to_owned(),
                serde_dynamo::to_attribute_value(hours).map_err(Error::internal)?,
            );
        }
        if let Some(paused) = patch.paused {
            sets.push("#paused = :paused");
            values.insert(":paused".to_owned(), AttributeValue::Bool(paused));
        }
        let mut removes = Vec::new();
        match &patch.mercadopago_pos_id {
            Some(Some(pos)) => {
                sets.push("#mercadopago_pos_id = :pos");
                values.insert(":pos".to_owned(), s(pos.as_str()));
            }
            Some(None) => removes.push("#mercadopago_pos_id"),
            None => {}
        }
        let names: HashMap<String, String> = sets
            .iter()
            .filter_map(|set| set.split_once(" = "))
            .map(|(placeholder, _)| placeholder)
            .chain(removes.iter().copied())
            .map(|placeholder| (placeholder.to_owned(), placeholder[1..].to_owned()))
            .collect();
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let output = self
            .update_existing(id)
            .update_expression(expression)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(missing_if_refused)?;
        let item: StoreItem = from_item(output.attributes.unwrap_or_default())?;
        Ok(item.store)
    }

    /// Adds `item` to store `id`'s sold-out set (`ADD`) or takes it out
    /// (`DELETE`), in one conditional UpdateItem: repeating a change is no
    /// error, a missing store is 404 `store_not_found` and is never created,
    /// and nothing else of the store changes.
    pub async fn set_stock(&self, id: &StoreId, item: &Stock, available: bool) -> Result<()> {
        let action = if available { "DELETE" } else { "ADD" };
        self.update_existing(id)
            .update_expression(format!("{action} sold_out :item"))
            .expression_attribute_values(":item", AttributeValue::Ss(vec![item.key()]))
            .send()
            .await
            .map_err(missing_if_refused)?;
        Ok(())
    }

    /// An UpdateItem of store `id`, conditioned on the store being there
    /// (a refused one is [`missing_if_refused`]).
    fn update_existing(&self, id: &StoreId) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(id)))
            .condition_expression("attribute_exists(pk)")
    }

    /// One page of stores by name: a single Query on the `list` index.
    pub async fn list(
        &self,
        limit: u16,
        after: Option<StoreCursor>,
    ) -> Result<(Vec<Store>, Option<StoreCursor>)> {
        let with_cursor = after.is_some();
        let start = after.map(|after| {
            HashMap::from([
                ("pk".to_owned(), s(partition(&after.id))),
                ("sk".to_owned(), s(STORE_SK)),
                ("list_pk".to_owned(), s(LIST_PARTITION)),
                ("list_sk".to_owned(), s(after.sk)),
            ])
        });
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(LIST_INDEX)
            .key_condition_expression("list_pk = :pk")
            .expression_attribute_values(":pk", s(LIST_PARTITION))
            .limit(i32::from(limit.min(MAX_STORES_PER_PAGE)))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| crate::store::sdk::query_failed(e, with_cursor))?;
        let stores = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| from_item::<StoreItem>(item).map(|i| i.store))
            .collect::<Result<Vec<_>>>()?;
        let next = output.last_evaluated_key.and_then(|key| {
            let id = text(&key, "pk")?
                .strip_prefix("store#")
                .and_then(StoreId::parse)?;
            Some(StoreCursor {
                id,
                sk: text(&key, "list_sk")?,
            })
        });
        Ok((stores, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stores_sold_out_string_set_is_read_and_never_written_back() {
        let now = clock::now();
        let id = StoreId::parse("a1").unwrap();
        let hours = serde_json::json!({"mon": [], "tue": [], "wed": [], "thu": [], "fri": [],
            "sat": [], "sun": []});
        let item = StoreItem {
            pk: partition(&id),
            sk: STORE_SK.to_owned(),
            list_pk: LIST_PARTITION.to_owned(),
            list_sk: list_sort_key("Centro", &id),
            store: Store {
                id,
                name: "Centro".into(),
                timezone: crate::domain::store::Timezone::parse("America/Sao_Paulo").unwrap(),
                hours: crate::domain::store::Hours::parse(&hours).unwrap(),
                paused: false,
                mercadopago_pos_id: None,
                created_at: now,
                updated_at: now,
                sold_out: ["product#p-1".to_owned()].into(),
            },
        };
        let mut written = to_item(&item).unwrap();
        assert!(!written.contains_key("sold_out"), "a create writes no set");
        written.insert(
            "sold_out".into(),
            AttributeValue::Ss(vec!["product#p-1".into(), "option#bacon".into()]),
        );
        let read: StoreItem = from_item(written).unwrap();
        assert!(read.store.sold_out.contains("option#bacon"));
        assert_eq!(read.store.sold_out.len(), 2);
    }
}
