//! The payment queries: the viewer's history and one payment, the admin history, revenue.

use async_graphql::{Context, Object, ID};
use chrono::{DateTime, Utc};

use super::{
    super::{context, money::MoneyType},
    connection::{admin_filter, page_args, page_for, viewer_filter, PaymentConnection},
    types::{Payment, PaymentStatus, RevenueLine},
};
use crate::{billing, error::GqlResult};

#[derive(Default)]
pub struct PaymentsQuery;

#[Object]
impl PaymentsQuery {
    /// The viewer's payments, newest first.
    async fn payments(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default = 20,
            desc = "How many to return (1–100; larger values are clamped)."
        )]
        first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (`pageInfo.endCursor` of the page before).")]
        after: Option<String>,
        #[graphql(desc = "Only payments in this status.")] status: Option<PaymentStatus>,
    ) -> GqlResult<PaymentConnection> {
        let viewer = context::viewer(ctx)?;
        let (first, after) = page_args(first, after)?;
        page_for(ctx, viewer_filter(viewer, status), first, after).await
    }

    /// One of the viewer's payments (any payment for admins). Another user's payment is
    /// `NOT_FOUND`, exactly like one that does not exist.
    async fn payment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The payment's Tollgate id.")] id: ID,
    ) -> GqlResult<Option<Payment>> {
        let viewer = context::viewer(ctx)?;
        let svc = context::services(ctx)?;
        Ok(Some(Payment::from(
            billing::payments::find_for_viewer(&svc.db, viewer, &id).await?,
        )))
    }

    /// Admin: every payment, newest first, filtered by status, user or currency.
    async fn admin_payments(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default = 20,
            desc = "How many to return (1–100; larger values are clamped)."
        )]
        first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (`pageInfo.endCursor` of the page before).")]
        after: Option<String>,
        #[graphql(desc = "Only payments in this status.")] status: Option<PaymentStatus>,
        #[graphql(desc = "Only this user's payments (their token's `sub`).")] user_id: Option<
            String,
        >,
        #[graphql(desc = "Only payments in this currency (lower-case ISO-4217).")] currency: Option<
            String,
        >,
    ) -> GqlResult<PaymentConnection> {
        context::admin(ctx)?;
        let (first, after) = page_args(first, after)?;
        page_for(ctx, admin_filter(status, user_id, currency), first, after).await
    }

    /// Admin: per currency, payments captured in [from, to) (gross, refunded, net) and the
    /// monthly recurring revenue of subscriptions active now.
    async fn revenue(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Payments created at or after this moment (default: all).")] from: Option<
            DateTime<Utc>,
        >,
        #[graphql(desc = "Payments created before this moment (default: now).")] to: Option<
            DateTime<Utc>,
        >,
    ) -> GqlResult<Vec<RevenueLine>> {
        context::admin(ctx)?;
        let svc = context::services(ctx)?;
        let lines = billing::payments::revenue(&svc.db, from, to).await?;
        let mrr: std::collections::BTreeMap<String, i64> = billing::subscriptions::mrr(&svc.db)
            .await?
            .into_iter()
            .collect();
        let mut currencies: Vec<String> = lines
            .iter()
            .map(|l| l.currency.clone())
            .chain(mrr.keys().cloned())
            .collect();
        currencies.sort();
        currencies.dedup();
        Ok(currencies
            .into_iter()
            .map(|currency| {
                let line = lines.iter().find(|l| l.currency == currency);
                let (gross, refunded, lost, discounts) = line.map_or((0, 0, 0, 0), |l| {
                    (l.gross, l.refunded, l.disputes_lost, l.discounts)
                });
                RevenueLine {
                    gross: MoneyType::from_parts(gross, &currency),
                    refunded: MoneyType::from_parts(refunded, &currency),
                    disputes_lost: MoneyType::from_parts(lost, &currency),
                    net: MoneyType::from_parts(gross - refunded - lost, &currency),
                    discounts: MoneyType::from_parts(discounts, &currency),
                    mrr: MoneyType::from_parts(mrr.get(&currency).copied().unwrap_or(0), &currency),
                    currency,
                }
            })
            .collect())
    }
}
