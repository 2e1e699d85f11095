//! One Stripe customer per user, created on first need.
//!
//! Exactly-once under concurrent first requests comes from two things: the Stripe request uses
//! an idempotency key derived from the user id, so concurrent creates get the same Stripe
//! customer back; and the `customers.user_id` unique constraint lets one local row win. If two
//! Stripe customers ever exist for one user (e.g. a crash between Stripe's answer and our write,
//! retried after Stripe forgot the key 24 h later), the row already in the database is
//! canonical — it may already have payments — and the other is tagged in Stripe as an orphan.

use chrono::Utc;
use entity::customers;
use sea_orm::{
    sea_query::OnConflict, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use std::collections::HashMap;
use uuid::Uuid;

use crate::{
    auth::Viewer,
    error::ApiError,
    stripe::{objects, requests::customer as req, IdempotencyKey, StripeClient},
};

pub async fn find_for_user(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Option<customers::Model>, ApiError> {
    Ok(customers::Entity::find()
        .filter(customers::Column::UserId.eq(user_id))
        .one(db)
        .await?)
}

pub async fn find_by_stripe_id(
    db: &impl ConnectionTrait,
    stripe_customer_id: &str,
) -> Result<Option<customers::Model>, ApiError> {
    Ok(customers::Entity::find()
        .filter(customers::Column::StripeCustomerId.eq(stripe_customer_id))
        .one(db)
        .await?)
}

/// The viewer's customer, created in Stripe and locally if it does not exist yet.
pub async fn ensure_customer(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
) -> Result<customers::Model, ApiError> {
    if let Some(existing) = find_for_user(db, &viewer.user_id).await? {
        return Ok(existing);
    }
    let key = crate::billing::idempotency::stripe_key_for(&viewer.user_id, "", "customer")?;
    let mut request = req::CreateCustomer::new().metadata(HashMap::from([(
        "tollgate_user_id".to_string(),
        viewer.user_id.clone(),
    )]));
    if let Some(email) = &viewer.email {
        request = request.email(email.clone());
    }
    let created: objects::Customer = stripe.send(&request, Some(&key)).await?;
    let now = Utc::now();
    let row = customers::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(viewer.user_id.clone()),
        stripe_customer_id: Set(created.id.clone()),
        email: Set(created.email.clone().or_else(|| viewer.email.clone())),
        default_payment_method_id: Set(None),
        snapshot_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
    };
    // Concurrent first requests all got the same Stripe customer (same key); one insert wins.
    customers::Entity::insert(row)
        .on_conflict(
            OnConflict::column(customers::Column::UserId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    let canonical = find_for_user(db, &viewer.user_id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("customer row missing after insert")))?;
    if canonical.stripe_customer_id != created.id {
        tracing::warn!(
            user_id = %viewer.user_id,
            canonical = %canonical.stripe_customer_id,
            orphan = %created.id,
            "a second Stripe customer was created for a user; keeping the recorded one"
        );
        tag_orphan(stripe, &created.id, &canonical.stripe_customer_id).await;
    }
    Ok(canonical)
}

/// Best effort: marks a duplicate Stripe customer so an operator can clean it up.
async fn tag_orphan(stripe: &StripeClient, orphan: &str, canonical: &str) {
    let update = req::UpdateCustomer::new(orphan).metadata(HashMap::from([
        (
            "tollgate_canonical_customer".to_string(),
            canonical.to_string(),
        ),
        (
            "tollgate_orphan_reason".to_string(),
            "duplicate created for the same user; the recorded customer is canonical".to_string(),
        ),
    ]));
    let key = IdempotencyKey::new(format!("tollgate-orphan-{orphan}")).ok();
    if let Err(e) = stripe
        .send::<objects::Customer>(&update, key.as_ref())
        .await
    {
        tracing::warn!(error = %e, orphan, "could not tag orphan customer");
    }
}

/// A customer changed at Stripe (`customer.updated`, e.g. the default card chosen in the
/// dashboard): the local default follows. Returns false for customers that are not Tollgate's.
pub async fn apply_default_payment_method(
    db: &impl ConnectionTrait,
    customer: &crate::stripe::objects::Customer,
) -> Result<bool, ApiError> {
    use sea_orm::sea_query::Expr;
    let default = customer
        .invoice_settings
        .as_ref()
        .and_then(|s| s.default_payment_method.as_ref())
        .map(|pm| pm.id().to_string());
    let updated = customers::Entity::update_many()
        .col_expr(
            customers::Column::DefaultPaymentMethodId,
            Expr::value(default),
        )
        .col_expr(
            customers::Column::UpdatedAt,
            Expr::value(chrono::Utc::now()),
        )
        .filter(customers::Column::StripeCustomerId.eq(&customer.id))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}
