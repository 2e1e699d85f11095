use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Customers::Table)
                    .if_not_exists()
                    .col(pk_uuid(Customers::Id))
                    // Inline UNIQUE: PostgreSQL names these `customers_user_id_key` etc.
                    .col(string_uniq(Customers::UserId))
                    .col(string_uniq(Customers::StripeCustomerId))
                    .col(string_null(Customers::Email))
                    .col(string_null(Customers::DefaultPaymentMethodId))
                    .col(timestamp_with_time_zone(Customers::SnapshotAt))
                    .col(timestamp_with_time_zone(Customers::CreatedAt))
                    .col(timestamp_with_time_zone(Customers::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Customers::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Customers {
    Table,
    Id,
    UserId,
    StripeCustomerId,
    Email,
    DefaultPaymentMethodId,
    SnapshotAt,
    CreatedAt,
    UpdatedAt,
}
