//! Revenue per currency: what captured payments brought in, what was refunded of it, and what
//! lost disputes took back.

use chrono::{DateTime, Utc};
use entity::payments;
use sea_orm::{
    sea_query::Expr, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::{DisputeStatus, PaymentStatus};
use crate::error::ApiError;

/// Revenue of one currency over a period, in minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevenueLine {
    pub currency: String,
    pub gross: i64,
    pub refunded: i64,
    /// Taken back by disputes the merchant lost.
    pub disputes_lost: i64,
    /// What coupons took off these payments (not in `gross`: never captured).
    pub discounts: i64,
}

/// Captured payments per currency in [from, to): gross, refunded (net is the difference).
pub async fn revenue(
    db: &impl ConnectionTrait,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<RevenueLine>, ApiError> {
    use sea_orm::sea_query::{Alias, CaseStatement, Func};
    let mut query = payments::Entity::find()
        .select_only()
        .column(payments::Column::Currency)
        // SUM of BIGINT is NUMERIC on PostgreSQL; cast back so it reads as i64 on both.
        .column_as(Expr::cust("CAST(SUM(amount) AS BIGINT)"), "gross")
        .column_as(
            Expr::cust("CAST(SUM(amount_refunded) AS BIGINT)"),
            "refunded",
        )
        .column_as(
            // The status is a bound value, as everywhere: never a string spliced into SQL.
            Expr::expr(Func::cast_as(
                Func::sum(
                    CaseStatement::new()
                        .case(
                            payments::Column::DisputeStatus.eq(DisputeStatus::Lost),
                            Expr::col(payments::Column::DisputeAmount),
                        )
                        .finally(Expr::val(0_i64)),
                ),
                Alias::new("BIGINT"),
            )),
            "disputes_lost",
        )
        .column_as(
            Expr::cust("CAST(SUM(discount_amount) AS BIGINT)"),
            "discounts",
        )
        .filter(payments::Column::Status.is_in(PaymentStatus::CAPTURED))
        .group_by(payments::Column::Currency)
        .order_by_asc(payments::Column::Currency);
    if let Some(f) = from {
        query = query.filter(payments::Column::CreatedAt.gte(f));
    }
    if let Some(t) = to {
        query = query.filter(payments::Column::CreatedAt.lt(t));
    }
    let rows: Vec<(String, i64, i64, i64, i64)> = query.into_tuple().all(db).await?;
    Ok(rows
        .into_iter()
        .map(
            |(currency, gross, refunded, disputes_lost, discounts)| RevenueLine {
                currency,
                gross,
                refunded,
                disputes_lost,
                discounts,
            },
        )
        .collect())
}
