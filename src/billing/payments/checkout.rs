//! Paying through Tollgate: a PaymentIntent created (for an amount or a one-time price),
//! confirmed server-side with a saved card, or canceled; each under the client's idempotency
//! key, with Stripe's answer written through at once (`projection`) and an answer that never
//! came kept as a pending row the webhook settles.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{payment_methods, payments, prices};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    find, find_for_viewer,
    projection::{self, apply_intent, expansions, Origin},
    PaymentStatus, CONFIRMABLE,
};
use crate::{
    auth::Viewer,
    billing::{customers, idempotency},
    error::ApiError,
    live::{Changed, LiveEvent},
    money::{Currency, Money},
    stripe::{
        ids::PaymentMethodId, objects, requests::payment_intent as req, IdempotencyKey,
        StripeClient, StripeError,
    },
};

/// What a client asks to pay: an amount and currency, or a one-time price.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NewPayment {
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub price_id: Option<String>,
    /// Units of `price_id` (1 to `MAX_QUANTITY`); the amount is unit amount × quantity.
    /// Left out of the fingerprint when absent or 1, so a retry of a request made before
    /// quantities existed still matches its key.
    #[serde(skip_serializing_if = "crate::billing::is_one_or_none")]
    pub quantity: Option<i32>,
    pub description: Option<String>,
    pub payment_method_id: Option<PaymentMethodId>,
    pub metadata: Option<serde_json::Value>,
}

/// The outcome of creating or confirming: the payment, and the secret Stripe.js needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IntentOutcome {
    pub payment_id: Uuid,
    pub client_secret: Option<String>,
}

/// Limits Stripe puts on metadata (https://docs.stripe.com/api/metadata); two keys are ours.
const MAX_METADATA_KEYS: usize = 48;
const MAX_METADATA_KEY_LEN: usize = 40;
const MAX_METADATA_VALUE_LEN: usize = 500;
const MAX_DESCRIPTION_LEN: usize = 1000;

fn validate_metadata(
    value: Option<&serde_json::Value>,
) -> Result<HashMap<String, String>, ApiError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(HashMap::new());
    };
    let bad = |m: &str| ApiError::invalid_input("metadata", m);
    let object = value
        .as_object()
        .ok_or_else(|| bad("must be an object of strings"))?;
    if object.len() > MAX_METADATA_KEYS {
        return Err(bad(&format!("at most {MAX_METADATA_KEYS} keys")));
    }
    object
        .iter()
        .map(|(k, v)| {
            if k.is_empty() || k.len() > MAX_METADATA_KEY_LEN || k.contains(['[', ']']) {
                return Err(bad(&format!(
                    "keys are 1 to {MAX_METADATA_KEY_LEN} characters, no brackets"
                )));
            }
            if k.starts_with("tollgate_") {
                return Err(bad("keys starting with tollgate_ are reserved"));
            }
            let v = v.as_str().ok_or_else(|| bad("values must be strings"))?;
            if v.len() > MAX_METADATA_VALUE_LEN {
                return Err(bad(&format!(
                    "values are at most {MAX_METADATA_VALUE_LEN} characters"
                )));
            }
            Ok((k.clone(), v.to_string()))
        })
        .collect()
}

