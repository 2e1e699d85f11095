//! Payment and refund rows read by column position, for the history page's one statement.
//!
//! sea-orm's own reader finds each column by name (a hash lookup and a string compare per
//! column per row; a `format!` per column for prefixed names) and, for every NULL, formats an
//! error that `Option` then throws away. A page of fifty payments with their refunds left-joined
//! is mostly NULL refund columns, and that reading was a third of the request's CPU. On
//! PostgreSQL the row is read straight from sqlx by position; other backends go through
//! sea-orm by position. The positions are the entities' column order, which is how the page's
//! statement selects them (`history::list`); `tests/api/page_statements.rs` compares what is read
//! here with rows read the ordinary way, on both backends.

use sea_orm::{
    sqlx::{self, postgres::PgRow, Postgres, Row, ValueRef},
    ActiveEnum, DbErr, QueryResult, TryGetable,
};

use entity::{payments, refunds};

use super::{Columns, PaymentRow, PaymentSummary};

/// Columns a `Columns::All` payment occupies (`payments::Model`'s fields).
pub const PAYMENT_COLUMNS: usize = 29;
/// Columns a `Columns::Summary` payment occupies (`history::SUMMARY_COLUMNS`).
pub const SUMMARY_COLUMN_COUNT: usize = 11;

/// One result row, read by position.
pub struct Positional<'a> {
    result: &'a QueryResult,
    pg: Option<&'a PgRow>,
}

impl<'a> Positional<'a> {
    pub fn new(result: &'a QueryResult) -> Self {
        Positional {
            result,
            pg: result.try_as_pg_row(),
        }
    }

    fn get<T>(&self, index: usize) -> Result<T, DbErr>
    where
        T: TryGetable + for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
    {
        match self.pg {
            Some(row) => row
                .try_get(index)
                .map_err(|e| DbErr::Type(format!("column {index}: {e}"))),
            None => self.result.try_get_by_index(index),
        }
    }

    /// A status column: stored as its string value.
    fn status<E: ActiveEnum<Value = String>>(&self, index: usize) -> Result<E, DbErr> {
        E::try_from_value(&self.get::<String>(index)?)
    }

    fn optional_status<E: ActiveEnum<Value = String>>(
        &self,
        index: usize,
    ) -> Result<Option<E>, DbErr> {
        self.get::<Option<String>>(index)?
            .map(|v| E::try_from_value(&v))
            .transpose()
    }

    fn is_null(&self, index: usize) -> Result<bool, DbErr> {
        match self.pg {
            Some(row) => row
                .try_get_raw(index)
                .map(|v| v.is_null())
                .map_err(|e| DbErr::Type(format!("column {index}: {e}"))),
            None => Ok(self
                .result
                .try_get_by_index::<Option<uuid::Uuid>>(index)?
                .is_none()),
        }
    }

    /// The id of the payment at the start of the row (both column sets begin with it).
    pub fn payment_id(&self) -> Result<uuid::Uuid, DbErr> {
        self.get(0)
    }

    /// The payment at the start of the row, read as `columns` selects it.
    pub fn payment(&self, columns: Columns) -> Result<PaymentRow, DbErr> {
        Ok(match columns {
            Columns::All => PaymentRow::Whole(Box::new(self.whole_payment()?)),
            Columns::Summary => PaymentRow::Summary(self.summary_payment()?),
        })
    }

    fn whole_payment(&self) -> Result<payments::Model, DbErr> {
        Ok(payments::Model {
            id: self.payment_id()?,
            user_id: self.get(1)?,
            customer_id: self.get(2)?,
            stripe_payment_intent_id: self.get(3)?,
            stripe_idempotency_key: self.get(4)?,
            amount: self.get(5)?,
            currency: self.get(6)?,
            status: self.status(7)?,
            description: self.get(8)?,
            card_brand: self.get(9)?,
            card_last4: self.get(10)?,
            failure_code: self.get(11)?,
            failure_message: self.get(12)?,
            amount_refunded: self.get(13)?,
            refund_reserved: self.get(14)?,
            metadata: self.get(15)?,
            price_id: self.get(16)?,
            subscription_id: self.get(17)?,
            stripe_invoice_id: self.get(18)?,
            disputed: self.get(19)?,
            dispute_status: self.optional_status(20)?,
            dispute_amount: self.get(21)?,
            snapshot_at: self.get(22)?,
            created_at: self.get(23)?,
            updated_at: self.get(24)?,
            quantity: self.get(25)?,
            discount_amount: self.get(26)?,
            receipt_url: self.get(27)?,
            receipt_number: self.get(28)?,
        })
    }

    /// The summary's columns, in `history::SUMMARY_COLUMNS`' order.
    fn summary_payment(&self) -> Result<PaymentSummary, DbErr> {
        Ok(PaymentSummary {
            id: self.get(0)?,
            user_id: self.get(1)?,
            customer_id: self.get(2)?,
            amount: self.get(3)?,
            currency: self.get(4)?,
            status: self.status(5)?,
            card_brand: self.get(6)?,
            card_last4: self.get(7)?,
            amount_refunded: self.get(8)?,
            disputed: self.get(9)?,
            created_at: self.get(10)?,
        })
    }

    /// The refund whose columns start at `at`; None where a left join found none.
    pub fn refund(&self, at: usize) -> Result<Option<refunds::Model>, DbErr> {
        if self.is_null(at)? {
            return Ok(None);
        }
        Ok(Some(refunds::Model {
            id: self.get(at)?,
            payment_id: self.get(at + 1)?,
            stripe_refund_id: self.get(at + 2)?,
            amount: self.get(at + 3)?,
            currency: self.get(at + 4)?,
            reason: self.get(at + 5)?,
            status: self.status(at + 6)?,
            failure_reason: self.get(at + 7)?,
            requested_by: self.get(at + 8)?,
            snapshot_at: self.get(at + 9)?,
            created_at: self.get(at + 10)?,
            updated_at: self.get(at + 11)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{IdenStatic, Iterable};

    use super::*;

    /// The positions above are the entities' column order; a new column must move them.
    #[test]
    fn positions_follow_the_entities_column_order() {
        let names = |it: Vec<&'static str>| it.join(",");
        assert_eq!(
            names(payments::Column::iter().map(|c| c.as_str()).collect()),
            "id,user_id,customer_id,stripe_payment_intent_id,stripe_idempotency_key,amount,\
             currency,status,description,card_brand,card_last4,failure_code,failure_message,\
             amount_refunded,refund_reserved,metadata,price_id,subscription_id,\
             stripe_invoice_id,disputed,dispute_status,dispute_amount,snapshot_at,created_at,\
             updated_at,quantity,discount_amount,receipt_url,receipt_number"
        );
        assert_eq!(payments::Column::iter().count(), PAYMENT_COLUMNS);
        assert_eq!(
            names(refunds::Column::iter().map(|c| c.as_str()).collect()),
            "id,payment_id,stripe_refund_id,amount,currency,reason,status,failure_reason,\
             requested_by,snapshot_at,created_at,updated_at"
        );
        assert_eq!(
            names(
                super::super::SUMMARY_COLUMNS
                    .iter()
                    .map(|c| c.as_str())
                    .collect()
            ),
            "id,user_id,customer_id,amount,currency,status,card_brand,card_last4,\
             amount_refunded,disputed,created_at"
        );
        assert_eq!(super::super::SUMMARY_COLUMNS.len(), SUMMARY_COLUMN_COUNT);
    }
}
