//! The lists: a caller's own orders, the kitchen queue, the pickup board,
//! and the orders due for expiry. Queries only, never a Scan.

use super::{AWAITING_INDEX, AWAITING_SHARDS, OrderItem, OrderStore, due_bound, queue_key};
use crate::domain::Subject;
use crate::domain::ids::{OrderId, StoreId};
use crate::domain::order::{Order, OrderStatus};
use crate::store::dynamo::{from_item, s, text};
use crate::store::sdk::{from_sdk, query_failed};
use crate::{Error, Result};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A position in the caller's own orders.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OwnCursor {
    pub sk: String,
    pub id: String,
}

/// A position in the kitchen queue: the last order shown and its status.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueCursor {
    pub status: OrderStatus,
    pub sk: String,
    pub id: String,
}

impl OrderStore {
    /// The ids of the orders awaiting payment whose deadline is `now` or
    /// earlier, oldest deadline first, at most `limit`: one Query per
    /// partition of the `awaiting` index ([`AWAITING_SHARDS`], all at once;
    /// a page per 1 MB, and its items are keys, so one page each), merged.
    /// The index is eventually consistent: read each order again before
    /// acting on it.
    pub async fn due_orders(&self, now: time::OffsetDateTime, limit: u16) -> Result<Vec<OrderId>> {
        let bound = due_bound(now);
        let shards =
            (0..AWAITING_SHARDS).map(|shard| self.due_in(format!("{shard:x}"), &bound, limit));
        let mut due: Vec<(String, OrderId)> = futures_util::future::try_join_all(shards)
            .await?
            .into_iter()
            .flatten()
            .collect();
        due.sort();
        due.truncate(usize::from(limit));
        Ok(due.into_iter().map(|(_, id)| id).collect())
    }

