//! Orders in DynamoDB, cut by job:
//! - `status`: the kitchen's and owners' moves, and erasure's owner swap;
//! - `checkout`: new orders and their idempotency records, with the menu
//!   ([`Checkouts`] holds both tables);
//! - `payment`: the payment's writes (attach, confirm with a ticket number,
//!   cancel unpaid, refunded);
//! - `queries`: the lists (own orders, the kitchen queue, the board, due
//!   orders).
//!
//! Each write is built from the domain transition it makes
//! (`Order::confirmed`, `Order::moved`, ...), and every enum value is
//! written with its `as_str`.
//!
//!
//! Table keyed by `id`, with two GSIs:
//! - `by_owner` (`customer_id`, `owner_sk` = creation time#id): a caller's own
//!   orders, newest first.
//! - `kitchen` (`queue_status` = store#status, `queue_sk` = payment time#id),
//!   sparse: an order enters it when paid and leaves it when completed or
//!   cancelled, so a store's kitchen queue and board are one Query per status
//!   of that store's partitions and never see unpaid orders or another
//!   store's.
//! - `awaiting` (`awaiting` = `"1"`, `due_at` = payment deadline#id), sparse
//!   and keys only: an order enters it at checkout and leaves it with the
//!   write that moves it out of `awaiting_payment` (paid, refused, expired or
//!   cancelled by its owner), so the expiry job finds the orders past their
//!   deadline with one Query, oldest deadline first, and never scans. A
//!   cancelled order stays in it while the job still has work on it: its
//!   Mercado Pago order is not known to be over (the sweeper re-reads it and
//!   refunds a payment found there) or its refund is pending. One
//!   partition on purpose: a restaurant's unpaid orders are a few dozen at
//!   most, read once a minute, far below a partition's limits.
//!
//! Every status change is one conditional UpdateItem on the current status,
//! or a transaction of it and the order's ticket slot. More kinds of items
//! share the table: each store's ticket counter (`counter#ticket#<store>`)
//! and ticket slots (`ticket#<store>#<n>`, held by an open paid order: taken
//! in the transaction that confirms the payment, freed in the one that
//! completes or cancels it, so no two open paid orders of a store share a
//! number), and idempotency records
//! (`idem#<owner>#<key>`, expiring after a day through the table's TTL), and
//! the holders of the open-order limits (`open#owner#<sub>`,
//! `open#kiosk#<id>`: see `open`).

mod checkout;
mod open;
mod payment;
mod queries;
mod status;

pub use checkout::Checkouts;
pub use open::OpenOrderLimits;
pub use queries::{BOARD_LIMIT, Board, OwnCursor, QueueCursor};

use crate::Result;
use crate::domain::ProviderOrderId;
use crate::domain::ids::{OrderId, StoreId};
use crate::domain::order::{Order, OrderStatus, Payment};
use crate::store::dynamo::{Item, from_item, s};
use crate::store::sdk::from_sdk;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use serde::{Deserialize, Serialize};

pub const OWNER_INDEX: &str = "by_owner";
pub const KITCHEN_INDEX: &str = "kitchen";
pub const AWAITING_INDEX: &str = "awaiting";
/// The partitions of the sparse `awaiting` index: an order awaiting payment
/// (or a refund) sits in the one its id hashes to, `"0"`..`"f"`, so the
/// chain's checkouts, payments and expiries spread their index writes over
/// 16 partitions instead of one, and the expiry job reads them all, 16
/// Queries at once, whatever the number of stores. Orders written while the
/// index had one partition hold `"1"`, one of the 16, and are still found.
pub const AWAITING_SHARDS: u8 = 16;

/// The `awaiting` partition of order `id`: FNV-1a of its bytes (stable
/// across builds and machines, which std's hasher is not), modulo
/// [`AWAITING_SHARDS`], in hex.
pub fn awaiting_shard(id: &OrderId) -> String {
    let hash = id
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("{:x}", hash % u64::from(AWAITING_SHARDS))
}
/// How long an order awaits its payment when the store is not told
/// (`ORDER_PAYMENT_TIMEOUT_SECONDS`'s default).
pub const DEFAULT_PAYMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(900);
const TICKET_COUNTER: &str = "counter#ticket";
/// The store part of the keys of an order placed before orders had a store.
const NO_STORE: &str = "-";
/// Item ids of the other kinds of items the table holds.
const IDEMPOTENCY_PREFIX: &str = crate::service::ports::IdempotencyRecord::ID_PREFIX;
const COUNTER_PREFIX: &str = "counter#";
const TICKET_PREFIX: &str = "ticket#";
const PROVIDER_PREFIX: &str = "mp#";

