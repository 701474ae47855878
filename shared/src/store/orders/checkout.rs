//! Checkout's writes: a new order (awaiting payment, in the `awaiting`
//! index) and, with an `Idempotency-Key`, its record in the same
//! transaction. [`Checkouts`] holds both tables it reads, by type: a store
//! that cannot check out does not have this one.

use super::{AWAITING, OrderItem, OrderStore, due_key};
use crate::clock::time_key;
use crate::domain::ids::{OrderId, ProductId};
use crate::domain::order::Order;
use crate::domain::product::Product;
use crate::service::ports::{CheckoutStore, Created, IdempotencyRecord};
use crate::store::dynamo::{Item, batch_get, from_item, s, to_item};
use crate::store::products::ProductStore;
use crate::store::sdk::from_sdk;
use crate::{Error, Result};
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use std::collections::HashMap;

/// The order store with the menu it prices from: the menu is read in the
/// same BatchGetItem as the idempotency record.
#[derive(Clone)]
pub struct Checkouts {
    orders: OrderStore,
    products: ProductStore,
    /// How long a new order awaits its payment: its deadline in the
    /// `awaiting` index is its creation plus this.
    payment_timeout: std::time::Duration,
}

impl Checkouts {
    pub fn new(orders: OrderStore, products: ProductStore) -> Self {
        Self {
            orders,
            products,
            payment_timeout: super::DEFAULT_PAYMENT_TIMEOUT,
        }
    }

    /// The store, writing new orders with this payment deadline.
    pub fn with_payment_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.payment_timeout = timeout;
        self
    }
}

impl CheckoutStore for Checkouts {
    /// The products of a checkout and, when the request carries an idempotency
    /// key, its record: one BatchGetItem across both tables.
    async fn checkout_reads(
        &self,
        product_ids: &[ProductId],
        record_id: Option<&str>,
    ) -> Result<(HashMap<ProductId, Product>, Option<IdempotencyRecord>)> {
        let (products, table) = (&self.products, &self.orders.table);
        let mut request =
            HashMap::from([(products.table().to_owned(), products.keys(product_ids))]);
        if let Some(id) = record_id {
            request.insert(
                table.clone(),
                vec![HashMap::from([("id".to_owned(), s(id))])],
            );
        }
        let mut found = batch_get(&self.orders.client, request).await?;
        let menu = products.products_of(found.remove(products.table()).unwrap_or_default())?;
        let record = found
            .remove(table)
            .and_then(|items| items.into_iter().next())
            .map(from_item)
            .transpose()?;
        Ok((menu, record))
    }

    /// Writes a new order; with an idempotency record, both in one
    /// transaction that fails if the key is already taken.
    async fn create(&self, order: &Order, record: Option<&IdempotencyRecord>) -> Result<Created> {
        let item = to_item(&OrderItem {
            order: order.clone(),
            owner_sk: time_key(order.id.as_str()),
            queue_status: None,
            queue_sk: None,
            payment: None,
            paid_by: None,
            awaiting: Some(AWAITING.to_owned()),
            due_at: Some(due_key(order.created_at + self.payment_timeout, &order.id)),
        })?;
        let Some(record) = record else {
            self.orders
                .client
                .put_item()
                .table_name(&self.orders.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(id)")
                .send()
                .await
                .map_err(from_sdk)?;
            return Ok(Created::Order(order.clone()));
        };
        let put = |item: Item| {
            Put::builder()
                .table_name(&self.orders.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(id)")
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
        };
        // A record past its expiry may linger until DynamoDB's TTL removes it:
        // it no longer binds the key.
        let record_put = put(to_item(record)?)
            .condition_expression("attribute_not_exists(id) OR expires_at < :now")
            .expression_attribute_values(
                ":now",
                AttributeValue::N(crate::clock::now_unix().to_string()),
            );
        let result = self
            .orders
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .put(put(item).build().map_err(Error::internal)?)
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .put(record_put.build().map_err(Error::internal)?)
                    .build(),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(Created::Order(order.clone())),
            Err(e) => {
                let reasons = match e.as_service_error() {
                    Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c)) => {
                        c.cancellation_reasons().to_vec()
                    }
                    _ => return Err(from_sdk(e)),
                };
                // Reason 1 is the idempotency record's: taken by an earlier or concurrent request.
                let taken = reasons.get(1).is_some_and(|r| {
                    matches!(
                        r.code(),
                        Some("ConditionalCheckFailed" | "TransactionConflict")
                    )
                });
                if !taken {
                    return Err(from_sdk(e));
                }
                let existing = reasons
                    .get(1)
                    .and_then(|r| r.item.clone())
                    .map(from_item)
                    .transpose()?;
                Ok(Created::KeyTaken(existing))
            }
        }
    }

    async fn idempotency_record(&self, id: &str) -> Result<Option<IdempotencyRecord>> {
        let output = self
            .orders
            .client
            .get_item()
            .table_name(&self.orders.table)
            .key("id", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(from_sdk)?;
        output.item.map(from_item).transpose()
    }

    async fn order_consistent(&self, id: &OrderId) -> Result<Option<Order>> {
        self.orders.read(id, true).await
    }
}
