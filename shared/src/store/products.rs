//! The menu in DynamoDB.
//!
//! One table keyed by `id` (GetItem by id, BatchGetItem for checkout) and one
//! sparse GSI, `menu`: active products carry `menu_pk = "MENU"` and
//! `menu_sk = "<category>#<lowercased name>#<id>"`, so the whole menu is a Query
//! on the partition and one category a `begins_with` on the sort key, both in
//! menu order. A soft delete removes the two attributes, which takes the
//! product out of the index (and so out of every list) while the item stays
//! readable by id for past orders. No request path scans. Sold out is a
//! store's (its record's sold-out set, see `store::stores`): a product stays
//! in the index, and its `available` is set as at the caller's store.

use crate::clock::now_rfc3339;
use crate::domain::ids::ProductId;
use crate::domain::product::{Category, Product, ProductDraft};
use crate::store::dynamo::{from_item, is_condition_failure, refused_as};
use crate::store::sdk::from_sdk;
use crate::{Code, Error, Result};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub const MENU_INDEX: &str = "menu";
const MENU_PARTITION: &str = "MENU";

#[derive(Serialize, Deserialize)]
struct ProductItem {
    #[serde(flatten)]
    product: Product,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    menu_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    menu_sk: Option<String>,
}

/// A position in a menu listing: the last product of the previous page.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MenuCursor {
    pub id: String,
    pub sk: String,
}

/// The product as an update of it left it (`ReturnValues: ALL_NEW`).
fn updated<E: crate::store::sdk::ServiceError>(
    output: std::result::Result<
        aws_sdk_dynamodb::operation::update_item::UpdateItemOutput,
        aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>,
    >,
) -> Result<Product> {
    let output = output.map_err(missing_if_refused)?;
    let item: ProductItem = from_item(output.attributes.unwrap_or_default())?;
    Ok(item.product)
}

