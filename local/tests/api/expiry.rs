//! The expiry job (`functions/order-expiry`): unpaid orders past their
//! deadline are confirmed (paid, never notified), or cancelled here and at
//! Mercado Pago; a payment that comes after is refunded. The job runs here
//! through its own handler against the test's stack, "later" than now
//! rather than after a real deadline.

use crate::helpers::{
    AtCancel, MercadoPagoProxy, PAST_DEADLINE, Shop, open_shop, spawn_app_with_isolated_writes,
    statuses, stock,
};
use shared::domain::OrderId;
use shared::domain::order::{CancelReason, Order, OrderStatus, PaymentStatus};
use std::time::Duration;

const EXPIRED: (OrderStatus, PaymentStatus) = (OrderStatus::Cancelled, PaymentStatus::Expired);

/// An order of one X-Burger with its Mercado Pago QR; the Mercado Pago
/// order's id.
async fn order_with_qr(shop: &Shop) -> (Order, String) {
    let order = shop.placed_order(&shop.guest).await;
    let payment = shop.payment_of(&order.id).await;
    (order, payment.provider_order_id.to_string())
}

/// One run of the expiry job past every deadline, through a Mercado Pago
/// proxy that plays `at_cancel`; the job, for later runs.
async fn run_through(
    shop: &Shop,
    at_cancel: AtCancel,
) -> (order_expiry::State, order_expiry::Report) {
    let proxy = MercadoPagoProxy::start(&shop.mercadopago_url, at_cancel).await;
    let job = shop.expiry_job(Some(&proxy));
    let report = shop.run_expiry_with(&job, PAST_DEADLINE).await;
    (job, report)
}

#[tokio::test]
async fn an_unpaid_order_past_its_deadline_is_cancelled_here_and_at_mercado_pago() {
    let shop = open_shop().await;
    let (with_qr, provider_order) = order_with_qr(&shop).await;
    let without_qr = shop.placed_order(&shop.guest).await;

    let report = shop.run_expiry_after(PAST_DEADLINE).await;

    assert_eq!((report.due, report.expired), (2, 2), "{report:?}");
    for id in [&with_qr.id, &without_qr.id] {
        let order = shop.order(id).await;
        assert_eq!(statuses(&order), EXPIRED);
        assert_eq!(order.cancel_reason, Some(CancelReason::PaymentExpired));
        assert_eq!(order.number, None);
    }
    assert_eq!(shop.provider_status(&provider_order).await, "canceled");
    // They left the index: the next run finds nothing.
    assert_eq!(shop.run_expiry_after(PAST_DEADLINE).await.due, 0);
}

#[tokio::test]
async fn a_payment_never_notified_is_confirmed_by_the_job() {
    let shop = open_shop().await;
    let (order, provider_order) = order_with_qr(&shop).await;
    shop.simulate(&provider_order, "pay", false).await;

    let report = shop.run_expiry_after(PAST_DEADLINE).await;

    assert_eq!(report.confirmed, 1, "{report:?}");
    let order = shop.order(&order.id).await;
    assert_eq!(
        statuses(&order),
        (OrderStatus::Received, PaymentStatus::Approved)
    );
    let number = order.number.expect("a ticket number");
    assert!(order.paid_at.is_some());
    assert_eq!(
        shop.ticket_slots_of(&order.id).await,
        [format!("ticket#{}#{number}", shop.home_store().await)]
    );
    assert_eq!(shop.provider_status(&provider_order).await, "processed");
}

#[tokio::test]
async fn an_order_before_its_deadline_is_untouched() {
    let shop = open_shop().await;
    let (order, provider_order) = order_with_qr(&shop).await;
    let before = shop.order(&order.id).await;

    let report = shop.run_expiry_after(Duration::ZERO).await;

    assert_eq!(report.due, 0, "{report:?}");
    assert_eq!(shop.order(&order.id).await, before);
    assert_eq!(shop.provider_status(&provider_order).await, "created");
    // It is in the index all the same: due once its deadline passes.
    assert_eq!(shop.run_expiry_after(PAST_DEADLINE).await.expired, 1);
}

