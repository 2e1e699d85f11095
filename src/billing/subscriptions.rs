//! Subscriptions: created, canceled, resumed and re-priced through Tollgate, and the local
//! projection of every subscription Stripe tells us about.

use chrono::{DateTime, Utc};
use entity::{customers, prices, subscriptions, PriceInterval};
use sea_orm::{
    sea_query::{Expr, ExprTrait, OnConflict},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;
use uuid::Uuid;

use crate::{
    auth::Viewer,
    billing::{customers as customer_rules, idempotency, payment_methods, payments},
    error::ApiError,
    live::{Changed, LiveEvent},
    stripe::{
        ids::{PaymentMethodId, PaymentMethodRef},
        objects::{self, timestamp},
        requests::{invoice as invoice_req, payment_intent as pi_req, subscription as req},
        IdempotencyKey, StripeClient, StripeError,
    },
};

pub use entity::SubscriptionStatus;

/// The stored status of a Stripe subscription; a status Tollgate does not know is an error
/// (the event fails visibly instead of guessing).
pub fn status_of(sub: &objects::Subscription) -> Result<SubscriptionStatus, ApiError> {
    SubscriptionStatus::from_stripe(sub.status.as_str()).ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!(
            "unknown subscription status `{}`",
            sub.status.as_str().chars().take(40).collect::<String>()
        ))
    })
}
/// Longest trial Stripe allows (730 days).
pub const MAX_TRIAL_DAYS: u32 = 730;

#[derive(Debug, Clone, Serialize)]
pub struct NewSubscription {
    pub price_id: String,
    pub payment_method_id: Option<PaymentMethodId>,
    pub trial_days: Option<u32>,
}

/// A subscription and, while its first payment awaits the customer, the secret Stripe.js needs.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct SubscriptionOutcome {
    pub subscription_id: Uuid,
    pub client_secret: Option<String>,
}

async fn recurring_price(
    db: &impl ConnectionTrait,
    price_id: &str,
) -> Result<prices::Model, ApiError> {
    let id = Uuid::parse_str(price_id).map_err(|_| ApiError::NotFound("price"))?;
    let price = prices::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("price"))?;
    if !price.active {
        return Err(ApiError::invalid_input(
            "priceId",
            "this price is no longer for sale",
        ));
    }
    if price.recurring_interval.is_none() {
        return Err(ApiError::invalid_input(
            "priceId",
            "a one-time price is bought with createPaymentIntent",
        ));
    }
    Ok(price)
}

fn expansions() -> Vec<String> {
    vec!["latest_invoice.confirmation_secret".into()]
}

/// The client secret and PaymentIntent id of a subscription's latest invoice payment, read the
/// way today's Stripe exposes it (`confirmation_secret`), falling back to older shapes.
async fn first_payment(
    stripe: &StripeClient,
    sub: &objects::Subscription,
) -> Result<Option<(String, objects::PaymentIntent)>, StripeError> {
    let invoice = match &sub.latest_invoice {
        Some(objects::Expandable::Object(inv)) => Some((**inv).clone()),
        Some(objects::Expandable::Id(id)) => {
            let req = invoice_req::RetrieveInvoice::new(id.as_str())
                .expand(vec!["confirmation_secret".to_string()]);
            Some(stripe.send::<objects::Invoice>(&req, None).await?)
        }
        None => None,
    };
    let Some(invoice) = invoice else {
        return Ok(None);
    };
    let secret = invoice
        .confirmation_secret
        .as_ref()
        .and_then(|c| c.client_secret.clone())
        .or_else(|| {
            invoice
                .payment_intent
                .as_ref()
                .and_then(|p| p.object())
                .and_then(|p| p.client_secret.clone())
        });
    let Some(secret) = secret else {
        return Ok(None);
    };
    // A PaymentIntent's client secret is `<id>_secret_<…>`.
    let Some((pi_id, _)) = secret.split_once("_secret_") else {
        return Ok(None);
    };
    let req = pi_req::RetrievePaymentIntent::new(pi_id).expand(vec![
        "payment_method".to_string(),
        "latest_charge".to_string(),
    ]);
    let pi: objects::PaymentIntent = stripe.send(&req, None).await?;
    Ok(Some((secret, pi)))
}

