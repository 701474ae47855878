//! The sessions table: proof of identity that outlives one request, kept only
//! as hashes and dropped by DynamoDB's TTL (`expires_at`). Keyed by (`pk`, `sk`):
//! - a customer's e-mailed code: `pk = "verify#<customer id>"`;
//! - a staff refresh token: `pk = "refresh#<sha256 of the token>"`, and its
//!   family: `pk = "family#<id>"`.

use aws_sdk_dynamodb::Client;

/// The table, shared by the e-mailed codes and the staff sessions; each owns
/// its key prefix.
#[derive(Clone)]
pub struct SessionsTable {
    pub(crate) db: Client,
    pub(crate) table: String,
}

impl SessionsTable {
    pub fn new(db: Client, table: impl Into<String>) -> Self {
        Self {
            db,
            table: table.into(),
        }
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.table
    }

    /// The DynamoDB client it is read through.
    pub fn client(&self) -> &Client {
        &self.db
    }
}
