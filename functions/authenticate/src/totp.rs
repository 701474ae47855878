//! Staff TOTP (Cognito software tokens): the step between the password and
//! the code.
//!
//! A sign-in that needs a code answers `{"challenge","session"}`. The
//! `session` is ours: 32 random bytes (base64url), stored in the sessions
//! table only as its SHA-256 (`mfa#<sha256>`), living 5 minutes, used once.
//! What the next step needs from Cognito (its `Session` for the
//! SOFTWARE_TOKEN_MFA challenge, or the user's Cognito access token for
//! enrolment, which Cognito gives only to a password sign-in) is stored
//! sealed (ChaCha20-Poly1305) under a key derived from the session value,
//! which only the client holds: the table alone opens nothing, and no
//! Cognito credential ever reaches the client. A session proves the
//! password was right; it cannot be had without it.
//!
//! - `totp` (the user has TOTP): `POST /auth/staff/totp {"session","code"}`
//!   answers Cognito's challenge (AdminRespondToAuthChallenge).
//! - `totp_setup` (`STAFF_MFA=required` and no TOTP yet):
//!   `POST /auth/staff/totp/setup {"session"}` → the secret
//!   (AssociateSoftwareToken), then `POST /auth/staff/totp` verifies the
//!   first code (VerifySoftwareToken) and makes TOTP the user's MFA
//!   (AdminSetUserMFAPreference): tokens.
//!
//! - A signed-in staff member (`STAFF_MFA=optional`, no TOTP yet) enrols
//!   with `POST /auth/staff/totp/setup`, bearer token and no body. Cognito
//!   gives the enrolment only to the user's own Cognito credential, which
//!   our token does not carry: so a password sign-in that answers tokens
//!   directly keeps the Cognito access token sealed under the access token
//!   it issued (`mfa#<sha256(access token)>`, kind `bearer`, until that token
//!   expires). Bearer enrolment therefore works with the access token of a
//!   password sign-in, for its 15 minutes; a refreshed token is answered
//!   `invalid_session` (sign in again to enrol).
//!
//! A wrong code is 401 `invalid_code`; the fifth spends the session. A
//! session that is unknown, expired, used or of the wrong kind is 401
//! `invalid_session` (sign in again).

use crate::State;
use crate::staff::{Challenge, issue_staff};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use lambda_http::{Body, Request, Response};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use serde::{Deserialize, Serialize};
use shared::clock::now_unix;
use shared::http::{bearer, json_body, json_response};
use shared::store::directory::{Staff, TotpOutcome};
use shared::store::sessions::{MfaStep, digest, new_secret};
use shared::{Code, Error, Result};

/// How long a sign-in step waits for its code (Cognito's own sessions live 3
/// minutes by default; enrolling takes a little longer).
const STEP_SECONDS: i64 = 300;
/// Wrong codes a step takes; the last one spends it.
const MAX_WRONG_CODES: u32 = 5;
const CHALLENGE: &str = "challenge";
const SETUP: &str = "setup";
const BEARER: &str = "bearer";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetupBody {
    session: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    session: String,
    code: String,
}

#[derive(Serialize)]
struct Setup {
    secret: String,
    otpauth_uri: String,
    session: String,
}

fn invalid_session() -> Error {
    Error::unauthorized(
        Code::InvalidSession,
        "this sign-in session is unknown, expired or used: sign in again",
    )
}

fn invalid_code() -> Error {
    Error::unauthorized(Code::InvalidCode, "the code is not valid")
}

/// The key a session value seals its step's credential with (never the
/// hash the table is keyed by).
fn key(session: &str) -> Result<LessSafeKey> {
    let material = ring::digest::digest(
        &ring::digest::SHA256,
        format!("kiosk staff totp step v1\n{session}").as_bytes(),
    );
    let key = UnboundKey::new(&CHACHA20_POLY1305, material.as_ref())
        .map_err(|_| Error::internal("the sealing key was refused"))?;
    Ok(LessSafeKey::new(key))
}

/// `secret` sealed under `session`: base64url(nonce ‖ ciphertext ‖ tag).
fn seal(session: &str, secret: &str) -> Result<String> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| Error::internal(e.to_string()))?;
    let mut sealed = secret.as_bytes().to_vec();
    key(session)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::empty(),
            &mut sealed,
        )
        .map_err(|_| Error::internal("sealing failed"))?;
    let mut out = nonce.to_vec();
    out.extend(sealed);
    Ok(B64.encode(out))
}

