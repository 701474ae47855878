//! The payment provider's signed notifications.

use crate::domain::ids::{OrderId, PaymentId};
use crate::domain::keys::KeySet;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// `X-Signature: sha256=<hex HMAC-SHA256 of the raw body>`, checked in
/// constant time against the current webhook secret, then the previous one
/// (so the secret can be rotated without losing notifications).
pub fn signature_is_valid(body: &[u8], header: Option<&str>, keys: &KeySet) -> bool {
    let Some(expected) = header
        .and_then(|h| h.trim().strip_prefix("sha256="))
        .and_then(decode_hex)
    else {
        return false;
    };
    std::iter::once(&keys.current)
        .chain(&keys.previous)
        .any(|key| {
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.secret()) else {
                return false;
            };
            mac.update(body);
            // verify_slice compares in constant time.
            mac.verify_slice(&expected).is_ok()
        })
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The signature a body gets from `secret` (for tools and tests that send notifications).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    format!(
        "sha256={}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentNotification {
    pub order_id: OrderId,
    pub payment_id: PaymentId,
    pub status: NotifiedStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifiedStatus {
    Approved,
    Refused,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::keys::SigningKey;

    fn keys(current: &str, previous: Option<&str>) -> KeySet {
        KeySet {
            current: SigningKey::new("v2", current).unwrap(),
            previous: previous.map(|p| SigningKey::new("v1", p).unwrap()),
        }
    }

    const SECRET: &str = "webhook-secret-of-at-least-thirty-two-bytes";

    #[test]
    fn a_body_signed_with_the_current_or_previous_secret_verifies() {
        let body = br#"{"order_id":"o","payment_id":"p","status":"approved"}"#;
        let signature = sign(SECRET.as_bytes(), body);
        assert!(signature_is_valid(
            body,
            Some(&signature),
            &keys(SECRET, None)
        ));
        assert!(signature_is_valid(
            body,
            Some(&signature),
            &keys("a-new-secret-after-the-rotation-32b", Some(SECRET))
        ));
    }

    #[test]
    fn missing_malformed_and_foreign_signatures_fail() {
        let body = b"{}";
        let good = sign(SECRET.as_bytes(), body);
        let keys = keys(SECRET, None);
        assert!(!signature_is_valid(body, None, &keys));
        assert!(!signature_is_valid(body, Some(""), &keys));
        assert!(!signature_is_valid(
            body,
            Some(good.trim_start_matches("sha256=")),
            &keys
        ));
        assert!(!signature_is_valid(body, Some("sha256=zz"), &keys));
        assert!(!signature_is_valid(
            body,
            Some(&good.replace("sha256=", "sha1=")),
            &keys
        ));
        assert!(!signature_is_valid(b"{ }", Some(&good), &keys));
        assert!(!signature_is_valid(
            body,
            Some(&sign(b"another-secret-that-is-long-enough-xx", body)),
            &keys
        ));
    }
}
