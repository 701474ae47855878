//! Identity over HTTP: signup, CPF / guest / staff sign-in, validation, the
//! authorizer in front of protected routes, and the admin's customer list.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use support::{ADMIN_PASSWORD, OUTSIDER_PASSWORD, cpf_from, spawn_app};

#[tokio::test]
async fn the_kiosk_walkthrough_signup_auth_validate_and_a_protected_call() {
    let app = spawn_app().await;

    let signup = app.sign_up("529.982.247-25", "Ana Souza").await;
    assert_eq!(signup.status, 201, "{}", signup.body);
    assert_eq!(signup.body["cpf"], "***.982.247-**");
    assert_eq!(signup.body["name"], "Ana Souza");
    assert_eq!(signup.body["email"], "cliente@example.com");

    let auth = app.post("/auth", json!({"cpf": "52998224725"})).await;
    assert_eq!(auth.status, 200, "{}", auth.body);
    assert_eq!(auth.body["token_type"], "Bearer");
    assert_eq!(auth.body["expires_in"], 3600);
    let token = auth.body["access_token"].as_str().unwrap();

    let validated = app
        .send(
            app.http
                .post(format!("{}/validate", app.base_url))
                .bearer_auth(token),
        )
        .await;
    assert_eq!(validated.status, 200);
    assert_eq!(validated.body["valid"], true);
    assert_eq!(validated.body["claims"]["role"], "customer");
    assert_eq!(validated.body["claims"]["sub"], signup.body["id"]);
    assert!(
        !validated.body.to_string().contains("52998224725"),
        "no CPF in the claims"
    );

    let without = app
        .send(app.http.get(format!("{}/customers", app.base_url)))
        .await;
    assert_eq!(without.status, 401);
    assert_eq!(without.body["error"]["code"], "unauthorized");
    // A customer's valid token passes the authorizer; the function then refuses the role.
    let as_customer = app.get_as("/customers", token).await;
    assert_eq!(as_customer.status, 403);
    assert_eq!(as_customer.body["error"]["code"], "forbidden");
    let as_admin = app.get_as("/customers", &app.admin_token().await).await;
    assert_eq!(as_admin.status, 200);
}

#[tokio::test]
async fn every_cpf_example_of_the_contract_behaves_as_listed_over_http() {
    let app = spawn_app().await;
    for (i, cpf) in [
        "529.982.247-25",
        "111.444.777-35",
        "123.456.789-09",
        "04024279041",
    ]
    .iter()
    .enumerate()
    {
        let signup = app.sign_up(cpf, &format!("Cliente {i}")).await;
        assert_eq!(signup.status, 201, "{cpf}: {}", signup.body);
        let auth = app.post("/auth", json!({"cpf": cpf})).await;
        assert_eq!(auth.status, 200, "{cpf}: {}", auth.body);
    }
    for cpf in [
        "385.211.390-49",
        "123.456.789-00",
        "111.111.111-11",
        "12345678901",
        "529.982.247.25",
        "5299822472",
        "",
    ] {
        for path in ["/customers", "/auth"] {
            let body = if path == "/auth" {
                json!({"cpf": cpf})
            } else {
                json!({"cpf": cpf, "name": "X", "email": "x@example.com"})
            };
            let answer = app.post(path, body).await;
            assert_eq!(answer.status, 400, "{path} {cpf}: {}", answer.body);
            assert_eq!(answer.body["error"]["code"], "invalid_cpf", "{path} {cpf}");
        }
    }
}

#[tokio::test]
async fn a_cpf_signs_up_once_whatever_its_format() {
    let app = spawn_app().await;
    assert_eq!(app.sign_up("52998224725", "Ana").await.status, 201);
    let again = app.sign_up("529.982.247-25", "Ana de novo").await;
    assert_eq!(again.status, 409);
    assert_eq!(again.body["error"]["code"], "customer_exists");
}

