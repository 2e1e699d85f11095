//! The webhook worker: applies stored events, oldest first, each in its own transaction that
//! also marks it processed, so a crash mid-event leaves it pending for the next run. Failures
//! retry with exponential backoff; after `MAX_ATTEMPTS` the event is parked as failed for an
//! admin (and `tollgate webhooks replay`).
//!
//! On PostgreSQL any number of workers, in any number of replicas, share the queue through
//! `SELECT … FOR UPDATE SKIP LOCKED`. SQLite has no row locks; there one worker per process
//! does the work (SQLite is single-process anyway).

use std::{sync::Arc, time::Duration};
use tracing::Instrument;

use chrono::Utc;
use entity::webhook_events;
use sea_orm::{
    sea_query::{Expr, ExprTrait, LockBehavior, LockType},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

use super::{handlers, store::WebhookEventStatus};
use tokio::sync::Notify;

use crate::{
    live::LiveHub,
    stripe::{objects, StripeClient},
};

/// Attempts before an event is parked as failed.
pub const MAX_ATTEMPTS: i32 = 8;
/// How often an idle worker looks for due events (it is also woken by the route).
const IDLE_POLL: Duration = Duration::from_millis(500);

/// Backoff after the `attempt`-th failure: 2, 4, 8 … seconds, at most an hour.
pub fn backoff(attempt: i32) -> chrono::Duration {
    let secs = Ord::min(2_i64.saturating_pow(attempt.clamp(1, 20) as u32), 3600);
    chrono::Duration::seconds(secs)
}

/// What one pass of a worker did.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Events handled in this pass (applied, ignored, or failed and rescheduled).
    Worked(usize),
    Idle,
}

/// Events one transaction claims at most. Each is applied under its own savepoint, so one
/// event's failure undoes only its own writes; the batch shares one claim, one status update
/// and one commit, which is what bounded throughput when every event paid for its own.
pub const BATCH: u64 = 32;

/// What the worker uses: the database, Stripe (to re-fetch), the live hub, and the wake-up the
/// webhook route rings when it stores an event.
#[derive(Clone)]
pub struct Worker {
    pub db: DatabaseConnection,
    pub stripe: StripeClient,
    pub live: LiveHub,
    pub wakeup: Arc<Notify>,
}

