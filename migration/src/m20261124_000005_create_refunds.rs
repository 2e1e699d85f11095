use sea_orm_migration::{prelude::*, schema::*};

use super::m20261124_000004_create_payments::Payments;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Refunds::Table)
                    .if_not_exists()
                    .col(pk_uuid(Refunds::Id))
                    .col(uuid(Refunds::PaymentId))
                    // Nullable: a refund is reserved locally before Stripe assigns its id.
                    .col(string_null(Refunds::StripeRefundId).unique_key())
                    .col(big_integer(Refunds::Amount))
                    .col(string_len(Refunds::Currency, 3))
                    .col(string_null(Refunds::Reason))
                    .col(string(Refunds::Status))
                    .col(text_null(Refunds::FailureReason))
                    .col(string_null(Refunds::RequestedBy))
                    .col(timestamp_with_time_zone(Refunds::SnapshotAt))
                    .col(timestamp_with_time_zone(Refunds::CreatedAt))
                    .col(timestamp_with_time_zone(Refunds::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("refunds_payment_id_fkey")
                            .from(Refunds::Table, Refunds::PaymentId)
                            .to(Payments::Table, Payments::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .check(Expr::col(Refunds::Amount).gt(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("refunds_payment_id_idx")
                    .table(Refunds::Table)
                    .col(Refunds::PaymentId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Refunds::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Refunds {
    Table,
    Id,
    PaymentId,
    StripeRefundId,
    Amount,
    Currency,
    Reason,
    Status,
    FailureReason,
    RequestedBy,
    SnapshotAt,
    CreatedAt,
    UpdatedAt,
}
