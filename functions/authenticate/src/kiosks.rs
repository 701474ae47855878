//! Enrolled kiosks: their sign-in, enrolment, list and revocation, and the
//! per-kiosk count of customer sign-ins.

use crate::State;
use crate::tokens::issue;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::domain::kiosk::MAX_KIOSK_NAME_CHARS;
use shared::domain::{KioskId, Subject};
use shared::http::page::{Page, encode_cursor};
use shared::http::{Caller, json_body, json_response, page_params, path_param};
use shared::{Code, Error, Result, Role};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KioskCredentials {
    kiosk_id: String,
    secret: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKiosk {
    name: String,
}

/// The kiosk calling a kiosk route: only a kiosk token gets here (401
/// without a token is the authorizer's; another role is 403).
pub(crate) fn kiosk_of(request: &Request) -> Result<KioskId> {
    let caller = Caller::from_request(request)?;
    caller.require(&[Role::Kiosk])?;
    caller.kiosk_id.ok_or_else(Error::unauthorized_caller)
}

/// One CPF sign-in, signup or guest session of `kiosk`, or 429 past its
/// limit this minute.
pub(crate) async fn count_signin(state: &State, kiosk: &KioskId) -> Result<()> {
    match state
        .kiosks
        .count_signin(
            kiosk.as_str(),
            state.signins_per_minute,
            shared::clock::now(),
        )
        .await?
    {
        Ok(()) => Ok(()),
        Err(retry_after) => {
            tracing::warn!(kiosk_id = %kiosk, "kiosk over its sign-ins per minute");
            Err(Error::TooManyRequests { retry_after })
        }
    }
}

/// `POST /auth/kiosk`: an enrolled kiosk's token. An unknown kiosk, a wrong
/// secret and a revoked kiosk answer alike.
#[tracing::instrument(skip_all)]
pub(crate) async fn authenticate_kiosk(state: &State, request: &Request) -> Result<Response<Body>> {
    let body: KioskCredentials = json_body(request)?;
    let Some(kiosk) = state
        .kiosks
        .authenticate(&body.kiosk_id, &body.secret)
        .await?
    else {
        return Err(Error::unauthorized(
            Code::InvalidCredentials,
            "unknown kiosk or wrong secret",
        ));
    };
    let token = issue(
        state,
        &Subject::Kiosk(kiosk.id.clone()),
        Role::Kiosk,
        Some(&kiosk.id),
    )
    .await?;
    tracing::info!(kiosk_id = %kiosk.id, "kiosk authenticated");
    Ok(json_response(200, &token))
}

/// `POST /kiosks` (admin): enrols a kiosk; its secret is in this answer only.
#[tracing::instrument(skip_all)]
pub(crate) async fn enrol_kiosk(state: &State, request: &Request) -> Result<Response<Body>> {
    Caller::from_request(request)?.require(&[Role::Admin])?;
    let body: NewKiosk = json_body(request)?;
    let name = shared::domain::text::clean(&body.name, MAX_KIOSK_NAME_CHARS).map_err(|_| {
        Error::validation(
            Code::InvalidName,
            "a kiosk name has 1 to 100 characters and no control or invisible formatting characters",
        )
    })?;
    let enrolled = state.kiosks.enrol(&name).await?;
    tracing::info!(kiosk_id = %enrolled.kiosk.id, "kiosk enrolled");
    Ok(json_response(201, &enrolled))
}

const KIOSKS_CURSOR: &str = "kiosks";

/// `GET /kiosks` (admin): the kiosks, never a secret.
#[tracing::instrument(skip_all)]
pub(crate) async fn list_kiosks(state: &State, request: &Request) -> Result<Response<Body>> {
    Caller::from_request(request)?.require(&[Role::Admin])?;
    let (limit, after) = page_params::<String>(request, KIOSKS_CURSOR)?;
    let (items, next) = state.kiosks.list(limit, after).await?;
    Ok(json_response(
        200,
        &Page {
            items,
            next_cursor: next.map(|n| encode_cursor(KIOSKS_CURSOR, &n)),
        },
    ))
}

/// `DELETE /kiosks/{id}` (admin): revoked for good; its tokens die with
/// their 15 minutes, and it gets no new one.
#[tracing::instrument(skip_all)]
pub(crate) async fn revoke_kiosk(state: &State, request: &Request) -> Result<Response<Body>> {
    Caller::from_request(request)?.require(&[Role::Admin])?;
    let not_found = || Error::not_found(Code::KioskNotFound, "no such kiosk");
    let id = path_param(request, "id")
        .and_then(KioskId::parse)
        .ok_or_else(not_found)?;
    if !state.kiosks.revoke(&id).await? {
        return Err(not_found());
    }
    tracing::info!(kiosk_id = %id, "kiosk revoked");
    Ok(shared::http::empty_response(204))
}
