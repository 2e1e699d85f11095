//! Client idempotency keys of money-moving mutations, unique per (user, key).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: String,
    pub key: String,
    /// The mutation the key was first used with.
    pub operation: String,
    /// SHA-256 of the operation and its canonical input.
    pub request_fingerprint: String,
    /// The stored response (JSON); None while the first request is still running.
    pub response: Option<Json>,
    pub created_at: DateTimeUtc,
    pub locked_until: Option<DateTimeUtc>,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
