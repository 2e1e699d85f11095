//! One-time payments: PaymentIntents created, confirmed and canceled through Tollgate, and the
//! local projection of every PaymentIntent Stripe tells us about.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{payment_methods, payments, prices, refunds};
use sea_orm::{
    sea_query::{Expr, OnConflict},
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    auth::Viewer,
    billing::{customers, idempotency, rows},
    error::ApiError,
    live::{Changed, LiveEvent},
    money::{Currency, Money},
    stripe::{
        ids::PaymentMethodId, objects, requests::payment_intent as req, IdempotencyKey,
        StripeClient, StripeError,
    },
};

pub use entity::{DisputeStatus, PaymentStatus};

/// The SPA or the server may still confirm these.
pub const CONFIRMABLE: [PaymentStatus; 3] = [
    PaymentStatus::Pending,
    PaymentStatus::Failed,
    PaymentStatus::RequiresAction,
];

/// Stripe's PaymentIntent status in Tollgate's terms.
fn status_of(pi: &objects::PaymentIntent) -> PaymentStatus {
    use objects::PaymentIntentStatus as S;
    match &pi.status {
        S::Succeeded => PaymentStatus::Succeeded,
        S::Canceled => PaymentStatus::Canceled,
        S::Processing | S::RequiresCapture => PaymentStatus::Processing,
        S::RequiresAction => PaymentStatus::RequiresAction,
        // A failed attempt leaves the intent waiting for another payment method.
        S::RequiresPaymentMethod if pi.last_payment_error.is_some() => PaymentStatus::Failed,
        S::RequiresPaymentMethod | S::RequiresConfirmation | S::Other(_) => PaymentStatus::Pending,
    }
}

/// The status after applying `incoming` to a row in `current`. Final states are never walked
/// back: a stale `processing` cannot undo `succeeded`, nothing undoes `canceled`, and refund
/// states follow the refunded amount, which only grows.
pub fn next_status(
    current: PaymentStatus,
    incoming: PaymentStatus,
    amount: i64,
    amount_refunded: i64,
) -> PaymentStatus {
    let refunded = if amount_refunded > 0 && amount_refunded >= amount {
        Some(PaymentStatus::Refunded)
    } else if amount_refunded > 0 {
        Some(PaymentStatus::PartiallyRefunded)
    } else {
        None
    };
    let captured = current.is_captured() || incoming == PaymentStatus::Succeeded;
    if current == PaymentStatus::Canceled {
        PaymentStatus::Canceled
    } else if captured {
        refunded.unwrap_or(PaymentStatus::Succeeded)
    } else {
        incoming
    }
}

/// What a client asks to pay: an amount and currency, or a one-time price.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NewPayment {
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub price_id: Option<String>,
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

