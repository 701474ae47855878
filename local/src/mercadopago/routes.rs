//! The Orders API routes the kiosk calls: create, read, cancel, refund.

use super::create::new_order;
use super::orders::{Notice, StandInOrder, mp_id};
use super::server::{Answer, Books, Shared, answer, failure};
use super::status::{Detail, Status};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::sync::Arc;

/// `POST /v1/orders`: a new order, `created`, its expiry timed.
pub(super) async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = format!("POST /v1/orders {}", String::from_utf8_lossy(&body));
    let expiries = shared.clone();
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
        tokio::spawn(expiries.expire_at(order.id.clone(), order.expires_at));
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
    let (reply, notice) = {
        let mut books = shared.books();
        match books.orders.get_mut(&id) {
            Some(order) => {
                let notice = order.settle();
                ((StatusCode::OK, order.to_json()), notice)
            }
            None => (
                failure(StatusCode::NOT_FOUND, "order_not_found", "no such order"),
                None,
            ),
        }
    };
    shared.notify_later(notice.into_iter().collect());
    answer(reply)
}

/// Applies `change` to order `id` (once its expiry is settled); the notice
/// of the status it moved to.
pub(super) fn change(
    books: &mut Books,
    id: &str,
    change: impl FnOnce(&mut StandInOrder) -> Result<(), Answer>,
) -> (Answer, Vec<Notice>) {
    let Some(order) = books.orders.get_mut(id) else {
        return (
            failure(StatusCode::NOT_FOUND, "order_not_found", "no such order"),
            Vec::new(),
        );
    };
    let mut notices: Vec<Notice> = order.settle().into_iter().collect();
    match change(order) {
        Ok(()) => {
            notices.push(order.notice());
            ((StatusCode::OK, order.to_json()), notices)
        }
        Err(refused) => (refused, notices),
    }
}

/// `POST /v1/orders/{id}/cancel`: a `created` order is canceled.
pub(super) async fn cancel(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    keyed_change(&shared, &id, &headers, &body, "cancel", |order| {
        order.require(Status::Created, "order_cannot_be_canceled", |status| {
            format!("an order {status} cannot be canceled")
        })?;
        order.enter(Status::Canceled, Detail::Canceled, Detail::Canceled);
        Ok(())
    })
}

/// `POST /v1/orders/{id}/refund`: a `processed` order is refunded in full.
pub(super) async fn refund(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    keyed_change(&shared, &id, &headers, &body, "refund", |order| {
        order.require(Status::Processed, "order_cannot_be_refunded", |status| {
            format!("an order {status} cannot be refunded")
        })?;
        order.enter(Status::Refunded, Detail::Refunded, Detail::Refunded);
        order.refund_id = Some(mp_id("REF"));
        Ok(())
    })
}

/// `POST /v1/orders/{id}/{verb}` under its idempotency key: [`change`].
fn keyed_change(
    shared: &Arc<Shared>,
    id: &str,
    headers: &HeaderMap,
    body: &[u8],
    verb: &str,
    act: impl FnOnce(&mut StandInOrder) -> Result<(), Answer>,
) -> Response {
    let request = format!(
        "POST /v1/orders/{id}/{verb} {}",
        String::from_utf8_lossy(body)
    );
    shared.keyed(headers, request, |books| change(books, id, act))
}
