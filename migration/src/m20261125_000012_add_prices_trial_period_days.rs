//! The free trial a recurring price offers (`price.recurring.trial_period_days` in Stripe), in
//! days; null when it offers none (and for one-time prices). Nullable, so existing rows need no
//! default and the column adds the same way on SQLite and PostgreSQL.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Prices {
    Table,
    TrialPeriodDays,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Prices::Table)
                    .add_column(integer_null(Prices::TrialPeriodDays))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Prices::Table)
                    .drop_column(Prices::TrialPeriodDays)
                    .to_owned(),
            )
            .await
    }
}
