//! `/metrics` in Prometheus text format, through the `metrics` facade and its Prometheus
//! exporter (rendered on scrape; no listener or thread of its own). Hot paths only bump
//! counters and record histograms; the figures that need a query (queue depth, apply lag, the
//! database pool and its waiters, live subscribers) are read when Prometheus scrapes.
//!
//! Labels never carry unbounded client input: operation names are kept for the first
//! `MAX_OPERATION_NAMES` distinct plain names and counted as `other` after that; Stripe
//! endpoints are path templates with ids replaced by `{id}`.

use std::{
    collections::HashSet,
    sync::{Mutex, OnceLock},
    time::Duration,
};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};

use crate::live::LiveHub;

/// Seconds; from a fast query to a slow Stripe round-trip.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
const MAX_OPERATION_NAMES: usize = 100;

/// The process-wide recorder (the `metrics` facade has one per process; every app built in
/// this process, as in the test suite, renders the same registry).
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets(BUCKETS).ok()?;
            match builder.install_recorder() {
                Ok(h) => Some(h),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .as_ref()
}

/// An HTTP request answered.
pub fn http_request(route: &str, status: u16, elapsed: Duration) {
    metrics::counter!("tollgate_http_requests_total", "route" => route.to_owned(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!("tollgate_http_request_duration_seconds", "route" => route.to_owned())
        .record(elapsed.as_secs_f64());
}

/// A GraphQL operation executed (or refused before execution), by name, kind and first error
/// code (`OK` without errors).
pub fn graphql_operation(name: Option<&str>, kind: &str, code: &str, elapsed: Duration) {
    let name = operation_label(name);
    metrics::counter!("tollgate_graphql_operations_total",
        "operation" => name.clone(), "kind" => kind.to_owned(), "code" => code.to_owned())
    .increment(1);
    metrics::histogram!("tollgate_graphql_operation_duration_seconds",
        "operation" => name, "kind" => kind.to_owned())
    .record(elapsed.as_secs_f64());
}

/// A query answered by a compiled plan (`graphql::compiled`) rather than the executor.
pub fn graphql_compiled(name: Option<&str>) {
    metrics::counter!("tollgate_graphql_compiled_operations_total",
        "operation" => operation_label(name))
    .increment(1);
}

/// An operation's name as a label (and a span name): plain, bounded in length and number.
pub(crate) fn operation_label(name: Option<&str>) -> String {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let Some(name) = name.filter(|n| {
        !n.is_empty() && n.len() <= 64 && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    }) else {
        return "anonymous".into();
    };
    let Ok(mut seen) = SEEN.get_or_init(Default::default).lock() else {
        return "other".into();
    };
    if seen.contains(name) || seen.len() < MAX_OPERATION_NAMES {
        seen.insert(name.to_owned());
        name.to_owned()
    } else {
        "other".into()
    }
}

/// One attempt at a Stripe request: `ok`, `card_error`, `invalid`, `rate_limited`,
/// `server_error`, `unknown_outcome`, `not_sent` or `refused` (never sent, ours).
pub fn stripe_call(method: &str, path: &str, outcome: &str, elapsed: Duration) {
    let endpoint = format!("{method} {}", path_template(path));
    metrics::counter!("tollgate_stripe_requests_total", "endpoint" => endpoint.clone(), "outcome" => outcome.to_owned())
        .increment(1);
    metrics::histogram!("tollgate_stripe_request_duration_seconds", "endpoint" => endpoint)
        .record(elapsed.as_secs_f64());
}

/// A Stripe request sent again (same idempotency key) after a retryable failure.
pub fn stripe_retry(method: &str, path: &str) {
    let endpoint = format!("{method} {}", path_template(path));
    metrics::counter!("tollgate_stripe_retries_total", "endpoint" => endpoint).increment(1);
}

/// `/payment_intents/pi_123/confirm` → `/payment_intents/{id}/confirm`.
pub fn path_template(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            let is_id = seg.split_once('_').is_some_and(|(prefix, rest)| {
                !prefix.is_empty()
                    && !rest.is_empty()
                    && prefix.len() <= 8
                    && seg
                        .bytes()
                        .any(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
            });
            if is_id {
                "{id}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A webhook delivery: `received`, `duplicate`, `rejected` (signature or envelope).
pub fn webhook_delivery(outcome: &str) {
    metrics::counter!("tollgate_webhook_deliveries_total", "outcome" => outcome.to_owned())
        .increment(1);
}

/// An event the worker handled: `applied`, `ignored`, `failed` (will retry) or `parked`.
pub fn webhook_event(outcome: &str) {
    metrics::counter!("tollgate_webhook_events_total", "outcome" => outcome.to_owned())
        .increment(1);
}

/// Reads the gauges that need a query, then renders everything.
pub async fn render(db: &DatabaseConnection, live: &LiveHub) -> Option<String> {
    let handle = handle()?;
    use entity::{webhook_events, WebhookEventStatus};
    let pending = webhook_events::Entity::find()
        .filter(webhook_events::Column::Status.eq(WebhookEventStatus::Pending));
    if let Ok(depth) = pending.clone().count(db).await {
        metrics::gauge!("tollgate_webhook_queue_depth").set(depth as f64);
    }
    let oldest = pending
        .order_by_asc(webhook_events::Column::ReceivedAt)
        .one(db)
        .await
        .ok()
        .flatten();
    let lag = oldest.map_or(0.0, |e| {
        (chrono::Utc::now() - e.received_at)
            .to_std()
            .unwrap_or_default()
            .as_secs_f64()
    });
    metrics::gauge!("tollgate_webhook_apply_lag_seconds").set(lag);
    let parked = webhook_events::Entity::find()
        .filter(webhook_events::Column::Status.eq(WebhookEventStatus::Failed))
        .count(db)
        .await;
    if let Ok(parked) = parked {
        metrics::gauge!("tollgate_webhook_events_parked").set(parked as f64);
    }
    sync_figures(db).await;
    let (size, idle, max) = pool_figures(db);
    metrics::gauge!("tollgate_db_pool_connections", "state" => "in_use")
        .set(size.saturating_sub(idle) as f64);
    metrics::gauge!("tollgate_db_pool_connections", "state" => "idle").set(idle as f64);
    metrics::gauge!("tollgate_db_pool_max_connections").set(max as f64);
    metrics::gauge!("tollgate_db_pool_waiting").set(crate::db::waiting_for_connection() as f64);
    metrics::gauge!("tollgate_live_subscribers").set(live.subscribers() as f64);
    handle.run_upkeep();
    Some(handle.render())
}

/// The last `tollgate sync` of each kind: differences left (0 after a repair) and when it ran,
/// so an alert can ask both "is there drift?" and "has anyone checked lately?".
async fn sync_figures(db: &DatabaseConnection) {
    let Ok(rows) = entity::sync_checks::Entity::find().all(db).await else {
        return;
    };
    for row in rows {
        let left = if row.repaired { 0 } else { row.drifts };
        metrics::gauge!("tollgate_sync_drifts", "what" => row.what.clone()).set(f64::from(left));
        metrics::gauge!("tollgate_sync_checked_timestamp_seconds", "what" => row.what)
            .set(row.checked_at.timestamp() as f64);
    }
}

/// The pool's open connections, idle ones among them, and its maximum.
fn pool_figures(db: &DatabaseConnection) -> (usize, usize, usize) {
    match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            let max = pool.options().get_max_connections();
            (pool.size() as usize, pool.num_idle(), max as usize)
        }
        _ => {
            let pool = db.get_sqlite_connection_pool();
            let max = pool.options().get_max_connections();
            (pool.size() as usize, pool.num_idle(), max as usize)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_paths_become_templates() {
        assert_eq!(
            path_template("/payment_intents/pi_3Abc123/confirm"),
            "/payment_intents/{id}/confirm"
        );
        assert_eq!(
            path_template("/customers/cus_QXg1o8vcGmoR32"),
            "/customers/{id}"
        );
        assert_eq!(path_template("/payment_intents"), "/payment_intents");
        assert_eq!(path_template("/setup_intents"), "/setup_intents");
    }

    #[test]
    fn operation_names_are_bounded_and_plain() {
        assert_eq!(operation_label(None), "anonymous");
        assert_eq!(operation_label(Some("<script>")), "anonymous");
        assert_eq!(operation_label(Some("History")), "History");
    }
}
