//! Ids and keys that arrive from clients: the "1 to 128 bytes" rule lives
//! here, once. Ids we mint are UUIDs; ids we are sent are only checked for
//! size, so that an unknown id answers "not found" and never reaches
//! DynamoDB, whose keys stop at 2 KB.

use std::fmt;

/// The longest id or key a client may send, in bytes.
pub const MAX_ID_BYTES: usize = 128;

/// The one size rule of ids and keys: 1 to [`MAX_ID_BYTES`] bytes.
fn fits(raw: &str) -> bool {
    (1..=MAX_ID_BYTES).contains(&raw.len())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        id_type!($(#[$doc])* $name, fits);
    };
    ($(#[$doc:meta])* $name:ident, $valid:path) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// A new random id (UUID v4).
            pub fn generate() -> Self {
                Self(uuid::Uuid::new_v4().to_string())
            }

            /// `raw` if it can name one (its type's rule; at least 1 to
            /// [`MAX_ID_BYTES`] bytes).
            pub fn parse(raw: &str) -> Option<Self> {
                $valid(raw).then(|| Self(raw.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(raw: String) -> Result<Self, String> {
                if $valid(&raw) {
                    Ok(Self(raw))
                } else {
                    Err(format!("not a valid {}", stringify!($name)))
                }
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// An order's id.
    OrderId
);
id_type!(
    /// A product's id.
    ProductId
);
id_type!(
    /// A customer's id: the directory's (Cognito's) `sub` of the user, the
    /// subject of their tokens and the owner of their orders; never the CPF.
    CustomerId
);
id_type!(
    /// An enrolled kiosk's id (a UUID we minted): hex digits and `-`, at
    /// most 64 bytes, so nothing else reaches the kiosks table.
    KioskId,
    is_kiosk_id
);
id_type!(
    /// A store's id (a UUID we minted): the same alphabet as a kiosk's, so
    /// nothing else reaches the stores table's keys.
    StoreId,
    is_kiosk_id
);
id_type!(
    /// Mercado Pago's id of an order (`ORD01JQ4S4KY8HWQ6NA5PXB65B3D3`): 1 to
    /// 64 ASCII letters, digits, `-` or `_`. It arrives from webhooks
    /// (untrusted query strings) and goes into URL paths, so nothing else is
    /// let in.
    ProviderOrderId,
    is_provider_order_id
);

id_type!(
    /// A Mercado Pago point of sale's `external_id` (`SUC001POS001`): the
    /// QR orders of a kiosk are created on it. Mercado Pago takes 1 to 40
    /// letters and digits, nothing else (its `INVALID_EXTERNAL_ID`,
    /// `EXTERNAL_ID_TOO_LONG`), so we refuse the rest at enrolment instead
    /// of at the first payment.
    PosId,
    is_pos_id
);

fn is_pos_id(raw: &str) -> bool {
    (1..=40).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn is_kiosk_id(raw: &str) -> bool {
    (1..=64).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

fn is_provider_order_id(raw: &str) -> bool {
    (1..=64).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An `Idempotency-Key` header: 1 to 128 visible ASCII characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Option<Self> {
        (fits(raw) && raw.bytes().all(|b| b.is_ascii_graphic())).then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_one_to_128_bytes() {
        assert!(OrderId::parse("").is_none());
        assert!(OrderId::parse(&"a".repeat(128)).is_some());
        assert!(OrderId::parse(&"a".repeat(129)).is_none());
        assert!(ProductId::try_from(String::new()).is_err());
        assert_eq!(OrderId::generate().as_str().len(), 36);
    }

    #[test]
    fn ids_deserialize_only_when_valid() {
        let id: ProductId = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(id.as_str(), "abc");
        assert!(serde_json::from_str::<ProductId>("\"\"").is_err());
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"abc\"");
    }

    #[test]
    fn kiosk_and_provider_ids_keep_their_own_alphabets() {
        assert!(KioskId::parse("6f1c2b9e-8d0a-4b5e-9a77-0c3d2e1f4a5b").is_some());
        for bad in ["", "kiosk#1", "../x", &"a".repeat(65)] {
            assert!(KioskId::parse(bad).is_none(), "{bad}");
        }
        assert!(ProviderOrderId::parse("ORD01JQ4S4KY8HWQ6NA5PXB65B3D3").is_some());
        for bad in ["", "ORD/../x", "a b", &"A".repeat(65)] {
            assert!(ProviderOrderId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn points_of_sale_are_mercado_pagos_letters_and_digits() {
        assert!(PosId::parse("SUC001POS001").is_some());
        assert!(PosId::parse(&"A".repeat(40)).is_some());
        for bad in [
            "",
            "SUC-001",
            "POS 1",
            "POS_1",
            "caixa#1",
            "ção",
            &"A".repeat(41),
        ] {
            assert!(PosId::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn idempotency_keys_are_visible_ascii() {
        assert!(IdempotencyKey::parse("key-1").is_some());
        for bad in ["", "has space", "tab\t", "ç", &"k".repeat(129)] {
            assert!(IdempotencyKey::parse(bad).is_none(), "{bad:?}");
        }
    }
}
