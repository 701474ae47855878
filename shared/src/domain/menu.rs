//! The menu's shape (API.md, "The menu (new shape)"): an item's modifier
//! groups (sizes, extras, removals) and their options, a combo's slots,
//! allergens and dietary tags; how an admin's body is checked into them, and
//! how a customer's choices are checked against them and snapshotted.
//!
//! The rules, once:
//! - ids (groups, options, slots) are the admin's: lowercase ASCII letters,
//!   digits, `-` and `_`, 1 to 64 characters. Group ids are unique within the
//!   product, option ids within the product here (and across the menu where
//!   the product is stored: the sold-out list names them), slot ids within
//!   the combo;
//! - at most [`MAX_GROUPS`] groups of 1 to [`MAX_OPTIONS`] options, and
//!   `0 <= min <= max <= options`; the defaults are what an unmentioned group
//!   takes, so they are none (the customer must answer) or from `min` to
//!   `max`;
//! - a delta may be negative (a smaller size), but no choice the rules allow
//!   may bring a unit price below one cent ([`lowest_deltas`],
//!   [`LEAST_UNIT_CENTS`]): Mercado Pago takes no order of zero.
//!
//! A shape that breaks one is 400 `invalid_modifiers` (groups) or
//! `invalid_combo` (slots), the message naming the group or slot. A choice
//! that breaks one at checkout is 422 `invalid_choice`, naming it too; an
//! option the store has sold out is 422 `option_unavailable`.

use crate::domain::ids::ProductId;
use crate::domain::money::Money;
use crate::{Code, Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;
use std::fmt;

/// The most modifier groups a product may have.
pub const MAX_GROUPS: usize = 10;
/// The most options a group may have.
pub const MAX_OPTIONS: usize = 30;
/// The most slots a combo may have (a meal is a sandwich, a side, a drink
/// and a dessert; ten leaves room).
pub const MAX_SLOTS: usize = 10;
/// The most products one slot may offer.
pub const MAX_SLOT_OPTIONS: usize = 30;
/// The longest group, option or slot id.
pub const MAX_KEY_CHARS: usize = 64;
/// The longest group, option or slot name.
pub const MAX_LABEL_CHARS: usize = 80;
/// The largest delta, either way, in cents (a product's own price limit).
pub const MAX_DELTA_CENTS: i64 = 1_000_000;

/// An id an admin gives a group, option or slot.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MenuKey(String);

impl MenuKey {
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = (1..=MAX_KEY_CHARS).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MenuKey {
    type Error = String;
    fn try_from(raw: String) -> std::result::Result<Self, String> {
        MenuKey::parse(&raw).ok_or_else(|| format!("{raw:?} is not a menu id"))
    }
}

impl From<MenuKey> for String {
    fn from(key: MenuKey) -> String {
        key.0
    }
}

impl fmt::Display for MenuKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MenuKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MenuKey({:?})", self.0)
    }
}

/// An item is sold on its own (with its modifier groups); a combo is a set
/// of slots, each filled with one item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProductKind {
    #[default]
    Item,
    Combo,
}

impl ProductKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProductKind::Item => "item",
            ProductKind::Combo => "combo",
        }
    }
}

/// A choice to make about an item: its size, its extras, what to leave out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModifierGroup {
    pub id: MenuKey,
    pub name: String,
    pub min: u8,
    pub max: u8,
    pub options: Vec<ModifierOption>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModifierOption {
    pub id: MenuKey,
    pub name: String,
    pub price_delta_cents: Money,
    /// Taken when the customer does not mention the group.
    pub default: bool,
    /// As at the caller's store (its sold-out list), set on every answer;
    /// a stored value is never the answer.
    #[serde(default = "yes")]
    pub available: bool,
}

fn yes() -> bool {
    true
}

/// A place in a combo: one product out of a list, each with its delta on the
/// combo's price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub id: MenuKey,
    pub name: String,
    pub options: Vec<SlotOption>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotOption {
    pub product_id: ProductId,
    pub price_delta_cents: Money,
}

macro_rules! tags {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            pub fn parse(raw: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|t| t.as_str() == raw)
            }

            /// A list as sent (absent or `null`: none): known names only,
            /// kept once each, in a stable order.
            pub fn parse_list(value: Option<&Value>) -> Result<Vec<Self>> {
                let refused = || {
                    let names: Vec<&str> = Self::ALL.iter().map(|t| t.as_str()).collect();
                    Error::invalid_body(format!(
                        "{} is a list of: {}", $what, names.join(", ")
                    ))
                };
                let items = match value {
                    None | Some(Value::Null) => return Ok(Vec::new()),
                    Some(Value::Array(items)) if items.len() <= Self::ALL.len() * 2 => items,
                    Some(_) => return Err(refused()),
                };
                let mut tags = items
                    .iter()
                    .map(|v| v.as_str().and_then(Self::parse).ok_or_else(refused))
                    .collect::<Result<Vec<_>>>()?;
                tags.sort();
                tags.dedup();
                Ok(tags)
            }
        }
    };
}

