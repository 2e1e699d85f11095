//! Group commit for the webhook route. Stripe (and the load it sends after an outage) delivers
//! many events at once; storing each in its own statement and commit made the database's
//! commits the limit. Requests hand their verified event to one writer task, which stores
//! everything waiting in one `INSERT … ON CONFLICT DO NOTHING RETURNING` and answers each
//! request only after that commit: a 2xx still means "stored durably", and a failed batch
//! answers every request in it with an error, so Stripe redelivers.

use sea_orm::DatabaseConnection;
use tokio::sync::{mpsc, oneshot};

use super::store::{self, Received};

/// Events one statement stores at most (PostgreSQL allows 65,535 bind parameters; a row has 13).
const MAX_BATCH: usize = 256;

type Reply = oneshot::Sender<Result<bool, String>>;

/// The route's handle on the writer.
#[derive(Clone)]
pub struct Intake {
    queue: mpsc::Sender<(Received, Reply)>,
}

impl Intake {
    /// Starts the writer on the current runtime; it stops when every handle is dropped.
    pub fn start(db: DatabaseConnection) -> Self {
        let (queue, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(writer(db, rx));
        Intake { queue }
    }

    /// Stores one event; true if it is new, false for a redelivery. Returns once committed.
    pub async fn store(&self, event: Received) -> Result<bool, String> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((event, reply))
            .await
            .map_err(|_| "the event writer has stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the event writer has stopped".to_owned())?
    }
}

async fn writer(db: DatabaseConnection, mut rx: mpsc::Receiver<(Received, Reply)>) {
    let mut batch: Vec<(Received, Reply)> = Vec::with_capacity(MAX_BATCH);
    // Whatever arrived while the previous batch was committing goes in the next one: no timer,
    // so a lone event is stored at once.
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (events, replies): (Vec<Received>, Vec<Reply>) = batch.drain(..).unzip();
        crate::metrics::webhook_intake_batch(events.len());
        match store::insert_many(&db, &events).await {
            Ok(stored) => {
                for (reply, new) in replies.into_iter().zip(stored) {
                    let _ = reply.send(Ok(new));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, events = events.len(), "storing webhook events failed");
                for reply in replies {
                    let _ = reply.send(Err("could not store the event".to_owned()));
                }
            }
        }
    }
}