/// Checks a new payment's input; returns the amount and the local price it is for, if any.
async fn validate(
    db: &impl ConnectionTrait,
    input: &NewPayment,
) -> Result<(Money, Option<Uuid>), ApiError> {
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
            let amount = price.unit_amount.ok_or_else(|| {
                ApiError::invalid_input("priceId", "this price has no fixed amount")
            })?;
            Ok((
                Money::from_minor(amount, Currency::from_stored(&price.currency)),
                Some(price.id),
            ))
        }
        (None, Some(amount), Some(currency)) => {
            let currency = Currency::parse(currency).map_err(|e| ApiError::money("currency", e))?;
            let money = Money::parse_chargeable(amount, &currency)
                .map_err(|e| ApiError::money("amount", e))?;
            Ok((money, None))
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

/// Where a payment came from, for rows Tollgate creates itself.
#[derive(Debug, Clone)]
pub struct Origin {
    pub payment_id: Uuid,
    pub user_id: String,
    pub customer_id: Option<Uuid>,
    pub price_id: Option<Uuid>,
    /// For subscription charges: the subscription and the invoice paid.
    pub subscription_id: Option<Uuid>,
    pub stripe_invoice_id: Option<String>,
    pub stripe_idempotency_key: Option<String>,
}

/// The origin of a PaymentIntent Tollgate did not create: the user whose customer paid.
/// None when the customer is not one of ours.
pub async fn origin_from_customer(
    txn: &impl ConnectionTrait,
    pi: &objects::PaymentIntent,
) -> Result<Option<Origin>, ApiError> {
    let Some(customer_id) = pi.customer.as_ref().map(|c| c.id().to_string()) else {
        return Ok(None);
    };
    let Some(customer) = crate::billing::customers::find_by_stripe_id(txn, &customer_id).await?
    else {
        return Ok(None);
    };
    Ok(Some(Origin {
        payment_id: pi
            .metadata
            .get("tollgate_payment_id")
            .and_then(|s| Uuid::parse_str(s).ok())
            .unwrap_or_else(|| Uuid::new_v5(&Uuid::NAMESPACE_OID, pi.id.as_bytes())),
        user_id: customer.user_id,
        customer_id: Some(customer.id),
        price_id: None,
        subscription_id: None,
        stripe_invoice_id: pi.invoice.as_ref().map(|i| i.id().to_string()),
        stripe_idempotency_key: None,
    }))
}

/// What to expand on PaymentIntents so the card summary comes back in the same answer.
fn expansions() -> Vec<String> {
    vec!["payment_method".into(), "latest_charge".into()]
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
    metadata.insert("tollgate_payment_id".into(), origin.payment_id.to_string());
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
        let (money, price_id) = validate(db, &input).await?;
        let metadata = validate_metadata(input.metadata.as_ref())?;
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
    let now = Utc::now();
    let row = payments::ActiveModel {
        id: Set(origin.payment_id),
        user_id: Set(origin.user_id.clone()),
        customer_id: Set(origin.customer_id),
        stripe_payment_intent_id: Set(None),
        stripe_idempotency_key: Set(origin.stripe_idempotency_key.clone()),
        amount: Set(p.money.minor_units()),
        currency: Set(p.money.currency().as_str().to_string()),
        status: Set(PaymentStatus::Pending),
        description: Set(p.description.map(str::to_owned)),
        card_brand: Set(None),
        card_last4: Set(None),
        failure_code: Set(None),
        failure_message: Set(None),
        amount_refunded: Set(0),
        refund_reserved: Set(0),
        metadata: Set(p.metadata.cloned().unwrap_or_else(|| serde_json::json!({}))),
        price_id: Set(origin.price_id),
        subscription_id: Set(None),
        stripe_invoice_id: Set(None),
        disputed: Set(false),
        dispute_status: Set(None),
        dispute_amount: Set(0),
        // The epoch: any real snapshot is newer.
        snapshot_at: Set(DateTime::UNIX_EPOCH),
        created_at: Set(now),
        updated_at: Set(now),
    };
    payments::Entity::insert(row)
        .on_conflict(
            OnConflict::column(payments::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The card summary of an intent, from its expanded payment method or its latest charge.
fn card_of(pi: &objects::PaymentIntent) -> (Option<String>, Option<String>) {
    let card = pi
        .payment_method
        .as_ref()
        .and_then(|pm| pm.object())
        .and_then(|pm| pm.card.clone())
        .or_else(|| {
            pi.latest_charge
                .as_ref()
                .and_then(|c| c.object())
                .and_then(|c| c.payment_method_details.as_ref())
                .and_then(|d| d.card.clone())
        });
    match card {
        Some(c) => (c.brand, c.last4),
        None => (None, None),
    }
}

/// What a PaymentIntent snapshot says about its payment, read once.
struct IntentFacts {
    status: PaymentStatus,
    brand: Option<String>,
    last4: Option<String>,
    failure_code: Option<String>,
    failure_message: Option<String>,
}

fn facts_of(pi: &objects::PaymentIntent) -> IntentFacts {
    let status = status_of(pi);
    let (brand, last4) = card_of(pi);
    let (failure_code, failure_message) = match &pi.last_payment_error {
        Some(e) if status != PaymentStatus::Succeeded => (
            e.decline_code.clone().or_else(|| e.code.clone()),
            e.message.clone(),
        ),
        _ => (None, None),
    };
    IntentFacts {
        status,
        brand,
        last4,
        failure_code,
        failure_message,
    }
}

/// Whether a conditional write landed, or lost a race and must be merged again.
enum Write {
    Done(Box<payments::Model>),
    Raced,
}

/// Concurrent writers of one payment (the API answer and its webhook) each merge with what
/// they read; a loser merges again with the winner's row. More than this many lost races in a
/// row means something is wrong, not busy.
const MAX_MERGES: usize = 5;

/// Applies a PaymentIntent snapshot taken at `snapshot_at` to the local projection, whichever
/// way it arrived (API answer or webhook). Rows are matched by Stripe id, else by the Tollgate
/// id of `origin` or of the intent's metadata. A snapshot older than what the row holds
/// changes nothing. A payment Tollgate has never seen needs an `origin` (whose it is).
pub async fn apply_intent(
    db: &impl ConnectionTrait,
    pi: &objects::PaymentIntent,
    snapshot_at: DateTime<Utc>,
    origin: Option<&Origin>,
) -> Result<payments::Model, ApiError> {
    let facts = facts_of(pi);
    for _ in 0..MAX_MERGES {
        let write = match find_local(db, pi, origin).await? {
            Some(current) => update_intent(db, pi, &facts, snapshot_at, &current).await?,
            None => {
                let origin = origin.ok_or_else(|| {
                    ApiError::internal(anyhow::anyhow!(
                        "payment intent {} has no local origin",
                        pi.id
                    ))
                })?;
                insert_intent(db, pi, &facts, snapshot_at, origin).await?
            }
        };
        if let Write::Done(row) = write {
            return Ok(*row);
        }
    }
    Err(ApiError::internal(anyhow::anyhow!(
        "payment intent {}: lost {MAX_MERGES} races in a row",
        pi.id
    )))
}

async fn find_local(
    db: &impl ConnectionTrait,
    pi: &objects::PaymentIntent,
    origin: Option<&Origin>,
) -> Result<Option<payments::Model>, ApiError> {
    if let Some(row) = find_by_intent_id(db, &pi.id).await? {
        return Ok(Some(row));
    }
    let by_metadata = pi
        .metadata
        .get("tollgate_payment_id")
        .and_then(|s| Uuid::parse_str(s).ok());
    match origin.map(|o| o.payment_id).or(by_metadata) {
        Some(id) => Ok(payments::Entity::find_by_id(id).one(db).await?),
        None => Ok(None),
    }
}

async fn insert_intent(
    db: &impl ConnectionTrait,
    pi: &objects::PaymentIntent,
    facts: &IntentFacts,
    snapshot_at: DateTime<Utc>,
    origin: &Origin,
) -> Result<Write, ApiError> {
    let now = Utc::now();
    let metadata: serde_json::Map<String, serde_json::Value> = pi
        .metadata
        .iter()
        .filter(|(k, _)| !k.starts_with("tollgate_"))
        .map(|(k, v)| (k.clone(), serde_json::Value::from(v.clone())))
        .collect();
    let row = payments::ActiveModel {
        id: Set(origin.payment_id),
        user_id: Set(origin.user_id.clone()),
        customer_id: Set(origin.customer_id),
        stripe_payment_intent_id: Set(Some(pi.id.clone())),
        stripe_idempotency_key: Set(origin.stripe_idempotency_key.clone()),
        amount: Set(pi.amount),
        currency: Set(pi.currency.to_ascii_lowercase()),
        status: Set(next_status(
            PaymentStatus::Pending,
            facts.status,
            pi.amount,
            0,
        )),
        description: Set(pi.description.clone()),
        card_brand: Set(facts.brand.clone()),
        card_last4: Set(facts.last4.clone()),
        failure_code: Set(facts.failure_code.clone()),
        failure_message: Set(facts.failure_message.clone()),
        amount_refunded: Set(0),
        refund_reserved: Set(0),
        metadata: Set(serde_json::Value::Object(metadata)),
        price_id: Set(origin.price_id),
        subscription_id: Set(origin.subscription_id),
        stripe_invoice_id: Set(origin.stripe_invoice_id.clone()),
        disputed: Set(false),
        dispute_status: Set(None),
        dispute_amount: Set(0),
        snapshot_at: Set(snapshot_at),
        // Our own clock for rows we create: Stripe's `created` has one-second resolution,
        // too coarse to order a history.
        created_at: Set(now),
        updated_at: Set(now),
    };
    let inserted = payments::Entity::insert(row)
        .on_conflict(
            OnConflict::column(payments::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    if inserted == 1 {
        Ok(Write::Done(Box::new(find(db, origin.payment_id).await?)))
    } else {
        Ok(Write::Raced) // a concurrent writer inserted it first: merge as an update
    }
}

async fn update_intent(
    db: &impl ConnectionTrait,
    pi: &objects::PaymentIntent,
    facts: &IntentFacts,
    snapshot_at: DateTime<Utc>,
    current: &payments::Model,
) -> Result<Write, ApiError> {
    let next = next_status(
        current.status,
        facts.status,
        current.amount,
        current.amount_refunded,
    );
    let keep = |new: &Option<String>, old: &Option<String>| new.clone().or(old.clone());
    let result = payments::Entity::update_many()
        .col_expr(
            payments::Column::StripePaymentIntentId,
            Expr::value(Some(pi.id.clone())),
        )
        .col_expr(payments::Column::Status, Expr::value(next))
        .col_expr(
            payments::Column::CardBrand,
            Expr::value(keep(&facts.brand, &current.card_brand)),
        )
        .col_expr(
            payments::Column::CardLast4,
            Expr::value(keep(&facts.last4, &current.card_last4)),
        )
        .col_expr(
            payments::Column::FailureCode,
            Expr::value(facts.failure_code.clone()),
        )
        .col_expr(
            payments::Column::FailureMessage,
            Expr::value(facts.failure_message.clone()),
        )
        .col_expr(
            payments::Column::Description,
            Expr::value(keep(&pi.description, &current.description)),
        )
        .col_expr(payments::Column::SnapshotAt, Expr::value(snapshot_at))
        .col_expr(payments::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(payments::Column::Id.eq(current.id))
        // Optimistic: the status we merged with must still be there, and ours must be newer.
        .filter(payments::Column::Status.eq(current.status))
        .filter(payments::Column::SnapshotAt.lte(snapshot_at))
        .exec(db)
        .await?;
    let fresh = find(db, current.id).await?;
    if result.rows_affected == 0
        && fresh.status != current.status
        && fresh.snapshot_at <= snapshot_at
    {
        return Ok(Write::Raced); // another writer moved it: merge again with what it wrote
    }
    // Written, or our snapshot was older than the row's: either way the row is the answer.
    Ok(Write::Done(Box::new(fresh)))
}

pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<payments::Model, ApiError> {
    payments::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("payment"))
}

/// The payment of a Stripe PaymentIntent, if Tollgate has it.
pub async fn find_by_intent_id(
    db: &impl ConnectionTrait,
    stripe_id: &str,
) -> Result<Option<payments::Model>, ApiError> {
    Ok(payments::Entity::find()
        .filter(payments::Column::StripePaymentIntentId.eq(stripe_id))
        .one(db)
        .await?)
}

/// The payment a PaymentIntent snapshot belongs to: by its id, or (when Tollgate created it
/// but has not recorded Stripe's id yet) by the `tollgate_payment_id` in its metadata.
pub async fn find_for_intent(
    db: &impl ConnectionTrait,
    pi: &objects::PaymentIntent,
) -> Result<Option<payments::Model>, ApiError> {
    if let Some(row) = find_by_intent_id(db, &pi.id).await? {
        return Ok(Some(row));
    }
    match pi
        .metadata
        .get("tollgate_payment_id")
        .and_then(|s| Uuid::parse_str(s).ok())
    {
        Some(id) => Ok(payments::Entity::find_by_id(id).one(db).await?),
        None => Ok(None),
    }
}

/// Records the card a charge was paid with on its payment, when the payment has none yet
/// (webhooks carry the payment method as a bare id; the charge has the card summary).
/// Returns the payment when it changed.
pub async fn record_card(
    db: &impl ConnectionTrait,
    stripe_payment_intent_id: &str,
    card: &objects::CardSummary,
) -> Result<Option<payments::Model>, ApiError> {
    let Some(payment) = find_by_intent_id(db, stripe_payment_intent_id).await? else {
        return Ok(None);
    };
    if payment.card_last4.is_some() || card.last4.is_none() {
        return Ok(None);
    }
    payments::Entity::update_many()
        .col_expr(payments::Column::CardBrand, Expr::value(card.brand.clone()))
        .col_expr(payments::Column::CardLast4, Expr::value(card.last4.clone()))
        .col_expr(payments::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(payments::Column::Id.eq(payment.id))
        .filter(payments::Column::CardLast4.is_null())
        .exec(db)
        .await?;
    Ok(Some(find(db, payment.id).await?))
}

/// Whether a snapshot names its card only by id (a webhook): re-read it to learn the card.
pub fn lacks_card(pi: &objects::PaymentIntent) -> bool {
    card_of(pi).1.is_none()
        && (pi.payment_method.is_some() || pi.latest_charge.is_some())
        && pi.status == objects::PaymentIntentStatus::Succeeded
}

/// Re-reads a PaymentIntent with what Tollgate records from it (card, charge).
pub async fn retrieve_intent(
    stripe: &StripeClient,
    id: &str,
) -> Result<objects::PaymentIntent, ApiError> {
    let request = req::RetrievePaymentIntent::new(id).expand(expansions());
    Ok(stripe.send(&request, None).await?)
}

/// A dispute of the payment of this PaymentIntent, as Stripe reports it (opened, updated,
/// funds withdrawn or reinstated, closed): its status and amount are recorded; an outcome
/// (`won`, `lost`) is never walked back by a stale event. Returns the payment when it changed.
pub async fn apply_dispute(
    db: &impl ConnectionTrait,
    stripe_payment_intent_id: &str,
    status: DisputeStatus,
    amount: i64,
) -> Result<Option<payments::Model>, ApiError> {
    let Some(payment) = find_by_intent_id(db, stripe_payment_intent_id).await? else {
        return Ok(None);
    };
    let mut update = payments::Entity::update_many()
        .col_expr(payments::Column::Disputed, Expr::value(true))
        .col_expr(payments::Column::DisputeStatus, Expr::value(Some(status)))
        .col_expr(payments::Column::DisputeAmount, Expr::value(amount))
        .col_expr(payments::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(payments::Column::Id.eq(payment.id));
    if !status.is_final() {
        // Checked again in the statement: a concurrent outcome wins over a stale update.
        let finals = [
            DisputeStatus::Won,
            DisputeStatus::Lost,
            DisputeStatus::WarningClosed,
            DisputeStatus::Prevented,
        ];
        update = update.filter(
            sea_orm::Condition::any()
                .add(payments::Column::DisputeStatus.is_null())
                .add(payments::Column::DisputeStatus.is_not_in(finals)),
        );
    }
    let updated = update.exec(db).await?;
    if updated.rows_affected == 0 {
        return Ok(None);
    }
    Ok(Some(find(db, payment.id).await?))
}

/// Ties a payment to the subscription and invoice it paid (a renewal first seen as a bare
/// PaymentIntent). Never moves a payment from one subscription to another.
pub async fn link_invoice(
    db: &impl ConnectionTrait,
    payment_id: Uuid,
    subscription: &entity::subscriptions::Model,
    stripe_invoice_id: &str,
) -> Result<(), ApiError> {
    payments::Entity::update_many()
        .col_expr(
            payments::Column::SubscriptionId,
            Expr::value(Some(subscription.id)),
        )
        .col_expr(
            payments::Column::PriceId,
            Expr::value(subscription.price_id),
        )
        .col_expr(
            payments::Column::StripeInvoiceId,
            Expr::value(Some(stripe_invoice_id.to_owned())),
        )
        .col_expr(payments::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(payments::Column::Id.eq(payment_id))
        .filter(payments::Column::SubscriptionId.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// A payment the viewer may see: their own, or any for admins. Anything else is `NOT_FOUND`,
/// never `FORBIDDEN`, so ids cannot be probed.
pub async fn find_for_viewer(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: &str,
) -> Result<payments::Model, ApiError> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound("payment"))?;
    let row = find(db, id).await?;
    if row.user_id == viewer.user_id || viewer.is_admin() {
        Ok(row)
    } else {
        Err(ApiError::NotFound("payment"))
    }
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

/// Filters of a payment listing.
#[derive(Debug, Clone, Default)]
pub struct PaymentFilter {
    pub user_id: Option<String>,
    pub status: Option<PaymentStatus>,
    pub currency: Option<String>,
}

/// A position in a newest-first listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn of(row: &payments::Model) -> Self {
        Cursor {
            created_at: row.created_at,
            id: row.id,
        }
    }

    /// Rows after this position in a newest-first listing ordered by (`at`, `id`).
    pub fn before<C: ColumnTrait>(&self, at: C, id: C) -> Condition {
        Condition::any().add(at.lt(self.created_at)).add(
            Condition::all()
                .add(at.eq(self.created_at))
                .add(id.lt(self.id)),
        )
    }

    /// Opaque to clients; stable across requests.
    pub fn encode(&self) -> String {
        use std::io::Write;
        // `{micros}|{uuid}` is at most 20 + 1 + 36 bytes: built on the stack, hex-encoded once.
        let mut raw = [0_u8; 64];
        let mut w = &mut raw[..];
        let _ = write!(w, "{}|", self.created_at.timestamp_micros());
        let used = 64 - w.len();
        let id = self.id.hyphenated();
        let mut buf = uuid::Uuid::encode_buffer();
        let id = id.encode_lower(&mut buf);
        raw[used..used + id.len()].copy_from_slice(id.as_bytes());
        hex::encode(&raw[..used + id.len()])
    }

    pub fn decode(s: &str) -> Option<Self> {
        // `{micros}|{uuid}` in hex is at most ~110 characters; anything longer is not ours.
        if s.len() > 128 {
            return None;
        }
        let raw = String::from_utf8(hex::decode(s).ok()?).ok()?;
        let (micros, id) = raw.split_once('|')?;
        Some(Cursor {
            created_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: Uuid::parse_str(id).ok()?,
        })
    }
}

/// One page of payments, newest first, and whether more follow.
pub struct Page {
    pub rows: Vec<payments::Model>,
    /// Each row's refunds, oldest first (`refunds[i]` belongs to `rows[i]`), when the page was
    /// read with them.
    pub refunds: Option<Vec<Vec<refunds::Model>>>,
    pub has_next: bool,
}

fn condition_of(filter: &PaymentFilter) -> Condition {
    let mut condition = Condition::all();
    if let Some(u) = &filter.user_id {
        condition = condition.add(payments::Column::UserId.eq(u.clone()));
    }
    if let Some(s) = &filter.status {
        condition = condition.add(payments::Column::Status.eq(*s));
    }
    if let Some(c) = &filter.currency {
        condition = condition.add(payments::Column::Currency.eq(c.to_ascii_lowercase()));
    }
    condition
}

/// How many payments match the filter. A plain `COUNT(*)` the planner can answer from the
/// history index (an ORM-style count over a subquery of every column reads each row).
pub async fn count(db: &impl ConnectionTrait, filter: &PaymentFilter) -> Result<u64, ApiError> {
    let n: Option<i64> = payments::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(condition_of(filter))
        .into_tuple()
        .one(db)
        .await?;
    Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
}

/// One page of payments matching `filter`, newest first, after `after`; with `with_refunds`,
/// each payment's refunds too, read in the same statement (the page as a subquery, its refunds
/// joined to it): one round trip and one statement for the database instead of two, which was
/// most of what a history page cost it.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &PaymentFilter,
    first: u64,
    after: Option<Cursor>,
    columns: Columns,
    with_refunds: bool,
) -> Result<Page, ApiError> {
    let mut page_condition = condition_of(filter);
    if let Some(c) = after {
        page_condition =
            page_condition.add(c.before(payments::Column::CreatedAt, payments::Column::Id));
    }
    let query = payments::Entity::find()
        .filter(page_condition)
        .order_by_desc(payments::Column::CreatedAt)
        .order_by_desc(payments::Column::Id)
        .limit(first + 1);
    let query = match columns {
        Columns::All => query,
        Columns::Summary => query.select_only().columns(SUMMARY_COLUMNS),
    };
    let backend = db.get_database_backend();
    let statement = if with_refunds {
        backend.build(&with_their_refunds(query))
    } else {
        use sea_orm::QueryTrait;
        query.build(backend)
    };
    // Rows are read by position (`rows`): the page's columns, then (joined) a refund's.
    let refund_at = match columns {
        Columns::All => rows::PAYMENT_COLUMNS,
        Columns::Summary => rows::SUMMARY_COLUMNS,
    };
    let mut payments_read: Vec<payments::Model> = Vec::new();
    let mut refunds_of: Vec<Vec<refunds::Model>> = Vec::new();
    for result in db.query_all_raw(statement).await? {
        let row = rows::Positional::new(&result);
        // Rows of one payment are consecutive; its first carries the payment.
        let id = row.payment_id()?;
        if payments_read.last().map(|last| last.id) != Some(id) {
            payments_read.push(row.payment(columns)?);
            refunds_of.push(Vec::new());
        }
        if with_refunds {
            if let (Some(refund), Some(of_last)) = (row.refund(refund_at)?, refunds_of.last_mut()) {
                of_last.push(refund);
            }
        }
    }
    let has_next = payments_read.len() as u64 > first;
    payments_read.truncate(first as usize);
    refunds_of.truncate(first as usize);
    Ok(Page {
        rows: payments_read,
        refunds: with_refunds.then_some(refunds_of),
        has_next,
    })
}

/// `page` as a subquery with its refunds joined: one row per refund, or one with no refund for
/// a payment without any; rows of one payment are consecutive.
fn with_their_refunds(
    page: sea_orm::Select<payments::Entity>,
) -> sea_orm::sea_query::SelectStatement {
    use sea_orm::{
        sea_query::{Alias, ExprTrait},
        IdenStatic, Iterable, QueryTrait,
    };
    let (p, r) = (Alias::new("p"), Alias::new("r"));
    let mut select = sea_orm::sea_query::Query::select();
    // The page's own columns first, in the order the subquery selects them, then the refund's,
    // prefixed: `rows` reads them by position.
    select.column((p.clone(), sea_orm::sea_query::Asterisk));
    for c in refunds::Column::iter() {
        select.expr_as(
            Expr::col((r.clone(), c)),
            Alias::new(format!("{REFUND_PREFIX}{}", c.as_str())),
        );
    }
    select
        .from_subquery(page.into_query(), p.clone())
        .join_as(
            sea_orm::JoinType::LeftJoin,
            refunds::Entity,
            r.clone(),
            Expr::col((r.clone(), refunds::Column::PaymentId))
                .equals((p.clone(), payments::Column::Id)),
        )
        .order_by(
            (p.clone(), payments::Column::CreatedAt),
            sea_orm::Order::Desc,
        )
        .order_by((p.clone(), payments::Column::Id), sea_orm::Order::Desc)
        .order_by((r.clone(), refunds::Column::CreatedAt), sea_orm::Order::Asc)
        .order_by((r, refunds::Column::Id), sea_orm::Order::Asc);
    select
}

/// Names the joined refund columns apart from the payment's (`id`, `amount`, … are in both).
const REFUND_PREFIX: &str = "r_";

/// The columns of `Columns::Summary`, in the order `rows` reads them.
pub(crate) const SUMMARY_COLUMNS: [payments::Column; 11] = [
    payments::Column::Id,
    payments::Column::UserId,
    payments::Column::CustomerId,
    payments::Column::Amount,
    payments::Column::Currency,
    payments::Column::Status,
    payments::Column::CardBrand,
    payments::Column::CardLast4,
    payments::Column::AmountRefunded,
    payments::Column::Disputed,
    payments::Column::CreatedAt,
];

/// How much of each row a listing reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columns {
    All,
    /// What a history page shows (id, owner, money, status, card, dispute flag, time): no
    /// metadata JSON to decode, no free text. The other fields of the returned rows hold
    /// placeholders, and callers must know it (`graphql::payments::Payment` reloads the row
    /// when such a field is asked for).
    Summary,
}

/// Revenue of one currency over a period, in minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevenueLine {
    pub currency: String,
    pub gross: i64,
    pub refunded: i64,
    /// Taken back by disputes the merchant lost.
    pub disputes_lost: i64,
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
        .filter(payments::Column::Status.is_in(PaymentStatus::CAPTURED))
        .group_by(payments::Column::Currency)
        .order_by_asc(payments::Column::Currency);
    if let Some(f) = from {
        query = query.filter(payments::Column::CreatedAt.gte(f));
    }
    if let Some(t) = to {
        query = query.filter(payments::Column::CreatedAt.lt(t));
    }
    let rows: Vec<(String, i64, i64, i64)> = query.into_tuple().all(db).await?;
    Ok(rows
        .into_iter()
        .map(|(currency, gross, refunded, disputes_lost)| RevenueLine {
            currency,
            gross,
            refunded,
            disputes_lost,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_states_are_never_walked_back() {
        use PaymentStatus::*;
        assert_eq!(next_status(Pending, Succeeded, 100, 0), Succeeded);
        assert_eq!(next_status(Succeeded, Processing, 100, 0), Succeeded);
        assert_eq!(next_status(Succeeded, Failed, 100, 0), Succeeded);
        assert_eq!(next_status(Canceled, Succeeded, 100, 0), Canceled);
        assert_eq!(next_status(Refunded, Succeeded, 100, 100), Refunded);
        assert_eq!(
            next_status(Succeeded, Succeeded, 100, 40),
            PartiallyRefunded
        );
        assert_eq!(
            next_status(PartiallyRefunded, Succeeded, 100, 100),
            Refunded
        );
        assert_eq!(
            next_status(Failed, Succeeded, 100, 0),
            Succeeded,
            "a retry can succeed"
        );
        assert_eq!(next_status(RequiresAction, Failed, 100, 0), Failed);
    }

    #[test]
    fn cursors_keep_their_published_format() {
        // Clients hold cursors across deploys: the bytes must not change.
        for micros in [0_i64, 1, 1_764_000_000_123_456, -5] {
            let c = Cursor {
                created_at: DateTime::from_timestamp_micros(micros).expect("time"),
                id: Uuid::from_u128(0x0193_5a7e_1234_7abc_8def_0123_4567_89ab),
            };
            assert_eq!(
                c.encode(),
                hex::encode(format!("{micros}|01935a7e-1234-7abc-8def-0123456789ab"))
            );
        }
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = Cursor {
            created_at: Utc::now(),
            id: Uuid::now_v7(),
        };
        let back = Cursor::decode(&c.encode()).expect("decodes");
        assert_eq!(back.id, c.id);
        assert_eq!(
            back.created_at.timestamp_micros(),
            c.created_at.timestamp_micros()
        );
        assert!(Cursor::decode("zz").is_none());
        assert!(Cursor::decode(&hex::encode("1|not-a-uuid")).is_none());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any string a client sends as `after`: a cursor or None, never a panic.
            #[test]
            fn decode_is_total(s in "\\PC{0,200}") {
                let _ = Cursor::decode(&s);
            }

            /// Hex that decodes to anything at all is still only accepted if it round-trips.
            #[test]
            fn decoded_cursors_reencode_to_themselves(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
                let s = hex::encode(&bytes);
                if let Some(c) = Cursor::decode(&s) {
                    prop_assert_eq!(Cursor::decode(&c.encode()).map(|d| (d.id, d.created_at)), Some((c.id, c.created_at)));
                }
            }

            #[test]
            fn cursors_round_trip(micros in 0i64..4_102_444_800_000_000, id in any::<u128>()) {
                let c = Cursor {
                    created_at: DateTime::from_timestamp_micros(micros).expect("in range"),
                    id: Uuid::from_u128(id),
                };
                let back = Cursor::decode(&c.encode()).expect("decodes");
                prop_assert_eq!(back.id, c.id);
                prop_assert_eq!(back.created_at, c.created_at);
            }
        }
    }

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
