//! The product catalog: products and prices live in Stripe and are mirrored here.
//!
//! - `admin`: creating products and prices from the admin API (validated, idempotent).

pub mod admin;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use entity::{prices, products, PriceInterval};
use sea_orm::{
    sea_query::{Expr, OnConflict},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use crate::{
    billing::sync::{differences, Drift},
    stripe::{objects, requests, StripeClient, StripeError},
};

/// A product with its prices, loaded in two queries whatever the number of products.
#[derive(Debug, Clone)]
pub struct ProductWithPrices {
    pub product: products::Model,
    pub prices: Vec<prices::Model>,
}

/// Products, newest first, each with its prices (only active ones when `active_only`).
pub async fn list_products(
    db: &impl ConnectionTrait,
    active_only: bool,
) -> Result<Vec<ProductWithPrices>, DbErr> {
    let mut query = products::Entity::find()
        .order_by_desc(products::Column::CreatedAt)
        .order_by_asc(products::Column::Name);
    if active_only {
        query = query.filter(products::Column::Active.eq(true));
    }
    let products = query.all(db).await?;
    with_prices(db, products, active_only).await
}

/// One product by Tollgate id, with all its prices.
pub async fn get_product(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<ProductWithPrices>, DbErr> {
    let Some(product) = products::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    Ok(with_prices(db, vec![product], false).await?.pop())
}

async fn with_prices(
    db: &impl ConnectionTrait,
    products: Vec<products::Model>,
    active_only: bool,
) -> Result<Vec<ProductWithPrices>, DbErr> {
    if products.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<Uuid> = products.iter().map(|p| p.id).collect();
    let mut query = prices::Entity::find()
        .filter(prices::Column::ProductId.is_in(ids))
        .order_by_asc(prices::Column::Currency)
        .order_by_asc(prices::Column::UnitAmount);
    if active_only {
        query = query.filter(prices::Column::Active.eq(true));
    }
    let mut all_prices = query.all(db).await?;
    Ok(products
        .into_iter()
        .map(|product| {
            let (mine, rest): (Vec<_>, Vec<_>) = all_prices
                .drain(..)
                .partition(|p| p.product_id == product.id);
            all_prices = rest;
            ProductWithPrices {
                product,
                prices: mine,
            }
        })
        .collect())
}

/// What applying a Stripe snapshot did to the local row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Created,
    Updated,
    Unchanged,
    /// The row already holds a newer snapshot; nothing was written.
    Stale,
}

/// A snapshot of one mirrored catalog object, ready for `upsert_guarded`.
struct Snapshot<E: EntityTrait> {
    stripe_id: String,
    snapshot_at: DateTime<Utc>,
    /// The row to insert when none exists yet.
    insert: E::ActiveModel,
    /// The values to write over an existing row.
    values: Vec<(E::Column, sea_orm::Value)>,
    /// The existing row's `updated_at`, and whether the snapshot changes nothing in it.
    existing: Option<(DateTime<Utc>, bool)>,
}

/// The columns every mirrored table shares.
struct MirrorColumns<C> {
    stripe_id: C,
    snapshot_at: C,
    updated_at: C,
}

/// Inserts or updates one mirrored row. An older snapshot never overwrites a newer one: the
/// guard is in the UPDATE's WHERE clause, so it holds under races; a concurrent insert makes
/// the loser fall through to the same guarded update.
async fn upsert_guarded<E>(
    db: &impl ConnectionTrait,
    cols: MirrorColumns<E::Column>,
    snapshot: Snapshot<E>,
) -> Result<Applied, DbErr>
where
    E: EntityTrait,
    E::ActiveModel: sea_orm::ActiveModelTrait<Entity = E> + Send,
{
    let now = Utc::now();
    if snapshot.existing.is_none() {
        let inserted = E::insert(snapshot.insert)
            .on_conflict(OnConflict::column(cols.stripe_id).do_nothing().to_owned())
            .exec_without_returning(db)
            .await?;
        if inserted == 1 {
            return Ok(Applied::Created);
        }
    }
    let unchanged = snapshot.existing.is_some_and(|(_, same)| same);
    let updated_at = match snapshot.existing {
        Some((at, true)) => at,
        _ => now,
    };
    let mut update = E::update_many()
        .col_expr(cols.snapshot_at, Expr::value(snapshot.snapshot_at))
        .col_expr(cols.updated_at, Expr::value(updated_at));
    for (col, value) in snapshot.values {
        update = update.col_expr(col, Expr::value(value));
    }
    let result = update
        .filter(cols.stripe_id.eq(snapshot.stripe_id))
        .filter(cols.snapshot_at.lte(snapshot.snapshot_at))
        .exec(db)
        .await?;
    Ok(match (result.rows_affected, unchanged) {
        (0, _) => Applied::Stale,
        (_, true) => Applied::Unchanged,
        _ => Applied::Updated,
    })
}

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

async fn find_product(
    db: &impl ConnectionTrait,
    stripe_id: &str,
) -> Result<products::Model, DbErr> {
    products::Entity::find()
        .filter(products::Column::StripeProductId.eq(stripe_id))
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("product {stripe_id}")))
}

