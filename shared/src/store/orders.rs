//! Orders in DynamoDB.
//!
//! Table keyed by `id`, with two GSIs:
//! - `by_owner` (`customer_id`, `owner_sk` = creation time#id): a caller's own
//!   orders, newest first.
//! - `kitchen` (`queue_status`, `queue_sk` = payment time#id), sparse: an order
//!   enters it when paid and leaves it when completed or cancelled, so the
//!   kitchen queue is one Query per status and never sees unpaid orders.
//! - `awaiting` (`awaiting` = `"1"`, `due_at` = payment deadline#id), sparse
//!   and keys only: an order enters it at checkout and leaves it with the
//!   write that moves it out of `awaiting_payment` (paid, refused, expired or
//!   cancelled by its owner), so the expiry job finds the orders past their
//!   deadline with one Query, oldest deadline first, and never scans. One
//!   partition on purpose: a restaurant's unpaid orders are a few dozen at
//!   most, read once a minute, far below a partition's limits.
//!
//! Every status change is one conditional UpdateItem on the current status,
//! or a transaction of it and the order's ticket slot. More kinds of items
//! share the table: the ticket counter (`counter#ticket`), ticket slots
//! (`ticket#<n>`, held by an open paid order: taken in the transaction that
//! confirms the payment, freed in the one that completes or cancels it, so
//! no two open paid orders share a number), and idempotency records
//! (`idem#<owner>#<key>`, expiring after a day through the table's TTL).

use crate::clock::time_key;
use crate::domain::ids::{OrderId, ProductId};
use crate::domain::order::{
    Actor, CancelReason, Order, OrderStatus, Payment, PaymentStatus, invalid_transition,
    order_not_found, required_status, ticket_number,
};
use crate::domain::product::Product;
use crate::payments::ProviderOrderId;
use crate::service::checkout::{CheckoutStore, Created, IdempotencyRecord};
use crate::service::payment::{Attached, PaymentStore, StoredOrder};
use crate::store::dynamo::{Item, from_item, s, text, to_item};
use crate::store::products::ProductStore;
use crate::store::sdk::from_sdk;
use crate::{Error, Result};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub const OWNER_INDEX: &str = "by_owner";

/// Whether `id` can name an order at all (our ids are UUIDs): anything else
/// is answered as missing without asking DynamoDB, whose keys stop at 2 KB.
pub fn is_order_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && !id.starts_with("idem#")
        && !id.starts_with("counter#")
        && !id.starts_with("ticket#")
}
pub const KITCHEN_INDEX: &str = "kitchen";
pub const AWAITING_INDEX: &str = "awaiting";
/// The one partition of the `awaiting` index.
const AWAITING: &str = "1";
/// How long an order awaits its payment when the store is not told
/// (`ORDER_PAYMENT_TIMEOUT_SECONDS`'s default).
pub const DEFAULT_PAYMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(900);
const TICKET_COUNTER: &str = "counter#ticket";
/// How many ticket numbers a payment confirmation tries before giving up
/// (each taken number costs one counter step and one cancelled transaction).
const TICKET_ATTEMPTS: usize = 30;

fn ticket_slot(number: u16) -> String {
    format!("ticket#{number}")
}
#[derive(Serialize, Deserialize)]
struct OrderItem {
    #[serde(flatten)]
    order: Order,
    owner_sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    queue_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    queue_sk: Option<String>,
    /// The Mercado Pago QR order, once `POST /orders/{id}/payment` made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payment: Option<Payment>,
    /// The Mercado Pago order that paid it (set with the confirmation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    paid_by: Option<String>,
    /// The keys of the `awaiting` index, while the order awaits payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    awaiting: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    due_at: Option<String>,
}

/// The `awaiting` index's sort key: the payment deadline (RFC 3339, whole
/// seconds, UTC: text order is time order) and the order id.
pub fn due_key(due: time::OffsetDateTime, id: &OrderId) -> String {
    format!("{}#{id}", crate::clock::rfc3339(due))
}

/// The bound below which every `due_at` is due at `now`: the next whole
/// second (deadlines are whole seconds).
pub fn due_bound(now: time::OffsetDateTime) -> String {
    let second = now.replace_nanosecond(0).unwrap_or(now);
    crate::clock::rfc3339(second + time::Duration::seconds(1))
}