tags!(
    /// The allergens of ANVISA RDC 26/2015 (the label's "ALÉRGICOS: CONTÉM").
    Allergen, "allergens" {
        Wheat = "wheat",
        Rye = "rye",
        Barley = "barley",
        Oats = "oats",
        Crustaceans = "crustaceans",
        Eggs = "eggs",
        Fish = "fish",
        Peanuts = "peanuts",
        Soy = "soy",
        Milk = "milk",
        Almonds = "almonds",
        Hazelnuts = "hazelnuts",
        Cashews = "cashews",
        BrazilNuts = "brazil_nuts",
        Macadamias = "macadamias",
        Walnuts = "walnuts",
        Pecans = "pecans",
        Pistachios = "pistachios",
        PineNuts = "pine_nuts",
        Chestnuts = "chestnuts",
        Latex = "latex",
    }
);

tags!(
    /// What a product suits.
    Dietary, "dietary" {
        Vegetarian = "vegetarian",
        Vegan = "vegan",
        GlutenFree = "gluten_free",
        LactoseFree = "lactose_free",
    }
);

// ---- An admin's body, checked.

/// The fields of a JSON object, refusing any not in `known`.
fn object<'a>(
    value: &'a Value,
    known: &[&str],
    refuse: &dyn Fn(String) -> Error,
    what: &str,
) -> Result<&'a serde_json::Map<String, Value>> {
    let map = value
        .as_object()
        .ok_or_else(|| refuse(format!("{what} is an object")))?;
    if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
        // What `GET /products` shows but no product body writes.
        let hint = if unknown == "available" {
            " (a store sells out with PATCH /stores/{id}/availability)"
        } else {
            ""
        };
        return Err(refuse(format!("{what}: unknown field {unknown:?}{hint}")));
    }
    Ok(map)
}

fn key(
    map: &serde_json::Map<String, Value>,
    refuse: &dyn Fn(String) -> Error,
    what: &str,
) -> Result<MenuKey> {
    map.get("id")
        .and_then(Value::as_str)
        .and_then(MenuKey::parse)
        .ok_or_else(|| {
            refuse(format!(
                "{what}: id is 1 to {MAX_KEY_CHARS} lowercase letters, digits, - or _"
            ))
        })
}

fn label(
    map: &serde_json::Map<String, Value>,
    refuse: &dyn Fn(String) -> Error,
    what: &str,
) -> Result<String> {
    map.get("name")
        .and_then(Value::as_str)
        .and_then(|n| crate::domain::text::clean(n, MAX_LABEL_CHARS).ok())
        .ok_or_else(|| {
            refuse(format!(
                "{what}: name is 1 to {MAX_LABEL_CHARS} characters, no control or invisible \
                 formatting characters"
            ))
        })
}

fn delta(
    map: &serde_json::Map<String, Value>,
    refuse: &dyn Fn(String) -> Error,
    what: &str,
) -> Result<Money> {
    match map.get("price_delta_cents") {
        None => Ok(Money::cents(0)),
        Some(v) => v
            .as_i64()
            .filter(|d| d.abs() <= MAX_DELTA_CENTS)
            .map(Money::cents)
            .ok_or_else(|| {
                refuse(format!(
                    "{what}: price_delta_cents is an integer from -{MAX_DELTA_CENTS} to \
                     {MAX_DELTA_CENTS}"
                ))
            }),
    }
}

/// A list of `range` entries (`value`; absent or `null` is none when `range`
/// allows zero), else `refuse` with `what` it should be.
fn list_of<'a>(
    value: Option<&'a Value>,
    range: std::ops::RangeInclusive<usize>,
    refuse: &dyn Fn(String) -> Error,
    what: &str,
) -> Result<&'a [Value]> {
    match value {
        None | Some(Value::Null) if range.contains(&0) => Ok(&[]),
        Some(Value::Array(list)) if range.contains(&list.len()) => Ok(list),
        _ => Err(refuse(format!(
            "{what} is a list of {} to {}",
            range.start(),
            range.end()
        ))),
    }
}

fn modifiers_error(message: String) -> Error {
    Error::validation(Code::InvalidModifiers, message)
}

fn combo_error(message: String) -> Error {
    Error::validation(Code::InvalidCombo, message)
}

