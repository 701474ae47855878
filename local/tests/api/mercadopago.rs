//! The Mercado Pago adapter (`shared::payments::mercadopago`) against the
//! local stand-in (`kiosk_local::mercadopago`): idempotent creation, the
//! customer paying or being refused, cancellation, refund, expiry, signed
//! notifications, and how failures reach the caller.

use kiosk_local::mercadopago::{LOCAL_ACCESS_TOKEN, StandIn, StandInConfig};
use serde_json::{Value, json};
use shared::domain::{IdempotencyKey, Money, OrderId};
use shared::payments::credentials::AccessToken;
use shared::payments::mercadopago::{Bounds, MercadoPago, MercadoPagoSettings};
use shared::payments::signature::{SignatureError, verify};
use shared::payments::{
    MpOrder, MpOrderStatus, PaymentError, PaymentGateway, ProviderOrderId, QrItem, QrOrderRequest,
};
use std::time::Duration;
use tokio::sync::mpsc;

const POS: &str = "KIOSK001POS001";

/// A notification as the webhook received it.
#[derive(Debug)]
struct Received {
    data_id: Option<String>,
    kind: Option<String>,
    signature: Option<String>,
    request_id: Option<String>,
    body: Value,
}

impl Received {
    fn verifies_with(&self, secret: &str) -> Result<(), SignatureError> {
        verify(
            self.signature.as_deref(),
            self.request_id.as_deref(),
            self.data_id.as_deref(),
            &[secret],
        )
    }
}

/// The stand-in, the adapter pointed at it, and the notifications it sent.
struct Provider {
    stand_in: StandIn,
    gateway: MercadoPago,
    secret: String,
    http: reqwest::Client,
    webhooks: mpsc::UnboundedReceiver<Received>,
}

async fn spawn_provider() -> Provider {
    let (webhook_url, webhooks) = spawn_webhook().await;
    let config = StandInConfig {
        webhook_secret: format!("secret-{}", uuid::Uuid::new_v4()),
        ..StandInConfig::local(Some(webhook_url))
    };
    let secret = config.webhook_secret.clone();
    let (_, stand_in) = kiosk_local::mercadopago::spawn(config).await.unwrap();
    let gateway = gateway_at(&stand_in.base_url(), LOCAL_ACCESS_TOKEN, Bounds::default());
    Provider {
        stand_in,
        gateway,
        secret,
        http: reqwest::Client::new(),
        webhooks,
    }
}

fn gateway_at(url: &str, token: &str, bounds: Bounds) -> MercadoPago {
    let mut settings = MercadoPagoSettings::new(url, POS).unwrap();
    settings.bounds = bounds;
    MercadoPago::new(settings, AccessToken::parse(token).unwrap()).unwrap()
}

/// A webhook endpoint that answers 200 and hands over what it received.
async fn spawn_webhook() -> (String, mpsc::UnboundedReceiver<Received>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let app = axum::Router::new().fallback(
        move |query: axum::extract::RawQuery,
              headers: axum::http::HeaderMap,
              body: axum::body::Bytes| {
            let sender = sender.clone();
            async move {
                let query = query.0.unwrap_or_default();
                let param = |name: &str| {
                    form_urlencoded::parse(query.as_bytes())
                        .find(|(key, _)| key == name)
                        .map(|(_, value)| value.into_owned())
                };
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let _ = sender.send(Received {
                    data_id: param("data.id"),
                    kind: param("type"),
                    signature: header("x-signature"),
                    request_id: header("x-request-id"),
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                });
                "ok"
            }
        },
    );
    let url = crate::helpers::serve(app).await;
    (format!("{url}/webhooks/mercadopago"), receiver)
}

fn qr_request(cents: i64) -> QrOrderRequest {
    let order_id = OrderId::generate();
    QrOrderRequest {
        idempotency_key: IdempotencyKey::parse(&format!("payment-{order_id}")).unwrap(),
        order_id,
        total: Money::cents(cents),
        expires_at: time::OffsetDateTime::now_utc() + time::Duration::minutes(15),
        items: vec![QrItem {
            title: "X-Burger".into(),
            unit_price: Money::cents(cents),
            quantity: 1,
        }],
    }
}

impl Provider {
    async fn created(&self, cents: i64) -> MpOrder {
        self.gateway
            .create_qr_order(&qr_request(cents))
            .await
            .unwrap()
    }

    /// `POST /simulate/orders/{id}/{action}`: the stand-in's answer.
    async fn simulate(&self, id: &ProviderOrderId, action: &str, notify: bool) -> (u16, Value) {
        let query = if notify { "" } else { "?notify=false" };
        let url = format!(
            "{}/simulate/orders/{id}/{action}{query}",
            self.stand_in.base_url()
        );
        let response = self.http.post(url).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn next_webhook(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(10), self.webhooks.recv())
            .await
            .expect("no notification within 10 s")
            .expect("the webhook endpoint stopped")
    }

