//! The menu's products and the validation of what staff write into it.

use crate::domain::ids::ProductId;
use crate::domain::menu::{
    self, Allergen, Dietary, MenuKey, ModifierGroup, ProductKind, Slot, SlotProduct,
};
use crate::domain::money::Money;
use crate::{Code, Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::str::FromStr;
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Lanche
    Sandwich,
    /// Acompanhamento
    Side,
    /// Bebida
    Drink,
    /// Sobremesa
    Dessert,
    /// Combo: a sandwich, a side and a drink at one price.
    Combo,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::Sandwich,
        Category::Side,
        Category::Drink,
        Category::Dessert,
        Category::Combo,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Sandwich => "sandwich",
            Category::Side => "side",
            Category::Drink => "drink",
            Category::Dessert => "dessert",
            Category::Combo => "combo",
        }
    }
}

impl FromStr for Category {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                Error::validation(
                    Code::InvalidCategory,
                    "category is one of sandwich, side, drink, dessert, combo",
                )
            })
    }
}

/// A product as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: ProductId,
    pub name: String,
    pub description: String,
    pub category: Category,
    /// An item's price, or a combo's base (its slots' and their items'
    /// deltas add).
    pub price_cents: Money,
    pub image_url: Option<String>,
    #[serde(default)]
    pub kind: ProductKind,
    /// An item's choices (none on a combo: its slots' items have theirs).
    #[serde(default)]
    pub modifier_groups: Vec<ModifierGroup>,
    /// A combo's places, each filled with one item (none on an item).
    #[serde(default)]
    pub slots: Vec<Slot>,
    #[serde(default)]
    pub allergens: Vec<Allergen>,
    #[serde(default)]
    pub dietary: Vec<Dietary>,
    /// False where the caller's store has it sold out: still listed, not
    /// orderable there. Set from the store's sold-out set on every answer
    /// (a stored value, from v2's chain-wide flag, is never the answer).
    #[serde(default = "available_by_default")]
    pub available: bool,
    pub active: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

fn available_by_default() -> bool {
    true
}

/// A plain active-or-not item of the menu, for tests.
#[cfg(test)]
pub(crate) fn sample(id: &str, price: i64, active: bool) -> Product {
    let now = OffsetDateTime::now_utc();
    Product {
        id: ProductId::parse(id).unwrap_or_else(|| panic!("{id} is no product id")),
        name: format!("Produto {id}"),
        description: String::new(),
        category: Category::Sandwich,
        price_cents: Money::cents(price),
        image_url: None,
        kind: ProductKind::Item,
        modifier_groups: Vec::new(),
        slots: Vec::new(),
        allergens: Vec::new(),
        dietary: Vec::new(),
        available: true,
        active,
        created_at: now,
        updated_at: now,
    }
}

impl Product {
    /// Its option ids (unique across the menu).
    pub fn option_ids(&self) -> impl Iterator<Item = &MenuKey> {
        self.modifier_groups
            .iter()
            .flat_map(|g| g.options.iter().map(|o| &o.id))
    }

    /// Available, and every option of it: as the chain sees it (a store
    /// sells out).
    pub fn all_available(&mut self) {
        self.available = true;
        for option in self.modifier_groups.iter_mut().flat_map(|g| &mut g.options) {
            option.available = true;
        }
    }

