//! Adding and dropping several columns of a table: one statement each, because SQLite alters
//! one column per statement.
use sea_orm_migration::prelude::*;

pub async fn add_columns(
    manager: &SchemaManager<'_>,
    table: DynIden,
    columns: impl IntoIterator<Item = ColumnDef>,
) -> Result<(), DbErr> {
    for mut column in columns {
        manager
            .alter_table(
                Table::alter()
                    .table(table.clone())
                    .add_column(&mut column)
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

pub async fn drop_columns(
    manager: &SchemaManager<'_>,
    table: DynIden,
    columns: impl IntoIterator<Item = DynIden>,
) -> Result<(), DbErr> {
    for column in columns {
        manager
            .alter_table(
                Table::alter()
                    .table(table.clone())
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}
