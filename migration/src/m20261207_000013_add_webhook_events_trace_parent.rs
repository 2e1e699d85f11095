//! The W3C `traceparent` of the span that received a webhook delivery, so the worker that
//! applies the event (perhaps on another replica, perhaps after a restart) continues the same
//! trace. Null when tracing is off. Nullable, so existing rows need no default.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookEvents {
    Table,
    TraceParent,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(WebhookEvents::Table)
                    .add_column(string_len_null(WebhookEvents::TraceParent, 64))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(WebhookEvents::Table)
                    .drop_column(WebhookEvents::TraceParent)
                    .to_owned(),
            )
            .await
    }
}