    async fn status_of(&self, id: &ProviderOrderId) -> MpOrderStatus {
        self.gateway.get_order(id).await.unwrap().status
    }
}

fn rejected_with(result: Result<MpOrder, PaymentError>) -> Option<u16> {
    match result {
        Err(PaymentError::Rejected { status, .. }) => status,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn a_creation_repeated_under_its_key_answers_the_first_order_and_another_body_is_refused() {
    let provider = spawn_provider().await;
    let request = qr_request(2490);

    let first = provider.gateway.create_qr_order(&request).await.unwrap();
    let repeat = provider.gateway.create_qr_order(&request).await.unwrap();
    let other_amount = QrOrderRequest {
        total: Money::cents(2590),
        ..request.clone()
    };
    let conflicting = provider.gateway.create_qr_order(&other_amount).await;

    assert_eq!(repeat, first);
    assert_eq!(rejected_with(conflicting), Some(409));
    let read = provider.gateway.get_order(&first.id).await.unwrap();
    assert_eq!(read, first, "one order, as created");
    assert_eq!(
        (read.status, read.total, read.paid),
        (MpOrderStatus::Pending, Money::cents(2490), None)
    );
    assert_eq!(read.external_reference, Some(request.order_id));
    assert!(read.qr_data.is_some_and(|qr| qr.starts_with("000201")));
}

#[tokio::test]
async fn a_payment_makes_the_order_paid_and_its_notification_verifies() {
    let mut provider = spawn_provider().await;
    let order = provider.created(4980).await;

    let (status, answer) = provider.simulate(&order.id, "pay", true).await;

    assert_eq!(
        (status, &answer["notification"]),
        (200, &json!({"action": "order.processed", "status": 200}))
    );
    let notified = provider.next_webhook().await;
    assert_eq!(notified.data_id.as_deref(), Some(order.id.as_str()));
    assert_eq!(notified.kind.as_deref(), Some("order"));
    assert_eq!(notified.verifies_with(&provider.secret), Ok(()));
    assert_eq!(
        notified.verifies_with("another-secret"),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        (
            &notified.body["action"],
            &notified.body["type"],
            &notified.body["data"]["id"]
        ),
        (
            &json!("order.processed"),
            &json!("order"),
            &json!(order.id.as_str())
        )
    );
    let paid = provider.gateway.get_order(&order.id).await.unwrap();
    assert_eq!(
        (
            paid.status,
            paid.raw_status.as_str(),
            paid.status_detail.as_str()
        ),
        (MpOrderStatus::Paid, "processed", "accredited")
    );
    assert_eq!(paid.paid, Some(Money::cents(4980)));
}

#[tokio::test]
async fn a_refused_payment_fails_the_order_and_is_notified() {
    let mut provider = spawn_provider().await;
    let order = provider.created(1000).await;

    let (status, _) = provider.simulate(&order.id, "reject", true).await;

    assert_eq!(status, 200);
    let notified = provider.next_webhook().await;
    assert_eq!(notified.body["action"], "order.failed");
    assert_eq!(notified.verifies_with(&provider.secret), Ok(()));
    assert_eq!(provider.status_of(&order.id).await, MpOrderStatus::Failed);
    let (again, _) = provider.simulate(&order.id, "pay", true).await;
    assert_eq!(again, 409, "a failed order cannot be paid any more");
}

#[tokio::test]
async fn notify_false_changes_the_state_without_a_notification() {
    let mut provider = spawn_provider().await;
    let order = provider.created(1000).await;

    let (status, answer) = provider.simulate(&order.id, "pay", false).await;

    // The stand-in answers after delivering its notifications, so one sent
    // would be in the channel already.
    assert_eq!((status, &answer["notification"]), (200, &Value::Null));
    assert!(provider.webhooks.try_recv().is_err());
    assert_eq!(provider.status_of(&order.id).await, MpOrderStatus::Paid);
}

#[tokio::test]
async fn an_unpaid_order_is_cancelled_once_and_a_paid_one_is_refunded_once() {
    let mut provider = spawn_provider().await;
    let unpaid = provider.created(1500).await;
    let paid = provider.created(2500).await;
    provider.simulate(&paid.id, "pay", false).await;
    let refund_key = IdempotencyKey::parse(&format!("refund-{}", paid.id)).unwrap();

    let cancelled = provider.gateway.cancel_order(&unpaid.id).await.unwrap();
    let cancelled_again = provider.gateway.cancel_order(&unpaid.id).await.unwrap();
    let refunded = provider
        .gateway
        .refund_order(&paid.id, &refund_key)
        .await
        .unwrap();
    let refunded_again = provider
        .gateway
        .refund_order(&paid.id, &refund_key)
        .await
        .unwrap();

    assert_eq!(cancelled.status, MpOrderStatus::Cancelled);
    assert_eq!(cancelled_again, cancelled, "the same key, the same answer");
    assert_eq!(refunded.status, MpOrderStatus::Refunded);
    assert_eq!(refunded_again, refunded);
    let actions = [provider.next_webhook().await, provider.next_webhook().await]
        .map(|received| received.body["action"].as_str().map(str::to_owned));
    assert!(
        actions.contains(&Some("order.canceled".into())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&Some("order.refunded".into())),
        "{actions:?}"
    );
    assert_eq!(
        rejected_with(provider.gateway.cancel_order(&paid.id).await),
        Some(409)
    );
    let unpaid_key = IdempotencyKey::parse("refund-unpaid").unwrap();
    let refund_unpaid = provider.gateway.refund_order(&unpaid.id, &unpaid_key).await;
    assert_eq!(rejected_with(refund_unpaid), Some(409));
}

#[tokio::test]
async fn an_unpaid_order_expires_when_its_time_is_up_and_is_notified() {
    let mut provider = spawn_provider().await;
    // The adapter sends whole minutes; the stand-in takes any duration.
    let body = json!({
        "type": "qr",
        "external_reference": "order-expiring",
        "total_amount": "10.00",
        "expiration_time": "PT1S",
        "config": {"qr": {"external_pos_id": POS, "mode": "dynamic"}},
        "transactions": {"payments": [{"amount": "10.00"}]},
    });
    let created: Value = provider
        .http
        .post(format!("{}/v1/orders", provider.stand_in.base_url()))
        .bearer_auth(LOCAL_ACCESS_TOKEN)
        .header("X-Idempotency-Key", "expiring-1")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = ProviderOrderId::parse(created["id"].as_str().unwrap()).unwrap();

    let notified = provider.next_webhook().await;

    assert_eq!(notified.body["action"], "order.expired");
    assert_eq!(notified.data_id.as_deref(), Some(id.as_str()));
    assert_eq!(provider.status_of(&id).await, MpOrderStatus::Expired);
    let (status, _) = provider.simulate(&id, "pay", true).await;
    assert_eq!(status, 409, "an expired order cannot be paid");
}

#[tokio::test]
async fn the_stand_in_wants_the_token_and_an_idempotency_key() {
    let provider = spawn_provider().await;
    let order = provider.created(1000).await;
    let wrong_token = gateway_at(
        &provider.stand_in.base_url(),
        "TEST-not-the-token",
        Bounds::default(),
    );

    let unauthorized = wrong_token.get_order(&order.id).await;
    let unknown = provider
        .gateway
        .get_order(&ProviderOrderId::parse("ORD01UNKNOWN").unwrap())
        .await;
    let keyless = provider
        .http
        .post(format!(
            "{}/v1/orders/{}/cancel",
            provider.stand_in.base_url(),
            order.id
        ))
        .bearer_auth(LOCAL_ACCESS_TOKEN)
        .send()
        .await
        .unwrap();

    assert_eq!(rejected_with(unauthorized), Some(401));
    assert_eq!(unknown, Err(PaymentError::NotFound));
    assert_eq!(keyless.status().as_u16(), 400);
    assert_eq!(provider.status_of(&order.id).await, MpOrderStatus::Pending);
}

#[tokio::test]
async fn a_stopped_provider_is_unavailable_within_the_call_bound() {
    let mut provider = spawn_provider().await;
    let order = provider.created(1000).await;
    provider.stand_in.stop().await;

    let started = std::time::Instant::now();
    let answer = provider.gateway.get_order(&order.id).await;
    let took = started.elapsed();

    assert!(
        matches!(answer, Err(PaymentError::Unavailable(_))),
        "{answer:?}"
    );
    assert!(took < Bounds::default().operation, "took {took:?}");
}

#[tokio::test]
async fn a_provider_that_never_answers_is_unavailable_at_the_call_bound() {
    // Accepts connections and never answers on them.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let bounds = Bounds {
        attempt: Duration::from_millis(300),
        operation: Duration::from_millis(800),
        ..Bounds::default()
    };
    let gateway = gateway_at(&url, LOCAL_ACCESS_TOKEN, bounds);

    let started = std::time::Instant::now();
    let answer = gateway.create_qr_order(&qr_request(1000)).await;
    let took = started.elapsed();

    assert!(
        matches!(answer, Err(PaymentError::Unavailable(_))),
        "{answer:?}"
    );
    assert!(
        took < bounds.operation + Duration::from_millis(200),
        "took {took:?}"
    );
}
