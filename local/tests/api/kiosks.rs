//! The trust boundary at the kiosk: enrolled kiosks, the customer routes
//! theirs alone, sign-ins counted per kiosk, tokens without personal data,
//! staff and customers kept apart.

use crate::helpers::{
    Answer, bare_stack, emulator_endpoint, spawn_app, spawn_app_with_isolated_writes, token_of,
};
use reqwest::Method;
use serde_json::{Value, json};

/// The claim names of a token (read, not verified).
fn claim_names(token: &str) -> Vec<String> {
    let claims = crate::helpers::claims_json(token);
    let mut names: Vec<String> = claims.as_object().unwrap().keys().cloned().collect();
    names.sort();
    names
}

#[tokio::test]
async fn the_customer_routes_answer_kiosk_tokens_only() {
    let app = spawn_app().await;
    app.signed_up("529.982.247-25", "Ana Souza").await;
    let customer = app.customer_token("52998224725").await;
    let others = [
        ("guest", app.guest_token().await),
        ("customer", customer),
        ("kitchen", app.kitchen_token().await),
        ("admin", app.admin_token().await),
    ];
    let routes = [
        (
            "/customers",
            json!({"cpf": "111.444.777-35", "name": "Bia", "email": "b@example.com"}),
        ),
        ("/auth", json!({"cpf": "52998224725"})),
        ("/auth/guest", Value::Null),
    ];
    for (path, body) in &routes {
        app.post(path, body.clone())
            .await
            .expect_error(401, "unauthorized");
        for (role, token) in &others {
            let answer = app.post_as(path, token, body.clone()).await;
            assert_eq!(answer.status, 403, "{role} on {path}: {}", answer.body);
            answer.expect_error(403, "forbidden");
        }
    }
    // The refusals wrote nothing: Bia never signed up.
    app.auth("111.444.777-35")
        .await
        .expect_error(404, "customer_not_found");
}

#[tokio::test]
async fn tokens_carry_the_kiosk_its_store_and_no_personal_data() {
    let app = spawn_app().await;
    app.signed_up("529.982.247-25", "Ana Souza").await;
    let signed_in = app.auth("52998224725").await;
    let body: Value = signed_in.expect(200);
    assert_eq!(
        body["customer"],
        json!({"first_name": "Ana"}),
        "the greeting"
    );
    let customer = body["access_token"].as_str().unwrap().to_owned();
    let kiosk = app.kiosk_token().await;
    let kiosk_id = app.kiosk.get().unwrap().0.clone();
    for token in [&customer, &app.guest_token().await, &kiosk] {
        let mut names = claim_names(token);
        // How the customer proved who they are: a CPF typed here (`["cpf"]`).
        if token == &customer {
            assert_eq!(crate::helpers::claims_json(token)["amr"], json!(["cpf"]));
            names.retain(|name| name != "amr");
        }
        assert_eq!(
            names,
            [
                "aud", "exp", "iat", "iss", "jti", "kiosk_id", "nbf", "role", "store_id", "sub"
            ],
            "{names:?}"
        );
        let claims = app.claims_of(token).await;
        assert_eq!(claims.kiosk_id.as_deref(), Some(kiosk_id.as_str()));
        assert_eq!(claims.store_id, Some(app.home_store().await));
        assert_eq!(claims.exp - claims.iat, 900, "15 minutes");
        for personal in [
            "Ana",
            "Souza",
            "52998224725",
            "982.247",
            "cliente@example.com",
        ] {
            assert!(!token.contains(personal) && !claims.sub.contains(personal));
        }
    }
    // Staff: an opaque subject, not the username; no kiosk.
    let admin = app.admin_token().await;
    let claims = app.claims_of(&admin).await;
    assert_ne!(claims.sub, "admin");
    assert_eq!(
        (claims.kiosk_id, claims.store_id),
        (None, None),
        "the chain's"
    );
    assert!(!claim_names(&admin).contains(&"kiosk_id".to_owned()));
}

