//! Any object by its Tollgate id, as the viewer may see it: what Relay's `node(id:)` refetches.
//! Tollgate's ids are UUIDs, unique across tables, so the kind is found by looking (at most
//! one primary-key read per table). The rules are each type's own: payments, refunds,
//! subscriptions and saved cards are their owner's (and admins'), webhook events admins',
//! the catalog everyone's. Anything else is `None`, exactly like an id that does not exist,
//! so an id reveals nothing about what it belongs to.

use entity::{
    customers, payment_methods, payments, prices, refunds, subscriptions, webhook_events,
};
use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

use crate::{auth::Viewer, billing::catalog, error::ApiError};

/// What an id names.
pub enum Found {
    Payment(payments::Model),
    Refund(refunds::Model),
    Subscription(subscriptions::Model),
    Product(catalog::ProductWithPrices),
    Price(prices::Model),
    /// A saved card, and whether it is its customer's default.
    PaymentMethod(payment_methods::Model, bool),
    WebhookEvent(webhook_events::Model),
}

/// The object `id` names if `viewer` (None: anonymous) may see it.
pub async fn find(
    db: &impl ConnectionTrait,
    viewer: Option<&Viewer>,
    id: &str,
) -> Result<Option<Found>, ApiError> {
    let Ok(id) = Uuid::parse_str(id) else {
        return Ok(None);
    };
    let admin = viewer.is_some_and(Viewer::is_admin);
    let owns = |user_id: &str| admin || viewer.is_some_and(|v| v.user_id == user_id);
    if let Some(row) = payments::Entity::find_by_id(id).one(db).await? {
        return Ok(owns(&row.user_id).then_some(Found::Payment(row)));
    }
    if let Some(row) = refunds::Entity::find_by_id(id).one(db).await? {
        let payment = payments::Entity::find_by_id(row.payment_id).one(db).await?;
        let visible = payment.is_some_and(|p| owns(&p.user_id));
        return Ok(visible.then_some(Found::Refund(row)));
    }
    if let Some(row) = subscriptions::Entity::find_by_id(id).one(db).await? {
        return Ok(owns(&row.user_id).then_some(Found::Subscription(row)));
    }
    if let Some(product) = catalog::get_product(db, id).await? {
        return Ok(Some(Found::Product(product)));
    }
    if let Some(row) = prices::Entity::find_by_id(id).one(db).await? {
        return Ok(Some(Found::Price(row)));
    }
    if let Some(row) = payment_methods::Entity::find_by_id(id).one(db).await? {
        let customer = customers::Entity::find_by_id(row.customer_id)
            .one(db)
            .await?;
        return Ok(customer.filter(|c| owns(&c.user_id)).map(|c| {
            let is_default =
                c.default_payment_method_id.as_deref() == Some(&row.stripe_payment_method_id);
            Found::PaymentMethod(row, is_default)
        }));
    }
    if let Some(row) = webhook_events::Entity::find_by_id(id).one(db).await? {
        return Ok(admin.then_some(Found::WebhookEvent(row)));
    }
    Ok(None)
}
