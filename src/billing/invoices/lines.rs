//! An invoice line as Tollgate stores it (JSON in `invoices.lines` and
//! `subscription_quotes.lines`): what it bills, for which period, whether it prorates.

use serde::{Deserialize, Serialize};

use crate::stripe::objects;

/// One invoice line, read from either of Stripe's shapes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Line {
    pub description: Option<String>,
    pub quantity: Option<i64>,
    pub amount: i64,
    pub proration: bool,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    pub stripe_price_id: Option<String>,
}

impl Line {
    pub fn of(line: &objects::InvoiceLine) -> Line {
        Line {
            description: line.description.clone(),
            quantity: line.quantity,
            amount: line.amount,
            proration: line.is_proration(),
            period_start: line.period.as_ref().and_then(|p| p.start),
            period_end: line.period.as_ref().and_then(|p| p.end),
            stripe_price_id: line.price_id().map(str::to_owned),
        }
    }

    /// Lines stored as JSON (an unreadable value reads as none: the rows are ours).
    pub fn all_in(value: &serde_json::Value) -> Vec<Line> {
        serde_json::from_value(value.clone()).unwrap_or_default()
    }
}
