//! The moves of the status machine (one conditional write each; closing a
//! paid order also frees its ticket number) and erasure's owner swap.

use super::{
    OrderItem, OrderStore, cancelled_for_condition, failed_item, is_order_id, now, queue_key,
    ticket_slot,
};
use crate::domain::Subject;
use crate::domain::ids::OrderId;
use crate::domain::order::{Actor, CancelReason, Order, OrderStatus, required_status};
use crate::service::ports::{OrderMoves, OrderOwners, Reach};
use crate::store::dynamo::{from_item, is_condition_failure, s, text};
use crate::store::sdk::from_sdk;
use crate::{Error, Result};
use aws_sdk_dynamodb::types::{
    ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};

/// The SET clause that records when an order reached `to`
/// (`, in_preparation_at = :now`, ...; nothing for a status without one):
/// a field name of the domain's own, never a client's text.
fn stage_set(to: OrderStatus) -> String {
    to.stage_field()
        .map(|field| format!(", {field} = :now"))
        .unwrap_or_default()
}

impl OrderMoves for OrderStore {
    /// Moves an order by `actor` to `to`, in one conditional update on the
    /// status the move requires and on `reach` (an owner's own order, a
    /// store's staff's store's; another answers 404, like a missing one). A
    /// kitchen move changes the order's `kitchen` partition, which names its
    /// store: an admin's move reads the order first to learn it.
    async fn move_status(
        &self,
        id: &OrderId,
        actor: Actor,
        to: OrderStatus,
        reach: Reach<'_>,
    ) -> Result<Order> {
        let from = required_status(actor, to)?;
        if !is_order_id(id) {
            return Err(Error::order_not_found());
        }
        if from.in_queue() && !to.in_queue() {
            return self.close_paid(id, actor, from, to, reach).await;
        }
        let store = match reach {
            Reach::Chain if to.in_queue() => Some(
                self.read(id, true)
                    .await?
                    .ok_or_else(Error::order_not_found)?
                    .store_id,
            ),
            Reach::Store(store) => Some(Some(store.clone())),
            _ => None,
        };
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
        let stage = stage_set(to);
        update = if to.in_queue() {
            update
                .update_expression(format!(
                    "SET #status = :to, updated_at = :now, queue_status = :queue{stage}"
                ))
                .expression_attribute_values(
                    ":queue",
                    s(queue_key(store.as_ref().and_then(Option::as_ref), to)),
                )
        } else if to == OrderStatus::Cancelled {
            update
                .update_expression(format!(
                    "SET #status = :to, updated_at = :now, cancel_reason = :reason{stage} \
                     REMOVE queue_status, queue_sk, awaiting, due_at",
                ))
                .expression_attribute_values(":reason", s(CancelReason::Customer.as_str()))
        } else {
            update.update_expression(format!(
                "SET #status = :to, updated_at = :now{stage} REMOVE queue_status, queue_sk",
            ))
        };
        // Whose order it must be, and (for a kitchen move) of the store its
        // new partition names.
        let (whose, value) = match (reach, &store) {
            (Reach::Owner(owner), _) => (Some("customer_id"), Some(owner.to_string())),
            (_, Some(Some(store))) => (Some("store_id"), Some(store.to_string())),
            (_, Some(None)) => (Some("store_id"), None),
            (Reach::Store(_) | Reach::Chain, None) => (None, None),
        };
        update = match (whose, &value) {
            (Some(attribute), Some(value)) => update
                .condition_expression(format!("#status = :from AND {attribute} = :whose"))
                .expression_attribute_values(":whose", s(value)),
            (Some(attribute), None) => update.condition_expression(format!(
                "#status = :from AND attribute_not_exists({attribute})"
            )),
            (None, _) => update.condition_expression("#status = :from"),
        };
        match update.send().await {
            Ok(output) => Ok(from_item::<OrderItem>(output.attributes.unwrap_or_default())?.order),
            Err(e) => match failed_item(&e) {
                Some(Some(old))
                    if whose.is_none_or(|attribute| text(&old, attribute) == value)
                        && text(&old, "status").is_some() =>
                {
                    Err(Error::invalid_transition())
                }
                Some(_) => Err(Error::order_not_found()),
                None => Err(from_sdk(e)),
            },
        }
    }
}