    /// What a combo's slot needs to know of it.
    pub fn as_slot_product(&self) -> SlotProduct<'_> {
        SlotProduct {
            kind: self.kind,
            active: self.active,
            groups: &self.modifier_groups,
        }
    }

    /// Whether each of its slots (a combo's) still offers an active item of
    /// `menu` that `sold` says is sold here: a combo whose item was deleted,
    /// or sold out everywhere it could come from, cannot be ordered. An
    /// item has no slots: always true.
    pub fn slots_fillable(
        &self,
        menu: &HashMap<ProductId, Product>,
        sold: &dyn Fn(&ProductId) -> bool,
    ) -> bool {
        self.every_slot_offers(menu, |p| {
            p.active && p.kind == ProductKind::Item && sold(&p.id)
        })
    }

    /// Whether it contains none of `allergens`; a combo when one of its
    /// slots has no product without them is treated as containing them
    /// (`products`: the products its slots name).
    pub fn free_of(&self, allergens: &[Allergen], products: &HashMap<ProductId, Product>) -> bool {
        let clean = |p: &Product| !p.allergens.iter().any(|a| allergens.contains(a));
        clean(self) && self.every_slot_offers(products, clean)
    }

    /// Whether each of its slots offers a product of `menu` that `fits`
    /// (true for an item: it has no slots).
    fn every_slot_offers(
        &self,
        menu: &HashMap<ProductId, Product>,
        fits: impl Fn(&Product) -> bool,
    ) -> bool {
        self.slots.iter().all(|slot| {
            slot.options
                .iter()
                .any(|o| menu.get(&o.product_id).is_some_and(&fits))
        })
    }
}

/// What an admin writes (`POST /products`, `PUT /products/{id}`), validated
/// on its own; what it names on the menu is [`ProductDraft::check_on`]'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductDraft {
    pub name: String,
    pub description: String,
    pub category: Category,
    pub price: Money,
    pub image_url: Option<String>,
    pub kind: ProductKind,
    pub modifier_groups: Vec<ModifierGroup>,
    pub slots: Vec<Slot>,
    pub allergens: Vec<Allergen>,
    pub dietary: Vec<Dietary>,
}

impl ProductDraft {
    /// Checks the draft of product `id` (none yet for a create) against the
    /// active menu `menu`: its option ids are no other product's (400
    /// `invalid_modifiers`), and a combo's slots name active items other
    /// than itself, none of whose choices brings its price below one cent
    /// (400 `invalid_combo`).
    pub fn check_on(&self, id: Option<&ProductId>, on: &HashMap<ProductId, Product>) -> Result<()> {
        for other in on.values().filter(|p| Some(&p.id) != id) {
            if let Some(taken) = other.option_ids().find(|o| {
                self.modifier_groups
                    .iter()
                    .any(|g| g.options.iter().any(|mine| &mine.id == *o))
            }) {
                return Err(Error::validation(
                    Code::InvalidModifiers,
                    format!(
                        "option {taken} is already an option of product {} (option ids are \
                         unique across the menu)",
                        other.id
                    ),
                ));
            }
        }
        menu::check_slot_products(id, self.price, &self.slots, |p| {
            on.get(p).map(Product::as_slot_product)
        })
    }
}

pub const MAX_NAME_CHARS: usize = 80;
pub const MAX_DESCRIPTION_CHARS: usize = 500;
pub const MAX_PRICE_CENTS: i64 = 1_000_000;
const MAX_URL_LEN: usize = 2048;

/// The request body as sent. Fields are loosely typed here so that each rule
/// answers its own error code (a float price is `invalid_price`, not a generic
/// parse error); unknown fields are refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductBody {
    name: serde_json::Value,
    #[serde(default)]
    description: Option<serde_json::Value>,
    category: serde_json::Value,
    price_cents: serde_json::Value,
    #[serde(default)]
    image_url: Option<serde_json::Value>,
    #[serde(default)]
    kind: Option<serde_json::Value>,
    #[serde(default)]
    modifier_groups: Option<serde_json::Value>,
    #[serde(default)]
    slots: Option<serde_json::Value>,
    #[serde(default)]
    allergens: Option<serde_json::Value>,
    #[serde(default)]
    dietary: Option<serde_json::Value>,
}

impl TryFrom<ProductBody> for ProductDraft {
    type Error = Error;

