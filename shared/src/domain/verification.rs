//! Proof that a customer holds their e-mail address: a 6-digit code mailed to
//! it, kept only as a salted HMAC-SHA-256, compared in constant time.
//!
//! The rules (API.md, "Personal data needs proof"): one live code per
//! customer, valid [`CODE_TTL_SECONDS`]; at most one sent per
//! [`RESEND_AFTER_SECONDS`]; [`MAX_ATTEMPTS`] wrong codes spend it. A
//! confirmed code opens a session of [`VERIFIED_SESSION_SECONDS`].

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// How long a mailed code may be confirmed.
pub const CODE_TTL_SECONDS: i64 = 600;
/// The least time between two codes mailed to one customer.
pub const RESEND_AFTER_SECONDS: i64 = 60;
/// Wrong codes that spend a code (the fifth answers `too_many_attempts`).
pub const MAX_ATTEMPTS: u32 = 5;
/// The lifetime of a token issued on a confirmed code.
pub const VERIFIED_SESSION_SECONDS: u64 = 600;
/// Random bytes of salt per code.
pub const SALT_BYTES: usize = 16;

/// A 6-digit one-time code, as mailed and as typed. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeCode(String);

impl OneTimeCode {
    /// Exactly six ASCII digits (surrounding white space forgiven); anything
    /// else is no code.
    pub fn parse(input: &str) -> Option<Self> {
        let value = input.trim();
        (value.len() == 6 && value.bytes().all(|b| b.is_ascii_digit()))
            .then(|| Self(value.to_owned()))
    }

    /// The code drawn from 32 random bits, uniformly over 000000..=999999:
    /// `None` for the few draws above the last whole million (draw again).
    pub fn from_random(draw: u32) -> Option<Self> {
        const LIMIT: u32 = u32::MAX - u32::MAX % 1_000_000;
        (draw < LIMIT).then(|| Self(format!("{:06}", draw % 1_000_000)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeCode(******)")
    }
}

/// HMAC-SHA-256 of the code under its own random salt, bound to the
/// customer it was mailed to, as lowercase hex.
pub fn code_hash(salt: &[u8], customer_id: &str, code: &OneTimeCode) -> String {
    // HMAC accepts a key of any length: this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(salt) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(customer_id.as_bytes());
    mac.update(b":");
    mac.update(code.as_str().as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// Whether `code` is the one whose hash is `stored`, in time independent of
/// where they differ. An empty stored hash matches nothing.
pub fn code_matches(stored: &str, salt: &[u8], customer_id: &str, code: &OneTimeCode) -> bool {
    let candidate = code_hash(salt, customer_id, code);
    !stored.is_empty() && bool::from(stored.as_bytes().ct_eq(candidate.as_bytes()))
}

/// The SHA-256 of an e-mail address, hex: which address a code was mailed
/// to, without keeping the address.
pub fn address_digest(address: &str) -> String {
    hex(&Sha256::digest(address.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of lowercase or uppercase hex; `None` if it is not hex.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Whole seconds to wait before another code may be mailed, for a code
/// sent at `sent_at` (Unix seconds), at `now`; at least 1.
pub fn resend_wait(sent_at: i64, now: i64) -> u64 {
    u64::try_from(sent_at + RESEND_AFTER_SECONDS - now)
        .unwrap_or(1)
        .clamp(1, RESEND_AFTER_SECONDS.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_six_digits_and_debug_hides_it() {
        assert_eq!(OneTimeCode::parse(" 012345 ").unwrap().as_str(), "012345");
        for bad in ["", "12345", "1234567", "12a456", "12 456", "١٢٣٤٥٦"] {
            assert!(OneTimeCode::parse(bad).is_none(), "{bad:?}");
        }
        let code = OneTimeCode::parse("424242").unwrap();
        assert!(!format!("{code:?}").contains("424242"));
    }

    #[test]
    fn codes_are_drawn_uniformly_and_the_biased_tail_is_redrawn() {
        assert_eq!(OneTimeCode::from_random(7).unwrap().as_str(), "000007");
        assert_eq!(
            OneTimeCode::from_random(4_293_999_999).unwrap().as_str(),
            "999999"
        );
        assert!(OneTimeCode::from_random(4_294_000_000).is_none());
        assert!(OneTimeCode::from_random(u32::MAX).is_none());
    }

    #[test]
    fn the_hash_depends_on_salt_customer_and_code_and_only_the_right_code_matches() {
        let code = OneTimeCode::parse("123456").unwrap();
        let stored = code_hash(b"salt-1", "ana", &code);
        assert_eq!(stored.len(), 64);
        assert!(!stored.contains("123456"));
        assert!(code_matches(&stored, b"salt-1", "ana", &code));
        let other = OneTimeCode::parse("123457").unwrap();
        assert!(!code_matches(&stored, b"salt-1", "ana", &other));
        assert!(!code_matches(&stored, b"salt-2", "ana", &code));
        assert!(!code_matches(&stored, b"salt-1", "bia", &code));
        assert!(!code_matches("", b"salt-1", "ana", &code));
        assert_ne!(code_hash(b"salt-2", "ana", &code), stored);
    }

    #[test]
    fn hex_round_trips_and_refuses_what_is_not_hex() {
        assert_eq!(unhex(&hex(&[0, 15, 255])), Some(vec![0, 15, 255]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn the_wait_before_another_code_counts_down_the_minute() {
        assert_eq!(resend_wait(1_000, 1_000), 60);
        assert_eq!(resend_wait(1_000, 1_059), 1);
        assert_eq!(resend_wait(1_000, 1_060), 1);
        assert_eq!(resend_wait(1_000, 900), 60);
    }
}
