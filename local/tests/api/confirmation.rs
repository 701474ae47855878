//! A paid order confirmed while the customer waits, whatever Mercado Pago's
//! notifications do; notifications as hints; Mercado Pago's expiry, its lock
//! on cancel, its discounts and its outages.

use crate::helpers::{Shop, open_shop, statuses};
use shared::domain::money::Money;
use shared::domain::order::OrderStatus::{AwaitingPayment, Cancelled, Received};
use shared::domain::order::PaymentStatus::{Approved, Expired, Pending};
use shared::domain::order::{CancelReason, Order};

/// A shop, a guest's order there and its QR (Mercado Pago's order id).
async fn shop_with_qr() -> (Shop, Order, String) {
    let shop = open_shop().await;
    let order = shop.placed_order(&shop.guest).await;
    let qr = shop.payment_of(&order.id).await.provider_order_id;
    (shop, order, qr.to_string())
}

/// The owner's `GET /orders/{id}`, as a kiosk polls it.
async fn poll(shop: &Shop, order: &Order) -> Order {
    shop.get_order(&shop.guest, &order.id).await.expect(200)
}

#[tokio::test]
async fn a_payment_nobody_notified_is_confirmed_by_the_owners_poll() {
    let (shop, order, qr) = shop_with_qr().await;

    shop.simulate(qr.as_str(), "pay", false).await;
    let polled = poll(&shop, &order).await;

    assert_eq!(statuses(&polled), (Received, Approved));
    assert!(polled.number.is_some(), "{polled:?}");
    assert_eq!(polled.paid_cents, Some(order.total_cents));
}

#[tokio::test]
async fn an_unsigned_notification_is_refused_and_still_confirms_our_order() {
    let (shop, order, qr) = shop_with_qr().await;
    let id = qr.as_str();

    let paid = shop.simulate(id, "pay?notify=unsigned", true).await;

    assert_eq!(paid["notification"]["status"], 401, "{paid}");
    assert_eq!(shop.statuses_of(&order.id).await, (Received, Approved));
}

#[tokio::test]
async fn a_forged_notification_changes_nothing_and_an_unknown_id_is_never_read() {
    let (shop, order, qr) = shop_with_qr().await;
    shop.mercadopago.lock().await.take_calls();

    shop.notify("ORD01UNKNOWN000000000000000", None)
        .await
        .expect_error(401, "invalid_signature");
    let signed = shop
        .notify("ORD01UNKNOWN000000000000000", Some(&shop.webhook_secret()))
        .await;
    assert_eq!(signed.status, 200);
    assert!(
        shop.mercadopago.lock().await.take_calls().is_empty(),
        "an id we do not hold is never sent to Mercado Pago"
    );
    // A forgery naming our order: at most our own order is re-read, unpaid.
    shop.notify(qr.as_str(), Some(b"forged"))
        .await
        .expect_error(401, "invalid_signature");
    assert_eq!(
        shop.statuses_of(&order.id).await,
        (AwaitingPayment, Pending)
    );
}

#[tokio::test]
async fn an_order_mercado_pago_expires_is_cancelled_as_expired() {
    let (shop, order, qr) = shop_with_qr().await;

    shop.simulate(qr.as_str(), "expire", true).await;

    let expired = shop.order(&order.id).await;
    assert_eq!(statuses(&expired), (Cancelled, Expired));
    assert_eq!(expired.cancel_reason, Some(CancelReason::PaymentExpired));
}

#[tokio::test]
async fn a_cancel_while_the_qr_is_being_paid_is_409_and_changes_nothing() {
    let (shop, order, qr) = shop_with_qr().await;
    let id = qr.as_str();
    shop.simulate(id, "start", false).await;

    shop.move_order(&shop.guest, &order.id, "cancelled")
        .await
        .expect_error(409, "payment_in_progress");
    assert_eq!(
        shop.statuses_of(&order.id).await,
        (AwaitingPayment, Pending)
    );
    assert_eq!(shop.provider_status(id).await, "created");

    // The payer gives up: now the cancel goes through, there first.
    shop.simulate(id, "abandon", false).await;
    let cancelled: Order = shop
        .move_order(&shop.guest, &order.id, "cancelled")
        .await
        .expect(200);
    assert_eq!(cancelled.status, Cancelled);
    assert_eq!(shop.provider_status(id).await, "canceled");
}

#[tokio::test]
async fn a_discounted_payment_is_confirmed_and_keeps_what_was_paid() {
    let (shop, order, qr) = shop_with_qr().await;
    let discounted = order.total_cents.as_cents() - 150;
    let amount = format!("{}.{:02}", discounted / 100, discounted % 100);

    let action = format!("pay?paid_amount={amount}");
    shop.simulate(qr.as_str(), &action, true).await;

    let paid = shop.order(&order.id).await;
    assert_eq!(statuses(&paid), (Received, Approved));
    assert_eq!(paid.total_cents, order.total_cents);
    assert_eq!(paid.paid_cents, Some(Money::cents(discounted)));
}

#[tokio::test]
async fn an_outage_at_mercado_pago_is_503_a_refusal_502_and_neither_keeps_a_payment() {
    let shop = open_shop().await;
    // Five 500s outlast the adapter's retries; a 401 (a revoked access
    // token) is a refusal no retry changes.
    for (fault, times, status, code) in [
        (500, 5, 503, "payment_provider_unavailable"),
        (401, 1, 502, "payment_provider_error"),
    ] {
        let order = shop.placed_order(&shop.guest).await;
        shop.arm("create", fault.into(), times).await;

        shop.request_payment(&shop.guest, &order.id)
            .await
            .expect_error(status, code);

        // Nothing was kept: once Mercado Pago answers, the payment is made.
        let payment = shop.payment_of(&order.id).await;
        assert_eq!(payment.amount_cents, order.total_cents);
    }
}
