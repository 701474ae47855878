//! A store of the chain: its name, its IANA timezone, its weekly opening hours
//! and its pause, and whether it is open at a given instant.
//!
//! Hours are written in the store's own local time, as its manager reads them
//! on the door: `{"mon": [["11:00","15:00"],["18:00","23:00"]], ..., "sun": []}`.
//! Every day of the week is named (an empty list is a closed day, so a
//! forgotten day is refused rather than read as closed); an interval starts at
//! `00:00`..`23:59` and ends after its start, at `24:00` at the latest; a day's
//! intervals do not overlap. A night past midnight is two intervals: Saturday
//! `["18:00","24:00"]` and Sunday `["00:00","02:00"]`.
//!
//! The timezone database is compiled in (jiff's bundled IANA tzdb), so the
//! answer does not depend on the files of the machine the function runs on.

use crate::domain::ids::{PosId, ProductId, StoreId};
use crate::domain::payment::pos_id;
use crate::domain::product::Product;
use crate::domain::text;
use crate::{Code, Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use time::OffsetDateTime;

/// The longest store name, in characters.
pub const MAX_STORE_NAME_CHARS: usize = 80;
/// The most opening intervals a day may have.
pub const MAX_INTERVALS_PER_DAY: usize = 6;
/// The longest timezone name accepted (IANA names are far shorter).
const MAX_TIMEZONE_BYTES: usize = 64;
const MINUTES_PER_DAY: u16 = 24 * 60;

/// A day of the week, as `hours` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    pub const ALL: [Day; 7] = [
        Day::Mon,
        Day::Tue,
        Day::Wed,
        Day::Thu,
        Day::Fri,
        Day::Sat,
        Day::Sun,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Day::Mon => "mon",
            Day::Tue => "tue",
            Day::Wed => "wed",
            Day::Thu => "thu",
            Day::Fri => "fri",
            Day::Sat => "sat",
            Day::Sun => "sun",
        }
    }

    fn parse(raw: &str) -> Option<Day> {
        Day::ALL.into_iter().find(|d| d.as_str() == raw)
    }

    fn of(weekday: jiff::civil::Weekday) -> Day {
        use jiff::civil::Weekday;
        match weekday {
            Weekday::Monday => Day::Mon,
            Weekday::Tuesday => Day::Tue,
            Weekday::Wednesday => Day::Wed,
            Weekday::Thursday => Day::Thu,
            Weekday::Friday => Day::Fri,
            Weekday::Saturday => Day::Sat,
            Weekday::Sunday => Day::Sun,
        }
    }
}

/// An opening interval of one day, in minutes since local midnight:
/// `start` in `0..1440`, `end` in `start+1..=1440`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    start: u16,
    end: u16,
}

impl Interval {
    fn contains(self, minute: u16) -> bool {
        (self.start..self.end).contains(&minute)
    }
}

fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// `HH:MM` (two digits each) as minutes since midnight, `24:00` included.
fn minutes(raw: &str) -> Option<u16> {
    let bytes = raw.as_bytes();
    if bytes.len() != 5 || bytes[2] != b':' {
        return None;
    }
    let two = |at: usize| -> Option<u16> {
        let (a, b) = (bytes[at], bytes[at + 1]);
        (a.is_ascii_digit() && b.is_ascii_digit())
            .then(|| u16::from(a - b'0') * 10 + u16::from(b - b'0'))
    };
    let (h, m) = (two(0)?, two(3)?);
    match (h, m) {
        (0..=23, 0..=59) => Some(h * 60 + m),
        (24, 0) => Some(MINUTES_PER_DAY),
        _ => None,
    }
}

/// The week's opening hours, every day named, intervals in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hours {
    days: [Vec<Interval>; 7],
}

fn invalid_hours(why: impl fmt::Display) -> Error {
    Error::validation(
        Code::InvalidHours,
        format!(
            "hours maps each of mon, tue, wed, thu, fri, sat, sun to a list of [\"HH:MM\",\"HH:MM\"] \
             intervals in the store's local time (start before end, end at most 24:00, at most \
             {MAX_INTERVALS_PER_DAY} a day, not overlapping): {why}"
        ),
    )
}

