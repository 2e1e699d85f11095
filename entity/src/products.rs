//! Mirror of Stripe products.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "products")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub stripe_product_id: String,
    pub name: String,
    pub description: Option<String>,
    pub active: bool,
    /// Marketing features, a JSON array of strings.
    pub features: Json,
    pub metadata: Json,
    pub snapshot_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::prices::Entity")]
    Prices,
}

impl Related<super::prices::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Prices.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
