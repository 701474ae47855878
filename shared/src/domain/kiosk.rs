//! An enrolled kiosk device of the restaurant.

use crate::domain::ids::{KioskId, PosId, StoreId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The longest kiosk name, in characters.
pub const MAX_KIOSK_NAME_CHARS: usize = 100;

/// A kiosk as the API shows it (never its secret or its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kiosk {
    pub id: KioskId,
    pub name: String,
    /// The store it stands in: its sessions and orders are that store's.
    pub store_id: StoreId,
    /// Its own Mercado Pago point of sale, if it has one: its customers'
    /// QR orders are created there (else on its store's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mercadopago_pos_id: Option<PosId>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub revoked: bool,
}

/// A kiosk just enrolled, with its secret (shown this once).
#[derive(Debug, Clone, Serialize)]
pub struct Enrolled {
    #[serde(flatten)]
    pub kiosk: Kiosk,
    pub secret: String,
}