/// Checks a new payment's input; returns the amount, the local price it is for and the units
/// bought of it, if any.
async fn validate(
    db: &impl ConnectionTrait,
    input: &NewPayment,
) -> Result<(Money, Option<Uuid>, Option<i32>), ApiError> {
    if input
        .description
        .as_ref()
        .is_some_and(|d| d.len() > MAX_DESCRIPTION_LEN)
    {
        return Err(ApiError::invalid_input(
            "description",
            format!("at most {MAX_DESCRIPTION_LEN} characters"),
        ));
    }
    match (&input.price_id, &input.amount, &input.currency) {
        (Some(price_id), None, None) => {
            let not_found = || ApiError::NotFound("price");
            let id = Uuid::parse_str(price_id).map_err(|_| not_found())?;
            let price = prices::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or_else(not_found)?;
            if !price.active {
                return Err(ApiError::invalid_input(
                    "priceId",
                    "this price is no longer for sale",
                ));
            }
            if price.recurring_interval.is_some() {
                return Err(ApiError::invalid_input(
                    "priceId",
                    "a recurring price is bought with createSubscription",
                ));
            }
            let unit = price.unit_amount.ok_or_else(|| {
                ApiError::invalid_input("priceId", "this price has no fixed amount")
            })?;
            let quantity = crate::billing::quantity(input.quantity)?;
            let amount = unit
                .checked_mul(i64::from(quantity))
                .ok_or_else(|| ApiError::invalid_input("quantity", "the total is too large"))?;
            let money = Money::from_minor(amount, Currency::from_stored(&price.currency));
            money
                .check_chargeable()
                .map_err(|e| ApiError::money("quantity", e))?;
            Ok((money, Some(price.id), Some(quantity)))
        }
        (None, Some(_), Some(_)) if input.quantity.is_some_and(|q| q != 1) => {
            Err(ApiError::invalid_input(
                "quantity",
                "a quantity goes with priceId; an amount is already the total",
            ))
        }
        (None, Some(amount), Some(currency)) => {
            let currency = Currency::parse(currency).map_err(|e| ApiError::money("currency", e))?;
            let money = Money::parse_chargeable(amount, &currency)
                .map_err(|e| ApiError::money("amount", e))?;
            Ok((money, None, None))
        }
        _ => Err(ApiError::invalid_input(
            "input",
            "give either amount and currency, or priceId (not both)",
        )),
    }
}

/// A payment method given by id must not be another customer's saved card.
pub async fn check_payment_method(
    db: &impl ConnectionTrait,
    customer_id: Uuid,
    payment_method_id: &PaymentMethodId,
) -> Result<(), ApiError> {
    let saved = payment_methods::Entity::find()
        .filter(payment_methods::Column::StripePaymentMethodId.eq(payment_method_id.as_str()))
        .one(db)
        .await?;
    match saved {
        Some(pm) if pm.customer_id != customer_id => Err(ApiError::NotFound("payment method")),
        _ => Ok(()),
    }
}

/// The create request: our ids in the metadata (so a webhook can find the row), no redirect
/// methods (the SPA confirms in place), confirmed at once when a card was given.
fn intent_request(
    input: &NewPayment,
    money: &Money,
    mut metadata: HashMap<String, String>,
    origin: &Origin,
    customer: &entity::customers::Model,
) -> req::CreatePaymentIntent {
    metadata.insert(
        projection::PAYMENT_ID_KEY.into(),
        origin.payment_id.to_string(),
    );
    metadata.insert("tollgate_user_id".into(), origin.user_id.clone());
    let currency: stripe_types::Currency = money
        .currency()
        .as_str()
        .parse()
        .unwrap_or_else(|never: std::convert::Infallible| match never {});
    let mut automatic = req::CreatePaymentIntentAutomaticPaymentMethods::new(true);
    automatic.allow_redirects =
        Some(req::CreatePaymentIntentAutomaticPaymentMethodsAllowRedirects::Never);
    let mut request = req::CreatePaymentIntent::new(money.minor_units(), currency)
        .customer(customer.stripe_customer_id.clone())
        .automatic_payment_methods(automatic)
        .metadata(metadata)
        .expand(expansions());
    if let Some(d) = &input.description {
        request = request.description(d.clone());
    }
    if let Some(pm) = &input.payment_method_id {
        request = request.payment_method(pm.as_str()).confirm(true);
    }
    request
}

