use sea_orm_migration::{prelude::*, schema::*};

use super::m20261124_000001_create_customers::Customers;
use super::m20261124_000003_create_prices::Prices;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Payments::Table)
                    .if_not_exists()
                    .col(pk_uuid(Payments::Id))
                    .col(string(Payments::UserId))
                    .col(uuid_null(Payments::CustomerId))
                    // Null only while a create request's outcome at Stripe is unknown; the
                    // webhook or a retry with the same idempotency key fills it in.
                    .col(string_null(Payments::StripePaymentIntentId).unique_key())
                    .col(string_null(Payments::StripeIdempotencyKey))
                    .col(big_integer(Payments::Amount))
                    .col(string_len(Payments::Currency, 3))
                    .col(string(Payments::Status))
                    .col(text_null(Payments::Description))
                    .col(string_null(Payments::CardBrand))
                    .col(string_null(Payments::CardLast4))
                    .col(string_null(Payments::FailureCode))
                    .col(text_null(Payments::FailureMessage))
                    .col(big_integer(Payments::AmountRefunded).default(0))
                    .col(big_integer(Payments::RefundReserved).default(0))
                    .col(json(Payments::Metadata))
                    .col(uuid_null(Payments::PriceId))
                    .col(uuid_null(Payments::SubscriptionId))
                    .col(string_null(Payments::StripeInvoiceId))
                    .col(boolean(Payments::Disputed).default(false))
                    .col(timestamp_with_time_zone(Payments::SnapshotAt))
                    .col(timestamp_with_time_zone(Payments::CreatedAt))
                    .col(timestamp_with_time_zone(Payments::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("payments_customer_id_fkey")
                            .from(Payments::Table, Payments::CustomerId)
                            .to(Customers::Table, Customers::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("payments_price_id_fkey")
                            .from(Payments::Table, Payments::PriceId)
                            .to(Prices::Table, Prices::Id),
                    )
                    // Refunds (done and in flight) can never exceed the amount, whatever the
                    // code does: the database refuses it.
                    .check(
                        Expr::col(Payments::AmountRefunded)
                            .add(Expr::col(Payments::RefundReserved))
                            .lte(Expr::col(Payments::Amount)),
                    )
                    .check(Expr::col(Payments::AmountRefunded).gte(0))
                    .check(Expr::col(Payments::RefundReserved).gte(0))
                    .check(Expr::col(Payments::Amount).gt(0))
                    .to_owned(),
            )
            .await?;
        // Payment history: a user's payments, newest first.
        manager
            .create_index(
                Index::create()
                    .name("payments_user_id_created_at_idx")
                    .table(Payments::Table)
                    .col(Payments::UserId)
                    .col((Payments::CreatedAt, IndexOrder::Desc))
                    .col((Payments::Id, IndexOrder::Desc))
                    .to_owned(),
            )
            .await?;
        // Admin views and revenue: all payments, newest first, by status or currency.
        manager
            .create_index(
                Index::create()
                    .name("payments_created_at_idx")
                    .table(Payments::Table)
                    .col((Payments::CreatedAt, IndexOrder::Desc))
                    .col((Payments::Id, IndexOrder::Desc))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("payments_currency_created_at_idx")
                    .table(Payments::Table)
                    .col(Payments::Currency)
                    .col(Payments::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Payments::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Payments {
    Table,
    Id,
    UserId,
    CustomerId,
    StripePaymentIntentId,
    StripeIdempotencyKey,
    Amount,
    Currency,
    Status,
    Description,
    CardBrand,
    CardLast4,
    FailureCode,
    FailureMessage,
    AmountRefunded,
    RefundReserved,
    Metadata,
    PriceId,
    SubscriptionId,
    StripeInvoiceId,
    Disputed,
    SnapshotAt,
    CreatedAt,
    UpdatedAt,
}