/// A position in the caller's own orders.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OwnCursor {
    pub sk: String,
    pub id: String,
}

/// A position in the kitchen queue: the last order shown and its status.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueCursor {
    pub status: OrderStatus,
    pub sk: String,
    pub id: String,
}

#[derive(Clone)]
pub struct OrderStore {
    client: Client,
    table: String,
    /// The menu, read in the same BatchGetItem as the idempotency record
    /// (`None` for a store that never checks out: the expiry job).
    products: Option<ProductStore>,
    /// How long a new order awaits its payment: its deadline in the
    /// `awaiting` index is its creation plus this.
    payment_timeout: std::time::Duration,
}

fn now() -> String {
    crate::clock::now_rfc3339()
}

fn conditional_item<E>(
    e: &aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> Option<Option<Item>>
where
    E: ConditionFailure,
{
    e.as_service_error().and_then(ConditionFailure::failed_item)
}

/// The old item of a failed condition (`ReturnValuesOnConditionCheckFailure`).
trait ConditionFailure {
    /// `Some(item or None)` when the failure is a failed condition.
    fn failed_item(&self) -> Option<Option<Item>>;
}

impl ConditionFailure for aws_sdk_dynamodb::operation::update_item::UpdateItemError {
    fn failed_item(&self) -> Option<Option<Item>> {
        match self {
            Self::ConditionalCheckFailedException(e) => Some(e.item.clone()),
            _ => None,
        }
    }
}

impl OrderStore {
    pub fn new(client: Client, table: impl Into<String>, products: ProductStore) -> Self {
        Self {
            client,
            table: table.into(),
            products: Some(products),
            payment_timeout: DEFAULT_PAYMENT_TIMEOUT,
        }
    }

    /// A store that settles and moves orders but never checks out (it knows
    /// no menu table): the expiry job's.
    pub fn without_menu(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            products: None,
            payment_timeout: DEFAULT_PAYMENT_TIMEOUT,
        }
    }

    /// The store, writing new orders with this payment deadline.
    pub fn with_payment_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.payment_timeout = timeout;
        self
    }

    /// The ids of the orders awaiting payment whose deadline is `now` or
    /// earlier, oldest deadline first, at most `limit`: one Query of the
    /// `awaiting` index (a page per 1 MB; its items are ids, so one page).
    /// The index is eventually consistent: read each order again before
    /// acting on it.
    pub async fn due_orders(&self, now: time::OffsetDateTime, limit: u16) -> Result<Vec<OrderId>> {
        let mut due = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(AWAITING_INDEX)
                .key_condition_expression("awaiting = :awaiting AND due_at < :bound")
                .expression_attribute_values(":awaiting", s(AWAITING))
                .expression_attribute_values(":bound", s(due_bound(now)))
                .scan_index_forward(true)
                .limit(i32::from(limit) - i32::try_from(due.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(from_sdk)?;
            due.extend(
                output
                    .items
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|item| text(item, "id"))
                    .filter_map(|id| OrderId::parse(&id)),
            );
            start = output.last_evaluated_key;
            if start.is_none() || due.len() >= usize::from(limit) {
                return Ok(due);
            }
        }
    }

    pub async fn get(&self, id: &OrderId) -> Result<Option<Order>> {
        self.read(id, false).await
    }

    async fn read(&self, id: &OrderId, consistent: bool) -> Result<Option<Order>> {
        let id = id.as_str();
        if !is_order_id(id) {
            return Ok(None);
        }
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", s(id))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(from_sdk)?;
        output
            .item
            .map(|item| from_item::<OrderItem>(item).map(|i| i.order))
            .transpose()
    }

    /// Moves an order by `actor` to `to`, in one conditional update on the
    /// status the move requires. `owner`: the move is only for that owner's
    /// order (another's answers 404, like a missing one).
    pub async fn move_status(
        &self,
        id: &OrderId,
        actor: Actor,
        to: OrderStatus,
        owner: Option<&str>,
    ) -> Result<Order> {
        let from = required_status(actor, to)?;
        if !is_order_id(id.as_str()) {
            return Err(order_not_found());
        }
        if from.in_queue() && !to.in_queue() {
            return self.close_paid(id, actor, from, to).await;
        }
        let id = id.as_str();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":from", s(from.as_str()))
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":now", s(now()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        update = if to.in_queue() {
            update.update_expression("SET #status = :to, updated_at = :now, queue_status = :to")
        } else if to == OrderStatus::Cancelled {
            update
                .update_expression(
                    "SET #status = :to, updated_at = :now, cancel_reason = :reason \
                     REMOVE queue_status, queue_sk, awaiting, due_at",
                )
                .expression_attribute_values(":reason", s("customer"))
        } else {
            update.update_expression(
                "SET #status = :to, updated_at = :now REMOVE queue_status, queue_sk",
            )
        };
        update = match owner {
            Some(owner) => update
                .condition_expression("#status = :from AND customer_id = :owner")
                .expression_attribute_values(":owner", s(owner)),
            None => update.condition_expression("#status = :from"),
        };
        match update.send().await {
            Ok(output) => Ok(from_item::<OrderItem>(output.attributes.unwrap_or_default())?.order),
            Err(e) => match conditional_item(&e) {
                Some(Some(old))
                    if owner.is_none_or(|o| text(&old, "customer_id").as_deref() == Some(o))
                        && text(&old, "status").is_some() =>
                {
                    Err(invalid_transition())
                }
                Some(_) => Err(order_not_found()),
                None => Err(from_sdk(e)),
            },
        }
    }

    /// Moves a paid order out of the open ones (completed, or cancelled by an
    /// admin after its refund) and frees its ticket number, in one
    /// transaction conditioned on the status the move requires.
    async fn close_paid(
        &self,
        id: &OrderId,
        actor: Actor,
        from: OrderStatus,
        to: OrderStatus,
    ) -> Result<Order> {
        let order = self.read(id, true).await?.ok_or_else(order_not_found)?;
        if order.status != from {
            return Err(invalid_transition());
        }
        let now = now();
        let mut update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key("id", s(id.as_str()))
            .condition_expression("#status = :from")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":from", s(from.as_str()))
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":now", s(&now));
        update = if to == OrderStatus::Cancelled {
            update
                .update_expression(
                    "SET #status = :to, updated_at = :now, cancel_reason = :reason, \
                     payment_status = :refunded REMOVE queue_status, queue_sk",
                )
                .expression_attribute_values(":reason", s("staff"))
                .expression_attribute_values(":refunded", s("refunded"))
        } else {
            update.update_expression(
                "SET #status = :to, updated_at = :now REMOVE queue_status, queue_sk",
            )
        };
        let mut transaction = self.client.transact_write_items().transact_items(
            TransactWriteItem::builder()
                .update(update.build().map_err(Error::internal)?)
                .build(),
        );
        if let Some(number) = order.number {
            let free = aws_sdk_dynamodb::types::Delete::builder()
                .table_name(&self.table)
                .key("id", s(ticket_slot(number)))
                .condition_expression("attribute_not_exists(id) OR order_id = :order")
                .expression_attribute_values(":order", s(id.as_str()))
                .build()
                .map_err(Error::internal)?;
            transaction =
                transaction.transact_items(TransactWriteItem::builder().delete(free).build());
        }
        match transaction.send().await {
            Ok(_) => {
                let mut moved = order;
                moved.status = to;
                moved.updated_at = crate::clock::now();
                if to == OrderStatus::Cancelled {
                    moved.cancel_reason = Some(match actor {
                        Actor::Owner => CancelReason::Customer,
                        _ => CancelReason::Staff,
                    });
                    moved.payment_status = PaymentStatus::Refunded;
                }
                Ok(moved)
            }
            Err(e) if cancelled_for_condition(&e, 0) => Err(invalid_transition()),
            Err(e) => Err(from_sdk(e)),
        }
    }

    /// The next value of the ticket counter (an atomic counter).
    async fn next_ticket(&self) -> Result<u64> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(TICKET_COUNTER))
            .update_expression("ADD seq :one")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(from_sdk)?;
        match output.attributes.as_ref().and_then(|a| a.get("seq")) {
            Some(AttributeValue::N(n)) => n.parse().map_err(Error::internal),
            _ => Err(Error::internal("the ticket counter returned no value")),
        }
    }

    /// LGPD erasure: every order of `owner` gets `replacement` as its owner
    /// (an opaque value that is not the erased customer's id). The orders
    /// keep their items and totals for the books; nothing links them to the
    /// person any more. Each is a conditional update on the old owner, so a
    /// retry after a failure picks up where it stopped. Returns how many.
    pub async fn reassign_owner(&self, owner: &str, replacement: &str) -> Result<usize> {
        let mut moved = 0;
        let mut start = None;
        // One pass over the owner's index entries, page after page (not a
        // Query again from the top: the index lags the updates a little).
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(OWNER_INDEX)
                .key_condition_expression("customer_id = :owner")
                .expression_attribute_values(":owner", s(owner))
                .limit(100)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(from_sdk)?;
            let ids: Vec<String> = page
                .items()
                .iter()
                .filter_map(|item| text(item, "id"))
                .collect();
            for id in ids {
                let result = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .key("id", s(&id))
                    .update_expression("SET customer_id = :replacement")
                    .condition_expression("customer_id = :owner")
                    .expression_attribute_values(":owner", s(owner))
                    .expression_attribute_values(":replacement", s(replacement))
                    .send()
                    .await;
                match result {
                    Ok(_) => moved += 1,
                    // Moved by a concurrent erasure: nothing left to do for it.
                    Err(e) if conditional_item(&e).is_some() => {}
                    Err(e) => return Err(from_sdk(e)),
                }
            }
            match page.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok(moved),
            }
        }
    }

    /// A page of `owner`'s orders, newest first: one Query.
    pub async fn list_own(
        &self,
        owner: &str,
        limit: u16,
        after: Option<OwnCursor>,
    ) -> Result<(Vec<Order>, Option<OwnCursor>)> {
        let with_cursor = after.is_some();
        let start = after.map(|c| {
            HashMap::from([
                ("id".to_owned(), s(c.id)),
                ("customer_id".to_owned(), s(owner)),
                ("owner_sk".to_owned(), s(c.sk)),
            ])
        });
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(OWNER_INDEX)
            .key_condition_expression("customer_id = :owner")
            .expression_attribute_values(":owner", s(owner))
            .scan_index_forward(false)
            .limit(i32::from(limit))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| crate::store::sdk::query_failed(e, with_cursor))?;
        let orders = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|i| from_item::<OrderItem>(i).map(|i| i.order))
            .collect::<Result<_>>()?;
        let next = output.last_evaluated_key.and_then(|k| {
            Some(OwnCursor {
                sk: text(&k, "owner_sk")?,
                id: text(&k, "id")?,
            })
        });
        Ok((orders, next))
    }

    /// A page of the kitchen queue: `ready`, then `in_preparation`, then
    /// `received`, oldest payment first within each; at most one Query per
    /// status, run in parallel.
    pub async fn kitchen_queue(
        &self,
        only: Option<OrderStatus>,
        limit: u16,
        after: Option<QueueCursor>,
    ) -> Result<(Vec<Order>, Option<QueueCursor>)> {
        let statuses: Vec<OrderStatus> = OrderStatus::QUEUE
            .into_iter()
            .filter(|s| only.is_none_or(|o| o == *s))
            .collect();
        let first = match &after {
            Some(cursor) => statuses
                .iter()
                .position(|s| *s == cursor.status)
                .ok_or_else(crate::http::page::invalid_cursor)?,
            None => 0,
        };
        let queries = statuses[first..].iter().map(|status| {
            let start = after.as_ref().filter(|c| c.status == *status).map(|c| {
                HashMap::from([
                    ("id".to_owned(), s(&c.id)),
                    ("queue_status".to_owned(), s(status.as_str())),
                    ("queue_sk".to_owned(), s(&c.sk)),
                ])
            });
            let start_given = start.is_some();
            let query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(KITCHEN_INDEX)
                .key_condition_expression("queue_status = :status")
                .expression_attribute_values(":status", s(status.as_str()))
                .limit(i32::from(limit))
                .set_exclusive_start_key(start);
            let (status, with_cursor) = (*status, start_given);
            async move {
                query
                    .send()
                    .await
                    .map(|output| (status, output))
                    .map_err(|e| crate::store::sdk::query_failed(e, with_cursor))
            }
        });
        let pages = futures_util::future::try_join_all(queries).await?;
        let mut orders = Vec::new();
        let mut last: Option<QueueCursor> = None;
        let mut more = false;
        for (status, output) in pages {
            for item in output.items.unwrap_or_default() {
                if orders.len() == usize::from(limit) {
                    more = true;
                    break;
                }
                let item: OrderItem = from_item(item)?;
                last = Some(QueueCursor {
                    status,
                    sk: item.queue_sk.clone().unwrap_or_default(),
                    id: item.order.id.to_string(),
                });
                orders.push(item.order);
            }
            // A page DynamoDB cut short (limit or its 1 MB cap) ends this page
            // too: the rest of this status comes before any later status.
            if output.last_evaluated_key.is_some() {
                more = true;
            }
            if more {
                break;
            }
        }
        Ok((orders, if more { last } else { None }))
    }

    /// The pickup board: the ticket numbers of the paid orders `received` or
    /// `in_preparation` (`preparing`) and `ready`, each oldest payment first.
    /// One Query per status of the kitchen index, in parallel, projecting the
    /// number and the sort key (to merge `received` with `in_preparation`).
    /// An item without a number is skipped; at most [`BOARD_LIMIT`] per list.
    pub async fn board(&self) -> Result<Board> {
        let (received, in_preparation, ready) = futures_util::future::try_join3(
            self.board_numbers(OrderStatus::Received),
            self.board_numbers(OrderStatus::InPreparation),
            self.board_numbers(OrderStatus::Ready),
        )
        .await?;
        let mut preparing = received;
        preparing.extend(in_preparation);
        // Stable: equal keys (none: the key ends with the order id) keep their order.
        preparing.sort_by(|a, b| a.0.cmp(&b.0));
        let numbers = |list: Vec<(String, u16)>| {
            list.into_iter()
                .map(|(_, number)| number)
                .take(usize::from(BOARD_LIMIT))
                .collect()
        };
        Ok(Board {
            preparing: numbers(preparing),
            ready: numbers(ready),
        })
    }

    /// `status`'s orders in the kitchen index, oldest payment first: each
    /// one's `queue_sk` and ticket number. One Query, every page of it, at
    /// most [`BOARD_LIMIT`] items read.
    async fn board_numbers(&self, status: OrderStatus) -> Result<Vec<(String, u16)>> {
        let mut found = Vec::new();
        let mut read: u16 = 0;
        let mut start = None;
        for _ in 0..BOARD_PAGES {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(KITCHEN_INDEX)
                .key_condition_expression("queue_status = :status")
                .expression_attribute_values(":status", s(status.as_str()))
                // `number` is a DynamoDB reserved word.
                .projection_expression("#number, queue_sk")
                .expression_attribute_names("#number", "number")
                .scan_index_forward(true)
                .limit(i32::from(BOARD_LIMIT - read))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(from_sdk)?;
            let items = output.items.unwrap_or_default();
            read = read.saturating_add(u16::try_from(items.len()).unwrap_or(u16::MAX));
            found.extend(items.into_iter().filter_map(|item| {
                let number = match item.get("number") {
                    Some(AttributeValue::N(n)) => n.parse::<u16>().ok(),
                    _ => None,
                }
                .filter(|n| (1..=999).contains(n))?;
                Some((text(&item, "queue_sk").unwrap_or_default(), number))
            }));
            start = output.last_evaluated_key;
            if start.is_none() || read >= BOARD_LIMIT {
                break;
            }
        }
        Ok(found)
    }
}

