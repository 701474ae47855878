//! Money: integer cents of BRL, never floating point.

use serde::{Deserialize, Serialize};

/// An amount in cents. Arithmetic is checked: an overflow is an error, not a wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Money(i64);

impl Money {
    pub const fn cents(cents: i64) -> Self {
        Self(cents)
    }

    pub const fn as_cents(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_mul(self, factor: i64) -> Option<Money> {
        self.0.checked_mul(factor).map(Money)
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "R$ {},{:02}", self.0 / 100, (self.0 % 100).abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_shows_as_reais_and_overflows_are_errors() {
        assert_eq!(Money::cents(2490).to_string(), "R$ 24,90");
        assert_eq!(Money::cents(i64::MAX).checked_add(Money::cents(1)), None);
        assert_eq!(Money::cents(1990).checked_mul(3), Some(Money::cents(5970)));
    }
}
