//! The open-order limits: how many orders awaiting payment one owner (a
//! guest or customer session) and one kiosk may hold at once.
//!
//! Each holder has an item, `open#owner#<subject>` or `open#kiosk#<id>`, whose
//! string set `orders` holds the ids of its orders that took a place. Checkout
//! takes the places in its own transaction, with `ADD orders :id` on the
//! condition `size(orders) < limit`: no Scan, no count read first, and the
//! order exists exactly when its places are taken. Paying releases them in
//! the confirmation's transaction (`DELETE orders :id`, idempotent).
//!
//! An order that leaves awaiting payment another way (cancelled, refused,
//! expired) keeps its places until a checkout finds a holder full: that
//! checkout reads the orders named in the holder (at most the limit, one
//! BatchGetItem), frees those no longer awaiting payment and tries once more.
//! Freeing a closed order's place is always safe, since no order ever goes
//! back to awaiting payment; a place whose order is not visible yet is kept.
//! So the count is never below the truth, and a limit is never exceeded.
//! Holders expire through the table's TTL a day after their last use.

use super::OrderStore;
use crate::domain::ids::{KioskId, OrderId};
use crate::domain::order::{Order, OrderStatus};
use crate::store::dynamo::{Item, batch_get, s, text};
use crate::store::sdk::from_sdk;
use crate::{Error, Result};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure, Update};
use std::collections::HashMap;

pub(super) const OPEN_PREFIX: &str = "open#";
/// A holder outlives its last use by this much (the payment deadline is added).
const HOLDER_LIFETIME_SECONDS: u64 = 24 * 3600;

/// `OPEN_ORDERS_PER_CUSTOMER` (2) and `OPEN_ORDERS_PER_KIOSK` (10); 0 turns a
/// limit off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenOrderLimits {
    pub per_owner: u32,
    pub per_kiosk: u32,
}

impl Default for OpenOrderLimits {
    fn default() -> Self {
        Self {
            per_owner: 2,
            per_kiosk: 10,
        }
    }
}

/// One holder of places an order takes.
pub(super) struct Holder {
    pub id: String,
    pub limit: u32,
    /// Who is full, for the answer.
    pub whose: &'static str,
}

impl OpenOrderLimits {
    /// The holders `order` takes a place in, in transaction order.
    pub(super) fn holders(&self, order: &Order) -> Vec<Holder> {
        let mut holders = Vec::with_capacity(2);
        if self.per_owner > 0 {
            holders.push(Holder {
                id: owner_holder(order),
                limit: self.per_owner,
                whose: "this session",
            });
        }
        if let (Some(kiosk), true) = (&order.kiosk_id, self.per_kiosk > 0) {
            holders.push(Holder {
                id: kiosk_holder(kiosk),
                limit: self.per_kiosk,
                whose: "this kiosk",
            });
        }
        holders
    }
}

fn owner_holder(order: &Order) -> String {
    format!("{OPEN_PREFIX}owner#{}", order.customer_id)
}

fn kiosk_holder(kiosk: &KioskId) -> String {
    format!("{OPEN_PREFIX}kiosk#{kiosk}")
}

fn one(id: &OrderId) -> AttributeValue {
    AttributeValue::Ss(vec![id.as_str().to_owned()])
}

/// When a holder touched now may be dropped.
fn holder_expiry(payment_timeout: std::time::Duration) -> AttributeValue {
    let lifetime = HOLDER_LIFETIME_SECONDS.saturating_add(payment_timeout.as_secs());
    let at = crate::clock::now_unix().saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX));
    AttributeValue::N(at.to_string())
}

/// Takes a place for `order` in `holder`, if it has one free.
pub(super) fn take(
    table: &str,
    holder: &Holder,
    order: &Order,
    payment_timeout: std::time::Duration,
) -> Result<Update> {
    Update::builder()
        .table_name(table)
        .key("id", s(&holder.id))
        .update_expression("ADD orders :order SET expires_at = :expires")
        .condition_expression("attribute_not_exists(orders) OR size(orders) < :limit")
        .expression_attribute_values(":order", one(&order.id))
        .expression_attribute_values(":limit", AttributeValue::N(holder.limit.to_string()))
        .expression_attribute_values(":expires", holder_expiry(payment_timeout))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .map_err(Error::internal)
}

/// Releases `order`'s places (whichever it took; releasing one it did not
/// take changes nothing), for the transaction that moves it out of awaiting
/// payment.
pub(super) fn release(table: &str, order: &Order) -> Result<Vec<Update>> {
    let mut holders = vec![owner_holder(order)];
    holders.extend(order.kiosk_id.as_ref().map(kiosk_holder));
    holders
        .into_iter()
        .map(|holder| {
            Update::builder()
                .table_name(table)
                .key("id", s(holder))
                .update_expression(
                    "DELETE orders :order SET expires_at = if_not_exists(expires_at, :expires)",
                )
                .expression_attribute_values(":order", one(&order.id))
                .expression_attribute_values(
                    ":expires",
                    holder_expiry(super::DEFAULT_PAYMENT_TIMEOUT),
                )
                .build()
                .map_err(Error::internal)
        })
        .collect()
}

/// The order ids a full holder's item names.
pub(super) fn held(item: Option<&Item>) -> Vec<String> {
    match item.and_then(|item| item.get("orders")) {
        Some(AttributeValue::Ss(ids)) => ids.clone(),
        _ => Vec::new(),
    }
}

impl OrderStore {
    /// Frees the places in `holder` of orders no longer awaiting payment,
    /// among `held`; whether any was freed.
    pub(super) async fn free_closed(&self, holder: &str, held: Vec<String>) -> Result<bool> {
        if held.is_empty() {
            return Ok(false);
        }
        // One BatchGetItem reads at most 100 keys: a holder names at most its
        // limit, and a place freed later is as good.
        let keys = held
            .iter()
            .take(100)
            .map(|id| HashMap::from([("id".to_owned(), s(id))]))
            .collect();
        // Strongly consistent: an order closed a moment ago frees its place.
        let request = HashMap::from([(self.table.clone(), keys)]);
        let found = batch_get(&self.client, request, true)
            .await?
            .remove(&self.table)
            .unwrap_or_default();
        let awaiting = OrderStatus::AwaitingPayment.as_str();
        let closed: Vec<String> = found
            .iter()
            .filter(|item| text(item, "status").is_some_and(|status| status != awaiting))
            .filter_map(|item| text(item, "id"))
            .collect();
        if closed.is_empty() {
            return Ok(false);
        }
        tracing::info!(
            freed = closed.len(),
            "open-order places of closed orders freed"
        );
        self.client
            .update_item()
            .table_name(&self.table)
            .key("id", s(holder))
            .update_expression("DELETE orders :closed")
            .expression_attribute_values(":closed", AttributeValue::Ss(closed))
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(true)
    }
}