/// At most this many numbers in each list of the board (numbers run 1..=999),
/// and at most this many items read per status.
pub const BOARD_LIMIT: u16 = 999;
/// At most this many pages per status (DynamoDB cuts a page at 1 MB; the
/// board's projected items are tens of bytes, so one page is the rule).
const BOARD_PAGES: usize = 16;

/// The pickup board: ticket numbers only, oldest payment first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Board {
    /// Orders `received` or `in_preparation`.
    pub preparing: Vec<u16>,
    /// Orders `ready`.
    pub ready: Vec<u16>,
}

impl CheckoutStore for OrderStore {
    /// The products of a checkout and, when the request carries an idempotency
    /// key, its record: one BatchGetItem across both tables.
    async fn checkout_reads(
        &self,
        product_ids: &[ProductId],
        record_id: Option<&str>,
    ) -> Result<(HashMap<ProductId, Product>, Option<IdempotencyRecord>)> {
        let products = self
            .products
            .as_ref()
            .ok_or_else(|| Error::internal("this order store knows no menu"))?;
        let mut request =
            HashMap::from([(products.table().to_owned(), products.keys(product_ids))]);
        if let Some(id) = record_id {
            request.insert(
                self.table.clone(),
                vec![HashMap::from([("id".to_owned(), s(id))])],
            );
        }
        let mut found = crate::store::dynamo::batch_get(&self.client, request).await?;
        let menu = products.products_of(found.remove(products.table()).unwrap_or_default())?;
        let record = found
            .remove(&self.table)
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
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(id)")
                .send()
                .await
                .map_err(from_sdk)?;
            return Ok(Created::Order(order.clone()));
        };
        let put = |item: Item| {
            Put::builder()
                .table_name(&self.table)
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
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(from_sdk)?;
        output.item.map(from_item).transpose()
    }

