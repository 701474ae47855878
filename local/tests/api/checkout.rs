//! Checkout over HTTP: orders priced from the menu (never from the client),
//! snapshots of the menu at checkout, the limits of a checkout body, and who
//! may check out.

use crate::helpers::{Shop, open_shop, statuses, sub_of};
use reqwest::Method;
use serde_json::{Value, json};
use shared::domain::money::Money;
use shared::domain::order::OrderStatus::AwaitingPayment;
use shared::domain::order::PaymentStatus::Pending;
use shared::domain::order::{Order, OrderLine};
use shared::domain::product::Product;
use shared::domain::{ProductId, Subject};

fn line(
    id: &str,
    name: &str,
    price: i64,
    quantity: u8,
    note: Option<&str>,
    subtotal: i64,
) -> OrderLine {
    OrderLine {
        product_id: ProductId::parse(id).unwrap(),
        name: name.to_owned(),
        unit_price_cents: Money::cents(price),
        kind: Default::default(),
        quantity,
        note: note.map(str::to_owned),
        subtotal_cents: Money::cents(subtotal),
        modifiers: Vec::new(),
        slots: Vec::new(),
    }
}

/// A new order of `token`'s: awaiting payment, numbered for the screen, stamped.
fn assert_new_order_of(order: &Order, token: &str) {
    assert_eq!(statuses(order), (AwaitingPayment, Pending));
    assert_eq!(
        order.number, None,
        "the ticket number comes with the payment: {order:?}"
    );
    assert_eq!(order.customer_id.to_string(), sub_of(token));
    assert!(matches!(order.customer_id, Subject::Guest(_)), "{order:?}");
    // The timestamps parsed as RFC 3339 (the typed Order says so): a new
    // order is stamped now, and not yet updated.
    let age = time::OffsetDateTime::now_utc() - order.created_at;
    assert!(
        age < time::Duration::minutes(1) && age > -time::Duration::minutes(1),
        "{order:?}"
    );
    assert_eq!(order.updated_at, order.created_at);
}

#[tokio::test]
async fn checkout_totals_are_computed_from_the_menu_and_kept_when_the_menu_changes() {
    // Arrange
    let shop = open_shop().await;
    let (admin, burger, guest) = (&shop.admin, &shop.burger, &shop.guest);
    let soda = shop.create_product(admin, "Coca-Cola", "drink", 650).await;
    let items = json!([
        {"product_id": burger, "quantity": 2, "note": "sem cebola"},
        {"product_id": soda, "quantity": 3}
    ]);

    // Act
    let created = shop.checkout(guest, items).await;

    // Assert (every key is there: the contract check of `send` requires them all)
    let order: Order = created.expect(201);
    let burgers = line(burger, "X-Burger", 2490, 2, Some("sem cebola"), 4980);
    let sodas = line(&soda, "Coca-Cola", 650, 3, None, 1950);
    assert_eq!(order.items, [burgers, sodas]);
    assert_eq!(order.total_cents, Money::cents(6930));
    assert_new_order_of(&order, guest);
    assert_eq!(shop.get_order(guest, &order.id).await.body, created.body);

    // The menu changes: the order keeps the names and prices it was placed with.
    let dearer = json!({"name": "X-Burger Duplo", "category": "sandwich", "price_cents": 9990});
    let updated = shop.put_product(admin, burger, dearer).await;
    updated.expect::<Product>(200);
    assert_eq!(shop.delete_product(admin, &soda).await.status, 204);
    let after = shop.get_order(guest, &order.id).await;
    let snapshot = (after.status, &after.body);
    assert_eq!(
        snapshot,
        (200, &created.body),
        "the order is a snapshot of the menu"
    );

    // A new order reads the new price.
    let later = shop.place(guest, shop.burgers(1)).await;
    let first = &later.items[0];
    assert_eq!(first.name, "X-Burger Duplo");
    assert_eq!(
        (first.unit_price_cents, later.total_cents),
        (Money::cents(9990), Money::cents(9990))
    );
}

/// A line of one X-Burger, with the `extra` fields.
fn burger_line(shop: &Shop, extra: Value) -> Value {
    let mut line = json!({"product_id": shop.burger, "quantity": 1});
    for (key, value) in extra.as_object().unwrap() {
        line[key] = value.clone();
    }
    line
}

