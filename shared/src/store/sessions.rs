//! The sessions table: proof of identity that outlives a request, stored only
//! as hashes, every item dropped by the table's TTL (`expires_at`, epoch
//! seconds; reads check it too, since the TTL deletes late). Keyed by
//! (`pk`, `sk`).
//!
//! A customer's e-mailed code: `pk = "verify#<customer id>"` (`store::codes`).
//!
//! Staff refresh tokens (an opaque 32 random bytes, base64url, kept as the
//! hex SHA-256 of its text; high-entropy, so a plain digest is as hard to
//! invert as the token is to guess):
//! - a token: `pk = "refresh#<sha256>"`, `sk = "refresh"`: its `family`,
//!   the staff member's `username` and `staff_id` (the Cognito `sub`),
//!   `spent` and `expires_at`;
//! - a family (a sign-in and every token rotated from it):
//!   `pk = "family#<id>"`, `sk = "family"`: `staff_id`, `revoked`,
//!   `expires_at` (pushed forward to its newest token's on each rotation);
//! - a staff member's families: `pk = "staff#<staff_id>"`, `sk = <family id>`,
//!   `expires_at` as its family's: one Query finds every family to revoke,
//!   never a Scan. Keyed by the Cognito `sub`, not the username: the `sub`
//!   is canonical (a username may be typed in another case) and never reused
//!   by a later user of the same name.
//!
//! A rotation: one conditional write spends the old token (only if it was
//! not; it names its `successor`), so two uses of one token: exactly one
//! wins; then one transaction puts the new token and pushes the family's
//! expiry and the index item's with it.
//!
//! Staff TOTP sign-in steps: `pk = "mfa#<sha256>"`, `sk = "mfa"`, for the
//! opaque `session` handed to the client between the password and the code:
//! its `kind` (`challenge`: Cognito asked for a code; `setup`: enrolment),
//! the `username`, the Cognito credential the next step needs (`sealed`:
//! encrypted by the caller under a key only the client's session value
//! gives, so the table alone opens nothing), `associated`, `attempts`
//! (wrong codes) and `expires_at`.

use crate::store::dynamo::{Item, applied, s};
use crate::store::sdk::from_sdk;
use crate::{Error, Result};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use sha2::{Digest, Sha256};

const SK_REFRESH: &str = "refresh";
const SK_FAMILY: &str = "family";
const SK_MFA: &str = "mfa";

/// A new opaque secret: 32 random bytes, base64url without padding.
pub fn new_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::internal(e.to_string()))?;
    Ok(B64.encode(bytes))
}

/// The hex SHA-256 of a secret: how the table names it.
pub fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

fn flag(item: &Item, name: &str) -> bool {
    item.get(name)
        .and_then(|v| v.as_bool().ok())
        .copied()
        .unwrap_or(false)
}

/// A staff refresh token as stored.
#[derive(Debug, Clone)]
pub struct RefreshToken {
    pub family: String,
    pub username: String,
    pub staff_id: String,
    pub spent: bool,
    pub expires_at: i64,
}

/// Who a new family of refresh tokens belongs to.
#[derive(Debug, Clone)]
pub struct StaffSession<'a> {
    pub username: &'a str,
    pub staff_id: &'a str,
}

