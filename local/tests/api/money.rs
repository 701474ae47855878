//! The money invariants under races: a paid order is either served or
//! refunded, never both.

use crate::helpers::{NO_OPEN_ORDER_LIMITS, spawn_app_with_isolated_writes, statuses, stock};
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

#[tokio::test]
async fn a_refund_that_fails_twice_ends_refunded_by_the_job() {
    let shop = crate::helpers::open_shop().await;
    let (order, payment) = shop.paid_order().await;
    // Every attempt of the staff cancel's refund and of the job's next run
    // fails (the adapter makes three attempts a call).
    shop.arm("refund", 500.into(), 6).await;

    let cancelled: shared::domain::order::Order = shop
        .move_order(&shop.admin, &order.id, "cancelled")
        .await
        .expect(200);
    assert_eq!(statuses(&cancelled), (Cancelled, RefundPending));
    let report = shop.run_expiry_after(std::time::Duration::ZERO).await;
    assert_eq!(report.refund_pending, 1, "{report:?}");
    assert_eq!(
        shop.statuses_of(&order.id).await,
        (Cancelled, RefundPending)
    );

    let report = shop.run_expiry_after(std::time::Duration::ZERO).await;

    assert_eq!(report.refunded, 1, "{report:?}");
    assert_eq!(shop.statuses_of(&order.id).await, (Cancelled, Refunded));
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
    let (order, payment) = shop.paid_order().await;
    // Refunds hang at Mercado Pago: the staff cancel's own call gives up.
    shop.arm("refund", "timeout".into(), 2).await;
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
    assert_eq!(shop.statuses_of(&order.id).await, (Cancelled, Refunded));
}

/// A small deterministic generator (a 64-bit LCG), so a failure replays.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % sides
    }
}

/// The stand-in's `POST /simulate/orders/{id}/{action}`, whatever it answers.
async fn at_mercadopago(shop: &crate::helpers::Shop, provider_order: &str, action: &str) {
    let path = format!("/simulate/orders/{provider_order}/{action}");
    let _ = shop
        .to_mercadopago(reqwest::Method::POST, &path)
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_orders_through_random_payments_and_faults_are_each_served_or_refunded_never_both()
 {
    use shared::domain::order::OrderStatus::{Completed, InPreparation, Ready, Received};
    let shop = stock(spawn_app_with_isolated_writes(NO_OPEN_ORDER_LIMITS).await).await;
    let mut dice = Dice(0x005e_ed0f_0dd5);
    let mut orders = Vec::new();
    for _ in 0..100 {
        let order = shop.placed_order(&shop.guest).await;
        let provider_order = shop
            .payment_of(&order.id)
            .await
            .provider_order_id
            .to_string();
        if dice.roll(4) == 0 {
            let route = ["get", "cancel", "refund"][usize::try_from(dice.roll(3)).unwrap()];
            let times = 1 + u32::try_from(dice.roll(3)).unwrap();
            shop.arm(route, 500.into(), times).await;
        }
        match dice.roll(7) {
            0 => at_mercadopago(&shop, &provider_order, "pay").await,
            1 => {
                at_mercadopago(&shop, &provider_order, "pay?notify=false").await;
                let _ = shop.get_order(&shop.guest, &order.id).await;
            }
            2 => at_mercadopago(&shop, &provider_order, "pay?notify=unsigned").await,
            3 => {
                let _ = shop.move_order(&shop.guest, &order.id, "cancelled").await;
            }
            4 => at_mercadopago(&shop, &provider_order, "expire").await,
            5 => {
                at_mercadopago(&shop, &provider_order, "pay").await;
                let _ = shop.move_order(&shop.admin, &order.id, "cancelled").await;
            }
            _ => {
                let _ = shop.move_order(&shop.guest, &order.id, "cancelled").await;
                at_mercadopago(&shop, &provider_order, "pay").await;
            }
        }
        orders.push((order.id, provider_order));
    }
    // Past every deadline, a few runs of the job settle what is left.
    for _ in 0..3 {
        shop.run_expiry_after(crate::helpers::PAST_DEADLINE).await;
    }

    let mut seen = std::collections::BTreeMap::new();
    for (id, provider_order) in &orders {
        let ours = shop.order(id).await;
        let theirs = shop.provider_status(provider_order).await;
        let served = matches!(ours.status, Received | InPreparation | Ready | Completed);
        let refunded = ours.payment_status == Refunded;
        assert!(!(served && refunded), "served and refunded: {ours:?}");
        if refunded {
            assert_eq!(
                ours.status, Cancelled,
                "a refunded order in the kitchen: {ours:?}"
            );
        }
        match theirs.as_str() {
            "processed" => assert!(served, "paid at Mercado Pago, not served: {ours:?}"),
            "refunded" => assert!(refunded, "refunded there, not here: {ours:?}"),
            _ => assert!(!served, "served unpaid ({theirs}): {ours:?}"),
        }
        *seen.entry(theirs).or_insert(0) += 1;
    }
    // The mix reached every outcome: served, refunded, cancelled, expired.
    for outcome in ["processed", "refunded", "canceled", "expired"] {
        assert!(seen.get(outcome).is_some_and(|n| *n > 0), "{seen:?}");
    }
}
