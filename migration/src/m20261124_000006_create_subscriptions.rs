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
                    .table(Subscriptions::Table)
                    .if_not_exists()
                    .col(pk_uuid(Subscriptions::Id))
                    .col(string(Subscriptions::UserId))
                    .col(uuid(Subscriptions::CustomerId))
                    .col(string_uniq(Subscriptions::StripeSubscriptionId))
                    .col(uuid_null(Subscriptions::PriceId))
                    .col(string(Subscriptions::StripePriceId))
                    .col(string(Subscriptions::Status))
                    .col(timestamp_with_time_zone_null(
                        Subscriptions::CurrentPeriodStart,
                    ))
                    .col(timestamp_with_time_zone_null(
                        Subscriptions::CurrentPeriodEnd,
                    ))
                    .col(timestamp_with_time_zone_null(Subscriptions::TrialStart))
                    .col(timestamp_with_time_zone_null(Subscriptions::TrialEnd))
                    .col(boolean(Subscriptions::CancelAtPeriodEnd).default(false))
                    .col(timestamp_with_time_zone_null(Subscriptions::CancelAt))
                    .col(timestamp_with_time_zone_null(Subscriptions::CanceledAt))
                    .col(timestamp_with_time_zone_null(Subscriptions::EndedAt))
                    .col(string_null(Subscriptions::LatestInvoiceId))
                    .col(timestamp_with_time_zone(Subscriptions::SnapshotAt))
                    .col(timestamp_with_time_zone(Subscriptions::CreatedAt))
                    .col(timestamp_with_time_zone(Subscriptions::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("subscriptions_customer_id_fkey")
                            .from(Subscriptions::Table, Subscriptions::CustomerId)
                            .to(Customers::Table, Customers::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("subscriptions_price_id_fkey")
                            .from(Subscriptions::Table, Subscriptions::PriceId)
                            .to(Prices::Table, Prices::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("subscriptions_user_id_created_at_idx")
                    .table(Subscriptions::Table)
                    .col(Subscriptions::UserId)
                    .col((Subscriptions::CreatedAt, IndexOrder::Desc))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Subscriptions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Subscriptions {
    Table,
    Id,
    UserId,
    CustomerId,
    StripeSubscriptionId,
    PriceId,
    StripePriceId,
    Status,
    CurrentPeriodStart,
    CurrentPeriodEnd,
    TrialStart,
    TrialEnd,
    CancelAtPeriodEnd,
    CancelAt,
    CanceledAt,
    EndedAt,
    LatestInvoiceId,
    SnapshotAt,
    CreatedAt,
    UpdatedAt,
}
