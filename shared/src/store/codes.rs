//! E-mailed codes in the sessions table, one item per customer:
//! `pk = "verify#<customer id>"`, `sk = "code"`, holding the code's salted
//! HMAC (`code_hash`, `salt`), the SHA-256 of the address it was mailed to,
//! `sent_at`, `expires_at` (the TTL attribute, also the code's deadline) and
//! the wrong `attempts`.
//!
//! Every rule is a condition on a single write, so no two requests can race
//! past it: a new code replaces the item only if the last was sent at least a
//! minute ago (one live code, one mail a minute); a wrong guess is counted
//! only while fewer than five were; the right code is spent by a delete that
//! holds under the same conditions. A guess whose write is refused has no
//! effect but its answer.

use crate::domain::CustomerId;
use crate::domain::verification::{
    CODE_TTL_SECONDS, MAX_ATTEMPTS, OneTimeCode, RESEND_AFTER_SECONDS, SALT_BYTES, address_digest,
    code_hash, code_matches, hex, resend_wait, unhex,
};
use crate::store::dynamo::s;
use crate::store::sdk::from_sdk;
use crate::store::sessions::SessionsTable;
use crate::{Error, Result};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

const SORT_KEY: &str = "code";

/// A code just stored, to mail.
#[derive(Debug)]
pub struct IssuedCode {
    pub code: OneTimeCode,
    /// Identifies this code's item (for [`VerificationCodes::withdraw`]).
    pub salt: String,
}

/// What a confirmation found.
#[derive(Debug, PartialEq, Eq)]
pub enum CodeCheck {
    /// The right code, now spent; the SHA-256 of the address it was mailed to.
    Accepted { address_sha256: String },
    /// A wrong code (counted), or none is live, or it has expired.
    Rejected,
    /// Five wrong codes spent it (this one may have been the fifth).
    Spent,
}

#[derive(Clone)]
pub struct VerificationCodes {
    table: SessionsTable,
}

fn key_of(customer: &CustomerId) -> AttributeValue {
    s(format!("verify#{customer}"))
}

fn number(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn read_number(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

fn read_text<'a>(item: &'a Item, name: &str) -> &'a str {
    match item.get(name) {
        Some(AttributeValue::S(text)) => text,
        _ => "",
    }
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| Error::internal(e.to_string()))?;
    Ok(bytes)
}

/// Whether an item's wrong attempts have spent its code.
fn spent(item: Option<&Item>) -> bool {
    item.and_then(|item| read_number(item, "attempts"))
        .is_some_and(|n| n >= i64::from(MAX_ATTEMPTS))
}

impl VerificationCodes {
    pub fn new(table: SessionsTable) -> Self {
        Self { table }
    }

