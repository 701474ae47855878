//! A customer's data rights (LGPD art. 18): erasure.

use crate::domain::Subject;
use crate::domain::ids::CustomerId;
use crate::service::ports::{CustomerDirectory, OrderOwners};
use crate::{Error, Result};

/// Erases customer `id`: their orders first get an opaque owner that is not
/// the customer's id (they keep items and totals for the books), then the
/// directory record goes, which frees the CPF. In that order, a failure
/// half-way leaves the record, so a retry finishes the job. Returns how many
/// orders were reassigned.
///
/// # Errors
/// `customer_not_found` (404) for no such customer; 503 when the directory
/// or the orders cannot be reached.
#[tracing::instrument(skip_all)]
pub async fn erase(
    directory: &impl CustomerDirectory,
    orders: &impl OrderOwners,
    id: &CustomerId,
) -> Result<usize> {
    let customer = directory
        .customer_by_id(id)
        .await?
        .ok_or_else(Error::customer_not_found)?;
    let moved = orders
        .reassign_owner(
            &Subject::Customer(customer.id.clone()),
            &Subject::new_erased(),
        )
        .await?;
    directory.delete_customer(&customer).await?;
    tracing::info!(orders = moved, "customer erased");
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::testing::{Directory, Memory, customer, unpaid};

    #[tokio::test]
    async fn erasure_keeps_the_orders_under_an_owner_that_names_nobody() {
        let ana = customer("0a1b2c3d");
        let directory = Directory::with(ana.clone());
        let mut stored = unpaid(false);
        stored.order.customer_id = Subject::Customer(ana.id.clone());
        let (orders, id) = (Memory::with(stored.clone()), stored.order.id.clone());
        orders.insert(unpaid(false));
        assert_eq!(erase(&directory, &orders, &ana.id).await.unwrap(), 1);
        let kept = orders.order(&id);
        assert!(matches!(kept.customer_id, Subject::Erased(_)), "{kept:?}");
        assert_eq!(kept.items, stored.order.items);
        assert!(directory.customer_by_id(&ana.id).await.unwrap().is_none());
        let again = erase(&directory, &orders, &ana.id).await;
        assert_eq!(again.unwrap_err().status_code(), 404);
    }
}
