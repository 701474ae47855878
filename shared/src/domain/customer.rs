//! A customer as the directory holds them, and as the API shows them.

use crate::domain::cpf::Cpf;
use crate::domain::email::Email;
use crate::domain::ids::CustomerId;
use crate::domain::person::PersonName;
use serde::Serialize;

/// A signup, every field parsed: what the directory creates a customer from.
#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub cpf: Cpf,
    pub name: PersonName,
    pub email: Email,
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

/// A customer as the API shows it: the CPF masked.
#[derive(Debug, Serialize)]
pub struct CustomerView {
    pub id: CustomerId,
    pub cpf: String,
    pub name: String,
    pub email: String,
}

impl From<&Customer> for CustomerView {
    fn from(c: &Customer) -> Self {
        Self {
            id: c.id.clone(),
            cpf: crate::domain::cpf::mask_digits(&c.cpf_digits),
            name: c.name.clone(),
            email: c.email.clone(),
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
}
