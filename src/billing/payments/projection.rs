//! The local projection of Stripe's PaymentIntents: every snapshot, from an API answer or a
//! webhook, applied to its payment row (found by Stripe id or by the Tollgate id it carries),
//! newest snapshot winning and final states never walked back, concurrent writers merging.
//! Also the facts other events add to a payment: its card, a dispute, the invoice it paid.

use chrono::{DateTime, Utc};
use entity::payments;
use sea_orm::{
    sea_query::{Expr, OnConflict},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use uuid::Uuid;

use super::{
    find, find_by_intent_id,
    status::{next_status, status_of},
    DisputeStatus, PaymentStatus,
};
use crate::{
    error::ApiError,
    stripe::{objects, requests::payment_intent as req, StripeClient},
};

/// The metadata key of the Tollgate id Tollgate puts on the PaymentIntents it creates, so a
/// webhook that arrives before Stripe's answer finds the row.
pub(super) const PAYMENT_ID_KEY: &str = "tollgate_payment_id";
/// Metadata key with the units of the price bought, so a webhook seen first knows them.
pub(super) const QUANTITY_KEY: &str = "tollgate_quantity";
use crate::billing::MAX_QUANTITY;

/// The Tollgate id a PaymentIntent carries in its metadata, if any.
fn tollgate_id_of(pi: &objects::PaymentIntent) -> Option<Uuid> {
    pi.metadata
        .get(PAYMENT_ID_KEY)
        .and_then(|s| Uuid::parse_str(s).ok())
}

/// The Tollgate id of a payment Tollgate did not create: derived from the PaymentIntent's id,
/// so every event and re-read about it names the same row.
pub fn payment_id_for_intent(pi_id: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, pi_id.as_bytes())
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
    /// Units of `price_id` bought (one-time purchases).
    pub quantity: Option<i32>,
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
        payment_id: tollgate_id_of(pi).unwrap_or_else(|| payment_id_for_intent(&pi.id)),
        user_id: customer.user_id,
        customer_id: Some(customer.id),
        price_id: None,
        subscription_id: None,
        stripe_invoice_id: pi.invoice.as_ref().map(|i| i.id().to_string()),
        stripe_idempotency_key: None,
        quantity: pi
            .metadata
            .get(QUANTITY_KEY)
            .and_then(|q| q.parse::<i32>().ok())
            .filter(|q| (1..=MAX_QUANTITY).contains(q)),
    }))
}

