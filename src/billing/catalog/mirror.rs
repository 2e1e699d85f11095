//! A Stripe product or price snapshot applied to the local mirror, whichever way it arrived
//! (webhook, API answer, `tollgate sync catalog`): a snapshot older than the row changes
//! nothing; a price's free trial is read tolerantly.

use chrono::{DateTime, Utc};
use entity::{prices, products, PriceInterval};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

pub use crate::billing::mirror::Applied;
use crate::billing::mirror::{upsert_guarded, MirrorColumns, Snapshot};
use crate::stripe::{objects, StripeError};

/// Writes a Stripe product snapshot taken at `snapshot_at` (never over a newer one).
pub async fn apply_product(
    db: &impl ConnectionTrait,
    p: &objects::Product,
    snapshot_at: DateTime<Utc>,
) -> Result<(products::Model, Applied), DbErr> {
    use products::Column as C;
    let features = serde_json::Value::from(
        p.marketing_features
            .iter()
            .filter_map(|f| f.name.clone())
            .collect::<Vec<_>>(),
    );
    let metadata = serde_json::to_value(&p.metadata).unwrap_or_default();
    let active = p.active && !p.deleted;
    let existing = products::Entity::find()
        .filter(C::StripeProductId.eq(&p.id))
        .one(db)
        .await?;
    let now = Utc::now();
    let snapshot = Snapshot::<products::Entity> {
        stripe_id: p.id.clone(),
        snapshot_at,
        insert: products::ActiveModel {
            id: Set(Uuid::now_v7()),
            stripe_product_id: Set(p.id.clone()),
            name: Set(p.name.clone()),
            description: Set(p.description.clone()),
            active: Set(active),
            features: Set(features.clone()),
            metadata: Set(metadata.clone()),
            snapshot_at: Set(snapshot_at),
            created_at: Set(now),
            updated_at: Set(now),
        },
        existing: existing.as_ref().map(|e| {
            let same = e.name == p.name
                && e.description == p.description
                && e.active == active
                && e.features == features
                && e.metadata == metadata;
            (e.updated_at, same)
        }),
        values: vec![
            (C::Name, p.name.clone().into()),
            (C::Description, p.description.clone().into()),
            (C::Active, active.into()),
            (C::Features, features.into()),
            (C::Metadata, metadata.into()),
        ],
    };
    let cols = MirrorColumns {
        stripe_id: C::StripeProductId,
        snapshot_at: C::SnapshotAt,
        updated_at: C::UpdatedAt,
    };
    let applied = upsert_guarded(db, cols, snapshot).await?;
    Ok((find_product(db, &p.id).await?, applied))
}

pub async fn find_product(
    db: &impl ConnectionTrait,
    stripe_id: &str,
) -> Result<products::Model, DbErr> {
    products::Entity::find()
        .filter(products::Column::StripeProductId.eq(stripe_id))
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("product {stripe_id}")))
}

/// What a price snapshot sets, as the mirror stores it.
struct PriceValues {
    product_id: Uuid,
    stripe_product_id: String,
    currency: String,
    unit_amount: Option<i64>,
    interval: Option<PriceInterval>,
    interval_count: Option<i32>,
    trial_period_days: Option<i32>,
    active: bool,
    nickname: Option<String>,
}

impl PriceValues {
    /// An interval Tollgate does not know is an error (the event fails visibly).
    fn of(p: &objects::Price, product_id: Uuid) -> Result<Self, DbErr> {
        let interval = match &p.recurring {
            None => None,
            Some(r) => Some(interval_of(&r.interval).ok_or_else(|| {
                DbErr::Custom(format!(
                    "price {} bills every `{}`, an interval Tollgate does not know",
                    p.id,
                    r.interval.as_str().chars().take(20).collect::<String>()
                ))
            })?),
        };
        Ok(PriceValues {
            product_id,
            stripe_product_id: p.product.id().to_string(),
            currency: p.currency.to_ascii_lowercase(),
            unit_amount: p.unit_amount,
            interval,
            interval_count: p
                .recurring
                .as_ref()
                .map(|r| i32::try_from(r.interval_count).unwrap_or(i32::MAX)),
            trial_period_days: trial_offer(p),
            active: p.active && !p.deleted,
            nickname: p.nickname.clone(),
        })
    }

    fn same_as(&self, e: &prices::Model) -> bool {
        e.product_id == self.product_id
            && e.currency == self.currency
            && e.unit_amount == self.unit_amount
            && e.recurring_interval == self.interval
            && e.recurring_interval_count == self.interval_count
            && e.trial_period_days == self.trial_period_days
            && e.active == self.active
            && e.nickname == self.nickname
    }

