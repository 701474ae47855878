//! Paying with a Mercado Pago QR against the local stand-in: one QR order per
//! order, notifications believed only when signed and only for what Mercado
//! Pago says when re-read, ticket numbers at payment, refunds.

use crate::helpers::{Shop, open_shop, open_shop_without_limits, statuses, token_of};
use reqwest::Method;
use shared::domain::OrderId;
use shared::domain::order::OrderStatus::{AwaitingPayment, Cancelled, Received};
use shared::domain::order::PaymentStatus::{Approved, Pending, RefundPending, Refunded, Refused};
use shared::domain::order::{CancelReason, Order, Payment};
use shared::payments::mercadopago::{MercadoPago, MercadoPagoSettings};
use shared::payments::{PaymentGateway, QrOrderRequest};

/// The stand-in through our own adapter, as a second client of Mercado Pago.
fn mercadopago(shop: &Shop) -> MercadoPago {
    let settings = MercadoPagoSettings::new(&shop.mercadopago_url, "KIOSK001").unwrap();
    let token =
        shared::payments::credentials::AccessToken::parse(&shop.mercadopago_config.access_token)
            .unwrap();
    MercadoPago::new(settings, token).unwrap()
}

async fn provider_status(shop: &Shop, payment: &Payment) -> String {
    let id = payment.provider_order_id.clone();
    mercadopago(shop).get_order(&id).await.unwrap().raw_status
}

#[tokio::test]
async fn an_order_gets_one_qr_payment_however_often_and_concurrently_it_is_asked() {
    let shop = open_shop().await;
    let order = shop.placed_order(&shop.guest).await;
    assert_eq!(
        (order.number, order.paid_at),
        (None, None),
        "no ticket before payment"
    );

    let request = shop.request(
        Method::POST,
        &format!("/orders/{}/payment", order.id),
        Some(&shop.guest),
    );
    let answers = shop.send_concurrently(10, request).await;
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    statuses.sort_unstable();
    assert!(
        statuses.iter().all(|s| matches!(s, 200 | 201)),
        "{statuses:?}"
    );
    assert!(statuses.contains(&201), "one of them made it: {statuses:?}");
    let payments: Vec<Payment> = answers.iter().map(|a| a.json()).collect();
    assert!(
        payments.windows(2).all(|w| w[0] == w[1]),
        "one payment: {payments:?}"
    );
    let payment = &payments[0];
    assert_eq!(
        (payment.provider.as_str(), payment.amount_cents),
        ("mercadopago", order.total_cents)
    );
    assert!(!payment.qr_data.is_empty());
    assert_eq!(
        payment.expires_at,
        order.created_at + std::time::Duration::from_secs(900)
    );
    assert_eq!(
        shop.payment_of(&order.id).await,
        *payment,
        "a later call: the same one"
    );

    // Someone else's order, a missing one, a role that pays nothing.
    let other_guest = shop.guest_token().await;
    shop.request_payment(&other_guest, &order.id)
        .await
        .expect_error(404, "order_not_found");
    shop.request_payment(&shop.guest, OrderId::generate())
        .await
        .expect_error(404, "order_not_found");
    shop.request_payment(&shop.kitchen, &order.id)
        .await
        .expect_error(403, "forbidden");
}