    fn try_from(body: ProductBody) -> Result<Self> {
        // Free text: trimmed, NFC, no control or format characters.
        let name = body
            .name
            .as_str()
            .and_then(|n| crate::domain::text::clean(n, MAX_NAME_CHARS).ok())
            .ok_or_else(|| {
                Error::validation(
                    Code::InvalidName,
                    format!(
                        "name is a string of 1 to {MAX_NAME_CHARS} characters, no control or \
                         invisible formatting characters"
                    ),
                )
            })?;
        let description = match &body.description {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(value) => match value.as_str().map(str::trim) {
                Some("") => Some(String::new()),
                Some(d) => crate::domain::text::clean(d, MAX_DESCRIPTION_CHARS).ok(),
                None => None,
            }
            .ok_or_else(|| {
                Error::validation(
                    Code::InvalidDescription,
                    format!(
                        "description is a string of at most {MAX_DESCRIPTION_CHARS} characters, \
                         no control or invisible formatting characters"
                    ),
                )
            })?,
        };
        let category = body
            .category
            .as_str()
            .ok_or_else(|| {
                Error::validation(
                    Code::InvalidCategory,
                    "category is one of sandwich, side, drink, dessert, combo",
                )
            })?
            .parse()?;
        // `as_i64` is None for floats (even 12.0) and strings: integers only.
        let price = body
            .price_cents
            .as_i64()
            .filter(|p| (1..=MAX_PRICE_CENTS).contains(p))
            .map(Money::cents)
            .ok_or_else(|| {
                Error::validation(
                    Code::InvalidPrice,
                    format!("price_cents is an integer from 1 to {MAX_PRICE_CENTS}"),
                )
            })?;
        let image_url = match &body.image_url {
            None | Some(serde_json::Value::Null) => None,
            Some(value) => Some(
                value
                    .as_str()
                    .filter(|u| is_https_url(u))
                    .ok_or_else(|| {
                        Error::validation(Code::InvalidImageUrl, "image_url is an https:// URL")
                    })?
                    .to_owned(),
            ),
        };
        let kind = match &body.kind {
            None | Some(serde_json::Value::Null) => ProductKind::Item,
            Some(kind) => match kind.as_str() {
                Some("item") => ProductKind::Item,
                Some("combo") => ProductKind::Combo,
                _ => return Err(Error::invalid_body("kind is item or combo")),
            },
        };
        let modifier_groups = menu::parse_groups(body.modifier_groups.as_ref())?;
        let slots = menu::parse_slots(body.slots.as_ref())?;
        let combo_error = |message: &str| Error::validation(Code::InvalidCombo, message);
        match kind {
            ProductKind::Item => {
                if !slots.is_empty() {
                    return Err(combo_error("an item has no slots: make it kind combo"));
                }
                if category == Category::Combo {
                    return Err(combo_error("a product of category combo is of kind combo"));
                }
                menu::check_item_price(price, &modifier_groups)?;
            }
            ProductKind::Combo => {
                if slots.is_empty() {
                    return Err(combo_error("a combo has 1 to 10 slots"));
                }
                if category != Category::Combo {
                    return Err(combo_error("a combo is of category combo"));
                }
                if !modifier_groups.is_empty() {
                    return Err(Error::validation(
                        Code::InvalidModifiers,
                        "a combo has no modifier groups: its slots' items have theirs",
                    ));
                }
            }
        }
        Ok(Self {
            name: name.to_owned(),
            description: description.to_owned(),
            category,
            price,
            image_url,
            kind,
            modifier_groups,
            slots,
            allergens: Allergen::parse_list(body.allergens.as_ref())?,
            dietary: Dietary::parse_list(body.dietary.as_ref())?,
        })
    }
}