/// A write conditioned on the product being there (and active) that was
/// refused: 404 `product_not_found`; any other failure as the SDK's.
fn missing_if_refused<E: crate::store::sdk::ServiceError>(
    e: aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> Error {
    refused_as(e, Error::product_not_found)
}

/// A value as DynamoDB keeps it (a list of maps for the menu's shapes).
fn attribute<T: Serialize>(value: &T) -> Result<AttributeValue> {
    serde_dynamo::to_attribute_value(value).map_err(Error::internal)
}

fn menu_sort_key(category: Category, name: &str, id: &str) -> String {
    format!("{}#{}#{id}", category.as_str(), name.to_lowercase())
}

#[derive(Clone)]
pub struct ProductStore {
    client: Client,
    table: String,
}

impl ProductStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The product, active or not (past orders still name deleted products).
    pub async fn get(&self, id: &ProductId) -> Result<Option<Product>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id.to_string()))
            .send()
            .await
            .map_err(from_sdk)?;
        output
            .item
            .map(|item| from_item(item).map(|i: ProductItem| i.product))
            .transpose()
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The BatchGetItem keys of `ids`, without repeats.
    pub fn keys(&self, ids: &[ProductId]) -> Vec<crate::store::dynamo::Item> {
        let mut unique: Vec<&ProductId> = ids.iter().collect();
        unique.sort();
        unique.dedup();
        unique
            .into_iter()
            .map(|id| HashMap::from([("id".to_owned(), AttributeValue::S(id.to_string()))]))
            .collect()
    }

    /// Products by id from items this table returned.
    pub fn products_of(
        &self,
        items: Vec<crate::store::dynamo::Item>,
    ) -> Result<HashMap<ProductId, Product>> {
        items
            .into_iter()
            .map(|item| from_item::<ProductItem>(item).map(|i| (i.product.id.clone(), i.product)))
            .collect()
    }

    pub async fn create(&self, draft: ProductDraft) -> Result<Product> {
        let now = crate::clock::now();
        let id = ProductId::generate();
        let product = Product {
            id: id.clone(),
            name: draft.name,
            description: draft.description,
            category: draft.category,
            price_cents: draft.price,
            image_url: draft.image_url,
            kind: draft.kind,
            modifier_groups: draft.modifier_groups,
            slots: draft.slots,
            allergens: draft.allergens,
            dietary: draft.dietary,
            available: true,
            active: true,
            created_at: now,
            updated_at: now,
        };
        let item = ProductItem {
            menu_pk: Some(MENU_PARTITION.to_owned()),
            menu_sk: Some(menu_sort_key(product.category, &product.name, id.as_str())),
            product,
        };
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(crate::store::dynamo::to_item(&item)?))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await
            .map_err(|e| {
                if is_condition_failure(&e) {
                    Error::conflict(Code::ProductExists, "a product with this id exists")
                } else {
                    from_sdk(e)
                }
            })?;
        Ok(item.product)
    }

    /// An update of product `id` conditioned on it being active, with `:now`
    /// and `:true` bound (a refused one is [`missing_if_refused`]).
    fn update_active(&self, id: &str) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id.to_owned()))
            .condition_expression("active = :true")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":now", AttributeValue::S(now_rfc3339()))
    }

    /// Replaces the editable fields of an active product, in one conditional
    /// update; a missing or deleted product is 404.
    pub async fn update(&self, id: &ProductId, draft: ProductDraft) -> Result<Product> {
        let id = id.as_str();
        let image = match &draft.image_url {
            Some(url) => AttributeValue::S(url.clone()),
            None => AttributeValue::Null(true),
        };
        let output = self
            .update_active(id)
            .update_expression(
                "SET #name = :name, description = :description, category = :category, price_cents = :price, \
                 image_url = :image, updated_at = :now, menu_sk = :sk, kind = :kind, \
                 modifier_groups = :groups, slots = :slots, allergens = :allergens, dietary = :dietary",
            )
            .expression_attribute_values(":kind", AttributeValue::S(draft.kind.as_str().to_owned()))
            .expression_attribute_values(":groups", attribute(&draft.modifier_groups)?)
            .expression_attribute_values(":slots", attribute(&draft.slots)?)
            .expression_attribute_values(":allergens", attribute(&draft.allergens)?)
            .expression_attribute_values(":dietary", attribute(&draft.dietary)?)
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":name", AttributeValue::S(draft.name.clone()))
            .expression_attribute_values(":description", AttributeValue::S(draft.description))
            .expression_attribute_values(":category", AttributeValue::S(draft.category.as_str().to_owned()))
            .expression_attribute_values(":price", AttributeValue::N(draft.price.as_cents().to_string()))
            .expression_attribute_values(":image", image)
            .expression_attribute_values(":sk", AttributeValue::S(menu_sort_key(draft.category, &draft.name, id)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        updated(output)
    }

    /// Soft delete: inactive and out of the menu index, still readable by id.
    pub async fn delete(&self, id: &ProductId) -> Result<()> {
        self.update_active(id.as_str())
            .update_expression("SET active = :false, updated_at = :now REMOVE menu_pk, menu_sk")
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .send()
            .await
            .map_err(missing_if_refused)?;
        Ok(())
    }

    /// The whole active menu, by id: what an admin's write is checked
    /// against (option ids unique across the menu, a combo's slots naming
    /// active items) and where an option a store sells out is looked up.
    /// Admin and kitchen writes only, never a customer's path: a chain's menu
    /// is tens to hundreds of products, a page or two of the `menu` index.
    pub async fn active_menu(&self) -> Result<HashMap<ProductId, Product>> {
        let mut menu = HashMap::new();
        let mut after = None;
        loop {
            let (products, next) = self.list(None, crate::http::page::MAX_LIMIT, after).await?;
            menu.extend(products.into_iter().map(|p| (p.id.clone(), p)));
            match next {
                Some(next) => after = Some(next),
                None => return Ok(menu),
            }
        }
    }

    /// One page of active products, in menu order, optionally of one category:
    /// a single Query on the `menu` index.
    pub async fn list(
        &self,
        category: Option<Category>,
        limit: u16,
        after: Option<MenuCursor>,
    ) -> Result<(Vec<Product>, Option<MenuCursor>)> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(MENU_INDEX)
            .limit(i32::from(limit))
            .expression_attribute_values(":pk", AttributeValue::S(MENU_PARTITION.to_owned()));
        query = match category {
            Some(category) => query
                .key_condition_expression("menu_pk = :pk AND begins_with(menu_sk, :prefix)")
                .expression_attribute_values(
                    ":prefix",
                    AttributeValue::S(format!("{}#", category.as_str())),
                ),
            None => query.key_condition_expression("menu_pk = :pk"),
        };
        let with_cursor = after.is_some();
        if let Some(after) = after {
            if let Some(category) = category
                && !after.sk.starts_with(&format!("{}#", category.as_str()))
            {
                return Err(Error::invalid_cursor());
            }
            query = query.set_exclusive_start_key(Some(HashMap::from([
                ("id".to_owned(), AttributeValue::S(after.id)),
                (
                    "menu_pk".to_owned(),
                    AttributeValue::S(MENU_PARTITION.to_owned()),
                ),
                ("menu_sk".to_owned(), AttributeValue::S(after.sk)),
            ])));
        }
        let output = query
            .send()
            .await
            .map_err(|e| crate::store::sdk::query_failed(e, with_cursor))?;
        let products = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| from_item::<ProductItem>(item).map(|i| i.product))
            .collect::<Result<Vec<_>>>()?;
        let next = output.last_evaluated_key.and_then(|key| {
            let text = |name: &str| match key.get(name) {
                Some(AttributeValue::S(s)) => Some(s.clone()),
                _ => None,
            };
            Some(MenuCursor {
                id: text("id")?,
                sk: text("menu_sk")?,
            })
        });
        Ok((products, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(extra: &[(&str, AttributeValue)]) -> crate::store::dynamo::Item {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let mut item = HashMap::from([
            ("id".to_owned(), s("p-1")),
            ("name".to_owned(), s("X-Burger")),
            ("description".to_owned(), s("")),
            ("category".to_owned(), s("sandwich")),
            (
                "price_cents".to_owned(),
                AttributeValue::N("2490".to_owned()),
            ),
            ("image_url".to_owned(), AttributeValue::Null(true)),
            ("active".to_owned(), AttributeValue::Bool(true)),
            ("created_at".to_owned(), s("2025-01-31T12:00:00Z")),
            ("updated_at".to_owned(), s("2025-01-31T12:00:00Z")),
            ("menu_pk".to_owned(), s(MENU_PARTITION)),
            ("menu_sk".to_owned(), s("sandwich#x-burger#p-1")),
        ]);
        for (name, value) in extra {
            item.insert((*name).to_owned(), value.clone());
        }
        item
    }

    #[test]
    fn an_item_written_before_sold_out_existed_reads_as_available() {
        let old = from_item::<ProductItem>(stored(&[])).unwrap();
        assert!(old.product.available);
        let sold_out = stored(&[("available", AttributeValue::Bool(false))]);
        let sold_out = from_item::<ProductItem>(sold_out).unwrap();
        assert!(!sold_out.product.available);
        assert_eq!(
            sold_out.menu_pk.as_deref(),
            Some(MENU_PARTITION),
            "still listed"
        );
    }

    #[test]
    fn a_new_item_carries_available() {
        let product = from_item::<ProductItem>(stored(&[])).unwrap();
        let item = crate::store::dynamo::to_item(&product).unwrap();
        assert_eq!(item.get("available"), Some(&AttributeValue::Bool(true)));
    }
}