pub async fn create_subscription(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    input: NewSubscription,
    idempotency_key: Option<&str>,
) -> Result<Changed<(subscriptions::Model, Option<String>)>, ApiError> {
    let scope = idempotency::scope(
        &viewer.user_id,
        idempotency_key,
        "createSubscription",
        &input,
    )?;
    let outcome = idempotency::run(db, scope.as_ref(), || async {
        let stripe_key = idempotency::stripe_key(scope.as_ref(), "sub")?;
        subscribe(db, stripe, viewer, &input, &stripe_key).await
    })
    .await?;
    let row = find(db, outcome.subscription_id).await?;
    let mut live = vec![LiveEvent::subscription(&row)];
    // The first charge, when there was one, is in the history now too.
    let first_payment = payments_of_subscription(db, row.id).await?;
    live.extend(first_payment.iter().map(LiveEvent::payment));
    Ok(Changed::new((row, outcome.client_secret), live))
}

/// One attempt at subscribing (inside the idempotency guard).
async fn subscribe(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    input: &NewSubscription,
    stripe_key: &IdempotencyKey,
) -> Result<SubscriptionOutcome, ApiError> {
    let price = recurring_price(db, &input.price_id).await?;
    if let Some(days) = input.trial_days {
        if days == 0 || days > MAX_TRIAL_DAYS {
            return Err(ApiError::invalid_input(
                "trialDays",
                format!("1 to {MAX_TRIAL_DAYS} days"),
            ));
        }
        // A trial is free service: a customer takes at most what the price offers (none when
        // it offers none); only an admin may grant a longer one.
        let offered = price
            .trial_period_days
            .and_then(|d| u32::try_from(d).ok())
            .unwrap_or(0);
        if days > offered && !viewer.is_admin() {
            return Err(ApiError::invalid_input(
                "trialDays",
                if offered == 0 {
                    "this price offers no trial".to_owned()
                } else {
                    format!("this price offers at most {offered} days")
                },
            ));
        }
    }
    let customer = customer_rules::ensure_customer(db, stripe, viewer).await?;
    let mut request = subscription_request(&customer, &price, viewer, input.trial_days);
    let mut attached_now = None;
    match &input.payment_method_id {
        Some(pm) => {
            // Save the card (a decline here stores nothing) and make it the default.
            let (saved, attached) = save_card(db, stripe, viewer, &customer, pm).await?;
            attached_now = attached;
            request = request
                .default_payment_method(saved.stripe_payment_method_id.clone())
                .payment_behavior(req::CreateSubscriptionPaymentBehavior::AllowIncomplete);
        }
        // The SPA confirms the first payment with Stripe.js.
        None => {
            request =
                request.payment_behavior(req::CreateSubscriptionPaymentBehavior::DefaultIncomplete)
        }
    }
    let sub: objects::Subscription = stripe.send(&request, Some(stripe_key)).await?;
    let now = Utc::now();
    let first = match input.trial_days {
        Some(_) => None,
        None => first_payment(stripe, &sub).await?,
    };
    if let (Some(_), Some((_, pi))) = (&input.payment_method_id, &first) {
        if pi.status == objects::PaymentIntentStatus::RequiresPaymentMethod
            && pi.last_payment_error.is_some()
        {
            let undo = Undo {
                viewer,
                customer: &customer,
                attached_now: attached_now.as_ref(),
            };
            return Err(refuse_declined(db, stripe, &sub, pi, stripe_key, undo).await);
        }
    }
    let row = apply(db, &sub, now, Some(&customer)).await?;
    if let Some((_, pi)) = &first {
        // The first charge is part of the payment history, linked to the subscription.
        let invoice = row.latest_invoice_id.as_deref();
        payments::record_subscription_charge(db, pi, &customer, &row, invoice, now).await?;
    }
    let needs_client = matches!(sub.status, objects::SubscriptionStatus::Incomplete);
    Ok(SubscriptionOutcome {
        subscription_id: row.id,
        client_secret: if needs_client {
            first.map(|(s, _)| s)
        } else {
            None
        },
    })
}

