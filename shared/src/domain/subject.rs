//! Who a token speaks for and who owns an order: a [`Subject`].
//!
//! Written as text in tokens (`sub`) and in orders (`customer_id`):
//! `guest:<uuid>`, `kiosk:<kiosk id>`, `erased:<uuid>` (an order whose owner
//! was erased, LGPD), or a bare directory id (a customer's, or a staff
//! member's: only the token's role tells those two apart, see
//! [`Subject::of`]).

use crate::domain::ids::{CustomerId, KioskId};
use crate::domain::role::Role;
use std::fmt;
use std::str::FromStr;

const GUEST: &str = "guest:";
const KIOSK: &str = "kiosk:";
const ERASED: &str = "erased:";

#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Subject {
    /// An anonymous kiosk session: every guest sign-in is its own subject,
    /// so guests never share orders.
    Guest(String),
    /// A customer identified by CPF (never the CPF itself).
    Customer(CustomerId),
    /// An enrolled kiosk device.
    Kiosk(KioskId),
    /// A staff member (the directory's id of the user).
    Staff(String),
    /// The opaque owner an erased customer's orders get: it links them to
    /// nobody.
    Erased(String),
}

impl Subject {
    /// A new guest session's subject.
    pub fn new_guest() -> Self {
        Subject::Guest(uuid::Uuid::new_v4().to_string())
    }

    /// A new owner for the orders of an erased customer.
    pub fn new_erased() -> Self {
        Subject::Erased(uuid::Uuid::new_v4().to_string())
    }

    /// The subject of a token's `sub` in `role`; `None` when they do not fit
    /// together (a guest token whose `sub` is not a guest's, say).
    pub fn of(role: Role, sub: &str) -> Option<Self> {
        let subject = match role {
            Role::Kitchen | Role::Manager | Role::Admin => Subject::Staff(non_empty(sub)?),
            _ => sub.parse().ok()?,
        };
        let fits = matches!(
            (role, &subject),
            (Role::Guest, Subject::Guest(_))
                | (Role::Customer, Subject::Customer(_))
                | (Role::Kiosk, Subject::Kiosk(_))
                | (
                    Role::Kitchen | Role::Manager | Role::Admin,
                    Subject::Staff(_)
                )
        );
        fits.then_some(subject)
    }

    /// The customer's id, if this is a customer.
    pub fn customer_id(&self) -> Option<&CustomerId> {
        match self {
            Subject::Customer(id) => Some(id),
            _ => None,
        }
    }
}

fn non_empty(raw: &str) -> Option<String> {
    (!raw.is_empty() && raw.len() <= crate::domain::ids::MAX_ID_BYTES).then(|| raw.to_owned())
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Guest(id) => write!(f, "{GUEST}{id}"),
            Subject::Customer(id) => write!(f, "{id}"),
            Subject::Kiosk(id) => write!(f, "{KIOSK}{id}"),
            Subject::Staff(id) => f.write_str(id),
            Subject::Erased(id) => write!(f, "{ERASED}{id}"),
        }
    }
}

/// Not a subject: empty, too long, or a prefix with nothing valid after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a subject")]
pub struct InvalidSubject;

/// Reads the text form of an order's owner or a non-staff token's `sub`
/// (a bare id is a customer's).
impl FromStr for Subject {
    type Err = InvalidSubject;

    fn from_str(s: &str) -> Result<Self, InvalidSubject> {
        if let Some(id) = s.strip_prefix(GUEST) {
            non_empty(id).map(Subject::Guest).ok_or(InvalidSubject)
        } else if let Some(id) = s.strip_prefix(KIOSK) {
            KioskId::parse(id).map(Subject::Kiosk).ok_or(InvalidSubject)
        } else if let Some(id) = s.strip_prefix(ERASED) {
            non_empty(id).map(Subject::Erased).ok_or(InvalidSubject)
        } else {
            CustomerId::parse(s)
                .map(Subject::Customer)
                .ok_or(InvalidSubject)
        }
    }
}

impl TryFrom<String> for Subject {
    type Error = InvalidSubject;
    fn try_from(raw: String) -> Result<Self, InvalidSubject> {
        raw.parse()
    }
}

impl From<Subject> for String {
    fn from(subject: Subject) -> String {
        subject.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_round_trip_through_their_text() {
        let kiosk = KioskId::parse("6f1c2b9e-8d0a-4b5e-9a77-0c3d2e1f4a5b").unwrap();
        for subject in [
            Subject::new_guest(),
            Subject::Customer(CustomerId::parse("0a1b2c3d-cognito-sub").unwrap()),
            Subject::Kiosk(kiosk),
            Subject::new_erased(),
        ] {
            let text = subject.to_string();
            assert_eq!(text.parse::<Subject>(), Ok(subject), "{text}");
        }
        assert!(Subject::new_guest().to_string().starts_with("guest:"));
        assert!(Subject::new_erased().to_string().starts_with("erased:"));
    }

    #[test]
    fn a_token_subject_must_fit_its_role() {
        assert!(matches!(
            Subject::of(Role::Guest, "guest:1"),
            Some(Subject::Guest(_))
        ));
        assert!(Subject::of(Role::Guest, "0a1b2c3d").is_none());
        assert!(Subject::of(Role::Customer, "guest:1").is_none());
        assert!(Subject::of(Role::Kiosk, "kiosk:not a kiosk id").is_none());
        assert!(matches!(
            Subject::of(Role::Admin, "0a1b2c3d"),
            Some(Subject::Staff(_))
        ));
        for bad in ["", "guest:", "erased:"] {
            assert!(bad.parse::<Subject>().is_err(), "{bad:?}");
        }
    }
}