/// Writes a Stripe price snapshot; its product must already be mirrored (`product_id`).
pub async fn apply_price(
    db: &impl ConnectionTrait,
    p: &objects::Price,
    product_id: Uuid,
    snapshot_at: DateTime<Utc>,
) -> Result<(prices::Model, Applied), DbErr> {
    use prices::Column as C;
    let currency = p.currency.to_ascii_lowercase();
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
    let interval_count = p
        .recurring
        .as_ref()
        .map(|r| i32::try_from(r.interval_count).unwrap_or(i32::MAX));
    let trial_period_days = trial_offer(p);
    let active = p.active && !p.deleted;
    let existing = prices::Entity::find()
        .filter(C::StripePriceId.eq(&p.id))
        .one(db)
        .await?;
    let now = Utc::now();
    let snapshot = Snapshot::<prices::Entity> {
        stripe_id: p.id.clone(),
        snapshot_at,
        insert: prices::ActiveModel {
            id: Set(Uuid::now_v7()),
            stripe_price_id: Set(p.id.clone()),
            product_id: Set(product_id),
            stripe_product_id: Set(p.product.id().to_string()),
            currency: Set(currency.clone()),
            unit_amount: Set(p.unit_amount),
            recurring_interval: Set(interval),
            recurring_interval_count: Set(interval_count),
            trial_period_days: Set(trial_period_days),
            active: Set(active),
            nickname: Set(p.nickname.clone()),
            snapshot_at: Set(snapshot_at),
            created_at: Set(now),
            updated_at: Set(now),
        },
        existing: existing.as_ref().map(|e| {
            let same = e.product_id == product_id
                && e.currency == currency
                && e.unit_amount == p.unit_amount
                && e.recurring_interval == interval
                && e.recurring_interval_count == interval_count
                && e.trial_period_days == trial_period_days
                && e.active == active
                && e.nickname == p.nickname;
            (e.updated_at, same)
        }),
        values: vec![
            (C::ProductId, product_id.into()),
            (C::StripeProductId, p.product.id().to_string().into()),
            (C::Currency, currency.clone().into()),
            (C::UnitAmount, p.unit_amount.into()),
            (C::RecurringInterval, interval.into()),
            (C::RecurringIntervalCount, interval_count.into()),
            (C::TrialPeriodDays, trial_period_days.into()),
            (C::Active, active.into()),
            (C::Nickname, p.nickname.clone().into()),
        ],
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

/// Counts reported by a catalog sync.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncSummary {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub deactivated: usize,
}

impl std::fmt::Display for SyncSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "created {} / updated {} / unchanged {} / deactivated {}",
            self.created, self.updated, self.unchanged, self.deactivated
        )
    }
}