impl Hours {
    /// Open every day, all day.
    pub fn always() -> Hours {
        Hours {
            days: std::array::from_fn(|_| {
                vec![Interval {
                    start: 0,
                    end: MINUTES_PER_DAY,
                }]
            }),
        }
    }

    /// `value` as the API sends hours; any other shape is 400 `invalid_hours`.
    pub fn parse(value: &serde_json::Value) -> Result<Hours> {
        let object = value
            .as_object()
            .ok_or_else(|| invalid_hours("not an object"))?;
        let mut days: [Option<Vec<Interval>>; 7] = Default::default();
        for (name, list) in object {
            let day = Day::parse(name)
                .ok_or_else(|| invalid_hours(format_args!("unknown day {name:?}")))?;
            let list = list
                .as_array()
                .ok_or_else(|| invalid_hours(format_args!("{name} is not a list")))?;
            if list.len() > MAX_INTERVALS_PER_DAY {
                return Err(invalid_hours(format_args!("{name} has too many intervals")));
            }
            let mut intervals = list
                .iter()
                .map(|pair| {
                    interval(pair)
                        .ok_or_else(|| invalid_hours(format_args!("{name} has a bad interval")))
                })
                .collect::<Result<Vec<_>>>()?;
            intervals.sort();
            if intervals.windows(2).any(|w| w[1].start < w[0].end) {
                return Err(invalid_hours(format_args!(
                    "{name} has overlapping intervals"
                )));
            }
            days[day as usize] = Some(intervals);
        }
        let mut complete: [Vec<Interval>; 7] = Default::default();
        for (slot, (day, given)) in complete.iter_mut().zip(Day::ALL.into_iter().zip(days)) {
            *slot =
                given.ok_or_else(|| invalid_hours(format_args!("{} is missing", day.as_str())))?;
        }
        Ok(Hours { days: complete })
    }

    /// Whether `day` at `minute` (since local midnight) is inside an interval.
    pub fn open_at(&self, day: Day, minute: u16) -> bool {
        self.days[day as usize].iter().any(|i| i.contains(minute))
    }
}

fn interval(pair: &serde_json::Value) -> Option<Interval> {
    let [start, end] = pair.as_array()?.as_slice() else {
        return None;
    };
    let start = minutes(start.as_str()?)?;
    let end = minutes(end.as_str()?)?;
    (start < end).then_some(Interval { start, end })
}

impl Serialize for Hours {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(7))?;
        for day in Day::ALL {
            let pairs: Vec<[String; 2]> = self.days[day as usize]
                .iter()
                .map(|i| [hhmm(i.start), hhmm(i.end)])
                .collect();
            map.serialize_entry(day.as_str(), &pairs)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Hours {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Hours::parse(&value).map_err(serde::de::Error::custom)
    }
}

/// An IANA timezone name the bundled database knows (`America/Sao_Paulo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timezone(String);

impl Timezone {
    /// `raw` if the timezone database has it, under the database's own
    /// spelling; anything else (a UTC offset, a typo) is 400 `invalid_timezone`.
    pub fn parse(raw: &str) -> Result<Timezone> {
        let refused = || {
            Error::validation(
                Code::InvalidTimezone,
                "timezone is an IANA timezone name, such as America/Sao_Paulo",
            )
        };
        if raw.is_empty() || raw.len() > MAX_TIMEZONE_BYTES {
            return Err(refused());
        }
        let zone = jiff::tz::TimeZone::get(raw).map_err(|_| refused())?;
        let name = zone.iana_name().unwrap_or(raw);
        Ok(Timezone(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The local weekday and minute of the day at `at` in this timezone.
    fn local(&self, at: OffsetDateTime) -> Option<(Day, u16)> {
        let zone = jiff::tz::TimeZone::get(&self.0).ok()?;
        let local = zone.to_datetime(jiff::Timestamp::from_second(at.unix_timestamp()).ok()?);
        let minute = u16::try_from(local.hour()).ok()? * 60 + u16::try_from(local.minute()).ok()?;
        Some((Day::of(local.weekday()), minute))
    }
}

impl TryFrom<String> for Timezone {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        Timezone::parse(&raw)
    }
}

impl From<Timezone> for String {
    fn from(zone: Timezone) -> String {
        zone.0
    }
}

/// A store as kept: what the API shows but `open_now`, which depends on when
/// it is asked ([`Store::view`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Store {
    pub id: StoreId,
    pub name: String,
    pub timezone: Timezone,
    pub hours: Hours,
    pub paused: bool,
    /// The store's Mercado Pago point of sale: its kiosks' QR orders are
    /// created there unless a kiosk has its own; without one, on the
    /// deployment's (`MERCADOPAGO_EXTERNAL_POS_ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mercadopago_pos_id: Option<PosId>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// What the store has sold out: product ids (and option ids once the
    /// menu has options). Read with the store's record, so checkout knows it
    /// without a request more; never shown with the store, and never written
    /// by a create or a `PATCH /stores/{id}` (only `PATCH
    /// /stores/{id}/availability` adds and removes ids, one at a time).
    #[serde(default, skip_serializing)]
    pub sold_out: BTreeSet<String>,
}

impl Store {
    /// Whether the store has `item` in stock now.
    pub fn sells(&self, item: &Stock) -> bool {
        !self.sold_out.contains(&item.key())
    }

