//! Staff sessions: 15-minute access tokens, refresh tokens rotated on every
//! use, a spent token's reuse revoking its family, logout, an admin ending a
//! staff member's sessions, and the directory asked on every refresh.

use crate::helpers::{
    ADMIN_PASSWORD, KITCHEN_PASSWORD, StaffTokens, TestApp, spawn_app,
    spawn_app_with_isolated_writes, summary,
};
use aws_sdk_cognitoidentityprovider::Client as Cognito;
use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::Method;
use serde_json::json;
use sha2::{Digest, Sha256};

impl TestApp {
    async fn kitchen_session(&self) -> StaffTokens {
        self.staff_sign_in("kitchen", KITCHEN_PASSWORD)
            .await
            .expect(200)
    }

    async fn admin_session(&self) -> StaffTokens {
        self.staff_sign_in("admin", ADMIN_PASSWORD)
            .await
            .expect(200)
    }

    fn cognito(&self) -> Cognito {
        Cognito::new(&self.sdk)
    }
}

/// Asserts the refresh token no longer refreshes.
#[track_caller]
fn refused(answer: crate::helpers::Answer) {
    answer.expect_error(401, "invalid_refresh_token");
}

#[tokio::test]
async fn a_staff_access_token_lives_15_minutes_and_comes_with_a_refresh_token() {
    let app = spawn_app().await;

    let session = app.kitchen_session().await;

    let claims = app.claims_of(&session.access_token).await;
    assert_eq!((session.expires_in, claims.exp - claims.iat), (900, 900));
    assert!(
        session.refresh_token.len() >= 43,
        "{}",
        session.refresh_token
    );
    assert!(!session.access_token.contains(&session.refresh_token));
}

#[tokio::test]
async fn a_refresh_gives_a_working_pair_and_spends_the_old_token() {
    let app = spawn_app().await;
    let first = app.kitchen_session().await;

    let second: StaffTokens = app.refresh(&first.refresh_token).await.expect(200);

    assert_ne!(second.refresh_token, first.refresh_token);
    let claims = app.claims_of(&second.access_token).await;
    assert_eq!(claims.role, shared::Role::Kitchen);
    assert_eq!(claims.sub, app.claims_of(&first.access_token).await.sub);
    let third: StaffTokens = app.refresh(&second.refresh_token).await.expect(200);
    app.claims_of(&third.access_token).await;
    refused(app.refresh(&first.refresh_token).await);
}

#[tokio::test]
async fn a_spent_token_presented_again_revokes_its_whole_family_and_no_other() {
    let app = spawn_app().await;
    let stolen = app.kitchen_session().await;
    let other_device = app.kitchen_session().await;
    let newest: StaffTokens = app.refresh(&stolen.refresh_token).await.expect(200);

    refused(app.refresh(&stolen.refresh_token).await);

    refused(app.refresh(&newest.refresh_token).await);
    app.refresh(&other_device.refresh_token)
        .await
        .expect::<StaffTokens>(200);
}

#[tokio::test]
async fn of_concurrent_refreshes_of_one_token_exactly_one_succeeds() {
    // DynamoDB's conditional writes on one item are isolated, the
    // emulator's are not: its writes go through the serialising proxy.
    let app = spawn_app_with_isolated_writes(&[]).await;
    let session = app.kitchen_session().await;
    let request = app
        .request(Method::POST, "/auth/refresh", None)
        .json(&json!({ "refresh_token": session.refresh_token }));

    let answers = app.send_concurrently(4, request).await;

    let winners: Vec<StaffTokens> = answers
        .iter()
        .filter(|a| a.status == 200)
        .map(|a| a.json())
        .collect();
    let losers = answers
        .iter()
        .filter(|a| a.status == 401 && a.code() == Some("invalid_refresh_token"))
        .count();
    assert_eq!((winners.len(), losers), (1, 3), "{:?}", summary(&answers));
    // The losers presented a spent token: the family is revoked, the
    // winner's new refresh token with it.
    refused(app.refresh(&winners[0].refresh_token).await);
}

#[tokio::test]
async fn unknown_and_malformed_refresh_tokens_get_one_answer() {
    let app = spawn_app().await;

    refused(app.refresh("bm90LWEtdG9rZW4").await);
    refused(app.refresh("").await);
    refused(app.refresh(&"x".repeat(500)).await);
    app.post("/auth/refresh", json!({"refresh_token": "a", "extra": 1}))
        .await
        .expect_error(400, "invalid_body");
}

