//! Who is calling: carried in the token's `role` claim, enforced by the functions.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An enrolled kiosk device; subject `kiosk:<id>`. The customer sign-in
    /// routes are its alone.
    Kiosk,
    /// Anonymous kiosk customer; subject `guest:<uuid>`.
    Guest,
    /// Customer identified by CPF; subject is the Cognito user's `sub`.
    Customer,
    /// Staff of one store who move its orders through the kitchen and mark
    /// items sold out there.
    Kitchen,
    /// Staff of one store: all `kitchen` may, plus the store's kiosks, hours
    /// and pause, a paid order's cancel (refunded), and its staff's sessions.
    Manager,
    /// Staff of the chain: the menu, stores, kiosks, customers; may do all a
    /// `manager` may in every store.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Kiosk => "kiosk",
            Role::Guest => "guest",
            Role::Customer => "customer",
            Role::Kitchen => "kitchen",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    pub const ALL: [Role; 6] = [
        Role::Kiosk,
        Role::Guest,
        Role::Customer,
        Role::Kitchen,
        Role::Manager,
        Role::Admin,
    ];

    pub fn is_staff(self) -> bool {
        matches!(self, Role::Kitchen | Role::Manager | Role::Admin)
    }

    /// Whether the role belongs to one store (every role but `admin`): its
    /// tokens carry `store_id`, and another store's resources are 404 to it.
    pub fn is_store_bound(self) -> bool {
        self != Role::Admin
    }

    /// The staff role of a Cognito user from its groups (named as the
    /// roles): `admin` beats `manager`, which beats `kitchen`.
    pub fn from_staff_groups<'a>(groups: impl IntoIterator<Item = &'a str>) -> Option<Role> {
        groups
            .into_iter()
            .filter_map(|g| g.parse::<Role>().ok().filter(|r| r.is_staff()))
            .max_by_key(|r| match r {
                Role::Admin => 2,
                Role::Manager => 1,
                _ => 0,
            })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role")]
pub struct UnknownRole;

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or(UnknownRole)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_beats_kitchen_whatever_the_group_order() {
        assert_eq!(
            Role::from_staff_groups(["kitchen", "admin"]),
            Some(Role::Admin)
        );
        assert_eq!(
            Role::from_staff_groups(["admin", "kitchen"]),
            Some(Role::Admin)
        );
        assert_eq!(
            Role::from_staff_groups(["customers", "kitchen"]),
            Some(Role::Kitchen)
        );
        assert_eq!(Role::from_staff_groups(["customers"]), None);
        assert_eq!(
            Role::from_staff_groups(["kitchen", "manager"]),
            Some(Role::Manager)
        );
        assert_eq!(
            Role::from_staff_groups(["manager", "admin"]),
            Some(Role::Admin)
        );
        assert!(
            Role::ALL
                .iter()
                .all(|r| r.is_store_bound() != (*r == Role::Admin))
        );
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("Admin".parse::<Role>().is_err());
    }
}
