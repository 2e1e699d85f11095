//! Applying a Stripe snapshot to a mirrored row (catalog, coupons, promotion codes): inserted
//! when new, updated when newer, never written over a newer one.

use chrono::{DateTime, Utc};
use sea_orm::{
    sea_query::{Expr, OnConflict},
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
};

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
pub(crate) struct Snapshot<E: EntityTrait> {
    pub stripe_id: String,
    pub snapshot_at: DateTime<Utc>,
    /// The row to insert when none exists yet.
    pub insert: E::ActiveModel,
    /// The values to write over an existing row.
    pub values: Vec<(E::Column, sea_orm::Value)>,
    /// The existing row's `updated_at`, and whether the snapshot changes nothing in it.
    pub existing: Option<(DateTime<Utc>, bool)>,
}

/// The columns every mirrored table shares.
pub(crate) struct MirrorColumns<C> {
    pub stripe_id: C,
    pub snapshot_at: C,
    pub updated_at: C,
}

/// Inserts or updates one mirrored row. An older snapshot never overwrites a newer one: the
/// guard is in the UPDATE's WHERE clause, so it holds under races; a concurrent insert makes
/// the loser fall through to the same guarded update.
pub(crate) async fn upsert_guarded<E>(
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