#[tokio::test]
async fn logout_revokes_the_callers_family_and_leaves_anyone_elses() {
    let app = spawn_app().await;
    let kitchen = app.kitchen_session().await;
    let admin = app.admin_session().await;

    let not_mine = app
        .logout(&kitchen.access_token, &admin.refresh_token)
        .await;
    let mine = app
        .logout(&kitchen.access_token, &kitchen.refresh_token)
        .await;

    assert_eq!((not_mine.status, mine.status), (204, 204));
    refused(app.refresh(&kitchen.refresh_token).await);
    app.totp_setup_as(&kitchen.access_token)
        .await
        .expect_error(401, "invalid_session");
    app.refresh(&admin.refresh_token)
        .await
        .expect::<StaffTokens>(200);
    let guest = app.guest_token().await;
    app.logout(&guest, &admin.refresh_token)
        .await
        .expect_error(403, "forbidden");
}

#[tokio::test]
async fn an_admin_ends_every_session_of_a_staff_member() {
    let app = spawn_app().await;
    let tablet = app.kitchen_session().await;
    let phone = app.kitchen_session().await;
    let rotated: StaffTokens = app.refresh(&phone.refresh_token).await.expect(200);
    let admin = app.admin_session().await;

    let answer = app.end_sessions(&admin.access_token, "kitchen").await;

    assert_eq!(answer.status, 204, "{}", answer.body);
    refused(app.refresh(&tablet.refresh_token).await);
    refused(app.refresh(&rotated.refresh_token).await);
    // Nor can the sign-in's access token get new tokens by enrolling TOTP.
    app.totp_setup_as(&tablet.access_token)
        .await
        .expect_error(401, "invalid_session");
    app.refresh(&admin.refresh_token)
        .await
        .expect::<StaffTokens>(200);
    // A new sign-in starts a new session.
    let again = app.kitchen_session().await;
    app.refresh(&again.refresh_token)
        .await
        .expect::<StaffTokens>(200);
}

#[tokio::test]
async fn ending_sessions_is_the_admins_alone_and_knows_only_real_users() {
    let app = spawn_app().await;
    let kitchen = app.kitchen_session().await;
    let admin = app.admin_session().await;

    app.end_sessions(&kitchen.access_token, "admin")
        .await
        .expect_error(403, "forbidden");
    app.end_sessions(&admin.access_token, "nobody")
        .await
        .expect_error(404, "staff_not_found");
    app.refresh(&admin.refresh_token)
        .await
        .expect::<StaffTokens>(200);
}

#[tokio::test]
async fn a_disabled_staff_member_gets_no_new_token() {
    let app = spawn_app().await;
    let session = app.kitchen_session().await;

    app.cognito()
        .admin_disable_user()
        .user_pool_id(app.stack.user_pool_id().unwrap())
        .username("kitchen")
        .send()
        .await
        .unwrap();

    refused(app.refresh(&session.refresh_token).await);
}

#[tokio::test]
async fn a_staff_member_removed_from_the_group_gets_no_new_token() {
    let app = spawn_app().await;
    let session = app.kitchen_session().await;

    app.cognito()
        .admin_remove_user_from_group()
        .user_pool_id(app.stack.user_pool_id().unwrap())
        .username("kitchen")
        .group_name("kitchen")
        .send()
        .await
        .unwrap();

    refused(app.refresh(&session.refresh_token).await);
}

#[tokio::test]
async fn an_expired_refresh_token_is_refused() {
    let app = spawn_app().await;
    let session = app.kitchen_session().await;
    let fresh = app.kitchen_session().await;
    let digest: String = Sha256::digest(session.refresh_token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let past = shared::clock::now_unix() - 1;

    aws_sdk_dynamodb::Client::new(&app.sdk)
        .update_item()
        .table_name(app.stack.get("SessionsTable").unwrap())
        .key("pk", AttributeValue::S(format!("refresh#{digest}")))
        .key("sk", AttributeValue::S("refresh".into()))
        .update_expression("SET expires_at = :past")
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_values(":past", AttributeValue::N(past.to_string()))
        .send()
        .await
        .unwrap();

    refused(app.refresh(&session.refresh_token).await);
    app.refresh(&fresh.refresh_token)
        .await
        .expect::<StaffTokens>(200);
}
