//! Creating a product or price in Stripe and mirroring it at once (write-through), for the
//! admin API (`admin`) and the demo catalog.

use chrono::Utc;
use entity::{prices, products, PriceInterval};
use sea_orm::ConnectionTrait;

use super::mirror::{apply_price, apply_product, CatalogError};
use crate::stripe::{objects, requests, StripeClient};

/// A product to create in Stripe (admin). Serialised, it is the request's idempotency
/// fingerprint.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct NewProduct {
    pub name: String,
    pub description: Option<String>,
    pub features: Vec<String>,
    pub metadata: std::collections::HashMap<String, String>,
}

/// Creates a product in Stripe and mirrors it at once (write-through).
pub async fn create_product(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    new: &NewProduct,
    idempotency_key: Option<&crate::stripe::IdempotencyKey>,
) -> Result<products::Model, CatalogError> {
    let mut req = requests::product::CreateProduct::new(new.name.clone())
        .metadata(new.metadata.clone())
        .marketing_features(
            new.features
                .iter()
                .map(|f| requests::product::Features::new(f.clone()))
                .collect::<Vec<_>>(),
        );
    if let Some(d) = &new.description {
        req = req.description(d.clone());
    }
    let product: objects::Product = stripe.send(&req, idempotency_key).await?;
    let (row, _) = apply_product(db, &product, Utc::now()).await?;
    Ok(row)
}

/// How often a recurring price bills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence {
    pub interval: PriceInterval,
    pub interval_count: u32,
    /// Days of free trial the price offers (sent as `recurring[trial_period_days]`).
    pub trial_period_days: Option<u32>,
}

/// Creates a price for a mirrored product in Stripe and mirrors it at once.
pub async fn create_price(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    product: &products::Model,
    amount: &crate::money::Money,
    recurring: Option<&Recurrence>,
    idempotency_key: Option<&crate::stripe::IdempotencyKey>,
) -> Result<prices::Model, CatalogError> {
    let currency: stripe_types::Currency = amount
        .currency()
        .as_str()
        .parse()
        .unwrap_or_else(|never: std::convert::Infallible| match never {});
    let mut req = requests::price::CreatePrice::new(currency)
        .product(product.stripe_product_id.clone())
        .unit_amount(amount.minor_units());
    if let Some(r) = recurring {
        let interval = match r.interval {
            PriceInterval::Day => requests::price::CreatePriceRecurringInterval::Day,
            PriceInterval::Week => requests::price::CreatePriceRecurringInterval::Week,
            PriceInterval::Month => requests::price::CreatePriceRecurringInterval::Month,
            PriceInterval::Year => requests::price::CreatePriceRecurringInterval::Year,
        };
        let mut rec = requests::price::CreatePriceRecurring::new(interval);
        rec.interval_count = Some(u64::from(r.interval_count));
        rec.trial_period_days = r.trial_period_days;
        req = req.recurring(rec);
    }
    let price: objects::Price = stripe.send(&req, idempotency_key).await?;
    let (row, _) = apply_price(db, &price, product.id, Utc::now()).await?;
    Ok(row)
}
