//! Staff sign-in (Cognito user pool: the `kitchen` and `admin` groups) and
//! staff sessions: 15-minute access tokens with opaque refresh tokens,
//! rotated on every use and revocable (the layout: `shared::store::sessions`).
//!
//! - `POST /auth/refresh`: a new pair; the old token is spent. A spent token
//!   presented again (a replay, or the loser of two concurrent uses) revokes
//!   its whole family. A staff member disabled in Cognito, gone, or outside
//!   every staff group gets no new token (and the family is revoked). Every
//!   refusal is the same 401 `invalid_refresh_token`.
//! - `POST /auth/logout` (any staff token): revokes the family of the
//!   refresh token in the body if it is the caller's; 204 either way, so the
//!   answer says nothing about anyone else's tokens.
//! - `DELETE /staff/{username}/sessions` (admin): revokes every family of
//!   that user and signs them out of Cognito (AdminUserGlobalSignOut: the
//!   Cognito token a sign-in keeps for TOTP enrolment dies too); 404
//!   `staff_not_found` for no such user.
//!
//! Access tokens are not revoked: the authorizer makes no network call, so a
//! revocation takes effect when the access token expires (15 minutes).

use crate::State;
use crate::tokens::issue;
use crate::totp;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::clock::now_unix;
use shared::domain::Subject;
use shared::domain::token::{IssuedToken, Scope};
use shared::http::{Caller, bearer, empty_response, json_body, json_response, path_param};
use shared::store::directory::{Staff, StaffSignIn};
use shared::store::sessions::{StaffSession, digest, new_secret};
use shared::{Code, Error, Result, Role};

/// `STAFF_MFA`: whether staff must sign in with TOTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffMfa {
    /// Staff without TOTP are sent to enrol before they get tokens.
    Required,
    /// Staff without TOTP get tokens with their password alone; those with
    /// TOTP are still asked for a code.
    Optional,
}

