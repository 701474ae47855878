//! Pagination of lists: `?limit=` and an opaque `?cursor=`.

use crate::{Code, Error, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub const DEFAULT_LIMIT: u16 = 20;
pub const MAX_LIMIT: u16 = 100;
/// Cursors longer than this are refused before decoding.
const MAX_CURSOR_LEN: usize = 2048;

/// One page of a list, as the API answers it.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// `?limit=`: 1..=100, default 20; anything else is 400 `invalid_limit`.
pub fn parse_limit(raw: Option<&str>) -> Result<u16> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_LIMIT);
    };
    match raw.parse::<u16>() {
        Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
        _ => Err(Error::validation(
            Code::InvalidLimit,
            format!("limit must be an integer from 1 to {MAX_LIMIT}"),
        )),
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    /// Which list the cursor belongs to: a cursor of one list is refused by another.
    k: String,
    p: T,
}

/// An opaque cursor for `position` in the list named `kind`.
pub fn encode_cursor<T: Serialize>(kind: &str, position: &T) -> String {
    let json = serde_json::to_vec(&Envelope {
        k: kind.to_owned(),
        p: position,
    })
    .unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// The position in a cursor made by [`encode_cursor`] for the same `kind`; a
/// forged, garbled or foreign cursor is 400 `invalid_cursor`.
pub fn decode_cursor<T: DeserializeOwned>(kind: &str, cursor: &str) -> Result<T> {
    let invalid = Error::invalid_cursor;
    if cursor.is_empty() || cursor.len() > MAX_CURSOR_LEN {
        return Err(invalid());
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let envelope: Envelope<T> = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if envelope.k != kind {
        return Err(invalid());
    }
    Ok(envelope.p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_outside_one_to_a_hundred_are_refused() {
        assert_eq!(parse_limit(None).unwrap(), 20);
        assert_eq!(parse_limit(Some("100")).unwrap(), 100);
        for raw in ["0", "101", "1000", "-1", "abc", "", "7.5"] {
            assert!(parse_limit(Some(raw)).is_err(), "{raw}");
        }
    }

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let cursor = encode_cursor("customers", &"token-1".to_owned());
        assert_eq!(
            decode_cursor::<String>("customers", &cursor).unwrap(),
            "token-1"
        );
        assert!(decode_cursor::<String>("products", &cursor).is_err());
        for garbage in ["", "!!!", "bm90IGpzb24", &"A".repeat(5000)] {
            assert!(
                decode_cursor::<String>("customers", garbage).is_err(),
                "{garbage}"
            );
        }
    }
}
