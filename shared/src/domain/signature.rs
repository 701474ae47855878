//! Mercado Pago's webhook signature (`x-signature`), checked before anything
//! of a notification is read.
//!
//! The scheme, from Mercado Pago's notification pages ("Configure
//! notifications", section "Validate notification origin":
//! <https://www.mercadopago.com.br/developers/en/docs/qr-code/notifications>,
//! likewise `.../checkout-api-orders/notifications`) and API.md, "Payment with
//! Mercado Pago":
//!
//! - the request is `POST {url}?data.id=<id>&type=order` with the headers
//!   `x-signature: ts=<unix seconds>,v1=<hex>` and `x-request-id: <uuid>`;
//! - `v1` is the hex HMAC-SHA256, keyed by the application's secret
//!   signature (its UTF-8 bytes), of the manifest
//!   `id:<data.id>;request-id:<x-request-id>;ts:<ts>;`, where a part whose
//!   value is missing is left out (the SDKs below do the same);
//! - the docs ask for `data.id` in lowercase when it is alphanumeric. Order
//!   ids are (`ORD01JQ4S4KY8HWQ6NA5PXB65B3D3`), so this matters here. The
//!   official SDKs' validators (sdk-nodejs `src/utils/webhook/index.ts`,
//!   sdk-python `mercadopago/webhook/validator.py`, sdk-java
//!   `WebhookSignatureValidator.java`, 2026-08) put `data.id` in the manifest
//!   "exactly as received" instead. Without a live account we cannot tell
//!   which one Mercado Pago's servers sign, so [`verify`] accepts either
//!   (both need the secret: nothing is weaker), and [`sign`] (the local
//!   stand-in's signer) follows the docs;
//! - the body is not signed: the webhook must re-read the order from Mercado
//!   Pago and never trust the body.
//!
//! The header is parsed defensively: spaces around parts, keys and values
//! and any order of parts are fine; unknown keys (a future `v2`) are ignored;
//! a duplicated `ts` or `v1`, a part without `=`, a `ts` that is not digits, a
//! `v1` that is not 64 hex digits or a header over [`MAX_HEADER_BYTES`] is
//! refused. Nothing here panics on any input.
//!
//! The timestamp is not checked against the clock: the docs set no
//! tolerance, the SDKs make it optional, and a replayed notification only
//! makes the webhook re-read an order it may already have applied.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::sync::Arc;

/// A longer `x-signature` header is refused before it is parsed. Mercado
/// Pago's is about 80 bytes (`ts=` 10 digits, `v1=` 64 hex digits).
pub const MAX_HEADER_BYTES: usize = 512;

/// The longest `ts` accepted: `u64::MAX` has 20 digits.
const MAX_TS_DIGITS: usize = 20;

/// Why a notification's signature was refused (for the log; the caller
/// answers every one of them alike, 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the x-signature header is missing")]
    Missing,
    #[error("the x-signature header is malformed")]
    Malformed,
    #[error("the x-signature header does not match any webhook secret")]
    Mismatch,
}

/// The parts of an `x-signature` header we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    /// The `ts` value as sent (it goes into the manifest verbatim).
    pub ts: String,
    /// The `v1` HMAC, decoded.
    pub v1: [u8; 32],
}

impl SignatureHeader {
    pub fn parse(header: &str) -> Result<Self, SignatureError> {
        if header.len() > MAX_HEADER_BYTES {
            return Err(SignatureError::Malformed);
        }
        let (mut ts, mut v1) = (None, None);
        for part in header.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (key, value) = part.split_once('=').ok_or(SignatureError::Malformed)?;
            let (key, value) = (key.trim(), value.trim());
            let slot = if key.eq_ignore_ascii_case("ts") {
                &mut ts
            } else if key.eq_ignore_ascii_case("v1") {
                &mut v1
            } else {
                continue;
            };
            if slot.replace(value).is_some() {
                return Err(SignatureError::Malformed);
            }
        }
        let ts = ts
            .filter(|ts| {
                (1..=MAX_TS_DIGITS).contains(&ts.len()) && ts.bytes().all(|b| b.is_ascii_digit())
            })
            .ok_or(SignatureError::Malformed)?;
        let v1 = v1.and_then(decode_hex32).ok_or(SignatureError::Malformed)?;
        Ok(Self {
            ts: ts.to_owned(),
            v1,
        })
    }
}

