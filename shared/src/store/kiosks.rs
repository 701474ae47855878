//! Enrolled kiosks and their sign-in counters, in one DynamoDB table keyed by
//! (`pk`, `sk`):
//! - a kiosk: `pk = "kiosk"`, `sk = <id>`, with its name, its store, the
//!   SHA-256 of its secret (never the secret), `created_at` and `revoked`.
//!   One Query on `pk = "kiosk"` lists the chain's (an admin's list: a chain
//!   has hundreds of kiosks, not millions), one Query on the GSI `by_store`
//!   (`store_id`, `sk`) one store's; never a Scan. A kiosk signs in every 15
//!   minutes, so the partition sees about one read a second per thousand
//!   kiosks: far from any partition's limit.
//! - a counter: `pk = "signins#<id>"`, `sk = <minute>`, the CPF sign-ins,
//!   signups and guest sessions of that kiosk in that minute; it expires
//!   through the table's TTL.
//!
//! A kiosk's secret is 32 random bytes (base64url), shown once at enrolment.
//! It is high-entropy, so a plain SHA-256 of it is as hard to invert as the
//! secret is to guess (a slow password hash buys nothing here and costs every
//! sign-in). Revocation is final: a revoked kiosk is never enrolled again.

use crate::clock;
pub use crate::domain::kiosk::{Enrolled, Kiosk};
use crate::domain::{KioskId, PosId, StoreId};
use crate::store::dynamo::{applied, from_item, is_condition_failure, s, text, to_item};
use crate::store::sdk::from_sdk;
use crate::{Error, Result};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

const KIOSK_PK: &str = "kiosk";
pub const BY_STORE_INDEX: &str = "by_store";
/// Counters outlive their minute by this much, then DynamoDB's TTL drops them.
const COUNTER_LIFETIME_SECONDS: i64 = 300;
pub const MAX_KIOSKS_PER_PAGE: u16 = 100;

#[derive(Serialize, Deserialize)]
struct KioskItem {
    pk: String,
    sk: KioskId,
    name: String,
    store_id: StoreId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mercadopago_pos_id: Option<PosId>,
    secret_sha256: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(default)]
    revoked: bool,
}

impl From<KioskItem> for Kiosk {
    fn from(item: KioskItem) -> Self {
        Self {
            id: item.sk,
            name: item.name,
            store_id: item.store_id,
            mercadopago_pos_id: item.mercadopago_pos_id,
            created_at: item.created_at,
            revoked: item.revoked,
        }
    }
}

/// The SHA-256 of a secret, hex.
fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Clone)]
pub struct KioskStore {
    client: Client,
    table: String,
}

impl KioskStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Enrols a kiosk named `name` at `store` (on its own point of sale
    /// `pos`, if given) with a new 256-bit secret.
    pub async fn enrol(&self, name: &str, store: &StoreId, pos: Option<PosId>) -> Result<Enrolled> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| Error::internal(e.to_string()))?;
        let secret = B64.encode(secret);
        let item = KioskItem {
            pk: KIOSK_PK.to_owned(),
            sk: KioskId::generate(),
            name: name.to_owned(),
            store_id: store.clone(),
            mercadopago_pos_id: pos,
            secret_sha256: digest(&secret),
            created_at: clock::now(),
            revoked: false,
        };
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&item)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(Enrolled {
            kiosk: item.into(),
            secret,
        })
    }

    /// A page of the kiosks by id, of one store or of the whole chain: one
    /// Query.
    pub async fn list(
        &self,
        store: Option<&StoreId>,
        limit: u16,
        after: Option<String>,
    ) -> Result<(Vec<Kiosk>, Option<String>)> {
        let with_cursor = after.is_some();
        let start = after.map(|id| {
            let mut key = std::collections::HashMap::from([
                ("pk".to_owned(), s(KIOSK_PK)),
                ("sk".to_owned(), s(id)),
            ]);
            if let Some(store) = store {
                key.insert("store_id".to_owned(), s(store.as_str()));
            }
            key
        });
        let query = self.client.query().table_name(&self.table);
        let query = match store {
            Some(store) => query
                .index_name(BY_STORE_INDEX)
                .key_condition_expression("store_id = :store")
                .expression_attribute_values(":store", s(store.as_str())),
            None => query
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(KIOSK_PK)),
        };
        let output = query
            .limit(i32::from(limit.clamp(1, MAX_KIOSKS_PER_PAGE)))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| crate::store::sdk::query_failed(e, with_cursor))?;
        let kiosks = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| from_item::<KioskItem>(item).map(Kiosk::from))
            .collect::<Result<Vec<_>>>()?;
        let next = output.last_evaluated_key.and_then(|k| text(&k, "sk"));
        Ok((kiosks, next))
    }

    /// Revokes a kiosk for good, if it stands in `store` when one is named
    /// (one conditional write); `false` if there is no such kiosk (there).
    pub async fn revoke(&self, id: &KioskId, store: Option<&StoreId>) -> Result<bool> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(KIOSK_PK))
            .key("sk", s(id.as_str()))
            .update_expression("SET revoked = :yes")
            .expression_attribute_values(":yes", AttributeValue::Bool(true));
        let update = match store {
            Some(store) => update
                .condition_expression("attribute_exists(pk) AND store_id = :store")
                .expression_attribute_values(":store", s(store.as_str())),
            None => update.condition_expression("attribute_exists(pk)"),
        };
        applied(update.send().await)
    }

    /// The kiosk if `secret` is its secret and it is not revoked; `None` for
    /// an unknown kiosk, a wrong secret and a revoked kiosk alike.
    pub async fn authenticate(&self, id: &str, secret: &str) -> Result<Option<Kiosk>> {
        let Some(id) = KioskId::parse(id) else {
            return Ok(None);
        };
        if secret.is_empty() || secret.len() > 128 {
            return Ok(None);
        }
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(KIOSK_PK))
            .key("sk", s(id.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(from_sdk)?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let item: KioskItem = from_item(item)?;
        // Both sides are digests of the same length: compare without an
        // early exit, so timing says nothing about how much matched.
        let given = digest(secret);
        let matches = given
            .bytes()
            .zip(item.secret_sha256.bytes())
            .fold(given.len() == item.secret_sha256.len(), |same, (a, b)| {
                same & (a == b)
            });
        Ok((matches && !item.revoked).then(|| item.into()))
    }

    /// Counts one CPF sign-in or signup of `kiosk` in the UTC minute of
    /// `now`, unless that minute already has `limit`: then `Err(seconds
    /// until the next minute)`. One conditional ADD, so concurrent requests
    /// cannot slip past the limit.
    pub async fn count_signin(
        &self,
        kiosk: &str,
        limit: u32,
        now: OffsetDateTime,
    ) -> Result<std::result::Result<(), u64>> {
        let now = now.unix_timestamp();
        let minute = now - now.rem_euclid(60);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("signins#{kiosk}")))
            .key("sk", s(minute.to_string()))
            .update_expression("ADD signins :one SET expires_at = :expires")
            .condition_expression("attribute_not_exists(signins) OR signins < :limit")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":limit", AttributeValue::N(limit.to_string()))
            .expression_attribute_values(
                ":expires",
                AttributeValue::N((minute + 60 + COUNTER_LIFETIME_SECONDS).to_string()),
            )
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::None)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Ok(())),
            Err(e) if is_condition_failure(&e) => {
                let wait = u64::try_from(minute + 60 - now).unwrap_or(60).max(1);
                Ok(Err(wait))
            }
            Err(e) => Err(from_sdk(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_kept_as_its_digest() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
