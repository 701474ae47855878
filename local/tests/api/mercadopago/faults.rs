//! `POST /simulate/faults`: the next calls to a route fail with a 500 or
//! with no answer past the adapter's attempt timeout, as many as asked, and
//! change nothing; the adapter's retries and bounds meet them.

use super::{
    LOCAL_ACCESS_TOKEN, Provider, gateway_at, qr_request, spawn_provider, spawn_provider_with,
};
use serde_json::{Value, json};
use shared::payments::mercadopago::Bounds;
use shared::payments::{MpOrderStatus, PaymentError, PaymentGateway};
use std::time::{Duration, Instant};

impl Provider {
    /// `POST /simulate/faults` with `body`: the stand-in's status.
    async fn arm(&self, body: Value) -> u16 {
        let url = format!("{}/simulate/faults", self.stand_in.base_url());
        let answer = self.http.post(url).json(&body).send().await.unwrap();
        answer.status().as_u16()
    }
}

#[tokio::test]
async fn a_500_fails_as_many_calls_to_its_route_as_asked() {
    let provider = spawn_provider().await;
    let order = provider.created(1000).await;
    provider.stand_in.take_calls();

    // One 500: the adapter's retry gets the order.
    let armed = provider
        .arm(json!({"route": "get", "status": 500, "times": 1}))
        .await;
    let read = provider.gateway.get_order(&order.id).await;
    assert_eq!(armed, 200);
    assert_eq!(read.map(|o| o.status), Ok(MpOrderStatus::Pending));
    let get = format!("GET /v1/orders/{}", order.id);
    let calls = provider.stand_in.take_calls();
    assert_eq!(calls, ["POST /simulate/faults", get.as_str(), get.as_str()]);

    // As many 500s as the adapter has attempts: unavailable, nothing
    // cancelled; the next cancel goes through.
    provider
        .arm(json!({"route": "cancel", "status": 500, "times": 3}))
        .await;
    let cancel = provider.gateway.cancel_order(&order.id).await;
    assert!(
        matches!(cancel, Err(PaymentError::Unavailable(_))),
        "{cancel:?}"
    );
    assert_eq!(provider.status_of(&order.id).await, MpOrderStatus::Pending);
    let cancelled = provider.gateway.cancel_order(&order.id).await.unwrap();
    assert_eq!(cancelled.status, MpOrderStatus::Cancelled);

    // In Mercado Pago's error shape.
    provider.arm(json!({"route": "get", "status": 500})).await;
    let path = format!("/v1/orders/{}", order.id);
    let (status, body) = provider.call(reqwest::Method::GET, &path, None).await;
    assert_eq!(
        (status, &body["errors"][0]["code"]),
        (500, &json!("internal_error"))
    );
}

#[tokio::test]
async fn a_timeout_outlasts_the_attempt_and_creates_nothing() {
    // The adapter's bounds and the stand-in's hold, scaled down together.
    let bounds = Bounds {
        attempt: Duration::from_millis(300),
        operation: Duration::from_millis(800),
        ..Bounds::default()
    };
    let provider = spawn_provider_with(|config| {
        config.fault_hold = Duration::from_millis(500);
    })
    .await;
    let gateway = gateway_at(&provider.stand_in.base_url(), LOCAL_ACCESS_TOKEN, bounds);
    let request = qr_request(1000);

    provider
        .arm(json!({"route": "create", "status": "timeout", "times": 5}))
        .await;
    let started = Instant::now();
    let refused = gateway.create_qr_order(&request).await;
    let took = started.elapsed();

    assert!(
        matches!(refused, Err(PaymentError::Unavailable(_))),
        "{refused:?}"
    );
    assert!(took >= bounds.attempt, "took {took:?}");
    assert!(
        took < bounds.operation + Duration::from_millis(200),
        "took {took:?}"
    );
    // Disarmed, the same request creates the order: the key was never used.
    provider
        .arm(json!({"route": "create", "status": "timeout", "times": 0}))
        .await;
    let created = gateway.create_qr_order(&request).await.unwrap();
    assert_eq!(created.status, MpOrderStatus::Pending);
    // One timeout: the adapter's second attempt reads the order.
    provider
        .arm(json!({"route": "get", "status": "timeout"}))
        .await;
    let started = Instant::now();
    let read = gateway.get_order(&created.id).await.unwrap();
    assert_eq!(read.id, created.id);
    assert!(started.elapsed() >= bounds.attempt);
}

#[tokio::test]
async fn a_fault_is_a_route_a_status_and_a_count() {
    let provider = spawn_provider().await;
    for bad in [
        json!({"route": "pay", "status": 500}),
        json!({"route": "get", "status": 503}),
        json!({"route": "get", "status": "slow"}),
        json!({"route": "get", "status": 500, "times": 1001}),
        json!({"route": "get"}),
    ] {
        assert_eq!(provider.arm(bad.clone()).await, 400, "{bad}");
    }
    let order = provider.created(1000).await;
    assert_eq!(provider.status_of(&order.id).await, MpOrderStatus::Pending);
}
