//! The payment's writes: the QR attached to an order, its confirmation
//! with a ticket number (one transaction with the number's slot and the
//! release of its open-order places), a
//! cancellation before payment, and the refund of a late payment.

use super::{
    OrderItem, OrderStore, cancelled_by_conflict, cancelled_for_condition, failed_item,
    is_order_id, now, queue_key, ticket_counter, ticket_slot,
};
use crate::clock::time_key;
use crate::domain::Subject;
use crate::domain::ids::{OrderId, ProviderOrderId, StoreId};
use crate::domain::money::Money;
use crate::domain::order::{
    CancelReason, Order, OrderStatus, Payment, PaymentStatus, ticket_number,
};
use crate::service::ports::{Attached, PaymentStore, StoredOrder};
use crate::store::dynamo::{applied, from_item, is_condition_failure, s, text, to_item};
use crate::store::sdk::from_sdk;
use crate::{Error, Result};
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};

/// How many ticket numbers a payment confirmation tries before giving up
/// (each taken number costs one counter step and one cancelled transaction).
const TICKET_ATTEMPTS: usize = 30;

impl OrderStore {
    /// The next value of `store`'s ticket counter (an atomic counter).
    async fn next_ticket(&self, store: Option<&StoreId>) -> Result<u64> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(ticket_counter(store)))
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
}

impl PaymentStore for OrderStore {
    async fn order_with_payment(&self, id: &OrderId) -> Result<Option<StoredOrder>> {
        if !is_order_id(id) {
            return Ok(None);
        }
        Ok(self.read_item(id, true).await?.map(|i| StoredOrder {
            order: i.order,
            payment: i.payment,
            paid_by: i.paid_by,
        }))
    }

