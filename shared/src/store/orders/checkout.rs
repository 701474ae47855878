//! Checkout's writes: a new order (awaiting payment, in the `awaiting`
//! index), its places under the open-order limits and, with an
//! `Idempotency-Key`, its record, all in one transaction. [`Checkouts`] holds both tables it reads, by type: a store
//! that cannot check out does not have this one.

use super::open::{self, Holder, OpenOrderLimits};
use super::{OrderItem, OrderStore, awaiting_shard, due_key};
use crate::clock::time_key;
use crate::domain::ids::{OrderId, ProductId, StoreId};
use crate::domain::order::Order;
use crate::service::ports::{CheckoutReads, CheckoutStore, Created, IdempotencyRecord};
use crate::store::dynamo::{Item, batch_get, from_item, s, to_item};
use crate::store::products::ProductStore;
use crate::store::sdk::from_sdk;
use crate::store::stores::StoreStore;
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
    stores: StoreStore,
    /// How long a new order awaits its payment: its deadline in the
    /// `awaiting` index is its creation plus this.
    payment_timeout: std::time::Duration,
    limits: OpenOrderLimits,
}

impl Checkouts {
    pub fn new(orders: OrderStore, products: ProductStore, stores: StoreStore) -> Self {
        Self {
            orders,
            products,
            stores,
            payment_timeout: super::DEFAULT_PAYMENT_TIMEOUT,
            limits: OpenOrderLimits::default(),
        }
    }

    /// The store, writing new orders with this payment deadline.
    pub fn with_payment_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.payment_timeout = timeout;
        self
    }

    /// The store, holding each owner and kiosk to these open-order limits.
    pub fn with_open_order_limits(mut self, limits: OpenOrderLimits) -> Self {
        self.limits = limits;
        self
    }
}

/// How one checkout transaction went.
enum Attempt {
    Done(Created),
    /// A holder had no free place: the ids it holds.
    Full {
        holder: Holder,
        held: Vec<String>,
    },
    /// A concurrent transaction touched the same item.
    Conflict,
}

impl Checkouts {
    /// One transaction: the order, its places, and the record if any.
    async fn try_create(
        &self,
        order: &Order,
        record: Option<&IdempotencyRecord>,
    ) -> Result<Attempt> {
        let table = &self.orders.table;
        let item = to_item(&OrderItem {
            order: order.clone(),
            owner_sk: time_key(order.id.as_str()),
            queue_status: None,
            queue_sk: None,
            payment: None,
            paid_by: None,
            awaiting: Some(awaiting_shard(&order.id)),
            due_at: Some(due_key(order.created_at + self.payment_timeout, &order.id)),
        })?;
        let put = |item: Item| {
            Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(id)")
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
        };
        let mut writes = vec![
            TransactWriteItem::builder()
                .put(put(item).build().map_err(Error::internal)?)
                .build(),
        ];
        let holders = self.limits.holders(order);
        for holder in &holders {
            let take = open::take(table, holder, order, self.payment_timeout)?;
            writes.push(TransactWriteItem::builder().update(take).build());
        }
        if let Some(record) = record {
            // A record past its expiry may linger until DynamoDB's TTL removes
            // it: it no longer binds the key.
            let record_put = put(to_item(record)?)
                .condition_expression("attribute_not_exists(id) OR expires_at < :now")
                .expression_attribute_values(
                    ":now",
                    AttributeValue::N(crate::clock::now_unix().to_string()),
                );
            writes.push(
                TransactWriteItem::builder()
                    .put(record_put.build().map_err(Error::internal)?)
                    .build(),
            );
        }
        let result = self
            .orders
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await;
        let e = match result {
            Ok(_) => return Ok(Attempt::Done(Created::Written)),
            Err(e) => e,
        };
        let reasons = match e.as_service_error() {
            Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c)) => {
                c.cancellation_reasons().to_vec()
            }
            _ => return Err(from_sdk(e)),
        };
        let code = |index: usize| reasons.get(index).and_then(|r| r.code());
        // The record's reason comes last: taken by an earlier or concurrent request.
        let record_at = 1 + holders.len();
        if record.is_some()
            && matches!(
                code(record_at),
                Some("ConditionalCheckFailed" | "TransactionConflict")
            )
        {
            let existing = reasons
                .get(record_at)
                .and_then(|r| r.item.clone())
                .map(from_item)
                .transpose()?;
            return Ok(Attempt::Done(Created::KeyTaken(existing)));
        }
        for (at, holder) in holders.into_iter().enumerate() {
            match code(1 + at) {
                Some("ConditionalCheckFailed") => {
                    let held = open::held(reasons.get(1 + at).and_then(|r| r.item.as_ref()));
                    return Ok(Attempt::Full { holder, held });
                }
                Some("TransactionConflict") => return Ok(Attempt::Conflict),
                _ => {}
            }
        }
        Err(from_sdk(e))
    }
}

impl CheckoutStore for Checkouts {
    /// The products of a checkout, its store and, when the request carries
    /// an idempotency key, its record: one BatchGetItem across the three
    /// tables (a checkout names at most `MAX_PRODUCTS`, 98, products, so
    /// the keys fit one request of 100).
    async fn checkout_reads(
        &self,
        product_ids: &[ProductId],
        record_id: Option<&str>,
        store: &StoreId,
    ) -> Result<CheckoutReads> {
        let (products, table) = (&self.products, &self.orders.table);
        let mut request = HashMap::from([
            (products.table().to_owned(), products.keys(product_ids)),
            (self.stores.table().to_owned(), vec![StoreStore::key(store)]),
        ]);
        if let Some(id) = record_id {
            request.insert(
                table.clone(),
                vec![HashMap::from([("id".to_owned(), s(id))])],
            );
        }
        let mut found = batch_get(&self.orders.client, request, false).await?;
        let menu = products.products_of(found.remove(products.table()).unwrap_or_default())?;
        let store = self
            .stores
            .stores_of(found.remove(self.stores.table()).unwrap_or_default())?
            .into_iter()
            .next();
        let record = found
            .remove(table)
            .and_then(|items| items.into_iter().next())
            .map(from_item)
            .transpose()?;
        Ok(CheckoutReads {
            menu,
            record,
            store,
        })
    }

    /// Writes a new order and takes its open-order places; with an
    /// idempotency record, all in one transaction that fails if the key is
    /// already taken. Each full holder is checked once for places of orders
    /// closed since (see `open`): then 429 `too_many_open_orders`.
    async fn create(&self, order: &Order, record: Option<&IdempotencyRecord>) -> Result<Created> {
        // Each holder is checked once (an owner's and a kiosk's may both be full).
        let mut checked: Vec<String> = Vec::new();
        let mut conflicts = 0;
        loop {
            match self.try_create(order, record).await? {
                Attempt::Done(created) => return Ok(created),
                Attempt::Full { holder, held } => {
                    if checked.contains(&holder.id)
                        || !self.orders.free_closed(&holder.id, held).await?
                    {
                        return Err(Error::too_many_open_orders(holder.whose));
                    }
                    checked.push(holder.id);
                }
                // Another transaction on the same holder at the same moment
                // (DynamoDB cancels rather than waits): try again shortly.
                Attempt::Conflict if conflicts < 3 => {
                    conflicts += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20 * conflicts)).await;
                }
                Attempt::Conflict => {
                    return Err(Error::Unavailable("checkout kept conflicting".into()));
                }
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
