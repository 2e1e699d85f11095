//! A payment's receipt, from its charge: Stripe's receipt page and number. Nullable: older rows
//! and payments Stripe has not charged have none.
use sea_orm_migration::{prelude::*, schema::*};

use crate::columns::{add_columns, drop_columns};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Payments {
    Table,
    ReceiptUrl,
    ReceiptNumber,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            manager,
            Payments::Table.into_iden(),
            [
                text_null(Payments::ReceiptUrl),
                string_null(Payments::ReceiptNumber),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(
            manager,
            Payments::Table.into_iden(),
            [
                Payments::ReceiptUrl.into_iden(),
                Payments::ReceiptNumber.into_iden(),
            ],
        )
        .await
    }
}