fn subscription_request(
    customer: &customers::Model,
    price: &prices::Model,
    viewer: &Viewer,
    trial_days: Option<u32>,
) -> req::CreateSubscription {
    let mut item = req::CreateSubscriptionItems::new();
    item.price = Some(price.stripe_price_id.clone());
    let metadata =
        std::collections::HashMap::from([("tollgate_user_id".to_string(), viewer.user_id.clone())]);
    let request = req::CreateSubscription::new()
        .customer(customer.stripe_customer_id.clone())
        .items(vec![item])
        .metadata(metadata)
        .expand(expansions());
    match trial_days {
        Some(days) => request.trial_period_days(days),
        None => request,
    }
}

/// The viewer's saved card, or the card attached now (returned twice so a decline can undo it).
async fn save_card(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    customer: &customers::Model,
    pm: &PaymentMethodId,
) -> Result<
    (
        entity::payment_methods::Model,
        Option<entity::payment_methods::Model>,
    ),
    ApiError,
> {
    let reference = PaymentMethodRef::Stripe(pm.clone());
    let (saved, attached_now) = match payment_methods::find_owned(db, customer.id, &reference).await
    {
        Ok(row) => (row, None),
        Err(ApiError::NotFound(_)) => {
            let row = payment_methods::attach(db, stripe, viewer, pm).await?;
            (row.clone(), Some(row))
        }
        Err(e) => return Err(e),
    };
    payment_methods::set_default_for(db, stripe, customer, &saved).await?;
    Ok((saved, attached_now))
}

/// What a declined first charge must undo.
struct Undo<'a> {
    viewer: &'a Viewer,
    customer: &'a customers::Model,
    attached_now: Option<&'a entity::payment_methods::Model>,
}

/// A declined first charge: cancel at Stripe so nothing is left dangling, forget a card saved
/// by this request, and say why as the card error it was.
async fn refuse_declined(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    sub: &objects::Subscription,
    pi: &objects::PaymentIntent,
    stripe_key: &IdempotencyKey,
    undo: Undo<'_>,
) -> ApiError {
    let cancel = req::CancelSubscription::new(sub.id.as_str());
    match derived(stripe_key, "cancel") {
        Ok(key) => {
            if let Err(e) = stripe
                .send::<objects::Subscription>(&cancel, Some(&key))
                .await
            {
                tracing::error!(error = %e, subscription = %sub.id, "could not cancel a declined subscription");
            }
        }
        Err(e) => return e,
    }
    undo_card(db, stripe, undo.viewer, undo.customer, undo.attached_now).await;
    let err = pi
        .last_payment_error
        .clone()
        .unwrap_or(objects::LastPaymentError {
            code: Some("card_declined".into()),
            decline_code: None,
            message: None,
        });
    StripeError::Card(Box::new(crate::stripe::error::StripeApiError {
        kind: Some("card_error".into()),
        code: err.code,
        decline_code: err.decline_code,
        message: err.message,
        ..Default::default()
    }))
    .into()
}

async fn payments_of_subscription(
    db: &impl ConnectionTrait,
    subscription_id: Uuid,
) -> Result<Vec<entity::payments::Model>, ApiError> {
    Ok(entity::payments::Entity::find()
        .filter(entity::payments::Column::SubscriptionId.eq(subscription_id))
        .all(db)
        .await?)
}

/// After a declined first charge: forget a card saved by this very request and give the
/// customer back their previous default. Best effort; failures are logged.
async fn undo_card(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    before: &customers::Model,
    attached_now: Option<&entity::payment_methods::Model>,
) {
    if let Some(pm) = attached_now {
        if let Err(e) =
            payment_methods::detach(db, stripe, viewer, &PaymentMethodRef::Tollgate(pm.id)).await
        {
            tracing::warn!(error = %e, "could not detach a declined card");
        }
    }
    let Some(previous) = &before.default_payment_method_id else {
        return;
    };
    match payment_methods::find_owned_by_stripe_id(db, before.id, previous).await {
        Ok(row) => {
            if let Err(e) = payment_methods::set_default_for(db, stripe, before, &row).await {
                tracing::warn!(error = %e, "could not restore the default payment method");
            }
        }
        Err(e) => tracing::warn!(error = %e, "previous default payment method is gone"),
    }
}

fn derived(key: &IdempotencyKey, step: &str) -> Result<IdempotencyKey, ApiError> {
    IdempotencyKey::new(format!("{}-{step}", key.as_str())).map_err(ApiError::internal)
}