    /// The `(due_at, id)` of at most `limit` orders of one `awaiting`
    /// partition due before `bound`, oldest first.
    async fn due_in(
        &self,
        shard: String,
        bound: &str,
        limit: u16,
    ) -> Result<Vec<(String, OrderId)>> {
        let mut due = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(AWAITING_INDEX)
                .key_condition_expression("awaiting = :awaiting AND due_at < :bound")
                .expression_attribute_values(":awaiting", s(&shard))
                .expression_attribute_values(":bound", s(bound))
                .scan_index_forward(true)
                .limit(i32::from(limit) - i32::try_from(due.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(from_sdk)?;
            due.extend(output.items.unwrap_or_default().iter().filter_map(|item| {
                let id = OrderId::parse(&text(item, "id")?)?;
                Some((text(item, "due_at")?, id))
            }));
            start = output.last_evaluated_key;
            if start.is_none() || due.len() >= usize::from(limit) {
                return Ok(due);
            }
        }
    }

    /// A page of `owner`'s orders, newest first: one Query.
    pub async fn list_own(
        &self,
        owner: &Subject,
        limit: u16,
        after: Option<OwnCursor>,
    ) -> Result<(Vec<Order>, Option<OwnCursor>)> {
        let with_cursor = after.is_some();
        let owner = owner.to_string();
        let start = after.map(|c| {
            HashMap::from([
                ("id".to_owned(), s(c.id)),
                ("customer_id".to_owned(), s(&owner)),
                ("owner_sk".to_owned(), s(c.sk)),
            ])
        });
        let output = self
            .owner_query(&owner)
            .scan_index_forward(false)
            .limit(i32::from(limit))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| query_failed(e, with_cursor))?;
        let orders = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|i| from_item::<OrderItem>(i).map(|i| i.order))
            .collect::<Result<_>>()?;
        let next = output.last_evaluated_key.and_then(|k| {
            Some(OwnCursor {
                sk: text(&k, "owner_sk")?,
                id: text(&k, "id")?,
            })
        });
        Ok((orders, next))
    }

    /// A page of `store`'s kitchen queue: `ready`, then `in_preparation`,
    /// then `received`, oldest payment first within each; at most one Query
    /// per status, run in parallel.
    pub async fn kitchen_queue(
        &self,
        store: &StoreId,
        only: Option<OrderStatus>,
        limit: u16,
        after: Option<QueueCursor>,
    ) -> Result<(Vec<Order>, Option<QueueCursor>)> {
        let statuses: Vec<OrderStatus> = OrderStatus::QUEUE
            .into_iter()
            .filter(|s| only.is_none_or(|o| o == *s))
            .collect();
        let first = match &after {
            Some(cursor) => statuses
                .iter()
                .position(|s| *s == cursor.status)
                .ok_or_else(Error::invalid_cursor)?,
            None => 0,
        };
        let queries = statuses[first..].iter().map(|status| {
            let start = after.as_ref().filter(|c| c.status == *status).map(|c| {
                HashMap::from([
                    ("id".to_owned(), s(&c.id)),
                    (
                        "queue_status".to_owned(),
                        s(queue_key(Some(store), *status)),
                    ),
                    ("queue_sk".to_owned(), s(&c.sk)),
                ])
            });
            let start_given = start.is_some();
            let query = self
                .kitchen_query(store, *status)
                .limit(i32::from(limit))
                .set_exclusive_start_key(start);
            let (status, with_cursor) = (*status, start_given);
            async move {
                query
                    .send()
                    .await
                    .map(|output| (status, output))
                    .map_err(|e| query_failed(e, with_cursor))
            }
        });
        let pages = futures_util::future::try_join_all(queries).await?;
        let mut orders = Vec::new();
        let mut last: Option<QueueCursor> = None;
        let mut more = false;
        for (status, output) in pages {
            for item in output.items.unwrap_or_default() {
                if orders.len() == usize::from(limit) {
                    more = true;
                    break;
                }
                let item: OrderItem = from_item(item)?;
                last = Some(QueueCursor {
                    status,
                    sk: item.queue_sk.clone().unwrap_or_default(),
                    id: item.order.id.to_string(),
                });
                orders.push(item.order);
            }
            // A page DynamoDB cut short (limit or its 1 MB cap) ends this page
            // too: the rest of this status comes before any later status.
            if output.last_evaluated_key.is_some() {
                more = true;
            }
            if more {
                break;
            }
        }
        Ok((orders, if more { last } else { None }))
    }

    /// `store`'s pickup board: the ticket numbers of its paid orders
    /// `received` or `in_preparation` (`preparing`) and `ready`, each oldest
    /// payment first.
    /// One Query per status of the kitchen index, in parallel, projecting the
    /// number and the sort key (to merge `received` with `in_preparation`).
    /// An item without a number is skipped; at most [`BOARD_LIMIT`] per list.
    pub async fn board(&self, store: &StoreId) -> Result<Board> {
        let (received, in_preparation, ready) = futures_util::future::try_join3(
            self.board_numbers(store, OrderStatus::Received),
            self.board_numbers(store, OrderStatus::InPreparation),
            self.board_numbers(store, OrderStatus::Ready),
        )
        .await?;
        let mut preparing = received;
        preparing.extend(in_preparation);
        // Stable: equal keys (none: the key ends with the order id) keep their order.
        preparing.sort_by(|a, b| a.0.cmp(&b.0));
        let numbers = |list: Vec<(String, u16)>| {
            list.into_iter()
                .map(|(_, number)| number)
                .take(usize::from(BOARD_LIMIT))
                .collect()
        };
        Ok(Board {
            preparing: numbers(preparing),
            ready: numbers(ready),
        })
    }

    /// `status`'s orders in the kitchen index, oldest payment first: each
    /// one's `queue_sk` and ticket number. One Query, every page of it, at
    /// most [`BOARD_LIMIT`] items read.
    async fn board_numbers(
        &self,
        store: &StoreId,
        status: OrderStatus,
    ) -> Result<Vec<(String, u16)>> {
        let mut found = Vec::new();
        let mut read: u16 = 0;
        let mut start = None;
        for _ in 0..BOARD_PAGES {
            let output = self
                .kitchen_query(store, status)
                // `number` is a DynamoDB reserved word.
                .projection_expression("#number, queue_sk")
                .expression_attribute_names("#number", "number")
                .scan_index_forward(true)
                .limit(i32::from(BOARD_LIMIT - read))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(from_sdk)?;
            let items = output.items.unwrap_or_default();
            read = read.saturating_add(u16::try_from(items.len()).unwrap_or(u16::MAX));
            found.extend(items.into_iter().filter_map(|item| {
                let number = match item.get("number") {
                    Some(AttributeValue::N(n)) => n.parse::<u16>().ok(),
                    _ => None,
                }
                .filter(|n| (1..=999).contains(n))?;
                Some((text(&item, "queue_sk").unwrap_or_default(), number))
            }));
            start = output.last_evaluated_key;
            if start.is_none() || read >= BOARD_LIMIT {
                break;
            }
        }
        Ok(found)
    }
}

/// At most this many numbers in each list of the board (numbers run 1..=999),
/// and at most this many items read per status.
pub const BOARD_LIMIT: u16 = 999;
/// At most this many pages per status (DynamoDB cuts a page at 1 MB; the
/// board's projected items are tens of bytes, so one page is the rule).
const BOARD_PAGES: usize = 16;

/// The pickup board: ticket numbers only, oldest payment first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Board {
    /// Orders `received` or `in_preparation`.
    pub preparing: Vec<u16>,
    /// Orders `ready`.
    pub ready: Vec<u16>,
}
