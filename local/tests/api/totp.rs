//! Staff TOTP through Cognito software tokens, with real codes (the emulator
//! runs with `MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP=true`, so it checks
//! them): enrolment under `STAFF_MFA=required`, the `totp` challenge, wrong
//! codes and sessions that cannot be reused.

use crate::helpers::{
    Answer, KITCHEN_PASSWORD, StaffChallenge, StaffTokens, TestApp, TotpSetup, spawn_app,
    spawn_app_with,
};
use aws_sdk_cognitoidentityprovider::Client as Cognito;
use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, SoftwareTokenMfaSettingsType};

/// RFC 4648 base32 (no padding needed), as authenticator apps read secrets.
fn base32(secret: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u32, Vec::new());
    for c in secret.trim_end_matches('=').bytes() {
        let index = ALPHABET
            .iter()
            .position(|&a| a == c.to_ascii_uppercase())
            .unwrap();
        value = (value << 5) | u32::try_from(index).unwrap();
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((value >> bits) & 0xff).unwrap());
        }
    }
    out
}

/// The RFC 6238 code (HMAC-SHA1, 30 s steps, 6 digits) of `step`.
pub fn code_at(secret: &str, step: u64) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &base32(secret));
    let mac = ring::hmac::sign(&key, &step.to_be_bytes());
    let mac = mac.as_ref();
    let offset = usize::from(mac[19] & 0x0f);
    let word = u32::from_be_bytes(mac[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    format!("{:06}", word % 1_000_000)
}

pub fn current_step() -> u64 {
    u64::try_from(shared::clock::now_unix()).unwrap() / 30
}

/// A code wrong for every step near now.
fn wrong_code(secret: &str) -> String {
    let step = current_step();
    let near: Vec<String> = (step - 3..=step + 3).map(|s| code_at(secret, s)).collect();
    (0..)
        .map(|n| format!("{n:06}"))
        .find(|c| !near.contains(c))
        .unwrap()
}

/// The fixed secret moto enrols every device with (its answer to
/// AssociateSoftwareToken); the tests read it from the API's answer where
/// they can.
const EMULATOR_SECRET: &str = "asdfasdfasdf";

impl TestApp {
    /// `POST /auth/staff/totp` with the current code, computed right before
    /// sending; sent once more if it was refused and the 30 s step changed
    /// meanwhile (a code made at the very end of a step).
    async fn send_current_code(&self, session: &str, secret: &str) -> Answer {
        let step = current_step();
        let answer = self.totp(session, &code_at(secret, step)).await;
        if answer.code() == Some("invalid_code") && current_step() != step {
            return self.totp(session, &code_at(secret, current_step())).await;
        }
        answer
    }

    async fn challenge(&self, username: &str, password: &str) -> StaffChallenge {
        self.staff_sign_in(username, password).await.expect(200)
    }

    /// Enrols `kitchen` directly in Cognito (as an authenticator app and
    /// the Cognito console would), bypassing the API.
    async fn enrol_kitchen_in_cognito(&self) {
        let cognito = Cognito::new(&self.sdk);
        let pool = self.stack.user_pool_id().unwrap();
        let signed_in = cognito
            .admin_initiate_auth()
            .user_pool_id(pool)
            .client_id(self.stack.get("UserPoolClient").unwrap())
            .auth_flow(AuthFlowType::AdminUserPasswordAuth)
            .auth_parameters("USERNAME", "kitchen")
            .auth_parameters("PASSWORD", KITCHEN_PASSWORD)
            .send()
            .await
            .unwrap();
        let access_token = signed_in
            .authentication_result()
            .unwrap()
            .access_token()
            .unwrap()
            .to_owned();
        let secret = cognito
            .associate_software_token()
            .access_token(&access_token)
            .send()
            .await
            .unwrap()
            .secret_code()
            .unwrap()
            .to_owned();
        let step = current_step();
        let mut verified = cognito
            .verify_software_token()
            .access_token(&access_token)
            .user_code(code_at(&secret, step))
            .send()
            .await;
        if verified.is_err() && current_step() != step {
            verified = cognito
                .verify_software_token()
                .access_token(&access_token)
                .user_code(code_at(&secret, current_step()))
                .send()
                .await;
        }
        verified.unwrap();
        cognito
            .admin_set_user_mfa_preference()
            .user_pool_id(pool)
            .username("kitchen")
            .software_token_mfa_settings(
                SoftwareTokenMfaSettingsType::builder()
                    .enabled(true)
                    .preferred_mfa(true)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn under_required_mfa_a_staff_member_enrols_then_signs_in_with_real_codes() {
    let app = spawn_app_with(&[("StaffMfa", "required")]).await;

    let setup_challenge = app.challenge("kitchen", KITCHEN_PASSWORD).await;
    assert_eq!(setup_challenge.challenge, "totp_setup");
    let setup: TotpSetup = app.totp_setup(&setup_challenge.session).await.expect(200);
    assert!(
        setup.otpauth_uri.starts_with("otpauth://totp/")
            && setup
                .otpauth_uri
                .contains(&format!("secret={}", setup.secret)),
        "{}",
        setup.otpauth_uri
    );
    app.totp(&setup.session, &wrong_code(&setup.secret))
        .await
        .expect_error(401, "invalid_code");
    let enrolled: StaffTokens = app
        .send_current_code(&setup.session, &setup.secret)
        .await
        .expect(200);
    let claims = app.claims_of(&enrolled.access_token).await;
    assert_eq!(
        (claims.role, claims.exp - claims.iat),
        (shared::Role::Kitchen, 900)
    );
    app.refresh(&enrolled.refresh_token)
        .await
        .expect::<StaffTokens>(200);

    let challenge = app.challenge("kitchen", KITCHEN_PASSWORD).await;
    assert_eq!(challenge.challenge, "totp");
    app.totp(&challenge.session, &wrong_code(&setup.secret))
        .await
        .expect_error(401, "invalid_code");
    let signed_in: StaffTokens = app
        .send_current_code(&challenge.session, &setup.secret)
        .await
        .expect(200);
    assert_eq!(app.claims_of(&signed_in.access_token).await.sub, claims.sub);
}

#[tokio::test]
async fn a_sign_in_session_is_used_once_and_fits_only_its_step() {
    let app = spawn_app_with(&[("StaffMfa", "required")]).await;
    let setup_challenge = app.challenge("kitchen", KITCHEN_PASSWORD).await;

    // Not yet set up: the code step refuses it, whatever the code.
    app.totp(&setup_challenge.session, &wrong_code(EMULATOR_SECRET))
        .await
        .expect_error(401, "invalid_session");
    let setup: TotpSetup = app.totp_setup(&setup_challenge.session).await.expect(200);
    app.send_current_code(&setup.session, &setup.secret)
        .await
        .expect::<StaffTokens>(200);

    app.send_current_code(&setup.session, &setup.secret)
        .await
        .expect_error(401, "invalid_session");
    app.totp_setup(&setup.session)
        .await
        .expect_error(401, "invalid_session");
    app.totp_setup("bm90LWEtc2Vzc2lvbg")
        .await
        .expect_error(401, "invalid_session");
    // An enrolled user's `totp` session is no setup session.
    let challenge = app.challenge("kitchen", KITCHEN_PASSWORD).await;
    app.totp_setup(&challenge.session)
        .await
        .expect_error(401, "invalid_session");
}

#[tokio::test]
async fn the_fifth_wrong_code_spends_the_session() {
    let app = spawn_app_with(&[("StaffMfa", "required")]).await;
    let setup_challenge = app.challenge("kitchen", KITCHEN_PASSWORD).await;
    let setup: TotpSetup = app.totp_setup(&setup_challenge.session).await.expect(200);

    for _ in 0..5 {
        app.totp(&setup.session, &wrong_code(&setup.secret))
            .await
            .expect_error(401, "invalid_code");
    }

    app.send_current_code(&setup.session, &setup.secret)
        .await
        .expect_error(401, "invalid_session");
}

#[tokio::test]
async fn under_optional_mfa_an_enrolled_staff_member_still_gets_the_totp_challenge() {
    let app = spawn_app().await;
    app.enrol_kitchen_in_cognito().await;

    let challenge = app.challenge("kitchen", KITCHEN_PASSWORD).await;

    assert_eq!(challenge.challenge, "totp");
    app.totp(&challenge.session, &wrong_code(EMULATOR_SECRET))
        .await
        .expect_error(401, "invalid_code");
    let signed_in: StaffTokens = app
        .send_current_code(&challenge.session, EMULATOR_SECRET)
        .await
        .expect(200);
    assert_eq!(
        app.claims_of(&signed_in.access_token).await.role,
        shared::Role::Kitchen
    );
    // Staff without TOTP still sign in with the password alone.
    app.admin_token().await;
}

#[tokio::test]
async fn a_staff_member_signed_in_with_a_password_enrols_with_the_bearer_token() {
    let app = spawn_app().await;
    let signed_in: StaffTokens = app
        .staff_sign_in("kitchen", KITCHEN_PASSWORD)
        .await
        .expect(200);
    let refreshed: StaffTokens = app.refresh(&signed_in.refresh_token).await.expect(200);
    app.totp_setup_as(&refreshed.access_token)
        .await
        .expect_error(401, "invalid_session");
    app.totp_setup_as(&app.guest_token().await)
        .await
        .expect_error(403, "forbidden");

    let setup: TotpSetup = app.totp_setup_as(&signed_in.access_token).await.expect(200);
    let enrolled: StaffTokens = app
        .send_current_code(&setup.session, &setup.secret)
        .await
        .expect(200);

    assert_eq!(
        app.claims_of(&enrolled.access_token).await.sub,
        app.claims_of(&signed_in.access_token).await.sub
    );
    assert_eq!(
        app.challenge("kitchen", KITCHEN_PASSWORD).await.challenge,
        "totp"
    );
    // The bearer enrolment is used once.
    app.totp_setup_as(&signed_in.access_token)
        .await
        .expect_error(401, "invalid_session");
}