#[tokio::test]
async fn the_webhook_and_the_job_racing_on_an_order_end_with_one_outcome() {
    let shop = stock(spawn_app_with_isolated_writes(&[]).await).await;
    let job = shop.expiry_job(None);
    for _ in 0..4 {
        let (order, provider_order) = order_with_qr(&shop).await;
        let pay = shop.http.post(format!(
            "{}/simulate/orders/{provider_order}/pay",
            shop.mercadopago_url
        ));
        let (paid, report) = tokio::join!(pay.send(), shop.run_expiry_with(&job, PAST_DEADLINE));
        let paid = paid.unwrap().status();
        let order = shop.order(&order.id).await;
        let provider = shop.provider_status(&provider_order).await;
        let slots = shop.ticket_slots_of(&order.id).await;
        let outcome = (order.status, order.payment_status, provider.as_str());
        match outcome {
            // The payment won: ours is paid, with one ticket slot.
            (OrderStatus::Received, PaymentStatus::Approved, "processed") => {
                let store = shop.home_store().await;
                assert_eq!(slots, [format!("ticket#{store}#{}", order.number.unwrap())]);
            }
            // The job won and then the payment came: refunded, cancelled.
            (OrderStatus::Cancelled, PaymentStatus::Refunded, "refunded") => {
                assert!(slots.is_empty(), "{slots:?}");
                assert_eq!(order.cancel_reason, Some(CancelReason::PaymentExpired));
            }
            // The job cancelled both before the customer could pay.
            (OrderStatus::Cancelled, PaymentStatus::Expired, "canceled") => {
                assert!(slots.is_empty(), "{slots:?}");
                assert_eq!(paid.as_u16(), 409, "the payment was refused");
            }
            other => panic!("not one outcome: {other:?}, pay {paid}, {report:?}"),
        }
    }
}

#[tokio::test]
async fn mercado_pago_down_leaves_the_orders_for_the_next_run() {
    let shop = open_shop().await;
    let (first, _) = order_with_qr(&shop).await;
    let (second, _) = order_with_qr(&shop).await;
    // A session holds two orders awaiting payment at most: another guest's.
    let without_qr = shop.placed_order(&shop.guest_token().await).await;
    // Nothing listens there: every call is refused.
    let down = shop.expiry_job(Some("http://127.0.0.1:9"));

    let report = shop.run_expiry_with(&down, PAST_DEADLINE).await;

    // Asked once, then not again in that run; the order without a QR needs
    // no Mercado Pago.
    assert_eq!(
        (report.due, report.deferred, report.expired, report.failed),
        (3, 2, 1, 0),
        "{report:?}"
    );
    for id in [&first.id, &second.id] {
        assert_eq!(shop.order(id).await.status, OrderStatus::AwaitingPayment);
    }
    let report = shop.run_expiry_after(PAST_DEADLINE).await;
    assert_eq!((report.due, report.expired), (2, 2), "{report:?}");
    for id in [&first.id, &second.id] {
        assert_eq!(shop.statuses_of(id).await, EXPIRED);
    }
    assert_eq!(shop.statuses_of(&without_qr.id).await, EXPIRED);
}

#[tokio::test]
async fn a_payment_after_a_failed_cancel_is_refunded_by_the_sweep_and_the_order_stays_cancelled() {
    let shop = open_shop().await;
    let (order, provider_order) = order_with_qr(&shop).await;
    // Mercado Pago answers the re-read but fails the cancel: the QR stays
    // payable until its own expiry.
    let (job, report) = run_through(&shop, AtCancel::Fail).await;

    assert_eq!(report.expired, 1, "{report:?}");
    assert_eq!(shop.statuses_of(&order.id).await, EXPIRED);
    assert_eq!(shop.provider_status(&provider_order).await, "created");
    // The customer pays at the deadline; the notification finds ours
    // cancelled and leaves the refund to the job (none inside the webhook).
    let simulated = shop.simulate(&provider_order, "pay", true).await;
    assert_eq!(simulated["notification"]["status"], 200, "{simulated}");
    assert_eq!(shop.statuses_of(&order.id).await, EXPIRED);
    // The next run's sweep finds the payment and refunds it.
    let report = shop.run_expiry_with(&job, PAST_DEADLINE).await;
    assert_eq!(report.refunded, 1, "{report:?}");
    let order = refunded_both_sides(&shop, &order.id, &provider_order).await;
    assert_eq!(order.cancel_reason, Some(CancelReason::PaymentExpired));
    assert_eq!(order.number, None);
}

/// The order, cancelled and refunded here, and refunded at Mercado Pago.
async fn refunded_both_sides(shop: &Shop, id: &OrderId, provider_order: &str) -> Order {
    let order = shop.order(id).await;
    assert_eq!(
        statuses(&order),
        (OrderStatus::Cancelled, PaymentStatus::Refunded)
    );
    assert_eq!(shop.provider_status(provider_order).await, "refunded");
    order
}

#[tokio::test]
async fn a_payment_made_as_the_job_cancels_is_refunded_by_the_job() {
    let shop = open_shop().await;
    let (order, provider_order) = order_with_qr(&shop).await;
    // The customer pays (no notification yet) just before the cancel arrives.
    let (_job, report) = run_through(&shop, AtCancel::PayFirst).await;

    assert_eq!(report.refunded, 1, "{report:?}");
    let order = refunded_both_sides(&shop, &order.id, &provider_order).await;
    assert!(shop.ticket_slots_of(&order.id).await.is_empty());
}
