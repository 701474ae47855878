//! A chain at once: three stores check out and pay at the same time through
//! the local API. Each store's tickets, kitchen queue and board hold its own
//! orders only, and nothing is lost or duplicated. The emulator is the
//! bottleneck here (it fails some requests under concurrency, answered 503
//! and retried as a kiosk would, with the same `Idempotency-Key`), so the
//! test records counts, never speeds.

use crate::helpers::{Answer, Shop, spawn_app_with_isolated_writes, stock, token_of};
use serde_json::Value;
use shared::domain::OrderId;
use shared::domain::order::{Order, OrderStatus, Payment};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const ORDERS_PER_STORE: usize = 4;
/// How many times a request answered 503 is sent again.
const RETRIES: usize = 8;

/// `send()` again while it answers 503 (a busy dependency; nothing was
/// changed, or the retry finds what was), counting the retries.
async fn retried<F, Fut>(retries: &AtomicUsize, send: F) -> Answer
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Answer>,
{
    let mut answer = send().await;
    for _ in 0..RETRIES {
        if answer.status != 503 {
            break;
        }
        retries.fetch_add(1, Ordering::Relaxed);
        answer = send().await;
    }
    answer
}

/// A store of the chain: its id, the guests at its kiosk (one per order, so
/// that the open-order limits do not bind) and its kitchen's token.
struct Store {
    id: String,
    guests: Vec<String>,
    kitchen: String,
}

async fn store(shop: &Shop, n: usize) -> Store {
    let (id, kitchen) = if n == 0 {
        (shop.home_store().await, shop.kitchen.clone())
    } else {
        let id = shop.other_store().await;
        let username = format!("kitchen-{n}");
        shop.staff_member(&username, "kitchen", Some(&id)).await;
        let kitchen = token_of(shop.staff_sign_in(&username, "StaffTest12345").await);
        (id, kitchen)
    };
    let (kiosk, secret) = shop.enrol_kiosk_at(&format!("Totem {n}"), &id).await;
    let kiosk = token_of(shop.kiosk_sign_in(&kiosk, &secret).await);
    let mut guests = Vec::new();
    for _ in 0..ORDERS_PER_STORE {
        guests.push(token_of(
            shop.post_as("/auth/guest", &kiosk, Value::Null).await,
        ));
    }
    Store {
        id,
        guests,
        kitchen,
    }
}

/// One guest's whole purchase: checkout (keyed), the QR, the customer pays
/// at Mercado Pago's stand-in (which notifies us), and the guest's own read
/// of the order, which settles it should the notification have failed.
async fn purchase(shop: &Shop, guest: &str, key: String, retries: &AtomicUsize) -> Order {
    let placed = retried(retries, || {
        shop.checkout_with_key(guest, &key, shop.burgers(1))
    })
    .await;
    assert!(matches!(placed.status, 200 | 201), "{}", placed.body);
    let order: Order = placed.json();
    let paying = retried(retries, || shop.request_payment(guest, &order.id)).await;
    assert!(matches!(paying.status, 200 | 201), "{}", paying.body);
    let payment: Payment = paying.json();
    shop.simulate(payment.provider_order_id.as_str(), "pay", true)
        .await;
    let mut read = Order::clone(&order);
    for _ in 0..RETRIES {
        let answer = retried(retries, || shop.get_order(guest, &order.id)).await;
        read = answer.expect(200);
        if read.status != OrderStatus::AwaitingPayment {
            break;
        }
    }
    assert_eq!(read.status, OrderStatus::Received, "{read:?}");
    read
}

#[tokio::test]
async fn three_stores_check_out_and_pay_at_once_and_each_keeps_its_own() {
    // Arrange: three stores, a kiosk, guests and a kitchen in each.
    // DynamoDB's writes are isolated, the emulator's are not: they go
    // through the serialising proxy (its reads still fail under load).
    let shop = Arc::new(stock(spawn_app_with_isolated_writes(&[]).await).await);
    let mut stores = Vec::new();
    for n in 0..3 {
        stores.push(store(&shop, n).await);
    }
    let retries = Arc::new(AtomicUsize::new(0));

    // Act: every guest of every store buys at once.
    let mut purchases = tokio::task::JoinSet::new();
    for (s, store) in stores.iter().enumerate() {
        for (g, guest) in store.guests.iter().enumerate() {
            let (shop, retries, guest) = (shop.clone(), retries.clone(), guest.clone());
            purchases.spawn(async move {
                let key = format!("chain-{s}-{g}");
                (s, purchase(&shop, &guest, key, &retries).await)
            });
        }
    }
    let orders = purchases.join_all().await;

    // Assert: nothing lost, nothing duplicated, each store its own.
    let ids: BTreeSet<&OrderId> = orders.iter().map(|(_, o)| &o.id).collect();
    assert_eq!(ids.len(), 3 * ORDERS_PER_STORE, "one order per purchase");
    for (s, store) in stores.iter().enumerate() {
        let own: Vec<&Order> = orders
            .iter()
            .filter(|(o, _)| *o == s)
            .map(|(_, o)| o)
            .collect();
        for order in &own {
            assert_eq!(
                order.store_id.as_ref().map(|i| i.as_str()),
                Some(store.id.as_str())
            );
        }
        let own_ids: BTreeSet<OrderId> = own.iter().map(|o| o.id.clone()).collect();
        let mut tickets: Vec<u16> = own.iter().filter_map(|o| o.number).collect();
        tickets.sort_unstable();
        let expected: Vec<u16> = (1..=ORDERS_PER_STORE as u16).collect();
        assert_eq!(tickets, expected, "store {s}: its own tickets, each once");

        let queue: BTreeSet<OrderId> = shop
            .walk_orders(&store.kitchen, "")
            .await
            .into_iter()
            .collect();
        assert_eq!(queue, own_ids, "store {s}: its kitchen queue");
        let by_admin = format!("store_id={}", store.id);
        let listed: BTreeSet<OrderId> = shop
            .walk_orders(&shop.admin, &by_admin)
            .await
            .into_iter()
            .collect();
        assert_eq!(listed, own_ids, "store {s}: the admin's list of it");
        let path = format!("/stores/{}/board", store.id);
        let board: Value = shop
            .send(shop.request(reqwest::Method::GET, &path, None))
            .await
            .expect(200);
        let mut board_tickets: Vec<u16> = board["preparing"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| u16::try_from(n.as_u64().unwrap()).unwrap())
            .collect();
        board_tickets.sort_unstable();
        assert_eq!(board_tickets, expected, "store {s}: its board");
        for guest in &store.guests {
            assert_eq!(
                shop.my_orders(guest).await.len(),
                1,
                "store {s}: one order a guest"
            );
        }
    }
    // The counts of the run (not its speed: the emulator is the bottleneck).
    eprintln!(
        "three stores at once: {} orders placed and paid, {} requests answered 503 and retried",
        ids.len(),
        retries.load(Ordering::Relaxed)
    );
}
