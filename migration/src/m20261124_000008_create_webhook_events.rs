use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookEvents::Table)
                    .if_not_exists()
                    .col(pk_uuid(WebhookEvents::Id))
                    // A redelivery of the same event is a no-op (ON CONFLICT DO NOTHING).
                    .col(string_uniq(WebhookEvents::StripeEventId))
                    .col(string(WebhookEvents::EventType))
                    .col(text(WebhookEvents::Payload))
                    .col(string_null(WebhookEvents::ApiVersion))
                    .col(boolean(WebhookEvents::Livemode))
                    .col(timestamp_with_time_zone(WebhookEvents::StripeCreatedAt))
                    .col(timestamp_with_time_zone(WebhookEvents::ReceivedAt))
                    .col(string(WebhookEvents::Status))
                    .col(integer(WebhookEvents::Attempts).default(0))
                    .col(timestamp_with_time_zone(WebhookEvents::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(WebhookEvents::ProcessedAt))
                    .col(text_null(WebhookEvents::LastError))
                    .to_owned(),
            )
            .await?;
        // The worker's queue, in the order it is drained: pending events, oldest first. With
        // (status, next_attempt_at) instead, every claim sorted all pending rows: quadratic.
        manager
            .create_index(
                Index::create()
                    .name("webhook_events_queue_idx")
                    .table(WebhookEvents::Table)
                    .col(WebhookEvents::Status)
                    .col(WebhookEvents::StripeCreatedAt)
                    .col(WebhookEvents::ReceivedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("webhook_events_received_at_idx")
                    .table(WebhookEvents::Table)
                    .col((WebhookEvents::ReceivedAt, IndexOrder::Desc))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum WebhookEvents {
    Table,
    Id,
    StripeEventId,
    EventType,
    Payload,
    ApiVersion,
    Livemode,
    StripeCreatedAt,
    ReceivedAt,
    Status,
    Attempts,
    NextAttemptAt,
    ProcessedAt,
    LastError,
}
