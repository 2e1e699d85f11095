//! A user subscribing to a product right now: the primary key (user, product) lets only one
//! `createSubscription` per product reach Stripe at a time, on any replica.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subscription_claims")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub product_id: Uuid,
    pub claimed_at: DateTimeUtc,
    /// The attempt holding it.
    pub owner: Uuid,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
