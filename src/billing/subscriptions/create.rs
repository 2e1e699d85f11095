//! Subscribing the viewer to a recurring price: seats, a promotion code checked before
//! anything is charged, one live subscription per product (`claims`), the trial it may have,
//! the card saved (and made the default) before Stripe charges it, the first charge recorded
//! as a payment, and a declined first charge undone (the subscription canceled, a card saved
//! only for it removed).

use chrono::Utc;
use entity::{customers, prices, products, subscriptions};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::Serialize;
use uuid::Uuid;

use super::{apply, claims, find};
use crate::{
    auth::Viewer,
    billing::{customers as customer_rules, discounts, idempotency, payment_methods, payments},
    error::ApiError,
    live::{Changed, LiveEvent},
    stripe::{
        ids::{PaymentMethodId, PaymentMethodRef},
        objects::{self},
        requests::{invoice as invoice_req, payment_intent as pi_req, subscription as req},
        IdempotencyKey, StripeClient, StripeError,
    },
};

fn is_one(q: &i32) -> bool {
    *q == 1
}

/// Longest trial Stripe allows (730 days).
pub const MAX_TRIAL_DAYS: u32 = 730;

#[derive(Debug, Clone, Serialize)]
pub struct NewSubscription {
    pub price_id: String,
    pub payment_method_id: Option<PaymentMethodId>,
    pub trial_days: Option<u32>,
    /// Seats (1 to `MAX_QUANTITY`). Like the code, left out of the idempotency fingerprint
    /// when it is the default, so requests from before seats existed keep their fingerprint.
    #[serde(skip_serializing_if = "is_one")]
    pub quantity: i32,
    /// A customer-facing promotion code, checked before Stripe is asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion_code: Option<String>,
}

/// A subscription and, while its first payment awaits the customer, the secret Stripe.js needs.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct SubscriptionOutcome {
    pub subscription_id: Uuid,
    pub client_secret: Option<String>,
}

pub async fn recurring_price(
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
    vec![
        "latest_invoice.confirmation_secret".into(),
        "discounts".into(),
    ]
}

/// The client secret and PaymentIntent id of a subscription's latest invoice payment, read the
/// way today's Stripe exposes it (`confirmation_secret`), falling back to older shapes.
pub(super) async fn first_payment(
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

/// A trial is free service: 1 to `MAX_TRIAL_DAYS` days, and a customer takes at most what
/// the price offers (none when it offers none); only an admin may grant a longer one.
fn check_trial(
    price: &prices::Model,
    viewer: &Viewer,
    trial_days: Option<u32>,
) -> Result<(), ApiError> {
    let Some(days) = trial_days else {
        return Ok(());
    };
    if days == 0 || days > MAX_TRIAL_DAYS {
        return Err(ApiError::invalid_input(
            "trialDays",
            format!("1 to {MAX_TRIAL_DAYS} days"),
        ));
    }
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
    Ok(())
}

/// One attempt at subscribing (inside the idempotency guard): unless the product allows
/// several, the (user, product) claim is held from before the check for a live subscription
/// until the new one is stored, so concurrent attempts make one subscription.
async fn subscribe(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    input: &NewSubscription,
    stripe_key: &IdempotencyKey,
) -> Result<SubscriptionOutcome, ApiError> {
    let price = recurring_price(db, &input.price_id).await?;
    check_trial(&price, viewer, input.trial_days)?;
    let product = products::Entity::find_by_id(price.product_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("product"))?;
    if claims::allows_multiple(&product) {
        let first = Attempt::First {
            one_per_product: false,
        };
        return subscribe_to(db, stripe, viewer, input, &price, stripe_key, first)
            .await
            .map_err(Failed::into_error);
    }
    // The attempt's name: a retry with the same client key has the same Stripe key.
    let owner = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, stripe_key.as_str().as_bytes());
    let claim = claims::claim(db, &viewer.user_id, product.id, owner).await?;
    let result = if claim.reentered {
        // A retry of an attempt whose outcome was lost: the same request again, which Stripe
        // answers with what it did (the subscription it made, if it made one), never a second.
        subscribe_to(
            db,
            stripe,
            viewer,
            input,
            &price,
            stripe_key,
            Attempt::Retry,
        )
        .await
    } else {
        match claims::held(db, &viewer.user_id, product.id).await {
            Ok(Some(existing)) => Err(Failed::NothingLeft(ApiError::AlreadySubscribed {
                subscription_id: Some(existing.id),
            })),
            Ok(None) => {
                let first = Attempt::First {
                    one_per_product: true,
                };
                subscribe_to(db, stripe, viewer, input, &price, stripe_key, first).await
            }
            Err(e) => Err(Failed::NothingLeft(e)),
        }
    };
    match result {
        Ok(outcome) => {
            claim.release(db).await;
            Ok(outcome)
        }
        Err(Failed::NothingLeft(e)) => {
            claim.release(db).await;
            Err(e)
        }
        Err(Failed::MayExist(e)) => {
            claim.keep();
            Err(e)
        }
    }
}