/// The signed manifest: `id:<data.id>;request-id:<x-request-id>;ts:<ts>;`,
/// each missing (or empty) part left out, `data.id` as given.
pub fn manifest(data_id: Option<&str>, request_id: Option<&str>, ts: &str) -> String {
    let mut manifest = String::new();
    if let Some(id) = data_id.filter(|v| !v.is_empty()) {
        manifest.push_str("id:");
        manifest.push_str(id);
        manifest.push(';');
    }
    if let Some(request_id) = request_id.filter(|v| !v.is_empty()) {
        manifest.push_str("request-id:");
        manifest.push_str(request_id);
        manifest.push(';');
    }
    manifest.push_str("ts:");
    manifest.push_str(ts);
    manifest.push(';');
    manifest
}

/// `data.id` as the docs want it in the manifest: lowercase when it is
/// alphanumeric, as received otherwise.
pub fn manifest_id(data_id: &str) -> std::borrow::Cow<'_, str> {
    if data_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        std::borrow::Cow::Owned(data_id.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(data_id)
    }
}

/// Checks a notification: `header` is `x-signature`, `request_id` is
/// `x-request-id`, `data_id` the `data.id` query parameter, `secrets` the
/// webhook secrets to try (the current one, then the previous one while a
/// rotation settles). The comparison is constant-time
/// ([`Mac::verify_slice`]).
pub fn verify<S: AsRef<[u8]>>(
    header: Option<&str>,
    request_id: Option<&str>,
    data_id: Option<&str>,
    secrets: &[S],
) -> Result<(), SignatureError> {
    let header = header
        .filter(|h| !h.trim().is_empty())
        .ok_or(SignatureError::Missing)?;
    let header = SignatureHeader::parse(header)?;
    // A `;` would let one manifest stand for another (an id that swallows
    // the request-id part); Mercado Pago's ids and request ids have none.
    if [data_id, request_id]
        .into_iter()
        .flatten()
        .any(|v| v.contains(';'))
    {
        return Err(SignatureError::Malformed);
    }
    let documented = data_id.map(manifest_id);
    let mut manifests = vec![manifest(documented.as_deref(), request_id, &header.ts)];
    if documented.as_deref() != data_id {
        manifests.push(manifest(data_id, request_id, &header.ts));
    }
    let matches = secrets.iter().any(|secret| {
        manifests.iter().any(|manifest| {
            hmac_sha256(secret.as_ref(), manifest)
                .is_some_and(|mac| mac.verify_slice(&header.v1).is_ok())
        })
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The `x-signature` value Mercado Pago would send for a notification about
/// `data_id` (the manifest takes it lowercased when alphanumeric), for the
/// local stand-in and the tests.
pub fn sign(secret: &[u8], data_id: Option<&str>, request_id: Option<&str>, ts: u64) -> String {
    let ts = ts.to_string();
    let id = data_id.map(manifest_id);
    let manifest = manifest(id.as_deref(), request_id, &ts);
    let hex = hmac_sha256(secret, &manifest)
        .map(|mac| encode_hex(&mac.finalize().into_bytes()))
        .unwrap_or_default();
    format!("ts={ts},v1={hex}")
}

fn hmac_sha256(secret: &[u8], manifest: &str) -> Option<Hmac<Sha256>> {
    // HMAC takes a key of any length; the error cannot happen.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    mac.update(manifest.as_bytes());
    Some(mac)
}

fn decode_hex32(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let high = char::from(pair[0]).to_digit(16)?;
        let low = char::from(pair[1]).to_digit(16)?;
        *byte = u8::try_from(high << 4 | low).ok()?;
    }
    Some(out)
}

fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// A webhook secret signature (the HMAC key of `x-signature`).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Arc<[u8]>);

impl WebhookSecret {
    pub fn parse(raw: &str) -> Result<Self, EmptySecret> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(EmptySecret);
        }
        Ok(Self(raw.as_bytes().into()))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for WebhookSecret {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

/// A webhook secret that is empty (after trimming).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the webhook secret is empty")]
pub struct EmptySecret;

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "kiosk-test-webhook-secret";
    const PREVIOUS: &str = "previous-webhook-secret";
    const ORDER_ID: &str = "ORD01JQ4S4KY8HWQ6NA5PXB65B3D3";
    const REQUEST_ID: &str = "bb56a2f1-6aae-46ac-982e-9dcd3581d08e";

    // The expected values below were computed outside this crate, with
    //   python3 -c 'import hmac,hashlib; print(hmac.new(b"<secret>", b"<manifest>", hashlib.sha256).hexdigest())'
    // for the secret and manifest named in each comment.

    /// secret `kiosk-test-webhook-secret`, manifest
    /// `id:ord01jq4s4ky8hwq6na5pxb65b3d3;request-id:bb56a2f1-6aae-46ac-982e-9dcd3581d08e;ts:1704908010;`
    const LOWERCASED_ID: &str = "e0c0931426281cde037d76a871c3911cdc1f2aef563ee71de688c2f5beac1b48";
    /// secret `kiosk-test-webhook-secret`, manifest
    /// `id:ORD01JQ4S4KY8HWQ6NA5PXB65B3D3;request-id:bb56a2f1-6aae-46ac-982e-9dcd3581d08e;ts:1704908010;`
    const ID_AS_RECEIVED: &str = "8addca70fcbdf812d0ae815c7c6391a273c5a8522c185396dfeaa6d90b1e2187";
    /// secret `kiosk-test-webhook-secret`, manifest `id:123456789;ts:1704908010;`
    const NO_REQUEST_ID: &str = "34f68052404ce90dd6b82eada166283e92e3fb6c697f538558b0993a6287fd97";
    /// secret `kiosk-test-webhook-secret`, manifest
    /// `request-id:bb56a2f1-6aae-46ac-982e-9dcd3581d08e;ts:1704908010;`
    const NO_DATA_ID: &str = "991896e27ac56206eff2e5ba3552b3c7edcd177b8121aa6f700dab2c606755d2";
    /// secret `previous-webhook-secret`, the manifest of [`LOWERCASED_ID`]
    const BY_PREVIOUS: &str = "bb0be27d61e89cc458a89afcc5c6d888f230fcb907f57787c4839da08f50abcb";

    fn header(v1: &str) -> String {
        format!("ts=1704908010,v1={v1}")
    }

    fn check(
        header: &str,
        request_id: Option<&str>,
        data_id: Option<&str>,
    ) -> Result<(), SignatureError> {
        verify(Some(header), request_id, data_id, &[SECRET])
    }

    #[test]
    fn the_signer_matches_the_independently_computed_values() {
        let sign = |id, request| sign(SECRET.as_bytes(), id, request, 1704908010);
        assert_eq!(
            sign(Some(ORDER_ID), Some(REQUEST_ID)),
            header(LOWERCASED_ID)
        );
        assert_eq!(sign(Some("123456789"), None), header(NO_REQUEST_ID));
        assert_eq!(sign(None, Some(REQUEST_ID)), header(NO_DATA_ID));
        assert_eq!(
            super::sign(
                PREVIOUS.as_bytes(),
                Some(ORDER_ID),
                Some(REQUEST_ID),
                1704908010
            ),
            header(BY_PREVIOUS)
        );
    }

    #[test]
    fn known_answers_verify() {
        let ok = |v1, request_id, data_id| check(&header(v1), request_id, data_id);
        assert_eq!(ok(LOWERCASED_ID, Some(REQUEST_ID), Some(ORDER_ID)), Ok(()));
        assert_eq!(ok(ID_AS_RECEIVED, Some(REQUEST_ID), Some(ORDER_ID)), Ok(()));
        assert_eq!(ok(NO_REQUEST_ID, None, Some("123456789")), Ok(()));
        assert_eq!(ok(NO_REQUEST_ID, Some(""), Some("123456789")), Ok(()));
        assert_eq!(ok(NO_DATA_ID, Some(REQUEST_ID), None), Ok(()));
        // The id already lowercase in the query: the same manifest.
        assert_eq!(
            ok(
                LOWERCASED_ID,
                Some(REQUEST_ID),
                Some(&ORDER_ID.to_ascii_lowercase())
            ),
            Ok(())
        );
    }

    #[test]
    fn any_of_the_secrets_verifies_and_no_other() {
        let signed_by_previous = header(BY_PREVIOUS);
        let verify_with = |secrets: &[&str]| {
            verify(
                Some(&signed_by_previous),
                Some(REQUEST_ID),
                Some(ORDER_ID),
                secrets,
            )
        };
        assert_eq!(verify_with(&[SECRET, PREVIOUS]), Ok(()));
        assert_eq!(verify_with(&[SECRET]), Err(SignatureError::Mismatch));
        assert_eq!(verify_with(&[]), Err(SignatureError::Mismatch));
    }

    #[test]
    fn a_signature_of_other_values_is_a_mismatch() {
        let good = header(LOWERCASED_ID);
        let mismatch = Err(SignatureError::Mismatch);
        assert_eq!(check(&good, Some(REQUEST_ID), Some("ORD01OTHER")), mismatch);
        assert_eq!(
            check(&good, Some("other-request"), Some(ORDER_ID)),
            mismatch
        );
        assert_eq!(check(&good, None, Some(ORDER_ID)), mismatch);
        assert_eq!(check(&good, Some(REQUEST_ID), None), mismatch);
        let later = good.replace("1704908010", "1704908011");
        assert_eq!(check(&later, Some(REQUEST_ID), Some(ORDER_ID)), mismatch);
        let flipped = format!("ts=1704908010,v1=f{}", &LOWERCASED_ID[1..]);
        assert_eq!(check(&flipped, Some(REQUEST_ID), Some(ORDER_ID)), mismatch);
    }

    #[test]
    fn spaces_order_case_and_unknown_versions_are_tolerated() {
        for header in [
            format!(" ts = 1704908010 , v1 = {LOWERCASED_ID} "),
            format!("v1={LOWERCASED_ID},ts=1704908010"),
            format!("TS=1704908010,V1={}", LOWERCASED_ID.to_ascii_uppercase()),
            format!("ts=1704908010,v2=abc,v1={LOWERCASED_ID},v0=zz,"),
            format!("ts=1704908010,v1={LOWERCASED_ID},v2=x,v2=y"),
        ] {
            assert_eq!(
                check(&header, Some(REQUEST_ID), Some(ORDER_ID)),
                Ok(()),
                "{header}"
            );
        }
    }

    #[test]
    fn missing_malformed_and_oversized_headers_are_refused() {
        assert_eq!(
            verify(None, Some(REQUEST_ID), Some(ORDER_ID), &[SECRET]),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            check("  ", Some(REQUEST_ID), Some(ORDER_ID)),
            Err(SignatureError::Missing)
        );
        let good = header(LOWERCASED_ID);
        let padded = format!("{good},{}", " ".repeat(MAX_HEADER_BYTES));
        for header in [
            "garbage".to_owned(),
            "ts=1704908010".to_owned(),
            format!("v1={LOWERCASED_ID}"),
            format!("ts=,v1={LOWERCASED_ID}"),
            format!("ts=17049080x0,v1={LOWERCASED_ID}"),
            format!("ts=-1704908010,v1={LOWERCASED_ID}"),
            format!("ts={},v1={LOWERCASED_ID}", "1".repeat(21)),
            format!("ts=1704908010,v1={}", &LOWERCASED_ID[2..]),
            format!("ts=1704908010,v1={LOWERCASED_ID}00"),
            format!("ts=1704908010,v1={}zz", &LOWERCASED_ID[2..]),
            format!("ts=1704908010,v1=ü{}", &LOWERCASED_ID[2..]),
            format!("{good},ts=1704908010"),
            format!("{good},v1={LOWERCASED_ID}"),
            format!("{good},junk"),
            "=,=,=".to_owned(),
            padded,
        ] {
            assert_eq!(
                check(&header, Some(REQUEST_ID), Some(ORDER_ID)),
                Err(SignatureError::Malformed),
                "{header}"
            );
        }
    }

    #[test]
    fn a_semicolon_in_an_id_is_refused() {
        // "id:123456789;ts:..." signed: an id that tries to carry a part of its own.
        let header = header(NO_REQUEST_ID);
        assert_eq!(check(&header, None, Some("123456789")), Ok(()));
        assert_eq!(
            check(&header, Some("x;y"), Some("123456789")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            check(&header, None, Some("123;456")),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn only_alphanumeric_ids_are_lowercased() {
        assert_eq!(manifest_id("ORD01AB"), "ord01ab");
        assert_eq!(manifest_id("Pay-01AB"), "Pay-01AB");
        assert_eq!(manifest("ORD".into(), None, "1").as_str(), "id:ORD;ts:1;");
    }

    mod arbitrary_input {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn never_panics_and_never_verifies_a_forgery(
                header in ".{0,600}",
                request_id in proptest::option::of(".{0,40}"),
                data_id in proptest::option::of(".{0,40}"),
            ) {
                let _ = SignatureHeader::parse(&header);
                prop_assert!(verify(Some(&header), request_id.as_deref(), data_id.as_deref(), &[SECRET]).is_err());
            }

            #[test]
            fn whatever_is_signed_verifies(
                data_id in proptest::option::of("[A-Za-z0-9_-]{1,40}"),
                request_id in proptest::option::of("[a-f0-9-]{1,40}"),
                ts in any::<u64>(),
            ) {
                let header = sign(SECRET.as_bytes(), data_id.as_deref(), request_id.as_deref(), ts);
                prop_assert_eq!(verify(Some(&header), request_id.as_deref(), data_id.as_deref(), &[SECRET]), Ok(()));
            }
        }
    }
}