#[tokio::test]
async fn a_notification_counts_only_signed_and_only_for_what_mercado_pago_says() {
    let shop = open_shop().await;
    let order = shop.placed_order(&shop.guest).await;
    let payment = shop.payment_of(&order.id).await;
    let id = payment.provider_order_id.to_string();
    let secret = shop.webhook_secret();

    // Unsigned, or signed with another secret: 401, and what their body
    // claims changes nothing (at most our own order is re-read: unpaid).
    shop.notify(&id, None)
        .await
        .expect_error(401, "invalid_signature");
    shop.notify(&id, Some(b"not-the-secret"))
        .await
        .expect_error(401, "invalid_signature");
    assert_eq!(
        shop.statuses_of(&order.id).await,
        (AwaitingPayment, Pending)
    );
    // Paid at Mercado Pago, no notification yet.
    shop.simulate(&id, "pay", false).await;

    // Signed: re-read, paid, exactly our total: received, with a ticket.
    assert_eq!(shop.notify(&id, Some(&secret)).await.status, 200);
    let paid = shop.order(&order.id).await;
    assert_eq!(statuses(&paid), (Received, Approved));
    let number = paid.number.expect("a ticket number once paid");
    assert!((1..=999).contains(&number));
    assert!(paid.paid_at.is_some());
    // A repeat changes nothing; the kitchen sees it.
    assert_eq!(shop.notify(&id, Some(&secret)).await.status, 200);
    assert_eq!(shop.order(&order.id).await, paid);
    assert_eq!(shop.get_order(&shop.kitchen, &order.id).await.status, 200);

    // An order Mercado Pago does not have, or one not ours: 200, nothing.
    assert_eq!(
        shop.notify("ORD01UNKNOWN000000000000000", Some(&secret))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_qr_cancelled_by_someone_else_is_refused_and_a_pending_one_changes_nothing() {
    let shop = open_shop().await;
    let refused = shop.placed_order(&shop.guest).await;
    let pending = shop.placed_order(&shop.guest).await;
    let pending_payment = shop.payment_of(&pending.id).await;

    // A QR order never fails at Mercado Pago; one cancelled there by
    // someone other than us is the refusal.
    let cancelled = shop.cancel_at_mercadopago(&refused.id).await;
    assert_eq!(statuses(&cancelled), (Cancelled, Refused));
    assert_eq!(cancelled.cancel_reason, Some(CancelReason::PaymentRefused));
    assert_eq!(cancelled.number, None);

    let secret = shop.webhook_secret();
    assert_eq!(
        shop.notify(pending_payment.provider_order_id.as_str(), Some(&secret))
            .await
            .status,
        200
    );
    assert_eq!(
        shop.statuses_of(&pending.id).await,
        (AwaitingPayment, Pending)
    );
}

#[tokio::test]
async fn a_payment_of_another_amount_changes_nothing() {
    let shop = open_shop().await;
    let order = shop.placed_order(&shop.guest).await;
    // A QR order for our order id but another amount (not made by us).
    let stray = mercadopago(&shop)
        .create_qr_order(&QrOrderRequest {
            order_id: order.id.clone(),
            total: shared::domain::money::Money::cents(order.total_cents.as_cents() - 1),
            expires_at: order.created_at + std::time::Duration::from_secs(900),
            idempotency_key: shared::domain::IdempotencyKey::parse("stray-1").unwrap(),
            items: vec![],
            pos_id: None,
        })
        .await
        .unwrap();
    shop.simulate(stray.id.as_str(), "pay", true).await;
    assert_eq!(
        shop.statuses_of(&order.id).await,
        (AwaitingPayment, Pending)
    );
}

#[tokio::test]
async fn open_paid_orders_never_share_a_ticket_number() {
    let shop = open_shop().await;
    let mut numbers = Vec::new();
    for _ in 0..6 {
        let order = shop.placed_order(&shop.guest).await;
        numbers.push(shop.pay_approved(&order.id).await.number.unwrap());
    }
    let mut distinct = numbers.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), numbers.len(), "{numbers:?}");
}

#[tokio::test]
async fn an_admin_cancel_of_a_paid_order_refunds_it_first() {
    let shop = open_shop().await;
    let order = shop.placed_order(&shop.guest).await;
    let payment = shop.payment_of(&order.id).await;
    let paid = shop.pay_approved(&order.id).await;

    let cancelled: Order = shop
        .move_order(&shop.admin, &order.id, "cancelled")
        .await
        .expect(200);
    assert_eq!(statuses(&cancelled), (Cancelled, Refunded));
    assert_eq!(cancelled.cancel_reason, Some(CancelReason::Staff));
    assert_eq!(cancelled.number, paid.number);
    assert_eq!(provider_status(&shop, &payment).await, "refunded");
}

#[tokio::test]
async fn a_refund_that_fails_leaves_the_order_cancelled_with_its_refund_pending() {
    let shop = open_shop().await;
    let order = shop.placed_order(&shop.guest).await;
    shop.pay_approved(&order.id).await;
    shop.mercadopago.lock().await.stop().await;

    let cancelled: Order = shop
        .move_order(&shop.admin, &order.id, "cancelled")
        .await
        .expect(200);
    assert_eq!(statuses(&cancelled), (Cancelled, RefundPending));
    assert_eq!(shop.order(&order.id).await, cancelled);
    // Never served: the kitchen cannot move it any more.
    shop.move_order(&shop.kitchen, &order.id, "in_preparation")
        .await
        .expect_error(409, "invalid_transition");
}

