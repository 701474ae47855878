//! Retries, leftovers and hostile sizes: what a careful client or a crash
//! leaves behind must not break the contract.

use crate::helpers::{ListedCustomer, OwnEmulator, Page, open_shop, spawn_app, stock};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;
use shared::domain::order::Order;

#[tokio::test]
async fn a_signup_cut_short_before_the_group_is_completed_by_the_retry() {
    let app = spawn_app().await;
    // What a crash between AdminCreateUser and AdminAddUserToGroup leaves.
    aws_sdk_cognitoidentityprovider::Client::new(&app.sdk)
        .admin_create_user()
        .user_pool_id(app.stack.user_pool_id().unwrap())
        .username("cpf:52998224725")
        .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    let admin = app.admin_token().await;
    let before: Page<ListedCustomer> = app.list_customers(&admin, "").await.json();
    assert!(before.items.is_empty());

    let retry = app.sign_up("529.982.247-25", "Ana").await;

    retry.expect_error(409, "customer_exists");
    let listed: Page<ListedCustomer> = app.list_customers(&admin, "").await.json();
    assert_eq!(
        listed.items[0].cpf, "***.982.247-**",
        "the customer is in its group now"
    );
}

#[tokio::test]
async fn an_expired_idempotency_record_no_longer_binds_its_key() {
    let shop = open_shop().await;
    let guest = &shop.guest;
    let sub = shop.claims_of(guest).await.sub;
    // A record whose day has passed, not yet removed by the table's TTL.
    let a_minute_ago = time::OffsetDateTime::now_utc().unix_timestamp() - 60;
    aws_sdk_dynamodb::Client::new(&shop.sdk)
        .put_item()
        .table_name(shop.stack.get("OrdersTable").unwrap())
        .item("id", AttributeValue::S(format!("idem#{sub}#old-key")))
        .item("order_id", AttributeValue::S("an-order-long-gone".into()))
        .item("request_hash", AttributeValue::S("another-body".into()))
        .item("expires_at", AttributeValue::N(a_minute_ago.to_string()))
        .send()
        .await
        .unwrap();

    let created = shop
        .checkout_with_key(guest, "old-key", shop.burgers(1))
        .await;
    let again = shop
        .checkout_with_key(guest, "old-key", shop.burgers(1))
        .await;

    let created: Order = created.expect(201);
    let again: Order = again.expect(200);
    assert_eq!(again.id, created.id, "the key is bound to the new order");
}

#[tokio::test]
async fn ids_too_long_to_be_keys_are_404_not_500() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let long = "a".repeat(3000);

    let order = app.get_order(&admin, &long).await;
    let product = app.get_product(&admin, &long).await;
    let moved = app.move_order(&admin, &long, "in_preparation").await;

    order.expect_error(404, "order_not_found");
    product.expect_error(404, "product_not_found");
    assert_eq!(moved.status, 404);
}

#[tokio::test]
async fn a_cpf_sent_as_a_number_is_refused_without_echoing_it() {
    let app = spawn_app().await;

    let kiosk = app.kiosk_token().await;
    let answer = app
        .post_as("/auth", &kiosk, json!({"cpf": 52998224725u64}))
        .await;

    assert_eq!(answer.status, 400);
    assert!(
        !answer.body.to_string().contains("52998224725"),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn the_kitchen_queue_walks_every_order_once_when_pages_hit_dynamodbs_1_mb_cap() {
    use shared::domain::order::{Actor, Checkout, CheckoutBody, CheckoutLine, OrderStatus};
    use shared::service::checkout::{Placed, place_order};
    use shared::service::ports::{OrderMoves, PaymentStore, Reach};
    use shared::store::orders::{Checkouts, OpenOrderLimits, OrderStore};

    // 71 orders of about 16 KB (50 lines with long notes): more than the
    // 1 MB DynamoDB reads per Query page, whatever the limit asks. Written
    // and read through the order store's own code, with no bound on a call:
    // moto takes about 4 s to cut a 1 MB page on a 2-core machine, more than
    // the functions' 3.5 s bound on a DynamoDB call (which would answer 503,
    // as it must for a dependency that slow).
    let emulator = OwnEmulator::start().await;
    let shop = stock(emulator.spawn_app().await).await;
    let long_name = "X".repeat(80);
    let product = shop
        .create_product(&shop.admin, &long_name, "sandwich", 2490)
        .await;
    let patient = aws_config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(std::time::Duration::from_secs(60))
        .operation_timeout(std::time::Duration::from_secs(60))
        .build();
    let sdk = shop.sdk.to_builder().timeout_config(patient).build();
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = |name: &str| shop.stack.get(name).unwrap().to_owned();
    let orders = OrderStore::new(client.clone(), table("OrdersTable"));
    let checkouts = Checkouts::new(
        orders.clone(),
        shared::store::products::ProductStore::new(client.clone(), table("ProductsTable")),
        shared::store::stores::StoreStore::new(client, table("StoresTable")),
    )
    .with_open_order_limits(OpenOrderLimits {
        per_owner: 0,
        per_kiosk: 0,
    });
    let store = shared::domain::StoreId::parse(&shop.home_store().await).unwrap();
    let at = shared::domain::token::Scope::kiosk(
        store.clone(),
        shared::domain::KioskId::parse("0c3d2e1f").unwrap(),
    );
    let lines: Vec<CheckoutLine> = (0..50)
        .map(|_| CheckoutLine {
            product_id: product.clone(),
            quantity: 1,
            note: Some("n".repeat(140)),
            modifiers: Vec::new(),
            slots: Vec::new(),
        })
        .collect();
    let checkout = Checkout::try_from(CheckoutBody {
        items: lines,
        fulfillment: Some("takeout".into()),
    })
    .unwrap();
    let guest = shared::domain::Subject::new_guest();
    let mut expected = Vec::new();
    for i in 0..71 {
        let Placed::New(order) = place_order(&checkouts, &guest, &at, &checkout, None)
            .await
            .unwrap()
        else {
            panic!("a new order")
        };
        let paid_by = shared::domain::ProviderOrderId::parse(&format!("ORD{i:04}")).unwrap();
        orders.confirm_paid(&order, &paid_by, None).await.unwrap();
        // All but the last go on to in_preparation; the last stays received.
        if i < 70 {
            let moved = orders
                .move_status(
                    &order.id,
                    Actor::Kitchen,
                    OrderStatus::InPreparation,
                    Reach::Store(&store),
                )
                .await
                .unwrap();
            assert_eq!(moved.status, OrderStatus::InPreparation);
        }
        expected.push(order.id.to_string());
    }

    let (mut seen, mut after, mut pages) = (Vec::new(), None, 0);
    loop {
        let (page, next) = orders
            .kitchen_queue(&store, None, 100, after)
            .await
            .unwrap();
        pages += 1;
        seen.extend(page.into_iter().map(|o| o.id.to_string()));
        match next {
            Some(next) => after = Some(next),
            None => break,
        }
    }

    assert!(pages >= 2, "DynamoDB's 1 MB cap cut the pages: {pages}");
    assert_eq!(
        seen, expected,
        "in_preparation oldest paid first, then the received one; none skipped or repeated"
    );
}