#[tokio::test]
async fn a_kiosk_is_enrolled_at_an_existing_store_and_listed_with_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let centro = app.home_store().await;
    let day = json!([["10:00", "22:00"]]);
    let hours =
        json!({"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day});
    let shopping: Value = app
        .post_as(
            "/stores",
            &admin,
            json!({"name": "Shopping", "timezone": "America/Sao_Paulo", "hours": hours}),
        )
        .await
        .expect(201);
    let shopping = shopping["id"].as_str().unwrap().to_owned();
    let (at_centro, _) = app.enrol_kiosk_at("Totem 1", &centro).await;
    let (at_shopping, secret) = app.enrol_kiosk_at("Totem A", &shopping).await;

    for body in [
        json!({"name": "x", "store_id": "0b6f3c1e-3a53-4c2e-9d63-1f1b2a7c9e10"}),
        json!({"name": "x", "store_id": "../store"}),
    ] {
        app.post_as("/kiosks", &admin, body)
            .await
            .expect_error(404, "store_not_found");
    }
    app.post_as("/kiosks", &admin, json!({"name": "x"}))
        .await
        .expect_error(400, "invalid_body");

    let ids = |page: Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let of_shopping: Value = app
        .get_as(&format!("/kiosks?store_id={shopping}"), &admin)
        .await
        .expect(200);
    assert_eq!(ids(of_shopping.clone()), std::slice::from_ref(&at_shopping));
    assert_eq!(of_shopping["items"][0]["store_id"], shopping.as_str());
    let of_centro: Value = app
        .get_as(&format!("/kiosks?store_id={centro}"), &admin)
        .await
        .expect(200);
    assert_eq!(ids(of_centro), std::slice::from_ref(&at_centro));
    let all: Value = app.get_as("/kiosks", &admin).await.expect(200);
    let mut all = ids(all);
    all.sort();
    let mut both = vec![at_centro, at_shopping.clone()];
    both.sort();
    assert_eq!(all, both, "the chain's list");
    app.get_as(
        &format!("/kiosks?store_id={shopping}&cursor=garbage"),
        &admin,
    )
    .await
    .expect_error(400, "invalid_cursor");

    // Its sessions and orders are its store's.
    let kiosk = token_of(app.kiosk_sign_in(&at_shopping, &secret).await);
    assert_eq!(
        app.claims_of(&kiosk).await.store_id.as_deref(),
        Some(shopping.as_str())
    );
    let guest = token_of(app.post_as("/auth/guest", &kiosk, Value::Null).await);
    assert_eq!(
        app.claims_of(&guest).await.store_id.as_deref(),
        Some(shopping.as_str())
    );
}

#[tokio::test]
async fn an_unknown_kiosk_a_wrong_secret_and_a_revoked_kiosk_answer_alike() {
    let app = spawn_app().await;
    let (id, secret) = app.enrol_kiosk("Totem 2").await;
    let token = token_of(app.kiosk_sign_in(&id, &secret).await);
    assert_eq!(app.claims_of(&token).await.sub, format!("kiosk:{id}"));

    let unknown = uuid::Uuid::new_v4().to_string();
    let mut refusals = vec![
        app.kiosk_sign_in(&unknown, &secret).await,
        app.kiosk_sign_in(&id, "not-the-secret").await,
        app.kiosk_sign_in(&id, "").await,
        app.kiosk_sign_in("../kiosk", &secret).await,
    ];
    let admin = app.admin_token().await;
    // The list shows it, never a secret.
    let listed: Value = app.get_as("/kiosks", &admin).await.expect(200);
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == id.as_str())
    );
    assert!(!listed.to_string().contains(&secret) && !listed.to_string().contains("secret"));

    let revoke = app.request(Method::DELETE, &format!("/kiosks/{id}"), Some(&admin));
    assert_eq!(app.send(revoke).await.status, 204);
    refusals.push(app.kiosk_sign_in(&id, &secret).await);
    for answer in &refusals {
        answer.expect_error(401, "invalid_credentials");
    }
    let bodies: Vec<&Value> = refusals.iter().map(|a| &a.body).collect();
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "one answer for all: {bodies:?}"
    );
    let again = app.request(Method::DELETE, &format!("/kiosks/{unknown}"), Some(&admin));
    app.send(again).await.expect_error(404, "kiosk_not_found");
    // Only admins manage kiosks.
    let kitchen = app.kitchen_token().await;
    app.post_as("/kiosks", &kitchen, json!({"name": "x"}))
        .await
        .expect_error(403, "forbidden");
    app.get_as("/kiosks", &token)
        .await
        .expect_error(403, "forbidden");
}

/// The UTC minute it is: what the per-kiosk sign-in counter counts in.
fn this_minute() -> i64 {
    shared::clock::now_unix().div_euclid(60)
}

/// Runs `burst` once, or twice if a UTC minute began while it ran (a new
/// minute starts a new count); what the run within one minute returned.
/// Each run signs in a kiosk of its own, so it starts from zero.
async fn in_one_minute<T, F: Future<Output = T>>(mut burst: impl FnMut() -> F) -> T {
    for _ in 0..2 {
        let minute = this_minute();
        let result = burst().await;
        if this_minute() == minute {
            return result;
        }
    }
    panic!("two bursts of sign-ins each ran across a minute boundary");
}

/// What a kiosk at its limit was answered, all within one minute.
struct Burst {
    counted: Vec<Answer>,
    over: reqwest::Response,
    signup: Answer,
    guest: Answer,
    elsewhere: Answer,
}

