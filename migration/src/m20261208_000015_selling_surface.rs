//! The selling surface (DESIGN.md §6b): coupons and promotion codes mirrored from Stripe, seats
//! and discounts on subscriptions, why a subscription was canceled, quotes for plan changes,
//! and claims that keep one live subscription per product under concurrency.
//!
//! Columns are added one statement at a time (SQLite alters one column per statement), each
//! nullable or with a default so existing rows need nothing.
use sea_orm_migration::{prelude::*, schema::*};

use crate::columns::{add_columns, drop_columns};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_coupons(manager).await?;
        create_promotion_codes(manager).await?;
        create_quotes(manager).await?;
        create_claims(manager).await?;
        let subscription_columns = [
            integer(Subscriptions::Quantity).default(1).to_owned(),
            string_null(Subscriptions::DiscountCouponId),
            string_null(Subscriptions::DiscountPromotionCodeId),
            timestamp_with_time_zone_null(Subscriptions::DiscountStart),
            timestamp_with_time_zone_null(Subscriptions::DiscountEnd),
            string_null(Subscriptions::CancellationReason),
            text_null(Subscriptions::CancellationComment),
        ];
        add_columns(
            manager,
            Subscriptions::Table.into_iden(),
            subscription_columns,
        )
        .await?;
        let payment_columns = [
            integer_null(Payments::Quantity),
            big_integer(Payments::DiscountAmount).default(0).to_owned(),
        ];
        add_columns(manager, Payments::Table.into_iden(), payment_columns).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(
            manager,
            Payments::Table.into_iden(),
            [
                Payments::Quantity.into_iden(),
                Payments::DiscountAmount.into_iden(),
            ],
        )
        .await?;
        drop_columns(
            manager,
            Subscriptions::Table.into_iden(),
            [
                Subscriptions::Quantity.into_iden(),
                Subscriptions::DiscountCouponId.into_iden(),
                Subscriptions::DiscountPromotionCodeId.into_iden(),
                Subscriptions::DiscountStart.into_iden(),
                Subscriptions::DiscountEnd.into_iden(),
                Subscriptions::CancellationReason.into_iden(),
                Subscriptions::CancellationComment.into_iden(),
            ],
        )
        .await?;
        for table in [
            SubscriptionClaims::Table.into_iden(),
            SubscriptionQuotes::Table.into_iden(),
            PromotionCodes::Table.into_iden(),
            Coupons::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

async fn create_coupons(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Coupons::Table)
                .if_not_exists()
                .col(uuid(Coupons::Id).primary_key())
                .col(string_uniq(Coupons::StripeCouponId))
                .col(string_null(Coupons::Name))
                // A decimal string ("12.5"): percentages are never floats here.
                .col(string_null(Coupons::PercentOff))
                .col(big_integer_null(Coupons::AmountOff))
                .col(string_null(Coupons::Currency))
                .col(string(Coupons::Duration))
                .col(integer_null(Coupons::DurationInMonths))
                .col(integer_null(Coupons::MaxRedemptions))
                .col(integer(Coupons::TimesRedeemed))
                .col(timestamp_with_time_zone_null(Coupons::RedeemBy))
                .col(boolean(Coupons::Valid))
                // Stripe product ids it applies to (JSON array); null: every product.
                .col(json_null(Coupons::AppliesToProducts))
                .col(boolean(Coupons::Deleted))
                .col(timestamp_with_time_zone(Coupons::SnapshotAt))
                .col(timestamp_with_time_zone(Coupons::CreatedAt))
                .col(timestamp_with_time_zone(Coupons::UpdatedAt))
                .to_owned(),
        )
        .await
}

async fn create_promotion_codes(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(PromotionCodes::Table)
                .if_not_exists()
                .col(uuid(PromotionCodes::Id).primary_key())
                .col(string_uniq(PromotionCodes::StripePromotionCodeId))
                .col(string(PromotionCodes::Code))
                .col(string(PromotionCodes::StripeCouponId))
                .col(boolean(PromotionCodes::Active))
                .col(integer_null(PromotionCodes::MaxRedemptions))
                .col(integer(PromotionCodes::TimesRedeemed))
                .col(timestamp_with_time_zone_null(PromotionCodes::ExpiresAt))
                .col(boolean(PromotionCodes::FirstTimeTransaction))
                .col(timestamp_with_time_zone(PromotionCodes::SnapshotAt))
                .col(timestamp_with_time_zone(PromotionCodes::CreatedAt))
                .col(timestamp_with_time_zone(PromotionCodes::UpdatedAt))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("idx_promotion_codes_code")
                .table(PromotionCodes::Table)
                .col(PromotionCodes::Code)
                .to_owned(),
        )
        .await
}