impl StaffMfa {
    pub fn parse(value: Option<&str>) -> Option<Self> {
        match value {
            None | Some("required") => Some(StaffMfa::Required),
            Some("optional") => Some(StaffMfa::Optional),
            Some(_) => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StaffCredentials {
    username: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    refresh_token: String,
}

/// A staff sign-in's answer: the access token and its refresh token.
#[derive(Serialize)]
pub(crate) struct StaffTokens {
    #[serde(flatten)]
    token: IssuedToken,
    refresh_token: String,
}

/// A sign-in that needs a TOTP step next: `totp` or `totp_setup`.
#[derive(Serialize)]
pub(crate) struct Challenge {
    pub challenge: &'static str,
    pub session: String,
}

/// Where a staff member's sessions belong: an admin's are the chain's; a
/// `kitchen` or `manager` belongs to the store of its `custom:store_id`, and
/// without one gets no token (403 `not_staff`: staff of no store).
pub(crate) fn staff_scope(staff: &Staff) -> Result<Scope> {
    if !staff.role.is_store_bound() {
        return Ok(Scope::chain());
    }
    match &staff.store_id {
        Some(store) => Ok(Scope::store(store.clone())),
        None => {
            tracing::warn!(staff_id = %staff.id, role = %staff.role, "store staff without a store");
            Err(Error::forbidden(
                Code::NotStaff,
                "this staff member belongs to no store",
            ))
        }
    }
}

/// Signs an access token for `staff` and starts a family of refresh tokens.
pub(crate) async fn issue_staff(
    state: &State,
    staff: &Staff,
    username: &str,
) -> Result<StaffTokens> {
    let scope = staff_scope(staff)?;
    let token = issue(state, &Subject::Staff(staff.id.clone()), staff.role, &scope).await?;
    let refresh_token = new_secret()?;
    let who = StaffSession {
        username,
        staff_id: &staff.id,
    };
    let family = state
        .sessions
        .start_family(&who, &digest(&refresh_token), refresh_expiry(state))
        .await?;
    tracing::info!(staff_id = %staff.id, role = %staff.role, family = %family, "staff authenticated");
    Ok(StaffTokens {
        token,
        refresh_token,
    })
}

fn refresh_expiry(state: &State) -> i64 {
    now_unix().saturating_add(i64::try_from(state.refresh_ttl.as_secs()).unwrap_or(i64::MAX / 2))
}

#[tracing::instrument(skip_all)]
pub(crate) async fn authenticate_staff(state: &State, request: &Request) -> Result<Response<Body>> {
    let body: StaffCredentials = json_body(request)?;
    let invalid = || Error::unauthorized(Code::InvalidCredentials, "wrong username or password");
    if body.username.is_empty()
        || body.username.len() > 128
        || body.password.is_empty()
        || body.password.len() > 256
    {
        return Err(invalid());
    }
    match state
        .directory
        .sign_in_staff(&body.username, &body.password)
        .await?
    {
        StaffSignIn::SignedIn {
            staff,
            cognito_access_token,
        } => {
            if state.mfa == StaffMfa::Required {
                let enrolled = state
                    .directory
                    .staff_account(&body.username)
                    .await?
                    .is_some_and(|account| account.totp);
                if !enrolled {
                    let challenge =
                        totp::start_setup(state, &body.username, &cognito_access_token).await?;
                    tracing::info!(staff_id = %staff.id, "staff sent to enrol TOTP");
                    return Ok(json_response(200, &challenge));
                }
            }
            // No TOTP yet (Cognito would have asked for a code): the new
            // access token may enrol one (`POST /auth/staff/totp/setup`).
            let tokens = issue_staff(state, &staff, &body.username).await?;
            totp::allow_bearer_enrolment(
                state,
                &body.username,
                &tokens.token.access_token,
                tokens.token.expires_in,
                &cognito_access_token,
            )
            .await?;
            Ok(json_response(200, &tokens))
        }
        StaffSignIn::TotpRequired { cognito_session } => {
            let challenge = totp::start_challenge(state, &body.username, &cognito_session).await?;
            Ok(json_response(200, &challenge))
        }
        StaffSignIn::InvalidCredentials => Err(invalid()),
        StaffSignIn::PasswordChangeRequired => Err(Error::forbidden(
            Code::PasswordChangeRequired,
            "this password must be changed before use",
        )),
        StaffSignIn::NotStaff => Err(Error::forbidden(
            Code::NotStaff,
            "this user is not kitchen or admin staff",
        )),
    }
}

fn invalid_refresh_token() -> Error {
    Error::unauthorized(
        Code::InvalidRefreshToken,
        "the refresh token is not valid: sign in again",
    )
}

/// The refresh token of a body, if it could be one of ours.
fn refresh_token_of(request: &Request) -> Result<String> {
    let body: RefreshBody = json_body(request)?;
    if body.refresh_token.is_empty() || body.refresh_token.len() > 128 {
        return Err(invalid_refresh_token());
    }
    Ok(body.refresh_token)
}

/// `POST /auth/refresh`.
#[tracing::instrument(skip_all)]
pub(crate) async fn refresh(state: &State, request: &Request) -> Result<Response<Body>> {
    let presented = refresh_token_of(request)?;
    let hash = digest(&presented);
    let now = now_unix();
    let Some(stored) = state.sessions.refresh_token(&hash).await? else {
        tracing::info!("unknown refresh token");
        return Err(invalid_refresh_token());
    };
    if stored.expires_at <= now {
        tracing::info!(family = %stored.family, "expired refresh token");
        return Err(invalid_refresh_token());
    }
    if stored.spent {
        state.sessions.revoke_family(&stored.family).await?;
        tracing::warn!(family = %stored.family, staff_id = %stored.staff_id,
            "a spent refresh token was presented again: its family is revoked");
        return Err(invalid_refresh_token());
    }
    if !state.sessions.family_alive(&stored.family, now).await? {
        tracing::info!(family = %stored.family, "refresh token of a revoked family");
        return Err(invalid_refresh_token());
    }
    // The directory decides, now: disabled, removed from the staff groups,
    // deleted (or deleted and created again: another `sub`) ends the session.
    let account = state.directory.staff_account(&stored.username).await?;
    // Under STAFF_MFA=required a session without TOTP (begun while it was
    // optional, or before the device was reset) ends too.
    let (role, store_id) = match account {
        Some(account)
            if account.enabled
                && account.id == stored.staff_id
                && (account.totp || state.mfa != StaffMfa::Required) =>
        {
            (account.role, account.store_id)
        }
        _ => (None, None),
    };
    let Some(role) = role else {
        state.sessions.revoke_family(&stored.family).await?;
        tracing::info!(family = %stored.family, staff_id = %stored.staff_id,
            "staff member disabled, out of the staff groups or without the required TOTP: family revoked");
        return Err(invalid_refresh_token());
    };
    let next = new_secret()?;
    let rotated = state
        .sessions
        .rotate(&hash, &stored, &digest(&next), refresh_expiry(state))
        .await?;
    if !rotated {
        state.sessions.revoke_family(&stored.family).await?;
        tracing::warn!(family = %stored.family, staff_id = %stored.staff_id,
            "a refresh token was used twice at once: its family is revoked");
        return Err(invalid_refresh_token());
    }
    let staff = Staff {
        id: stored.staff_id,
        role,
        store_id,
    };
    // Moved out of every store meanwhile: the family ends as for a lost role.
    let scope = match staff_scope(&staff) {
        Ok(scope) => scope,
        Err(_) => {
            state.sessions.revoke_family(&stored.family).await?;
            return Err(invalid_refresh_token());
        }
    };
    let token = issue(state, &Subject::Staff(staff.id.clone()), staff.role, &scope).await?;
    tracing::info!(staff_id = %staff.id, role = %staff.role, family = %stored.family, "staff token refreshed");
    Ok(json_response(
        200,
        &StaffTokens {
            token,
            refresh_token: next,
        },
    ))
}

/// `POST /auth/logout`: 204 whether or not the token was the caller's.
#[tracing::instrument(skip_all)]
pub(crate) async fn logout(state: &State, request: &Request) -> Result<Response<Body>> {
    let caller = Caller::from_request(request)?;
    let Subject::Staff(staff_id) = &caller.subject else {
        return Err(Error::role_forbidden());
    };
    if !caller.role.is_staff() {
        return Err(Error::role_forbidden());
    }
    let presented = refresh_token_of(request)?;
    // The caller's access token may no longer start a TOTP enrolment.
    if let Some(token) = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)
    {
        state.sessions.claim_mfa(&digest(token)).await?;
    }
    if let Some(stored) = state.sessions.refresh_token(&digest(&presented)).await? {
        let owner = state.sessions.family_owner(&stored.family).await?;
        if owner.as_deref() == Some(staff_id.as_str()) {
            state.sessions.revoke_family(&stored.family).await?;
            tracing::info!(staff_id = %staff_id, family = %stored.family, "staff signed out");
        } else {
            tracing::warn!(staff_id = %staff_id, "logout with another staff member's refresh token: ignored");
        }
    }
    Ok(empty_response(204))
}

/// Whether `role` may end another staff member's sessions: an admin's
/// anyone's, a manager those of its own store's staff.
fn may_end_sessions(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Manager)
}

/// `DELETE /staff/{username}/sessions`.
#[tracing::instrument(skip_all)]
pub(crate) async fn end_sessions(state: &State, request: &Request) -> Result<Response<Body>> {
    let caller = Caller::from_request(request)?;
    if !may_end_sessions(caller.role) {
        return Err(Error::role_forbidden());
    }
    let not_found = || Error::not_found(Code::StaffNotFound, "no such staff member");
    let username = path_param(request, "username").ok_or_else(not_found)?;
    let Some(account) = state.directory.staff_account(username).await? else {
        return Err(not_found());
    };
    // A manager sees only its own store's kitchen and managers: anyone else
    // (another store's, an admin, a user of no staff group) is not found.
    if caller.role == Role::Manager
        && (account.role.is_none_or(|r| !r.is_store_bound())
            || account.store_id.is_none()
            || account.store_id != caller.store_id)
    {
        return Err(not_found());
    }
    let revoked = state.sessions.revoke_staff(&account.id).await?;
    // The Cognito access tokens our sign-in steps keep (bearer enrolment)
    // die too: no new tokens through a TOTP enrolment either.
    state.directory.sign_out_everywhere(username).await?;
    tracing::info!(by = %caller.subject, staff_id = %account.id, families = revoked,
        "staff sessions ended");
    Ok(empty_response(204))
}