    /// Sets each product's `available`, and each of its options', as at this
    /// store.
    pub fn mark_availability<'a>(&self, products: impl IntoIterator<Item = &'a mut Product>) {
        for product in products {
            product.available = self.sells(&Stock::Product(product.id.clone()));
            for option in product
                .modifier_groups
                .iter_mut()
                .flat_map(|g| &mut g.options)
            {
                option.available = self.sells(&Stock::Option(option.id.to_string()));
            }
        }
    }

    /// Whether a customer may check out at `at`: not paused, and inside one of
    /// the day's intervals in the store's own timezone.
    pub fn open_at(&self, at: OffsetDateTime) -> bool {
        !self.paused
            && self
                .timezone
                .local(at)
                .is_some_and(|(day, minute)| self.hours.open_at(day, minute))
    }

    /// The store as the API shows it at `at`.
    pub fn view(self, at: OffsetDateTime) -> StoreView {
        StoreView {
            open_now: self.open_at(at),
            store: self,
        }
    }

    /// 422 `store_closed` unless the store is open at `at`.
    pub fn require_open(&self, at: OffsetDateTime) -> Result<()> {
        if self.open_at(at) {
            Ok(())
        } else if self.paused {
            Err(Error::unprocessable(
                Code::StoreClosed,
                "the store is not taking orders right now",
            ))
        } else {
            Err(Error::unprocessable(
                Code::StoreClosed,
                "the store is closed at this hour",
            ))
        }
    }
}

/// A store with `open_now`.
#[derive(Debug, Clone, Serialize)]
pub struct StoreView {
    #[serde(flatten)]
    pub store: Store,
    pub open_now: bool,
}

fn store_name(value: &serde_json::Value) -> Result<String> {
    value
        .as_str()
        .and_then(|n| text::clean(n, MAX_STORE_NAME_CHARS).ok())
        .ok_or_else(|| {
            Error::validation(
                Code::InvalidName,
                format!(
                    "name is a string of 1 to {MAX_STORE_NAME_CHARS} characters, no control or \
                     invisible formatting characters"
                ),
            )
        })
}

fn timezone(value: &serde_json::Value) -> Result<Timezone> {
    Timezone::parse(value.as_str().unwrap_or_default())
}

/// A field that may be sent as `null` (to remove what it holds): `Some(Null)`
/// then, where serde's own `Option` would read `None`.
fn present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

fn paused(value: &serde_json::Value) -> Result<bool> {
    value
        .as_bool()
        .ok_or_else(|| Error::invalid_body("paused is true or false"))
}

/// `POST /stores` as sent; fields loosely typed so that each rule answers its
/// own code.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreBody {
    name: serde_json::Value,
    timezone: serde_json::Value,
    hours: serde_json::Value,
    #[serde(default)]
    paused: Option<serde_json::Value>,
    #[serde(default)]
    mercadopago_pos_id: Option<serde_json::Value>,
}

/// A new store, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreDraft {
    pub name: String,
    pub timezone: Timezone,
    pub hours: Hours,
    pub paused: bool,
    pub mercadopago_pos_id: Option<PosId>,
}

