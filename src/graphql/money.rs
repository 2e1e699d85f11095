//! The `Money` GraphQL type: GraphQL `Int` is 32-bit, too small for minor units, so amounts
//! travel as decimal strings next to their currency.

use async_graphql::Object;

use crate::money::{Currency, Money};

/// An amount of money. `amount` is a decimal string in major units ("12.50", "15000" for KRW);
/// `minorUnits` is the exact integer Stripe uses, as a string ("1250").
pub struct MoneyType(pub Money);

impl MoneyType {
    /// From minor units and a currency code as stored.
    pub fn from_parts(minor_units: i64, currency: &str) -> Self {
        MoneyType(Money::from_minor(
            minor_units,
            Currency::from_stored(currency),
        ))
    }
}

/// An amount of money: 64-bit minor units and a currency, never a float.
#[Object(name = "Money")]
impl MoneyType {
    /// Decimal amount in major units, with exactly the currency's decimals ("10.50").
    async fn amount(&self) -> String {
        self.0.decimal_string()
    }

    /// The amount in the currency's smallest unit as Stripe counts it, as a decimal string.
    async fn minor_units(&self) -> String {
        self.0.minor_units().to_string()
    }

    /// Lower-case ISO-4217 currency code ("usd").
    async fn currency(&self) -> &str {
        self.0.currency().as_str()
    }

    /// Human-readable form ("$10.50", "₩15,000").
    async fn formatted(&self) -> String {
        self.0.formatted()
    }
}

/// A `Money` field the history plan (`payments::history_plan`) writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoneyLeaf {
    Typename,
    Amount,
    MinorUnits,
    Currency,
    Formatted,
}

/// Every `Money` field and how the history plan writes it.
pub const MONEY_FIELDS: &[(&str, MoneyLeaf)] = &[
    ("__typename", MoneyLeaf::Typename),
    ("amount", MoneyLeaf::Amount),
    ("minorUnits", MoneyLeaf::MinorUnits),
    ("currency", MoneyLeaf::Currency),
    ("formatted", MoneyLeaf::Formatted),
];
