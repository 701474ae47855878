//! Text that people type and other people read: names, order notes, product
//! descriptions.
//!
//! It is stored in Unicode NFC, so one name has one spelling ("João" typed
//! with a combining tilde is the same "João"), and refused when it holds a
//! control character (general category Cc: NUL, ESC, newlines...) or a
//! format character (Cf: bidi overrides such as U+202E that reorder what a
//! screen shows, zero-width spaces and joiners that make two names look
//! alike, the BOM).

use unicode_general_category::{GeneralCategory, get_general_category};
use unicode_normalization::UnicodeNormalization;

/// Why a text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextError {
    /// Empty after trimming, or longer than allowed (in characters, after NFC).
    Length,
    /// A control or format character.
    Invisible,
}

/// `input` trimmed and in NFC, if it has `1..=max_chars` characters and no
/// control or format character.
pub fn clean(input: &str, max_chars: usize) -> Result<String, TextError> {
    // Longer input cannot become short enough: refuse it before normalising.
    if input.len() > max_chars.saturating_mul(4).saturating_add(64) {
        return Err(TextError::Length);
    }
    let text: String = input.trim().nfc().collect();
    if text.chars().any(is_invisible) {
        return Err(TextError::Invisible);
    }
    let count = text.chars().count();
    if count == 0 || count > max_chars {
        return Err(TextError::Length);
    }
    Ok(text)
}

/// General category Cc or Cf.
pub fn is_invisible(c: char) -> bool {
    matches!(
        get_general_category(c),
        GeneralCategory::Control | GeneralCategory::Format
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_composed() {
        // "Joa" + U+0303 COMBINING TILDE + "o": the same name as "João".
        assert_eq!(clean("  Joa\u{303}o ", 10).unwrap(), "João");
        assert_eq!(clean("João", 10).unwrap(), "João");
        assert_eq!(
            clean("sem cebola, por favor", 140).unwrap(),
            "sem cebola, por favor"
        );
    }

    #[test]
    fn control_and_format_characters_are_refused() {
        for bad in [
            "Ana\u{0}",
            "Ana\nMaria",
            "Ana\u{1b}[31m",
            "Ana\u{202e}airaM", // right-to-left override
            "An\u{200b}a",      // zero-width space
            "An\u{200d}a",      // zero-width joiner
            "\u{feff}Ana",      // byte order mark
            "Ana\u{2066}",      // left-to-right isolate
            "Ana\u{ad}",        // soft hyphen
        ] {
            assert_eq!(clean(bad, 100), Err(TextError::Invisible), "{bad:?}");
        }
    }

    #[test]
    fn lengths_count_characters_after_composition() {
        assert_eq!(clean("   ", 10), Err(TextError::Length));
        assert_eq!(clean(&"á".repeat(10), 10).unwrap().chars().count(), 10);
        // Ten decomposed "á" are twenty code points but ten characters in NFC.
        assert!(clean(&"a\u{301}".repeat(10), 10).is_ok());
        assert_eq!(clean(&"á".repeat(11), 10), Err(TextError::Length));
        assert_eq!(clean(&"a".repeat(100_000), 10), Err(TextError::Length));
    }
}