impl TryFrom<StoreBody> for StoreDraft {
    type Error = Error;
    fn try_from(body: StoreBody) -> Result<Self> {
        Ok(StoreDraft {
            name: store_name(&body.name)?,
            timezone: timezone(&body.timezone)?,
            hours: Hours::parse(&body.hours)?,
            paused: body
                .paused
                .as_ref()
                .map(paused)
                .transpose()?
                .unwrap_or(false),
            mercadopago_pos_id: body.mercadopago_pos_id.as_ref().map(pos_id).transpose()?,
        })
    }
}

/// `PATCH /stores/{id}` as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorePatchBody {
    #[serde(default)]
    name: Option<serde_json::Value>,
    #[serde(default)]
    timezone: Option<serde_json::Value>,
    #[serde(default)]
    hours: Option<serde_json::Value>,
    #[serde(default)]
    paused: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "present")]
    mercadopago_pos_id: Option<serde_json::Value>,
}

/// What a `PATCH /stores/{id}` changes, validated; at least one field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StorePatch {
    pub name: Option<String>,
    pub timezone: Option<Timezone>,
    pub hours: Option<Hours>,
    pub paused: Option<bool>,
    /// `Some(None)`: the store no longer has a point of sale of its own.
    pub mercadopago_pos_id: Option<Option<PosId>>,
}

impl StorePatch {
    /// Whether it changes only what a store's manager may change (hours and
    /// the pause); the name, timezone and point of sale are the chain's.
    pub fn is_operational(&self) -> bool {
        self.name.is_none() && self.timezone.is_none() && self.mercadopago_pos_id.is_none()
    }
}

impl TryFrom<StorePatchBody> for StorePatch {
    type Error = Error;
    fn try_from(body: StorePatchBody) -> Result<Self> {
        let patch = StorePatch {
            name: body.name.as_ref().map(store_name).transpose()?,
            timezone: body.timezone.as_ref().map(timezone).transpose()?,
            hours: body.hours.as_ref().map(Hours::parse).transpose()?,
            paused: body.paused.as_ref().map(paused).transpose()?,
            mercadopago_pos_id: body
                .mercadopago_pos_id
                .as_ref()
                .map(|pos| match pos {
                    serde_json::Value::Null => Ok(None),
                    pos => pos_id(pos).map(Some),
                })
                .transpose()?,
        };
        if patch == StorePatch::default() {
            return Err(Error::invalid_body(
                "name, timezone, hours, paused or mercadopago_pos_id: at least one to change",
            ));
        }
        Ok(patch)
    }
}

/// What a store sells out and brings back: a product, or one of the menu's
/// options (ids unique across the menu).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stock {
    Product(ProductId),
    Option(String),
}

/// The longest option id, in bytes.
pub const MAX_OPTION_ID_BYTES: usize = 64;

impl Stock {
    /// Its entry in a store's sold-out set: `product#<id>` or `option#<id>`,
    /// so a product and an option that share an id never mix.
    pub fn key(&self) -> String {
        match self {
            Stock::Product(id) => format!("product#{id}"),
            Stock::Option(id) => format!("option#{id}"),
        }
    }

    /// 404 `product_not_found` / `option_not_found`: no such thing on the menu.
    pub fn not_found(&self) -> Error {
        match self {
            Stock::Product(_) => Error::product_not_found(),
            Stock::Option(_) => Error::not_found(Code::OptionNotFound, "no such option"),
        }
    }
}

/// `PATCH /stores/{id}/availability` as sent: `{"product_id", "available"}`
/// or `{"option_id", "available"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityBody {
    #[serde(default)]
    product_id: Option<String>,
    #[serde(default)]
    option_id: Option<String>,
    available: bool,
}

/// A validated availability change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailabilityChange {
    pub item: Stock,
    pub available: bool,
}

impl TryFrom<AvailabilityBody> for AvailabilityChange {
    type Error = Error;

    /// Exactly one of `product_id` and `option_id` (else 400
    /// `invalid_body`); an id that cannot name anything on the menu is 404,
    /// as an unknown one is.
    fn try_from(body: AvailabilityBody) -> Result<Self> {
        let item = match (body.product_id, body.option_id) {
            (Some(product), None) => {
                Stock::Product(ProductId::parse(&product).ok_or_else(Error::product_not_found)?)
            }
            (None, Some(option)) => {
                let valid = (1..=MAX_OPTION_ID_BYTES).contains(&option.len())
                    && option.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                    });
                if !valid {
                    return Err(Stock::Option(option).not_found());
                }
                Stock::Option(option)
            }
            _ => {
                return Err(Error::invalid_body(
                    "exactly one of product_id and option_id, with available: true or false",
                ));
            }
        };
        Ok(Self {
            item,
            available: body.available,
        })
    }
}