#[tokio::test]
async fn the_thirty_first_sign_in_of_a_minute_is_429_for_that_kiosk_only() {
    let app = &spawn_app().await;
    let (_, other) = &app.new_kiosk("Totem 2").await;
    let ana = json!({"cpf": "52998224725"});
    let bia = json!({"cpf": "111.444.777-35", "name": "Bia", "email": "b@example.com"});

    let burst = in_one_minute(|| async {
        let (_, busy) = app.new_kiosk("Totem 1").await;
        let mut counted = Vec::new();
        for _ in 0..30 {
            counted.push(app.post_as("/auth", &busy, ana.clone()).await);
        }
        let request = app.request(Method::POST, "/auth", Some(&busy));
        let over = request.json(&ana).send().await.unwrap();
        Burst {
            counted,
            over,
            // Signups and guest sessions count too.
            signup: app.post_as("/customers", &busy, bia.clone()).await,
            guest: app.post_as("/auth/guest", &busy, Value::Null).await,
            elsewhere: app.post_as("/auth", other, ana.clone()).await,
        }
    })
    .await;

    for (i, answer) in burst.counted.iter().enumerate() {
        assert_eq!(answer.status, 404, "sign-in {}: {}", i + 1, answer.body);
    }
    assert_eq!(burst.over.status(), 429);
    let retry_after: u64 = burst.over.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: Value = burst.over.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_requests");
    burst.signup.expect_error(429, "too_many_requests");
    burst.guest.expect_error(429, "too_many_requests");
    // Another kiosk is not affected.
    burst.elsewhere.expect_error(404, "customer_not_found");
}

#[tokio::test]
async fn concurrent_sign_ins_cannot_slip_past_the_limit() {
    // DynamoDB's conditional update is atomic; moto's is made so here.
    let app = &spawn_app_with_isolated_writes(&[("KioskSigninsPerMinute", "10")]).await;
    let statuses: Vec<u16> = in_one_minute(|| async {
        let (_, kiosk) = app.new_kiosk("Totem 1").await;
        let request = app
            .request(Method::POST, "/auth", Some(&kiosk))
            .json(&json!({"cpf": "52998224725"}));
        let answers = app.send_concurrently(20, request).await;
        answers.iter().map(|a| a.status).collect()
    })
    .await;
    let counted = statuses.iter().filter(|s| **s == 404).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((counted, limited), (10, 10), "{statuses:?}");
}

#[tokio::test]
async fn sign_ins_are_counted_per_kiosk_and_per_utc_minute() {
    use shared::store::kiosks::KioskStore;
    use time::format_description::well_known::Rfc3339;
    let (sdk, _, stack) = bare_stack(&emulator_endpoint()).await;
    let table = stack.get("KiosksTable").unwrap();
    let kiosks = &KioskStore::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    // Three a minute; past them, Err(seconds until the next minute).
    let count = |kiosk: &'static str, at: &'static str| {
        let now = time::OffsetDateTime::parse(&format!("2030-01-01T{at}Z"), &Rfc3339).unwrap();
        async move { kiosks.count_signin(kiosk, 3, now).await.unwrap() }
    };

    for at in ["12:00:00", "12:00:30", "12:00:59"] {
        assert_eq!(count("busy", at).await, Ok(()), "{at}");
    }
    assert_eq!(count("busy", "12:00:45").await, Err(15));
    assert_eq!(count("busy", "12:00:59").await, Err(1));
    // Another kiosk counts apart; the next minute counts from zero.
    assert_eq!(count("other", "12:00:59").await, Ok(()));
    for at in ["12:01:00", "12:01:00", "12:01:59"] {
        assert_eq!(count("busy", at).await, Ok(()), "{at}");
    }
    assert_eq!(count("busy", "12:01:59").await, Err(1));
    // Each minute keeps its own count.
    assert_eq!(count("busy", "12:00:10").await, Err(50));
    assert_eq!(count("busy", "12:02:00").await, Ok(()));
}

#[tokio::test]
async fn staff_and_customers_cannot_be_confused() {
    let app = spawn_app().await;
    // A staff member whose username happens to be a valid CPF.
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&app.sdk);
    let pool = app.stack.user_pool_id().unwrap().to_owned();
    cognito
        .admin_create_user()
        .user_pool_id(&pool)
        .username("52998224725")
        .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    cognito
        .admin_set_user_password()
        .user_pool_id(&pool)
        .username("52998224725")
        .password("KitchenStaff12345")
        .permanent(true)
        .send()
        .await
        .unwrap();
    cognito
        .admin_add_user_to_group()
        .user_pool_id(&pool)
        .username("52998224725")
        .group_name("kitchen")
        .send()
        .await
        .unwrap();

    // A CPF sign-in does not find the staff member ...
    app.auth("529.982.247-25")
        .await
        .expect_error(404, "customer_not_found");
    // ... a signup with that CPF makes a customer apart from them ...
    app.signed_up("529.982.247-25", "Ana Souza").await;
    let customer = app.customer_token("52998224725").await;
    assert_eq!(app.claims_of(&customer).await.role, shared::Role::Customer);
    // ... and the staff member is still staff, nothing else.
    let groups = cognito
        .admin_list_groups_for_user()
        .user_pool_id(&pool)
        .username("52998224725")
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = groups
        .groups()
        .iter()
        .filter_map(|g| g.group_name())
        .collect();
    assert_eq!(names, ["kitchen"]);
    let store = shared::domain::StoreId::parse(&app.home_store().await).unwrap();
    kiosk_local::assign_store(&app.sdk, &app.stack, "52998224725", &store)
        .await
        .unwrap();
    let staff = token_of(app.staff_sign_in("52998224725", "KitchenStaff12345").await);
    let claims = app.claims_of(&staff).await;
    assert_eq!(claims.role, shared::Role::Kitchen);
    assert_ne!(claims.sub, "52998224725", "the subject is opaque");
}
