//! `POST /simulate/faults`: the next calls to one of the Orders API routes
//! fail, with a 500 or with no answer in time; nothing else happens to them.

use super::server::{Shared, answer, error};
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a `timeout` fault holds a request before it answers 504: past
/// the adapter's attempt timeout (3 s), which gives up first.
pub(super) const FAULT_HOLD: Duration = Duration::from_secs(4);

/// The most calls one fault may fail.
const MAX_TIMES: u32 = 1000;

/// An Orders API route the stand-in serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Route {
    /// `POST /v1/orders`
    Create,
    /// `GET /v1/orders/{id}`
    Get,
    /// `POST /v1/orders/{id}/cancel`
    Cancel,
    /// `POST /v1/orders/{id}/refund`
    Refund,
}

impl Route {
    /// The route a request is for, if it is one of them.
    fn of(method: &Method, path: &str) -> Option<Self> {
        let rest = path.strip_prefix("/v1/orders")?;
        if rest.is_empty() {
            return (method == Method::POST).then_some(Route::Create);
        }
        let rest = rest.strip_prefix('/').filter(|r| !r.is_empty())?;
        match (method, rest.split_once('/')) {
            (&Method::GET, None) => Some(Route::Get),
            (&Method::POST, Some((_, "cancel"))) => Some(Route::Cancel),
            (&Method::POST, Some((_, "refund"))) => Some(Route::Refund),
            _ => None,
        }
    }
}

/// How a call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// This status (500, or a 4xx Mercado Pago answers for good, such as
    /// 401 for a revoked token), in Mercado Pago's error shape.
    Status(u16),
    /// No answer for [`super::StandInConfig::fault_hold`], then 504.
    Timeout,
}

/// The faults armed: each route's, with the calls it still fails.
#[derive(Default)]
pub(super) struct Faults(Mutex<HashMap<Route, (Fault, u32)>>);

impl Faults {
    /// The fault the next call to `route` meets, counted.
    fn take(&self, route: Route) -> Option<Fault> {
        let mut armed = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (fault, left) = armed.get_mut(&route)?;
        let fault = *fault;
        *left -= 1;
        if *left == 0 {
            armed.remove(&route);
        }
        Some(fault)
    }
}

/// `{"route", "status": 500 | 4xx | "timeout", "times"}` (`times` 1 by
/// default).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Arm {
    route: Route,
    status: Value,
    times: Option<u32>,
}

/// `POST /simulate/faults`: arms a fault (replacing the route's previous
/// one; `times: 0` disarms it); answers what was armed.
pub(super) async fn arm(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let invalid = |message: &str| error(StatusCode::BAD_REQUEST, "invalid_properties", message);
    let Ok(arm) = serde_json::from_slice::<Arm>(&body) else {
        return invalid(
            "the body must be {\"route\": \"create\"|\"get\"|\"cancel\"|\"refund\", \"status\": 500|4xx|\"timeout\", \"times\": n}",
        );
    };
    let fault = match &arm.status {
        Value::Number(n) => match n.as_u64().and_then(|n| u16::try_from(n).ok()) {
            Some(status @ 400..=500) => Fault::Status(status),
            _ => return invalid("status must be 500, a 4xx or \"timeout\""),
        },
        Value::String(s) if s == "timeout" => Fault::Timeout,
        _ => return invalid("status must be 500, a 4xx or \"timeout\""),
    };
    let times = arm.times.unwrap_or(1);
    if times > MAX_TIMES {
        return invalid("times must be at most 1000");
    }
    {
        let mut armed = shared.faults.0.lock().unwrap_or_else(|e| e.into_inner());
        if times == 0 {
            armed.remove(&arm.route);
        } else {
            armed.insert(arm.route, (fault, times));
        }
    }
    answer((
        StatusCode::OK,
        json!({"route": arm.route, "status": arm.status, "times": times}),
    ))
}

/// Fails a call to an Orders API route if a fault is armed for it.
pub(super) async fn inject(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let fault = Route::of(request.method(), request.uri().path())
        .and_then(|route| shared.faults.take(route));
    match fault {
        None => next.run(request).await,
        Some(Fault::Status(status)) => {
            let code = match status {
                401 => "unauthorized",
                500 => "internal_error",
                _ => "bad_request",
            };
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            error(status, code, "a fault armed with POST /simulate/faults")
        }
        Some(Fault::Timeout) => {
            let mut stopped = shared.stopped.clone();
            tokio::select! {
                _ = tokio::time::sleep(shared.config.fault_hold) => {}
                _ = stopped.wait_for(|stopped| *stopped) => {}
            }
            error(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                "a fault armed with POST /simulate/faults: no answer in time",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_told_apart_by_route() {
        let cases = [
            (Method::POST, "/v1/orders", Some(Route::Create)),
            (Method::GET, "/v1/orders/ORD1", Some(Route::Get)),
            (Method::POST, "/v1/orders/ORD1/cancel", Some(Route::Cancel)),
            (Method::POST, "/v1/orders/ORD1/refund", Some(Route::Refund)),
            (Method::GET, "/v1/orders", None),
            (Method::POST, "/v1/orders/ORD1", None),
            (Method::GET, "/v1/orders/ORD1/cancel", None),
            (Method::POST, "/v1/ordersX", None),
            (Method::POST, "/simulate/orders/ORD1/pay", None),
        ];
        for (method, path, route) in cases {
            assert_eq!(Route::of(&method, path), route, "{method} {path}");
        }
    }

    #[test]
    fn a_fault_fails_the_calls_it_was_armed_for_and_no_more() {
        let faults = Faults::default();
        faults
            .0
            .lock()
            .unwrap()
            .insert(Route::Get, (Fault::Timeout, 2));

        assert_eq!(faults.take(Route::Cancel), None);
        assert_eq!(faults.take(Route::Get), Some(Fault::Timeout));
        assert_eq!(faults.take(Route::Get), Some(Fault::Timeout));
        assert_eq!(faults.take(Route::Get), None);
    }

    #[test]
    fn a_timeout_outlasts_the_adapters_attempt() {
        let bounds = shared::payments::mercadopago::Bounds::default();
        assert!(FAULT_HOLD > bounds.attempt && FAULT_HOLD > bounds.operation);
    }
}
