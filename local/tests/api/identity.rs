//! Identity over HTTP: signup, CPF / guest / staff sign-in, validation, the
//! authorizer in front of protected routes, and the admin's customer list.

use crate::helpers::{
    ADMIN_PASSWORD, KITCHEN_PASSWORD, ListedCustomer, OUTSIDER_PASSWORD, Page, Tokens, Validation,
    cpf_from, spawn_app, token_of,
};
use reqwest::Method;
use serde_json::json;
use shared::Role;

#[tokio::test]
async fn the_kiosk_walkthrough_signup_auth_validate_and_a_protected_call() {
    let app = spawn_app().await;

    let customer = app.signed_up("529.982.247-25", "Ana Souza").await;
    assert_eq!(
        (customer.cpf.as_str(), customer.first_name.as_str()),
        ("***.982.247-**", "Ana")
    );
    // The kiosk typed the address; it is shown back masked all the same.
    assert_eq!(customer.email, "c***@example.com");
    assert!(!customer.email_verified);

    let auth: Tokens = app.auth("52998224725").await.expect(200);
    assert_eq!((auth.token_type.as_str(), auth.expires_in), ("Bearer", 900));
    let token = auth.access_token;

    let request = app.request(Method::POST, "/validate", Some(&token));
    let validated = app.send(request).await;
    assert!(
        !validated.body.to_string().contains("52998224725"),
        "no CPF in the claims"
    );
    let validated: Validation = validated.expect(200);
    let claims = validated.claims.unwrap();
    assert!(validated.valid);
    assert_eq!((claims.role, claims.sub), (Role::Customer, customer.id));

    let without = app.send(app.request(Method::GET, "/customers", None)).await;
    without.expect_error(401, "unauthorized");
    // A customer's valid token passes the authorizer; the function then refuses the role.
    let as_customer = app.list_customers(&token, "").await;
    as_customer.expect_error(403, "forbidden");
    let as_admin = app.list_customers(&app.admin_token().await, "").await;
    as_admin.expect::<Page<ListedCustomer>>(200);
}

#[tokio::test]
async fn every_cpf_example_of_the_contract_behaves_as_listed_over_http() {
    let app = spawn_app().await;
    let valid = [
        "529.982.247-25",
        "111.444.777-35",
        "123.456.789-09",
        "04024279041",
    ];
    for (i, cpf) in valid.into_iter().enumerate() {
        app.signed_up(cpf, &format!("Cliente {i}")).await;
        app.auth(cpf).await.expect::<Tokens>(200);
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
        app.sign_up(cpf, "X").await.expect_error(400, "invalid_cpf");
        app.auth(cpf).await.expect_error(400, "invalid_cpf");
    }
}

#[tokio::test]
async fn a_cpf_signs_up_once_whatever_its_format() {
    let app = spawn_app().await;
    app.signed_up("52998224725", "Ana").await;

    let again = app.sign_up("529.982.247-25", "Ana de novo").await;

    again.expect_error(409, "customer_exists");
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
    let kiosk = app.kiosk_token().await;
    for (body, code) in cases {
        app.post_as("/customers", &kiosk, body)
            .await
            .expect_error(400, code);
    }
    for raw in ["", "not json", "{\"cpf\":", "[]"] {
        let answer = app.post_raw_as("/customers", &kiosk, raw).await;
        answer.expect_error(400, "invalid_body");
    }
    // Nothing of the refused attempts was written.
    app.auth(cpf).await.expect_error(404, "customer_not_found");
}

#[tokio::test]
async fn auth_answers_404_for_an_unknown_cpf_and_403_for_a_disabled_customer() {
    let app = spawn_app().await;
    let unknown = app.auth("123.456.789-09").await;
    unknown.expect_error(404, "customer_not_found");

    app.signed_up("123.456.789-09", "Bruno").await;
    aws_sdk_cognitoidentityprovider::Client::new(&app.sdk)
        .admin_disable_user()
        .user_pool_id(app.stack.user_pool_id().unwrap())
        .username("cpf:12345678909")
        .send()
        .await
        .unwrap();
    let disabled = app.auth("123.456.789-09").await;

    disabled.expect_error(403, "customer_disabled");
}

