//! The one clock: every timestamp the crate writes comes from here.

use time::OffsetDateTime;

/// Now, in UTC, to the whole second (what the API shows and stores).
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

/// [`now`] as RFC 3339 text (`2026-11-23T19:23:43Z`).
pub fn now_rfc3339() -> String {
    rfc3339(now())
}

/// `at` as RFC 3339 text; formatting a UTC time cannot fail, but an empty
/// string would sort first rather than panic if it ever did.
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Seconds since the Unix epoch (token claims, DynamoDB TTL attributes).
pub fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// A sort key that orders by time to the nanosecond, then by id.
pub fn time_key(id: &str) -> String {
    format!(
        "{:020}#{id}",
        OffsetDateTime::now_utc().unix_timestamp_nanos().max(0)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_whole_seconds_in_utc() {
        let text = now_rfc3339();
        assert!(text.ends_with('Z') && !text.contains('.'), "{text}");
    }

    #[test]
    fn time_keys_sort_by_time_then_id() {
        let first = time_key("b");
        std::thread::sleep(std::time::Duration::from_millis(1));
        let second = time_key("a");
        assert!(first < second, "{first} / {second}");
        assert_eq!(first.len(), 22);
    }
}