    fn insert(&self, stripe_price_id: &str, snapshot_at: DateTime<Utc>) -> prices::ActiveModel {
        let now = Utc::now();
        prices::ActiveModel {
            id: Set(Uuid::now_v7()),
            stripe_price_id: Set(stripe_price_id.to_owned()),
            product_id: Set(self.product_id),
            stripe_product_id: Set(self.stripe_product_id.clone()),
            currency: Set(self.currency.clone()),
            unit_amount: Set(self.unit_amount),
            recurring_interval: Set(self.interval),
            recurring_interval_count: Set(self.interval_count),
            trial_period_days: Set(self.trial_period_days),
            active: Set(self.active),
            nickname: Set(self.nickname.clone()),
            snapshot_at: Set(snapshot_at),
            created_at: Set(now),
            updated_at: Set(now),
        }
    }

    fn columns(&self) -> Vec<(prices::Column, sea_orm::Value)> {
        use prices::Column as C;
        vec![
            (C::ProductId, self.product_id.into()),
            (C::StripeProductId, self.stripe_product_id.clone().into()),
            (C::Currency, self.currency.clone().into()),
            (C::UnitAmount, self.unit_amount.into()),
            (C::RecurringInterval, self.interval.into()),
            (C::RecurringIntervalCount, self.interval_count.into()),
            (C::TrialPeriodDays, self.trial_period_days.into()),
            (C::Active, self.active.into()),
            (C::Nickname, self.nickname.clone().into()),
        ]
    }
}

/// Writes a Stripe price snapshot; its product must already be mirrored (`product_id`).
pub async fn apply_price(
    db: &impl ConnectionTrait,
    p: &objects::Price,
    product_id: Uuid,
    snapshot_at: DateTime<Utc>,
) -> Result<(prices::Model, Applied), DbErr> {
    use prices::Column as C;
    let values = PriceValues::of(p, product_id)?;
    let existing = prices::Entity::find()
        .filter(C::StripePriceId.eq(&p.id))
        .one(db)
        .await?;
    let snapshot = Snapshot::<prices::Entity> {
        stripe_id: p.id.clone(),
        snapshot_at,
        insert: values.insert(&p.id, snapshot_at),
        existing: existing.as_ref().map(|e| (e.updated_at, values.same_as(e))),
        values: values.columns(),
    };
    let cols = MirrorColumns {
        stripe_id: C::StripePriceId,
        snapshot_at: C::SnapshotAt,
        updated_at: C::UpdatedAt,
    };
    let applied = upsert_guarded(db, cols, snapshot).await?;
    Ok((find_price(db, &p.id).await?, applied))
}

/// The free trial a Stripe price offers, in days, when it is one Tollgate can grant (1 to
/// `MAX_TRIAL_DAYS`, Stripe's own limit on a trial). Anything else is logged and treated as no
/// trial: a price stays sellable even when its trial cannot be honoured.
pub fn trial_offer(p: &objects::Price) -> Option<i32> {
    use crate::billing::subscriptions::MAX_TRIAL_DAYS;
    let offered = p.recurring.as_ref()?.trial_period_days.as_ref()?;
    match offered {
        objects::LenientInt::Int(days) if (1..=i64::from(MAX_TRIAL_DAYS)).contains(days) => {
            i32::try_from(*days).ok()
        }
        // Zero days is no trial at all: nothing to report.
        objects::LenientInt::Int(0) => None,
        objects::LenientInt::Int(days) => {
            tracing::warn!(
                price = %p.id,
                trial_period_days = days,
                "price offers a trial outside 1 to {MAX_TRIAL_DAYS} days; treated as no trial"
            );
            None
        }
        objects::LenientInt::Invalid(raw) => {
            tracing::warn!(
                price = %p.id,
                trial_period_days = %raw,
                "price's trial_period_days is not an integer; treated as no trial"
            );
            None
        }
    }
}

async fn find_price(db: &impl ConnectionTrait, stripe_id: &str) -> Result<prices::Model, DbErr> {
    prices::Entity::find()
        .filter(prices::Column::StripePriceId.eq(stripe_id))
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("price {stripe_id}")))
}

/// Stripe's interval as stored.
pub(super) fn interval_of(i: &objects::Interval) -> Option<PriceInterval> {
    Some(match i {
        objects::Interval::Day => PriceInterval::Day,
        objects::Interval::Week => PriceInterval::Week,
        objects::Interval::Month => PriceInterval::Month,
        objects::Interval::Year => PriceInterval::Year,
        objects::Interval::Other(_) => return None,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Stripe(#[from] StripeError),
    #[error(transparent)]
    Db(#[from] DbErr),
}