/// Claims the oldest due events (up to `BATCH`) and applies them in order. Returns `Idle`
/// when nothing is due.
///
/// A batch first runs in one plain transaction. Only if one of its events fails is it rolled
/// back whole and run again with a savepoint per event, so that just the failing one is
/// rescheduled: savepoints cost two round trips per event, and nearly every batch is clean.
pub async fn step(state: &Worker) -> Result<Step, sea_orm::DbErr> {
    match apply_batch(state, Savepoints::OnlyIfNeeded).await? {
        // With savepoints a failure is parked, never returned as `Failed`.
        Batch::Failed => Ok(apply_batch(state, Savepoints::PerEvent).await?.into()),
        other => Ok(other.into()),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Savepoints {
    /// One transaction for the whole batch; the first failure rolls everything back.
    OnlyIfNeeded,
    /// One savepoint per event: a failure undoes only that event's writes.
    PerEvent,
}

enum Batch {
    Idle,
    Done(usize),
    /// An event failed without savepoints: nothing was kept, the claim was released.
    Failed,
}

impl From<Batch> for Step {
    fn from(batch: Batch) -> Self {
        match batch {
            Batch::Done(n) => Step::Worked(n),
            Batch::Idle | Batch::Failed => Step::Idle,
        }
    }
}

/// What applying a batch's events came to, written by `finish` in the same transaction.
#[derive(Default)]
struct Applied {
    processed: Vec<uuid::Uuid>,
    ignored: Vec<uuid::Uuid>,
    live: Vec<crate::live::LiveEvent>,
    /// Each event's outcome, counted once the transaction commits.
    outcomes: Vec<&'static str>,
    /// The spans of the events applied, which their live publish continues.
    spans: Vec<tracing::Span>,
}

async fn apply_batch(state: &Worker, savepoints: Savepoints) -> Result<Batch, sea_orm::DbErr> {
    let txn = crate::db::begin(&state.db).await?;
    let rows = claim(&txn).await?;
    if rows.is_empty() {
        txn.rollback().await?;
        return Ok(Batch::Idle);
    }
    // The worker's span: a trace of its own per batch (an idle poll makes none); each event's
    // span continues the trace of the request that delivered it and links back here.
    let span = tracing::info_span!(
        "webhook.batch",
        otel.name = "webhook batch",
        events = rows.len(),
        savepoints = savepoints == Savepoints::PerEvent,
    );
    apply_claimed(state, txn, rows, savepoints)
        .instrument(span)
        .await
}

/// The span of one event's application: in the trace its delivery started (`trace_parent`),
/// linked to the batch applying it.
fn event_span(row: &webhook_events::Model) -> tracing::Span {
    let span = tracing::info_span!(
        parent: None,
        "webhook.apply",
        otel.name = format!("webhook apply {}", row.event_type),
        stripe.event_id = %row.stripe_event_id,
        stripe.event_type = %row.event_type,
    );
    if let Some(parent) = &row.trace_parent {
        crate::telemetry::spans::continue_from(&span, parent);
    }
    crate::telemetry::spans::link(&span, &tracing::Span::current());
    span
}

async fn apply_claimed(
    state: &Worker,
    txn: DatabaseTransaction,
    rows: Vec<webhook_events::Model>,
    savepoints: Savepoints,
) -> Result<Batch, sea_orm::DbErr> {
    let mut applied = Applied::default();
    let mut events = Vec::with_capacity(rows.len());
    for row in &rows {
        match serde_json::from_str::<objects::Event>(&row.payload) {
            Ok(event) => events.push((row, event)),
            Err(e) => {
                park(&txn, row, &format!("unreadable payload: {e}"), true).await?;
                applied.outcomes.push(parked(true));
            }
        }
    }
    lock_objects(&txn, events.iter().map(|(_, event)| event)).await?;
    for (row, event) in &events {
        let span = event_span(row);
        let result = handle_one(&txn, state, event, savepoints)
            .instrument(span.clone())
            .await?;
        match result {
            Ok(handled) => {
                applied.spans.push(span);
                applied
                    .outcomes
                    .push(if handled.known { "applied" } else { "ignored" });
                if handled.known {
                    applied.processed.push(row.id);
                } else {
                    applied.ignored.push(row.id);
                }
                applied.live.extend(handled.live);
            }
            Err(e) => {
                let (detail, fatal) = match &e {
                    // Retrying cannot help: parked now, with the reason, for an admin.
                    handlers::HandleError::Unapplicable(why) => (why.clone(), true),
                    handlers::HandleError::Transient(cause) => (cause.operator_detail(), false),
                };
                // The cause, not the client-facing text ("internal error"): this is for operators.
                tracing::warn!(event_id = %row.stripe_event_id, event_type = %row.event_type, error = %detail, "webhook event failed");
                if savepoints == Savepoints::OnlyIfNeeded {
                    txn.rollback().await?;
                    return Ok(Batch::Failed);
                }
                let give_up = park(&txn, row, &detail, fatal).await?;
                applied.outcomes.push(parked(give_up));
            }
        }
    }
    let outcomes = std::mem::take(&mut applied.outcomes);
    finish(state, txn, applied).await?;
    // Counted once committed: a batch rolled back and run again is counted once.
    for outcome in outcomes {
        crate::metrics::webhook_event(outcome);
    }
    Ok(Batch::Done(rows.len()))
}

/// Applies one event; with `PerEvent` inside a savepoint, so a failing handler's writes are
/// undone while the batch's claim is kept.
async fn handle_one(
    txn: &sea_orm::DatabaseTransaction,
    state: &Worker,
    event: &objects::Event,
    savepoints: Savepoints,
) -> Result<Result<handlers::Handled, handlers::HandleError>, sea_orm::DbErr> {
    if savepoints != Savepoints::PerEvent {
        return Ok(handlers::handle(txn, &state.stripe, event).await);
    }
    let nested = txn.begin().await?;
    let result = handlers::handle(&nested, &state.stripe, event).await;
    if result.is_ok() {
        nested.commit().await?;
    } else {
        nested.rollback().await?;
    }
    Ok(result)
}

fn parked(give_up: bool) -> &'static str {
    if give_up {
        "parked"
    } else {
        "failed"
    }
}

/// Advisory-lock namespace of the webhook worker ("tg" + "wh"), so its keys cannot meet
/// another user's advisory locks on the same database.
const OBJECT_LOCK_SPACE: i32 = 0x7467_7768;

/// On PostgreSQL, locks (until commit) every Stripe object the batch's events are about, in
/// one global order. Workers then never apply events about one object side by side. Without
/// this, two batches that update the same subscriptions in different orders deadlock, and
/// PostgreSQL breaks each deadlock only after `deadlock_timeout` (a second), failing an event
/// into backoff each time: under a burst of redeliveries the queue crawled at a few events a
/// second. Ordered acquisition cannot deadlock; a batch waits for the one ahead of it instead.
async fn lock_objects<'a>(
    txn: &DatabaseTransaction,
    events: impl Iterator<Item = &'a objects::Event>,
) -> Result<(), sea_orm::DbErr> {
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(()); // SQLite: one writer at a time already
    }
    let mut keys: Vec<i32> = events.flat_map(object_keys).collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return Ok(());
    }
    // Sorted here and in SQL: PostgreSQL evaluates the (volatile) lock calls after the sort.
    txn.execute_raw(sea_orm::Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1, k) FROM unnest($2::int4[]) AS k ORDER BY k",
        [OBJECT_LOCK_SPACE.into(), keys.into()],
    ))
    .await?;
    Ok(())
}

