//! Bounded intake: a session holds at most `OPEN_ORDERS_PER_CUSTOMER` (2)
//! orders awaiting payment and a kiosk's sessions `OPEN_ORDERS_PER_KIOSK` (10)
//! together; past that 429 `too_many_open_orders`. Paying, cancelling or the
//! expiry of an order frees its place. Concurrent checkouts never pass a limit.

use crate::helpers::{
    Answer, PAST_DEADLINE, TestApp, open_shop, spawn_app_with_isolated_writes, stock, token_of,
};
use reqwest::Method;
use serde_json::Value;
use shared::domain::order::{Order, OrderStatus, PaymentStatus};

/// A guest session at the kiosk `kiosk_token` signed in.
async fn guest_at(app: &TestApp, kiosk_token: &str) -> String {
    token_of(app.post_as("/auth/guest", kiosk_token, Value::Null).await)
}

/// Whose limit a refusal names ("session" or "kiosk").
fn refused_for(answer: &Answer, whose: &str) {
    answer.expect_error(429, "too_many_open_orders");
    let message = answer.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(whose), "{message}");
}

#[tokio::test]
async fn a_session_holds_two_unpaid_orders_and_paying_cancelling_or_expiry_frees_a_place() {
    let shop = open_shop().await;
    let guest = &shop.guest;
    let first = shop.place(guest, shop.burgers(1)).await;
    let second = shop.place(guest, shop.burgers(1)).await;

    // A third is refused, and refused without a write: the session still
    // has exactly its two orders.
    refused_for(&shop.checkout(guest, shop.burgers(1)).await, "session");
    assert_eq!(shop.my_orders(guest).await.len(), 2);
    // Another session at the same kiosk is not held back.
    let other = shop.guest_token().await;
    shop.place(&other, shop.burgers(1)).await;

    // Paying one frees its place.
    shop.pay_approved(&first.id).await;
    let third = shop.place(guest, shop.burgers(1)).await;
    refused_for(&shop.checkout(guest, shop.burgers(1)).await, "session");

    // Cancelling one frees its place.
    shop.moved(guest, &second.id, "cancelled").await;
    let fourth = shop.place(guest, shop.burgers(1)).await;
    refused_for(&shop.checkout(guest, shop.burgers(1)).await, "session");

    // The expiry job's expiring them frees both.
    shop.run_expiry_after(PAST_DEADLINE).await;
    for id in [&third.id, &fourth.id] {
        let expired = (OrderStatus::Cancelled, PaymentStatus::Expired);
        assert_eq!(shop.statuses_of(id).await, expired);
    }
    shop.place(guest, shop.burgers(1)).await;
    shop.place(guest, shop.burgers(1)).await;
    refused_for(&shop.checkout(guest, shop.burgers(1)).await, "session");
}

#[tokio::test]
async fn a_kiosk_holds_its_limit_of_unpaid_orders_across_sessions_and_another_kiosk_does_not_count()
{
    let app = spawn_app_with_isolated_writes(&[("OpenOrdersPerKiosk", "3")]).await;
    let shop = stock(app).await;
    let kiosk = shop.kiosk_token().await;
    let (kiosk_id, _) = shop.kiosk.get().unwrap().clone();
    let mut placed = Vec::new();
    for _ in 0..3 {
        let guest = guest_at(&shop, &kiosk).await;
        placed.push(shop.place(&guest, shop.burgers(1)).await);
    }
    for order in &placed {
        assert_eq!(
            order.kiosk_id.as_ref().map(|k| k.to_string()),
            Some(kiosk_id.clone())
        );
    }

    // A fourth session at this kiosk: refused for the kiosk.
    let fourth = guest_at(&shop, &kiosk).await;
    refused_for(&shop.checkout(&fourth, shop.burgers(1)).await, "kiosk");
    // A guest at another kiosk orders.
    let (_, elsewhere) = shop.new_kiosk("Totem 2").await;
    let away = guest_at(&shop, &elsewhere).await;
    shop.place(&away, shop.burgers(1)).await;

    // One order paid frees a place at the kiosk.
    shop.pay_approved(&placed[0].id).await;
    shop.place(&fourth, shop.burgers(1)).await;
    let fifth = guest_at(&shop, &kiosk).await;
    refused_for(&shop.checkout(&fifth, shop.burgers(1)).await, "kiosk");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_checkouts_yield_exactly_the_allowed_number() {
    // DynamoDB's writes are isolated; moto's are made so by the proxy.
    let app = spawn_app_with_isolated_writes(&[("KioskSigninsPerMinute", "100")]).await;
    let shop = stock(app).await;
    let body = crate::helpers::order_body(shop.burgers(1));

    // One session, twenty checkouts at once: two orders.
    let request = shop
        .request(Method::POST, "/orders", Some(&shop.guest))
        .json(&body);
    let answers = shop.send_concurrently(20, request).await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        2,
        "{statuses:?}"
    );
    for refused in answers.iter().filter(|a| a.status != 201) {
        refused.expect_error(429, "too_many_open_orders");
    }
    assert_eq!(shop.my_orders(&shop.guest).await.len(), 2);

    // Twenty sessions of one kiosk at once, with those two open: eight more.
    let kiosk = shop.kiosk_token().await;
    let mut guests = Vec::new();
    for _ in 0..20 {
        guests.push(guest_at(&shop, &kiosk).await);
    }
    let requests = guests
        .iter()
        .map(|guest| {
            shop.request(Method::POST, "/orders", Some(guest))
                .json(&body)
        })
        .collect();
    let answers = shop.send_all_at_once(requests).await;
    let placed: Vec<&Answer> = answers.iter().filter(|a| a.status == 201).collect();
    assert_eq!(
        placed.len(),
        8,
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    for refused in answers.iter().filter(|a| a.status != 201) {
        refused_for(refused, "kiosk");
    }
    let mut owners = Vec::new();
    for guest in &guests {
        owners.extend(shop.my_orders(guest).await);
    }
    let ids: Vec<_> = placed.iter().map(|a| a.json::<Order>().id).collect();
    assert_eq!(owners.len(), 8, "exactly the orders answered 201 exist");
    for id in ids {
        assert!(owners.contains(&id), "{id} answered 201 but is not stored");
    }
}
