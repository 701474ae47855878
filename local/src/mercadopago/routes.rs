//! The Orders API routes the kiosk calls: create, read, cancel, refund.

use super::create::new_order;
use super::orders::{Notice, StandInOrder, mp_id};
use super::server::{Answer, Books, Shared, answer, failure};
use super::status::Status;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::sync::Arc;

/// `POST /v1/orders`: a new order, `created`, expiring at its
/// `expiration_time`.
pub(super) async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = format!("POST /v1/orders {}", String::from_utf8_lossy(&body));
    shared.keyed(&headers, request, |books| {
        let order = match new_order(&body) {
            Ok(order) => order,
            Err(message) => {
                return (
                    failure(StatusCode::BAD_REQUEST, "invalid_properties", &message),
                    Vec::new(),
                );
            }
        };
        let reply = (StatusCode::CREATED, order.to_json());
        books.orders.insert(order.id.clone(), order);
        (reply, Vec::new())
    })
}

/// `GET /v1/orders/{id}`: the order (expired first if its time has come).
pub(super) async fn read(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = shared.unauthorized(&headers) {
        return refused;
    }
    let (reply, notices) = match shared.books().touch(&id) {
        Ok((order, notices)) => ((StatusCode::OK, order.to_json()), notices),
        Err(missing) => (missing, Vec::new()),
    };
    shared.notify_later(notices);
    answer(reply)
}

/// Applies `change` to order `id` (once its expiry is settled); answers
/// `status` with the order, and the notice of the status it moved to.
pub(super) fn change(
    books: &mut Books,
    id: &str,
    status: StatusCode,
    change: impl FnOnce(&mut StandInOrder) -> Result<(), Answer>,
) -> (Answer, Vec<Notice>) {
    let (order, mut notices) = match books.touch(id) {
        Ok(touched) => touched,
        Err(missing) => return (missing, Vec::new()),
    };
    match change(order) {
        Ok(()) => {
            notices.push(order.notice());
            ((status, order.to_json()), notices)
        }
        Err(refused) => (refused, notices),
    }
}

/// `POST /v1/orders/{id}/cancel`: a `created` order is canceled, unless a
/// payment is in progress on it (409 `instore_order_locked_error`).
pub(super) async fn cancel(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = keyed_request(&id, "cancel", &body);
    shared.keyed(&headers, request, |books| {
        change(books, &id, StatusCode::OK, |order| {
            order.require(Status::Created, "order_cannot_be_canceled", |status| {
                format!("an order {status} cannot be canceled")
            })?;
            order.require_unlocked("canceled")?;
            order.enter(Status::Canceled);
            Ok(())
        })
    })
}

/// `POST /v1/orders/{id}/refund`: a `processed` order is refunded in full,
/// 201; one refunded already is 409 `order_already_refunded`.
pub(super) async fn refund(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = keyed_request(&id, "refund", &body);
    shared.keyed(&headers, request, |books| {
        change(books, &id, StatusCode::CREATED, |order| {
            if order.status == Status::Refunded {
                return Err(failure(
                    StatusCode::CONFLICT,
                    "order_already_refunded",
                    "the order was refunded already",
                ));
            }
            order.require(Status::Processed, "order_cannot_be_refunded", |status| {
                format!("an order {status} cannot be refunded")
            })?;
            order.enter(Status::Refunded);
            order.refund_id = Some(mp_id("REF"));
            Ok(())
        })
    })
}

/// What a `POST /v1/orders/{id}/{verb}` is remembered by under its key.
fn keyed_request(id: &str, verb: &str, body: &[u8]) -> String {
    format!(
        "POST /v1/orders/{id}/{verb} {}",
        String::from_utf8_lossy(body)
    )
}