/// The lock keys of the objects an event's handler writes: the object itself and the parents
/// it is filed under (a charge's or refund's PaymentIntent, an invoice's subscription). Ids are
/// hashed (FNV-1a, the same in every replica); a collision only makes two events wait in turn.
fn object_keys(event: &objects::Event) -> Vec<i32> {
    let object = &event.data.object;
    let id_of = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Object(o) => o.get("id").and_then(|id| id.as_str()).map(str::to_owned),
        _ => None,
    };
    ["id", "subscription", "payment_intent", "invoice"]
        .iter()
        .filter_map(|field| object.get(field).and_then(id_of))
        .map(|id| {
            let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
            // Fold to 32 bits for the two-key form of the lock; truncation is intended.
            (hash ^ (hash >> 32)) as u32 as i32
        })
        .collect()
}

/// The oldest due events, locked for this transaction.
async fn claim(txn: &DatabaseTransaction) -> Result<Vec<webhook_events::Model>, sea_orm::DbErr> {
    let backend = txn.get_database_backend();
    if backend == DbBackend::Sqlite {
        // Take SQLite's write lock now (waiting on busy_timeout) rather than upgrading a read
        // transaction later, which fails at once if the route committed an event meanwhile.
        txn.execute_unprepared("UPDATE webhook_events SET attempts = attempts WHERE 1 = 0")
            .await?;
    }
    let mut query = webhook_events::Entity::find()
        .filter(webhook_events::Column::Status.eq(WebhookEventStatus::Pending))
        .filter(webhook_events::Column::NextAttemptAt.lte(Utc::now()))
        .order_by_asc(webhook_events::Column::StripeCreatedAt)
        .order_by_asc(webhook_events::Column::ReceivedAt)
        .limit(BATCH);
    if backend == DbBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    query.all(txn).await
}