/// The item that names our order of a Mercado Pago order.
fn provider_pointer(provider_order: &ProviderOrderId) -> String {
    format!("{PROVIDER_PREFIX}{provider_order}")
}

/// Whether `id` can name an order at all (our ids are UUIDs): anything else
/// is answered as missing without asking DynamoDB.
pub fn is_order_id(id: &OrderId) -> bool {
    let id = id.as_str();
    !id.starts_with(IDEMPOTENCY_PREFIX)
        && !id.starts_with(COUNTER_PREFIX)
        && !id.starts_with(TICKET_PREFIX)
        && !id.starts_with(PROVIDER_PREFIX)
        && !id.starts_with(open::OPEN_PREFIX)
}

fn store_part(store: Option<&StoreId>) -> &str {
    store.map_or(NO_STORE, StoreId::as_str)
}

/// The item that holds ticket `number` of `store` while an open paid order has it.
fn ticket_slot(store: Option<&StoreId>, number: u16) -> String {
    format!("{TICKET_PREFIX}{}#{number}", store_part(store))
}

/// The item counting `store`'s tickets.
fn ticket_counter(store: Option<&StoreId>) -> String {
    format!("{TICKET_COUNTER}#{}", store_part(store))
}

/// The `kitchen` index partition of `store`'s paid orders in `status`.
pub fn queue_key(store: Option<&StoreId>, status: OrderStatus) -> String {
    format!("{}#{}", store_part(store), status.as_str())
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
    paid_by: Option<ProviderOrderId>,
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

/// The orders table: reads, moves, payments and lists. Checkout writes
/// through [`Checkouts`], which also holds the menu.
#[derive(Clone)]
pub struct OrderStore {
    client: Client,
    table: String,
}

impl OrderStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub async fn get(&self, id: &OrderId) -> Result<Option<Order>> {
        self.read(id, false).await
    }

    async fn read(&self, id: &OrderId, consistent: bool) -> Result<Option<Order>> {
        if !is_order_id(id) {
            return Ok(None);
        }
        Ok(self.read_item(id, consistent).await?.map(|i| i.order))
    }

    async fn read_item(&self, id: &OrderId, consistent: bool) -> Result<Option<OrderItem>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", s(id.as_str()))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(from_sdk)?;
        output.item.map(from_item::<OrderItem>).transpose()
    }
}

impl OrderStore {
    /// A Query of `owner`'s orders (the `by_owner` index).
    fn owner_query(&self, owner: &str) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(OWNER_INDEX)
            .key_condition_expression("customer_id = :owner")
            .expression_attribute_values(":owner", s(owner))
    }

    /// A Query of `store`'s paid orders in `status` (the `kitchen` index),
    /// oldest payment first.
    fn kitchen_query(&self, store: &StoreId, status: OrderStatus) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(KITCHEN_INDEX)
            .key_condition_expression("queue_status = :status")
            .expression_attribute_values(":status", s(queue_key(Some(store), status)))
    }
}

fn now() -> String {
    crate::clock::now_rfc3339()
}

/// The old item of a failed condition (`ReturnValuesOnConditionCheckFailure`):
/// `Some(item or None)` when the failure is a failed condition.
fn failed_item(
    e: &aws_smithy_runtime_api::client::result::SdkError<
        aws_sdk_dynamodb::operation::update_item::UpdateItemError,
        aws_smithy_runtime_api::http::Response,
    >,
) -> Option<Option<Item>> {
    match e.as_service_error() {
        Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c)) => {
            Some(c.item.clone())
        }
        _ => None,
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

/// Whether a transaction was cancelled because another one was in flight on
/// one of its items (DynamoDB cancels rather than waits): worth a retry.
fn cancelled_by_conflict<R>(
    e: &aws_smithy_runtime_api::client::result::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        R,
    >,
) -> bool {
    match e.as_service_error() {
        Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c)) => c
            .cancellation_reasons()
            .iter()
            .any(|r| r.code() == Some("TransactionConflict")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> time::OffsetDateTime {
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
    }

    #[test]
    fn orders_spread_over_every_awaiting_partition_and_keep_theirs() {
        let shards: std::collections::BTreeSet<String> = (0..2000)
            .map(|_| awaiting_shard(&OrderId::generate()))
            .collect();
        let all: std::collections::BTreeSet<String> =
            (0..AWAITING_SHARDS).map(|n| format!("{n:x}")).collect();
        assert_eq!(shards, all, "2000 random orders fill all 16");
        let id = OrderId::parse("7a4d2e90-5c1b-4f3e-8d6a-1b2c3d4e5f60").unwrap();
        assert_eq!(awaiting_shard(&id), awaiting_shard(&id.clone()));
        assert_eq!(
            awaiting_shard(&id),
            "8",
            "fixed: a deploy never moves an order"
        );
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