pub async fn create_payment_intent(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    input: NewPayment,
    idempotency_key: Option<&str>,
) -> Result<Changed<(payments::Model, Option<String>)>, ApiError> {
    let scope = idempotency::scope(
        &viewer.user_id,
        idempotency_key,
        "createPaymentIntent",
        &input,
    )?;
    let outcome = idempotency::run(db, scope.as_ref(), || async {
        let (money, price_id, quantity) = validate(db, &input).await?;
        let mut metadata = validate_metadata(input.metadata.as_ref())?;
        if let Some(q) = quantity {
            metadata.insert(projection::QUANTITY_KEY.into(), q.to_string());
        }
        let customer = customers::ensure_customer(db, stripe, viewer).await?;
        if let Some(pm) = &input.payment_method_id {
            check_payment_method(db, customer.id, pm).await?;
        }
        let stripe_key = idempotency::stripe_key(scope.as_ref(), "pi")?;
        // Derived from the Stripe key: a retry sends identical parameters, as Stripe requires.
        let payment_id = Uuid::new_v5(&Uuid::NAMESPACE_OID, stripe_key.as_str().as_bytes());
        let origin = Origin {
            payment_id,
            user_id: viewer.user_id.clone(),
            customer_id: Some(customer.id),
            price_id,
            subscription_id: None,
            stripe_invoice_id: None,
            stripe_idempotency_key: Some(stripe_key.as_str().to_string()),
            quantity,
        };
        let request = intent_request(&input, &money, metadata, &origin, &customer);
        let pending = PendingPayment {
            money: &money,
            description: input.description.as_deref(),
            metadata: input.metadata.as_ref(),
        };
        let result = stripe
            .send::<objects::PaymentIntent>(&request, Some(&stripe_key))
            .await;
        settle_intent_call(db, result, &origin, Some(&pending)).await
    })
    .await?;
    let payment = payments::Entity::find_by_id(outcome.payment_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("payment row missing")))?;
    let live = vec![LiveEvent::payment(&payment)];
    Ok(Changed::new((payment, outcome.client_secret), live))
}

/// What Tollgate knows of a payment before Stripe has answered.
struct PendingPayment<'a> {
    money: &'a Money,
    description: Option<&'a str>,
    metadata: Option<&'a serde_json::Value>,
}

