//! Enrolled kiosks: their sign-in, enrolment, list and revocation, and the
//! per-kiosk count of customer sign-ins.

use crate::State;
use crate::tokens::issue;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::domain::kiosk::MAX_KIOSK_NAME_CHARS;
use shared::domain::token::Scope;
use shared::domain::{KioskId, StoreId, Subject};
use shared::http::page::{Page, encode_cursor};
use shared::http::{Caller, json_body, json_response, page_params, path_param, query_param};
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
    store_id: String,
    /// Its own Mercado Pago point of sale (else its store's).
    #[serde(default)]
    mercadopago_pos_id: Option<serde_json::Value>,
}

/// The kiosk calling a kiosk route, and the scope of the sessions it opens
/// (its store and itself): only a kiosk token gets here (401 without a token
/// is the authorizer's; another role is 403).
pub(crate) fn kiosk_of(request: &Request) -> Result<(KioskId, Scope)> {
    let caller = Caller::from_request(request)?;
    caller.require(&[Role::Kiosk])?;
    caller.kiosk_scope()
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
    let scope = Scope::kiosk(kiosk.store_id.clone(), kiosk.id.clone())
        .on_pos(kiosk.mercadopago_pos_id.clone());
    let token = issue(
        state,
        &Subject::Kiosk(kiosk.id.clone()),
        Role::Kiosk,
        &scope,
    )
    .await?;
    tracing::info!(kiosk_id = %kiosk.id, "kiosk authenticated");
    Ok(json_response(200, &token))
}

/// The caller if it manages kiosks (admins, managers); whether it may act on
/// store `store` is [`manages`].
fn kiosk_manager(request: &Request) -> Result<Caller> {
    let caller = Caller::from_request(request)?;
    caller.require(&[Role::Manager, Role::Admin])?;
    Ok(caller)
}

/// Whether `caller` (an admin or a manager) may manage `store`'s kiosks: an
/// admin every store's, a manager its own.
fn manages(caller: &Caller, store: &StoreId) -> bool {
    caller.role == Role::Admin || caller.store_id.as_ref() == Some(store)
}

/// `POST /kiosks` (admin; manager of that store): enrols a kiosk at an
/// existing store (404 `store_not_found` otherwise, and for another store's
/// manager); its secret is in this answer only. Its Mercado Pago point of
/// sale is an admin's to set (a manager's is 403).
#[tracing::instrument(skip_all)]
pub(crate) async fn enrol_kiosk(state: &State, request: &Request) -> Result<Response<Body>> {
    let caller = kiosk_manager(request)?;
    let body: NewKiosk = json_body(request)?;
    let name = shared::domain::text::clean(&body.name, MAX_KIOSK_NAME_CHARS).map_err(|_| {
        Error::validation(
            Code::InvalidName,
            "a kiosk name has 1 to 100 characters and no control or invisible formatting characters",
        )
    })?;
    let store = StoreId::parse(&body.store_id).ok_or_else(Error::store_not_found)?;
    if !manages(&caller, &store) || !state.stores.exists(&store).await? {
        return Err(Error::store_not_found());
    }
    // Where the chain's money is paid in is the chain's, as a store's is.
    let pos = match body.mercadopago_pos_id.as_ref() {
        None => None,
        Some(_) if caller.role != Role::Admin => {
            return Err(Error::forbidden(
                Code::Forbidden,
                "a kiosk's point of sale is the chain's: an admin sets it",
            ));
        }
        Some(pos) => Some(shared::domain::payment::pos_id(pos)?),
    };
    let enrolled = state.kiosks.enrol(&name, &store, pos).await?;
    tracing::info!(kiosk_id = %enrolled.kiosk.id, store_id = %store, "kiosk enrolled");
    Ok(json_response(201, &enrolled))
}

const KIOSKS_CURSOR: &str = "kiosks";

/// `GET /kiosks[?store_id=]` (admin: the chain's or one store's; manager:
/// its own store's, another's 403), never a secret.
#[tracing::instrument(skip_all)]
pub(crate) async fn list_kiosks(state: &State, request: &Request) -> Result<Response<Body>> {
    let caller = kiosk_manager(request)?;
    let asked = query_param(request, "store_id")
        .map(|id| StoreId::parse(id).ok_or_else(Error::store_not_found))
        .transpose()?;
    let store = match (caller.role, asked) {
        (Role::Admin, asked) => asked,
        (_, None) => Some(
            caller
                .store_id
                .clone()
                .ok_or_else(Error::unauthorized_caller)?,
        ),
        (_, Some(asked)) if manages(&caller, &asked) => Some(asked),
        _ => return Err(Error::role_forbidden()),
    };
    // The cursor names its store, so a page of one store's list never
    // continues another's.
    let kind = match &store {
        Some(store) => format!("{KIOSKS_CURSOR}#{store}"),
        None => KIOSKS_CURSOR.to_owned(),
    };
    let (limit, after) = page_params::<String>(request, &kind)?;
    let (items, next) = state.kiosks.list(store.as_ref(), limit, after).await?;
    Ok(json_response(
        200,
        &Page {
            items,
            next_cursor: next.map(|n| encode_cursor(&kind, &n)),
        },
    ))
}

/// `DELETE /kiosks/{id}` (admin; manager of its store, else 404): revoked
/// for good; its tokens die with their 15 minutes, and it gets no new one.
#[tracing::instrument(skip_all)]
pub(crate) async fn revoke_kiosk(state: &State, request: &Request) -> Result<Response<Body>> {
    let caller = kiosk_manager(request)?;
    let not_found = || Error::not_found(Code::KioskNotFound, "no such kiosk");
    let id = path_param(request, "id")
        .and_then(KioskId::parse)
        .ok_or_else(not_found)?;
    let of_store = match caller.role {
        Role::Admin => None,
        _ => Some(
            caller
                .store_id
                .as_ref()
                .ok_or_else(Error::unauthorized_caller)?,
        ),
    };
    if !state.kiosks.revoke(&id, of_store).await? {
        return Err(not_found());
    }
    tracing::info!(kiosk_id = %id, "kiosk revoked");
    Ok(shared::http::empty_response(204))
}