/// `modifier_groups` as sent (absent or `null`: none), checked; 400
/// `invalid_modifiers` naming the group.
pub fn parse_groups(value: Option<&Value>) -> Result<Vec<ModifierGroup>> {
    let refuse = &modifiers_error;
    let list = list_of(value, 0..=MAX_GROUPS, refuse, "modifier_groups (groups)")?;
    let mut group_ids = HashSet::new();
    let mut option_ids = HashSet::new();
    let mut groups = Vec::with_capacity(list.len());
    for (i, value) in list.iter().enumerate() {
        let at = format!("modifier_groups[{i}]");
        let map = object(value, &["id", "name", "min", "max", "options"], refuse, &at)?;
        let id = key(map, refuse, &at)?;
        let what = format!("group {id}");
        if !group_ids.insert(id.clone()) {
            return Err(refuse(format!("{what}: the id is used twice")));
        }
        let name = label(map, refuse, &what)?;
        let options = list_of(
            map.get("options"),
            1..=MAX_OPTIONS,
            refuse,
            &format!("{what}: options"),
        )?;
        let bound = |field: &str| -> Result<u8> {
            map.get(field)
                .and_then(Value::as_u64)
                .and_then(|n| u8::try_from(n).ok())
                .filter(|n| usize::from(*n) <= options.len())
                .ok_or_else(|| {
                    refuse(format!(
                        "{what}: {field} is a whole number from 0 to its number of options"
                    ))
                })
        };
        let (min, max) = (bound("min")?, bound("max")?);
        if min > max {
            return Err(refuse(format!("{what}: min is more than max")));
        }
        let mut parsed = Vec::with_capacity(options.len());
        for (j, value) in options.iter().enumerate() {
            let at = format!("{what}, options[{j}]");
            let map = object(
                value,
                &["id", "name", "price_delta_cents", "default"],
                refuse,
                &at,
            )?;
            let option = key(map, refuse, &at)?;
            let at = format!("{what}, option {option}");
            if !option_ids.insert(option.clone()) {
                return Err(refuse(format!("{at}: the id is used twice in the product")));
            }
            let default = match map.get("default") {
                None => false,
                Some(v) => v
                    .as_bool()
                    .ok_or_else(|| refuse(format!("{at}: default is true or false")))?,
            };
            parsed.push(ModifierOption {
                name: label(map, refuse, &at)?,
                price_delta_cents: delta(map, refuse, &at)?,
                id: option,
                default,
                available: true,
            });
        }
        let defaults = parsed.iter().filter(|o| o.default).count();
        if defaults > usize::from(max) {
            return Err(refuse(format!(
                "{what}: {defaults} options are default, more than max ({max})"
            )));
        }
        // A customer who leaves the group alone gets its defaults: they must
        // be a valid choice, or none at all (then the group must be answered).
        if defaults != 0 && defaults < usize::from(min) {
            return Err(refuse(format!(
                "{what}: {defaults} options are default, fewer than min ({min}): make none \
                 default, or at least min"
            )));
        }
        groups.push(ModifierGroup {
            id,
            name,
            min,
            max,
            options: parsed,
        });
    }
    Ok(groups)
}

/// `slots` as sent (absent or `null`: none), checked for shape; 400
/// `invalid_combo` naming the slot. What the slots name (items of the menu,
/// not combos, not deleted, not the combo itself) is checked where the menu
/// is read ([`check_slot_products`]).
pub fn parse_slots(value: Option<&Value>) -> Result<Vec<Slot>> {
    let refuse = &combo_error;
    let list = list_of(value, 0..=MAX_SLOTS, refuse, "slots")?;
    let mut slot_ids = HashSet::new();
    let mut slots = Vec::with_capacity(list.len());
    for (i, value) in list.iter().enumerate() {
        let at = format!("slots[{i}]");
        let map = object(value, &["id", "name", "options"], refuse, &at)?;
        let id = key(map, refuse, &at)?;
        let what = format!("slot {id}");
        if !slot_ids.insert(id.clone()) {
            return Err(refuse(format!("{what}: the id is used twice")));
        }
        let name = label(map, refuse, &what)?;
        let options = list_of(
            map.get("options"),
            1..=MAX_SLOT_OPTIONS,
            refuse,
            &format!("{what}: options (products)"),
        )?;
        let mut products = HashSet::new();
        let mut parsed = Vec::with_capacity(options.len());
        for (j, value) in options.iter().enumerate() {
            let at = format!("{what}, options[{j}]");
            let map = object(value, &["product_id", "price_delta_cents"], refuse, &at)?;
            let product_id = map
                .get("product_id")
                .and_then(Value::as_str)
                .and_then(ProductId::parse)
                .ok_or_else(|| refuse(format!("{at}: product_id is required")))?;
            if !products.insert(product_id.clone()) {
                return Err(refuse(format!(
                    "{what}: product {product_id} is offered twice"
                )));
            }
            parsed.push(SlotOption {
                price_delta_cents: delta(map, refuse, &at)?,
                product_id,
            });
        }
        slots.push(Slot {
            id,
            name,
            options: parsed,
        });
    }
    Ok(slots)
}

/// The least the deltas of `groups` can add to a unit price under their
/// rules: in each group the `min` cheapest options, then any other negative
/// ones up to `max`.
pub fn lowest_deltas(groups: &[ModifierGroup]) -> i64 {
    groups
        .iter()
        .map(|group| {
            let mut deltas: Vec<i64> = group
                .options
                .iter()
                .map(|o| o.price_delta_cents.as_cents())
                .collect();
            deltas.sort_unstable();
            deltas
                .iter()
                .enumerate()
                .take(usize::from(group.max))
                .filter(|(i, d)| *i < usize::from(group.min) || **d < 0)
                .map(|(_, d)| d)
                .sum::<i64>()
        })
        .sum()
}

/// What the menu holds of a product a combo's slot names: its kind, whether
/// it is active, and its own groups.
pub struct SlotProduct<'a> {
    pub kind: ProductKind,
    pub active: bool,
    pub groups: &'a [ModifierGroup],
}