#[tokio::test]
async fn signup_refuses_a_bad_name_email_or_body() {
    let app = spawn_app().await;
    let cpf = "111.444.777-35";
    let cases = [
        (
            json!({"cpf": cpf, "name": "", "email": "a@example.com"}),
            "invalid_name",
        ),
        (
            json!({"cpf": cpf, "name": "x".repeat(101), "email": "a@example.com"}),
            "invalid_name",
        ),
        (
            json!({"cpf": cpf, "name": "Ana", "email": "not-an-email"}),
            "invalid_email",
        ),
        (
            json!({"cpf": cpf, "name": "Ana", "email": "a@example.com", "admin": true}),
            "invalid_body",
        ),
        (json!({"cpf": cpf, "name": "Ana"}), "invalid_body"),
        (
            json!({"cpf": 11144477735u64, "name": "Ana", "email": "a@example.com"}),
            "invalid_body",
        ),
    ];
    for (body, code) in cases {
        let answer = app.post("/customers", body.clone()).await;
        assert_eq!(
            (answer.status, answer.body["error"]["code"].as_str()),
            (400, Some(code)),
            "{body}"
        );
    }
    for raw in ["", "not json", "{\"cpf\":", "[]"] {
        let answer = app.post_raw("/customers", raw).await;
        assert_eq!(
            (answer.status, answer.body["error"]["code"].as_str()),
            (400, Some("invalid_body")),
            "{raw:?}"
        );
    }
    // Nothing of the refused attempts was written.
    assert_eq!(app.post("/auth", json!({"cpf": cpf})).await.status, 404);
}

#[tokio::test]
async fn auth_answers_404_for_an_unknown_cpf_and_403_for_a_disabled_customer() {
    let app = spawn_app().await;
    let unknown = app.post("/auth", json!({"cpf": "123.456.789-09"})).await;
    assert_eq!(
        (unknown.status, unknown.body["error"]["code"].as_str()),
        (404, Some("customer_not_found"))
    );

    assert_eq!(app.sign_up("123.456.789-09", "Bruno").await.status, 201);
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&app.sdk);
    cognito
        .admin_disable_user()
        .user_pool_id(app.stack.user_pool_id().unwrap())
        .username("12345678909")
        .send()
        .await
        .unwrap();
    let disabled = app.post("/auth", json!({"cpf": "123.456.789-09"})).await;
    assert_eq!(
        (disabled.status, disabled.body["error"]["code"].as_str()),
        (403, Some("customer_disabled"))
    );
}

#[tokio::test]
async fn every_guest_sign_in_is_a_new_subject() {
    let app = spawn_app().await;
    let mut subjects = std::collections::HashSet::new();
    for _ in 0..3 {
        let token = app.guest_token().await;
        let claims = app.post("/validate", json!({"token": token})).await.body["claims"].clone();
        assert_eq!(claims["role"], "guest");
        let sub = claims["sub"].as_str().unwrap().to_owned();
        assert!(sub.starts_with("guest:"), "{sub}");
        subjects.insert(sub);
    }
    assert_eq!(subjects.len(), 3);
}

#[tokio::test]
async fn staff_sign_in_gives_the_group_role_and_one_answer_for_every_failure() {
    let app = spawn_app().await;
    for (username, password, role) in [
        ("admin", ADMIN_PASSWORD, "admin"),
        ("kitchen", support::KITCHEN_PASSWORD, "kitchen"),
    ] {
        let token = app
            .token_for(
                "/auth/staff",
                json!({"username": username, "password": password}),
            )
            .await;
        let validated = app.post("/validate", json!({"token": token})).await;
        assert_eq!(validated.body["claims"]["role"], role);
        assert_eq!(
            validated.body["claims"]["exp"].as_i64().unwrap()
                - validated.body["claims"]["iat"].as_i64().unwrap(),
            8 * 3600
        );
    }
    let wrong_password = app
        .post(
            "/auth/staff",
            json!({"username": "admin", "password": "Wrong-password-1"}),
        )
        .await;
    let unknown_user = app
        .post(
            "/auth/staff",
            json!({"username": "nobody", "password": "Wrong-password-1"}),
        )
        .await;
    assert_eq!(wrong_password.status, 401);
    assert_eq!(wrong_password.body["error"]["code"], "invalid_credentials");
    assert_eq!(
        (wrong_password.status, &wrong_password.body),
        (unknown_user.status, &unknown_user.body)
    );

    let outsider = app
        .post(
            "/auth/staff",
            json!({"username": "outsider", "password": OUTSIDER_PASSWORD}),
        )
        .await;
    assert_eq!(
        (outsider.status, outsider.body["error"]["code"].as_str()),
        (403, Some("not_staff"))
    );
}

