//! The Brazilian taxpayer id (CPF), the kiosk customer's identity.

use std::fmt;

/// A valid CPF: 11 digits whose two check digits verify, not all the same digit.
///
/// Accepted input is exactly `52998224725` or exactly `529.982.247-25`; anything
/// else is refused. `Debug` and `Display` are masked (`***.982.247-**`) so that a
/// CPF cannot reach a log line by accident; [`Cpf::digits`] is the only way to the
/// full value, for storage and comparison.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Cpf(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CpfError {
    #[error("a CPF is 11 digits, or formatted as ddd.ddd.ddd-dd")]
    Format,
    #[error("the CPF's check digits do not match")]
    CheckDigits,
    #[error("a CPF of one repeated digit is not valid")]
    RepeatedDigits,
}

impl Cpf {
    pub fn parse(input: &str) -> Result<Self, CpfError> {
        let digits = normalise(input).ok_or(CpfError::Format)?;
        if digits.iter().all(|d| *d == digits[0]) {
            return Err(CpfError::RepeatedDigits);
        }
        if check_digit(&digits[..9]) != digits[9] || check_digit(&digits[..10]) != digits[10] {
            return Err(CpfError::CheckDigits);
        }
        Ok(Self(digits.iter().map(|d| char::from(b'0' + d)).collect()))
    }

    /// The 11 digits, as stored and compared.
    pub fn digits(&self) -> &str {
        &self.0
    }

    /// The masked form that may be shown or logged: `***.982.247-**`.
    pub fn masked(&self) -> String {
        mask_digits(&self.0)
    }
}

/// The valid CPF (11 digits) that starts with these 9 digits: its check
/// digits computed. `None` unless given exactly 9 ASCII digits.
pub fn complete(nine_digits: &str) -> Option<String> {
    let bytes = nine_digits.as_bytes();
    if bytes.len() != 9 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut digits: Vec<u8> = bytes.iter().map(|b| b - b'0').collect();
    digits.push(check_digit(&digits));
    digits.push(check_digit(&digits));
    Some(digits.iter().map(|d| char::from(b'0' + d)).collect())
}

/// Masks an 11-digit CPF string (as stored); anything else masks completely.
pub fn mask_digits(digits: &str) -> String {
    match (digits.len(), digits.get(3..6), digits.get(6..9)) {
        (11, Some(middle), Some(last)) if digits.bytes().all(|b| b.is_ascii_digit()) => {
            format!("***.{middle}.{last}-**")
        }
        _ => "***.***.***-**".to_owned(),
    }
}

/// The 11 digits of a CPF written as plain digits or as `ddd.ddd.ddd-dd`.
fn normalise(input: &str) -> Option<[u8; 11]> {
    let bytes = input.as_bytes();
    let digit_positions: &[usize] = match bytes.len() {
        11 => &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        14 if bytes[3] == b'.' && bytes[7] == b'.' && bytes[11] == b'-' => {
            &[0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13]
        }
        _ => return None,
    };
    let mut digits = [0u8; 11];
    for (slot, &position) in digits.iter_mut().zip(digit_positions) {
        let byte = bytes[position];
        if !byte.is_ascii_digit() {
            return None;
        }
        *slot = byte - b'0';
    }
    Some(digits)
}

/// Mod-11 check digit over `digits`, weights descending from `len + 1` to 2.
fn check_digit(digits: &[u8]) -> u8 {
    let weight_start = digits.len() as u32 + 1;
    let sum: u32 = digits
        .iter()
        .zip((2..=weight_start).rev())
        .map(|(d, w)| u32::from(*d) * w)
        .sum();
    match sum % 11 {
        r if r < 2 => 0,
        r => (11 - r) as u8,
    }
}

impl fmt::Debug for Cpf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cpf({})", self.masked())
    }
}

impl fmt::Display for Cpf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl TryFrom<String> for Cpf {
    type Error = CpfError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_valid_examples_of_the_contract_parse() {
        for input in [
            "529.982.247-25",
            "111.444.777-35",
            "123.456.789-09",
            "04024279041",
            "52998224725",
        ] {
            assert!(Cpf::parse(input).is_ok(), "{input} should be valid");
        }
    }

