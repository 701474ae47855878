//! A creation body (`POST /v1/orders`), checked as the stand-in checks it,
//! into a new order: amounts with two decimals, ISO 8601 durations.

use super::orders::{StandInOrder, mp_id};
use super::status::Status;
use serde_json::Value;
use std::time::Duration;
use tokio::time::Instant;

/// How long an order may await its payment when its body does not say.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// An order from a creation body, or what is wrong with it.
pub(super) fn new_order(body: &[u8]) -> Result<StandInOrder, String> {
    let body: Value =
        serde_json::from_slice(body).map_err(|_| "the body is not JSON".to_owned())?;
    let text = |pointer: &str| body.pointer(pointer).and_then(Value::as_str);
    if text("/type") != Some("qr") {
        return Err("type must be \"qr\"".into());
    }
    let external_reference = text("/external_reference")
        .filter(|r| (1..=64).contains(&r.len()))
        .ok_or("external_reference must have 1 to 64 characters")?;
    let total_amount = text("/total_amount")
        .filter(|a| is_amount(a) && *a != "0.00")
        .ok_or("total_amount must be a positive amount with two decimals, as a string")?;
    let payment = body
        .pointer("/transactions/payments")
        .and_then(Value::as_array)
        .filter(|p| p.len() == 1)
        .and_then(|p| p.first())
        .ok_or("transactions.payments must hold one payment")?;
    if payment.get("amount").and_then(Value::as_str) != Some(total_amount) {
        return Err("the payment's amount must equal total_amount".into());
    }
    let pos_id = text("/config/qr/external_pos_id")
        .filter(|p| !p.is_empty())
        .ok_or("config.qr.external_pos_id is required")?;
    let mode = text("/config/qr/mode").unwrap_or("static");
    if !["static", "dynamic", "hybrid"].contains(&mode) {
        return Err("config.qr.mode must be static, dynamic or hybrid".into());
    }
    let (expiration_time, lifetime) = match text("/expiration_time") {
        None => ("PT15M".to_owned(), DEFAULT_LIFETIME),
        Some(text) => (
            text.to_owned(),
            parse_duration(text).ok_or("expiration_time must be an ISO 8601 duration")?,
        ),
    };
    let items = match body.get("items") {
        None => None,
        Some(items) => {
            let list = items
                .as_array()
                .filter(|l| !l.is_empty())
                .ok_or("items must be a non-empty array")?;
            for item in list {
                let title_ok = item
                    .get("title")
                    .and_then(Value::as_str)
                    .is_some_and(|t| !t.is_empty());
                let price_ok = item
                    .get("unit_price")
                    .and_then(Value::as_str)
                    .is_some_and(is_amount);
                let quantity_ok = item
                    .get("quantity")
                    .and_then(Value::as_u64)
                    .is_some_and(|q| q > 0);
                if !(title_ok && price_ok && quantity_ok) {
                    return Err("each item needs a title, a unit_price with two decimals and a positive quantity".into());
                }
            }
            Some(items.clone())
        }
    };
    let id = mp_id("ORD");
    let now = shared::clock::now_rfc3339();
    Ok(StandInOrder {
        qr_data: (mode != "static").then(|| {
            format!(
                "00020101021243650016COM.MERCADOLIBRE020130636{}5204000053039865802BR5913KIOSK STAND-IN6009SAO PAULO62070503***6304",
                id.to_ascii_lowercase()
            )
        }),
        id,
        external_reference: external_reference.to_owned(),
        total_amount: total_amount.to_owned(),
        expiration_time,
        expires_at: Instant::now() + lifetime,
        created_date: now.clone(),
        last_updated_date: now,
        status: Status::Created,
        pos_id: pos_id.to_owned(),
        mode: mode.to_owned(),
        items,
        payment_id: mp_id("PAY"),
        paid_amount: None,
        refund_id: None,
        in_progress: false,
        version: 1,
    })
}

/// `123.45`: digits, a point, two digits.
fn is_amount(text: &str) -> bool {
    match text.split_once('.') {
        Some((units, cents)) => {
            !units.is_empty()
                && units.bytes().all(|b| b.is_ascii_digit())
                && cents.len() == 2
                && cents.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// An ISO 8601 duration of days, hours, minutes and seconds
/// (`P1DT2H3M4S`, `PT15M`, `PT1S`); at least one second.
fn parse_duration(text: &str) -> Option<Duration> {
    let rest = text.strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((days, time)) if !time.is_empty() => (days, time),
        Some(_) => return None,
        None => (rest, ""),
    };
    let mut seconds: u64 = 0;
    let mut parts = 0;
    let mut add = |part: &str, units: &[(char, u64)]| -> Option<()> {
        let mut number = String::new();
        let mut allowed = units.iter();
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let (_, size) = allowed.by_ref().find(|(unit, _)| *unit == c)?;
            let value: u64 = number.parse().ok()?;
            seconds = seconds.checked_add(value.checked_mul(*size)?)?;
            number.clear();
            parts += 1;
        }
        number.is_empty().then_some(())
    };
    add(days, &[('D', 86_400)])?;
    add(time, &[('H', 3600), ('M', 60), ('S', 1)])?;
    (parts > 0 && seconds > 0).then(|| Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_of_days_hours_minutes_and_seconds_parse() {
        let cases = [
            ("PT15M", Some(900)),
            ("PT1S", Some(1)),
            ("P1D", Some(86_400)),
            ("P1DT2H3M4S", Some(93_784)),
            ("PT1H30M", Some(5400)),
        ];
        for (text, seconds) in cases {
            assert_eq!(
                parse_duration(text),
                seconds.map(Duration::from_secs),
                "{text}"
            );
        }
        for bad in [
            "", "P", "PT", "15M", "PT0S", "PT15", "PTM", "PT1M1H", "PT1.5S", "P1H", "PT-1S",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn amounts_have_exactly_two_decimals() {
        assert!(is_amount("24.90") && is_amount("0.01"));
        for bad in ["24.9", "24", "24.901", ".90", "-1.00", "1e2", "24,90"] {
            assert!(!is_amount(bad), "{bad}");
        }
    }
}
