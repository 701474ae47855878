//! LGPD (art. 18): a customer who proved their e-mail sees and erases their
//! data; an admin erases on request. Erased: the CPF is free again, and past orders keep items and
//! totals but nothing links them to the person.

use crate::helpers::{Customer, open_shop};
use reqwest::Method;
use serde_json::Value;
use shared::domain::order::Order;

#[tokio::test]
async fn a_verified_customer_reads_and_erases_their_data_and_the_cpf_is_free_again() {
    let shop = open_shop().await;
    let (signed_up, address) = shop
        .signed_up_at("529.982.247-25", "Ana Souza", "ana")
        .await;
    let customer = shop.customer_token("52998224725").await;
    let sub = shop.claims_of(&customer).await.sub;
    assert_eq!(sub, signed_up.id);
    // The CPF opens a session that orders; reading or erasing takes the code.
    let verified = shop.verified(&customer, &address).await;
    assert_eq!(shop.claims_of(&verified).await.sub, sub);
    let me: Value = shop.get_as("/customers/me", &verified).await.expect(200);
    assert_eq!(
        (me["cpf"].as_str(), me["name"].as_str()),
        (Some("***.982.247-**"), Some("Ana Souza"))
    );
    shop.get_as("/customers/me", &shop.guest)
        .await
        .expect_error(403, "forbidden");
    let order = shop.place(&customer, shop.burgers(2)).await;
    let paid = shop.pay_approved(&order.id).await;

    let erase = shop.request(Method::DELETE, "/customers/me", Some(&customer));
    shop.send(erase)
        .await
        .expect_error(403, "verification_required");
    let erase = shop.request(Method::DELETE, "/customers/me", Some(&verified));
    assert_eq!(shop.send(erase).await.status, 204);

    // Gone from the directory: the record, the CPF sign-in.
    shop.get_as("/customers/me", &verified)
        .await
        .expect_error(404, "customer_not_found");
    shop.auth("529.982.247-25")
        .await
        .expect_error(404, "customer_not_found");
    // The order is kept for the books, linked to no one.
    let kept: Order = shop.get_order(&shop.admin, &order.id).await.expect(200);
    assert_eq!(
        (kept.items.clone(), kept.total_cents),
        (paid.items.clone(), paid.total_cents)
    );
    assert_ne!(kept.customer_id.to_string(), sub);
    assert!(
        matches!(kept.customer_id, shared::domain::Subject::Erased(_)),
        "{}",
        kept.customer_id
    );
    assert!(shop.my_orders(&customer).await.is_empty());
    shop.get_order(&customer, &order.id)
        .await
        .expect_error(404, "order_not_found");
    // The CPF is free for a new signup, a new customer.
    let again = shop.signed_up("529.982.247-25", "Ana Souza").await;
    assert_ne!(again.id, sub);
}

#[tokio::test]
async fn an_admin_erases_customers_and_nobody_else() {
    let shop = open_shop().await;
    let customer: Customer = shop.signed_up("111.444.777-35", "Bia Lima").await;
    let erase = |id: &str, token: &str| {
        shop.send(shop.request(Method::DELETE, &format!("/customers/{id}"), Some(token)))
    };
    erase(&customer.id, &shop.kitchen)
        .await
        .expect_error(403, "forbidden");
    erase(&customer.id, &shop.guest)
        .await
        .expect_error(403, "forbidden");
    assert_eq!(erase(&customer.id, &shop.admin).await.status, 204);
    erase(&customer.id, &shop.admin)
        .await
        .expect_error(404, "customer_not_found");
    shop.auth("111.444.777-35")
        .await
        .expect_error(404, "customer_not_found");
    // A staff member is no customer: never erased through this route.
    let admin_id = shop.claims_of(&shop.admin).await.sub;
    erase(&admin_id, &shop.admin)
        .await
        .expect_error(404, "customer_not_found");
    erase("not-an-id\"", &shop.admin)
        .await
        .expect_error(404, "customer_not_found");
    assert_eq!(shop.list_customers(&shop.admin, "").await.status, 200);
    assert!(
        shop.staff_sign_in("admin", crate::helpers::ADMIN_PASSWORD)
            .await
            .status
            == 200
    );
}