    #[test]
    fn the_invalid_examples_of_the_contract_are_refused_for_the_right_reason() {
        assert_eq!(Cpf::parse("385.211.390-49"), Err(CpfError::CheckDigits));
        assert_eq!(Cpf::parse("123.456.789-00"), Err(CpfError::CheckDigits));
        assert_eq!(Cpf::parse("111.111.111-11"), Err(CpfError::RepeatedDigits));
        assert_eq!(Cpf::parse("12345678901"), Err(CpfError::CheckDigits));
    }

    #[test]
    fn every_repeated_digit_cpf_is_refused_although_its_checksum_holds() {
        for d in 0..=9u8 {
            let s: String = std::iter::repeat_n(char::from(b'0' + d), 11).collect();
            assert_eq!(Cpf::parse(&s), Err(CpfError::RepeatedDigits), "{s}");
        }
    }

    #[test]
    fn formats_other_than_the_two_accepted_ones_are_refused() {
        for input in [
            "",
            "5299822472",
            "529982247250",
            "529.982.247.25",
            "529-982-247-25",
            "529.982247-25",
            " 52998224725",
            "52998224725 ",
            "529 982 247 25",
            "5299822472a",
            "529.982.247-2５",
            "٥٢٩٩٨٢٢٤٧٢٥",
            "+52998224725",
        ] {
            assert_eq!(Cpf::parse(input), Err(CpfError::Format), "{input:?}");
        }
    }

    #[test]
    fn both_accepted_formats_store_the_same_eleven_digits() {
        let plain = Cpf::parse("52998224725").unwrap();
        let formatted = Cpf::parse("529.982.247-25").unwrap();
        assert_eq!(plain, formatted);
        assert_eq!(formatted.digits(), "52998224725");
    }

    #[test]
    fn completing_nine_digits_gives_a_valid_cpf() {
        assert_eq!(complete("529982247").as_deref(), Some("52998224725"));
        assert_eq!(complete("000000001").as_deref(), Some("00000000191"));
        assert_eq!(complete("12345678"), None);
        assert_eq!(complete("12345678a"), None);
    }

    #[test]
    fn debug_and_display_never_show_the_full_cpf() {
        let cpf = Cpf::parse("529.982.247-25").unwrap();
        assert_eq!(cpf.to_string(), "***.982.247-**");
        assert_eq!(format!("{cpf:?}"), "Cpf(***.982.247-**)");
        assert_eq!(mask_digits("garbage"), "***.***.***-**");
    }

    fn with_check_digits(base: [u8; 9]) -> [u8; 11] {
        let mut digits = [0u8; 11];
        digits[..9].copy_from_slice(&base);
        digits[9] = check_digit(&digits[..9]);
        digits[10] = check_digit(&digits[..10]);
        digits
    }

    fn render(digits: &[u8]) -> String {
        digits.iter().map(|d| char::from(b'0' + d)).collect()
    }

    proptest! {
        #[test]
        fn any_nine_digits_with_computed_check_digits_parse_in_both_formats(
            base in proptest::array::uniform9(0u8..10)
        ) {
            let digits = with_check_digits(base);
            prop_assume!(digits.iter().any(|d| *d != digits[0]));
            let plain = render(&digits);
            let formatted = format!("{}.{}.{}-{}", &plain[..3], &plain[3..6], &plain[6..9], &plain[9..]);
            prop_assert_eq!(Cpf::parse(&plain).unwrap().digits().to_owned(), plain.clone());
            prop_assert_eq!(Cpf::parse(&formatted).unwrap().digits().to_owned(), plain);
        }

        #[test]
        fn changing_either_check_digit_makes_a_valid_cpf_invalid(
            base in proptest::array::uniform9(0u8..10), position in 9usize..11, delta in 1u8..10
        ) {
            let mut digits = with_check_digits(base);
            prop_assume!(digits.iter().any(|d| *d != digits[0]));
            digits[position] = (digits[position] + delta) % 10;
            prop_assert!(Cpf::parse(&render(&digits)).is_err());
        }

        #[test]
        fn parsing_never_panics_on_arbitrary_input(input in ".{0,20}") {
            let _ = Cpf::parse(&input);
        }
    }
}
