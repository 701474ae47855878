//! A person's display name, as given at signup.

/// 1..=100 characters after trimming, in NFC, no control or format
/// characters ([`crate::domain::text`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a name has 1 to 100 characters and no control or invisible formatting characters")]
pub struct PersonNameError;

impl PersonName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(input: &str) -> Result<Self, PersonNameError> {
        crate::domain::text::clean(input, Self::MAX_CHARS)
            .map(Self)
            .map_err(|_| PersonNameError)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_keep_accents() {
        assert_eq!(
            PersonName::parse("  João da Silva ").unwrap().as_str(),
            "João da Silva"
        );
    }

    #[test]
    fn empty_overlong_and_control_character_names_are_refused() {
        assert!(PersonName::parse("   ").is_err());
        assert!(PersonName::parse(&"á".repeat(101)).is_err());
        assert!(PersonName::parse(&"á".repeat(100)).is_ok());
        assert!(PersonName::parse("Ana\u{0}").is_err());
        assert!(PersonName::parse("Ana\nMaria").is_err());
        assert!(PersonName::parse("Ana\u{202e}airaM").is_err());
        assert!(PersonName::parse("An\u{200b}a").is_err());
    }
}
