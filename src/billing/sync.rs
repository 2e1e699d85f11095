//! Repairing drift: re-fetch objects from Stripe and apply them as fresh snapshots, through
//! the same functions webhooks use. Useful after an outage of the webhook endpoint, or to
//! adopt payments made outside Tollgate. One `Report` (counts and each `Drift`) for all three:
//!
//! - `catalog`: every product and price (`tollgate sync catalog`);
//! - `payments`: PaymentIntents created since a moment;
//! - `subscriptions`: every subscription.
//!
//! `check` runs any of them in a transaction it rolls back: exactly what the repair would
//! change, nothing written (`tollgate sync … --check`).

mod catalog;
mod discounts;
mod payments;
mod subscriptions;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr};

pub use catalog::sync_catalog;
pub use payments::sync_payments;
pub use subscriptions::sync_subscriptions;

use crate::{
    error::ApiError,
    stripe::{StripeClient, StripeError},
};

/// What to sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    Catalog,
    Payments { since: DateTime<Utc> },
    Subscriptions,
}

impl What {
    /// Its name, as the command line and the JSON report spell it.
    pub fn name(self) -> &'static str {
        match self {
            What::Catalog => "catalog",
            What::Payments { .. } => "payments",
            What::Subscriptions => "subscriptions",
        }
    }
}

/// Why a sync stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Stripe(#[from] StripeError),
    #[error(transparent)]
    Db(#[from] DbErr),
    /// For operators: Stripe's own words, an internal cause's chain.
    #[error("{}", .0.operator_detail())]
    Api(#[from] ApiError),
}

impl From<crate::billing::catalog::CatalogError> for SyncError {
    fn from(e: crate::billing::catalog::CatalogError) -> Self {
        match e {
            crate::billing::catalog::CatalogError::Stripe(s) => SyncError::Stripe(s),
            crate::billing::catalog::CatalogError::Db(d) => SyncError::Db(d),
        }
    }
}

/// Runs the sync: repairs what drifted and reports it. `progress(done, total)` after each
/// object.
pub async fn run(
    db: &impl sea_orm::ConnectionTrait,
    stripe: &StripeClient,
    what: What,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Report, SyncError> {
    match what {
        What::Catalog => sync_catalog(db, stripe, progress).await,
        What::Payments { since } => sync_payments(db, stripe, since, progress).await,
        What::Subscriptions => sync_subscriptions(db, stripe, progress).await,
    }
}

/// `run` in a transaction that is rolled back: the report lists each drift, nothing is
/// written.
#[tracing::instrument(name = "db.transaction", skip_all, fields(otel.name = "transaction sync check", otel.kind = "client"))]
pub async fn check(
    db: &DatabaseConnection,
    stripe: &StripeClient,
    what: What,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Report, SyncError> {
    let txn = crate::db::begin(db).await?;
    let report = run(&txn, stripe, what, progress).await;
    txn.rollback().await?;
    report
}

/// Remembers this run for `/metrics` (`tollgate_sync_drifts`, `tollgate_sync_checked_timestamp_seconds`):
/// how many differences it found and whether it repaired them. One row per kind, replaced.
pub async fn record(
    db: &DatabaseConnection,
    what: What,
    report: &Report,
    repaired: bool,
) -> Result<(), DbErr> {
    use entity::sync_checks;
    use sea_orm::{sea_query::OnConflict, EntityTrait, Set};
    let row = sync_checks::ActiveModel {
        what: Set(what.name().to_owned()),
        checked_at: Set(Utc::now()),
        drifts: Set(i32::try_from(report.drifts.len()).unwrap_or(i32::MAX)),
        repaired: Set(repaired),
    };
    sync_checks::Entity::insert(row)
        .on_conflict(
            OnConflict::column(sync_checks::Column::What)
                .update_columns([
                    sync_checks::Column::CheckedAt,
                    sync_checks::Column::Drifts,
                    sync_checks::Column::Repaired,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// What a sync changed (or, checking, would change).
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub fetched: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Local objects Stripe no longer lists (the catalog), or lists as inactive now.
    pub deactivated: usize,
    /// Objects of customers Tollgate does not know.
    pub skipped: usize,
    /// Each difference between the local copy and Stripe.
    pub drifts: Vec<Drift>,
}

/// One field of one object where the local copy and Stripe disagree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Drift {
    /// `payment`, `subscription`, `product` or `price`.
    pub object: &'static str,
    /// Stripe's id of it.
    pub id: String,
    pub field: &'static str,
    /// None: missing locally.
    pub local: Option<String>,
    pub stripe: Option<String>,
}

/// The fields of one object whose local and Stripe values differ.
pub fn differences(
    object: &'static str,
    id: &str,
    pairs: &[(&'static str, Option<String>, Option<String>)],
) -> Vec<Drift> {
    pairs
        .iter()
        .filter(|(_, local, stripe)| local != stripe)
        .map(|(field, local, stripe)| Drift {
            object,
            id: id.to_owned(),
            field,
            local: local.clone(),
            stripe: stripe.clone(),
        })
        .collect()
}

impl Drift {
    /// A local object Stripe no longer lists.
    pub fn unlisted(object: &'static str, id: &str) -> Drift {
        Drift {
            object,
            id: id.to_owned(),
            field: "exists",
            local: Some("yes".into()),
            stripe: None,
        }
    }

    /// An object Stripe has and the local copy lacks.
    pub fn missing(object: &'static str, id: &str) -> Drift {
        Drift {
            object,
            id: id.to_owned(),
            field: "exists",
            local: None,
            stripe: Some("yes".into()),
        }
    }
}

impl Report {
    pub(super) fn compare(
        &mut self,
        object: &'static str,
        id: &str,
        pairs: &[(&'static str, Option<String>, Option<String>)],
    ) {
        let drifts = differences(object, id, pairs);
        if drifts.is_empty() {
            self.unchanged += 1;
        } else {
            self.updated += 1;
            self.drifts.extend(drifts);
        }
    }

    pub(super) fn missing(&mut self, object: &'static str, id: &str) {
        self.created += 1;
        self.drifts.push(Drift::missing(object, id));
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "fetched {} / created {} / updated {} / unchanged {} / deactivated {} / skipped {}",
            self.fetched,
            self.created,
            self.updated,
            self.unchanged,
            self.deactivated,
            self.skipped
        )
    }
}