#[tokio::test]
async fn every_guest_sign_in_is_a_new_subject() {
    let app = spawn_app().await;
    let mut subjects = std::collections::HashSet::new();
    for _ in 0..3 {
        let claims = app.claims_of(&app.guest_token().await).await;
        assert_eq!(claims.role, Role::Guest);
        assert!(claims.sub.starts_with("guest:"), "{}", claims.sub);
        subjects.insert(claims.sub);
    }
    assert_eq!(subjects.len(), 3);
}

#[tokio::test]
async fn staff_sign_in_gives_the_group_role_and_one_answer_for_every_failure() {
    let app = spawn_app().await;
    for (username, password, role) in [
        ("admin", ADMIN_PASSWORD, Role::Admin),
        ("kitchen", KITCHEN_PASSWORD, Role::Kitchen),
    ] {
        let token = token_of(app.staff_sign_in(username, password).await);
        let claims = app.claims_of(&token).await;
        assert_eq!((claims.role, claims.exp - claims.iat), (role, 900));
    }

    let wrong_password = app.staff_sign_in("admin", "Wrong-password-1").await;
    let unknown_user = app.staff_sign_in("nobody", "Wrong-password-1").await;
    wrong_password.expect_error(401, "invalid_credentials");
    assert_eq!(
        (wrong_password.status, &wrong_password.body),
        (unknown_user.status, &unknown_user.body)
    );
    let outsider = app.staff_sign_in("outsider", OUTSIDER_PASSWORD).await;
    outsider.expect_error(403, "not_staff");
}

#[tokio::test]
async fn validate_reads_the_body_or_the_bearer_header_and_says_what_is_missing() {
    let app = spawn_app().await;
    let token = app.guest_token().await;
    assert!(app.validate(&token).await.json::<Validation>().valid);

    let missing = app.post_raw("/validate", "").await;
    missing.expect_error(401, "token_missing");
    assert!(!missing.json::<Validation>().valid);

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
        app.signed_up(cpf, &format!("Cliente {i}")).await;
    }
    let admin = app.admin_token().await;

    let pages: Vec<Page<ListedCustomer>> = app.pages(&admin, "/customers?limit=3").await;

    assert!(pages.iter().all(|page| page.items.len() <= 3));
    let mut seen: Vec<String> = pages
        .into_iter()
        .flat_map(|p| p.items)
        .map(|c| c.cpf)
        .collect();
    assert!(
        seen.iter()
            .all(|m| m.starts_with("***.") && m.ends_with("-**")),
        "{seen:?}"
    );
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
    let text = app
        .list_customers(&admin, "limit=100")
        .await
        .body
        .to_string();
    assert!(!cpfs.iter().any(|c| text.contains(c.as_str())));
}

#[tokio::test]
async fn the_customer_list_is_for_admins_and_checks_its_parameters() {
    let app = spawn_app().await;
    app.signed_up("04024279041", "Carla").await;
    for token in [
        app.kitchen_token().await,
        app.guest_token().await,
        app.customer_token("04024279041").await,
    ] {
        let answer = app.list_customers(&token, "").await;
        answer.expect_error(403, "forbidden");
    }
    let admin = app.admin_token().await;
    for (query, code) in [
        ("limit=1000", "invalid_limit"),
        ("limit=0", "invalid_limit"),
        ("cursor=garbage", "invalid_cursor"),
    ] {
        app.list_customers(&admin, query)
            .await
            .expect_error(400, code);
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_the_gateway_404() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::GET, "/nothing-here"),
        (Method::DELETE, "/customers"),
        (Method::GET, "/auth"),
    ] {
        let answer = app.send_unchecked(app.request(method, path, None)).await;
        answer.expect_error(404, "route_not_found");
    }
}