    /// Stores the payment on the owner's order awaiting payment, unless it
    /// has one (a concurrent request's): then that one is the answer. The
    /// Mercado Pago order's pointer to ours is written first: it is true
    /// whatever happens next (Mercado Pago holds our id as the order's
    /// `external_reference`).
    async fn attach_payment(
        &self,
        id: &OrderId,
        owner: &Subject,
        payment: &Payment,
    ) -> Result<Attached> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("id", s(super::provider_pointer(&payment.provider_order_id)))
            .item("order_id", s(id.as_str()))
            .send()
            .await
            .map_err(from_sdk)?;
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
            .expression_attribute_values(":owner", s(owner.to_string()))
            .expression_attribute_values(":now", s(now()))
            .expression_attribute_values(":payment", AttributeValue::M(to_item(payment)?))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Attached::Attached),
            Err(e) => match failed_item(&e) {
                Some(Some(old)) => {
                    let old: OrderItem = from_item(old)?;
                    if !old.order.is_owned_by(owner) {
                        Err(Error::order_not_found())
                    } else if old.order.status != OrderStatus::AwaitingPayment {
                        Ok(Attached::NotAwaiting)
                    } else {
                        old.payment.map(Attached::Existing).ok_or_else(|| {
                            Error::internal("attach_payment: condition failed without a reason")
                        })
                    }
                }
                Some(None) => Err(Error::order_not_found()),
                None => Err(from_sdk(e)),
            },
        }
    }

    /// Confirms the payment of an order awaiting it: `received`, `approved`,
    /// `paid_at` and a ticket number no open paid order holds, in one
    /// transaction with the number's slot. A number taken by an open order
    /// is skipped for the next one.
    async fn confirm_paid(
        &self,
        order: &Order,
        paid_by: &ProviderOrderId,
        paid: Option<Money>,
    ) -> Result<Order> {
        let id = order.id.as_str();
        let mut conflicts = 0u64;
        for _ in 0..TICKET_ATTEMPTS {
            let store = order.store_id.as_ref();
            let number = ticket_number(self.next_ticket(store).await?);
            let confirmed = order.confirmed(number, crate::clock::now(), paid);
            let paid = crate::clock::rfc3339(confirmed.updated_at);
            let slot = Put::builder()
                .table_name(&self.table)
                .item("id", s(ticket_slot(store, number)))
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
                     paid_at = :paid, updated_at = :paid, queue_status = :queue, queue_sk = :qsk, \
                     paid_by = :paid_by, paid_cents = :paid_cents REMOVE awaiting, due_at",
                )
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#number", "number")
                .expression_attribute_values(":awaiting", s(OrderStatus::AwaitingPayment.as_str()))
                .expression_attribute_values(":received", s(confirmed.status.as_str()))
                .expression_attribute_values(":queue", s(queue_key(store, confirmed.status)))
                .expression_attribute_values(":approved", s(confirmed.payment_status.as_str()))
                .expression_attribute_values(":number", AttributeValue::N(number.to_string()))
                .expression_attribute_values(":paid", s(&paid))
                .expression_attribute_values(":qsk", s(time_key(id)))
                .expression_attribute_values(":paid_by", s(paid_by.as_str()))
                .expression_attribute_values(
                    ":paid_cents",
                    AttributeValue::N(
                        confirmed
                            .paid_cents
                            .unwrap_or(order.total_cents)
                            .as_cents()
                            .to_string(),
                    ),
                )
                .build()
                .map_err(Error::internal)?;
            // Paid, it no longer holds an open-order place (see `open`).
            let mut writes = vec![
                TransactWriteItem::builder().put(slot).build(),
                TransactWriteItem::builder().update(update).build(),
            ];
            for release in super::open::release(&self.table, order)? {
                writes.push(TransactWriteItem::builder().update(release).build());
            }
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(writes))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(confirmed),
                Err(e) if cancelled_for_condition(&e, 1) => return Err(Error::invalid_transition()),
                Err(e) if cancelled_for_condition(&e, 0) => {
                    tracing::info!(
                        number,
                        "ticket number held by an open order; taking the next"
                    );
                }
                // A checkout at the same kiosk or of the same owner holds
                // an open-order holder this confirmation releases: again.
                Err(e) if cancelled_by_conflict(&e) && conflicts < 3 => {
                    conflicts += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20 * conflicts)).await;
                }
                Err(e) if cancelled_by_conflict(&e) => {
                    return Err(Error::Unavailable(
                        "the confirmation kept conflicting".into(),
                    ));
                }
                Err(e) => return Err(from_sdk(e)),
            }
        }
        Err(Error::Unavailable(
            format!("no free ticket number in {TICKET_ATTEMPTS} tries").into(),
        ))
    }

    /// Cancels an order still awaiting payment for `reason`; watched, it
    /// stays in the `awaiting` index, due again in a minute.
    async fn cancel_unpaid(
        &self,
        id: &OrderId,
        reason: CancelReason,
        payment_status: PaymentStatus,
        watch: bool,
    ) -> Result<()> {
        let index = if watch {
            ", due_at = :due"
        } else {
            " REMOVE awaiting, due_at"
        };
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id.as_str()))
            .condition_expression("#status = :awaiting")
            .update_expression(format!(
                "SET #status = :cancelled, payment_status = :payment, cancel_reason = :reason, \
                 updated_at = :now, cancelled_at = :now{index}"
            ));
        if watch {
            let due = crate::clock::now() + crate::domain::order::WATCH_EVERY;
            update = update.expression_attribute_values(":due", s(super::due_key(due, id)));
        }
        let result = update
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":awaiting", s(OrderStatus::AwaitingPayment.as_str()))
            .expression_attribute_values(":cancelled", s(OrderStatus::Cancelled.as_str()))
            .expression_attribute_values(":payment", s(payment_status.as_str()))
            .expression_attribute_values(":reason", s(reason.as_str()))
            .expression_attribute_values(":now", s(now()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(Error::invalid_transition()),
            Err(e) => Err(from_sdk(e)),
        }
    }

    async fn watch(&self, id: &OrderId, due: Option<time::OffsetDateTime>) -> Result<()> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id.as_str()))
            .condition_expression("#status = :cancelled")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":cancelled", s(OrderStatus::Cancelled.as_str()));
        let update = match due {
            Some(due) => update
                .update_expression("SET awaiting = :awaiting, due_at = :due")
                .expression_attribute_values(":awaiting", s(super::awaiting_shard(id)))
                .expression_attribute_values(":due", s(super::due_key(due, id))),
            None => update.update_expression("REMOVE awaiting, due_at"),
        };
        applied(update.send().await).map(|_| ())
    }

    async fn order_of(&self, provider_order: &ProviderOrderId) -> Result<Option<OrderId>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", s(super::provider_pointer(provider_order)))
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(output
            .item
            .and_then(|item| text(&item, "order_id"))
            .and_then(|id| OrderId::parse(&id)))
    }

    /// `last_read_ms = now` (Unix milliseconds: numbers compare as time) if
    /// the order awaits payment and was last re-read at `now - every` or
    /// before (or never).
    async fn claim_read(
        &self,
        id: &OrderId,
        now: time::OffsetDateTime,
        every: std::time::Duration,
    ) -> Result<bool> {
        let millis = |t: time::OffsetDateTime| (t.unix_timestamp_nanos() / 1_000_000).to_string();
        let cutoff = now - every;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id.as_str()))
            .condition_expression(
                "#status = :awaiting AND (attribute_not_exists(last_read_ms) OR last_read_ms <= :cutoff)",
            )
            .update_expression("SET last_read_ms = :now")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":awaiting", s(OrderStatus::AwaitingPayment.as_str()))
            .expression_attribute_values(":cutoff", AttributeValue::N(millis(cutoff)))
            .expression_attribute_values(":now", AttributeValue::N(millis(now)))
            .send()
            .await;
        applied(result)
    }

    /// Notes the refund of a payment that came after its order was cancelled.
    async fn mark_refunded(&self, id: &OrderId) -> Result<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id.as_str()))
            .condition_expression("#status = :cancelled")
            .update_expression(
                "SET payment_status = :refunded, updated_at = :now REMOVE awaiting, due_at",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":cancelled", s(OrderStatus::Cancelled.as_str()))
            .expression_attribute_values(":refunded", s(PaymentStatus::Refunded.as_str()))
            .expression_attribute_values(":now", s(now()))
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(())
    }
}
