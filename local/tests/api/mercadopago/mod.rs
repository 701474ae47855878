//! The Mercado Pago adapter (`shared::payments::mercadopago`) against the
//! local stand-in (`kiosk_local::mercadopago`), and the stand-in behaving as
//! Mercado Pago does where it matters (API.md, "Payment with Mercado Pago
//! (v3)"): idempotent creation, statuses, the payer paying or giving up,
//! cancellation, refund, expiry, and how failures reach the caller. Its
//! notifications are in `notifications`, its armed faults in `faults`.

mod faults;
mod notifications;

use kiosk_local::mercadopago::{LOCAL_ACCESS_TOKEN, StandIn, StandInConfig};
use serde_json::{Value, json};
use shared::domain::{IdempotencyKey, Money, OrderId};
use shared::payments::credentials::AccessToken;
use shared::payments::mercadopago::{Bounds, MercadoPago, MercadoPagoSettings};
use shared::payments::{
    MpOrder, MpOrderStatus, PaymentError, PaymentGateway, ProviderOrderId, QrItem, QrOrderRequest,
};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
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

/// What the test's webhook answers a notification.
#[derive(Debug, Clone, Copy)]
enum Reply {
    Status(u16),
    /// Answers 200 after this long.
    After(Duration),
}

/// The stand-in, the adapter pointed at it, and the notifications it sent.
struct Provider {
    stand_in: StandIn,
    gateway: MercadoPago,
    secret: String,
    http: reqwest::Client,
    webhooks: mpsc::UnboundedReceiver<Received>,
    /// The webhook's next answers, in turn (200 once they run out).
    replies: Arc<Mutex<VecDeque<Reply>>>,
}

async fn spawn_provider() -> Provider {
    spawn_provider_with(|_| {}).await
}

/// A provider with one order of `cents` on which `simulated` (with `query`)
/// was played and `action` notified: the provider, the order as created,
/// the order as the simulation answered it, and the notification.
async fn order_after(
    cents: i64,
    simulated: &str,
    query: &str,
    action: &str,
) -> (Provider, MpOrder, Value, Received) {
    let mut provider = spawn_provider().await;
    let order = provider.created(cents).await;
    let (answered, notified) = provider
        .simulate_notified(&order.id, simulated, query, action)
        .await;
    (provider, order, answered, notified)
}

/// A provider whose stand-in's configuration `adjust` changed.
async fn spawn_provider_with(adjust: impl FnOnce(&mut StandInConfig)) -> Provider {
    let replies = Arc::new(Mutex::new(VecDeque::new()));
    let (webhook_url, webhooks) = spawn_webhook(replies.clone()).await;
    let mut config = StandInConfig {
        webhook_secret: format!("secret-{}", uuid::Uuid::new_v4()),
        ..StandInConfig::local(Some(webhook_url))
    };
    adjust(&mut config);
    let secret = config.webhook_secret.clone();
    let (_, stand_in) = kiosk_local::mercadopago::spawn(config).await.unwrap();
    let gateway = gateway_at(&stand_in.base_url(), LOCAL_ACCESS_TOKEN, Bounds::default());
    Provider {
        stand_in,
        gateway,
        secret,
        http: reqwest::Client::new(),
        webhooks,
        replies,
    }
}

fn gateway_at(url: &str, token: &str, bounds: Bounds) -> MercadoPago {
    let mut settings = MercadoPagoSettings::new(url, POS).unwrap();
    settings.bounds = bounds;
    MercadoPago::new(settings, AccessToken::parse(token).unwrap()).unwrap()
}