/// What to expand on PaymentIntents so the card summary comes back in the same answer.
pub(super) fn expansions() -> Vec<String> {
    vec!["payment_method".into(), "latest_charge".into()]
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

/// What a new payment row holds beside its origin.
pub(super) struct NewRow {
    pub stripe_payment_intent_id: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub status: PaymentStatus,
    pub description: Option<String>,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub metadata: serde_json::Value,
    /// The snapshot it was made from (the epoch when Stripe has not answered yet).
    pub snapshot_at: DateTime<Utc>,
}

/// A payment row as Tollgate first writes it: whose it is (`origin`), what Stripe said
/// (`new`), nothing refunded or disputed yet.
pub(super) fn new_row(origin: &Origin, new: NewRow) -> payments::ActiveModel {
    // Our own clock for rows we create: Stripe's `created` has one-second resolution, too
    // coarse to order a history.
    let now = Utc::now();
    payments::ActiveModel {
        id: Set(origin.payment_id),
        user_id: Set(origin.user_id.clone()),
        customer_id: Set(origin.customer_id),
        stripe_payment_intent_id: Set(new.stripe_payment_intent_id),
        stripe_idempotency_key: Set(origin.stripe_idempotency_key.clone()),
        amount: Set(new.amount),
        currency: Set(new.currency),
        status: Set(new.status),
        description: Set(new.description),
        card_brand: Set(new.card_brand),
        card_last4: Set(new.card_last4),
        failure_code: Set(new.failure_code),
        failure_message: Set(new.failure_message),
        amount_refunded: Set(0),
        refund_reserved: Set(0),
        metadata: Set(new.metadata),
        price_id: Set(origin.price_id),
        subscription_id: Set(origin.subscription_id),
        stripe_invoice_id: Set(origin.stripe_invoice_id.clone()),
        disputed: Set(false),
        dispute_status: Set(None),
        dispute_amount: Set(0),
        snapshot_at: Set(new.snapshot_at),
        created_at: Set(now),
        updated_at: Set(now),
        quantity: Set(origin.quantity),
        // Coupons are on invoices: `record_invoice_discount` sets it when the invoice is read.
        discount_amount: Set(0),
        // From the charge: `record_receipt`.
        receipt_url: Set(None),
        receipt_number: Set(None),
    }
}

/// Inserts a new payment row unless one with its id exists; whether it was inserted.
pub(super) async fn insert_new(
    db: &impl ConnectionTrait,
    row: payments::ActiveModel,
) -> Result<bool, ApiError> {
    let inserted = payments::Entity::insert(row)
        .on_conflict(
            OnConflict::column(payments::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
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
        let write = match find_for_intent(db, pi, origin).await? {
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
            if let Some(charge) = pi.latest_charge.as_ref().and_then(|c| c.object()) {
                if let Some(updated) = record_receipt(db, &pi.id, charge).await? {
                    return Ok(updated);
                }
            }
            return Ok(*row);
        }
    }
    Err(ApiError::internal(anyhow::anyhow!(
        "payment intent {}: lost {MAX_MERGES} races in a row",
        pi.id
    )))
}

async fn insert_intent(
    db: &impl ConnectionTrait,
    pi: &objects::PaymentIntent,
    facts: &IntentFacts,
    snapshot_at: DateTime<Utc>,
    origin: &Origin,
) -> Result<Write, ApiError> {
    let metadata: serde_json::Map<String, serde_json::Value> = pi
        .metadata
        .iter()
        .filter(|(k, _)| !k.starts_with("tollgate_"))
        .map(|(k, v)| (k.clone(), serde_json::Value::from(v.clone())))
        .collect();
    let row = new_row(
        origin,
        NewRow {
            stripe_payment_intent_id: Some(pi.id.clone()),
            amount: pi.amount,
            currency: pi.currency.to_ascii_lowercase(),
            status: next_status(PaymentStatus::Pending, facts.status, pi.amount, 0),
            description: pi.description.clone(),
            card_brand: facts.brand.clone(),
            card_last4: facts.last4.clone(),
            failure_code: facts.failure_code.clone(),
            failure_message: facts.failure_message.clone(),
            metadata: serde_json::Value::Object(metadata),
            snapshot_at,
        },
    );
    let inserted = insert_new(db, row).await?;
    if inserted {
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

/// The payment a PaymentIntent snapshot belongs to: by Stripe's id, else by the Tollgate id
/// it carries (`origin`'s, or the `tollgate_payment_id` Tollgate put in its metadata), for a
/// payment Tollgate created but has not recorded Stripe's id for yet.
pub async fn find_for_intent(
    db: &impl ConnectionTrait,
    pi: &objects::PaymentIntent,
    origin: Option<&Origin>,
) -> Result<Option<payments::Model>, ApiError> {
    if let Some(row) = find_by_intent_id(db, &pi.id).await? {
        return Ok(Some(row));
    }
    match origin.map(|o| o.payment_id).or_else(|| tollgate_id_of(pi)) {
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

/// The receipt of a payment's charge (its page and number), once Stripe has one; the row as
/// changed, or None when nothing changed (or the payment is not known).
pub async fn record_receipt(
    db: &impl ConnectionTrait,
    stripe_payment_intent_id: &str,
    charge: &objects::Charge,
) -> Result<Option<payments::Model>, ApiError> {
    let Some(url) = charge.receipt_url.as_ref() else {
        return Ok(None);
    };
    let Some(payment) = find_by_intent_id(db, stripe_payment_intent_id).await? else {
        return Ok(None);
    };
    // A later snapshot without the number (sent before the receipt was) keeps the one known.
    let number = charge
        .receipt_number
        .clone()
        .or_else(|| payment.receipt_number.clone());
    if payment.receipt_url.as_ref() == Some(url) && payment.receipt_number == number {
        return Ok(None);
    }
    payments::Entity::update_many()
        .col_expr(payments::Column::ReceiptUrl, Expr::value(Some(url.clone())))
        .col_expr(payments::Column::ReceiptNumber, Expr::value(number))
        .col_expr(payments::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(payments::Column::Id.eq(payment.id))
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