/// A TOTP step between the password and the code, as stored.
#[derive(Debug, Clone)]
pub struct MfaStep {
    pub kind: String,
    pub username: String,
    pub sealed: String,
    pub associated: bool,
    pub expires_at: i64,
}

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

    /// The client, for the stores of other items of the table.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(output.item)
    }

    fn put(&self, item: Item) -> Result<TransactWriteItem> {
        Ok(TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .map_err(Error::internal)?,
            )
            .build())
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<bool> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        // `false` only for a failed condition: a transaction cancelled by
        // throttling or a conflict is the dependency's (503), never taken for
        // a token used twice.
        let failed_condition =
            |e: &aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError| {
                match e {
            aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => c
                .cancellation_reasons()
                .iter()
                .any(|r| r.code() == Some("ConditionalCheckFailed")),
            _ => false,
        }
            };
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(failed_condition) => Ok(false),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_transaction_canceled_exception()) =>
            {
                Err(Error::Unavailable(
                    "the sessions transaction was cancelled".into(),
                ))
            }
            Err(e) => Err(from_sdk(e)),
        }
    }

    fn refresh_item(hash: &str, family: &str, who: &StaffSession<'_>, expires_at: i64) -> Item {
        Item::from([
            ("pk".to_owned(), s(format!("refresh#{hash}"))),
            ("sk".to_owned(), s(SK_REFRESH)),
            ("family".to_owned(), s(family)),
            ("username".to_owned(), s(who.username)),
            ("staff_id".to_owned(), s(who.staff_id)),
            ("spent".to_owned(), AttributeValue::Bool(false)),
            ("expires_at".to_owned(), n(expires_at)),
        ])
    }

    /// A new family whose first token is the one hashing to `hash`, valid
    /// until `expires_at`: one transaction (family, index, token).
    pub async fn start_family(
        &self,
        who: &StaffSession<'_>,
        hash: &str,
        expires_at: i64,
    ) -> Result<String> {
        let family = uuid::Uuid::new_v4().simple().to_string();
        let family_item = Item::from([
            ("pk".to_owned(), s(format!("family#{family}"))),
            ("sk".to_owned(), s(SK_FAMILY)),
            ("staff_id".to_owned(), s(who.staff_id)),
            ("revoked".to_owned(), AttributeValue::Bool(false)),
            ("expires_at".to_owned(), n(expires_at)),
        ]);
        let index_item = Item::from([
            ("pk".to_owned(), s(format!("staff#{}", who.staff_id))),
            ("sk".to_owned(), s(&family)),
            ("expires_at".to_owned(), n(expires_at)),
        ]);
        let items = vec![
            self.put(family_item)?,
            self.put(index_item)?,
            self.put(Self::refresh_item(hash, &family, who, expires_at))?,
        ];
        // A refusal with the family in place is our own attempt, committed
        // and retried by the SDK (the id is new: nobody else writes it).
        let placed = self.transact(items).await?
            || self
                .get(format!("family#{family}"), SK_FAMILY)
                .await?
                .is_some();
        if placed {
            Ok(family)
        } else {
            Err(Error::internal("a new refresh token family collided"))
        }
    }

    /// The token hashing to `hash`, if it was ever issued and the TTL has not
    /// dropped it (its `expires_at` is the caller's to check).
    pub async fn refresh_token(&self, hash: &str) -> Result<Option<RefreshToken>> {
        let Some(item) = self.get(format!("refresh#{hash}"), SK_REFRESH).await? else {
            return Ok(None);
        };
        let field = |name| text(&item, name).ok_or_else(|| Error::internal("a malformed token"));
        Ok(Some(RefreshToken {
            family: field("family")?,
            username: field("username")?,
            staff_id: field("staff_id")?,
            spent: flag(&item, "spent"),
            expires_at: number(&item, "expires_at").unwrap_or(0),
        }))
    }

    /// Whether the family may still refresh at `now`: it exists, is not
    /// revoked and has not expired.
    pub async fn family_alive(&self, family: &str, now: i64) -> Result<bool> {
        let item = self.get(format!("family#{family}"), SK_FAMILY).await?;
        Ok(item.is_some_and(|item| {
            !flag(&item, "revoked") && number(&item, "expires_at").is_some_and(|e| e > now)
        }))
    }

    /// The staff member a family belongs to (`None`: no such family).
    pub async fn family_owner(&self, family: &str) -> Result<Option<String>> {
        let item = self.get(format!("family#{family}"), SK_FAMILY).await?;
        Ok(item.and_then(|item| text(&item, "staff_id")))
    }

    /// Spends the token hashing to `old` and issues the one hashing to `new`
    /// in its family, valid until `expires_at`; `false` when the old token was
    /// already spent (a concurrent use won) or the family is gone.
    ///
    /// First the claim: one conditional write spends the old token and names
    /// its successor, so exactly one of two uses wins (a single item's
    /// condition; the emulator's transactions are not safe against
    /// concurrent ones: a refused one restores its snapshot of the table).
    /// Then one transaction puts the successor and pushes the family's expiry.
    /// It does not test `revoked`: the caller checked it before the claim, and
    /// a family revoked since (by the losers of a concurrent use, say) keeps
    /// the winner's answer whole; its new token fails at its first use. A
    /// crash between the two writes leaves the old token spent and no
    /// successor: the client signs in again.
    pub async fn rotate(
        &self,
        old: &str,
        token: &RefreshToken,
        new: &str,
        expires_at: i64,
    ) -> Result<bool> {
        let claimed = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("refresh#{old}")))
            .key("sk", s(SK_REFRESH))
            .update_expression("SET spent = :yes, successor = :new")
            .condition_expression("spent = :no")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .expression_attribute_values(":new", s(new))
            .send()
            .await;
        if !applied(claimed)? {
            // Refused; unless it was our own claim, applied, then retried by
            // the SDK after its answer was lost: only this caller knows `new`.
            let ours = self
                .get(format!("refresh#{old}"), SK_REFRESH)
                .await?
                .is_some_and(|item| text(&item, "successor").as_deref() == Some(new));
            if !ours {
                return Ok(false);
            }
        }
        let update = |pk: String,
                      sk: &str,
                      set: &str,
                      condition: &str,
                      values: &[(&str, AttributeValue)]| {
            let mut update = Update::builder()
                .table_name(&self.table)
                .key("pk", s(pk))
                .key("sk", s(sk))
                .update_expression(set)
                .condition_expression(condition);
            for (name, value) in values {
                update = update.expression_attribute_values(*name, value.clone());
            }
            update
                .build()
                .map(|u| TransactWriteItem::builder().update(u).build())
                .map_err(Error::internal)
        };
        let who = StaffSession {
            username: &token.username,
            staff_id: &token.staff_id,
        };
        let items = vec![
            self.put(Self::refresh_item(new, &token.family, &who, expires_at))?,
            update(
                format!("family#{}", token.family),
                SK_FAMILY,
                "SET expires_at = :expires",
                "attribute_exists(pk)",
                &[(":expires", n(expires_at))],
            )?,
            update(
                format!("staff#{}", token.staff_id),
                &token.family,
                "SET expires_at = :expires",
                "attribute_exists(pk)",
                &[(":expires", n(expires_at))],
            )?,
        ];
        if self.transact(items).await? {
            return Ok(true);
        }
        // Refused (the family is gone); unless it was our own attempt,
        // committed, then retried by the SDK: the successor then exists.
        Ok(self
            .get(format!("refresh#{new}"), SK_REFRESH)
            .await?
            .is_some())
    }

    /// Revokes a family: none of its tokens refreshes again. Revoking one
    /// that is gone is not an error.
    pub async fn revoke_family(&self, family: &str) -> Result<()> {
        self.set_true(format!("family#{family}"), SK_FAMILY, "revoked")
            .await
            .map(|_| ())
    }

    /// Sets the flag `attribute` of the item (`pk`, `sk`) if the item
    /// exists; whether it did.
    async fn set_true(&self, pk: String, sk: &str, attribute: &str) -> Result<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression("SET #flag = :yes")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#flag", attribute)
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await;
        applied(result)
    }

    /// Revokes every family of the staff member `staff_id` (Query on the
    /// index, page after page); how many.
    pub async fn revoke_staff(&self, staff_id: &str) -> Result<usize> {
        let mut revoked = 0;
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(format!("staff#{staff_id}")))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(from_sdk)?;
            for item in output.items() {
                if let Some(family) = text(item, "sk") {
                    self.revoke_family(&family).await?;
                    revoked += 1;
                }
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(revoked);
            }
        }
    }

    /// Stores a TOTP step under the hash of its session value.
    pub async fn put_mfa(&self, hash: &str, step: &MfaStep) -> Result<()> {
        let item = Item::from([
            ("pk".to_owned(), s(format!("mfa#{hash}"))),
            ("sk".to_owned(), s(SK_MFA)),
            ("kind".to_owned(), s(&step.kind)),
            ("username".to_owned(), s(&step.username)),
            ("sealed".to_owned(), s(&step.sealed)),
            (
                "associated".to_owned(),
                AttributeValue::Bool(step.associated),
            ),
            ("attempts".to_owned(), n(0)),
            ("expires_at".to_owned(), n(step.expires_at)),
        ]);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(())
    }

    /// The TOTP step under `hash`, if it has not expired at `now`.
    pub async fn mfa(&self, hash: &str, now: i64) -> Result<Option<MfaStep>> {
        let Some(item) = self.get(format!("mfa#{hash}"), SK_MFA).await? else {
            return Ok(None);
        };
        let expires_at = number(&item, "expires_at").unwrap_or(0);
        if expires_at <= now {
            return Ok(None);
        }
        let field = |name| text(&item, name).ok_or_else(|| Error::internal("a malformed step"));
        Ok(Some(MfaStep {
            kind: field("kind")?,
            username: field("username")?,
            sealed: field("sealed")?,
            associated: flag(&item, "associated"),
            expires_at,
        }))
    }

    /// Notes that the step's secret was handed out (enrolment may verify now).
    pub async fn mark_associated(&self, hash: &str) -> Result<bool> {
        self.set_true(format!("mfa#{hash}"), SK_MFA, "associated")
            .await
    }

    /// Counts an attempt at a code; `false` (and the step deleted) once `max`
    /// were counted.
    pub async fn count_attempt(&self, hash: &str, max: u32) -> Result<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("mfa#{hash}")))
            .key("sk", s(SK_MFA))
            .update_expression("ADD attempts :one")
            .condition_expression("attribute_exists(pk) AND attempts < :max")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(i64::from(max) - 1))
            .send()
            .await;
        if applied(result)? {
            return Ok(true);
        }
        self.claim_mfa(hash).await?;
        Ok(false)
    }

    /// Deletes the step, once: `true` for the one caller that did.
    pub async fn claim_mfa(&self, hash: &str) -> Result<bool> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(format!("mfa#{hash}")))
            .key("sk", s(SK_MFA))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        applied(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_named_by_its_digest_and_is_256_random_bits() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let (a, b) = (new_secret().unwrap(), new_secret().unwrap());
        assert_eq!(B64.decode(&a).unwrap().len(), 32);
        assert_ne!(a, b);
    }
}
