//! Products and prices created from the admin API: input validated into errors an admin can
//! act on before Stripe is called, and idempotent like every mutation that takes a key (a
//! repeat answers the same object; the same key with another request is
//! `IDEMPOTENCY_KEY_REUSED`, never Stripe's own refusal passed on as `INTERNAL`).

use entity::{prices, products, PriceInterval};
use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

use super::{create_price, create_product, CatalogError, NewProduct, Recurrence};
use crate::{
    billing::{idempotency, subscriptions::MAX_TRIAL_DAYS},
    error::ApiError,
    money::{Currency, Money},
    stripe::StripeClient,
};

/// Longest product name Stripe accepts… and that a storefront should show.
const MAX_NAME_LEN: usize = 250;
const TRIAL_FIELD: &str = "trialPeriodDays";

/// A recurrence as the admin API receives it.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct RecurrenceInput {
    #[serde(serialize_with = "interval_name")]
    pub interval: PriceInterval,
    pub interval_count: i32,
}

fn interval_name<S: serde::Serializer>(interval: &PriceInterval, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&interval.to_string())
}

/// A price as the admin API receives it: text to be validated, and, serialised, the request's
/// idempotency fingerprint.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewPrice {
    pub product_id: String,
    pub amount: String,
    pub currency: String,
    pub recurring: Option<RecurrenceInput>,
    /// Recurring prices only, 1 to `MAX_TRIAL_DAYS`.
    pub trial_period_days: Option<i32>,
}

/// Creates a product in Stripe and the catalog for `admin_id`.
pub async fn create_product_as_admin(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    admin_id: &str,
    new: &NewProduct,
    idempotency_key: Option<&str>,
) -> Result<products::Model, ApiError> {
    let scope = idempotency::scope(admin_id, idempotency_key, "createProduct", new)?;
    validate_product(new)?;
    let id = idempotency::run(db, scope.as_ref(), || async {
        let key = idempotency::stripe_key(scope.as_ref(), "product")?;
        let row = create_product(db, stripe, new, Some(&key))
            .await
            .map_err(api_error)?;
        Ok(row.id)
    })
    .await?;
    products::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("product"))
}

fn validate_product(new: &NewProduct) -> Result<(), ApiError> {
    if new.name.trim().is_empty() || new.name.len() > MAX_NAME_LEN {
        return Err(ApiError::invalid_input(
            "name",
            format!("1 to {MAX_NAME_LEN} characters"),
        ));
    }
    if new.features.len() > 15
        || new
            .features
            .iter()
            .any(|f| f.trim().is_empty() || f.len() > 80)
    {
        return Err(ApiError::invalid_input(
            "features",
            "at most 15 features of 1 to 80 characters",
        ));
    }
    Ok(())
}

/// Creates a price for a mirrored product in Stripe and the catalog for `admin_id`. A trial
/// on a one-time price, or outside 1 to `MAX_TRIAL_DAYS`, is `INVALID_INPUT` on
/// `trialPeriodDays` before Stripe is called.
pub async fn create_price_as_admin(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    admin_id: &str,
    new: &NewPrice,
    idempotency_key: Option<&str>,
) -> Result<prices::Model, ApiError> {
    let scope = idempotency::scope(admin_id, idempotency_key, "createPrice", new)?;
    let product_uuid =
        Uuid::parse_str(&new.product_id).map_err(|_| ApiError::NotFound("product"))?;
    let product = products::Entity::find_by_id(product_uuid)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("product"))?;
    let currency = Currency::parse(&new.currency).map_err(|e| ApiError::money("currency", e))?;
    let money = Money::parse_chargeable(&new.amount, &currency)
        .map_err(|e| ApiError::money("amount", e))?;
    let recurrence = recurrence(new)?;
    let id = idempotency::run(db, scope.as_ref(), || async {
        let key = idempotency::stripe_key(scope.as_ref(), "price")?;
        let row = create_price(
            db,
            stripe,
            &product,
            &money,
            recurrence.as_ref(),
            Some(&key),
        )
        .await
        .map_err(api_error)?;
        Ok(row.id)
    })
    .await?;
    prices::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("price"))
}

/// The price's recurrence, checked against Stripe's limits (at most a year between charges).
fn recurrence(new: &NewPrice) -> Result<Option<Recurrence>, ApiError> {
    let trial_period_days = match (new.trial_period_days, &new.recurring) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(ApiError::invalid_input(
                TRIAL_FIELD,
                "only a recurring price can offer a trial",
            ))
        }
        (Some(days), Some(_)) => Some(
            u32::try_from(days)
                .ok()
                .filter(|d| (1..=MAX_TRIAL_DAYS).contains(d))
                .ok_or_else(|| {
                    ApiError::invalid_input(TRIAL_FIELD, format!("1 to {MAX_TRIAL_DAYS} days"))
                })?,
        ),
    };
    let Some(r) = new.recurring else {
        return Ok(None);
    };
    let max = match r.interval {
        PriceInterval::Day => 365,
        PriceInterval::Week => 52,
        PriceInterval::Month => 12,
        PriceInterval::Year => 1,
    };
    if r.interval_count < 1 || r.interval_count > max {
        return Err(ApiError::invalid_input(
            "recurring.intervalCount",
            format!("1 to {max} for {} prices (at most a year)", r.interval),
        ));
    }
    Ok(Some(Recurrence {
        interval: r.interval,
        interval_count: r.interval_count.unsigned_abs(),
        trial_period_days,
    }))
}

fn api_error(e: CatalogError) -> ApiError {
    match e {
        CatalogError::Stripe(s) => s.into(),
        CatalogError::Db(d) => d.into(),
    }
}
