//! The last `tollgate sync` of each kind (catalog, payments, subscriptions): when it ran and how
//! many differences from Stripe it found, and whether it repaired them. `/metrics`
//! reads it, so Prometheus can alert on drift and on checks that stopped running.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SyncChecks::Table)
                    .if_not_exists()
                    .col(string(SyncChecks::What).primary_key())
                    .col(timestamp_with_time_zone(SyncChecks::CheckedAt))
                    .col(integer(SyncChecks::Drifts))
                    .col(boolean(SyncChecks::Repaired))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SyncChecks::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum SyncChecks {
    Table,
    What,
    CheckedAt,
    Drifts,
    Repaired,
}
