//! A customer as the directory holds them, and as the API shows them.

use crate::domain::cpf::Cpf;
use crate::domain::email::{Email, mask};
use crate::domain::ids::CustomerId;
use crate::domain::person::PersonName;
use serde::Serialize;
use time::OffsetDateTime;

/// A signup, every field parsed: what the directory creates a customer from.
#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub cpf: Cpf,
    pub name: PersonName,
    pub email: Email,
    /// Whether they agreed to marketing e-mail (recorded with its time).
    pub marketing_opt_in: bool,
}

/// A correction of one's own record (`PATCH /customers/me`), every field
/// parsed; `None` leaves the field as it is. A new e-mail is unverified.
#[derive(Debug, Clone, Default)]
pub struct CustomerChanges {
    pub name: Option<PersonName>,
    pub email: Option<Email>,
    pub marketing_opt_in: Option<bool>,
}

/// A customer: the directory's record. The CPF is kept as its digits and
/// never shown whole ([`CustomerView`] masks it; `Debug` leaves it out).
#[derive(Clone)]
pub struct Customer {
    /// The directory's `sub`: the customer's id in tokens and orders.
    pub id: CustomerId,
    cpf_digits: String,
    pub name: String,
    pub email: String,
    pub enabled: bool,
    /// The customer confirmed a code mailed to `email`.
    pub email_verified: bool,
    pub marketing_opt_in: bool,
    /// When the directory created the record.
    pub created_at: Option<OffsetDateTime>,
}

impl Customer {
    pub fn new(
        id: CustomerId,
        cpf_digits: impl Into<String>,
        name: impl Into<String>,
        email: impl Into<String>,
        enabled: bool,
    ) -> Self {
        Self {
            id,
            cpf_digits: cpf_digits.into(),
            name: name.into(),
            email: email.into(),
            enabled,
            email_verified: false,
            marketing_opt_in: false,
            created_at: None,
        }
    }

    /// The CPF's 11 digits: the directory's key, for the adapter alone.
    pub fn cpf_digits(&self) -> &str {
        &self.cpf_digits
    }

    /// The first name, for the kiosk's greeting.
    pub fn first_name(&self) -> &str {
        self.name.split_whitespace().next().unwrap_or_default()
    }
}

impl std::fmt::Debug for Customer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Customer")
            .field("id", &self.id)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// A customer as the admin's list shows it, for campaigns: the CPF masked,
/// the e-mail in full only when the customer opted in to marketing and
/// proved the address is theirs.
#[derive(Debug, Serialize)]
pub struct CustomerView {
    pub id: CustomerId,
    pub cpf: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub marketing_opt_in: bool,
}

impl From<&Customer> for CustomerView {
    fn from(c: &Customer) -> Self {
        let reachable = c.marketing_opt_in && c.email_verified;
        Self {
            id: c.id.clone(),
            cpf: crate::domain::cpf::mask_digits(&c.cpf_digits),
            name: c.name.clone(),
            email: if reachable {
                c.email.clone()
            } else {
                mask(&c.email)
            },
            email_verified: c.email_verified,
            marketing_opt_in: c.marketing_opt_in,
        }
    }
}

/// What a session that only typed a CPF may see of the person (and what a
/// kiosk sees after a signup): the first name, e-mail and CPF masked.
#[derive(Debug, Serialize)]
pub struct CustomerSummary {
    pub id: CustomerId,
    pub first_name: String,
    pub email: String,
    pub cpf: String,
    pub email_verified: bool,
    pub verified_session: bool,
}

impl From<&Customer> for CustomerSummary {
    fn from(c: &Customer) -> Self {
        Self {
            id: c.id.clone(),
            first_name: c.first_name().to_owned(),
            email: mask(&c.email),
            cpf: crate::domain::cpf::mask_digits(&c.cpf_digits),
            email_verified: c.email_verified,
            verified_session: false,
        }
    }
}

/// The whole record, for a session that proved it holds the e-mail: the
/// CPF still masked (it is never shown whole).
#[derive(Debug, Serialize)]
pub struct CustomerRecord {
    pub id: CustomerId,
    pub name: String,
    pub email: String,
    pub cpf: String,
    pub marketing_opt_in: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub created_at: Option<OffsetDateTime>,
    pub email_verified: bool,
    pub verified_session: bool,
}

impl From<&Customer> for CustomerRecord {
    fn from(c: &Customer) -> Self {
        Self {
            id: c.id.clone(),
            name: c.name.clone(),
            email: c.email.clone(),
            cpf: crate::domain::cpf::mask_digits(&c.cpf_digits),
            marketing_opt_in: c.marketing_opt_in,
            created_at: c.created_at,
            email_verified: c.email_verified,
            verified_session: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neither_the_view_nor_debug_shows_the_whole_cpf() {
        let customer = Customer::new(
            CustomerId::parse("0a1b2c3d").unwrap(),
            "52998224725",
            "Ana Maria",
            "ana@example.com",
            true,
        );
        assert_eq!(CustomerView::from(&customer).cpf, "***.982.247-**");
        assert!(!format!("{customer:?}").contains("52998224725"));
        assert_eq!(customer.first_name(), "Ana");
    }

    fn ana() -> Customer {
        Customer::new(
            CustomerId::parse("0a1b2c3d").unwrap(),
            "52998224725",
            "Ana Maria Souza",
            "ana.souza@example.com",
            true,
        )
    }

    #[test]
    fn a_cpf_only_session_sees_the_first_name_and_masks() {
        let summary = serde_json::to_value(CustomerSummary::from(&ana())).unwrap();
        assert_eq!(
            summary,
            serde_json::json!({
                "id": "0a1b2c3d", "first_name": "Ana", "email": "a***@example.com",
                "cpf": "***.982.247-**", "email_verified": false, "verified_session": false,
            })
        );
    }

    #[test]
    fn a_verified_session_sees_the_whole_record_but_the_cpf() {
        let mut customer = ana();
        customer.email_verified = true;
        customer.created_at = Some(
            OffsetDateTime::parse(
                "2026-12-01T10:00:00Z",
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap(),
        );
        let record = serde_json::to_value(CustomerRecord::from(&customer)).unwrap();
        assert_eq!(
            (&record["name"], &record["email"], &record["cpf"]),
            (
                &serde_json::json!("Ana Maria Souza"),
                &serde_json::json!("ana.souza@example.com"),
                &serde_json::json!("***.982.247-**")
            )
        );
        assert_eq!(record["created_at"], "2026-12-01T10:00:00Z");
        assert_eq!(record["verified_session"], true);
    }

    #[test]
    fn the_admin_sees_an_address_only_of_who_opted_in_and_verified_it() {
        let mut customer = ana();
        for (opted_in, verified, shown) in [
            (false, false, "a***@example.com"),
            (true, false, "a***@example.com"),
            (false, true, "a***@example.com"),
            (true, true, "ana.souza@example.com"),
        ] {
            customer.marketing_opt_in = opted_in;
            customer.email_verified = verified;
            assert_eq!(CustomerView::from(&customer).email, shown);
        }
    }
}