impl SyncSummary {
    fn count(&mut self, applied: Applied, was_active: Option<bool>, is_active: bool) {
        match applied {
            Applied::Created => self.created += 1,
            Applied::Updated if was_active == Some(true) && !is_active => self.deactivated += 1,
            Applied::Updated => self.updated += 1,
            Applied::Unchanged | Applied::Stale => self.unchanged += 1,
        }
    }
}

/// A catalog sync's counts and each difference it found (or, checking, would repair).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CatalogReport {
    #[serde(flatten)]
    pub summary: SyncSummary,
    pub drifts: Vec<Drift>,
}

/// A catalog object's compared fields: (name, value as text).
type Fields<const N: usize> = [(&'static str, Option<String>); N];

impl CatalogReport {
    /// Counts one applied object and records how its fields moved (nothing for a stale
    /// snapshot, which changed nothing). `before` and `after` are (active, fields).
    fn record<const N: usize>(
        &mut self,
        object: &'static str,
        id: &str,
        applied: Applied,
        before: Option<(bool, Fields<N>)>,
        after: (bool, Fields<N>),
    ) {
        let was_active = before.as_ref().map(|(active, _)| *active);
        self.summary.count(applied, was_active, after.0);
        if applied != Applied::Stale {
            self.drifts.extend(drifts_of(
                object,
                id,
                before.map(|(_, fields)| fields),
                after.1,
            ));
        }
    }
}

impl std::fmt::Display for CatalogReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.summary.fmt(f)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Stripe(#[from] StripeError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Stripe's largest page size.
const PAGE: i64 = 100;

async fn all_products(stripe: &StripeClient) -> Result<Vec<objects::Product>, StripeError> {
    stripe
        .list_all(|after| {
            let req = requests::product::ListProduct::new().limit(PAGE);
            match after {
                Some(a) => req.starting_after(a),
                None => req,
            }
        })
        .await
}

async fn all_prices(stripe: &StripeClient) -> Result<Vec<objects::Price>, StripeError> {
    stripe
        .list_all(|after| {
            let req = requests::price::ListPrice::new().limit(PAGE);
            match after {
                Some(a) => req.starting_after(a),
                None => req,
            }
        })
        .await
}

/// Pulls every product and price from Stripe and mirrors them; local ones Stripe no longer
/// lists are deactivated. `progress(done, total)` is called after each object.
pub async fn sync_catalog(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<SyncSummary, SyncError> {
    Ok(sync_catalog_report(db, stripe, progress).await?.summary)
}

/// `sync_catalog` in a transaction that is rolled back: the report lists each drift (object,
/// field, local, Stripe) and nothing is written.
pub async fn check_catalog(
    db: &DatabaseConnection,
    stripe: &StripeClient,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<CatalogReport, SyncError> {
    let txn = crate::db::begin(db).await?;
    let report = sync_catalog_report(&txn, stripe, progress).await;
    txn.rollback().await?;
    report
}

/// The fields of a product compared with Stripe, as text.
fn product_fields(p: &products::Model) -> [(&'static str, Option<String>); 5] {
    [
        ("name", Some(p.name.clone())),
        ("description", p.description.clone()),
        ("active", Some(p.active.to_string())),
        ("features", Some(p.features.to_string())),
        ("metadata", Some(p.metadata.to_string())),
    ]
}

/// The fields of a price compared with Stripe, as text.
fn price_fields(p: &prices::Model) -> [(&'static str, Option<String>); 7] {
    [
        ("product", Some(p.stripe_product_id.clone())),
        ("currency", Some(p.currency.clone())),
        ("unit_amount", p.unit_amount.map(|a| a.to_string())),
        (
            "recurring_interval",
            p.recurring_interval.map(|i| i.to_string()),
        ),
        (
            "recurring_interval_count",
            p.recurring_interval_count.map(|c| c.to_string()),
        ),
        ("active", Some(p.active.to_string())),
        ("nickname", p.nickname.clone()),
    ]
}

/// What changed between the row before and after applying Stripe's snapshot.
fn drifts_of<const N: usize>(
    object: &'static str,
    id: &str,
    before: Option<[(&'static str, Option<String>); N]>,
    after: [(&'static str, Option<String>); N],
) -> Vec<Drift> {
    let Some(before) = before else {
        return vec![Drift::missing(object, id)];
    };
    let pairs: Vec<_> = before
        .into_iter()
        .zip(after)
        .map(|((field, local), (_, stripe))| (field, local, stripe))
        .collect();
    differences(object, id, &pairs)
}

/// A local object Stripe no longer lists: it stops being sold here.
fn unlisted(object: &'static str, id: &str) -> Drift {
    Drift {
        object,
        id: id.to_owned(),
        field: "exists",
        local: Some("yes".into()),
        stripe: None,
    }
}

/// `sync_catalog` with each difference it repaired.
pub async fn sync_catalog_report(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<CatalogReport, SyncError> {
    let snapshot_at = Utc::now();
    let products = all_products(stripe).await?;
    let prices = all_prices(stripe).await?;
    let total = products.len() + prices.len();
    let mut report = CatalogReport::default();
    let mut done = 0;

    let before: Vec<products::Model> = products::Entity::find().all(db).await?;
    let mut seen_products = HashSet::new();
    for p in &products {
        let was = before.iter().find(|b| b.stripe_product_id == p.id);
        let (row, applied) = apply_product(db, p, snapshot_at).await?;
        report.record(
            "product",
            &p.id,
            applied,
            was.map(|b| (b.active, product_fields(b))),
            (row.active, product_fields(&row)),
        );
        seen_products.insert(p.id.clone());
        done += 1;
        progress(done, total);
    }
    let before_prices: Vec<prices::Model> = prices::Entity::find().all(db).await?;
    let mut seen_prices = HashSet::new();
    for p in &prices {
        let product = find_product(db, p.product.id()).await?;
        let was = before_prices.iter().find(|b| b.stripe_price_id == p.id);
        let (row, applied) = apply_price(db, p, product.id, snapshot_at).await?;
        report.record(
            "price",
            &p.id,
            applied,
            was.map(|b| (b.active, price_fields(b))),
            (row.active, price_fields(&row)),
        );
        seen_prices.insert(p.id.clone());
        done += 1;
        progress(done, total);
    }

    // Objects Stripe no longer lists (deleted there) stop being sold here.
    for gone in before
        .iter()
        .filter(|b| b.active && !seen_products.contains(&b.stripe_product_id))
    {
        products::Entity::update_many()
            .col_expr(products::Column::Active, Expr::value(false))
            .col_expr(products::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(products::Column::Id.eq(gone.id))
            .exec(db)
            .await?;
        report.summary.deactivated += 1;
        report
            .drifts
            .push(unlisted("product", &gone.stripe_product_id));
    }
    for gone in before_prices
        .iter()
        .filter(|b| b.active && !seen_prices.contains(&b.stripe_price_id))
    {
        prices::Entity::update_many()
            .col_expr(prices::Column::Active, Expr::value(false))
            .col_expr(prices::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(prices::Column::Id.eq(gone.id))
            .exec(db)
            .await?;
        report.summary.deactivated += 1;
        report.drifts.push(unlisted("price", &gone.stripe_price_id));
    }
    Ok(report)
}

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
) -> Result<products::Model, SyncError> {
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

/// Stripe's interval as stored.
fn interval_of(i: &objects::Interval) -> Option<PriceInterval> {
    Some(match i {
        objects::Interval::Day => PriceInterval::Day,
        objects::Interval::Week => PriceInterval::Week,
        objects::Interval::Month => PriceInterval::Month,
        objects::Interval::Year => PriceInterval::Year,
        objects::Interval::Other(_) => return None,
    })
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
) -> Result<prices::Model, SyncError> {
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

/// Tollgate's id of a mirrored product, by Stripe id.
pub async fn product_id_of(
    db: &impl ConnectionTrait,
    stripe_id: &str,
) -> Result<Option<Uuid>, DbErr> {
    Ok(products::Entity::find()
        .filter(products::Column::StripeProductId.eq(stripe_id))
        .one(db)
        .await?
        .map(|p| p.id))
}
