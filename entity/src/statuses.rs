//! Statuses and intervals as types. Stored as the same lower-case strings as before (Stripe's
//! own words), so no data migration: a typo no longer compiles, and a value in the database that
//! is none of these is a decoding error you can see, not a silent default.
use sea_orm::entity::prelude::*;

/// A payment's lifecycle: Stripe's PaymentIntent statuses folded into what a shopper sees, plus
/// the refund states Tollgate derives from its refunds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum PaymentStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "processing")]
    Processing,
    #[sea_orm(string_value = "requires_action")]
    RequiresAction,
    #[sea_orm(string_value = "succeeded")]
    Succeeded,
    #[sea_orm(string_value = "failed")]
    Failed,
    #[sea_orm(string_value = "canceled")]
    Canceled,
    #[sea_orm(string_value = "partially_refunded")]
    PartiallyRefunded,
    #[sea_orm(string_value = "refunded")]
    Refunded,
}

impl PaymentStatus {
    /// Money was captured: refunds may move between these three.
    pub const CAPTURED: [PaymentStatus; 3] = [
        PaymentStatus::Succeeded,
        PaymentStatus::PartiallyRefunded,
        PaymentStatus::Refunded,
    ];

    pub fn is_captured(self) -> bool {
        Self::CAPTURED.contains(&self)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum RefundStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "succeeded")]
    Succeeded,
    #[sea_orm(string_value = "failed")]
    Failed,
    #[sea_orm(string_value = "canceled")]
    Canceled,
    #[sea_orm(string_value = "requires_action")]
    RequiresAction,
}

/// Stripe's subscription statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum SubscriptionStatus {
    #[sea_orm(string_value = "incomplete")]
    Incomplete,
    #[sea_orm(string_value = "incomplete_expired")]
    IncompleteExpired,
    #[sea_orm(string_value = "trialing")]
    Trialing,
    #[sea_orm(string_value = "active")]
    Active,
    #[sea_orm(string_value = "past_due")]
    PastDue,
    #[sea_orm(string_value = "canceled")]
    Canceled,
    #[sea_orm(string_value = "unpaid")]
    Unpaid,
    #[sea_orm(string_value = "paused")]
    Paused,
}

impl SubscriptionStatus {
    /// Statuses that grant access.
    pub const ACTIVE: [SubscriptionStatus; 2] =
        [SubscriptionStatus::Active, SubscriptionStatus::Trialing];

    pub fn grants_access(self) -> bool {
        Self::ACTIVE.contains(&self)
    }

    /// Stripe's spelling; `None` for a status Tollgate does not know (a newer API).
    pub fn from_stripe(s: &str) -> Option<Self> {
        use sea_orm::ActiveEnum;
        Self::try_from_value(&s.to_string()).ok()
    }
}

/// Where a webhook event is in the worker's hands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum WebhookEventStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "processed")]
    Processed,
    #[sea_orm(string_value = "ignored")]
    Ignored,
    #[sea_orm(string_value = "failed")]
    Failed,
}

/// Stripe's invoice statuses (https://docs.stripe.com/invoicing/overview#invoice-statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum InvoiceStatus {
    #[sea_orm(string_value = "draft")]
    Draft,
    #[sea_orm(string_value = "open")]
    Open,
    #[sea_orm(string_value = "paid")]
    Paid,
    #[sea_orm(string_value = "uncollectible")]
    Uncollectible,
    #[sea_orm(string_value = "void")]
    Void,
}

impl InvoiceStatus {
    /// Final: a stale snapshot never walks a paid or voided invoice back.
    pub fn is_final(self) -> bool {
        matches!(self, InvoiceStatus::Paid | InvoiceStatus::Void)
    }

    /// Stripe's spelling; `None` for a status Tollgate does not know.
    pub fn from_stripe(s: &str) -> Option<Self> {
        use sea_orm::ActiveEnum;
        Self::try_from_value(&s.to_string()).ok()
    }
}

/// Stripe's dispute statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum DisputeStatus {
    #[sea_orm(string_value = "warning_needs_response")]
    WarningNeedsResponse,
    #[sea_orm(string_value = "warning_under_review")]
    WarningUnderReview,
    #[sea_orm(string_value = "warning_closed")]
    WarningClosed,
    #[sea_orm(string_value = "needs_response")]
    NeedsResponse,
    #[sea_orm(string_value = "under_review")]
    UnderReview,
    #[sea_orm(string_value = "won")]
    Won,
    #[sea_orm(string_value = "lost")]
    Lost,
    #[sea_orm(string_value = "prevented")]
    Prevented,
}