    async fn order_consistent(&self, id: &OrderId) -> Result<Option<Order>> {
        self.read(id, true).await
    }
}

/// Whether a transaction was cancelled because the condition of its item
/// `index` failed.
fn cancelled_for_condition<R>(
    e: &aws_smithy_runtime_api::client::result::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        R,
    >,
    index: usize,
) -> bool {
    match e.as_service_error() {
        Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c)) => c
            .cancellation_reasons()
            .get(index)
            .is_some_and(|r| r.code() == Some("ConditionalCheckFailed")),
        _ => false,
    }
}

impl PaymentStore for OrderStore {
    async fn order_with_payment(&self, id: &OrderId) -> Result<Option<StoredOrder>> {
        if !is_order_id(id.as_str()) {
            return Ok(None);
        }
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", s(id.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(from_sdk)?;
        output
            .item
            .map(|item| {
                from_item::<OrderItem>(item).map(|i| StoredOrder {
                    order: i.order,
                    payment: i.payment,
                    paid_by: i.paid_by,
                })
            })
            .transpose()
    }

    /// Stores the payment on the owner's order awaiting payment, unless it
    /// has one (a concurrent request's): then that one is the answer.
    async fn attach_payment(
        &self,
        id: &OrderId,
        owner: &str,
        payment: &Payment,
    ) -> Result<Attached> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id.as_str()))
            .update_expression("SET payment = :payment, updated_at = :now")
            .condition_expression(
                "#status = :awaiting AND customer_id = :owner AND attribute_not_exists(payment)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":awaiting", s(OrderStatus::AwaitingPayment.as_str()))
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":now", s(now()))
            .expression_attribute_values(":payment", AttributeValue::M(to_item(payment)?))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Attached::Attached),
            Err(e) => match conditional_item(&e) {
                Some(Some(old)) => {
                    let old: OrderItem = from_item(old)?;
                    if old.order.customer_id != owner {
                        Err(order_not_found())
                    } else if old.order.status != OrderStatus::AwaitingPayment {
                        Ok(Attached::NotAwaiting)
                    } else {
                        old.payment.map(Attached::Existing).ok_or_else(|| {
                            Error::internal("attach_payment: condition failed without a reason")
                        })
                    }
                }
                Some(None) => Err(order_not_found()),
                None => Err(from_sdk(e)),
            },
        }
    }

    /// Confirms the payment of an order awaiting it: `received`, `approved`,
    /// `paid_at` and a ticket number no open paid order holds, in one
    /// transaction with the number's slot. A number taken by an open order
    /// is skipped for the next one.
    async fn confirm_paid(&self, order: &Order, paid_by: &ProviderOrderId) -> Result<Order> {
        let id = order.id.as_str();
        for _ in 0..TICKET_ATTEMPTS {
            let number = ticket_number(self.next_ticket().await?);
            let paid_at = crate::clock::now();
            let paid = crate::clock::rfc3339(paid_at);
            let slot = Put::builder()
                .table_name(&self.table)
                .item("id", s(ticket_slot(number)))
                .item("order_id", s(id))
                .condition_expression("attribute_not_exists(id)")
                .build()
                .map_err(Error::internal)?;
            let update = aws_sdk_dynamodb::types::Update::builder()
                .table_name(&self.table)
                .key("id", s(id))
                .condition_expression("#status = :awaiting")
                .update_expression(
                    "SET #status = :received, payment_status = :approved, #number = :number, \
                     paid_at = :paid, updated_at = :paid, queue_status = :received, queue_sk = :qsk, \
                     paid_by = :paid_by REMOVE awaiting, due_at",
                )
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#number", "number")
                .expression_attribute_values(":awaiting", s(OrderStatus::AwaitingPayment.as_str()))
                .expression_attribute_values(":received", s(OrderStatus::Received.as_str()))
                .expression_attribute_values(":approved", s("approved"))
                .expression_attribute_values(":number", AttributeValue::N(number.to_string()))
                .expression_attribute_values(":paid", s(&paid))
                .expression_attribute_values(":qsk", s(time_key(id)))
                .expression_attribute_values(":paid_by", s(paid_by.as_str()))
                .build()
                .map_err(Error::internal)?;
            let result = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(slot).build())
                .transact_items(TransactWriteItem::builder().update(update).build())
                .send()
                .await;
            match result {
                Ok(_) => {
                    let mut confirmed = order.clone();
                    confirmed.status = OrderStatus::Received;
                    confirmed.payment_status = PaymentStatus::Approved;
                    confirmed.number = Some(number);
                    confirmed.paid_at = Some(paid_at);
                    confirmed.updated_at = paid_at;
                    return Ok(confirmed);
                }
                Err(e) if cancelled_for_condition(&e, 1) => return Err(invalid_transition()),
                Err(e) if cancelled_for_condition(&e, 0) => {
                    tracing::info!(
                        number,
                        "ticket number held by an open order; taking the next"
                    );
                }
                Err(e) => return Err(from_sdk(e)),
            }
        }
        Err(Error::Unavailable(
            format!("no free ticket number in {TICKET_ATTEMPTS} tries").into(),
        ))
    }

    /// Cancels an order still awaiting payment for `reason`.
    async fn cancel_unpaid(
        &self,
        id: &OrderId,
        reason: CancelReason,
        payment_status: PaymentStatus,
    ) -> Result<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id.as_str()))
            .condition_expression("#status = :awaiting")
            .update_expression(
                "SET #status = :cancelled, payment_status = :payment, cancel_reason = :reason, \
                 updated_at = :now REMOVE awaiting, due_at",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":awaiting", s(OrderStatus::AwaitingPayment.as_str()))
            .expression_attribute_values(":cancelled", s(OrderStatus::Cancelled.as_str()))
            .expression_attribute_values(
                ":payment",
                AttributeValue::S(serde_plain(&payment_status)?),
            )
            .expression_attribute_values(":reason", AttributeValue::S(serde_plain(&reason)?))
            .expression_attribute_values(":now", s(now()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if conditional_item(&e).is_some() => Err(invalid_transition()),
            Err(e) => Err(from_sdk(e)),
        }
    }

    /// Notes the refund of a payment that came after its order was cancelled.
    async fn mark_refunded(&self, id: &OrderId) -> Result<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id.as_str()))
            .condition_expression("#status = :cancelled")
            .update_expression("SET payment_status = :refunded, updated_at = :now")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":cancelled", s(OrderStatus::Cancelled.as_str()))
            .expression_attribute_values(":refunded", s("refunded"))
            .expression_attribute_values(":now", s(now()))
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(())
    }
}