/// What [`seal`] sealed under `session`; `None` for any other session.
fn open(session: &str, sealed: &str) -> Option<String> {
    let bytes = B64.decode(sealed).ok()?;
    if bytes.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut ciphertext = ciphertext.to_vec();
    let plain = key(session)
        .ok()?
        .open_in_place(nonce, Aad::empty(), &mut ciphertext)
        .ok()?;
    String::from_utf8(plain.to_vec()).ok()
}

async fn start(state: &State, kind: &str, username: &str, credential: &str) -> Result<Challenge> {
    let session = new_secret()?;
    let step = MfaStep {
        kind: kind.to_owned(),
        username: username.to_owned(),
        sealed: seal(&session, credential)?,
        associated: false,
        expires_at: now_unix() + STEP_SECONDS,
    };
    state.sessions.put_mfa(&digest(&session), &step).await?;
    Ok(Challenge {
        challenge: if kind == SETUP { "totp_setup" } else { "totp" },
        session,
    })
}

/// `{"challenge":"totp"}`: Cognito asked for a code.
pub(crate) async fn start_challenge(
    state: &State,
    username: &str,
    cognito_session: &str,
) -> Result<Challenge> {
    start(state, CHALLENGE, username, cognito_session).await
}

/// `{"challenge":"totp_setup"}`: the user must enrol first.
pub(crate) async fn start_setup(
    state: &State,
    username: &str,
    cognito_access_token: &str,
) -> Result<Challenge> {
    start(state, SETUP, username, cognito_access_token).await
}

/// Keeps what enrolling by bearer token needs: the Cognito access token of
/// a password sign-in, sealed under the access token it gave, until that
/// expires.
pub(crate) async fn allow_bearer_enrolment(
    state: &State,
    username: &str,
    access_token: &str,
    expires_in: u64,
    cognito_access_token: &str,
) -> Result<()> {
    let step = MfaStep {
        kind: BEARER.to_owned(),
        username: username.to_owned(),
        sealed: seal(access_token, cognito_access_token)?,
        associated: false,
        expires_at: now_unix().saturating_add(i64::try_from(expires_in).unwrap_or(0)),
    };
    state.sessions.put_mfa(&digest(access_token), &step).await
}

/// A session from a body and its step, opened; `invalid_session` otherwise.
/// (A bearer token, already verified, is the session of a `bearer` step.)
async fn step_of(state: &State, session: &str) -> Result<(String, MfaStep, String)> {
    if session.is_empty() || session.len() > 4096 {
        return Err(invalid_session());
    }
    let hash = digest(session);
    let step = state
        .sessions
        .mfa(&hash, now_unix())
        .await?
        .ok_or_else(invalid_session)?;
    let credential = open(session, &step.sealed).ok_or_else(invalid_session)?;
    Ok((hash, step, credential))
}

/// `otpauth://` for authenticator apps (Key Uri Format).
fn otpauth_uri(issuer: &str, username: &str, secret: &str) -> String {
    fn escape(text: &str) -> String {
        text.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }
    let (issuer, username) = (escape(issuer), escape(username));
    format!("otpauth://totp/{issuer}:{username}?secret={secret}&issuer={issuer}")
}

/// The bearer token of a request without a body, if that is what it is.
fn bearer_without_body(request: &Request) -> Option<&str> {
    if !request.body().as_ref().iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)
}

/// `POST /auth/staff/totp/setup`, bearer token and no body: a new `setup`
/// session for the caller, its secret handed out.
async fn setup_by_bearer(state: &State, token: &str) -> Result<Response<Body>> {
    let claims = state
        .tokens
        .verify(token)
        .map_err(|_| Error::unauthorized_caller())?;
    if !claims.role.is_staff() {
        return Err(Error::role_forbidden());
    }
    let (hash, step, cognito_access_token) = step_of(state, token).await?;
    if step.kind != BEARER {
        return Err(invalid_session());
    }
    // A bearer token alone never replaces an enrolled device: whoever stole
    // a 15-minute token could otherwise take the second factor over.
    let enrolled = state.directory.staff_account(&step.username).await?;
    if enrolled.is_some_and(|account| account.totp) {
        return Err(Error::forbidden(
            shared::Code::Forbidden,
            "a TOTP device is already enrolled; an admin resets it",
        ));
    }
    if !state.sessions.claim_mfa(&hash).await? {
        return Err(invalid_session());
    }
    let Some(secret) = state
        .directory
        .associate_totp(&cognito_access_token)
        .await?
    else {
        return Err(invalid_session());
    };
    let session = new_secret()?;
    let setup = MfaStep {
        kind: SETUP.to_owned(),
        username: step.username,
        sealed: seal(&session, &cognito_access_token)?,
        associated: true,
        expires_at: now_unix() + STEP_SECONDS,
    };
    state.sessions.put_mfa(&digest(&session), &setup).await?;
    let issuer = &state.tokens.settings().issuer;
    Ok(json_response(
        200,
        &Setup {
            otpauth_uri: otpauth_uri(issuer, &setup.username, &secret),
            secret,
            session,
        },
    ))
}

