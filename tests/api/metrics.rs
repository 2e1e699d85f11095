//! `/metrics`: every family an operator scrapes, after a real flow; off and elsewhere by
//! configuration.

use serde_json::json;

use crate::helpers::{eventually, spawn_app, spawn_app_with, TestApp, WEBHOOK_SECRET};

const FAMILIES: [&str; 15] = [
    "tollgate_http_requests_total",
    "tollgate_http_request_duration_seconds",
    "tollgate_graphql_operations_total",
    "tollgate_graphql_operation_duration_seconds",
    "tollgate_stripe_requests_total",
    "tollgate_stripe_request_duration_seconds",
    "tollgate_webhook_deliveries_total",
    "tollgate_webhook_events_total",
    "tollgate_webhook_queue_depth",
    "tollgate_webhook_apply_lag_seconds",
    "tollgate_webhook_events_parked",
    "tollgate_db_pool_connections",
    "tollgate_db_pool_max_connections",
    "tollgate_db_pool_waiting",
    "tollgate_live_subscribers",
];

/// A payment, a History query and a webhook delivered twice; then `/metrics` once every
/// family is on it.
async fn exercised(app: &TestApp) -> String {
    let token = app.token("metered", false);
    app.pay_ok(&token, "3.00", "usd").await;
    let body = app
        .graphql(
            "query History { payments { totalCount } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let event = json!({"id": "evt_metrics_1", "object": "event", "type": "customer.created",
        "created": chrono::Utc::now().timestamp(), "livemode": false,
        "data": {"object": {"id": "cus_metrics", "object": "customer"}}})
    .to_string();
    let sig = tollgate::webhooks::signature::sign(
        WEBHOOK_SECRET,
        chrono::Utc::now().timestamp(),
        event.as_bytes(),
    );
    for _ in 0..2 {
        assert_eq!(app.post_webhook(&event, Some(&sig)).await.status(), 200);
    }
    eventually(
        std::time::Duration::from_secs(10),
        "every family",
        || async {
            let text = app.get("/metrics").await.text().await.expect("text");
            if FAMILIES.iter().all(|f| text.contains(f)) && text.contains("outcome=\"ignored\"") {
                Ok(text)
            } else {
                Err(FAMILIES
                    .iter()
                    .filter(|f| !text.contains(*f))
                    .collect::<Vec<_>>())
            }
        },
    )
    .await
}

#[tokio::test]
async fn metrics_show_every_family_after_a_payment_and_a_webhook() {
    let app = spawn_app().await;
    let text = exercised(&app).await;
    assert!(text.contains("route=\"/graphql\""), "routes, not raw paths");
    assert!(text.contains("operation=\"History\""));
    assert!(
        text.contains("endpoint=\"POST /payment_intents\""),
        "Stripe endpoints as templates"
    );
    assert!(text.contains("outcome=\"duplicate\""));
}

#[tokio::test]
async fn metrics_can_be_turned_off_or_moved_to_another_address() {
    let off = spawn_app_with(|vars| {
        vars.insert("METRICS".into(), "false".into());
    })
    .await;
    assert_eq!(off.get("/metrics").await.status(), 404);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    let moved = spawn_app_with(|vars| {
        vars.insert("METRICS_BIND".into(), format!("127.0.0.1:{port}"));
    })
    .await;
    assert_eq!(
        moved.get("/metrics").await.status(),
        404,
        "not on the API's address"
    );
    let url = format!("http://127.0.0.1:{port}/metrics");
    let text = eventually(
        std::time::Duration::from_secs(5),
        "metrics listener up",
        || async {
            match reqwest::get(&url).await {
                Ok(r) if r.status() == 200 => Ok(r.text().await.unwrap_or_default()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    assert!(text.contains("tollgate_webhook_queue_depth"));
}

#[tokio::test]
async fn tasks_waiting_for_a_pooled_connection_are_counted() {
    use sea_orm::TransactionTrait;
    let app = spawn_app().await;
    let max = match app.db.backend {
        crate::helpers::Backend::Postgres => app
            .db()
            .get_postgres_connection_pool()
            .options()
            .get_max_connections(),
        crate::helpers::Backend::Sqlite => app
            .db()
            .get_sqlite_connection_pool()
            .options()
            .get_max_connections(),
    };
    // Every connection of the pool taken (the worker may wait for one meanwhile).
    let mut held = vec![];
    for _ in 0..max {
        held.push(app.db().begin().await.expect("a pooled connection"));
    }
    let db = app.db().clone();
    let waiter = tokio::spawn(async move { tollgate::db::begin(&db).await.map(|_| ()) });
    eventually(
        std::time::Duration::from_secs(5),
        "a task counted as waiting",
        || async {
            match tollgate::db::waiting_for_connection() {
                0 => Err(0),
                n => Ok(n),
            }
        },
    )
    .await;
    assert!(
        !waiter.is_finished(),
        "it waits while the pool is exhausted"
    );
    drop(held);
    waiter
        .await
        .expect("joined")
        .expect("a connection once one is free");
    eventually(
        std::time::Duration::from_secs(5),
        "no task waiting once connections are free",
        || async {
            match tollgate::db::waiting_for_connection() {
                0 => Ok(()),
                n => Err(n),
            }
        },
    )
    .await;
    let text = app.get("/metrics").await.text().await.expect("text");
    assert!(
        text.contains(&format!("tollgate_db_pool_max_connections {max}")),
        "{text}"
    );
    assert!(text.contains("tollgate_db_pool_waiting 0"), "{text}");
}

/// The alert rules and the Grafana dashboard in `deploy/` read only metrics the gateway
/// exports: a renamed metric would otherwise leave an alert that can never fire.
#[tokio::test]
async fn alerts_and_the_dashboard_name_only_exported_metrics() {
    let app = spawn_app().await;
    let report = tollgate::billing::sync::Report::default();
    tollgate::billing::sync::record(
        app.db(),
        tollgate::billing::sync::What::Catalog,
        &report,
        false,
    )
    .await
    .expect("record a sync check");
    let text = exercised(&app).await;
    let exported: std::collections::BTreeSet<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    // Counted only when Stripe was retried, which this flow does not provoke.
    let only_on_retry = ["tollgate_stripe_retries_total"];
    let source = include_str!("../../src/metrics.rs");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut named = 0;
    for file in [
        "deploy/prometheus/alerts.yml",
        "deploy/grafana/dashboards/tollgate.json",
    ] {
        let body = std::fs::read_to_string(root.join(file)).expect(file);
        let mut rest = body.as_str();
        while let Some(at) = rest.find("tollgate_") {
            let tail = &rest[at..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            let name = &tail[..end];
            rest = &tail[end..];
            named += 1;
            if only_on_retry.contains(&name) {
                assert!(source.contains(&format!("\"{name}\"")), "{file}: {name}");
            } else {
                assert!(
                    exported.contains(name),
                    "{file} reads {name}, which /metrics lacks"
                );
            }
        }
    }
    assert!(named >= 20, "the files name metrics: {named}");
}