/// The point of sale the QR of `order` was created on, as the stand-in has it.
async fn pos_of(shop: &Shop, token: &str, order: &Order) -> String {
    let answer = shop.request_payment(token, &order.id).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let payment: Payment = answer.json();
    let path = format!("/v1/orders/{}", payment.provider_order_id);
    let read = shop
        .to_mercadopago(Method::GET, &path)
        .send()
        .await
        .unwrap();
    let read: serde_json::Value = read.json().await.unwrap();
    read["config"]["qr"]["external_pos_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_qr_is_made_on_the_kiosks_point_of_sale_else_its_stores_else_the_chains() {
    // Three orders of one guest await payment at once: no open-order limit.
    let shop = open_shop_without_limits().await;
    let day = serde_json::json!([["00:00", "24:00"]]);
    let week = serde_json::json!({"mon": day, "tue": day, "wed": day, "thu": day,
        "fri": day, "sat": day, "sun": day});
    let body = serde_json::json!({"name": "Praça", "timezone": "America/Sao_Paulo",
        "hours": week, "mercadopago_pos_id": "PRACA01"});
    let store: serde_json::Value = shop.post_as("/stores", &shop.admin, body).await.expect(201);
    assert_eq!(store["mercadopago_pos_id"], "PRACA01");
    let store = store["id"].as_str().unwrap().to_owned();
    // Mercado Pago takes letters and digits only: refused before any payment.
    for bad in [
        serde_json::json!("PRACA-01"),
        serde_json::json!(7),
        serde_json::json!(""),
    ] {
        let body = serde_json::json!({"name": "T", "store_id": store, "mercadopago_pos_id": bad});
        let answer = shop.post_as("/kiosks", &shop.admin, body).await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, Some("invalid_pos_id")),
            "{bad}"
        );
    }
    let body = serde_json::json!({"name": "Totem 2", "store_id": store,
        "mercadopago_pos_id": "PRACA01K2"});
    let own: serde_json::Value = shop.post_as("/kiosks", &shop.admin, body).await.expect(201);
    assert_eq!(own["mercadopago_pos_id"], "PRACA01K2");
    let guest_at = |kiosk: serde_json::Value| {
        let shop = &shop;
        async move {
            let id = kiosk["id"].as_str().unwrap();
            let secret = kiosk["secret"].as_str().unwrap();
            let kiosk = token_of(shop.kiosk_sign_in(id, secret).await);
            token_of(
                shop.post_as("/auth/guest", &kiosk, serde_json::Value::Null)
                    .await,
            )
        }
    };
    let own_guest = guest_at(own).await;
    let body = serde_json::json!({"name": "Totem 1", "store_id": store});
    let plain: serde_json::Value = shop.post_as("/kiosks", &shop.admin, body).await.expect(201);
    assert!(plain.get("mercadopago_pos_id").is_none());
    let plain_guest = guest_at(plain).await;

    let order = shop.placed_order(&own_guest).await;
    assert_eq!(
        order.mercadopago_pos_id.as_ref().unwrap().as_str(),
        "PRACA01K2"
    );
    assert_eq!(pos_of(&shop, &own_guest, &order).await, "PRACA01K2");
    let order = shop.placed_order(&plain_guest).await;
    assert_eq!(pos_of(&shop, &plain_guest, &order).await, "PRACA01");
    // The home store has none: the deployment's.
    let order = shop.placed_order(&shop.guest).await;
    assert_eq!(pos_of(&shop, &shop.guest, &order).await, "KIOSK001");

    // The store's own is the chain's to change: `null` removes it, and the
    // next checkout of its plain kiosk goes to the deployment's. An order
    // already placed keeps the point of sale it was placed on.
    let placed_before = shop.placed_order(&plain_guest).await;
    let request = shop.request(
        Method::PATCH,
        &format!("/stores/{store}"),
        Some(&shop.admin),
    );
    let answer = shop
        .send(request.json(&serde_json::json!({"mercadopago_pos_id": null})))
        .await;
    let patched: serde_json::Value = answer.expect(200);
    assert!(patched.get("mercadopago_pos_id").is_none(), "{patched}");
    let order = shop.placed_order(&plain_guest).await;
    assert_eq!(pos_of(&shop, &plain_guest, &order).await, "KIOSK001");
    assert_eq!(pos_of(&shop, &plain_guest, &placed_before).await, "PRACA01");
}
