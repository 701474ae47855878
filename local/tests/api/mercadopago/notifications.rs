//! The stand-in's notifications: signed as the official SDKs' validators
//! check them (over `data.id` as received), unsigned on request, sent
//! again while not answered 2xx in time, and listed by `GET
//! /simulate/notifications`.

use super::{Provider, Received, Reply, order_after, spawn_provider_with};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use shared::payments::MpOrder;
use shared::payments::signature::{SignatureError, verify};
use std::time::Duration;

impl Received {
    /// The official SDKs' validator (sdk-nodejs `src/utils/webhook`,
    /// sdk-python `webhook/validator.py`, sdk-java
    /// `WebhookSignatureValidator`), written out here rather than taken from
    /// `shared`: the hex HMAC-SHA256 keyed by the secret over
    /// `id:<data.id as received>;request-id:<x-request-id>;ts:<ts>;` equals
    /// `v1`. With `lowercase_id`, the id as Mercado Pago's docs spell it.
    fn passes_the_sdk_validator(&self, secret: &str, lowercase_id: bool) -> bool {
        let Some(header) = &self.signature else {
            return false;
        };
        let part = |key: &str| {
            header.split(',').find_map(|part| {
                let (k, v) = part.split_once('=')?;
                (k.trim() == key).then(|| v.trim().to_owned())
            })
        };
        let (Some(ts), Some(v1)) = (part("ts"), part("v1")) else {
            return false;
        };
        let mut id = self.data_id.clone().unwrap_or_default();
        if lowercase_id {
            id = id.to_lowercase();
        }
        let request_id = self.request_id.clone().unwrap_or_default();
        let manifest = format!("id:{id};request-id:{request_id};ts:{ts};");
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(manifest.as_bytes());
        let expected: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        expected == v1
    }

    fn verifies_with(&self, secret: &str) -> Result<(), SignatureError> {
        verify(
            self.signature.as_deref(),
            self.request_id.as_deref(),
            self.data_id.as_deref(),
            &[secret],
        )
    }
}

impl Provider {
    /// `GET /simulate/notifications`.
    async fn sent(&self) -> Vec<Value> {
        let url = format!("{}/simulate/notifications", self.stand_in.base_url());
        let answer = self.http.get(url).send().await.unwrap();
        assert_eq!(answer.status(), 200);
        answer.json().await.unwrap()
    }

    /// `GET /simulate/notifications` once it lists `count` attempts.
    async fn sent_at_least(&self, count: usize) -> Vec<Value> {
        for _ in 0..200 {
            let sent = self.sent().await;
            if sent.len() >= count {
                return sent;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("not {count} attempts within 5 s: {:?}", self.sent().await)
    }
}

#[tokio::test]
async fn the_signature_passes_the_official_validator_with_the_id_as_sent() {
    let (provider, _, _, notified) = order_after(4980, "pay", "", "order.processed").await;

    let id = notified.data_id.clone().unwrap();
    assert!(id.bytes().any(|b| b.is_ascii_uppercase()), "{id}");
    assert!(notified.passes_the_sdk_validator(&provider.secret, false));
    assert!(
        !notified.passes_the_sdk_validator(&provider.secret, true),
        "not signed over the lower-cased id"
    );
    assert!(!notified.passes_the_sdk_validator("another-secret", false));
    // Our webhook's check agrees.
    assert_eq!(notified.verifies_with(&provider.secret), Ok(()));
    assert_eq!(
        notified.verifies_with("another-secret"),
        Err(SignatureError::Mismatch)
    );
}

#[tokio::test]
async fn an_unsigned_notification_has_no_signature_and_is_listed_as_sent() {
    let (provider, order, _, notified) =
        order_after(1000, "pay", "notify=unsigned", "order.processed").await;

    assert_eq!(notified.signature, None);
    assert!(notified.request_id.is_some());
    let sent = provider.sent().await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let entry = &sent[0];
    assert_eq!(
        entry["headers"],
        json!({"x-signature": null, "x-request-id": notified.request_id})
    );
    assert_eq!(
        (&entry["attempt"], &entry["status"]),
        (&json!(1), &json!(200))
    );
    assert_eq!(entry["body"], notified.body);
    let url = entry["url"].as_str().unwrap();
    assert!(
        url.ends_with(&format!(
            "/webhooks/mercadopago?data.id={}&type=order",
            order.id
        )),
        "{url}"
    );
    assert!(entry["answered_ms"].is_u64() && entry["sent_at"].is_string());
}

/// A provider that waits `notify_timeout` for an answer and retries 20 ms
/// apart, whose webhook answers `replies` first; and an order of it.
async fn retrying(
    notify_timeout: Duration,
    replies: impl IntoIterator<Item = Reply>,
) -> (Provider, MpOrder) {
    let provider = spawn_provider_with(|config| {
        config.notify_timeout = notify_timeout;
        config.retry_interval = Duration::from_millis(20);
    })
    .await;
    provider.replies.lock().unwrap().extend(replies);
    let order = provider.created(1000).await;
    (provider, order)
}

#[tokio::test]
async fn a_notification_not_answered_2xx_is_sent_again_three_times() {
    let (provider, order) = retrying(Duration::from_secs(5), [Reply::Status(500); 4]).await;

    let (_, answer) = provider.simulate(&order.id, "pay", "").await;

    assert_eq!(answer["notification"]["status"], 500);
    let sent = provider.sent_at_least(4).await;
    let attempts: Vec<(Value, Value)> = sent
        .iter()
        .map(|s| (s["attempt"].clone(), s["status"].clone()))
        .collect();
    assert_eq!(attempts, [1, 2, 3, 4].map(|n| (json!(n), json!(500))));
    // The same notification each time.
    assert!(sent.windows(2).all(|w| w[0]["headers"] == w[1]["headers"]
        && w[0]["body"] == w[1]["body"]
        && w[0]["url"] == w[1]["url"]));
    // Three retries and no more.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(provider.sent().await.len(), 4);
}

#[tokio::test]
async fn a_notification_not_answered_in_time_is_sent_again_until_answered() {
    let hang = Reply::After(Duration::from_millis(600));
    let (provider, order) = retrying(Duration::from_millis(200), [hang]).await;

    let (_, answer) = provider.simulate(&order.id, "expire", "").await;

    assert_eq!(answer["notification"]["status"], Value::Null);
    let sent = provider.sent_at_least(2).await;
    assert_eq!(
        (
            &sent[0]["attempt"],
            &sent[0]["status"],
            &sent[0]["answered_ms"]
        ),
        (&json!(1), &Value::Null, &Value::Null)
    );
    assert_eq!(
        (&sent[1]["attempt"], &sent[1]["status"]),
        (&json!(2), &json!(200))
    );
    assert_eq!(sent[1]["body"]["action"], "order.expired");
    assert!(sent[1]["answered_ms"].as_u64().unwrap() < 200);
    // Answered: no third attempt.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(provider.sent().await.len(), 2);
}
