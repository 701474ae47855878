//! The statuses and status details of the stand-in's orders and payments,
//! spelled as Mercado Pago spells them for QR orders ("Status of an order
//! and a transaction" of the QR Code docs): each value written here once.
//! A QR order has no `failed` state: a declined attempt leaves it `created`.

use std::fmt;

/// The status of an order, and of its payment (the two take the same
/// values). A notification's action is `order.<status>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    /// Waiting for the customer.
    Created,
    /// Paid.
    Processed,
    Canceled,
    Expired,
    Refunded,
}

impl Status {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Processed => "processed",
            Status::Canceled => "canceled",
            Status::Expired => "expired",
            Status::Refunded => "refunded",
        }
    }

    /// The `status_detail` of an order that enters this status, and of its
    /// payment.
    pub(super) fn details(self) -> (Detail, Detail) {
        match self {
            Status::Created => (Detail::Created, Detail::Created),
            Status::Processed => (Detail::Processed, Detail::Accredited),
            Status::Canceled => (Detail::Canceled, Detail::CanceledByApi),
            Status::Expired => (Detail::Expired, Detail::Expired),
            Status::Refunded => (Detail::Refunded, Detail::Refunded),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `status_detail` of an order or of its payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Detail {
    /// An order or a payment waiting for the customer.
    Created,
    /// A paid order.
    Processed,
    /// A paid payment.
    Accredited,
    /// A canceled order.
    Canceled,
    /// The payment of an order canceled through the API.
    CanceledByApi,
    Expired,
    Refunded,
}

impl Detail {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Detail::Created => "created",
            Detail::Processed => "processed",
            Detail::Accredited => "accredited",
            Detail::Canceled => "canceled",
            Detail::CanceledByApi => "canceled_by_api",
            Detail::Expired => "expired",
            Detail::Refunded => "refunded",
        }
    }
}
