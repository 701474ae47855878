//! E-mail address of a customer, kept for campaigns.

use std::fmt;

/// A syntactically plausible e-mail address: one `@`, a non-empty local part, a
/// dotted domain, no white space or control characters, at most 254 characters.
/// Deliverability is not checked (nothing is sent to it at signup).
#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an e-mail address looks like name@example.com")]
pub struct EmailError;

impl Email {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let value = input.trim();
        let (local, domain) = value.split_once('@').ok_or(EmailError)?;
        let labels_ok = domain
            .split('.')
            .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
        let ok = value.len() <= 254
            && !local.is_empty()
            && local.len() <= 64
            && domain.contains('.')
            && labels_ok
            && !domain.contains('@')
            && value.chars().all(|c| !c.is_whitespace() && !c.is_control());
        if ok {
            Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
        } else {
            Err(EmailError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An address as shown to someone who has not proved they own it: the first
/// character of the local part, `***`, and the domain (`a***@example.com`).
/// Anything without an `@` is all stars.
pub fn mask(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

impl fmt::Debug for Email {
    // The address is personal data: keep it out of debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_addresses_parse_and_the_domain_is_lowercased() {
        assert_eq!(
            Email::parse(" Ana@Example.COM ").unwrap().as_str(),
            "Ana@example.com"
        );
        assert!(Email::parse("joao.silva+kiosk@mail.com.br").is_ok());
    }

    #[test]
    fn a_masked_address_keeps_the_first_character_and_the_domain() {
        assert_eq!(mask("ana.souza@example.com"), "a***@example.com");
        assert_eq!(mask("é@exemplo.com.br"), "é***@exemplo.com.br");
        assert_eq!(mask("@example.com"), "***@example.com");
        assert_eq!(mask("no-at-sign"), "***");
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for input in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "ana@@example.com",
            "ana @example.com",
            "ana@exa mple.com",
            "ana@.com",
            "ana@example..com",
            "ana@-x.com",
        ] {
            assert_eq!(Email::parse(input), Err(EmailError), "{input:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError));
    }
}