/// Applies a subscription snapshot taken at `snapshot_at`; an older one changes nothing.
/// `customer` is the local customer when the caller knows it; otherwise it is looked up by
/// Stripe id, and a subscription of no Tollgate customer is an error.
pub async fn apply(
    db: &impl ConnectionTrait,
    sub: &objects::Subscription,
    snapshot_at: DateTime<Utc>,
    customer: Option<&customers::Model>,
) -> Result<subscriptions::Model, ApiError> {
    let customer = match customer {
        Some(c) => c.clone(),
        None => customer_rules::find_by_stripe_id(db, sub.customer.id())
            .await?
            .ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!(
                    "subscription {} of an unknown customer",
                    sub.id
                ))
            })?,
    };
    let stripe_price = sub.price_id().unwrap_or_default().to_string();
    let price_id = prices::Entity::find()
        .filter(prices::Column::StripePriceId.eq(&stripe_price))
        .select_only()
        .column(prices::Column::Id)
        .into_tuple::<Uuid>()
        .one(db)
        .await?;
    let row = row_of(sub, &customer, price_id, stripe_price, snapshot_at)?;
    if let Some(written) = upsert_newer(db, row, snapshot_at).await? {
        return Ok(written);
    }
    // Kept as stored: an older snapshot, or a canceled subscription (final).
    find_by_stripe_id(db, &sub.id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("subscription row missing")))
}

/// The row a Stripe subscription snapshot describes.
fn row_of(
    sub: &objects::Subscription,
    customer: &customers::Model,
    price_id: Option<Uuid>,
    stripe_price: String,
    snapshot_at: DateTime<Utc>,
) -> Result<subscriptions::ActiveModel, ApiError> {
    let (start, end) = sub.period();
    let ts = |v: Option<i64>| v.and_then(timestamp);
    let now = Utc::now();
    Ok(subscriptions::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(customer.user_id.clone()),
        customer_id: Set(customer.id),
        stripe_subscription_id: Set(sub.id.clone()),
        price_id: Set(price_id),
        stripe_price_id: Set(stripe_price),
        status: Set(status_of(sub)?),
        current_period_start: Set(ts(start)),
        current_period_end: Set(ts(end)),
        trial_start: Set(ts(sub.trial_start)),
        trial_end: Set(ts(sub.trial_end)),
        cancel_at_period_end: Set(sub.cancel_at_period_end),
        cancel_at: Set(ts(sub.cancel_at)),
        canceled_at: Set(ts(sub.canceled_at)),
        ended_at: Set(ts(sub.ended_at)),
        latest_invoice_id: Set(sub.latest_invoice.as_ref().map(|i| i.id().to_string())),
        snapshot_at: Set(snapshot_at),
        created_at: Set(now),
        updated_at: Set(now),
    })
}

/// Inserts the row, or updates the existing one unless it holds a newer snapshot or is
/// already canceled (`canceled` is final): one statement, so it holds under races.
/// The row as written, or None when the stored row was kept (the guard refused the update).
async fn upsert_newer(
    db: &impl ConnectionTrait,
    row: subscriptions::ActiveModel,
    snapshot_at: DateTime<Utc>,
) -> Result<Option<subscriptions::Model>, ApiError> {
    use subscriptions::Column as C;
    let guard = Expr::col((subscriptions::Entity, C::SnapshotAt))
        .lte(snapshot_at)
        .and(Expr::col((subscriptions::Entity, C::Status)).ne(SubscriptionStatus::Canceled));
    match subscriptions::Entity::insert(row)
        .on_conflict(
            OnConflict::column(C::StripeSubscriptionId)
                .update_columns([
                    C::PriceId,
                    C::StripePriceId,
                    C::Status,
                    C::CurrentPeriodStart,
                    C::CurrentPeriodEnd,
                    C::TrialStart,
                    C::TrialEnd,
                    C::CancelAtPeriodEnd,
                    C::CancelAt,
                    C::CanceledAt,
                    C::EndedAt,
                    C::LatestInvoiceId,
                    C::SnapshotAt,
                    C::UpdatedAt,
                ])
                .action_and_where(guard)
                .to_owned(),
        )
        .exec_with_returning(db)
        .await
    {
        Ok(written) => Ok(Some(written)),
        Err(sea_orm::DbErr::RecordNotInserted | sea_orm::DbErr::RecordNotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The subscription of a Stripe subscription id, if Tollgate has it.
pub async fn find_by_stripe_id(
    db: &impl ConnectionTrait,
    stripe_id: &str,
) -> Result<Option<subscriptions::Model>, ApiError> {
    Ok(subscriptions::Entity::find()
        .filter(subscriptions::Column::StripeSubscriptionId.eq(stripe_id))
        .one(db)
        .await?)
}

pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<subscriptions::Model, ApiError> {
    subscriptions::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("subscription"))
}

/// The viewer's own subscription (any for admins); everything else is `NOT_FOUND`.
pub async fn find_for_viewer(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: &str,
) -> Result<subscriptions::Model, ApiError> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound("subscription"))?;
    let row = find(db, id).await?;
    if row.user_id == viewer.user_id || viewer.is_admin() {
        Ok(row)
    } else {
        Err(ApiError::NotFound("subscription"))
    }
}

