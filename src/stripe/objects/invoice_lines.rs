//! An invoice's lines, read in today's shape (`parent.subscription_item_details.proration`,
//! `pricing.price_details.price`) and the legacy one (`proration`, `price`).

use serde::Deserialize;

use super::{Expandable, Price};

/// https://docs.stripe.com/api/invoice-line-item/object
#[derive(Debug, Clone, Deserialize)]
pub struct InvoiceLine {
    /// `il_…` (older versions: `sub_…`/`ii_…`); empty when absent.
    #[serde(default)]
    pub id: String,
    pub amount: i64,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub quantity: Option<i64>,
    #[serde(default)]
    pub period: Option<LinePeriod>,
    #[serde(default)]
    pub proration: Option<bool>,
    #[serde(default)]
    pub price: Option<Expandable<Price>>,
    #[serde(default)]
    pub parent: Option<LineParent>,
    #[serde(default)]
    pub pricing: Option<LinePricing>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LinePeriod {
    #[serde(default)]
    pub start: Option<i64>,
    #[serde(default)]
    pub end: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LineParent {
    #[serde(default)]
    pub subscription_item_details: Option<LineDetails>,
    #[serde(default)]
    pub invoice_item_details: Option<LineDetails>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LineDetails {
    #[serde(default)]
    pub proration: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LinePricing {
    #[serde(default)]
    pub price_details: Option<PriceDetails>,
    #[serde(default)]
    pub unit_amount_decimal: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PriceDetails {
    #[serde(default)]
    pub price: Option<Expandable<Price>>,
}

impl InvoiceLine {
    /// Whether it prorates a change, whichever shape said so.
    pub fn is_proration(&self) -> bool {
        let parent = self.parent.as_ref();
        parent
            .and_then(|p| p.subscription_item_details.as_ref())
            .or_else(|| parent.and_then(|p| p.invoice_item_details.as_ref()))
            .map(|d| d.proration)
            .or(self.proration)
            .unwrap_or(false)
    }

    /// The Stripe price it bills, whichever shape named it.
    pub fn price_id(&self) -> Option<&str> {
        self.pricing
            .as_ref()
            .and_then(|p| p.price_details.as_ref())
            .and_then(|d| d.price.as_ref())
            .or(self.price.as_ref())
            .map(Expandable::id)
    }
}

impl super::HasId for InvoiceLine {
    fn id(&self) -> &str {
        &self.id
    }
}
