//! The signed payment webhook: only a valid signature over the exact body
//! counts, each notification is applied once, and its outcome moves the order.

use crate::helpers::{Shop, notification, open_shop, statuses};
use shared::domain::OrderId;
use shared::domain::order::Order;
use shared::domain::order::OrderStatus::{AwaitingPayment, Cancelled, Received};
use shared::domain::order::PaymentStatus::{Approved, Pending, Refused};
use shared::payments::webhook::sign;

/// Every bad signature of `body` is 401, checked before the body is parsed.
async fn refuses_every_bad_signature(shop: &Shop, body: &str, other_order_id: &OrderId) {
    let secret = shop.secret.as_bytes();
    let good = sign(secret, body.as_bytes());
    let bare_hex = good.trim_start_matches("sha256=");
    let wrong_secret = sign(b"not-the-secret", body.as_bytes());
    let other_body = notification(other_order_id, "approved");
    let over_other_body = sign(secret, other_body.as_bytes());
    let missing = None;
    for signature in [
        missing,
        Some("sha256=zz"),
        Some(bare_hex),
        Some(&wrong_secret),
        Some(&over_other_body),
    ] {
        let answer = shop.notify(body, signature).await;
        answer.expect_error(401, "invalid_signature");
    }
    let not_json = shop.notify("{nope", Some(&wrong_secret)).await;
    not_json.expect_error(401, "invalid_signature");
}

#[tokio::test]
async fn the_payment_webhook_accepts_only_valid_signatures_and_applies_each_notification_once() {
    // Arrange
    let shop = open_shop().await;
    let paid_id = shop.placed_order(&shop.guest).await.id;
    let refused_id = shop.place(&shop.guest, shop.burgers(2)).await.id;
    let body = notification(&paid_id, "approved");
    let good = sign(shop.secret.as_bytes(), body.as_bytes());

    // Act, Assert: every bad signature is 401 and changes nothing.
    refuses_every_bad_signature(&shop, &body, &refused_id).await;
    let unchanged = shop.order(&paid_id).await;
    assert_eq!(statuses(&unchanged), (AwaitingPayment, Pending));

    // Approved: received; its replay answers 200 and changes nothing.
    let approved = shop.notify(&body, Some(&good)).await;
    let order: Order = approved.expect(200);
    assert_eq!(
        (order.id.as_str(), statuses(&order)),
        (paid_id.as_str(), (Received, Approved))
    );
    let replayed = shop.notify(&body, Some(&good)).await;
    let replay = (replayed.status, &replayed.body);
    assert_eq!(replay, (200, &approved.body), "a replay changes nothing");
    assert_eq!(
        shop.get_order(&shop.guest, &paid_id).await.body,
        approved.body
    );

    // Refused: cancelled; a later approval for it is 409.
    let refused = shop.pay(&refused_id, "refused").await;
    assert_eq!(statuses(&refused.expect(200)), (Cancelled, Refused));
    let late = shop.pay(&refused_id, "approved").await;
    late.expect_error(409, "invalid_transition");
    assert_eq!(
        shop.get_order(&shop.guest, &refused_id).await.body,
        refused.body
    );
    let refused_after_approval = shop.pay(&paid_id, "refused").await;
    refused_after_approval.expect_error(409, "invalid_transition");

    // Unknown order.
    let unknown = uuid::Uuid::new_v4().to_string();
    let paid_unknown = shop.pay(&unknown, "approved").await;
    paid_unknown.expect_error(404, "order_not_found");
}
