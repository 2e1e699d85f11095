//! Group commit for webhook deliveries. Each delivery used to be its own INSERT and its own
//! commit (a WAL flush); under a burst the database spent most of its time committing. Here
//! concurrent deliveries queue for a writer, which stores whatever has queued in one multi-row
//! INSERT and one commit, then answers each delivery. A delivery is still answered only once
//! its row is durable, and a redelivery is still a no-op (`ON CONFLICT DO NOTHING`).

use std::{
    collections::HashSet,
    sync::{Arc, OnceLock},
};

use chrono::{DateTime, Utc};
use entity::webhook_events;
use sea_orm::{
    sea_query::{OnConflict, Query},
    ActiveValue::Set,
    ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryTrait, RuntimeErr,
};
use tokio::sync::{mpsc, oneshot, Mutex};
use uuid::Uuid;

use super::store::WebhookEventStatus;

/// Most deliveries one statement stores.
const MAX_BATCH: usize = 128;
/// Writers at once: one commits while the next gathers its batch.
const WRITERS: usize = 2;
/// Deliveries waiting for a writer before new ones wait to queue.
const QUEUE: usize = 4096;

/// A verified delivery, as it will be stored.
pub struct Delivery {
    pub stripe_event_id: String,
    pub event_type: String,
    /// The exact body.
    pub payload: String,
    pub api_version: Option<String>,
    pub livemode: bool,
    pub stripe_created_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    /// The receiving span's `traceparent`, when tracing is on.
    pub trace_parent: Option<String>,
}

struct Queued {
    delivery: Delivery,
    answer: oneshot::Sender<Result<bool, String>>,
}

/// The queue in front of the writers, started with the first delivery.
pub struct Intake {
    db: DatabaseConnection,
    queue: OnceLock<mpsc::Sender<Queued>>,
}

impl Intake {
    pub fn new(db: DatabaseConnection) -> Self {
        Intake {
            db,
            queue: OnceLock::new(),
        }
    }

    /// Stores a delivery with whatever else is arriving; true when it is new, false for a
    /// redelivery of a stored event.
    pub async fn store(&self, delivery: Delivery) -> Result<bool, DbErr> {
        let queue = self.queue.get_or_init(|| start(&self.db));
        let (answer, answered) = oneshot::channel();
        queue
            .send(Queued { delivery, answer })
            .await
            .map_err(|_| DbErr::Custom("the webhook intake has stopped".into()))?;
        answered
            .await
            .map_err(|_| DbErr::Custom("the webhook intake writer stopped".into()))?
            .map_err(DbErr::Custom)
    }
}

fn start(db: &DatabaseConnection) -> mpsc::Sender<Queued> {
    let (queue, queued) = mpsc::channel(QUEUE);
    let queued = Arc::new(Mutex::new(queued));
    for _ in 0..WRITERS {
        tokio::spawn(writer(db.clone(), queued.clone()));
    }
    queue
}

async fn writer(db: DatabaseConnection, queued: Arc<Mutex<mpsc::Receiver<Queued>>>) {
    loop {
        let mut batch = Vec::new();
        {
            // Gathering holds the receiver; storing does not, so the other writer gathers
            // what arrives meanwhile.
            let mut queued = queued.lock().await;
            let Some(first) = queued.recv().await else {
                return;
            };
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match queued.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
        }
        write(&db, batch).await;
    }
}

/// Stores a batch and answers each delivery in it. When the database refuses the batch's
/// statement, each delivery is tried alone, so one bad row cannot fail the others. When the
/// database is away, all of them fail at once (Stripe redelivers): trying each again would
/// only queue more waiters on a pool that cannot connect.
async fn write(db: &DatabaseConnection, batch: Vec<Queued>) {
    let result = insert(db, batch.iter().map(|q| &q.delivery)).await;
    match result {
        Ok(stored) => answer_all(batch, &stored),
        Err(e) if batch.len() > 1 && refused_by_database(&e) => {
            tracing::warn!(error = %e, size = batch.len(), "webhook batch failed; storing one by one");
            for queued in batch {
                let alone = insert(db, std::iter::once(&queued.delivery)).await;
                match alone {
                    Ok(stored) => answer_all(vec![queued], &stored),
                    Err(e) => {
                        let _ = queued.answer.send(Err(e.to_string()));
                    }
                }
            }
        }
        Err(e) => {
            for queued in batch {
                let _ = queued.answer.send(Err(e.to_string()));
            }
        }
    }
}

/// Each delivery learns whether its event id was stored by this batch. An id delivered twice
/// in one batch is stored once: the first is new, the rest are redeliveries.
fn answer_all(batch: Vec<Queued>, stored: &HashSet<String>) {
    let mut answered_new: HashSet<String> = HashSet::new();
    for queued in batch {
        let id = &queued.delivery.stripe_event_id;
        let new = stored.contains(id) && answered_new.insert(id.clone());
        let _ = queued.answer.send(Ok(new));
    }
}

/// One INSERT of every delivery, skipping event ids already stored; returns the event ids it
/// stored.
async fn insert<'a>(
    db: &DatabaseConnection,
    deliveries: impl Iterator<Item = &'a Delivery>,
) -> Result<HashSet<String>, DbErr> {
    let mut seen = HashSet::new();
    let rows: Vec<webhook_events::ActiveModel> = deliveries
        // The same id twice in one statement is stored once; sending it once is enough.
        .filter(|d| seen.insert(d.stripe_event_id.as_str()))
        .map(|d| webhook_events::ActiveModel {
            id: Set(Uuid::now_v7()),
            stripe_event_id: Set(d.stripe_event_id.clone()),
            event_type: Set(d.event_type.clone()),
            payload: Set(d.payload.clone()),
            api_version: Set(d.api_version.clone()),
            livemode: Set(d.livemode),
            stripe_created_at: Set(d.stripe_created_at),
            received_at: Set(d.received_at),
            status: Set(WebhookEventStatus::Pending),
            attempts: Set(0),
            next_attempt_at: Set(d.received_at),
            processed_at: Set(None),
            last_error: Set(None),
            trace_parent: Set(d.trace_parent.clone()),
        })
        .collect();
    let mut statement = webhook_events::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(webhook_events::Column::StripeEventId)
                .do_nothing()
                .to_owned(),
        )
        .into_query();
    statement.returning(Query::returning().column(webhook_events::Column::StripeEventId));
    let backend = db.get_database_backend();
    let stored = db.query_all_raw(backend.build(&statement)).await?;
    stored
        .iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect()
}

/// An error the database itself reported for the statement (a constraint, a bad value), as
/// opposed to no connection, a timeout or a dropped socket.
fn refused_by_database(e: &DbErr) -> bool {
    match e {
        DbErr::Exec(RuntimeErr::SqlxError(err)) | DbErr::Query(RuntimeErr::SqlxError(err)) => {
            matches!(err.as_ref(), sea_orm::sqlx::Error::Database(_))
        }
        _ => false,
    }
}