/// Checks that every product the combo `combo` offers is an active item of
/// the menu (`lookup`) other than itself, and that no choice brings its unit
/// price (`base` plus the deltas) below [`LEAST_UNIT_CENTS`]; 400
/// `invalid_combo` naming the slot.
pub fn check_slot_products<'a>(
    combo: Option<&ProductId>,
    base: Money,
    slots: &[Slot],
    lookup: impl Fn(&ProductId) -> Option<SlotProduct<'a>>,
) -> Result<()> {
    let mut lowest = base.as_cents();
    for slot in slots {
        let mut cheapest = i64::MAX;
        for option in &slot.options {
            let what = format!("slot {}: product {}", slot.id, option.product_id);
            if Some(&option.product_id) == combo {
                return Err(combo_error(format!("{what} is the combo itself")));
            }
            let product = lookup(&option.product_id)
                .filter(|p| p.active)
                .ok_or_else(|| combo_error(format!("{what} is not on the menu")))?;
            if product.kind == ProductKind::Combo {
                return Err(combo_error(format!("{what} is a combo")));
            }
            let least = option.price_delta_cents.as_cents() + lowest_deltas(product.groups);
            cheapest = cheapest.min(least);
        }
        lowest += cheapest;
    }
    if lowest < LEAST_UNIT_CENTS {
        return Err(combo_error(
            "some choice of the slots would make the combo free or its price negative".to_owned(),
        ));
    }
    Ok(())
}

/// The least a unit may cost once its choices are added: one cent. Mercado
/// Pago takes no order of zero, so a free line could make an unpayable
/// order.
pub const LEAST_UNIT_CENTS: i64 = 1;

/// Checks that no choice brings an item's unit price below
/// [`LEAST_UNIT_CENTS`]: 400 `invalid_modifiers`.
pub fn check_item_price(base: Money, groups: &[ModifierGroup]) -> Result<()> {
    if base.as_cents() + lowest_deltas(groups) < LEAST_UNIT_CENTS {
        return Err(modifiers_error(
            "some choice of the modifiers would make the item free or its price negative"
                .to_owned(),
        ));
    }
    Ok(())
}

// ---- A customer's choices, checked and snapshotted.

/// The options a checkout line picks in one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModifierChoice {
    pub group_id: String,
    pub option_ids: Vec<String>,
}

/// The product a checkout line puts in one slot of a combo, and its
/// options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotChoice {
    pub slot_id: String,
    pub product_id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modifiers: Vec<ModifierChoice>,
}

/// An option as it was chosen: names and delta as they were at checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChosenModifier {
    pub group_id: String,
    pub group_name: String,
    pub option_id: String,
    pub name: String,
    pub price_delta_cents: Money,
}

/// A slot as it was filled: the product, its delta and its options, as they
/// were at checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChosenSlot {
    pub slot_id: String,
    pub name: String,
    pub product_id: ProductId,
    pub product_name: String,
    pub price_delta_cents: Money,
    pub modifiers: Vec<ChosenModifier>,
}

/// A client's id for a message: itself when it could be a menu id (a safe
/// alphabet, at most 64 characters), else a placeholder; never raw input.
pub(crate) fn shown(raw: &str) -> String {
    match MenuKey::parse(raw) {
        Some(key) => format!("{:?}", key.as_str()),
        None => "(not a menu id)".to_owned(),
    }
}

pub(crate) fn invalid_choice(message: String) -> Error {
    Error::unprocessable(Code::InvalidChoice, message)
}

/// The options `chosen` picks in `groups` (`of`: the product, for the
/// messages): every group mentioned must exist and be mentioned once, every
/// option must be of its group and picked once; a group not mentioned takes
/// its defaults; each group ends with `min..=max` options, or 422
/// `invalid_choice` naming it. An option `sells` says the store has sold out
/// is 422 `option_unavailable`. In the product's order.
pub fn choose(
    of: &str,
    groups: &[ModifierGroup],
    chosen: &[ModifierChoice],
    sells: &dyn Fn(&MenuKey) -> bool,
) -> Result<Vec<ChosenModifier>> {
    let mut mentioned = HashSet::new();
    for choice in chosen {
        if !groups.iter().any(|g| g.id.as_str() == choice.group_id) {
            return Err(invalid_choice(format!(
                "{of} has no group {}",
                shown(&choice.group_id)
            )));
        }
        if !mentioned.insert(choice.group_id.as_str()) {
            return Err(invalid_choice(format!(
                "{of}: group {} is mentioned twice",
                shown(&choice.group_id)
            )));
        }
    }
    let mut picked = Vec::new();
    for group in groups {
        let choice = chosen.iter().find(|c| c.group_id == group.id.as_str());
        let options: Vec<&ModifierOption> = match choice {
            None => group.options.iter().filter(|o| o.default).collect(),
            Some(choice) => {
                let mut ids = HashSet::new();
                for id in &choice.option_ids {
                    if !ids.insert(id.as_str()) {
                        return Err(invalid_choice(format!(
                            "{of}: group {}: option {} is picked twice",
                            group.id,
                            shown(id)
                        )));
                    }
                    if !group.options.iter().any(|o| o.id.as_str() == id) {
                        return Err(invalid_choice(format!(
                            "{of}: group {} has no option {}",
                            group.id,
                            shown(id)
                        )));
                    }
                }
                group
                    .options
                    .iter()
                    .filter(|o| ids.contains(o.id.as_str()))
                    .collect()
            }
        };
        let count = options.len();
        if count < usize::from(group.min) || count > usize::from(group.max) {
            return Err(invalid_choice(format!(
                "{of}: group {} takes {} to {} options, not {count}",
                group.id, group.min, group.max
            )));
        }
        for option in options {
            if !sells(&option.id) {
                return Err(Error::unprocessable(
                    Code::OptionUnavailable,
                    format!("{of}: option {} is sold out here", option.id),
                ));
            }
            picked.push(ChosenModifier {
                group_id: group.id.to_string(),
                group_name: group.name.clone(),
                option_id: option.id.to_string(),
                name: option.name.clone(),
                price_delta_cents: option.price_delta_cents,
            });
        }
    }
    Ok(picked)
}

