//! Saved payment methods. A user only ever sees, uses, detaches or defaults the methods of
//! their own customer; anyone else's is `NOT_FOUND`.

use chrono::Utc;
use entity::{customers, payment_methods};
use sea_orm::{
    sea_query::{Expr, OnConflict},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use crate::{
    auth::Viewer,
    billing::customers as customer_rules,
    error::ApiError,
    stripe::{
        ids::{PaymentMethodId, PaymentMethodRef},
        objects,
        requests::{customer as customer_req, payment_method as req, setup_intent as setup_req},
        IdempotencyKey, StripeClient, StripeError,
    },
};

/// The viewer's saved methods, oldest first.
pub async fn list_for_customer(
    db: &impl ConnectionTrait,
    customer_id: Uuid,
) -> Result<Vec<payment_methods::Model>, ApiError> {
    Ok(payment_methods::Entity::find()
        .filter(payment_methods::Column::CustomerId.eq(customer_id))
        .order_by_asc(payment_methods::Column::CreatedAt)
        .all(db)
        .await?)
}

/// A client secret for Stripe.js to collect and save a card (`confirmCardSetup`).
pub async fn create_setup_intent(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
) -> Result<String, ApiError> {
    let customer = customer_rules::ensure_customer(db, stripe, viewer).await?;
    let request = setup_req::CreateSetupIntent::new()
        .customer(customer.stripe_customer_id.clone())
        .usage(setup_req::CreateSetupIntentUsage::OffSession);
    let key = crate::billing::idempotency::one_off_stripe_key("seti")?;
    let intent: objects::SetupIntent = stripe.send(&request, Some(&key)).await?;
    intent
        .client_secret
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("setup intent without client secret")))
}

