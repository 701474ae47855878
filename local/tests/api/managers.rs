//! A store's manager: its store's hours and pause, kiosks and staff
//! sessions, and nothing of another store's (404); staff belong to a store
//! through `custom:store_id`, carried as `store_id` in their tokens.

use crate::helpers::{TestApp, open_shop, token_of};
use reqwest::Method;
use serde_json::{Value, json};

fn week(day: Value) -> Value {
    json!({"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day})
}

impl TestApp {
    /// Another store, opened by the admin: its id.
    pub(crate) async fn other_store(&self) -> String {
        let admin = self.admin_token().await;
        let body = json!({"name": "Shopping", "timezone": "America/Sao_Paulo",
            "hours": week(json!([["00:00", "24:00"]]))});
        let store: Value = self.post_as("/stores", &admin, body).await.expect(201);
        store["id"].as_str().unwrap().to_owned()
    }

    /// A staff user in `group`, with a password, bound to `store` (or to none).
    pub(crate) async fn staff_member(&self, username: &str, group: &str, store: Option<&str>) {
        let cognito = aws_sdk_cognitoidentityprovider::Client::new(&self.sdk);
        let pool = self.stack.user_pool_id().unwrap();
        cognito
            .admin_create_user()
            .user_pool_id(pool)
            .username(username)
            .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
            .send()
            .await
            .unwrap();
        cognito
            .admin_set_user_password()
            .user_pool_id(pool)
            .username(username)
            .password("StaffTest12345")
            .permanent(true)
            .send()
            .await
            .unwrap();
        cognito
            .admin_add_user_to_group()
            .user_pool_id(pool)
            .username(username)
            .group_name(group)
            .send()
            .await
            .unwrap();
        if let Some(store) = store {
            let store = shared::domain::StoreId::parse(store).unwrap();
            kiosk_local::assign_store(&self.sdk, &self.stack, username, &store)
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn staff_tokens_carry_their_store_and_staff_of_no_store_get_none() {
    let shop = open_shop().await;
    let home = shop.home_store().await;
    for token in [shop.manager_token().await, shop.kitchen.clone()] {
        let claims = shop.claims_of(&token).await;
        assert_eq!(
            claims.store_id.as_deref(),
            Some(home.as_str()),
            "{:?}",
            claims.role
        );
        assert_eq!(claims.kiosk_id, None);
    }
    assert_eq!(
        shop.claims_of(&shop.admin).await.store_id,
        None,
        "the chain's"
    );

    shop.staff_member("kitchen-nowhere", "kitchen", None).await;
    shop.staff_sign_in("kitchen-nowhere", "StaffTest12345")
        .await
        .expect_error(403, "not_staff");
    // A refresh after the store was taken away ends the session.
    let other = shop.other_store().await;
    shop.staff_member("kitchen-moving", "kitchen", Some(&other))
        .await;
    let signed_in: crate::helpers::StaffTokens = shop
        .staff_sign_in("kitchen-moving", "StaffTest12345")
        .await
        .expect(200);
    assert_eq!(
        shop.claims_of(&signed_in.access_token)
            .await
            .store_id
            .as_deref(),
        Some(other.as_str())
    );
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&shop.sdk);
    cognito
        .admin_delete_user_attributes()
        .user_pool_id(shop.stack.user_pool_id().unwrap())
        .username("kitchen-moving")
        .user_attribute_names("custom:store_id")
        .send()
        .await
        .unwrap();
    shop.refresh(&signed_in.refresh_token)
        .await
        .expect_error(401, "invalid_refresh_token");
}

#[tokio::test]
async fn a_manager_runs_its_own_store_and_sees_nothing_of_another() {
    let shop = open_shop().await;
    let home = shop.home_store().await;
    let other = shop.other_store().await;
    let manager = shop.manager_token().await;

    // Hours and pause of its own store; never its name or timezone, nor
    // anything of another store.
    let paused: Value = shop
        .patch_store(&manager, &home, json!({"paused": true}))
        .await
        .expect(200);
    assert_eq!(paused["paused"], true);
    shop.patch_store(
        &manager,
        &home,
        json!({"paused": false, "hours": week(json!([["00:00", "24:00"]]))}),
    )
    .await
    .expect::<Value>(200);
    shop.patch_store(&manager, &home, json!({"name": "Sé"}))
        .await
        .expect_error(403, "forbidden");
    shop.patch_store(&manager, &home, json!({"timezone": "America/Manaus"}))
        .await
        .expect_error(403, "forbidden");
    shop.patch_store(&manager, &other, json!({"paused": true}))
        .await
        .expect_error(404, "store_not_found");
    let untouched: Value = shop.get_store(&other).await.expect(200);
    assert_eq!(untouched["paused"], false);
    shop.patch_store(&shop.kitchen, &home, json!({"paused": true}))
        .await
        .expect_error(403, "forbidden");

    // Kiosks: its own store's, enrolled, listed and revoked.
    let enrol = |store: &str| json!({"name": "Totem M", "store_id": store});
    let mine: Value = shop
        .post_as("/kiosks", &manager, enrol(&home))
        .await
        .expect(201);
    shop.post_as("/kiosks", &manager, enrol(&other))
        .await
        .expect_error(404, "store_not_found");
    // Where a kiosk's payments go is the chain's to say.
    let with_pos = json!({"name": "Totem P", "store_id": home, "mercadopago_pos_id": "MINE01"});
    shop.post_as("/kiosks", &manager, with_pos)
        .await
        .expect_error(403, "forbidden");
    let (theirs, _) = shop.enrol_kiosk_at("Totem S", &other).await;
    let listed: Value = shop.get_as("/kiosks", &manager).await.expect(200);
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&mine["id"].as_str().unwrap()) && !ids.contains(&theirs.as_str()),
        "{ids:?}"
    );
    shop.get_as(&format!("/kiosks?store_id={other}"), &manager)
        .await
        .expect_error(403, "forbidden");
    let revoke = |id: &str| shop.request(Method::DELETE, &format!("/kiosks/{id}"), Some(&manager));
    shop.send(revoke(&theirs))
        .await
        .expect_error(404, "kiosk_not_found");
    assert_eq!(
        shop.send(revoke(mine["id"].as_str().unwrap())).await.status,
        204
    );
    // The other store's kiosk still signs in: nothing was revoked there.
    let all: Value = shop
        .get_as(&format!("/kiosks?store_id={other}"), &shop.admin)
        .await
        .expect(200);
    assert_eq!(all["items"][0]["revoked"], false);

    // Sold out at its own store, as the kitchen may; another store's list is 404.
    let home = shop.home_store().await;
    shop.set_available_at(&manager, &home, &shop.burger, false)
        .await;
    let theirs_stock = json!({"product_id": shop.burger, "available": false});
    shop.patch_availability(&manager, &other, theirs_stock)
        .await
        .expect_error(404, "store_not_found");

    // Staff sessions: its own store's staff only.
    shop.staff_member("kitchen-shopping", "kitchen", Some(&other))
        .await;
    let theirs_signed_in = shop
        .staff_sign_in("kitchen-shopping", "StaffTest12345")
        .await;
    let theirs_refresh: crate::helpers::StaffTokens = theirs_signed_in.expect(200);
    let kitchen: crate::helpers::StaffTokens = shop
        .staff_sign_in("kitchen", crate::helpers::KITCHEN_PASSWORD)
        .await
        .expect(200);
    for foreign in ["kitchen-shopping", "admin", "outsider", "nobody"] {
        shop.end_sessions(&manager, foreign)
            .await
            .expect_error(404, "staff_not_found");
    }
    assert_eq!(shop.end_sessions(&manager, "kitchen").await.status, 204);
    shop.refresh(&kitchen.refresh_token)
        .await
        .expect_error(401, "invalid_refresh_token");
    let still: crate::helpers::StaffTokens = shop
        .refresh(&theirs_refresh.refresh_token)
        .await
        .expect(200);
    assert!(
        !still.access_token.is_empty(),
        "the other store's kitchen keeps its session"
    );
    shop.end_sessions(&shop.kitchen, "kitchen")
        .await
        .expect_error(403, "forbidden");
}

#[tokio::test]
async fn a_manager_signs_in_with_its_password() {
    let app = crate::helpers::spawn_app().await;
    let token = token_of(
        app.staff_sign_in("manager", crate::helpers::MANAGER_PASSWORD)
            .await,
    );
    let claims = app.claims_of(&token).await;
    assert_eq!(claims.role, shared::Role::Manager);
    assert_eq!(claims.exp - claims.iat, 900, "15 minutes, as all staff");
}

/// Two stores of one deployment: each has its own ticket numbers, kitchen
/// queue and board, and a store's kitchen cannot see or move the other's
/// orders (404, as for a missing one).
#[tokio::test]
async fn two_stores_keep_their_own_tickets_queue_and_board() {
    let shop = open_shop().await;
    let (home, other) = (shop.home_store().await, shop.other_store().await);
    let guest_b = shop.guest_at(&other).await;
    shop.staff_member("kitchen-b", "kitchen", Some(&other))
        .await;
    let kitchen_b = token_of(shop.staff_sign_in("kitchen-b", "StaffTest12345").await);

    let order_a = shop.placed_order(&shop.guest).await;
    let order_b = shop.placed_order(&guest_b).await;
    assert_eq!(
        order_b.store_id.as_ref().map(|s| s.as_str()),
        Some(other.as_str())
    );
    let (paid_a, paid_b) = (
        shop.pay_approved(&order_a.id).await,
        shop.pay_approved(&order_b.id).await,
    );
    assert_eq!(
        (paid_a.number, paid_b.number),
        (Some(1), Some(1)),
        "each store counts its own tickets"
    );

    let board = |store: String| {
        let shop = &shop;
        async move {
            let path = format!("/stores/{store}/board");
            shop.send(shop.request(Method::GET, &path, None))
                .await
                .expect::<Value>(200)
        }
    };
    assert_eq!(
        board(home.clone()).await,
        json!({"preparing": [1], "ready": []})
    );
    assert_eq!(
        board(other.clone()).await,
        json!({"preparing": [1], "ready": []})
    );

    let queue = |token: String, query: String| {
        let shop = &shop;
        async move { shop.walk_orders(&token, &query).await }
    };
    assert_eq!(
        queue(shop.kitchen.clone(), String::new()).await,
        std::slice::from_ref(&order_a.id)
    );
    assert_eq!(
        queue(kitchen_b.clone(), String::new()).await,
        std::slice::from_ref(&order_b.id)
    );
    assert_eq!(
        queue(shop.admin.clone(), format!("store_id={other}")).await,
        std::slice::from_ref(&order_b.id)
    );
    shop.list_orders(&shop.admin, "")
        .await
        .expect_error(400, "store_required");

    // Another store's order is not there for a store's staff.
    shop.get_order(&shop.kitchen, &order_b.id)
        .await
        .expect_error(404, "order_not_found");
    shop.move_order(&shop.kitchen, &order_b.id, "in_preparation")
        .await
        .expect_error(404, "order_not_found");
    let manager = shop.manager_token().await;
    shop.move_order(&manager, &order_b.id, "cancelled")
        .await
        .expect_error(404, "order_not_found");
    assert_eq!(
        shop.order(&order_b.id).await.status,
        shared::domain::order::OrderStatus::Received
    );
    // Its own store's kitchen moves it; the admin moves any store's.
    shop.moved(&kitchen_b, &order_b.id, "in_preparation").await;
    shop.moved(&shop.admin, &order_b.id, "ready").await;
    assert_eq!(
        board(other.clone()).await,
        json!({"preparing": [], "ready": [1]})
    );
    assert_eq!(
        board(home).await,
        json!({"preparing": [1], "ready": []}),
        "untouched"
    );

    shop.send(shop.request(
        Method::GET,
        "/stores/0b6f3c1e-3a53-4c2e-9d63-1f1b2a7c9e10/board",
        None,
    ))
    .await
    .expect_error(404, "store_not_found");
}
