//! Tolerant readers for Stripe objects: only the fields Tollgate uses, every one optional unless
//! Stripe has always sent it, unknown fields ignored, unknown enum values kept as `Other`.
//!
//! The same reader serves API responses and webhook payloads, which arrive in the webhook
//! endpoint's API version rather than the SDK's, so one function applies a snapshot to the
//! database whichever way it came. Nothing here depends on fields only the emulator invents.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

mod discounts;
mod invoice_lines;

pub use discounts::{Coupon, Discount, DiscountAmount, PromotionCode};
pub use invoice_lines::InvoiceLine;

/// Declares a string enum that keeps values it does not know as `Other(String)`.
macro_rules! stripe_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $name {
            $($variant,)+
            Other(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(s) => s.as_str(),
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($text => $name::$variant,)+
                    other => $name::Other(other.to_string()),
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok($name::from(s.as_str()))
            }
        }
    };
}

/// A field Stripe sends as an id, or as the object when expanded.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Expandable<T> {
    Id(String),
    Object(Box<T>),
}

impl<T: HasId> Expandable<T> {
    pub fn id(&self) -> &str {
        match self {
            Expandable::Id(id) => id,
            Expandable::Object(o) => o.id(),
        }
    }

    pub fn object(&self) -> Option<&T> {
        match self {
            Expandable::Id(_) => None,
            Expandable::Object(o) => Some(o),
        }
    }
}

pub trait HasId {
    fn id(&self) -> &str;
}

macro_rules! has_id {
    ($($t:ty),+) => { $(impl HasId for $t { fn id(&self) -> &str { &self.id } })+ };
}

/// A page of a Stripe list.
#[derive(Debug, Clone, Deserialize)]
pub struct List<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub has_more: bool,
}

/// Seconds since the epoch, as Stripe sends timestamps.
pub fn timestamp(secs: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
}

pub type Metadata = BTreeMap<String, String>;

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, Deserialize)]
pub struct Customer {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub invoice_settings: Option<InvoiceSettings>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: Metadata,
    #[serde(default)]
    pub deleted: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvoiceSettings {
    #[serde(default)]
    pub default_payment_method: Option<Expandable<PaymentMethod>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Product {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub marketing_features: Vec<MarketingFeature>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: Metadata,
    #[serde(default)]
    pub deleted: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
pub struct MarketingFeature {
    #[serde(default)]
    pub name: Option<String>,
}

stripe_enum!(
    /// A recurring price's billing interval.
    Interval { Day = "day", Week = "week", Month = "month", Year = "year" }
);

#[derive(Debug, Clone, Deserialize)]
pub struct Recurring {
    pub interval: Interval,
    #[serde(default = "one")]
    pub interval_count: i64,
    /// Days of free trial the price offers (`trial_from_plan`); null when none. Read leniently:
    /// a value that is not an integer is kept as `Invalid` for the caller to log and ignore,
    /// rather than failing the whole price.
    #[serde(default, deserialize_with = "lenient_int")]
    pub trial_period_days: Option<LenientInt>,
}

/// A field Stripe documents as an integer, read without failing the object that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LenientInt {
    Int(i64),
    /// What came instead (its JSON text, at most 40 characters), for the log.
    Invalid(String),
}

fn lenient_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<LenientInt>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => None,
        serde_json::Value::Number(n) if n.as_i64().is_some() => n.as_i64().map(LenientInt::Int),
        other => Some(LenientInt::Invalid(
            other.to_string().chars().take(40).collect(),
        )),
    })
}

fn one() -> i64 {
    1
}

#[derive(Debug, Clone, Deserialize)]
pub struct Price {
    pub id: String,
    pub product: Expandable<Product>,
    pub currency: String,
    #[serde(default)]
    pub unit_amount: Option<i64>,
    #[serde(default)]
    pub recurring: Option<Recurring>,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub nickname: Option<String>,
    #[serde(default)]
    pub deleted: bool,
}