/// A unit enum's serde name (`payment_refused`, ...).
fn serde_plain<T: Serialize>(value: &T) -> Result<String> {
    match serde_json::to_value(value).map_err(Error::internal)? {
        serde_json::Value::String(s) => Ok(s),
        other => Err(Error::internal(format!("not a plain name: {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> time::OffsetDateTime {
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
    }

    #[test]
    fn due_keys_sort_by_deadline_then_id() {
        let id = OrderId::parse("7a4d2e90-5c1b-4f3e-8d6a-1b2c3d4e5f60").unwrap();
        let early = due_key(at("2026-11-23T19:09:59Z"), &id);
        let late = due_key(at("2026-11-23T19:10:00Z"), &id);
        assert_eq!(
            early,
            "2026-11-23T19:09:59Z#7a4d2e90-5c1b-4f3e-8d6a-1b2c3d4e5f60"
        );
        assert!(early < late);
    }

    #[test]
    fn the_bound_takes_every_deadline_up_to_now_and_none_after() {
        let id = OrderId::parse("ffffffff-ffff-4fff-bfff-ffffffffffff").unwrap();
        let now = at("2026-11-23T19:10:00.750Z");
        let bound = due_bound(now);
        assert_eq!(bound, "2026-11-23T19:10:01Z");
        assert!(due_key(at("2026-11-23T19:10:00Z"), &id) < bound);
        assert!(due_key(at("2026-11-23T19:09:00Z"), &id) < bound);
        assert!(due_key(at("2026-11-23T19:10:01Z"), &id) >= bound);
    }
}
