//! A hung or dead dependency is a fast 503 `service_unavailable`, never a hang
//! or a 500, and the stack works again once it is back (the bounds of
//! `shared::config::sdk_bounds`). Each test pauses or kills a moto server of its
//! own, so no other test is hurt.

use crate::helpers::{Answer, OwnEmulator, spawn_app_failing, stock, timed};
use shared::domain::order::Order;
use std::time::Duration;

/// Within this, a request whose dependency is gone must have its answer.
const BOUND: Duration = Duration::from_secs(5);

#[track_caller]
fn expect_fast_503((answer, elapsed): &(Answer, Duration)) {
    answer.expect_error(503, "service_unavailable");
    assert!(*elapsed < BOUND, "answered after {elapsed:?}");
    eprintln!("503 after {elapsed:?}");
}

#[tokio::test]
async fn with_the_emulator_paused_every_route_family_answers_503_within_5_s_then_recovers() {
    let emulator = OwnEmulator::start().await;
    let shop = stock(emulator.spawn_app().await).await;
    let cpf = "529.982.247-25";
    shop.signed_up(cpf, "Ana").await;

    emulator.pause();
    let (sign_in, menu, checkout, orders) = tokio::join!(
        timed(shop.auth(cpf)),
        timed(shop.list_products(&shop.guest, "")),
        timed(shop.checkout(&shop.guest, shop.burgers(1))),
        timed(shop.list_orders(&shop.guest, "")),
    );
    emulator.resume();

    for answer in [&sign_in, &menu, &checkout, &orders] {
        expect_fast_503(answer);
    }
    let customer = shop.customer_token(cpf).await;
    let order = shop.placed_order(&customer).await;
    assert_eq!(shop.my_orders(&customer).await, [order.id]);
}

#[tokio::test]
async fn with_the_emulator_killed_mid_flow_sign_in_the_authorizer_and_the_webhook_answer_503() {
    let mut emulator = OwnEmulator::start().await;
    let app = emulator.spawn_app().await;
    let cpf = "529.982.247-25";
    app.signed_up(cpf, "Ana").await;
    // The authenticate function has its key now; the webhook has not
    // fetched its secret yet.
    let guest = app.guest_token().await;

    emulator.kill().await;
    let secret = app.webhook_secret();
    let answers = tokio::join!(
        timed(app.auth(cpf)),
        timed(app.list_orders(&guest, "")),
        timed(app.notify("ORD01JQ4S4KY8HWQ6NA5PXB65B3D3", Some(&secret))),
    );

    expect_fast_503(&answers.0);
    expect_fast_503(&answers.1);
    expect_fast_503(&answers.2);
}

#[tokio::test]
async fn a_keyed_checkout_cut_off_in_its_transaction_is_placed_exactly_once_by_the_retry() {
    let emulator = OwnEmulator::start().await;
    let (app, tripwire) = emulator.spawn_app_with_tripwire("TransactWriteItems").await;
    let shop = stock(app).await;
    let guest = &shop.guest;

    tripwire.arm();
    let cut_off = timed(shop.checkout_with_key(guest, "kiosk-7-cart-1", shop.burgers(2))).await;
    emulator.resume();
    let retry = shop
        .checkout_with_key(guest, "kiosk-7-cart-1", shop.burgers(2))
        .await;
    let again = shop
        .checkout_with_key(guest, "kiosk-7-cart-1", shop.burgers(2))
        .await;

    expect_fast_503(&cut_off);
    assert!(matches!(retry.status, 200 | 201), "{}", retry.body);
    let placed: Order = retry.json();
    assert_eq!(again.expect::<Order>(200).id, placed.id);
    assert_eq!(shop.my_orders(guest).await, [placed.id]);
}

#[tokio::test]
async fn a_dependency_answering_500_with_an_html_page_is_503_not_500() {
    let shop = stock(spawn_app_failing("Query").await).await;

    let menu = timed(shop.list_products(&shop.guest, "")).await;
    let orders = timed(shop.list_orders(&shop.kitchen, "")).await;

    expect_fast_503(&menu);
    expect_fast_503(&orders);
}