/// Turns a Stripe answer to a create/confirm call into local state and the mutation's result.
async fn settle_intent_call(
    db: &impl ConnectionTrait,
    result: Result<objects::PaymentIntent, StripeError>,
    origin: &Origin,
    pending: Option<&PendingPayment<'_>>,
) -> Result<IntentOutcome, ApiError> {
    match result {
        Ok(pi) => {
            let row = apply_intent(db, &pi, Utc::now(), Some(origin)).await?;
            Ok(IntentOutcome {
                payment_id: row.id,
                client_secret: pi.client_secret,
            })
        }
        Err(StripeError::Card(card)) => {
            // Stripe records the failed attempt on the intent; so do we, then report it.
            if let Some(pi) = card
                .payment_intent
                .clone()
                .and_then(|v| serde_json::from_value::<objects::PaymentIntent>(v).ok())
            {
                apply_intent(db, &pi, Utc::now(), Some(origin)).await?;
            }
            Err(StripeError::Card(card).into())
        }
        Err(e) if e.outcome_unknown() => {
            // Stripe may have created it: keep a pending row the webhook (which carries our
            // payment id in metadata) or a retry with the same key will settle.
            if let Some(p) = pending {
                record_unknown_outcome(db, origin, p).await?;
            }
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

async fn record_unknown_outcome(
    db: &impl ConnectionTrait,
    origin: &Origin,
    p: &PendingPayment<'_>,
) -> Result<(), ApiError> {
    let row = projection::new_row(
        origin,
        projection::NewRow {
            stripe_payment_intent_id: None,
            amount: p.money.minor_units(),
            currency: p.money.currency().as_str().to_string(),
            status: PaymentStatus::Pending,
            description: p.description.map(str::to_owned),
            card_brand: None,
            card_last4: None,
            failure_code: None,
            failure_message: None,
            metadata: p.metadata.cloned().unwrap_or_else(|| serde_json::json!({})),
            // The epoch: any real snapshot is newer.
            snapshot_at: DateTime::UNIX_EPOCH,
        },
    );
    projection::insert_new(db, row).await?;
    Ok(())
}

fn stripe_id(row: &payments::Model) -> Result<&str, ApiError> {
    row.stripe_payment_intent_id.as_deref().ok_or_else(|| {
        ApiError::invalid_input(
            "paymentId",
            "this payment is still being created; try again shortly",
        )
    })
}

/// Confirms a payment server-side with a payment method (3-D Secure cards end in
/// `requires_action` with what the SPA needs to continue).
pub async fn confirm_payment(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    payment_id: &str,
    payment_method_id: &PaymentMethodId,
    idempotency_key: Option<&str>,
) -> Result<Changed<(payments::Model, Option<String>)>, ApiError> {
    #[derive(Serialize)]
    struct Request<'a> {
        payment_id: &'a str,
        payment_method_id: &'a PaymentMethodId,
    }
    let request = Request {
        payment_id,
        payment_method_id,
    };
    let scope = idempotency::scope(&viewer.user_id, idempotency_key, "confirmPayment", &request)?;
    let outcome = idempotency::run(db, scope.as_ref(), || async {
        let payment = find_for_viewer(db, viewer, payment_id).await?;
        if payment.user_id != viewer.user_id {
            // Admins see every payment but only its owner pays with their card.
            return Err(ApiError::NotFound("payment"));
        }
        if !CONFIRMABLE.contains(&payment.status) {
            return Err(ApiError::invalid_input(
                "paymentId",
                format!("a {} payment cannot be confirmed", payment.status),
            ));
        }
        if let Some(customer_id) = payment.customer_id {
            check_payment_method(db, customer_id, payment_method_id).await?;
        }
        let key = idempotency::stripe_key(scope.as_ref(), "confirm")?;
        let request = req::ConfirmPaymentIntent::new(stripe_id(&payment)?)
            .payment_method(payment_method_id.as_str())
            .expand(expansions());
        let origin = origin_of(&payment, &key);
        let result = stripe
            .send::<objects::PaymentIntent>(&request, Some(&key))
            .await;
        settle_intent_call(db, result, &origin, None).await
    })
    .await?;
    let payment = find(db, outcome.payment_id).await?;
    let live = vec![LiveEvent::payment(&payment)];
    Ok(Changed::new((payment, outcome.client_secret), live))
}

fn origin_of(payment: &payments::Model, key: &IdempotencyKey) -> Origin {
    Origin {
        payment_id: payment.id,
        user_id: payment.user_id.clone(),
        customer_id: payment.customer_id,
        price_id: payment.price_id,
        subscription_id: payment.subscription_id,
        stripe_invoice_id: payment.stripe_invoice_id.clone(),
        stripe_idempotency_key: Some(key.as_str().to_string()),
        quantity: payment.quantity,
    }
}

/// Cancels a payment that has not succeeded.
pub async fn cancel_payment(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    payment_id: &str,
) -> Result<Changed<payments::Model>, ApiError> {
    let payment = find_for_viewer(db, viewer, payment_id).await?;
    if !CONFIRMABLE.contains(&payment.status) {
        return Err(ApiError::invalid_input(
            "paymentId",
            format!("a {} payment cannot be canceled", payment.status),
        ));
    }
    let key = IdempotencyKey::new(format!("tollgate-cancel-{}", payment.id))
        .map_err(ApiError::internal)?;
    let request = req::CancelPaymentIntent::new(stripe_id(&payment)?).expand(expansions());
    let pi: objects::PaymentIntent = stripe.send(&request, Some(&key)).await?;
    let row = apply_intent(db, &pi, Utc::now(), Some(&origin_of(&payment, &key))).await?;
    Ok(Changed::new(row.clone(), vec![LiveEvent::payment(&row)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_rules() {
        use serde_json::json;
        assert!(validate_metadata(Some(&json!({"order": "42"}))).is_ok());
        assert!(validate_metadata(Some(&json!(null)))
            .expect("null is none")
            .is_empty());
        assert!(validate_metadata(Some(&json!(["x"]))).is_err());
        assert!(validate_metadata(Some(&json!({"n": 1}))).is_err());
        assert!(validate_metadata(Some(&json!({"tollgate_payment_id": "x"}))).is_err());
        let many: serde_json::Map<_, _> = (0..49).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert!(validate_metadata(Some(&serde_json::Value::Object(many))).is_err());
    }
}