/// Marks the batch's events applied (or ignored), commits, and publishes their live updates.
async fn finish(
    state: &Worker,
    txn: DatabaseTransaction,
    applied: Applied,
) -> Result<(), sea_orm::DbErr> {
    let Applied {
        processed,
        ignored,
        live,
        spans,
        ..
    } = applied;
    let now = Utc::now();
    for (ids, status) in [
        (processed, WebhookEventStatus::Processed),
        (ignored, WebhookEventStatus::Ignored),
    ] {
        if ids.is_empty() {
            continue;
        }
        webhook_events::Entity::update_many()
            .col_expr(webhook_events::Column::Status, Expr::value(status))
            .col_expr(
                webhook_events::Column::Attempts,
                Expr::col(webhook_events::Column::Attempts).add(1),
            )
            .col_expr(webhook_events::Column::ProcessedAt, Expr::value(Some(now)))
            .col_expr(
                webhook_events::Column::LastError,
                Expr::value(Option::<String>::None),
            )
            .filter(webhook_events::Column::Id.is_in(ids))
            .exec(&txn)
            .await?;
    }
    // Subscribers reload what changed, so one update per object per commit is enough; PostgreSQL
    // would fold identical NOTIFYs of one transaction anyway, and SQLite now does the same.
    let mut live_once: Vec<crate::live::LiveEvent> = Vec::with_capacity(live.len());
    for event in live {
        if !live_once.contains(&event) {
            live_once.push(event);
        }
    }
    let live = live_once;
    // Each applied event's trace ends with its publish: one span per event over the commit
    // and the publish they share, closed when this function returns.
    let _publishing: Vec<tracing::Span> = spans
        .iter()
        .map(|event| tracing::info_span!(parent: event, "live.publish", otel.name = "live publish", updates = live.len()))
        .collect();
    if state.live.delivers_on_commit() {
        // NOTIFY inside the transaction is delivered exactly when it commits: a crash
        // between commit and publish cannot lose the update, a rollback cannot leak one.
        state.live.publish(&txn, live).await;
        txn.commit().await
    } else {
        txn.commit().await?;
        state.live.publish(&state.db, live).await;
        Ok(())
    }
}

/// Records a failure: retried later with backoff, or parked as failed when out of attempts
/// (then it returns true).
async fn park(
    db: &impl ConnectionTrait,
    row: &webhook_events::Model,
    error: &str,
    fatal: bool,
) -> Result<bool, sea_orm::DbErr> {
    let attempts = row.attempts + 1;
    let give_up = fatal || attempts >= MAX_ATTEMPTS;
    let detail: String = error.chars().take(2000).collect();
    webhook_events::Entity::update_many()
        .col_expr(webhook_events::Column::Attempts, Expr::value(attempts))
        .col_expr(webhook_events::Column::LastError, Expr::value(Some(detail)))
        .col_expr(
            webhook_events::Column::Status,
            Expr::value(if give_up {
                WebhookEventStatus::Failed
            } else {
                WebhookEventStatus::Pending
            }),
        )
        .col_expr(
            webhook_events::Column::NextAttemptAt,
            Expr::value(Utc::now() + backoff(attempts)),
        )
        .filter(webhook_events::Column::Id.eq(row.id))
        .exec(db)
        .await?;
    Ok(give_up)
}

/// Runs `workers` loops until `shutdown` fires; each drains due events, then waits for a
/// wake-up from the webhook route or the idle poll.
pub fn spawn(
    state: Worker,
    workers: usize,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..workers)
        .map(|n| {
            let state = state.clone();
            let mut shutdown = shutdown.clone();
            tokio::spawn(async move {
                loop {
                    if *shutdown.borrow() {
                        return;
                    }
                    match step(&state).await {
                        Ok(Step::Worked(_)) => continue,
                        Ok(Step::Idle) => {}
                        Err(e) => tracing::error!(worker = n, error = %e, "webhook worker error"),
                    }
                    tokio::select! {
                        _ = state.wakeup.notified() => {}
                        _ = tokio::time::sleep(IDLE_POLL) => {}
                        _ = shutdown.changed() => {}
                    }
                }
            })
        })
        .collect()
}

