use sea_orm_migration::{prelude::*, schema::*};

use super::m20261124_000002_create_products::Products;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Prices::Table)
                    .if_not_exists()
                    .col(pk_uuid(Prices::Id))
                    .col(string_uniq(Prices::StripePriceId))
                    .col(uuid(Prices::ProductId))
                    .col(string(Prices::StripeProductId))
                    .col(string_len(Prices::Currency, 3))
                    .col(big_integer_null(Prices::UnitAmount))
                    .col(string_null(Prices::RecurringInterval))
                    .col(integer_null(Prices::RecurringIntervalCount))
                    .col(boolean(Prices::Active))
                    .col(string_null(Prices::Nickname))
                    .col(timestamp_with_time_zone(Prices::SnapshotAt))
                    .col(timestamp_with_time_zone(Prices::CreatedAt))
                    .col(timestamp_with_time_zone(Prices::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("prices_product_id_fkey")
                            .from(Prices::Table, Prices::ProductId)
                            .to(Products::Table, Products::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("prices_product_id_idx")
                    .table(Prices::Table)
                    .col(Prices::ProductId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Prices::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Prices {
    Table,
    Id,
    StripePriceId,
    ProductId,
    StripeProductId,
    Currency,
    UnitAmount,
    RecurringInterval,
    RecurringIntervalCount,
    Active,
    Nickname,
    SnapshotAt,
    CreatedAt,
    UpdatedAt,
}
