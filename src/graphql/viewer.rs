//! `viewer`: who is calling, and their billing identity.

use async_graphql::{Context, Object, ID};
use chrono::{DateTime, Utc};
use entity::customers;

use super::{context, payment_methods::PaymentMethod};
use crate::{auth, billing, error::GqlResult};

#[derive(Default)]
pub struct ViewerQuery;

#[Object]
impl ViewerQuery {
    /// The authenticated user.
    async fn viewer(&self, ctx: &Context<'_>) -> GqlResult<Viewer> {
        Ok(Viewer(context::viewer(ctx)?.clone()))
    }
}

/// The authenticated user, as the token describes them.
pub struct Viewer(pub auth::Viewer);

/// Who is asking: the signed-in user and their Stripe customer.
#[Object]
impl Viewer {
    /// The user id (the token's `sub`).
    async fn id(&self) -> ID {
        ID(self.0.user_id.clone())
    }

    /// The email in the token, when it is a plausible address.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }

    /// Whether the token carries the `admin` role.
    async fn is_admin(&self) -> bool {
        self.0.is_admin()
    }

    /// Their Stripe customer; null until their first payment or subscription creates it.
    async fn customer(&self, ctx: &Context<'_>) -> GqlResult<Option<Customer>> {
        let svc = context::services(ctx)?;
        Ok(billing::customers::find_for_user(&svc.db, &self.0.user_id)
            .await?
            .map(Customer))
    }

    /// Their saved payment methods, oldest first.
    async fn payment_methods(&self, ctx: &Context<'_>) -> GqlResult<Vec<PaymentMethod>> {
        let svc = context::services(ctx)?;
        let Some(customer) = billing::customers::find_for_user(&svc.db, &self.0.user_id).await?
        else {
            return Ok(vec![]);
        };
        let rows = billing::payment_methods::list_for_customer(&svc.db, customer.id).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let is_default = customer.default_payment_method_id.as_deref()
                    == Some(row.stripe_payment_method_id.as_str());
                PaymentMethod { row, is_default }
            })
            .collect())
    }
}

/// A user's Stripe customer.
pub struct Customer(pub customers::Model);

/// The viewer's customer at Stripe (one per user).
#[Object]
impl Customer {
    /// Tollgate's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Stripe's id (`cus_…`).
    async fn stripe_customer_id(&self) -> &str {
        &self.0.stripe_customer_id
    }

    /// The email Stripe holds for the customer.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }

    /// When the customer was created at Stripe.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
