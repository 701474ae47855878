//! The test-only routes that play the customer and Mercado Pago's clock
//! (no token needed), each on an order still `created`:
//!
//! - `POST /simulate/orders/{id}/start`: the payer opened the QR and is
//!   paying: the order can be neither canceled (409
//!   `instore_order_locked_error`) nor expired;
//! - `POST /simulate/orders/{id}/abandon`: they gave up (a declined card
//!   too): unlocked, and expired now if its time has come meanwhile;
//! - `POST /simulate/orders/{id}/pay?notify=true|false|unsigned&paid_amount=<decimal>`:
//!   paid, `processed`; `paid_amount` (the total by default) below the
//!   total plays a Mercado Pago discount;
//! - `POST /simulate/orders/{id}/expire`: its expiration time comes now: it
//!   expires, unless a payment is in progress (409
//!   `instore_order_locked_error`; it expires if that payment is
//!   abandoned).
//!
//! Each answers `{"order", "notification"}` once the notification of what
//! happened got its first answer (`notification`: `{"action", "status"}`,
//! `null` when none was sent; see [`Shared::deliver`]). `notify` (every
//! route takes it; `true` by default): `false` sends none, `unsigned` sends
//! it without `x-signature`.

use super::notify::Signing;
use super::orders::{Notice, StandInOrder};
use super::server::{Answer, Shared, answer, error, failure};
use super::status::Status;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use shared::payments::{format_amount, parse_amount};
use std::sync::Arc;
use tokio::time::Instant;

/// What the query asks.
struct Asked {
    /// How to notify; `None`: not at all.
    notify: Option<Signing>,
    paid_amount: Option<String>,
}

/// What a route does to the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Start,
    Abandon,
    Pay,
    Expire,
}

impl Action {
    fn of(name: &str) -> Option<Self> {
        match name {
            "start" => Some(Action::Start),
            "abandon" => Some(Action::Abandon),
            "pay" => Some(Action::Pay),
            "expire" => Some(Action::Expire),
            _ => None,
        }
    }

    /// Does it to `order` (its expiry settled); the notice of what
    /// happened, if anything did that Mercado Pago notifies.
    fn act(self, order: &mut StandInOrder, asked: &Asked) -> Result<Option<Notice>, Answer> {
        let now = Instant::now();
        match self {
            Action::Start => {
                require_created(order)?;
                order.in_progress = true;
                Ok(None)
            }
            Action::Abandon => {
                require_created(order)?;
                order.in_progress = false;
                Ok(order.settle(now))
            }
            Action::Pay => {
                require_created(order)?;
                let paid = match &asked.paid_amount {
                    None => order.total_amount.clone(),
                    Some(paid) => discounted(paid, &order.total_amount)?,
                };
                order.paid_amount = Some(paid);
                order.enter(Status::Processed);
                Ok(Some(order.notice()))
            }
            Action::Expire => {
                order.require(Status::Created, "order_cannot_expire", |status| {
                    format!("the order is {status}")
                })?;
                order.expires_at = order.expires_at.min(now);
                order.require_unlocked("expired before the payer gives up")?;
                Ok(order.settle(now))
            }
        }
    }
}

/// 409 `order_not_payable` unless the order is `created`.
fn require_created(order: &StandInOrder) -> Result<(), Answer> {
    order.require(Status::Created, "order_not_payable", |status| {
        format!("the order is {status}")
    })
}

/// `paid`, with two decimals, if it is more than zero and at most `total`.
fn discounted(paid: &str, total: &str) -> Result<String, Answer> {
    let total = parse_amount(total);
    parse_amount(paid)
        .filter(|paid| paid.as_cents() > 0 && Some(*paid) <= total)
        .and_then(format_amount)
        .ok_or_else(|| {
            failure(
                StatusCode::BAD_REQUEST,
                "invalid_properties",
                "paid_amount must be a decimal above zero and at most the order's total",
            )
        })
}

/// `POST /simulate/orders/{id}/{action}`: settles order `id`, does
/// `action` to it, and delivers the notice of what happened as the query
/// asks; `{"order", "notification"}`.
pub(super) async fn simulate(
    State(shared): State<Arc<Shared>>,
    Path((id, action)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(action) = Action::of(&action) else {
        return error(StatusCode::NOT_FOUND, "not_found", "no such route");
    };
    let asked = match asked(query.as_deref().unwrap_or_default()) {
        Ok(asked) => asked,
        Err(message) => return error(StatusCode::BAD_REQUEST, "invalid_properties", &message),
    };
    let (outcome, settled) = {
        let mut books = shared.books();
        match books.touch(&id) {
            Err(missing) => (Err(missing), Vec::new()),
            Ok((order, settled)) => {
                let outcome = action
                    .act(order, &asked)
                    .map(|notice| (order.to_json(), notice));
                (outcome, settled)
            }
        }
    };
    shared.notify_later(settled);
    let (order, notice) = match outcome {
        Ok(done) => done,
        Err(refused) => return answer(refused),
    };
    let notification = match (notice, asked.notify) {
        (Some(notice), Some(signing)) => shared.deliver(&notice, signing).await,
        _ => Value::Null,
    };
    answer((
        StatusCode::OK,
        json!({"order": order, "notification": notification}),
    ))
}

/// `notify=true|false|unsigned` and `paid_amount=<decimal>`, or what is
/// wrong with them; other parameters are ignored.
fn asked(query: &str) -> Result<Asked, String> {
    let mut asked = Asked {
        notify: Some(Signing::Signed),
        paid_amount: None,
    };
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "notify" => {
                asked.notify = match value.as_ref() {
                    "true" => Some(Signing::Signed),
                    "false" => None,
                    "unsigned" => Some(Signing::Unsigned),
                    _ => return Err("notify must be true, false or unsigned".into()),
                }
            }
            "paid_amount" => asked.paid_amount = Some(value.into_owned()),
            _ => {}
        }
    }
    Ok(asked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_says_how_to_notify() {
        let notify = |query: &str| asked(query).map(|asked| asked.notify);
        assert_eq!(notify(""), Ok(Some(Signing::Signed)));
        assert_eq!(notify("notify=true"), Ok(Some(Signing::Signed)));
        assert_eq!(notify("notify=false"), Ok(None));
        assert_eq!(notify("notify=unsigned&x=1"), Ok(Some(Signing::Unsigned)));
        assert!(notify("notify=no").is_err());
        let paid = asked("paid_amount=20.5").unwrap().paid_amount;
        assert_eq!(paid.as_deref(), Some("20.5"));
    }

    #[test]
    fn a_discount_is_paid_with_two_decimals_and_never_above_the_total() {
        assert_eq!(discounted("20.5", "24.90"), Ok("20.50".to_owned()));
        assert_eq!(discounted("24.90", "24.90"), Ok("24.90".to_owned()));
        for bad in ["24.91", "0", "0.00", "-1", "abc", ""] {
            let refused = discounted(bad, "24.90").unwrap_err();
            assert_eq!(refused.0, StatusCode::BAD_REQUEST, "{bad}");
        }
    }
}
