//! `tollgate sync catalog`: every product and price Stripe lists, mirrored (`catalog::mirror`),
//! and local ones Stripe no longer lists deactivated; then every coupon and promotion code
//! (`sync::discounts`); each field that moved is a drift.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use entity::{prices, products};
use sea_orm::{sea_query::Expr, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::{Drift, Report, SyncError};
use crate::{
    billing::catalog::{apply_price, apply_product, find_product, Applied},
    stripe::{objects, requests, StripeClient, StripeError},
};

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

/// A catalog object's compared fields: (name, value as text).
type Fields<const N: usize> = [(&'static str, Option<String>); N];

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
    super::differences(object, id, &pairs)
}

/// Pulls every product and price from Stripe and mirrors them; local ones Stripe no longer
/// lists are deactivated. `progress(done, total)` is called after each object.
pub async fn sync_catalog(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Report, SyncError> {
    let snapshot_at = Utc::now();
    let products = all_products(stripe).await?;
    let prices = all_prices(stripe).await?;
    let total = products.len() + prices.len();
    let mut report = Report {
        fetched: total,
        ..Report::default()
    };
    let counted = |done: usize| progress(done, total);
    sync_products(db, &products, snapshot_at, &mut report, &counted).await?;
    let offset = products.len();
    sync_prices(db, &prices, snapshot_at, &mut report, &|done| {
        counted(offset + done)
    })
    .await?;
    super::discounts::sync_discounts(db, stripe, snapshot_at, &mut report).await?;
    Ok(report)
}

/// Every product Stripe lists, applied; then the local ones it no longer lists deactivated.
async fn sync_products(
    db: &impl ConnectionTrait,
    products: &[objects::Product],
    snapshot_at: DateTime<Utc>,
    report: &mut Report,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<(), SyncError> {
    let before: Vec<products::Model> = products::Entity::find().all(db).await?;
    let mut seen = HashSet::new();
    for (i, p) in products.iter().enumerate() {
        let was = before.iter().find(|b| b.stripe_product_id == p.id);
        let (row, applied) = apply_product(db, p, snapshot_at).await?;
        report.record(
            "product",
            &p.id,
            applied,
            was.map(|b| (b.active, product_fields(b))),
            (row.active, product_fields(&row)),
        );
        seen.insert(p.id.as_str());
        progress(i + 1);
    }
    // Objects Stripe no longer lists (deleted there) stop being sold here.
    for gone in before
        .iter()
        .filter(|b| b.active && !seen.contains(b.stripe_product_id.as_str()))
    {
        products::Entity::update_many()
            .col_expr(products::Column::Active, Expr::value(false))
            .col_expr(products::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(products::Column::Id.eq(gone.id))
            .exec(db)
            .await?;
        report.deactivated += 1;
        report
            .drifts
            .push(Drift::unlisted("product", &gone.stripe_product_id));
    }
    Ok(())
}

/// Every price Stripe lists, applied; then the local ones it no longer lists deactivated.
async fn sync_prices(
    db: &impl ConnectionTrait,
    prices: &[objects::Price],
    snapshot_at: DateTime<Utc>,
    report: &mut Report,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<(), SyncError> {
    let before: Vec<prices::Model> = prices::Entity::find().all(db).await?;
    let mut seen = HashSet::new();
    for (i, p) in prices.iter().enumerate() {
        let product = find_product(db, p.product.id()).await?;
        let was = before.iter().find(|b| b.stripe_price_id == p.id);
        let (row, applied) = apply_price(db, p, product.id, snapshot_at).await?;
        report.record(
            "price",
            &p.id,
            applied,
            was.map(|b| (b.active, price_fields(b))),
            (row.active, price_fields(&row)),
        );
        seen.insert(p.id.as_str());
        progress(i + 1);
    }
    for gone in before
        .iter()
        .filter(|b| b.active && !seen.contains(b.stripe_price_id.as_str()))
    {
        prices::Entity::update_many()
            .col_expr(prices::Column::Active, Expr::value(false))
            .col_expr(prices::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(prices::Column::Id.eq(gone.id))
            .exec(db)
            .await?;
        report.deactivated += 1;
        report
            .drifts
            .push(Drift::unlisted("price", &gone.stripe_price_id));
    }
    Ok(())
}

impl Report {
    /// Counts one applied catalog object and records how its fields moved (nothing for a
    /// stale snapshot, which changed nothing). `before` and `after` are (active, fields).
    fn record<const N: usize>(
        &mut self,
        object: &'static str,
        id: &str,
        applied: Applied,
        before: Option<(bool, Fields<N>)>,
        after: (bool, Fields<N>),
    ) {
        let was_active = before.as_ref().map(|(active, _)| *active);
        match applied {
            Applied::Created => self.created += 1,
            Applied::Updated if was_active == Some(true) && !after.0 => self.deactivated += 1,
            Applied::Updated => self.updated += 1,
            Applied::Unchanged | Applied::Stale => self.unchanged += 1,
        }
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
