//! The money invariants under races: a paid order is either served or
//! refunded, never both.

use crate::helpers::{spawn_app_with_isolated_writes, statuses, stock};
use shared::domain::order::OrderStatus::{Cancelled, InPreparation};
use shared::domain::order::PaymentStatus::{Approved, RefundPending, Refunded};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_cancel_racing_the_kitchen_twenty_times_is_never_both_refunded_and_served() {
    // DynamoDB applies conditional writes one at a time; the emulator does
    // not, so writes go through the stack's serialising proxy.
    let shop = stock(spawn_app_with_isolated_writes(&[]).await).await;
    let mut outcomes = (0, 0);
    for _ in 0..20 {
        let order = shop.placed_order(&shop.guest).await;
        shop.pay_approved(&order.id).await;

        let (cancel, cook) = tokio::join!(
            shop.move_order(&shop.admin, &order.id, "cancelled"),
            shop.move_order(&shop.kitchen, &order.id, "in_preparation"),
        );

        let now = shop.order(&order.id).await;
        match (cancel.status, cook.status) {
            (200, 409) => {
                outcomes.0 += 1;
                assert_eq!(now.status, Cancelled, "{now:?}");
                assert!(
                    matches!(now.payment_status, Refunded | RefundPending),
                    "{now:?}"
                );
            }
            (409, 200) => {
                outcomes.1 += 1;
                assert_eq!(statuses(&now), (InPreparation, Approved));
            }
            other => panic!("exactly one of the two moves wins: {other:?}, {now:?}"),
        }
    }
    assert_eq!(outcomes.0 + outcomes.1, 20, "{outcomes:?}");
}

/// Arms the stand-in: the next `times` calls to `route` fail with a 500.
async fn fail_next(shop: &crate::helpers::Shop, route: &str, times: u32) {
    let faults = serde_json::json!({"route": route, "status": 500, "times": times});
    let armed = shop.to_mercadopago(reqwest::Method::POST, "/simulate/faults");
    assert!(
        armed
            .json(&faults)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
}

#[tokio::test]
async fn a_refund_that_fails_twice_ends_refunded_by_the_job() {
    let shop = crate::helpers::open_shop().await;
    let order = shop.placed_order(&shop.guest).await;
    let payment = shop.payment_of(&order.id).await;
    shop.pay_approved(&order.id).await;
    // Every attempt of the staff cancel's refund and of the job's next run
    // fails (the adapter makes three attempts a call).
    fail_next(&shop, "refund", 6).await;

    let cancelled: shared::domain::order::Order = shop
        .move_order(&shop.admin, &order.id, "cancelled")
        .await
        .expect(200);
    assert_eq!(statuses(&cancelled), (Cancelled, RefundPending));
    let report = shop.run_expiry_after(std::time::Duration::ZERO).await;
    assert_eq!(report.refund_pending, 1, "{report:?}");
    assert_eq!(
        statuses(&shop.order(&order.id).await),
        (Cancelled, RefundPending)
    );

    let report = shop.run_expiry_after(std::time::Duration::ZERO).await;

    assert_eq!(report.refunded, 1, "{report:?}");
    assert_eq!(
        statuses(&shop.order(&order.id).await),
        (Cancelled, Refunded)
    );
    let status = shop
        .provider_status(payment.provider_order_id.as_str())
        .await;
    assert_eq!(status, "refunded");
    let report = shop.run_expiry_after(std::time::Duration::ZERO).await;
    assert_eq!(report.due, 0, "nothing left for the job: {report:?}");
}

#[tokio::test]
async fn the_webhook_answers_within_5_s_while_a_refund_hangs_at_mercado_pago() {
    let shop = crate::helpers::open_shop().await;
    let order = shop.placed_order(&shop.guest).await;
    let payment = shop.payment_of(&order.id).await;
    shop.pay_approved(&order.id).await;
    // Refunds hang at Mercado Pago: the staff cancel's own call gives up.
    let faults = serde_json::json!({"route": "refund", "status": "timeout", "times": 2});
    let armed = shop.to_mercadopago(reqwest::Method::POST, "/simulate/faults");
    assert!(
        armed
            .json(&faults)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let cancelled: shared::domain::order::Order = shop
        .move_order(&shop.admin, &order.id, "cancelled")
        .await
        .expect(200);
    assert_eq!(statuses(&cancelled), (Cancelled, RefundPending));

    // Mercado Pago notifies the payment again: no refund runs inside the
    // webhook, which answers well within the 5 s Mercado Pago gives a retry.
    let started = std::time::Instant::now();
    let notified = shop
        .notify(
            payment.provider_order_id.as_str(),
            Some(&shop.webhook_secret()),
        )
        .await;
    let took = started.elapsed();
    assert_eq!(notified.status, 200);
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");

    // The job refunds it.
    let report = shop.run_expiry_after(std::time::Duration::ZERO).await;
    assert_eq!(report.refunded, 1, "{report:?}");
    assert_eq!(
        statuses(&shop.order(&order.id).await),
        (Cancelled, Refunded)
    );
}
