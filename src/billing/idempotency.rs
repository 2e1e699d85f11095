//! Client idempotency keys (DESIGN.md §5). The first request with a (user, key) pair inserts a
//! row (`ON CONFLICT DO NOTHING`) and runs; its outcome is stored. A repeat with the same
//! request replays the stored outcome without calling Stripe; a repeat with another request is
//! `IDEMPOTENCY_KEY_REUSED`; a concurrent duplicate waits for the first. The key sent to Stripe
//! is derived from (user, key), so even a retry after a crash cannot charge twice.

use std::time::Duration;

use chrono::Utc;
use entity::idempotency_keys;
use sea_orm::{
    sea_query::{Expr, OnConflict},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde::{de::DeserializeOwned, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    error::{ApiError, ErrorCode},
    stripe::IdempotencyKey,
};

/// Longest key a client may send (Stripe's own limit).
pub const MAX_KEY_LEN: usize = 255;
/// How long a stored outcome is replayed.
const RETENTION: chrono::Duration = chrono::Duration::hours(24);
/// How long the first request holds the key before a duplicate may assume it crashed. The
/// holder renews it every `RENEW_EVERY` while it runs, however long Stripe takes; so a retry
/// after a crash (the process killed mid-request) takes the key over within this time,
/// instead of the client being locked out of its own key. Taking over is safe: the Stripe
/// key derived from (user, key) makes a second run replay the first one's Stripe result.
const LEASE: chrono::Duration = chrono::Duration::seconds(15);
const RENEW_EVERY: Duration = Duration::from_secs(5);
/// How long a duplicate waits for the first request to finish.
const WAIT_LIMIT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(50);

/// An idempotency scope: who, which key, which operation and which exact request.
#[derive(Debug, Clone)]
pub struct Scope {
    user_id: String,
    key: String,
    operation: &'static str,
    fingerprint: String,
}

impl Scope {
    /// `request` is the operation's input without the key itself; its canonical JSON is the
    /// fingerprint, so field order in the client's query does not matter.
    pub fn new(
        user_id: &str,
        key: &str,
        operation: &'static str,
        request: &impl Serialize,
    ) -> Result<Self, ApiError> {
        if key.is_empty() || key.len() > MAX_KEY_LEN || key.chars().any(char::is_control) {
            return Err(ApiError::invalid_input(
                "idempotencyKey",
                format!("must be 1 to {MAX_KEY_LEN} printable characters"),
            ));
        }
        let canonical = serde_json::to_value(request)
            .and_then(|v| serde_json::to_string(&v))
            .map_err(ApiError::internal)?;
        let mut hash = Sha256::new();
        hash.update(operation.as_bytes());
        hash.update([0]);
        hash.update(canonical.as_bytes());
        Ok(Scope {
            user_id: user_id.to_string(),
            key: key.to_string(),
            operation,
            fingerprint: hex::encode(hash.finalize()),
        })
    }

    /// The Stripe idempotency key for one step (`"pi"`, `"refund"`, …) of this request:
    /// derived from (user, key) only, so it is the same on every retry.
    pub fn stripe_key(&self, step: &str) -> Result<IdempotencyKey, ApiError> {
        stripe_key_for(&self.user_id, &self.key, step)
    }
}

/// The scope of a request when the client sent a key (validated: 1 to 255 printable
/// characters, so an empty key is `INVALID_INPUT` on every mutation), `None` without one.
pub fn scope(
    user_id: &str,
    key: Option<&str>,
    operation: &'static str,
    request: &impl Serialize,
) -> Result<Option<Scope>, ApiError> {
    key.map(|k| Scope::new(user_id, k, operation, request))
        .transpose()
}

/// The Stripe idempotency key for one step of a request: derived from the client's key when
/// it sent one (the same on every retry), fresh otherwise (still retry-safe within this
/// request).
pub fn stripe_key(scope: Option<&Scope>, step: &str) -> Result<IdempotencyKey, ApiError> {
    match scope {
        Some(scope) => scope.stripe_key(step),
        None => one_off_stripe_key(step),
    }
}

pub fn stripe_key_for(user_id: &str, key: &str, step: &str) -> Result<IdempotencyKey, ApiError> {
    let mut hash = Sha256::new();
    hash.update(user_id.as_bytes());
    hash.update([0]);
    hash.update(key.as_bytes());
    let digest = hex::encode(hash.finalize());
    IdempotencyKey::new(format!("tollgate-{}-{step}", &digest[..40])).map_err(ApiError::internal)
}

/// A fresh Stripe key for a request the client did not make idempotent (still retry-safe
/// within this request).
pub fn one_off_stripe_key(step: &str) -> Result<IdempotencyKey, ApiError> {
    IdempotencyKey::new(format!("tollgate-once-{}-{step}", Uuid::new_v4().simple()))
        .map_err(ApiError::internal)
}

/// The outcome stored for a key: the operation's result, or the user-facing error it ended in.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Stored<T> {
    Ok { value: T },
    Err { code: String, message: String },
}

