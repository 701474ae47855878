//! The test-only routes that play the customer: `POST
//! /simulate/orders/{id}/pay` and `.../reject` (`?notify=false` to skip the
//! notification).

use super::orders::StandInOrder;
use super::routes::change;
use super::server::{Shared, answer};
use super::status::{Detail, Status};
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;

/// The customer pays: the order is `processed`, `accredited`.
pub(super) async fn simulate_pay(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    simulate(shared, &id, query.as_deref(), |order| {
        order.enter(Status::Processed, Detail::Accredited, Detail::Accredited);
        order.payment.paid = true;
    })
    .await
}

/// The customer's card is refused: the order is `failed`.
pub(super) async fn simulate_reject(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    simulate(shared, &id, query.as_deref(), |order| {
        order.enter(Status::Failed, Detail::Failed, Detail::RejectedByIssuer);
    })
    .await
}

/// The customer pays or is refused: the order must still be `created`.
async fn simulate(
    shared: Arc<Shared>,
    id: &str,
    query: Option<&str>,
    outcome: impl FnOnce(&mut StandInOrder),
) -> Response {
    let notify = !form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .any(|(name, value)| name == "notify" && value == "false");
    let (reply, mut notices) = {
        let mut books = shared.books();
        change(&mut books, id, |order| {
            order.require(Status::Created, "order_not_payable", |status| {
                format!("the order is {status}")
            })?;
            outcome(order);
            Ok(())
        })
    };
    let (status, order) = reply;
    if !status.is_success() {
        shared.notify_later(notices);
        return answer((status, order));
    }
    // The outcome's notice is the last; an expiry cannot precede a success.
    let notice = notices.pop();
    let notification = match notice.filter(|_| notify) {
        None => Value::Null,
        Some(notice) => match shared.notify(&notice).await {
            Ok(status) => json!({"action": notice.action, "status": status}),
            Err(error) => json!({"action": notice.action, "error": error}),
        },
    };
    answer((
        status,
        json!({"order": order, "notification": notification}),
    ))
}