/// The answer to an availability change:
/// `{"store_id", "product_id" or "option_id", "available"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AvailabilityView {
    pub store_id: StoreId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<ProductId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub option_id: Option<String>,
    pub available: bool,
}

impl AvailabilityChange {
    /// The answer once `store` has applied it.
    pub fn view(self, store: StoreId) -> AvailabilityView {
        let (product_id, option_id) = match self.item {
            Stock::Product(id) => (Some(id), None),
            Stock::Option(id) => (None, Some(id)),
        };
        AvailabilityView {
            store_id: store,
            product_id,
            option_id,
            available: self.available,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn datetime(rfc3339: &str) -> OffsetDateTime {
        OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).unwrap()
    }

    fn week(day: serde_json::Value) -> serde_json::Value {
        json!({"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day})
    }

    fn store(timezone: &str, hours: serde_json::Value) -> Store {
        let at = datetime("2026-12-01T12:00:00Z");
        Store {
            id: StoreId::generate(),
            name: "Centro".into(),
            timezone: Timezone::parse(timezone).unwrap(),
            hours: Hours::parse(&hours).unwrap(),
            paused: false,
            mercadopago_pos_id: None,
            created_at: at,
            updated_at: at,
            sold_out: BTreeSet::new(),
        }
    }

    #[test]
    fn hours_name_every_day_with_ordered_intervals() {
        let hours = Hours::parse(&week(json!([["18:00", "23:00"], ["11:00", "15:00"]]))).unwrap();
        let shown = serde_json::to_value(&hours).unwrap();
        assert_eq!(
            shown["mon"],
            json!([["11:00", "15:00"], ["18:00", "23:00"]])
        );
        assert_eq!(
            Hours::parse(&shown).unwrap(),
            hours,
            "what is shown reads back"
        );
        let always = serde_json::to_value(Hours::always()).unwrap();
        assert_eq!(always, week(json!([["00:00", "24:00"]])));
    }

    #[test]
    fn badly_shaped_hours_are_invalid_hours() {
        let mut missing_sunday = week(json!([]));
        missing_sunday.as_object_mut().unwrap().remove("sun");
        let mut unknown_day = week(json!([]));
        unknown_day["monday"] = json!([]);
        let bad = [
            json!([]),
            json!(null),
            missing_sunday,
            unknown_day,
            week(json!("11:00-15:00")),
            week(json!([["11:00"]])),
            week(json!([["11:00", "15:00", "16:00"]])),
            week(json!([["15:00", "11:00"]])),
            week(json!([["11:00", "11:00"]])),
            week(json!([["24:00", "24:00"]])),
            week(json!([["11:00", "24:01"]])),
            week(json!([["9:00", "15:00"]])),
            week(json!([["11:60", "15:00"]])),
            week(json!([["１1:00", "15:00"]])),
            week(json!([[1100, 1500]])),
            week(json!([["11:00", "15:00"], ["14:00", "16:00"]])),
            week(json!(vec![
                json!(["01:00", "02:00"]);
                MAX_INTERVALS_PER_DAY + 1
            ])),
        ];
        for hours in bad {
            let e = Hours::parse(&hours).unwrap_err();
            assert_eq!(e.public_parts().0, Code::InvalidHours, "{hours}");
        }
        assert!(
            Hours::parse(&week(json!([["11:00", "15:00"], ["15:00", "24:00"]]))).is_ok(),
            "touching is fine"
        );
    }

    #[test]
    fn timezones_are_iana_names() {
        assert_eq!(
            Timezone::parse("America/Sao_Paulo").unwrap().as_str(),
            "America/Sao_Paulo"
        );
        assert!(Timezone::parse("America/Manaus").is_ok());
        for bad in [
            "",
            "Mars/Olympus",
            "+03:00",
            "-03",
            "America/Sao_Paulo/x",
            &"A".repeat(65),
        ] {
            let e = Timezone::parse(bad).unwrap_err();
            assert_eq!(e.public_parts().0, Code::InvalidTimezone, "{bad}");
        }
    }

    #[test]
    fn open_is_judged_in_the_stores_own_timezone() {
        // Tuesday 2026-12-01 13:30 UTC is 10:30 in São Paulo (UTC-3, no DST
        // since 2019) and 09:30 in Manaus (UTC-4).
        let at = datetime("2026-12-01T13:30:00Z");
        let from_ten = week(json!([["10:00", "22:00"]]));
        assert!(store("America/Sao_Paulo", from_ten.clone()).open_at(at));
        assert!(!store("America/Manaus", from_ten).open_at(at));
        // Only Tuesday's intervals count on a Tuesday.
        let mut tuesday_closed = week(json!([["00:00", "24:00"]]));
        tuesday_closed["tue"] = json!([]);
        assert!(!store("America/Sao_Paulo", tuesday_closed).open_at(at));
    }

    #[test]
    fn an_interval_holds_its_start_and_not_its_end() {
        let lunch = store("America/Sao_Paulo", week(json!([["11:00", "15:00"]])));
        assert!(
            !lunch.open_at(datetime("2026-12-01T13:59:59Z")),
            "10:59:59 local"
        );
        assert!(
            lunch.open_at(datetime("2026-12-01T14:00:00Z")),
            "11:00 local"
        );
        assert!(
            lunch.open_at(datetime("2026-12-01T17:59:59Z")),
            "14:59:59 local"
        );
        assert!(
            !lunch.open_at(datetime("2026-12-01T18:00:00Z")),
            "15:00 local"
        );
        let late = store("America/Sao_Paulo", week(json!([["18:00", "24:00"]])));
        assert!(
            late.open_at(datetime("2026-12-02T02:59:59Z")),
            "23:59:59 local"
        );
        assert!(
            !late.open_at(datetime("2026-12-02T03:00:00Z")),
            "00:00 the next day"
        );
    }

    #[test]
    fn a_paused_store_is_closed_whatever_its_hours() {
        let mut open = store("America/Sao_Paulo", week(json!([["00:00", "24:00"]])));
        let at = datetime("2026-12-01T13:30:00Z");
        assert!(open.require_open(at).is_ok());
        assert!(open.clone().view(at).open_now);
        open.paused = true;
        assert_eq!(
            open.require_open(at).unwrap_err().public_parts().0,
            Code::StoreClosed
        );
        assert!(!open.view(at).open_now);
    }

    #[test]
    fn drafts_and_patches_check_each_field() {
        let body: StoreBody = serde_json::from_value(json!({
            "name": " Centro ", "timezone": "America/Sao_Paulo", "hours": week(json!([]))
        }))
        .unwrap();
        let draft = StoreDraft::try_from(body).unwrap();
        assert_eq!((draft.name.as_str(), draft.paused), ("Centro", false));
        assert!(
            serde_json::from_value::<StoreBody>(
                json!({"name": "x", "timezone": "UTC", "hours": {}, "extra": 1})
            )
            .is_err()
        );
        let patch: StorePatchBody = serde_json::from_value(json!({"paused": true})).unwrap();
        let patch = StorePatch::try_from(patch).unwrap();
        assert!(patch.is_operational());
        let rename: StorePatchBody = serde_json::from_value(json!({"name": "Sé"})).unwrap();
        assert!(!StorePatch::try_from(rename).unwrap().is_operational());
        let empty: StorePatchBody = serde_json::from_value(json!({})).unwrap();
        assert_eq!(
            StorePatch::try_from(empty).unwrap_err().public_parts().0,
            Code::InvalidBody
        );
        let pos: StorePatchBody =
            serde_json::from_value(json!({"mercadopago_pos_id": "SUC1POS1"})).unwrap();
        let pos = StorePatch::try_from(pos).unwrap();
        assert_eq!(pos.mercadopago_pos_id, Some(PosId::parse("SUC1POS1")));
        assert!(!pos.is_operational());
        let unset: StorePatchBody =
            serde_json::from_value(json!({"mercadopago_pos_id": null})).unwrap();
        assert_eq!(
            StorePatch::try_from(unset).unwrap().mercadopago_pos_id,
            Some(None)
        );
        let bad_pos: StorePatchBody =
            serde_json::from_value(json!({"mercadopago_pos_id": "SUC-1"})).unwrap();
        assert_eq!(
            StorePatch::try_from(bad_pos).unwrap_err().public_parts().0,
            Code::InvalidPosId
        );
        let bad_pause: StorePatchBody = serde_json::from_value(json!({"paused": "yes"})).unwrap();
        assert_eq!(
            StorePatch::try_from(bad_pause)
                .unwrap_err()
                .public_parts()
                .0,
            Code::InvalidBody
        );
    }

    #[test]
    fn a_kept_store_reads_back() {
        let kept = store("America/Sao_Paulo", week(json!([["11:00", "15:00"]])));
        let json = serde_json::to_value(&kept).unwrap();
        assert_eq!(serde_json::from_value::<Store>(json).unwrap(), kept);
    }

    fn change(body: serde_json::Value) -> Result<AvailabilityChange> {
        AvailabilityChange::try_from(serde_json::from_value::<AvailabilityBody>(body).unwrap())
    }

    #[test]
    fn an_availability_change_names_exactly_one_product_or_option() {
        let product = change(json!({"product_id": "p-1", "available": false})).unwrap();
        assert_eq!(
            product.item,
            Stock::Product(ProductId::parse("p-1").unwrap())
        );
        assert!(!product.available);
        let option = change(json!({"option_id": "bacon_2", "available": true})).unwrap();
        assert_eq!(option.item, Stock::Option("bacon_2".into()));
        for both_or_none in [
            json!({"product_id": "p-1", "option_id": "bacon", "available": true}),
            json!({"available": true}),
        ] {
            let refused = change(both_or_none).unwrap_err();
            assert_eq!(refused.public_parts().0, Code::InvalidBody);
        }
        for (body, code) in [
            (
                json!({"product_id": "", "available": true}),
                Code::ProductNotFound,
            ),
            (
                json!({"option_id": "Bacon", "available": true}),
                Code::OptionNotFound,
            ),
            (
                json!({"option_id": "a".repeat(65), "available": true}),
                Code::OptionNotFound,
            ),
        ] {
            assert_eq!(change(body).unwrap_err().public_parts().0, code);
        }
        for body in [
            "",
            "{}",
            "[]",
            "{nope",
            "true",
            r#"{"product_id": "p-1"}"#,
            r#"{"product_id": "p-1", "available": null}"#,
            r#"{"product_id": "p-1", "available": "false"}"#,
            r#"{"product_id": "p-1", "available": 0}"#,
            r#"{"product_id": "p-1", "available": false, "active": true}"#,
            r#"{"product_id": 7, "available": false}"#,
        ] {
            assert!(
                serde_json::from_str::<AvailabilityBody>(body).is_err(),
                "{body}"
            );
        }
        let answer = serde_json::to_value(option.view(StoreId::parse("a1").unwrap())).unwrap();
        assert_eq!(
            answer,
            json!({"store_id": "a1", "option_id": "bacon_2", "available": true})
        );
    }

    #[test]
    fn a_stores_sold_out_set_marks_its_products_and_is_never_shown() {
        let mut shop = store("America/Sao_Paulo", week(json!([["00:00", "24:00"]])));
        let product = |id: &str| crate::domain::product::sample(id, 990, true);
        let (burger, fries) = (product("burger"), product("fries"));
        shop.sold_out
            .insert(Stock::Product(burger.id.clone()).key());
        // An option sharing the product's id does not sell the product out.
        shop.sold_out.insert(Stock::Option("fries".into()).key());
        let mut menu = [burger, fries];
        shop.mark_availability(menu.iter_mut());
        assert_eq!(menu.map(|p| p.available), [false, true]);
        assert!(!shop.sells(&Stock::Option("fries".into())));

        let shown =
            serde_json::to_value(shop.clone().view(datetime("2026-12-01T12:00:00Z"))).unwrap();
        assert!(shown.get("sold_out").is_none(), "{shown}");
        let mut kept = serde_json::to_value(&shop).unwrap();
        assert!(
            kept.get("sold_out").is_none(),
            "a write never replaces the set"
        );
        kept["sold_out"] = json!(["product#burger"]);
        let read: Store = serde_json::from_value(kept).unwrap();
        assert_eq!(read.sold_out, BTreeSet::from(["product#burger".to_owned()]));
    }
}