/// Writes a Stripe payment method snapshot for `customer`.
pub async fn apply(
    db: &impl ConnectionTrait,
    customer: &customers::Model,
    pm: &objects::PaymentMethod,
) -> Result<payment_methods::Model, ApiError> {
    let now = Utc::now();
    let card = pm.card.clone();
    let exp = |v: Option<i64>| v.and_then(|n| i32::try_from(n).ok());
    let row = payment_methods::ActiveModel {
        id: Set(Uuid::now_v7()),
        customer_id: Set(customer.id),
        stripe_payment_method_id: Set(pm.id.clone()),
        method_type: Set(pm.kind.clone().unwrap_or_else(|| "card".into())),
        brand: Set(card.as_ref().and_then(|c| c.brand.clone())),
        last4: Set(card.as_ref().and_then(|c| c.last4.clone())),
        exp_month: Set(exp(card.as_ref().and_then(|c| c.exp_month))),
        exp_year: Set(exp(card.as_ref().and_then(|c| c.exp_year))),
        snapshot_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
    };
    payment_methods::Entity::insert(row)
        .on_conflict(
            OnConflict::column(payment_methods::Column::StripePaymentMethodId)
                .update_columns([
                    payment_methods::Column::Brand,
                    payment_methods::Column::Last4,
                    payment_methods::Column::ExpMonth,
                    payment_methods::Column::ExpYear,
                    payment_methods::Column::SnapshotAt,
                    payment_methods::Column::UpdatedAt,
                ])
                // Never move a method from one customer to another.
                .action_and_where(payment_methods::Column::CustomerId.eq(customer.id))
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    find_owned_by_stripe_id(db, customer.id, &pm.id).await
}

/// A method of this customer by a Stripe id Tollgate itself stored or received.
pub async fn find_owned_by_stripe_id(
    db: &impl ConnectionTrait,
    customer_id: Uuid,
    stripe_id: &str,
) -> Result<payment_methods::Model, ApiError> {
    let by = payment_methods::Column::StripePaymentMethodId.eq(stripe_id);
    find_owned_by(db, customer_id, by).await
}

/// A method of this customer, by Stripe id or Tollgate id.
pub async fn find_owned(
    db: &impl ConnectionTrait,
    customer_id: Uuid,
    id: &PaymentMethodRef,
) -> Result<payment_methods::Model, ApiError> {
    let by = match id {
        PaymentMethodRef::Tollgate(uuid) => payment_methods::Column::Id.eq(*uuid),
        PaymentMethodRef::Stripe(pm) => {
            payment_methods::Column::StripePaymentMethodId.eq(pm.as_str())
        }
    };
    find_owned_by(db, customer_id, by).await
}

async fn find_owned_by(
    db: &impl ConnectionTrait,
    customer_id: Uuid,
    by: sea_orm::sea_query::SimpleExpr,
) -> Result<payment_methods::Model, ApiError> {
    payment_methods::Entity::find()
        .filter(by)
        .filter(payment_methods::Column::CustomerId.eq(customer_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("payment method"))
}

/// Saves a payment method (created by Stripe.js, or a test token) to the viewer's customer.
/// The first saved method becomes the default.
pub async fn attach(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    payment_method_id: &PaymentMethodId,
) -> Result<payment_methods::Model, ApiError> {
    let customer = customer_rules::ensure_customer(db, stripe, viewer).await?;
    // Someone else's saved method stays theirs.
    crate::billing::payments::check_payment_method(db, customer.id, payment_method_id).await?;
    let request = req::AttachPaymentMethod::new(payment_method_id.as_str())
        .customer(customer.stripe_customer_id.clone());
    let key = IdempotencyKey::new(format!(
        "tollgate-attach-{}-{payment_method_id}",
        customer.id
    ))
    .map_err(ApiError::internal)?;
    let pm: objects::PaymentMethod = match stripe.send(&request, Some(&key)).await {
        Ok(pm) => pm,
        Err(StripeError::InvalidRequest { status: 404, .. }) => {
            return Err(ApiError::NotFound("payment method"))
        }
        Err(StripeError::InvalidRequest { error, .. })
            if error.code.as_deref() == Some("payment_method_unexpected_state") =>
        {
            // Attached to another Stripe customer: not the viewer's to use.
            return Err(ApiError::NotFound("payment method"));
        }
        Err(e) => return Err(e.into()),
    };
    let row = apply(db, &customer, &pm).await?;
    if customer.default_payment_method_id.is_none() {
        set_default_for(db, stripe, &customer, &row).await?;
    }
    Ok(row)
}

/// Removes a saved method from the viewer's customer.
pub async fn detach(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    id: &PaymentMethodRef,
) -> Result<(), ApiError> {
    let customer = customer_rules::find_for_user(db, &viewer.user_id)
        .await?
        .ok_or(ApiError::NotFound("payment method"))?;
    let row = find_owned(db, customer.id, id).await?;
    let request = req::DetachPaymentMethod::new(row.stripe_payment_method_id.as_str());
    match stripe.send::<objects::PaymentMethod>(&request, None).await {
        Ok(_) => {}
        // Already gone at Stripe: finish the job locally.
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e.into()),
    }
    payment_methods::Entity::delete_by_id(row.id)
        .exec(db)
        .await?;
    if customer.default_payment_method_id.as_deref() == Some(row.stripe_payment_method_id.as_str())
    {
        customers::Entity::update_many()
            .col_expr(
                customers::Column::DefaultPaymentMethodId,
                Expr::value(Option::<String>::None),
            )
            .col_expr(customers::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(customers::Column::Id.eq(customer.id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Makes a saved method the one subscriptions and invoices charge.
pub async fn set_default(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    id: &PaymentMethodRef,
) -> Result<payment_methods::Model, ApiError> {
    let customer = customer_rules::find_for_user(db, &viewer.user_id)
        .await?
        .ok_or(ApiError::NotFound("payment method"))?;
    let row = find_owned(db, customer.id, id).await?;
    set_default_for(db, stripe, &customer, &row).await?;
    Ok(row)
}

pub async fn set_default_for(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    customer: &customers::Model,
    pm: &payment_methods::Model,
) -> Result<(), ApiError> {
    let mut settings = customer_req::UpdateCustomerInvoiceSettings::new();
    settings.default_payment_method = Some(pm.stripe_payment_method_id.clone());
    let request = customer_req::UpdateCustomer::new(customer.stripe_customer_id.as_str())
        .invoice_settings(settings);
    let _: objects::Customer = stripe.send(&request, None).await?;
    customers::Entity::update_many()
        .col_expr(
            customers::Column::DefaultPaymentMethodId,
            Expr::value(Some(pm.stripe_payment_method_id.clone())),
        )
        .col_expr(customers::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(customers::Column::Id.eq(customer.id))
        .exec(db)
        .await?;
    Ok(())
}

/// Forgets a payment method Stripe detached (in the dashboard, or by another integration).
pub async fn remove(db: &impl ConnectionTrait, stripe_id: &str) -> Result<(), ApiError> {
    payment_methods::Entity::delete_many()
        .filter(payment_methods::Column::StripePaymentMethodId.eq(stripe_id))
        .exec(db)
        .await?;
    Ok(())
}