/// A webhook endpoint that answers as `replies` says and hands over what it
/// received.
async fn spawn_webhook(
    replies: Arc<Mutex<VecDeque<Reply>>>,
) -> (String, mpsc::UnboundedReceiver<Received>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let app = axum::Router::new().fallback(
        move |query: axum::extract::RawQuery,
              headers: axum::http::HeaderMap,
              body: axum::body::Bytes| {
            let (sender, replies) = (sender.clone(), replies.clone());
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
                let reply = replies.lock().unwrap().pop_front();
                let status = match reply {
                    None => 200,
                    Some(Reply::Status(status)) => status,
                    Some(Reply::After(delay)) => {
                        tokio::time::sleep(delay).await;
                        200
                    }
                };
                (axum::http::StatusCode::from_u16(status).unwrap(), "ok")
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
        pos_id: None,
    }
}

impl Provider {
    async fn created(&self, cents: i64) -> MpOrder {
        self.gateway
            .create_qr_order(&qr_request(cents))
            .await
            .unwrap()
    }

    /// `POST /simulate/orders/{id}/{action}?{query}`: the stand-in's answer.
    async fn simulate(&self, id: &ProviderOrderId, action: &str, query: &str) -> (u16, Value) {
        let url = format!(
            "{}/simulate/orders/{id}/{action}?{query}",
            self.stand_in.base_url()
        );
        let response = self.http.post(url).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// [`Provider::simulate`], which must succeed and notify `action`
    /// (answered 200): the order it answered and the notification as the
    /// webhook received it.
    async fn simulate_notified(
        &mut self,
        id: &ProviderOrderId,
        simulated: &str,
        query: &str,
        action: &str,
    ) -> (Value, Received) {
        let (status, answer) = self.simulate(id, simulated, query).await;
        assert_eq!(
            (status, &answer["notification"]),
            (200, &json!({"action": action, "status": 200})),
            "{answer}"
        );
        let received = self.next_webhook().await;
        assert_eq!(received.body["action"], action);
        assert_eq!(received.data_id.as_deref(), Some(id.as_str()));
        (answer["order"].clone(), received)
    }

    /// `method path` at the stand-in with the token (and `key` as
    /// `X-Idempotency-Key`): its status and answer.
    async fn call(&self, method: reqwest::Method, path: &str, key: Option<&str>) -> (u16, Value) {
        let url = format!("{}{path}", self.stand_in.base_url());
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(LOCAL_ACCESS_TOKEN);
        if let Some(key) = key {
            request = request.header("X-Idempotency-Key", key);
        }
        let response = request.send().await.unwrap();
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

/// The status and code of a refusal.
fn rejected_with(result: Result<MpOrder, PaymentError>) -> (Option<u16>, String) {
    match result {
        Err(PaymentError::Rejected { status, code, .. }) => (status, code),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn conflict(code: &str) -> (Option<u16>, String) {
    (Some(409), code.to_owned())
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
    assert_eq!(
        rejected_with(conflicting),
        conflict("idempotency_key_already_used")
    );
    let read = provider.gateway.get_order(&first.id).await.unwrap();
    assert_eq!(read, first, "one order, as created");
    assert_eq!(
        (read.status, read.total, read.paid),
        (MpOrderStatus::Pending, Money::cents(2490), None)
    );
    assert_eq!(
        (read.raw_status.as_str(), read.status_detail.as_str()),
        ("created", "created")
    );
    let payment = &read.payments[0];
    assert_eq!(
        (payment.status.as_str(), payment.status_detail.as_str()),
        ("created", "created")
    );
    assert_eq!(read.external_reference, Some(request.order_id.clone()));
    assert!(read.qr_data.is_some_and(|qr| qr.starts_with("000201")));
    // Once paid, the repeat answers that same order as it is now.
    provider.simulate(&first.id, "pay", "notify=false").await;
    let later = provider.gateway.create_qr_order(&request).await.unwrap();
    assert_eq!((later.id, later.status), (first.id, MpOrderStatus::Paid));
}

#[tokio::test]
async fn a_payment_makes_the_order_processed_and_its_payment_accredited() {
    let (provider, order, answered, notified) =
        order_after(4980, "pay", "", "order.processed").await;

    assert_eq!(answered["status"], "processed");
    assert_eq!(notified.kind.as_deref(), Some("order"));
    assert_eq!(
        (&notified.body["type"], &notified.body["data"]["id"]),
        (&json!("order"), &json!(order.id.as_str()))
    );
    let paid = provider.gateway.get_order(&order.id).await.unwrap();
    assert_eq!(
        (
            paid.status,
            paid.raw_status.as_str(),
            paid.status_detail.as_str()
        ),
        (MpOrderStatus::Paid, "processed", "processed")
    );
    let payment = &paid.payments[0];
    assert_eq!(
        (payment.status.as_str(), payment.status_detail.as_str()),
        ("processed", "accredited")
    );
    assert_eq!(paid.paid, Some(Money::cents(4980)));
    assert_eq!(payment.paid_amount, Some(Money::cents(4980)));
    let (again, refused) = provider.simulate(&order.id, "pay", "").await;
    assert_eq!(
        (again, &refused["errors"][0]["code"]),
        (409, &json!("order_not_payable"))
    );
}

#[tokio::test]
async fn a_discount_is_what_the_payer_paid_and_the_total_stays() {
    let provider = spawn_provider().await;
    let order = provider.created(2490).await;

    let (status, _) = provider
        .simulate(&order.id, "pay", "notify=false&paid_amount=20.5")
        .await;

    assert_eq!(status, 200);
    let paid = provider.gateway.get_order(&order.id).await.unwrap();
    assert_eq!(
        (paid.status, paid.total, paid.paid),
        (
            MpOrderStatus::Paid,
            Money::cents(2490),
            Some(Money::cents(2050))
        )
    );
    assert_eq!(paid.payments[0].paid_amount, Some(Money::cents(2050)));
    assert_eq!(paid.payments[0].amount, Some(Money::cents(2490)));
    // Not more than the total, not nothing; the order stays payable.
    let other = provider.created(1000).await;
    for bad in ["10.01", "0.00", "ten"] {
        let query = format!("paid_amount={bad}");
        let (status, _) = provider.simulate(&other.id, "pay", &query).await;
        assert_eq!(status, 400, "{bad}");
    }
    assert_eq!(provider.status_of(&other.id).await, MpOrderStatus::Pending);
}

#[tokio::test]
async fn notify_false_changes_the_state_without_a_notification() {
    let mut provider = spawn_provider().await;
    let order = provider.created(1000).await;

    let (status, answer) = provider.simulate(&order.id, "pay", "notify=false").await;

    // The stand-in answers after delivering its notifications, so one sent
    // would be in the channel already.
    assert_eq!((status, &answer["notification"]), (200, &Value::Null));
    assert!(provider.webhooks.try_recv().is_err());
    assert_eq!(provider.status_of(&order.id).await, MpOrderStatus::Paid);
}

#[tokio::test]
async fn a_payment_in_progress_locks_the_order_and_a_declined_one_leaves_it_created() {
    let mut provider = spawn_provider().await;
    let order = provider.created(1500).await;

    let (started, _) = provider.simulate(&order.id, "start", "").await;
    let locked = provider.gateway.cancel_order(&order.id).await;

    assert_eq!(started, 200);
    assert_eq!(
        rejected_with(locked),
        conflict("instore_order_locked_error")
    );
    assert_eq!(provider.status_of(&order.id).await, MpOrderStatus::Pending);
    // The card is declined and the payer gives up: still created, no
    // notification, and the cancel (under the same key) now goes through.
    let (abandoned, answer) = provider.simulate(&order.id, "abandon", "").await;
    assert_eq!((abandoned, &answer["notification"]), (200, &Value::Null));
    assert_eq!(
        (
            &answer["order"]["status"],
            &answer["order"]["status_detail"]
        ),
        (&json!("created"), &json!("created"))
    );
    let cancelled = provider.gateway.cancel_order(&order.id).await.unwrap();
    assert_eq!(
        (
            cancelled.status,
            cancelled.raw_status.as_str(),
            cancelled.payments[0].status_detail.as_str()
        ),
        (MpOrderStatus::Cancelled, "canceled", "canceled_by_api")
    );
    assert_eq!(
        provider.next_webhook().await.body["action"],
        "order.canceled"
    );
    // A payment in progress that goes through ends the lock.
    let paying = provider.created(1500).await;
    provider.simulate(&paying.id, "start", "").await;
    let (paid, _) = provider.simulate(&paying.id, "pay", "notify=false").await;
    assert_eq!(paid, 200);
    assert_eq!(
        rejected_with(provider.gateway.cancel_order(&paying.id).await),
        conflict("order_cannot_be_canceled")
    );
}

#[tokio::test]
async fn an_unpaid_order_is_cancelled_once_and_a_paid_one_is_refunded_once() {
    let mut provider = spawn_provider().await;
    let unpaid = provider.created(1500).await;
    let paid = provider.created(2500).await;
    provider.simulate(&paid.id, "pay", "notify=false").await;
    let refund_key = format!("refund-{}", paid.id);

    let cancelled = provider.gateway.cancel_order(&unpaid.id).await.unwrap();
    let cancelled_again = provider.gateway.cancel_order(&unpaid.id).await.unwrap();
    let refund_path = format!("/v1/orders/{}/refund", paid.id);
    let (refund_status, refunded) = provider
        .call(reqwest::Method::POST, &refund_path, Some(&refund_key))
        .await;
    let refunded_again = provider
        .gateway
        .refund_order(&paid.id, &IdempotencyKey::parse(&refund_key).unwrap())
        .await
        .unwrap();

    assert_eq!(cancelled.status, MpOrderStatus::Cancelled);
    assert_eq!(cancelled_again, cancelled, "the same key, the same answer");
    assert_eq!(
        (refund_status, &refunded["status"]),
        (201, &json!("refunded"))
    );
    assert_eq!(refunded_again.status, MpOrderStatus::Refunded);
    assert_eq!(
        refunded["transactions"]["refunds"][0]["amount"],
        json!("25.00")
    );
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
    // Another key: refunded already. Moves the status forbids: 409.
    let another_key = IdempotencyKey::parse("refund-again").unwrap();
    let twice = provider.gateway.refund_order(&paid.id, &another_key).await;
    assert_eq!(rejected_with(twice), conflict("order_already_refunded"));
    assert_eq!(
        rejected_with(provider.gateway.cancel_order(&paid.id).await),
        conflict("order_cannot_be_canceled")
    );
    let unpaid_key = IdempotencyKey::parse("refund-unpaid").unwrap();
    let refund_unpaid = provider.gateway.refund_order(&unpaid.id, &unpaid_key).await;
    assert_eq!(
        rejected_with(refund_unpaid),
        conflict("order_cannot_be_refunded")
    );
}

#[tokio::test]
async fn an_unpaid_order_expires_at_its_deadline_and_is_notified() {
    // Its expiration time comes now.
    let (provider, order, answered, _) = order_after(1000, "expire", "", "order.expired").await;

    assert_eq!(answered["status"], "expired");
    let expired = provider.gateway.get_order(&order.id).await.unwrap();
    assert_eq!(
        (
            expired.status,
            expired.status_detail.as_str(),
            expired.payments[0].status_detail.as_str()
        ),
        (MpOrderStatus::Expired, "expired", "expired")
    );
    let (paid, _) = provider.simulate(&order.id, "pay", "").await;
    assert_eq!(paid, 409, "an expired order cannot be paid");
    assert_eq!(
        rejected_with(provider.gateway.cancel_order(&order.id).await),
        conflict("order_cannot_be_canceled")
    );
}

#[tokio::test]
async fn an_order_being_paid_does_not_expire_until_the_payer_gives_up() {
    let mut provider = spawn_provider().await;
    let order = provider.created(1000).await;
    provider.simulate(&order.id, "start", "").await;

    let (status, answer) = provider.simulate(&order.id, "expire", "").await;

    assert_eq!(
        (status, &answer["errors"][0]["code"]),
        (409, &json!("instore_order_locked_error"))
    );
    assert_eq!(provider.status_of(&order.id).await, MpOrderStatus::Pending);
    assert!(provider.webhooks.try_recv().is_err(), "nothing notified");
    // Its time has passed: once the payer gives up, it expires.
    provider
        .simulate_notified(&order.id, "abandon", "", "order.expired")
        .await;
    assert_eq!(provider.status_of(&order.id).await, MpOrderStatus::Expired);
    // Paid before giving up, it is paid.
    let paying = provider.created(1000).await;
    provider.simulate(&paying.id, "start", "").await;
    provider.simulate(&paying.id, "expire", "").await;
    let (paid, _) = provider.simulate(&paying.id, "pay", "notify=false").await;
    assert_eq!(paid, 200);
    assert_eq!(provider.status_of(&paying.id).await, MpOrderStatus::Paid);
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
    let cancel_path = format!("/v1/orders/{}/cancel", order.id);
    let (keyless, refused) = provider
        .call(reqwest::Method::POST, &cancel_path, None)
        .await;

    assert_eq!(rejected_with(unauthorized).0, Some(401));
    assert_eq!(unknown, Err(PaymentError::NotFound));
    assert_eq!(
        (keyless, &refused["errors"][0]["code"]),
        (400, &json!("missing_idempotency_key"))
    );
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