impl OrderStore {
    /// Moves a paid order out of the open ones (completed, or cancelled by an
    /// admin after its refund) and frees its ticket number, in one
    /// transaction conditioned on the status the move requires.
    async fn close_paid(
        &self,
        id: &OrderId,
        actor: Actor,
        from: OrderStatus,
        to: OrderStatus,
        reach: Reach<'_>,
    ) -> Result<Order> {
        let order = self
            .read(id, true)
            .await?
            .filter(|order| reach.holds(order))
            .ok_or_else(Error::order_not_found)?;
        if order.status != from {
            return Err(Error::invalid_transition());
        }
        let moved = order.moved(actor, to, crate::clock::now());
        let now = crate::clock::rfc3339(moved.updated_at);
        let stage = stage_set(to);
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
                // Refund pending: due at once for the expiry job, which
                // retries the refund until Mercado Pago confirms it.
                .update_expression(format!(
                    "SET #status = :to, updated_at = :now, cancel_reason = :reason, \
                     payment_status = :refunded, awaiting = :awaiting, due_at = :due{stage} \
                     REMOVE queue_status, queue_sk",
                ))
                .expression_attribute_values(":awaiting", s(super::awaiting_shard(id)))
                .expression_attribute_values(":due", s(super::due_key(moved.updated_at, id)))
                .expression_attribute_values(
                    ":reason",
                    s(moved
                        .cancel_reason
                        .map(CancelReason::as_str)
                        .unwrap_or_default()),
                )
                .expression_attribute_values(":refunded", s(moved.payment_status.as_str()))
        } else {
            update.update_expression(format!(
                "SET #status = :to, updated_at = :now{stage} REMOVE queue_status, queue_sk",
            ))
        };
        let mut transaction = self.client.transact_write_items().transact_items(
            TransactWriteItem::builder()
                .update(update.build().map_err(Error::internal)?)
                .build(),
        );
        if let Some(number) = order.number {
            let free = aws_sdk_dynamodb::types::Delete::builder()
                .table_name(&self.table)
                .key("id", s(ticket_slot(order.store_id.as_ref(), number)))
                .condition_expression("attribute_not_exists(id) OR order_id = :order")
                .expression_attribute_values(":order", s(id.as_str()))
                .build()
                .map_err(Error::internal)?;
            transaction =
                transaction.transact_items(TransactWriteItem::builder().delete(free).build());
        }
        match transaction.send().await {
            Ok(_) => Ok(moved),
            Err(e) if cancelled_for_condition(&e, 0) => Err(Error::invalid_transition()),
            Err(e) => Err(from_sdk(e)),
        }
    }
}

impl OrderOwners for OrderStore {
    /// LGPD erasure: every order of `owner` gets `replacement` as its owner
    /// (an opaque value that is not the erased customer's id). The orders
    /// keep their items and totals for the books; nothing links them to the
    /// person any more. Each is a conditional update on the old owner, so a
    /// retry after a failure picks up where it stopped. Returns how many.
    async fn reassign_owner(&self, owner: &Subject, replacement: &Subject) -> Result<usize> {
        let (owner, replacement) = (owner.to_string(), replacement.to_string());
        let mut moved = 0;
        let mut start = None;
        // One pass over the owner's index entries, page after page (not a
        // Query again from the top: the index lags the updates a little).
        loop {
            let page = self
                .owner_query(&owner)
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
                    .expression_attribute_values(":owner", s(&owner))
                    .expression_attribute_values(":replacement", s(&replacement))
                    .send()
                    .await;
                match result {
                    Ok(_) => moved += 1,
                    // Moved by a concurrent erasure: nothing left to do for it.
                    Err(e) if is_condition_failure(&e) => {}
                    Err(e) => return Err(from_sdk(e)),
                }
            }
            match page.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok(moved),
            }
        }
    }
}