/// `POST /auth/staff/totp/setup {"session"}`, or with a bearer token and no
/// body.
#[tracing::instrument(skip_all)]
pub(crate) async fn setup(state: &State, request: &Request) -> Result<Response<Body>> {
    if let Some(token) = bearer_without_body(request) {
        return setup_by_bearer(state, token).await;
    }
    let body: SetupBody = json_body(request)?;
    let (hash, step, cognito_access_token) = step_of(state, &body.session).await?;
    // One secret per session: a second call would replace the one handed out.
    if step.kind != SETUP || step.associated {
        return Err(invalid_session());
    }
    let Some(secret) = state
        .directory
        .associate_totp(&cognito_access_token)
        .await?
    else {
        state.sessions.claim_mfa(&hash).await?;
        return Err(invalid_session());
    };
    if !state.sessions.mark_associated(&hash).await? {
        return Err(invalid_session());
    }
    let issuer = &state.tokens.settings().issuer;
    Ok(json_response(
        200,
        &Setup {
            otpauth_uri: otpauth_uri(issuer, &step.username, &secret),
            secret,
            session: body.session,
        },
    ))
}

/// `POST /auth/staff/totp {"session","code"}`: tokens.
#[tracing::instrument(skip_all)]
pub(crate) async fn verify(state: &State, request: &Request) -> Result<Response<Body>> {
    let body: CodeBody = json_body(request)?;
    let (hash, step, credential) = step_of(state, &body.session).await?;
    // Every attempt is counted before Cognito sees its code (one conditional
    // ADD): parallel guesses cannot pass the limit. The sixth is refused.
    if !state
        .sessions
        .count_attempt(&hash, MAX_WRONG_CODES + 1)
        .await?
    {
        return Err(invalid_session());
    }
    let well_formed = body.code.len() == 6 && body.code.bytes().all(|b| b.is_ascii_digit());
    let outcome = if !well_formed {
        TotpOutcome::Wrong
    } else if step.kind == CHALLENGE {
        state
            .directory
            .answer_totp(&step.username, &credential, &body.code)
            .await?
    } else if step.kind == SETUP && step.associated {
        match state
            .directory
            .enrol_totp(&step.username, &credential, &body.code)
            .await?
        {
            TotpOutcome::Done(()) => match state.directory.staff_account(&step.username).await? {
                Some(account) if account.enabled => match account.role {
                    Some(role) => TotpOutcome::Done(Staff {
                        id: account.id,
                        role,
                        store_id: account.store_id,
                    }),
                    None => TotpOutcome::Expired,
                },
                _ => TotpOutcome::Expired,
            },
            TotpOutcome::Wrong => TotpOutcome::Wrong,
            TotpOutcome::Expired => TotpOutcome::Expired,
        }
    } else {
        return Err(invalid_session());
    };
    match outcome {
        TotpOutcome::Done(staff) => {
            // One use: of two concurrent right codes, one gets tokens.
            if !state.sessions.claim_mfa(&hash).await? {
                return Err(invalid_session());
            }
            if step.kind == SETUP {
                tracing::info!(staff_id = %staff.id, "staff enrolled TOTP");
            }
            Ok(json_response(
                200,
                &issue_staff(state, &staff, &step.username).await?,
            ))
        }
        TotpOutcome::Wrong => {
            tracing::info!("wrong TOTP code");
            Err(invalid_code())
        }
        // Not deleted here: of two concurrent right codes, Cognito may call
        // the second one's session used; the first still claims the step.
        TotpOutcome::Expired => Err(invalid_session()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_credential_opens_only_with_its_session() {
        let sealed = seal("session-a", "cognito-token").unwrap();
        assert_eq!(open("session-a", &sealed).as_deref(), Some("cognito-token"));
        assert_eq!(open("session-b", &sealed), None);
        assert!(!sealed.contains("cognito"));
    }

    #[test]
    fn the_otpauth_uri_escapes_the_names() {
        assert_eq!(
            otpauth_uri("kiosk dev", "ana@x", "ABC"),
            "otpauth://totp/kiosk%20dev:ana%40x?secret=ABC&issuer=kiosk%20dev"
        );
    }
}