/// Which sending of an attempt this is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Attempt {
    /// The first: every rule is checked before Stripe is asked.
    First { one_per_product: bool },
    /// A retry of an attempt whose outcome was lost: the same request again (Stripe replays
    /// it), so nothing that the first sending changed (a code's redemptions) may refuse it.
    Retry,
}

/// How far a failed attempt got: whether Stripe may hold a subscription the database does not.
enum Failed {
    /// Nothing was made at Stripe, or what was made was undone (a declined first charge).
    NothingLeft(ApiError),
    /// Stripe may have made the subscription (no answer, or a failure after it answered).
    MayExist(ApiError),
}

impl Failed {
    fn into_error(self) -> ApiError {
        match self {
            Failed::NothingLeft(e) | Failed::MayExist(e) => e,
        }
    }
}

/// The customer's live subscription to the product as Stripe has it, when the database does
/// not (made by an attempt that failed before storing it, or in the dashboard): stored now.
/// Its Tollgate id.
async fn held_at_stripe(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    customer: &customers::Model,
    product_id: uuid::Uuid,
) -> Result<Option<uuid::Uuid>, ApiError> {
    let stripe_prices: Vec<String> = prices::Entity::find()
        .filter(prices::Column::ProductId.eq(product_id))
        .all(db)
        .await?
        .into_iter()
        .map(|p| p.stripe_price_id)
        .collect();
    let listed: objects::List<objects::Subscription> = stripe
        .send(
            &req::ListSubscription::new()
                .customer(customer.stripe_customer_id.clone())
                .limit(100),
            None,
        )
        .await?;
    let live = listed.data.into_iter().find(|s| {
        matches!(
            s.status,
            objects::SubscriptionStatus::Trialing
                | objects::SubscriptionStatus::Active
                | objects::SubscriptionStatus::PastDue
                | objects::SubscriptionStatus::Incomplete
        ) && s
            .price_id()
            .is_some_and(|p| stripe_prices.iter().any(|sp| sp == p))
    });
    match live {
        Some(sub) => Ok(Some(apply(db, &sub, Utc::now(), Some(customer)).await?.id)),
        None => Ok(None),
    }
}

/// The promotion code's Stripe id when it may be redeemed on this subscription, or
/// `PROMOTION_CODE_INVALID` with the reason.
async fn redeemable_code(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    input: &NewSubscription,
    price: &prices::Model,
    customer: &customers::Model,
) -> Result<Option<String>, ApiError> {
    let Some(code) = &input.promotion_code else {
        return Ok(None);
    };
    let amount = discounts::check::before_discount(price, input.quantity)?;
    match discounts::resolve_code(db, stripe, code, price, &amount, Some(customer)).await? {
        Ok(resolved) => Ok(Some(resolved.promotion_code.id)),
        Err(refusal) => Err(ApiError::PromotionCodeInvalid(refusal)),
    }
}

/// The promotion code's Stripe id as the first sending of this attempt named it, whatever it
/// allows now (that sending may have used its last redemption).
async fn sent_code(
    stripe: &StripeClient,
    input: &NewSubscription,
) -> Result<Option<String>, ApiError> {
    let Some(code) = &input.promotion_code else {
        return Ok(None);
    };
    let code = discounts::parse_code("promotionCode", code)?;
    Ok(discounts::live_by_code(stripe, &code)
        .await?
        .map(|(promo, _)| promo.id))
}

/// Subscribing once the product rules allow it.
async fn subscribe_to(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    input: &NewSubscription,
    price: &prices::Model,
    stripe_key: &IdempotencyKey,
    attempt: Attempt,
) -> Result<SubscriptionOutcome, Failed> {
    let before = |e: ApiError| Failed::NothingLeft(e);
    let customer = customer_rules::ensure_customer(db, stripe, viewer)
        .await
        .map_err(before)?;
    if let Some(pm) = &input.payment_method_id {
        // Another customer's card is refused before Stripe is asked anything.
        payments::check_payment_method(db, customer.id, pm)
            .await
            .map_err(before)?;
    }
    let promotion_code = match attempt {
        Attempt::Retry => sent_code(stripe, input).await.map_err(before)?,
        Attempt::First { .. } => redeemable_code(db, stripe, input, price, &customer)
            .await
            .map_err(before)?,
    };
    if attempt
        == (Attempt::First {
            one_per_product: true,
        })
    {
        if let Some(existing) = held_at_stripe(db, stripe, &customer, price.product_id)
            .await
            .map_err(before)?
        {
            return Err(before(ApiError::AlreadySubscribed {
                subscription_id: Some(existing),
            }));
        }
    }
    let mut request = subscription_request(&customer, price, viewer, input);
    if let Some(code) = promotion_code {
        request = request.discounts(vec![req::DiscountsDataParam {
            promotion_code: Some(code),
            ..Default::default()
        }]);
    }
    let (request, attached_now) =
        with_payment_method(db, stripe, viewer, &customer, request, input)
            .await
            .map_err(before)?;
    let sub: objects::Subscription = match stripe.send(&request, Some(stripe_key)).await {
        Ok(sub) => sub,
        Err(e) if e.outcome_unknown() => return Err(Failed::MayExist(e.into())),
        Err(e) => return Err(Failed::NothingLeft(e.into())),
    };
    let answered = Answered {
        input,
        customer: &customer,
        sub: &sub,
        stripe_key,
        attached_now: attached_now.as_ref(),
    };
    record_subscription(db, stripe, viewer, &answered).await
}