impl DisputeStatus {
    /// Outcomes: a stale event never walks them back.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            DisputeStatus::Won
                | DisputeStatus::Lost
                | DisputeStatus::WarningClosed
                | DisputeStatus::Prevented
        )
    }

    /// Stripe's spelling; `None` for a status Tollgate does not know.
    pub fn from_stripe(s: &str) -> Option<Self> {
        use sea_orm::ActiveEnum;
        Self::try_from_value(&s.to_string()).ok()
    }
}

impl DisputeStatus {
    /// The stored (and Stripe) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DisputeStatus::WarningNeedsResponse => "warning_needs_response",
            DisputeStatus::WarningUnderReview => "warning_under_review",
            DisputeStatus::WarningClosed => "warning_closed",
            DisputeStatus::NeedsResponse => "needs_response",
            DisputeStatus::UnderReview => "under_review",
            DisputeStatus::Won => "won",
            DisputeStatus::Lost => "lost",
            DisputeStatus::Prevented => "prevented",
        }
    }
}

/// How often a recurring price charges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum PriceInterval {
    #[sea_orm(string_value = "day")]
    Day,
    #[sea_orm(string_value = "week")]
    Week,
    #[sea_orm(string_value = "month")]
    Month,
    #[sea_orm(string_value = "year")]
    Year,
}

impl PaymentStatus {
    /// The stored (and Stripe) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Processing => "processing",
            PaymentStatus::RequiresAction => "requires_action",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Canceled => "canceled",
            PaymentStatus::PartiallyRefunded => "partially_refunded",
            PaymentStatus::Refunded => "refunded",
        }
    }
}

impl RefundStatus {
    /// The stored (and Stripe) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
            RefundStatus::Canceled => "canceled",
            RefundStatus::RequiresAction => "requires_action",
        }
    }
}

impl SubscriptionStatus {
    /// The stored (and Stripe) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Incomplete => "incomplete",
            SubscriptionStatus::IncompleteExpired => "incomplete_expired",
            SubscriptionStatus::Trialing => "trialing",
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::PastDue => "past_due",
            SubscriptionStatus::Canceled => "canceled",
            SubscriptionStatus::Unpaid => "unpaid",
            SubscriptionStatus::Paused => "paused",
        }
    }
}

impl WebhookEventStatus {
    /// The stored (and Stripe) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEventStatus::Pending => "pending",
            WebhookEventStatus::Processed => "processed",
            WebhookEventStatus::Ignored => "ignored",
            WebhookEventStatus::Failed => "failed",
        }
    }
}

impl PriceInterval {
    /// The stored (and Stripe) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PriceInterval::Day => "day",
            PriceInterval::Week => "week",
            PriceInterval::Month => "month",
            PriceInterval::Year => "year",
        }
    }
}

/// Each status prints as it is stored.
macro_rules! display_as_stored {
    ($($t:ty),+) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )+};
}

display_as_stored!(
    PaymentStatus,
    RefundStatus,
    SubscriptionStatus,
    WebhookEventStatus,
    PriceInterval,
    DisputeStatus
);

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ActiveEnum, Iterable};

    #[test]
    fn stored_strings_are_unchanged_and_unknown_ones_are_errors() {
        for s in PaymentStatus::iter() {
            assert_eq!(s.to_value(), s.as_str());
            assert_eq!(PaymentStatus::try_from_value(&s.to_value()).ok(), Some(s));
        }
        assert!(PaymentStatus::try_from_value(&"paid".to_string()).is_err());
        assert_eq!(
            SubscriptionStatus::from_stripe("past_due"),
            Some(SubscriptionStatus::PastDue)
        );
        assert_eq!(SubscriptionStatus::from_stripe("trialling"), None);
        assert_eq!(PriceInterval::Month.to_value(), "month");
        assert_eq!(WebhookEventStatus::Processed.to_value(), "processed");
        assert_eq!(RefundStatus::RequiresAction.to_value(), "requires_action");
    }
}