/// Either run the operation (we hold the key) or replay what the first request produced.
pub enum Begin<T> {
    Run(Lease),
    Replay(Stored<T>),
}

/// Proof that this request holds the key; finish it with `complete` or `release`.
#[derive(Debug)]
pub struct Lease {
    id: Uuid,
}

pub async fn begin<T: DeserializeOwned>(
    db: &impl ConnectionTrait,
    scope: &Scope,
) -> Result<Begin<T>, ApiError> {
    if let Some(id) = claim_new(db, scope).await? {
        return Ok(Begin::Run(Lease { id }));
    }
    // Someone used this key before: same request → wait for / replay its outcome.
    let deadline = tokio::time::Instant::now() + WAIT_LIMIT;
    loop {
        let existing = idempotency_keys::Entity::find()
            .filter(idempotency_keys::Column::UserId.eq(&scope.user_id))
            .filter(idempotency_keys::Column::Key.eq(&scope.key))
            .one(db)
            .await?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("idempotency row vanished")))?;
        if existing.operation != scope.operation
            || existing.request_fingerprint != scope.fingerprint
        {
            return Err(ApiError::IdempotencyKeyReused);
        }
        if let Some(response) = existing.response {
            let stored = serde_json::from_value(response).map_err(ApiError::internal)?;
            return Ok(Begin::Replay(stored));
        }
        if take_over_expired(db, &existing).await? {
            return Ok(Begin::Run(Lease { id: existing.id }));
        }
        if tokio::time::Instant::now() > deadline {
            return Err(ApiError::internal(anyhow::anyhow!(
                "idempotent request still in progress after the lease"
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Records the key as taken by this request; None when it was used before.
async fn claim_new(db: &impl ConnectionTrait, scope: &Scope) -> Result<Option<Uuid>, ApiError> {
    let now = Utc::now();
    // Expired keys are forgotten lazily, only for this (user, key).
    idempotency_keys::Entity::delete_many()
        .filter(idempotency_keys::Column::UserId.eq(&scope.user_id))
        .filter(idempotency_keys::Column::Key.eq(&scope.key))
        .filter(idempotency_keys::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    let id = Uuid::now_v7();
    let row = idempotency_keys::ActiveModel {
        id: Set(id),
        user_id: Set(scope.user_id.clone()),
        key: Set(scope.key.clone()),
        operation: Set(scope.operation.to_string()),
        request_fingerprint: Set(scope.fingerprint.clone()),
        response: Set(None),
        created_at: Set(now),
        locked_until: Set(Some(now + LEASE)),
        expires_at: Set(now + RETENTION),
    };
    let inserted = idempotency_keys::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                idempotency_keys::Column::UserId,
                idempotency_keys::Column::Key,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok((inserted == 1).then_some(id))
}

/// The first request died without finishing: take the key over (one taker wins). Stripe
/// calls use the key derived from (user, key), so redoing them cannot charge twice.
async fn take_over_expired(
    db: &impl ConnectionTrait,
    existing: &idempotency_keys::Model,
) -> Result<bool, ApiError> {
    let now = Utc::now();
    if existing.locked_until.is_none_or(|t| t >= now) {
        return Ok(false);
    }
    let taken = idempotency_keys::Entity::update_many()
        .col_expr(
            idempotency_keys::Column::LockedUntil,
            Expr::value(now + LEASE),
        )
        .filter(idempotency_keys::Column::Id.eq(existing.id))
        .filter(idempotency_keys::Column::LockedUntil.eq(existing.locked_until))
        .exec(db)
        .await?;
    Ok(taken.rows_affected == 1)
}

/// Extends the lease while its request is still running (only while no outcome is stored).
async fn renew(db: &impl ConnectionTrait, lease: &Lease) -> Result<(), ApiError> {
    idempotency_keys::Entity::update_many()
        .col_expr(
            idempotency_keys::Column::LockedUntil,
            Expr::value(Utc::now() + LEASE),
        )
        .filter(idempotency_keys::Column::Id.eq(lease.id))
        .filter(idempotency_keys::Column::Response.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Runs `op`, renewing the lease every `RENEW_EVERY` until it finishes. A renewal that fails
/// (the database briefly away) is logged and tried again at the next tick; `op` goes on.
/// Renewals run beside `op`, never in its way: awaited inside `select!`'s handler, a renewal
/// waiting out the pool's 5 s timeout paused `op` for as long, and with the database down a
/// payment's own error answer came only after several such pauses (past the request timeout).
async fn with_renewed_lease<T>(
    db: &impl ConnectionTrait,
    lease: &Lease,
    op: impl std::future::Future<Output = T>,
) -> T {
    let renewals = async {
        let start = tokio::time::Instant::now() + RENEW_EVERY;
        let mut ticks = tokio::time::interval_at(start, RENEW_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(e) = renew(db, lease).await {
                tracing::warn!(error = %e, "could not renew an idempotency lease");
            }
        }
    };
    tokio::pin!(op, renewals);
    loop {
        tokio::select! {
            out = &mut op => return out,
            // Never finishes: the loop above has no way out.
            () = &mut renewals => {}
        }
    }
}

/// Stores the outcome for replays and releases the lease.
pub async fn complete<T: Serialize>(
    db: &impl ConnectionTrait,
    lease: Lease,
    outcome: &Stored<T>,
) -> Result<(), ApiError> {
    let value = serde_json::to_value(outcome).map_err(ApiError::internal)?;
    idempotency_keys::Entity::update_many()
        .col_expr(idempotency_keys::Column::Response, Expr::value(value))
        .col_expr(
            idempotency_keys::Column::LockedUntil,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .filter(idempotency_keys::Column::Id.eq(lease.id))
        .exec(db)
        .await?;
    Ok(())
}

/// Forgets the key: the request failed in a way that is safe to retry (nothing reached
/// Stripe, or the input was invalid), so the client may reuse the key.
pub async fn release(db: &impl ConnectionTrait, lease: Lease) -> Result<(), ApiError> {
    idempotency_keys::Entity::delete_by_id(lease.id)
        .exec(db)
        .await?;
    Ok(())
}

/// Runs `op` under the idempotency key when there is one. Outcomes that are facts (a result, a
/// card decline, a refused refund) are stored and replayed; transient failures release the key.
pub async fn run<T, F, Fut>(
    db: &impl ConnectionTrait,
    scope: Option<&Scope>,
    op: F,
) -> Result<T, ApiError>
where
    T: Serialize + DeserializeOwned,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let Some(scope) = scope else {
        return op().await;
    };
    let lease = match begin::<T>(db, scope).await? {
        Begin::Replay(Stored::Ok { value }) => return Ok(value),
        Begin::Replay(Stored::Err { code, message }) => {
            let code = ErrorCode::parse(&code).unwrap_or(ErrorCode::Internal);
            return Err(ApiError::Replayed { code, message });
        }
        Begin::Run(lease) => lease,
    };
    let result = with_renewed_lease(db, &lease, op()).await;
    match &result {
        Ok(value) => complete(db, lease, &Stored::Ok { value }).await?,
        Err(e) if e.is_final_outcome() => {
            let stored: Stored<()> = Stored::Err {
                code: e.code().as_str().to_string(),
                message: e.to_string(),
            };
            complete(db, lease, &stored).await?
        }
        Err(_) => release(db, lease).await?,
    }
    result
}
