use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SideEffects::Table)
                    .if_not_exists()
                    .col(pk_uuid(SideEffects::Id))
                    .col(string(SideEffects::StripeEventId))
                    .col(string(SideEffects::Kind))
                    .col(json(SideEffects::Payload))
                    .col(timestamp_with_time_zone(SideEffects::CreatedAt))
                    .to_owned(),
            )
            .await?;
        // What an event triggers happens once, however often the event is delivered.
        manager
            .create_index(
                Index::create()
                    .name("side_effects_stripe_event_id_kind_key")
                    .table(SideEffects::Table)
                    .col(SideEffects::StripeEventId)
                    .col(SideEffects::Kind)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SideEffects::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum SideEffects {
    Table,
    Id,
    StripeEventId,
    Kind,
    Payload,
    CreatedAt,
}