stripe_enum!(
    /// https://docs.stripe.com/payments/paymentintents/lifecycle
    PaymentIntentStatus {
        RequiresPaymentMethod = "requires_payment_method",
        RequiresConfirmation = "requires_confirmation",
        RequiresAction = "requires_action",
        Processing = "processing",
        RequiresCapture = "requires_capture",
        Canceled = "canceled",
        Succeeded = "succeeded",
    }
);

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub status: PaymentIntentStatus,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub customer: Option<Expandable<Customer>>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub payment_method: Option<Expandable<PaymentMethod>>,
    #[serde(default)]
    pub latest_charge: Option<Expandable<Charge>>,
    #[serde(default)]
    pub last_payment_error: Option<LastPaymentError>,
    #[serde(default)]
    pub next_action: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: Metadata,
    /// Older API versions put the invoice on the PaymentIntent.
    #[serde(default)]
    pub invoice: Option<Expandable<Invoice>>,
    #[serde(default)]
    pub created: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LastPaymentError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub decline_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Charge {
    pub id: String,
    #[serde(default)]
    pub amount: i64,
    #[serde(default)]
    pub amount_refunded: i64,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub payment_intent: Option<String>,
    #[serde(default)]
    pub customer: Option<Expandable<Customer>>,
    #[serde(default)]
    pub payment_method_details: Option<PaymentMethodDetails>,
    #[serde(default)]
    pub failure_code: Option<String>,
    #[serde(default)]
    pub failure_message: Option<String>,
    #[serde(default)]
    pub refunded: bool,
    #[serde(default)]
    pub disputed: bool,
    /// Stripe's receipt page for the charge, and the receipt's number once one was sent.
    #[serde(default)]
    pub receipt_url: Option<String>,
    #[serde(default)]
    pub receipt_number: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentMethodDetails {
    #[serde(default)]
    pub card: Option<CardSummary>,
}

/// The card fields Tollgate shows: never the number.
#[derive(Debug, Clone, Deserialize)]
pub struct CardSummary {
    #[serde(default)]
    pub brand: Option<String>,
    #[serde(default)]
    pub last4: Option<String>,
    #[serde(default)]
    pub exp_month: Option<i64>,
    #[serde(default)]
    pub exp_year: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentMethod {
    pub id: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub card: Option<CardSummary>,
    #[serde(default)]
    pub customer: Option<Expandable<Customer>>,
}

stripe_enum!(
    RefundStatus {
        Pending = "pending",
        RequiresAction = "requires_action",
        Succeeded = "succeeded",
        Failed = "failed",
        Canceled = "canceled",
    }
);

#[derive(Debug, Clone, Deserialize)]
pub struct Refund {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    #[serde(default)]
    pub status: Option<RefundStatus>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub payment_intent: Option<Expandable<PaymentIntent>>,
    #[serde(default)]
    pub charge: Option<Expandable<Charge>>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: Metadata,
}

stripe_enum!(
    /// https://docs.stripe.com/billing/subscriptions/overview#subscription-statuses
    SubscriptionStatus {
        Incomplete = "incomplete",
        IncompleteExpired = "incomplete_expired",
        Trialing = "trialing",
        Active = "active",
        PastDue = "past_due",
        Canceled = "canceled",
        Unpaid = "unpaid",
        Paused = "paused",
    }
);

#[derive(Debug, Clone, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub customer: Expandable<Customer>,
    pub status: SubscriptionStatus,
    pub items: List<SubscriptionItem>,
    /// Before API 2025-03-31 the period is on the subscription; since then on its items.
    #[serde(default)]
    pub current_period_start: Option<i64>,
    #[serde(default)]
    pub current_period_end: Option<i64>,
    #[serde(default)]
    pub trial_start: Option<i64>,
    #[serde(default)]
    pub trial_end: Option<i64>,
    #[serde(default)]
    pub cancel_at_period_end: bool,
    #[serde(default)]
    pub cancel_at: Option<i64>,
    #[serde(default)]
    pub canceled_at: Option<i64>,
    #[serde(default)]
    pub ended_at: Option<i64>,
    #[serde(default)]
    pub latest_invoice: Option<Expandable<Invoice>>,
    #[serde(default)]
    pub default_payment_method: Option<Expandable<PaymentMethod>>,
    /// Older API versions: the one discount.
    #[serde(default)]
    pub discount: Option<Discount>,
    /// Today: the discounts, as ids unless expanded (`expand[]=discounts`).
    #[serde(default)]
    pub discounts: Option<Vec<Expandable<Discount>>>,
    #[serde(default)]
    pub cancellation_details: Option<CancellationDetails>,
}

/// Why a subscription was canceled (https://docs.stripe.com/api/subscriptions/object).
#[derive(Debug, Clone, Deserialize)]
pub struct CancellationDetails {
    #[serde(default)]
    pub feedback: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// What a subscription snapshot says of its discount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscountSeen {
    /// It has none.
    None,
    /// It has one, named by id only (a webhook's payload): what it is must be kept as known.
    Unexpanded,
    /// It has this one.
    Known {
        coupon: String,
        promotion_code: Option<String>,
        start: Option<i64>,
        end: Option<i64>,
    },
}

impl Subscription {
    /// Its discount as far as this snapshot tells.
    pub fn discount_seen(&self) -> DiscountSeen {
        let known = |d: &Discount| match d.coupon() {
            Some(c) => DiscountSeen::Known {
                coupon: c.id().to_string(),
                promotion_code: d.promotion_code.as_ref().map(|p| p.id().to_string()),
                start: d.start,
                end: d.end,
            },
            None => DiscountSeen::Unexpanded,
        };
        if let Some(list) = &self.discounts {
            return match list.first() {
                None => DiscountSeen::None,
                Some(Expandable::Object(d)) => known(d),
                Some(Expandable::Id(_)) => match &self.discount {
                    Some(d) => known(d),
                    None => DiscountSeen::Unexpanded,
                },
            };
        }
        match &self.discount {
            Some(d) => known(d),
            None => DiscountSeen::None,
        }
    }

    /// Seats: the item's quantity (1 when Stripe does not say).
    pub fn quantity(&self) -> i64 {
        self.items
            .data
            .first()
            .and_then(|i| i.quantity)
            .unwrap_or(1)
    }

    /// The (single) price Tollgate subscriptions have.
    pub fn price_id(&self) -> Option<&str> {
        let item = self.items.data.first()?;
        item.price
            .as_ref()
            .map(|p| p.id.as_str())
            .or_else(|| item.plan.as_ref().map(|p| p.id.as_str()))
    }

    pub fn period(&self) -> (Option<i64>, Option<i64>) {
        let item = self.items.data.first();
        (
            item.and_then(|i| i.current_period_start)
                .or(self.current_period_start),
            item.and_then(|i| i.current_period_end)
                .or(self.current_period_end),
        )
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct SubscriptionItem {
    pub id: String,
    #[serde(default)]
    pub price: Option<Price>,
    /// Legacy field: the plan has the same id as its price.
    #[serde(default)]
    pub plan: Option<PlanRef>,
    #[serde(default)]
    pub quantity: Option<i64>,
    #[serde(default)]
    pub current_period_start: Option<i64>,
    #[serde(default)]
    pub current_period_end: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PlanRef {
    pub id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Invoice {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub customer: Option<Expandable<Customer>>,
    #[serde(default)]
    pub subscription: Option<Expandable<Subscription>>,
    #[serde(default)]
    pub payment_intent: Option<Expandable<PaymentIntent>>,
    /// Since API 2025-03-31: the client secret of the invoice's payment.
    #[serde(default)]
    pub confirmation_secret: Option<ConfirmationSecret>,
    /// Since API 2025-03-31 the subscription is under `parent.subscription_details`.
    #[serde(default)]
    pub parent: Option<InvoiceParent>,
    #[serde(default)]
    pub amount_paid: Option<i64>,
    #[serde(default)]
    pub amount_due: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    /// Since API 2025-03-31: the invoice's payments (when included), each naming its
    /// PaymentIntent; `payment_intent` above is the older shape.
    #[serde(default)]
    pub payments: Option<List<InvoicePayment>>,
    #[serde(default)]
    pub subtotal: Option<i64>,
    #[serde(default)]
    pub total: Option<i64>,
    #[serde(default)]
    pub total_discount_amounts: Option<Vec<DiscountAmount>>,
    /// The first page of lines (`lines.has_more` says whether more exist).
    #[serde(default)]
    pub lines: Option<List<InvoiceLine>>,
    #[serde(default)]
    pub period_start: Option<i64>,
    #[serde(default)]
    pub period_end: Option<i64>,
    #[serde(default)]
    pub number: Option<String>,
    #[serde(default)]
    pub amount_remaining: Option<i64>,
    #[serde(default)]
    pub hosted_invoice_url: Option<String>,
    #[serde(default)]
    pub invoice_pdf: Option<String>,
    #[serde(default)]
    pub billing_reason: Option<String>,
    #[serde(default)]
    pub created: Option<i64>,
    /// Today: the taxes, each with its `amount`; older versions: `tax`.
    #[serde(default)]
    pub total_taxes: Option<Vec<DiscountAmount>>,
    #[serde(default)]
    pub tax: Option<i64>,
}

/// A dispute of a charge (`charge.dispute.*` events).
#[derive(Debug, Clone, Deserialize)]
pub struct Dispute {
    pub id: String,
    #[serde(default)]
    pub amount: i64,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub payment_intent: Option<Expandable<PaymentIntent>>,
    #[serde(default)]
    pub charge: Option<Expandable<Charge>>,
}

/// An invoice's payment (API 2025-03-31+), as listed on the invoice and sent with
/// `invoice_payment.paid`.
#[derive(Debug, Clone, Deserialize)]
pub struct InvoicePayment {
    pub id: String,
    #[serde(default)]
    pub invoice: Option<Expandable<Invoice>>,
    #[serde(default)]
    pub payment: Option<InvoicePaymentTarget>,
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvoicePaymentTarget {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub payment_intent: Option<Expandable<PaymentIntent>>,
    #[serde(default)]
    pub charge: Option<Expandable<Charge>>,
}

impl InvoicePayment {
    pub fn payment_intent_id(&self) -> Option<&str> {
        self.payment
            .as_ref()?
            .payment_intent
            .as_ref()
            .map(|p| p.id())
    }
}

impl Invoice {
    /// Its tax, whichever API version shaped it.
    pub fn tax_total(&self) -> i64 {
        match &self.total_taxes {
            Some(taxes) => taxes.iter().map(|t| t.amount).sum(),
            None => self.tax.unwrap_or(0),
        }
    }

    /// What its discounts took off, in minor units.
    pub fn discount_total(&self) -> i64 {
        self.total_discount_amounts
            .iter()
            .flatten()
            .map(|d| d.amount)
            .sum()
    }

    /// The PaymentIntents that paid it, whichever API version shaped it.
    pub fn paid_intent_ids(&self) -> Vec<String> {
        let listed: Vec<String> = self
            .payments
            .iter()
            .flat_map(|l| &l.data)
            .filter(|p| p.status.as_deref().is_none_or(|s| s == "paid"))
            .filter_map(|p| p.payment_intent_id().map(str::to_owned))
            .collect();
        if !listed.is_empty() {
            return listed;
        }
        self.payment_intent
            .iter()
            .map(|p| p.id().to_string())
            .collect()
    }

    /// The subscription it bills, whichever API version shaped it.
    pub fn subscription_id(&self) -> Option<String> {
        self.subscription
            .as_ref()
            .map(|s| s.id().to_string())
            .or_else(|| {
                self.parent
                    .as_ref()?
                    .subscription_details
                    .as_ref()?
                    .subscription
                    .as_ref()
                    .map(|s| s.id().to_string())
            })
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvoiceParent {
    #[serde(default)]
    pub subscription_details: Option<SubscriptionDetails>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SubscriptionDetails {
    #[serde(default)]
    pub subscription: Option<Expandable<Subscription>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ConfirmationSecret {
    #[serde(default)]
    pub client_secret: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SetupIntent {
    pub id: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

/// A Stripe event, as delivered to webhooks or listed by the API. `data.object` stays raw JSON
/// until a handler reads it with the reader for its type.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    pub data: EventData,
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub livemode: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
    #[serde(default)]
    pub previous_attributes: Option<serde_json::Value>,
}

has_id!(
    Customer,
    Product,
    Price,
    PaymentIntent,
    Charge,
    PaymentMethod,
    Refund,
    Subscription,
    Invoice
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_and_enum_values_are_tolerated() {
        let pi: PaymentIntent = serde_json::from_value(json!({
            "id": "pi_1", "object": "payment_intent", "amount": 1250, "currency": "usd",
            "status": "requires_magic", "brand_new_field": {"x": 1}, "metadata": null,
            "latest_charge": "ch_1"
        }))
        .expect("reads");
        assert_eq!(
            pi.status,
            PaymentIntentStatus::Other("requires_magic".into())
        );
        assert_eq!(pi.latest_charge.as_ref().map(Expandable::id), Some("ch_1"));
        assert!(pi.metadata.is_empty());
    }

    #[test]
    fn expanded_and_collapsed_fields_read_the_same() {
        let collapsed: Price = serde_json::from_value(json!({
            "id": "price_1", "product": "prod_1", "currency": "usd", "unit_amount": 100
        }))
        .expect("reads");
        let expanded: Price = serde_json::from_value(json!({
            "id": "price_1", "product": {"id": "prod_1", "name": "Gold"}, "currency": "usd",
            "unit_amount": 100, "recurring": {"interval": "month"}
        }))
        .expect("reads");
        assert_eq!(collapsed.product.id(), expanded.product.id());
        assert_eq!(expanded.recurring.map(|r| r.interval_count), Some(1));
    }

    #[test]
    fn a_price_trial_is_read_leniently() {
        let trial = |v: serde_json::Value| {
            let p: Price = serde_json::from_value(json!({
                "id": "price_1", "product": "prod_1", "currency": "usd", "unit_amount": 100,
                "recurring": {"interval": "month", "interval_count": 1, "trial_period_days": v}
            }))
            .expect("reads whatever the trial holds");
            p.recurring.and_then(|r| r.trial_period_days)
        };
        assert_eq!(trial(json!(14)), Some(LenientInt::Int(14)));
        assert_eq!(trial(json!(-3)), Some(LenientInt::Int(-3)));
        assert_eq!(trial(json!(null)), None);
        assert_eq!(
            trial(json!("14")),
            Some(LenientInt::Invalid("\"14\"".into()))
        );
        assert_eq!(trial(json!(1.5)), Some(LenientInt::Invalid("1.5".into())));
        let absent: Price = serde_json::from_value(json!({
            "id": "price_1", "product": "prod_1", "currency": "usd",
            "recurring": {"interval": "month"}
        }))
        .expect("reads");
        assert_eq!(absent.recurring.and_then(|r| r.trial_period_days), None);
    }

    #[test]
    fn subscription_period_from_items_or_top_level() {
        // API >= 2025-03-31: period on items.
        let new: Subscription = serde_json::from_value(json!({
            "id": "sub_1", "customer": "cus_1", "status": "active",
            "items": {"data": [{"id": "si_1", "price": {"id": "price_1", "product": "prod_1",
                "currency": "usd"}, "current_period_start": 10, "current_period_end": 20}]}
        }))
        .expect("reads");
        assert_eq!(new.period(), (Some(10), Some(20)));
        assert_eq!(new.price_id(), Some("price_1"));
        // Older versions: on the subscription, with a plan.
        let old: Subscription = serde_json::from_value(json!({
            "id": "sub_1", "customer": "cus_1", "status": "past_due",
            "current_period_start": 1, "current_period_end": 2,
            "items": {"data": [{"id": "si_1", "plan": {"id": "price_9"}}]}
        }))
        .expect("reads");
        assert_eq!(old.period(), (Some(1), Some(2)));
        assert_eq!(old.price_id(), Some("price_9"));
        assert_eq!(old.status, SubscriptionStatus::PastDue);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any bytes as a webhook body: read or refused, never a panic.
            #[test]
            fn event_reader_is_total(body in proptest::collection::vec(any::<u8>(), 0..512)) {
                if let Ok(event) = serde_json::from_slice::<Event>(&body) {
                    let _ = crate::webhooks::check_envelope(&event);
                }
            }

            /// Events shaped like Stripe's are read back field for field, whatever the object.
            #[test]
            fn event_reader_round_trips(
                id in "evt_[A-Za-z0-9]{1,40}",
                kind in "[a-z_]{1,20}\\.[a-z_.]{1,30}",
                created in 0i64..4_000_000_000,
                object in "\\PC{0,40}",
            ) {
                let body = serde_json::json!({
                    "id": id, "object": "event", "type": kind, "created": created,
                    "api_version": "2026-07-29.dahlia", "livemode": false,
                    "data": {"object": {"id": object, "object": "thing"}},
                    "pending_webhooks": 1, "request": {"id": null}
                });
                let event: Event = serde_json::from_value(body).expect("reads");
                prop_assert_eq!(&event.id, &id);
                prop_assert_eq!(&event.kind, &kind);
                prop_assert_eq!(event.created, created);
                prop_assert_eq!(event.data.object["id"].as_str(), Some(object.as_str()));
                prop_assert!(crate::webhooks::check_envelope(&event).is_ok());
            }
        }
    }
}
