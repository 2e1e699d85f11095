//! The local mirror of Stripe invoices (DESIGN.md §6b): number, status, amounts, period, lines,
//! the hosted page and PDF, and the subscription and payment they belong to.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Invoices::Table)
                    .if_not_exists()
                    .col(uuid(Invoices::Id).primary_key())
                    .col(string_uniq(Invoices::StripeInvoiceId))
                    .col(string(Invoices::UserId))
                    .col(uuid(Invoices::CustomerId))
                    .col(uuid_null(Invoices::SubscriptionId))
                    .col(string_null(Invoices::Number))
                    .col(string(Invoices::Status))
                    .col(string(Invoices::Currency))
                    .col(big_integer(Invoices::Subtotal))
                    .col(big_integer(Invoices::DiscountTotal))
                    .col(big_integer(Invoices::Tax))
                    .col(big_integer(Invoices::Total))
                    .col(big_integer(Invoices::AmountDue))
                    .col(big_integer(Invoices::AmountPaid))
                    .col(big_integer(Invoices::AmountRemaining))
                    .col(timestamp_with_time_zone_null(Invoices::PeriodStart))
                    .col(timestamp_with_time_zone_null(Invoices::PeriodEnd))
                    .col(text_null(Invoices::HostedInvoiceUrl))
                    .col(text_null(Invoices::InvoicePdf))
                    .col(string_null(Invoices::BillingReason))
                    // Every line, all pages of them (JSON array).
                    .col(json(Invoices::Lines))
                    .col(timestamp_with_time_zone(Invoices::StripeCreatedAt))
                    .col(timestamp_with_time_zone(Invoices::SnapshotAt))
                    .col(timestamp_with_time_zone(Invoices::CreatedAt))
                    .col(timestamp_with_time_zone(Invoices::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_invoices_user_created")
                    .table(Invoices::Table)
                    .col(Invoices::UserId)
                    .col(Invoices::StripeCreatedAt)
                    .col(Invoices::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Invoices::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Invoices {
    Table,
    Id,
    StripeInvoiceId,
    UserId,
    CustomerId,
    SubscriptionId,
    Number,
    Status,
    Currency,
    Subtotal,
    DiscountTotal,
    Tax,
    Total,
    AmountDue,
    AmountPaid,
    AmountRemaining,
    PeriodStart,
    PeriodEnd,
    HostedInvoiceUrl,
    InvoicePdf,
    BillingReason,
    Lines,
    StripeCreatedAt,
    SnapshotAt,
    CreatedAt,
    UpdatedAt,
}
