//! Live updates: after a change to a payment or subscription commits, it is published here and
//! GraphQL subscriptions deliver it. With PostgreSQL the publication goes through
//! `NOTIFY tollgate_live`, so every replica's subscribers hear changes made by any replica; each
//! replica LISTENs and forwards to its local subscribers. With SQLite (one process) it is local.

use std::time::Duration;

use sea_orm::{sqlx::postgres::PgListener, ConnectionTrait, DbBackend, Statement};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

const CHANNEL: &str = "tollgate_live";

/// Something changed; subscribers reload it (so they never see an uncommitted state).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LiveEvent {
    Payment { id: Uuid, user_id: String },
    Subscription { id: Uuid, user_id: String },
}

impl LiveEvent {
    pub fn payment(row: &entity::payments::Model) -> Self {
        LiveEvent::Payment {
            id: row.id,
            user_id: row.user_id.clone(),
        }
    }

    pub fn subscription(row: &entity::subscriptions::Model) -> Self {
        LiveEvent::Subscription {
            id: row.id,
            user_id: row.user_id.clone(),
        }
    }

    pub fn user_id(&self) -> &str {
        match self {
            LiveEvent::Payment { user_id, .. } | LiveEvent::Subscription { user_id, .. } => user_id,
        }
    }
}

/// What a billing function changed, with the live updates the change causes. The value is only
/// reached through `publish`, so no caller can forget to tell subscribers.
#[must_use = "publish the change so live subscribers hear of it"]
#[derive(Debug)]
pub struct Changed<T> {
    value: T,
    events: Vec<LiveEvent>,
}

impl<T> Changed<T> {
    pub fn new(value: T, events: Vec<LiveEvent>) -> Self {
        Changed { value, events }
    }

    /// Publishes the updates (the change is already committed) and hands back the value.
    pub async fn publish(self, hub: &LiveHub, db: &impl ConnectionTrait) -> T {
        hub.publish(db, self.events).await;
        self.value
    }

    /// The value and the updates, for callers with no subscribers to tell (CLI, tests).
    pub fn into_parts(self) -> (T, Vec<LiveEvent>) {
        (self.value, self.events)
    }
}

#[derive(Clone)]
pub struct LiveHub {
    local: broadcast::Sender<LiveEvent>,
    backend: DbBackend,
}

impl LiveHub {
    pub fn new(backend: DbBackend) -> Self {
        let (local, _) = broadcast::channel(4096);
        LiveHub { local, backend }
    }

    /// PostgreSQL: publishing inside a transaction takes effect when (and only if) it commits.
    pub fn delivers_on_commit(&self) -> bool {
        self.backend == DbBackend::Postgres
    }

    /// Open GraphQL subscriptions in this process.
    pub fn subscribers(&self) -> usize {
        self.local.receiver_count()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.local.subscribe()
    }

    /// Publishes committed changes. Failures are logged, never surfaced: the change itself is
    /// safely stored, and clients re-query on reconnect.
    pub async fn publish(
        &self,
        db: &impl ConnectionTrait,
        events: impl IntoIterator<Item = LiveEvent>,
    ) {
        for event in events {
            if self.backend == DbBackend::Postgres {
                let Ok(payload) = serde_json::to_string(&event) else {
                    continue;
                };
                let stmt = Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_notify($1, $2)",
                    [CHANNEL.into(), payload.into()],
                );
                if let Err(e) = db.execute_raw(stmt).await {
                    tracing::warn!(error = %e, "live update not published");
                }
            } else {
                // No receivers is fine: nobody is watching.
                let _ = self.local.send(event);
            }
        }
    }

    /// PostgreSQL: forwards NOTIFYs from every replica to local subscribers, reconnecting on
    /// errors. Returns once the first LISTEN is in place, so nothing published after start-up
    /// is missed. Does nothing on SQLite.
    pub async fn start_listener(&self, url: &str) -> Result<(), sea_orm::sqlx::Error> {
        if self.backend != DbBackend::Postgres {
            return Ok(());
        }
        let mut listener = connect_listener(url).await?;
        let local = self.local.clone();
        let url = url.to_string();
        tokio::spawn(async move {
            loop {
                if let Err(e) = forward(&mut listener, &local).await {
                    tracing::warn!(error = %e, "live update listener lost; reconnecting");
                }
                listener = loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    match connect_listener(&url).await {
                        Ok(l) => break l,
                        Err(e) => tracing::warn!(error = %e, "live update listener still down"),
                    }
                };
            }
        });
        Ok(())
    }
}

async fn connect_listener(url: &str) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

async fn forward(
    listener: &mut PgListener,
    local: &broadcast::Sender<LiveEvent>,
) -> Result<(), sea_orm::sqlx::Error> {
    loop {
        let note = listener.recv().await?;
        match serde_json::from_str::<LiveEvent>(note.payload()) {
            Ok(event) => {
                let _ = local.send(event);
            }
            Err(e) => tracing::warn!(error = %e, "unreadable live update"),
        }
    }
}