/// The sum of the deltas of `modifiers`.
pub fn deltas(modifiers: &[ChosenModifier]) -> Option<Money> {
    modifiers.iter().try_fold(Money::cents(0), |sum, m| {
        sum.checked_add(m.price_delta_cents)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code(result: Result<impl fmt::Debug>) -> String {
        match result {
            Err(e) => e.public_parts().0.as_str().to_owned(),
            Ok(v) => format!("accepted {v:?}"),
        }
    }

    fn message(result: Result<impl fmt::Debug>) -> String {
        parts(result).1
    }

    /// The code and message of a refusal.
    fn parts(result: Result<impl fmt::Debug>) -> (String, String) {
        match result {
            Err(e) => {
                let (code, message) = e.public_parts();
                (code.as_str().to_owned(), message.to_owned())
            }
            Ok(v) => (format!("accepted {v:?}"), String::new()),
        }
    }

    fn size() -> Value {
        json!({"id": "size", "name": "Tamanho", "min": 1, "max": 1, "options": [
            {"id": "fries-m", "name": "Médio", "default": true},
            {"id": "fries-g", "name": "Grande", "price_delta_cents": 300},
            {"id": "fries-p", "name": "Pequeno", "price_delta_cents": -200}
        ]})
    }

    fn extras() -> Value {
        json!({"id": "extras", "name": "Adicionais", "min": 0, "max": 2, "options": [
            {"id": "bacon", "name": "Bacon", "price_delta_cents": 400},
            {"id": "cheddar", "name": "Cheddar", "price_delta_cents": 300}
        ]})
    }

    fn removals() -> Value {
        json!({"id": "remove", "name": "Retirar", "min": 0, "max": 2, "options": [
            {"id": "no-onion", "name": "Sem cebola"},
            {"id": "no-pickles", "name": "Sem picles"}
        ]})
    }

    fn groups(list: Value) -> Result<Vec<ModifierGroup>> {
        parse_groups(Some(&list))
    }

    #[test]
    fn sizes_extras_and_removals_are_groups() {
        let parsed = groups(json!([size(), extras(), removals()])).unwrap();
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[0].options[1].price_delta_cents, Money::cents(300));
        assert_eq!(parsed[2].options[0].price_delta_cents, Money::cents(0));
        assert!(parsed[0].options[0].default && !parsed[0].options[1].default);
        assert_eq!(groups(json!(null)).unwrap(), vec![]);
        assert_eq!(parse_groups(None).unwrap(), vec![]);
    }

    #[test]
    fn each_bad_group_is_refused_and_named() {
        let with = |field: &str, value: Value| {
            let mut group = size();
            group[field] = value;
            groups(json!([group]))
        };
        let cases = [
            (with("min", json!(2)), "group size: min is"),
            (with("max", json!(4)), "group size: max is"),
            (with("min", json!(-1)), "group size: min is"),
            (with("max", json!(1.5)), "group size: max is"),
            (with("options", json!([])), "group size: options is"),
            (with("id", json!("Size")), "modifier_groups[0]: id is"),
            (with("name", json!("")), "group size: name is"),
            (with("extra", json!(1)), "unknown field \"extra\""),
            (
                groups(json!([size(), size()])),
                "group size: the id is used twice",
            ),
            (
                groups(
                    json!([extras(), {"id": "more", "name": "Mais", "min": 0, "max": 1,
                    "options": [{"id": "bacon", "name": "Bacon"}]}]),
                ),
                "group more, option bacon: the id is used twice",
            ),
            (
                groups(json!([{"id": "size", "name": "Tamanho", "min": 0, "max": 1,
                    "options": [{"id": "a", "name": "A", "default": true},
                                {"id": "b", "name": "B", "default": true}]}])),
                "group size: 2 options are default, more than max (1)",
            ),
            (
                groups(json!([{"id": "x", "name": "X", "min": 0, "max": 1,
                    "options": [{"id": "a", "name": "A", "price_delta_cents": 1_000_001}]}])),
                "group x, option a: price_delta_cents",
            ),
            (
                groups(json!([{"id": "x", "name": "X", "min": 0, "max": 1,
                    "options": [{"id": "a", "name": "A", "default": "yes"}]}])),
                "group x, option a: default is true or false",
            ),
            (
                groups(json!({"size": 1})),
                "modifier_groups (groups) is a list of 0 to 10",
            ),
            (
                // Left alone, the group would take 1 option of the 2 it needs.
                groups(
                    json!([{"id": "sauces", "name": "Molhos", "min": 2, "max": 3,
                    "options": [{"id": "a", "name": "A", "default": true},
                                {"id": "b", "name": "B"}, {"id": "c", "name": "C"}]}]),
                ),
                "group sauces: 1 options are default, fewer than min (2)",
            ),
            (
                with(
                    "options",
                    json!([{"id": "s", "name": "S", "available": false}]),
                ),
                "unknown field \"available\" (a store sells out with PATCH",
            ),
        ];
        for (result, expected) in cases {
            let (code, text) = parts(result);
            assert_eq!(code, "invalid_modifiers", "{text}");
            assert!(text.contains(expected), "{text:?} should name {expected:?}");
        }
    }

    #[test]
    fn limits_are_ten_groups_and_thirty_options() {
        let options = |n: usize| -> Vec<Value> {
            (0..n)
                .map(|i| json!({"id": format!("o{i}"), "name": format!("O {i}")}))
                .collect()
        };
        let group = |id: String, n: usize| {
            json!({"id": id, "name": "G", "min": 0, "max": 1,
            "options": options(n)})
        };
        assert!(groups(json!([group("g".into(), 30)])).is_ok());
        assert_eq!(
            code(groups(json!([group("g".into(), 31)]))),
            "invalid_modifiers"
        );
        let ten: Vec<Value> = (0..10)
            .map(|i| {
                let mut g = group(format!("g{i}"), 1);
                g["options"][0]["id"] = json!(format!("g{i}-o"));
                g
            })
            .collect();
        assert!(groups(json!(ten)).is_ok());
        let mut eleven = ten.clone();
        let mut extra = group("g10".into(), 1);
        extra["options"][0]["id"] = json!("g10-o");
        eleven.push(extra);
        assert_eq!(code(groups(json!(eleven))), "invalid_modifiers");
    }

    #[test]
    fn no_allowed_choice_may_make_a_price_zero_or_negative() {
        let parsed = groups(json!([size(), extras(), removals()])).unwrap();
        // The small size (-200) is the least; extras and removals add none.
        assert_eq!(lowest_deltas(&parsed), -200);
        assert!(check_item_price(Money::cents(201), &parsed).is_ok());
        assert_eq!(
            code(check_item_price(Money::cents(200), &parsed)),
            "invalid_modifiers"
        );
        // Optional discounts count too, up to max.
        let discounts = groups(
            json!([{"id": "d", "name": "D", "min": 0, "max": 2, "options": [
            {"id": "a", "name": "A", "price_delta_cents": -100},
            {"id": "b", "name": "B", "price_delta_cents": -50},
            {"id": "c", "name": "C", "price_delta_cents": -25}]}]),
        )
        .unwrap();
        assert_eq!(lowest_deltas(&discounts), -150);
    }

    fn slots(list: Value) -> Result<Vec<Slot>> {
        parse_slots(Some(&list))
    }

    #[test]
    fn slots_are_checked_for_shape_and_named() {
        let drink = json!({"id": "drink", "name": "Bebida", "options": [
            {"product_id": "coke"}, {"product_id": "juice", "price_delta_cents": 200}]});
        let parsed = slots(json!([drink.clone()])).unwrap();
        assert_eq!(parsed[0].options[1].price_delta_cents, Money::cents(200));
        let cases = [
            (
                slots(json!([drink.clone(), drink.clone()])),
                "slot drink: the id is used twice",
            ),
            (
                slots(json!([{"id": "drink", "name": "Bebida", "options": []}])),
                "slot drink: options (products) is a list of 1 to 30",
            ),
            (
                slots(json!([{"id": "drink", "name": "Bebida", "options": [
                    {"product_id": "coke"}, {"product_id": "coke"}]}])),
                "slot drink: product coke is offered twice",
            ),
            (
                slots(json!([{"id": "drink", "name": "Bebida", "options": [{"id": "coke"}]}])),
                "unknown field \"id\"",
            ),
        ];
        for (result, expected) in cases {
            let (code, text) = parts(result);
            assert_eq!(code, "invalid_combo", "{text}");
            assert!(text.contains(expected), "{text:?} should name {expected:?}");
        }
    }

    #[test]
    fn a_slot_names_active_items_other_than_the_combo() {
        let parsed = slots(json!([{"id": "side", "name": "Acompanhamento", "options": [
            {"product_id": "fries", "price_delta_cents": -500}]}]))
        .unwrap();
        let fries = groups(json!([size()])).unwrap();
        let menu = |kind, active| {
            let fries = &fries;
            move |id: &ProductId| {
                (id.as_str() == "fries").then_some(SlotProduct {
                    kind,
                    active,
                    groups: fries,
                })
            }
        };
        let combo = ProductId::parse("combo-1").unwrap();
        // 701 base - 500 slot - 200 small size = 1 cent: allowed.
        assert!(
            check_slot_products(
                Some(&combo),
                Money::cents(701),
                &parsed,
                menu(ProductKind::Item, true)
            )
            .is_ok()
        );
        for (base, kind, active, expected) in [
            (700, ProductKind::Item, true, "free or its price negative"),
            (
                700,
                ProductKind::Combo,
                true,
                "slot side: product fries is a combo",
            ),
            (
                700,
                ProductKind::Item,
                false,
                "slot side: product fries is not on the menu",
            ),
        ] {
            let result = check_slot_products(
                Some(&combo),
                Money::cents(base),
                &parsed,
                menu(kind, active),
            );
            let (code, text) = parts(result);
            assert_eq!(code, "invalid_combo", "{text}");
            assert!(text.contains(expected), "{text}");
        }
        let itself = ProductId::parse("fries").unwrap();
        let result = check_slot_products(
            Some(&itself),
            Money::cents(900),
            &parsed,
            menu(ProductKind::Item, true),
        );
        assert!(message(result).contains("is the combo itself"));
    }

    #[test]
    fn allergens_and_dietary_tags_are_known_names_kept_once() {
        let tags = Allergen::parse_list(Some(&json!(["milk", "wheat", "milk"]))).unwrap();
        assert_eq!(tags, [Allergen::Wheat, Allergen::Milk]);
        assert_eq!(Allergen::ALL.len(), 21);
        assert_eq!(
            serde_json::to_value(Allergen::BrazilNuts).unwrap(),
            "brazil_nuts"
        );
        assert_eq!(
            code(Allergen::parse_list(Some(&json!(["gluten"])))),
            "invalid_body"
        );
        assert_eq!(
            code(Allergen::parse_list(Some(&json!("milk")))),
            "invalid_body"
        );
        let diet = Dietary::parse_list(Some(&json!(["vegan", "gluten_free"]))).unwrap();
        assert_eq!(diet, [Dietary::Vegan, Dietary::GlutenFree]);
        assert_eq!(Dietary::parse_list(None).unwrap(), vec![]);
    }

    fn pick(group: &str, options: &[&str]) -> ModifierChoice {
        ModifierChoice {
            group_id: group.into(),
            option_ids: options.iter().map(|o| (*o).to_owned()).collect(),
        }
    }

    fn everything(_: &MenuKey) -> bool {
        true
    }

    #[test]
    fn an_unmentioned_group_takes_its_defaults_and_a_mentioned_one_its_picks() {
        let menu = groups(json!([size(), extras(), removals()])).unwrap();
        let picked = choose("X", &menu, &[], &everything).unwrap();
        let ids: Vec<&str> = picked.iter().map(|m| m.option_id.as_str()).collect();
        assert_eq!(ids, ["fries-m"]);
        let chosen = [
            pick("remove", &["no-onion"]),
            pick("size", &["fries-g"]),
            pick("extras", &["cheddar", "bacon"]),
        ];
        let picked = choose("X", &menu, &chosen, &everything).unwrap();
        let ids: Vec<&str> = picked.iter().map(|m| m.option_id.as_str()).collect();
        assert_eq!(
            ids,
            ["fries-g", "bacon", "cheddar", "no-onion"],
            "the menu's order"
        );
        assert_eq!(deltas(&picked), Some(Money::cents(1000)));
        assert_eq!(picked[3].group_name, "Retirar");
        assert_eq!(picked[3].name, "Sem cebola");
    }

    #[test]
    fn bad_choices_are_invalid_choice_naming_the_group() {
        let menu = groups(json!([size(), extras()])).unwrap();
        let cases = [
            (
                vec![pick("size", &[])],
                "group size takes 1 to 1 options, not 0",
            ),
            (
                vec![pick("size", &["fries-m", "fries-g"])],
                "group size takes 1 to 1",
            ),
            (vec![pick("sauce", &["x"])], "has no group \"sauce\""),
            (
                vec![pick("extras", &["ketchup"])],
                "group extras has no option \"ketchup\"",
            ),
            (
                vec![pick("extras", &["bacon", "bacon"])],
                "option \"bacon\" is picked twice",
            ),
            (
                vec![pick("extras", &["<script>"])],
                "has no option (not a menu id)",
            ),
            (
                vec![pick("extras", &["bacon"]), pick("extras", &["cheddar"])],
                "group \"extras\" is mentioned twice",
            ),
        ];
        for (chosen, expected) in cases {
            let result = choose("X-Burger", &menu, &chosen, &everything);
            let (code, text) = parts(result);
            assert_eq!(code, "invalid_choice", "{text}");
            assert!(text.contains(expected), "{text:?} should name {expected:?}");
        }
        // A required group without a default must be chosen.
        let flavour = groups(
            json!([{"id": "flavour", "name": "Sabor", "min": 1, "max": 1,
            "options": [{"id": "lemon", "name": "Limão"}]}]),
        )
        .unwrap();
        assert_eq!(
            code(choose("Suco", &flavour, &[], &everything)),
            "invalid_choice"
        );
    }

    #[test]
    fn a_sold_out_option_is_option_unavailable_even_as_a_default() {
        let menu = groups(json!([size(), extras()])).unwrap();
        let no_bacon = |id: &MenuKey| id.as_str() != "bacon";
        let result = choose("X", &menu, &[pick("extras", &["bacon"])], &no_bacon);
        assert_eq!(code(result), "option_unavailable");
        assert!(choose("X", &menu, &[pick("extras", &["cheddar"])], &no_bacon).is_ok());
        let no_medium = |id: &MenuKey| id.as_str() != "fries-m";
        assert_eq!(
            code(choose("X", &menu, &[], &no_medium)),
            "option_unavailable"
        );
        assert!(choose("X", &menu, &[pick("size", &["fries-g"])], &no_medium).is_ok());
    }

    mod fuzz {
        //! Any body at all, shaped like a product or a checkout or not: the
        //! validators answer a draft or a 4xx, never a panic or a 5xx (the
        //! routes' bodies go through them before anything is read or
        //! written).

        use crate::domain::order::{Checkout, CheckoutBody};
        use crate::domain::product::{ProductBody, ProductDraft};
        use proptest::prelude::*;
        use serde_json::{Map, Value, json};

        /// A JSON value up to three levels deep, leaning on what the menu's
        /// fields hold (small numbers, ids, booleans, lists of objects).
        fn value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                (-3i64..40).prop_map(|n| json!(n)),
                any::<i64>().prop_map(|n| json!(n)),
                any::<f64>().prop_map(|f| json!(f)),
                "[a-z_-]{0,8}".prop_map(Value::String),
                ".{0,12}".prop_map(Value::String),
            ];
            leaf.prop_recursive(3, 40, 6, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    proptest::collection::btree_map(
                        prop_oneof![
                            Just("id".to_owned()),
                            Just("name".to_owned()),
                            Just("min".to_owned()),
                            Just("max".to_owned()),
                            Just("options".to_owned()),
                            Just("default".to_owned()),
                            Just("price_delta_cents".to_owned()),
                            Just("product_id".to_owned()),
                            Just("group_id".to_owned()),
                            Just("option_ids".to_owned()),
                            "[a-z]{1,6}",
                        ],
                        inner,
                        0..6,
                    )
                    .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
                ]
            })
        }

        /// The status the API answers the refusal with (400 a bad shape,
        /// 422 a choice the menu does not allow, 500 anything else).
        fn status(e: &crate::Error) -> u16 {
            match e {
                crate::Error::Validation { .. } => 400,
                crate::Error::Unprocessable { .. } => 422,
                _ => 500,
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn any_product_body_is_a_draft_or_a_400(
                groups in value(), slots in value(), kind in value(),
                allergens in value(), price in value(),
            ) {
                let body = json!({"name": "X", "category": "combo", "price_cents": price,
                    "kind": kind, "modifier_groups": groups, "slots": slots,
                    "allergens": allergens});
                if let Ok(body) = serde_json::from_value::<ProductBody>(body)
                    && let Err(e) = ProductDraft::try_from(body)
                {
                    prop_assert_eq!(status(&e), 400, "{:?}", e);
                }
            }

            #[test]
            fn any_group_list_is_groups_or_a_400(groups in value()) {
                if let Err(e) = super::super::parse_groups(Some(&groups)) {
                    prop_assert_eq!(status(&e), 400);
                }
                if let Err(e) = super::super::parse_slots(Some(&groups)) {
                    prop_assert_eq!(status(&e), 400);
                }
            }

            #[test]
            fn any_checkout_line_is_priced_or_refused_with_a_4xx(
                modifiers in value(), slots in value(),
                // Mostly a valid one, so that the lines reach the pricing.
                fulfillment in prop_oneof![
                    3 => Just(json!("dine_in")), 1 => Just(json!("takeout")), 1 => value()
                ],
            ) {
                let body = json!({"items": [{"product_id": "p0", "quantity": 1,
                    "modifiers": modifiers, "slots": slots}], "fulfillment": fulfillment});
                let Ok(body) = serde_json::from_value::<CheckoutBody>(body) else {
                    return Ok(());
                };
                let checkout = match Checkout::try_from(body) {
                    Ok(checkout) => checkout,
                    Err(e) => {
                        prop_assert_eq!(status(&e), 400);
                        return Ok(());
                    }
                };
                let mut item = crate::domain::product::sample("p0", 990, true);
                item.modifier_groups = super::super::parse_groups(Some(&json!([
                    {"id": "g", "name": "G", "min": 0, "max": 1, "options": [
                        {"id": "a", "name": "A"}, {"id": "b", "name": "B"}]}])))
                .unwrap();
                let menu = std::collections::HashMap::from([(item.id.clone(), item)]);
                if let Err(e) = checkout.price(&menu, &|_| true) {
                    prop_assert!(matches!(status(&e), 400 | 422), "{:?}", e);
                }
            }
        }
    }
}