/// Only the owner changes a subscription (admins see all, but do not act for users here).
async fn owned(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: &str,
) -> Result<subscriptions::Model, ApiError> {
    let row = find_for_viewer(db, viewer, id).await?;
    if row.user_id != viewer.user_id {
        return Err(ApiError::NotFound("subscription"));
    }
    Ok(row)
}

pub async fn cancel(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    id: &str,
    at_period_end: bool,
) -> Result<Changed<subscriptions::Model>, ApiError> {
    let row = owned(db, viewer, id).await?;
    if matches!(
        row.status,
        SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired
    ) {
        return Err(ApiError::invalid_input(
            "subscriptionId",
            "the subscription has already ended",
        ));
    }
    let key = IdempotencyKey::new(format!(
        "tollgate-cancel-{}-{at_period_end}-{}",
        row.id,
        row.snapshot_at.timestamp_micros()
    ))
    .map_err(ApiError::internal)?;
    let sub: objects::Subscription = if at_period_end {
        let request = req::UpdateSubscription::new(row.stripe_subscription_id.as_str())
            .cancel_at_period_end(true);
        stripe.send(&request, Some(&key)).await?
    } else {
        let request = req::CancelSubscription::new(row.stripe_subscription_id.as_str());
        stripe.send(&request, Some(&key)).await?
    };
    let row = apply(db, &sub, Utc::now(), None).await?;
    Ok(Changed::new(
        row.clone(),
        vec![LiveEvent::subscription(&row)],
    ))
}

/// Undoes a pending cancel-at-period-end.
pub async fn resume(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    id: &str,
) -> Result<Changed<subscriptions::Model>, ApiError> {
    let row = owned(db, viewer, id).await?;
    if !row.cancel_at_period_end || !row.status.grants_access() {
        return Err(ApiError::invalid_input(
            "subscriptionId",
            "only a subscription set to cancel at period end can be resumed",
        ));
    }
    let request = req::UpdateSubscription::new(row.stripe_subscription_id.as_str())
        .cancel_at_period_end(false);
    let key = IdempotencyKey::new(format!(
        "tollgate-resume-{}-{}",
        row.id,
        row.snapshot_at.timestamp_micros()
    ))
    .map_err(ApiError::internal)?;
    let sub: objects::Subscription = stripe.send(&request, Some(&key)).await?;
    let row = apply(db, &sub, Utc::now(), None).await?;
    Ok(Changed::new(
        row.clone(),
        vec![LiveEvent::subscription(&row)],
    ))
}

/// Moves a subscription to another recurring price of the same currency. With a key, a
/// repeat answers the same subscription and one with another request is
/// `IDEMPOTENCY_KEY_REUSED`, as for every mutation that takes one.
pub async fn change_price(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    id: &str,
    price_id: &str,
    prorate: bool,
    idempotency_key: Option<&str>,
) -> Result<Changed<subscriptions::Model>, ApiError> {
    let request = PriceChange {
        subscription_id: id,
        price_id,
        prorate,
    };
    let scope = idempotency::scope(
        &viewer.user_id,
        idempotency_key,
        "changeSubscriptionPrice",
        &request,
    )?;
    let changed = idempotency::run(db, scope.as_ref(), || {
        reprice(db, stripe, viewer, &request, scope.as_ref())
    })
    .await?;
    let row = subscriptions::Entity::find_by_id(changed)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    Ok(Changed::new(
        row.clone(),
        vec![LiveEvent::subscription(&row)],
    ))
}