/// Applies due events until none is left (for the CLI and tests).
pub async fn drain(state: &Worker) -> Result<usize, sea_orm::DbErr> {
    drain_reporting(state, &|_| {}).await
}

/// `drain`, telling `progress` how many events it has handled so far.
pub async fn drain_reporting(
    state: &Worker,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<usize, sea_orm::DbErr> {
    let mut done = 0;
    loop {
        match step(state).await? {
            Step::Idle => return Ok(done),
            Step::Worked(n) => {
                done += n;
                progress(done);
            }
        }
    }
}

/// Puts events back in the queue: by Stripe id, all failed ones, or all received since a time.
pub async fn requeue(db: &impl ConnectionTrait, selector: Requeue) -> Result<u64, sea_orm::DbErr> {
    let update = match selector {
        Requeue::Id(id) => requeued().filter(webhook_events::Column::StripeEventId.eq(id)),
        Requeue::Failed => {
            requeued().filter(webhook_events::Column::Status.eq(WebhookEventStatus::Failed))
        }
        Requeue::Since(t) => requeued().filter(webhook_events::Column::ReceivedAt.gte(t)),
    };
    Ok(update.exec(db).await?.rows_affected)
}

/// Puts one event back in the queue and returns it as queued, in the same statement: read
/// afterwards, a worker that is already awake (other deliveries keep it busy) may have applied
/// it in between, and the answer would say "processed" for a replay not yet run.
pub async fn requeue_row(
    db: &impl ConnectionTrait,
    id: uuid::Uuid,
) -> Result<Option<webhook_events::Model>, sea_orm::DbErr> {
    let mut rows = requeued()
        .filter(webhook_events::Column::Id.eq(id))
        .exec_with_returning(db)
        .await?;
    Ok(rows.pop())
}

/// Pending, no attempts, due now: the state of an event that was just received.
fn requeued() -> sea_orm::UpdateMany<webhook_events::Entity> {
    webhook_events::Entity::update_many()
        .col_expr(
            webhook_events::Column::Status,
            Expr::value(WebhookEventStatus::Pending),
        )
        .col_expr(webhook_events::Column::Attempts, Expr::value(0))
        .col_expr(
            webhook_events::Column::NextAttemptAt,
            Expr::value(Utc::now()),
        )
}

pub enum Requeue {
    /// By Stripe's event id.
    Id(String),
    Failed,
    Since(chrono::DateTime<Utc>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(object: serde_json::Value) -> objects::Event {
        serde_json::from_value(serde_json::json!({
            "id": "evt_1", "type": "x", "created": 1, "data": {"object": object}
        }))
        .expect("event")
    }

    #[test]
    fn events_about_one_object_share_a_lock_key() {
        let sub = object_keys(&event(
            serde_json::json!({"id": "sub_1", "customer": "cus_1"}),
        ));
        let invoice = object_keys(&event(serde_json::json!({
            "id": "in_1", "subscription": "sub_1", "payment_intent": {"id": "pi_1"}
        })));
        let charge = object_keys(&event(
            serde_json::json!({"id": "ch_1", "payment_intent": "pi_1"}),
        ));
        assert_eq!(sub.len(), 1, "the customer is not locked: it is only read");
        assert!(
            invoice.contains(&sub[0]),
            "an invoice waits for its subscription"
        );
        assert!(
            charge.iter().any(|k| invoice.contains(k)),
            "both are filed under pi_1"
        );
        assert_ne!(
            object_keys(&event(serde_json::json!({"id": "sub_2"})))[0],
            sub[0]
        );
        assert!(object_keys(&event(serde_json::json!({"id": 7}))).is_empty());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1).num_seconds(), 2);
        assert_eq!(backoff(3).num_seconds(), 8);
        assert_eq!(backoff(50).num_seconds(), 3600);
        assert_eq!(backoff(0).num_seconds(), 2);
    }
}