fn is_https_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    url.len() <= MAX_URL_LEN
        && !host.is_empty()
        && !host.contains('@')
        && url.chars().all(|c| c.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_and_descriptions_refuse_control_and_format_characters() {
        let base = || json!({"name": "X-Burger", "category": "sandwich", "price_cents": 2490});
        let with = |key: &str, value: &str| {
            let mut body = base();
            body[key] = value.into();
            draft(body)
        };
        for bad in [
            "ESC\u{1b}[2J",
            "NUL\u{0}",
            "bidi\u{202e}gro",
            "zero\u{200b}width",
        ] {
            assert_eq!(code(with("name", bad)), "invalid_name", "{bad:?}");
            assert_eq!(
                code(with("description", bad)),
                "invalid_description",
                "{bad:?}"
            );
        }
        let composed = with("description", "Pa\u{303}o de queijo").unwrap();
        assert_eq!(composed.description, "Pão de queijo");
    }

    fn draft(body: serde_json::Value) -> Result<ProductDraft> {
        let body: ProductBody = serde_json::from_value(body)
            .map_err(|e| Error::validation(Code::InvalidBody, e.to_string()))?;
        ProductDraft::try_from(body)
    }

    fn code(result: Result<ProductDraft>) -> String {
        match result {
            Err(e) => e.public_parts().0.as_str().to_owned(),
            Ok(d) => format!("accepted {d:?}"),
        }
    }

    fn base() -> serde_json::Value {
        json!({"name": "X-Burger", "category": "sandwich", "price_cents": 2490})
    }

    fn with(key: &str, value: serde_json::Value) -> serde_json::Value {
        let mut body = base();
        body[key] = value;
        body
    }

    #[test]
    fn a_minimal_product_is_valid_and_trimmed() {
        let d = draft(with("name", json!("  X-Burger "))).unwrap();
        assert_eq!(
            (
                d.name.as_str(),
                d.price,
                d.description.as_str(),
                d.image_url
            ),
            ("X-Burger", Money::cents(2490), "", None)
        );
    }

    #[test]
    fn each_rule_answers_its_own_code() {
        assert_eq!(code(draft(with("name", json!("")))), "invalid_name");
        assert_eq!(
            code(draft(with("name", json!("x".repeat(81))))),
            "invalid_name"
        );
        assert!(draft(with("name", json!("x".repeat(80)))).is_ok());
        assert_eq!(
            code(draft(with("description", json!("d".repeat(501))))),
            "invalid_description"
        );
        assert_eq!(
            code(draft(with("category", json!("pizza")))),
            "invalid_category"
        );
        for price in [
            json!(0),
            json!(1_000_001),
            json!(12.5),
            json!(12.0),
            json!("2490"),
            json!(-1),
            json!(null),
        ] {
            assert_eq!(
                code(draft(with("price_cents", price.clone()))),
                "invalid_price",
                "{price}"
            );
        }
        assert!(draft(with("price_cents", json!(1_000_000))).is_ok());
        for url in [
            "http://img.example.com/x.png",
            "ftp://x",
            "https://",
            "https://user@host/x",
            "https://a b",
        ] {
            assert_eq!(
                code(draft(with("image_url", json!(url)))),
                "invalid_image_url",
                "{url}"
            );
        }
        assert!(
            draft(with(
                "image_url",
                json!("https://cdn.example.com/x-burger.png")
            ))
            .is_ok()
        );
        assert_eq!(code(draft(with("active", json!(true)))), "invalid_body");
    }

    #[test]
    fn a_stored_product_without_available_reads_as_available() {
        let stored = json!({"id": "p-1", "name": "X-Burger", "description": "",
            "category": "sandwich", "price_cents": 2490, "image_url": null, "active": true,
            "created_at": "2025-01-31T12:00:00Z", "updated_at": "2025-01-31T12:00:00Z"});
        let product: Product = serde_json::from_value(stored.clone()).unwrap();
        assert!(product.available);
        let mut sold_out = stored;
        sold_out["available"] = json!(false);
        let product: Product = serde_json::from_value(sold_out).unwrap();
        assert!(!product.available);
        assert_eq!(serde_json::to_value(&product).unwrap()["available"], false);
    }
}