    /// A new code for `customer`, mailed to `address`, replacing any earlier
    /// one; `Err(seconds)` to wait while the last was sent less than a
    /// minute before `now` (Unix seconds).
    pub async fn issue(
        &self,
        customer: &CustomerId,
        address: &str,
        now: i64,
    ) -> Result<std::result::Result<IssuedCode, u64>> {
        let code = loop {
            let draw = u32::from_le_bytes(random::<4>()?);
            if let Some(code) = OneTimeCode::from_random(draw) {
                break code;
            }
        };
        let salt = random::<SALT_BYTES>()?;
        let salt_hex = hex(&salt);
        let result = self
            .table
            .client()
            .put_item()
            .table_name(self.table.table())
            .item("pk", key_of(customer))
            .item("sk", s(SORT_KEY))
            .item("code_hash", s(code_hash(&salt, customer.as_str(), &code)))
            .item("salt", s(&salt_hex))
            .item("address_sha256", s(address_digest(address)))
            .item("sent_at", number(now))
            .item("expires_at", number(now + CODE_TTL_SECONDS))
            .item("attempts", number(0))
            .condition_expression("attribute_not_exists(pk) OR sent_at <= :resend_before")
            .expression_attribute_values(":resend_before", number(now - RESEND_AFTER_SECONDS))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Ok(IssuedCode {
                code,
                salt: salt_hex,
            })),
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(
                    refused,
                )) => {
                    let sent_at = refused
                        .item()
                        .and_then(|item| read_number(item, "sent_at"))
                        .unwrap_or(now);
                    Ok(Err(resend_wait(sent_at, now)))
                }
                _ => Err(from_sdk(e)),
            },
        }
    }

    /// Drops the code `issue` stored (its mail could not be sent), unless a
    /// newer one replaced it.
    pub async fn withdraw(&self, customer: &CustomerId, issued: &IssuedCode) -> Result<()> {
        let result = self
            .table
            .client()
            .delete_item()
            .table_name(self.table.table())
            .key("pk", key_of(customer))
            .key("sk", s(SORT_KEY))
            .condition_expression("salt = :salt")
            .expression_attribute_values(":salt", s(&issued.salt))
            .send()
            .await;
        crate::store::dynamo::applied(result).map(|_| ())
    }

    /// Drops the customer's code, whatever its state (erasure: the hash of
    /// their address goes with them).
    pub async fn forget(&self, customer: &CustomerId) -> Result<()> {
        self.table
            .client()
            .delete_item()
            .table_name(self.table.table())
            .key("pk", key_of(customer))
            .key("sk", s(SORT_KEY))
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(())
    }

    /// Checks `code` against the customer's live code at `now` (Unix
    /// seconds); the right code is spent, a wrong one counted.
    pub async fn check(
        &self,
        customer: &CustomerId,
        code: &OneTimeCode,
        now: i64,
    ) -> Result<CodeCheck> {
        let found = self
            .table
            .client()
            .get_item()
            .table_name(self.table.table())
            .key("pk", key_of(customer))
            .key("sk", s(SORT_KEY))
            .consistent_read(true)
            .send()
            .await
            .map_err(from_sdk)?;
        let Some(item) = found.item() else {
            return Ok(CodeCheck::Rejected);
        };
        if spent(Some(item)) {
            return Ok(CodeCheck::Spent);
        }
        if read_number(item, "expires_at").is_none_or(|deadline| deadline <= now) {
            return Ok(CodeCheck::Rejected);
        }
        let salt_hex = read_text(item, "salt");
        let salt = unhex(salt_hex).ok_or_else(|| Error::internal("a stored salt is not hex"))?;
        let right = code_matches(read_text(item, "code_hash"), &salt, customer.as_str(), code);
        // The same conditions hold the write whichever way the guess went: the
        // very code read above, fewer than five wrong guesses, not expired.
        let condition = "salt = :salt AND attempts < :max AND expires_at > :now";
        let values = [
            (":salt", s(salt_hex)),
            (":max", number(i64::from(MAX_ATTEMPTS))),
            (":now", number(now)),
        ];
        if right {
            let mut delete = self
                .table
                .client()
                .delete_item()
                .table_name(self.table.table())
                .key("pk", key_of(customer))
                .key("sk", s(SORT_KEY))
                .condition_expression(condition)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            for (name, value) in values {
                delete = delete.expression_attribute_values(name, value);
            }
            return match delete.send().await {
                Ok(_) => Ok(CodeCheck::Accepted {
                    address_sha256: read_text(item, "address_sha256").to_owned(),
                }),
                Err(e) => match e.as_service_error() {
                    Some(aws_sdk_dynamodb::operation::delete_item::DeleteItemError::ConditionalCheckFailedException(
                        refused,
                    )) => Ok(refused_check(refused.item())),
                    _ => Err(from_sdk(e)),
                },
            };
        }
        let mut update = self
            .table
            .client()
            .update_item()
            .table_name(self.table.table())
            .key("pk", key_of(customer))
            .key("sk", s(SORT_KEY))
            .update_expression("ADD attempts :one")
            .condition_expression(condition)
            .expression_attribute_values(":one", number(1))
            .return_values(ReturnValue::UpdatedNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (name, value) in values {
            update = update.expression_attribute_values(name, value);
        }
        match update.send().await {
            Ok(counted) => Ok(if spent(counted.attributes()) {
                CodeCheck::Spent
            } else {
                CodeCheck::Rejected
            }),
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(
                    refused,
                )) => Ok(refused_check(refused.item())),
                _ => Err(from_sdk(e)),
            },
        }
    }
}

/// A guess whose write a concurrent one beat: spent if the wrong guesses
/// have run out, else rejected (the code was replaced, spent or expired).
fn refused_check(old: Option<&Item>) -> CodeCheck {
    if spent(old) {
        CodeCheck::Spent
    } else {
        CodeCheck::Rejected
    }
}
