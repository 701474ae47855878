//! The statuses and status details of the stand-in's orders and payments,
//! spelled as Mercado Pago spells them: each value written here once.

use std::fmt;

/// The status of an order, and of its payment (the two take the same
/// values). A notification's action is `order.<status>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    /// Waiting for the customer.
    Created,
    /// Paid.
    Processed,
    /// The payment was refused.
    Failed,
    Canceled,
    Expired,
    Refunded,
}

impl Status {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Processed => "processed",
            Status::Failed => "failed",
            Status::Canceled => "canceled",
            Status::Expired => "expired",
            Status::Refunded => "refunded",
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
    /// An order waiting for the customer.
    Created,
    /// A payment waiting for the customer.
    ReadyToProcess,
    /// Paid.
    Accredited,
    /// An order whose payment was refused.
    Failed,
    /// A payment the card's issuer refused.
    RejectedByIssuer,
    Canceled,
    Expired,
    Refunded,
}

impl Detail {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Detail::Created => "created",
            Detail::ReadyToProcess => "ready_to_process",
            Detail::Accredited => "accredited",
            Detail::Failed => "failed",
            Detail::RejectedByIssuer => "rejected_by_issuer",
            Detail::Canceled => "canceled",
            Detail::Expired => "expired",
            Detail::Refunded => "refunded",
        }
    }
}