#[tokio::test]
async fn a_price_sent_by_the_client_and_every_other_malformed_body_is_400_invalid_body() {
    // Arrange
    let shop = open_shop().await;
    let guest = &shop.guest;
    let line = |extra: Value| burger_line(&shop, extra);
    let lines = |n: usize| Value::Array((0..n).map(|_| line(json!({}))).collect());
    let to_go = |mut body: Value| {
        body["fulfillment"] = json!("takeout");
        body
    };
    let mut refused: Vec<Value> = [
        json!({"items": [line(json!({"unit_price_cents": 1}))]}),
        json!({"items": [line(json!({"price_cents": 1}))]}),
        json!({"items": [line(json!({}))], "total_cents": 1}),
        json!({"items": [line(json!({}))], "coupon": "FREE"}),
        json!({}),
        json!({"items": []}),
        json!({"items": [line(json!({"quantity": 0}))]}),
        json!({"items": [line(json!({"quantity": 21}))]}),
        json!({"items": lines(51)}),
        json!({"items": [line(json!({"note": "n".repeat(141)}))]}),
    ]
    .into_iter()
    .map(to_go)
    .collect();
    // At most 98 different products, combos' items included (refused
    // before anything is read): 50 combos of one slot name 100.
    let combos: Vec<Value> = (0..50)
        .map(|i| {
            json!({"product_id": format!("combo-{i}"), "quantity": 1,
                "slots": [{"slot_id": "s", "product_id": format!("item-{i}")}]})
        })
        .collect();
    refused.push(json!({"items": combos, "fulfillment": "dine_in"}));
    // Eat here or take away is required, and only those two.
    refused.push(json!({"items": [line(json!({}))]}));
    refused.push(json!({"items": [line(json!({}))], "fulfillment": "delivery"}));
    refused.push(json!({"items": [line(json!({}))], "fulfillment": null}));

    // Act, Assert
    for body in refused {
        let answer = shop.post_as("/orders", guest, body).await;
        answer.expect_error(400, "invalid_body");
    }
    let not_json = shop.post_raw_as("/orders", guest, "{nope").await;
    not_json.expect_error(400, "invalid_body");
    let listed = shop.my_orders(guest).await;
    assert!(listed.is_empty(), "no refused checkout created an order");

    // The limits themselves are accepted.
    let at_limits = json!([line(json!({"quantity": 20, "note": "n".repeat(140)}))]);
    let at_limits = shop.place(guest, at_limits).await;
    assert_eq!(at_limits.total_cents, Money::cents(20 * 2490));
    let fifty = shop.place(guest, lines(50)).await;
    assert_eq!(fifty.total_cents, Money::cents(50 * 2490), "50 lines");
}

#[tokio::test]
async fn a_deleted_or_unknown_product_is_422_product_unavailable_and_creates_nothing() {
    // Arrange
    let shop = open_shop().await;
    let (admin, burger) = (&shop.admin, &shop.burger);
    let gone = shop
        .create_product(admin, "X-Bacon", "sandwich", 2790)
        .await;
    assert_eq!(shop.delete_product(admin, &gone).await.status, 204);
    let guest = &shop.guest;
    let unknown = uuid::Uuid::new_v4().to_string();

    // Act, Assert
    for items in [
        json!([{"product_id": gone, "quantity": 1}]),
        json!([{"product_id": unknown, "quantity": 1}]),
        json!([{"product_id": burger, "quantity": 1}, {"product_id": gone, "quantity": 1}]),
        json!([{"product_id": burger, "quantity": 1}, {"product_id": unknown, "quantity": 2}]),
    ] {
        let answer = shop.checkout(guest, items).await;
        answer.expect_error(422, "product_unavailable");
    }
    let listed = shop.my_orders(guest).await;
    assert!(listed.is_empty(), "no order was created");
}

#[tokio::test]
async fn a_sold_out_product_is_422_product_unavailable_until_it_is_back_in_stock() {
    // Arrange
    let shop = open_shop().await;
    let (admin, kitchen, burger, guest) = (&shop.admin, &shop.kitchen, &shop.burger, &shop.guest);
    let soda = shop.create_product(admin, "Coca-Cola", "drink", 650).await;
    shop.set_available(kitchen, burger, false).await;
    let with_soda =
        json!([{"product_id": soda, "quantity": 1}, {"product_id": burger, "quantity": 1}]);

    // Act, Assert: refused, alone or beside an available product, keyed or not
    for items in [shop.burgers(1), with_soda.clone()] {
        let answer = shop.checkout(guest, items).await;
        answer.expect_error(422, "product_unavailable");
    }
    let keyed = shop.checkout_with_key(guest, "kiosk-07-0001", with_soda.clone());
    keyed.await.expect_error(422, "product_unavailable");
    let listed = shop.my_orders(guest).await;
    assert!(listed.is_empty(), "no order was written");
    let soda_only = shop.place(guest, json!([{"product_id": soda, "quantity": 1}]));
    assert_eq!(
        soda_only.await.total_cents,
        Money::cents(650),
        "the rest sells"
    );

    // Back in stock: the same checkout (and the refused key) now places the order.
    shop.set_available(kitchen, burger, true).await;
    let keyed = shop
        .checkout_with_key(guest, "kiosk-07-0001", with_soda)
        .await;
    let order: Order = keyed.expect(201);
    assert_eq!(order.total_cents, Money::cents(650 + 2490));
    assert_new_order_of(&order, guest);
    assert_eq!(shop.my_orders(guest).await.len(), 2);
}

#[tokio::test]
async fn only_guests_and_customers_check_out() {
    // Arrange
    let shop = open_shop().await;
    let items = shop.burgers(1);

    // Act, Assert
    for staff in [&shop.kitchen, &shop.admin] {
        let answer = shop.checkout(staff, items.clone()).await;
        answer.expect_error(403, "forbidden");
    }
    let anonymous = shop.request(Method::POST, "/orders", None);
    let anonymous = shop
        .send(anonymous.json(&crate::helpers::order_body(items.clone())))
        .await;
    assert_eq!(anonymous.status, 401);
    shop.signed_up("111.444.777-35", "Bia").await;
    let customer = shop.customer_token("11144477735").await;
    shop.place(&customer, items).await;
}
