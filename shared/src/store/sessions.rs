//! The sessions table: proof of identity that outlives a request, stored only
//! as hashes and dropped by the table's TTL (`expires_at`, Unix seconds).
//! Keyed by (`pk`, `sk`): a customer's e-mailed code is
//! `pk = "verify#<customer id>"` (`store::codes`); staff refresh tokens and
//! their families live beside them under their own prefixes.

use aws_sdk_dynamodb::Client;

/// The table's handle: its client and name, shared by the stores of the
/// items it holds.
#[derive(Clone)]
pub struct SessionsTable {
    client: Client,
    table: String,
}

impl SessionsTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}