/// A price change as the client asked for it: its idempotency fingerprint.
#[derive(Serialize)]
struct PriceChange<'a> {
    subscription_id: &'a str,
    price_id: &'a str,
    prorate: bool,
}

/// `change_price`'s work: checks, the item swapped at Stripe, the answer applied; the
/// subscription's id.
async fn reprice(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    change: &PriceChange<'_>,
    scope: Option<&idempotency::Scope>,
) -> Result<Uuid, ApiError> {
    let row = owned(db, viewer, change.subscription_id).await?;
    if !row.status.grants_access() && row.status != SubscriptionStatus::PastDue {
        return Err(ApiError::invalid_input(
            "subscriptionId",
            format!("a {} subscription cannot change price", row.status),
        ));
    }
    let price = recurring_price(db, change.price_id).await?;
    let current = match row.price_id {
        Some(p) => prices::Entity::find_by_id(p).one(db).await?,
        None => None,
    };
    if current.is_some_and(|current| current.currency != price.currency) {
        return Err(ApiError::invalid_input(
            "priceId",
            "the new price must be in the subscription's currency",
        ));
    }
    let live: objects::Subscription = stripe
        .send(
            &req::RetrieveSubscription::new(row.stripe_subscription_id.as_str()),
            None,
        )
        .await?;
    let item = live
        .items
        .data
        .first()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("subscription without items")))?;
    let mut update = req::UpdateSubscriptionItems::new();
    update.id = Some(item.id.clone());
    update.price = Some(price.stripe_price_id.clone());
    let stripe_request = req::UpdateSubscription::new(row.stripe_subscription_id.as_str())
        .items(vec![update])
        .proration_behavior(if change.prorate {
            req::UpdateSubscriptionProrationBehavior::CreateProrations
        } else {
            req::UpdateSubscriptionProrationBehavior::None
        });
    let key = idempotency::stripe_key(scope, "reprice")?;
    let sub: objects::Subscription = stripe.send(&stripe_request, Some(&key)).await?;
    Ok(apply(db, &sub, Utc::now(), None).await?.id)
}

/// Subscriptions, newest first, by owner and status.
pub async fn list(
    db: &impl ConnectionTrait,
    user_id: Option<&str>,
    status: Option<SubscriptionStatus>,
    limit: u64,
) -> Result<Vec<subscriptions::Model>, ApiError> {
    let mut query = subscriptions::Entity::find()
        .order_by_desc(subscriptions::Column::CreatedAt)
        .order_by_desc(subscriptions::Column::Id)
        .limit(limit);
    if let Some(u) = user_id {
        query = query.filter(subscriptions::Column::UserId.eq(u));
    }
    if let Some(s) = status {
        query = query.filter(subscriptions::Column::Status.eq(s));
    }
    Ok(query.all(db).await?)
}

/// Monthly recurring revenue per currency, in minor units, from subscriptions granting access.
/// Yearly, weekly and daily prices are normalised to a month (integer minor units, rounded
/// down).
pub async fn mrr(db: &impl ConnectionTrait) -> Result<Vec<(String, i64)>, ApiError> {
    /// currency, unit amount, interval, interval count
    type PriceTerms = (String, Option<i64>, Option<PriceInterval>, Option<i32>);
    let rows: Vec<PriceTerms> = subscriptions::Entity::find()
        .inner_join(prices::Entity)
        .select_only()
        .column(prices::Column::Currency)
        .column(prices::Column::UnitAmount)
        .column(prices::Column::RecurringInterval)
        .column(prices::Column::RecurringIntervalCount)
        .filter(subscriptions::Column::Status.is_in(SubscriptionStatus::ACTIVE))
        .into_tuple()
        .all(db)
        .await?;
    let mut totals: std::collections::BTreeMap<String, i64> = Default::default();
    for (currency, amount, interval, count) in rows {
        let (Some(amount), Some(interval)) = (amount, interval) else {
            continue;
        };
        let count = i64::from(Ord::max(count.unwrap_or(1), 1));
        let monthly = match interval {
            PriceInterval::Month => amount / count,
            PriceInterval::Year => amount / (12 * count),
            PriceInterval::Week => amount * 52 / (12 * count),
            PriceInterval::Day => amount * 365 / (12 * count),
        };
        *totals.entry(currency).or_default() += monthly;
    }
    Ok(totals.into_iter().collect())
}