async fn create_quotes(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(SubscriptionQuotes::Table)
                .if_not_exists()
                .col(uuid(SubscriptionQuotes::Id).primary_key())
                .col(string(SubscriptionQuotes::UserId))
                .col(uuid(SubscriptionQuotes::SubscriptionId))
                .col(string(SubscriptionQuotes::StripePriceId))
                .col(integer(SubscriptionQuotes::Quantity))
                .col(string_null(SubscriptionQuotes::StripePromotionCodeId))
                .col(timestamp_with_time_zone(SubscriptionQuotes::ProrationDate))
                .col(string(SubscriptionQuotes::Currency))
                .col(big_integer(SubscriptionQuotes::AmountDue))
                .col(big_integer(SubscriptionQuotes::NextInvoiceTotal))
                .col(json(SubscriptionQuotes::Lines))
                // What the subscription looked like at Stripe when quoted: a commit against
                // anything else is stale.
                .col(text(SubscriptionQuotes::Basis))
                .col(timestamp_with_time_zone(SubscriptionQuotes::ExpiresAt))
                .col(timestamp_with_time_zone_null(
                    SubscriptionQuotes::CommittedAt,
                ))
                // Set when the quote is sent to Stripe: the basis it was committed from. One
                // state of a subscription is committed from at most once (the unique index),
                // so two quotes committed at the same moment cannot both charge.
                .col(text_null(SubscriptionQuotes::CommittedBasis))
                .col(timestamp_with_time_zone(SubscriptionQuotes::CreatedAt))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("idx_subscription_quotes_one_commit_per_basis")
                .table(SubscriptionQuotes::Table)
                .col(SubscriptionQuotes::SubscriptionId)
                .col(SubscriptionQuotes::CommittedBasis)
                .unique()
                .to_owned(),
        )
        .await
}

async fn create_claims(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(SubscriptionClaims::Table)
                .if_not_exists()
                .col(string(SubscriptionClaims::UserId))
                .col(uuid(SubscriptionClaims::ProductId))
                .col(timestamp_with_time_zone(SubscriptionClaims::ClaimedAt))
                // The attempt holding it: only it releases it (an expired claim taken over by a
                // newer attempt is not the old attempt's to delete).
                .col(uuid(SubscriptionClaims::Owner))
                .primary_key(
                    Index::create()
                        .col(SubscriptionClaims::UserId)
                        .col(SubscriptionClaims::ProductId),
                )
                .to_owned(),
        )
        .await
}

#[derive(DeriveIden)]
enum Coupons {
    Table,
    Id,
    StripeCouponId,
    Name,
    PercentOff,
    AmountOff,
    Currency,
    Duration,
    DurationInMonths,
    MaxRedemptions,
    TimesRedeemed,
    RedeemBy,
    Valid,
    AppliesToProducts,
    Deleted,
    SnapshotAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PromotionCodes {
    Table,
    Id,
    StripePromotionCodeId,
    Code,
    StripeCouponId,
    Active,
    MaxRedemptions,
    TimesRedeemed,
    ExpiresAt,
    FirstTimeTransaction,
    SnapshotAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SubscriptionQuotes {
    Table,
    Id,
    UserId,
    SubscriptionId,
    StripePriceId,
    Quantity,
    StripePromotionCodeId,
    ProrationDate,
    Currency,
    AmountDue,
    NextInvoiceTotal,
    Lines,
    Basis,
    ExpiresAt,
    CommittedAt,
    CommittedBasis,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SubscriptionClaims {
    Table,
    UserId,
    ProductId,
    ClaimedAt,
    Owner,
}

#[derive(DeriveIden)]
enum Subscriptions {
    Table,
    Quantity,
    DiscountCouponId,
    DiscountPromotionCodeId,
    DiscountStart,
    DiscountEnd,
    CancellationReason,
    CancellationComment,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Quantity,
    DiscountAmount,
}