/// A subscribe request Stripe answered, and what the attempt needs to store or undo it.
struct Answered<'a> {
    input: &'a NewSubscription,
    customer: &'a customers::Model,
    sub: &'a objects::Subscription,
    stripe_key: &'a IdempotencyKey,
    attached_now: Option<&'a entity::payment_methods::Model>,
}

/// Stripe's answer to the subscribe request stored: the subscription and its first charge, or
/// a declined first charge undone.
async fn record_subscription(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    answered: &Answered<'_>,
) -> Result<SubscriptionOutcome, Failed> {
    let Answered {
        input,
        customer,
        sub,
        stripe_key,
        attached_now,
    } = *answered;
    let after = |e: ApiError| Failed::MayExist(e);
    let now = Utc::now();
    let first = match input.trial_days {
        Some(_) => None,
        None => first_payment(stripe, sub)
            .await
            .map_err(|e| after(e.into()))?,
    };
    if let (Some(_), Some((_, pi))) = (&input.payment_method_id, &first) {
        if pi.status == objects::PaymentIntentStatus::RequiresPaymentMethod
            && pi.last_payment_error.is_some()
        {
            let undo = Undo {
                viewer,
                customer,
                attached_now,
            };
            return Err(Failed::NothingLeft(
                refuse_declined(db, stripe, sub, pi, stripe_key, undo).await,
            ));
        }
    }
    let row = apply(db, sub, now, Some(customer)).await.map_err(after)?;
    if let Some((_, pi)) = &first {
        // The first charge is part of the payment history, linked to the subscription.
        let invoice = row.latest_invoice_id.as_deref();
        payments::record_subscription_charge(db, pi, customer, &row, invoice, now)
            .await
            .map_err(after)?;
        if let Some(objects::Expandable::Object(inv)) = &sub.latest_invoice {
            payments::record_invoice_discount(db, &inv.id, inv.discount_total())
                .await
                .map_err(after)?;
        }
    }
    if let Some(objects::Expandable::Object(inv)) = &sub.latest_invoice {
        // The invoice mirror follows; its events and sync catch up if this read fails.
        if let Err(e) = crate::billing::invoices::apply(db, stripe, inv, now).await {
            tracing::warn!(error = %e, invoice = %inv.id, "invoice not mirrored yet");
        }
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

/// With a card: saved first (a decline here stores nothing), made the default, and charged
/// at once (`allow_incomplete`); without one the SPA confirms the first payment with Stripe.js
/// (`default_incomplete`). Also the card attached now, to remove if the first charge fails.
async fn with_payment_method(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    customer: &customers::Model,
    request: req::CreateSubscription,
    input: &NewSubscription,
) -> Result<
    (
        req::CreateSubscription,
        Option<entity::payment_methods::Model>,
    ),
    ApiError,
> {
    let Some(pm) = &input.payment_method_id else {
        return Ok((
            request.payment_behavior(req::CreateSubscriptionPaymentBehavior::DefaultIncomplete),
            None,
        ));
    };
    let (saved, attached) = save_card(db, stripe, viewer, customer, pm).await?;
    let request = request
        .default_payment_method(saved.stripe_payment_method_id.clone())
        .payment_behavior(req::CreateSubscriptionPaymentBehavior::AllowIncomplete);
    Ok((request, attached))
}

fn subscription_request(
    customer: &customers::Model,
    price: &prices::Model,
    viewer: &Viewer,
    input: &NewSubscription,
) -> req::CreateSubscription {
    let mut item = req::CreateSubscriptionItems::new();
    item.price = Some(price.stripe_price_id.clone());
    item.quantity = u64::try_from(input.quantity).ok();
    let metadata =
        std::collections::HashMap::from([("tollgate_user_id".to_string(), viewer.user_id.clone())]);
    let request = req::CreateSubscription::new()
        .customer(customer.stripe_customer_id.clone())
        .items(vec![item])
        .metadata(metadata)
        .expand(expansions());
    match input.trial_days {
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