#[tokio::test]
async fn validate_reads_the_body_or_the_bearer_header_and_says_what_is_missing() {
    let app = spawn_app().await;
    let token = app.guest_token().await;
    assert_eq!(
        app.post("/validate", json!({"token": token})).await.body["valid"],
        true
    );
    let missing = app.post_raw("/validate", "").await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.body["valid"], false);
    assert_eq!(missing.body["error"]["code"], "token_missing");
    let unknown_field = app
        .post("/validate", json!({"token": token, "extra": 1}))
        .await;
    assert_eq!(unknown_field.status, 400);
}

#[tokio::test]
async fn the_admin_walks_every_customer_exactly_once_with_masked_cpfs() {
    let app = spawn_app().await;
    let cpfs: Vec<String> = (0..7).map(|i| cpf_from(4_242 + i * 7_919)).collect();
    for (i, cpf) in cpfs.iter().enumerate() {
        assert_eq!(
            app.sign_up(cpf, &format!("Cliente {i}")).await.status,
            201,
            "{cpf}"
        );
    }
    let admin = app.admin_token().await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/customers?limit=3&cursor={c}"),
            None => "/customers?limit=3".to_owned(),
        };
        let page = app.get_as(&path, &admin).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        for item in items {
            let masked = item["cpf"].as_str().unwrap();
            assert!(
                masked.starts_with("***.") && masked.ends_with("-**"),
                "{masked}"
            );
            seen.push(masked.to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let mut expected: Vec<String> = cpfs
        .iter()
        .map(|c| format!("***.{}.{}-**", &c[3..6], &c[6..9]))
        .collect();
    expected.sort();
    seen.sort();
    assert_eq!(
        seen, expected,
        "staff users are not customers; every customer once"
    );
    assert!(!page_text_contains_any(&app, &admin, &cpfs).await);
}

async fn page_text_contains_any(app: &support::TestApp, admin: &str, cpfs: &[String]) -> bool {
    let text = app
        .get_as("/customers?limit=100", admin)
        .await
        .body
        .to_string();
    cpfs.iter().any(|c| text.contains(c.as_str()))
}

#[tokio::test]
async fn the_customer_list_is_for_admins_and_checks_its_parameters() {
    let app = spawn_app().await;
    assert_eq!(app.sign_up("04024279041", "Carla").await.status, 201);
    for token in [
        app.kitchen_token().await,
        app.guest_token().await,
        app.customer_token("04024279041").await,
    ] {
        let answer = app.get_as("/customers", &token).await;
        assert_eq!(
            (answer.status, answer.body["error"]["code"].as_str()),
            (403, Some("forbidden"))
        );
    }
    let admin = app.admin_token().await;
    for (query, code) in [
        ("limit=1000", "invalid_limit"),
        ("limit=0", "invalid_limit"),
        ("cursor=garbage", "invalid_cursor"),
    ] {
        let answer = app.get_as(&format!("/customers?{query}"), &admin).await;
        assert_eq!(
            (answer.status, answer.body["error"]["code"].as_str()),
            (400, Some(code)),
            "{query}"
        );
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_the_gateway_404() {
    let app = spawn_app().await;
    for (method, path) in [
        ("GET", "/nothing-here"),
        ("DELETE", "/customers"),
        ("GET", "/auth"),
    ] {
        let request = app
            .http
            .request(method.parse().unwrap(), format!("{}{path}", app.base_url));
        let answer = app.send_unchecked(request).await;
        assert_eq!(
            (answer.status, answer.body["error"]["code"].as_str()),
            (404, Some("route_not_found")),
            "{method} {path}"
        );
    }
}
