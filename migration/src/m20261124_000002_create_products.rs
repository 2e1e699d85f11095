use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Products::Table)
                    .if_not_exists()
                    .col(pk_uuid(Products::Id))
                    .col(string_uniq(Products::StripeProductId))
                    .col(string(Products::Name))
                    .col(text_null(Products::Description))
                    .col(boolean(Products::Active))
                    .col(json(Products::Features))
                    .col(json(Products::Metadata))
                    .col(timestamp_with_time_zone(Products::SnapshotAt))
                    .col(timestamp_with_time_zone(Products::CreatedAt))
                    .col(timestamp_with_time_zone(Products::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Products::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Products {
    Table,
    Id,
    StripeProductId,
    Name,
    Description,
    Active,
    Features,
    Metadata,
    SnapshotAt,
    CreatedAt,
    UpdatedAt,
}
