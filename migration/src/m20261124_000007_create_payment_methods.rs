use sea_orm_migration::{prelude::*, schema::*};

use super::m20261124_000001_create_customers::Customers;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PaymentMethods::Table)
                    .if_not_exists()
                    .col(pk_uuid(PaymentMethods::Id))
                    .col(uuid(PaymentMethods::CustomerId))
                    .col(string_uniq(PaymentMethods::StripePaymentMethodId))
                    .col(string(PaymentMethods::Type))
                    .col(string_null(PaymentMethods::Brand))
                    .col(string_len_null(PaymentMethods::Last4, 4))
                    .col(integer_null(PaymentMethods::ExpMonth))
                    .col(integer_null(PaymentMethods::ExpYear))
                    .col(timestamp_with_time_zone(PaymentMethods::SnapshotAt))
                    .col(timestamp_with_time_zone(PaymentMethods::CreatedAt))
                    .col(timestamp_with_time_zone(PaymentMethods::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("payment_methods_customer_id_fkey")
                            .from(PaymentMethods::Table, PaymentMethods::CustomerId)
                            .to(Customers::Table, Customers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("payment_methods_customer_id_idx")
                    .table(PaymentMethods::Table)
                    .col(PaymentMethods::CustomerId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PaymentMethods::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum PaymentMethods {
    Table,
    Id,
    CustomerId,
    StripePaymentMethodId,
    Type,
    Brand,
    Last4,
    ExpMonth,
    ExpYear,
    SnapshotAt,
    CreatedAt,
    UpdatedAt,
}
