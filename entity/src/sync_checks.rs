//! The last `tollgate sync` of each kind, for `/metrics` (drift alerts).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_checks")]
pub struct Model {
    /// `catalog`, `payments` or `subscriptions`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub what: String,
    pub checked_at: DateTimeUtc,
    /// Differences from Stripe the run found.
    pub drifts: i32,
    /// True when the run repaired them (`tollgate sync`), false for `--check` (nothing written).
    pub repaired: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
