//! Notifications as Mercado Pago sends them (signed with
//! `shared::payments::signature::sign`), and the timer that expires an
//! order at its deadline.

use super::orders::{Notice, StandInOrder};
use super::server::Shared;
use super::{APPLICATION_ID, USER_ID};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How long a notification may take to be answered.
pub(super) const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);

impl Shared {
    /// Sends each notice in the background; they are not retried.
    pub(super) fn notify_later(self: &Arc<Self>, notices: Vec<Notice>) {
        for notice in notices {
            let shared = self.clone();
            tokio::spawn(async move {
                let _ = shared.notify(&notice).await;
            });
        }
    }

    /// Sends one notification as Mercado Pago would; the webhook's status.
    pub(super) async fn notify(&self, notice: &Notice) -> Result<u16, String> {
        let Some(url) = &self.config.webhook_url else {
            return Err("no webhook URL is configured".into());
        };
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("data.id", &notice.order_id)
            .append_pair("type", "order")
            .finish();
        let separator = if url.contains('?') { '&' } else { '?' };
        let request_id = uuid::Uuid::new_v4().to_string();
        let ts = u64::try_from(shared::clock::now_unix()).unwrap_or_default();
        let signature = shared::payments::signature::sign(
            self.config.webhook_secret.as_bytes(),
            Some(&notice.order_id),
            Some(&request_id),
            ts,
        );
        let body = json!({
            "action": notice.action,
            "api_version": "v1",
            "application_id": APPLICATION_ID,
            "data": notice.data,
            "date_created": shared::clock::now_rfc3339(),
            "id": uuid::Uuid::new_v4().simple().to_string(),
            "live_mode": false,
            "type": "order",
            "user_id": USER_ID,
        });
        let sent = self
            .http
            .post(format!("{url}{separator}{query}"))
            .header("x-signature", signature)
            .header("x-request-id", &request_id)
            .json(&body)
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                tracing::info!(action = notice.action.as_str(), order = %notice.order_id, status, "Mercado Pago stand-in notified");
                Ok(status)
            }
            Err(e) => {
                tracing::warn!(action = notice.action.as_str(), order = %notice.order_id, error = %e, "Mercado Pago stand-in could not notify");
                Err(e.to_string())
            }
        }
    }

    /// Waits for `id`'s deadline, then expires it (unless paid, cancelled
    /// or stopped before).
    pub(super) async fn expire_at(self: Arc<Self>, id: String, deadline: Instant) {
        let mut stopped = self.stopped.clone();
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {}
            _ = stopped.wait_for(|stopped| *stopped) => return,
        }
        let notice = self
            .books()
            .orders
            .get_mut(&id)
            .and_then(StandInOrder::settle);
        self.notify_later(notice.into_iter().collect());
    }
}
