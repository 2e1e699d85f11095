use chrono::Utc;
use entity::{idempotency_keys, webhook_events};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbErr};
use tollgate::error::{is_unique_violation, unique_violation_on};
use uuid::Uuid;

use crate::helpers::{customer_row, payment_row, TestDb};

async fn migrated() -> (TestDb, DatabaseConnection) {
    let db = TestDb::fresh().await;
    tollgate::db::migrate_url(&db.url).await.expect("migrate");
    let conn = tollgate::db::connect(&db.url).await.expect("connect");
    (db, conn)
}

#[tokio::test]
async fn migrations_go_down_and_up_again() {
    let (_db, conn) = migrated().await;
    let applied = Migrator::get_applied_migrations(&conn).await.expect("list");
    assert_eq!(applied.len(), Migrator::migrations().len());
    Migrator::down(&conn, None).await.expect("down");
    assert!(Migrator::get_applied_migrations(&conn)
        .await
        .expect("list")
        .is_empty());
    Migrator::up(&conn, None).await.expect("up again");
    customer_row("u1", "cus_1")
        .insert(&conn)
        .await
        .expect("tables usable");
}

#[tokio::test]
async fn one_customer_per_user_and_per_stripe_customer() {
    let (_db, conn) = migrated().await;
    customer_row("u1", "cus_1")
        .insert(&conn)
        .await
        .expect("first");
    let same_user = customer_row("u1", "cus_2")
        .insert(&conn)
        .await
        .expect_err("duplicate user");
    assert!(
        unique_violation_on(&same_user, "customers", "user_id"),
        "{same_user}"
    );
    assert!(!unique_violation_on(
        &same_user,
        "customers",
        "stripe_customer_id"
    ));
    let same_stripe = customer_row("u2", "cus_1")
        .insert(&conn)
        .await
        .expect_err("duplicate stripe id");
    assert!(
        unique_violation_on(&same_stripe, "customers", "stripe_customer_id"),
        "{same_stripe}"
    );
}

#[tokio::test]
async fn payments_are_unique_per_intent_and_never_over_refunded() {
    let (_db, conn) = migrated().await;
    payment_row("u1", "pi_1", 1000, 0)
        .insert(&conn)
        .await
        .expect("first");
    let dup = payment_row("u2", "pi_1", 500, 0)
        .insert(&conn)
        .await
        .expect_err("same intent");
    assert!(
        unique_violation_on(&dup, "payments", "stripe_payment_intent_id"),
        "{dup}"
    );
    // The database itself refuses impossible money states.
    let over: DbErr = payment_row("u1", "pi_2", 1000, 1001)
        .insert(&conn)
        .await
        .expect_err("over-refunded");
    assert!(
        !is_unique_violation(&over),
        "a CHECK violation, not a unique one: {over}"
    );
    payment_row("u1", "pi_3", 0, 0)
        .insert(&conn)
        .await
        .expect_err("zero amount");
}

#[tokio::test]
async fn webhook_events_and_idempotency_keys_are_unique() {
    let (_db, conn) = migrated().await;
    let now = Utc::now();
    let event = || webhook_events::ActiveModel {
        id: Set(Uuid::now_v7()),
        stripe_event_id: Set("evt_1".into()),
        event_type: Set("payment_intent.succeeded".into()),
        payload: Set("{}".into()),
        api_version: Set(None),
        livemode: Set(false),
        stripe_created_at: Set(now),
        received_at: Set(now),
        status: Set(entity::WebhookEventStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(now),
        processed_at: Set(None),
        last_error: Set(None),
        trace_parent: Set(None),
    };
    event().insert(&conn).await.expect("first");
    let dup = event().insert(&conn).await.expect_err("same event id");
    assert!(
        unique_violation_on(&dup, "webhook_events", "stripe_event_id"),
        "{dup}"
    );

    let key = |user: &str, key: &str| idempotency_keys::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user.into()),
        key: Set(key.into()),
        operation: Set("createPaymentIntent".into()),
        request_fingerprint: Set("f".repeat(64)),
        response: Set(None),
        created_at: Set(now),
        locked_until: Set(None),
        expires_at: Set(now),
    };
    key("u1", "k1").insert(&conn).await.expect("first");
    key("u2", "k1")
        .insert(&conn)
        .await
        .expect("same key, other user");
    let dup = key("u1", "k1")
        .insert(&conn)
        .await
        .expect_err("same user and key");
    assert!(is_unique_violation(&dup), "{dup}");
}

#[tokio::test]
async fn history_indexes_exist() {
    let (db, conn) = migrated().await;
    let sql = match db.backend {
        crate::helpers::Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'payments_user_id_created_at_idx'"
        }
        crate::helpers::Backend::Postgres => {
            "SELECT indexname AS name FROM pg_indexes WHERE indexname = 'payments_user_id_created_at_idx'"
        }
    };
    let rows = conn
        .query_all_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            sql,
        ))
        .await
        .expect("query");
    assert_eq!(rows.len(), 1);
}

/// `compose.yaml` may start two `migrate` jobs (or a job and an old replica migrating on
/// start): on PostgreSQL an advisory lock makes the second wait, then find nothing to do.
#[tokio::test]
async fn migrations_run_from_several_places_at_once_all_succeed() {
    let db = TestDb::fresh().await;
    let runs = (0..3).map(|_| tollgate::db::migrate_url(&db.url));
    for outcome in futures_util::future::join_all(runs).await {
        outcome.expect("every concurrent migrate succeeds");
    }
    let conn = tollgate::db::connect(&db.url).await.expect("connect");
    let applied = Migrator::get_applied_migrations(&conn).await.expect("list");
    assert_eq!(
        applied.len(),
        Migrator::migrations().len(),
        "each applied once"
    );
    assert!(tollgate::db::pending_migrations(&db.url)
        .await
        .expect("pending")
        .is_empty());
}

/// A replica behind a migrate job (`MIGRATE_ON_START=false`) refuses to serve a schema older
/// than its code, naming what is missing, and starts once the job has run.
#[tokio::test]
async fn a_replica_that_does_not_migrate_refuses_an_unmigrated_database() {
    let db = TestDb::fresh().await;
    // Nothing listens on port 9: the replica must not need Stripe to decide this.
    let mut vars = crate::helpers::test_config(&db.url, "http://127.0.0.1:9");
    vars.insert("MIGRATE_ON_START".into(), "false".into());
    let load = |vars: &std::collections::HashMap<String, String>| {
        tollgate::config::Config::load(&|name: &str| vars.get(name).cloned()).expect("config")
    };
    let refused = tollgate::app::Application::build(load(&vars))
        .await
        .err()
        .expect("refuses an unmigrated database");
    let message = refused.to_string();
    assert!(
        message.contains("tollgate migrate") && message.contains("m20261124_000001"),
        "{message}"
    );
    assert!(
        tollgate::db::connect(&db.url)
            .await
            .expect("connect")
            .execute_unprepared("SELECT 1 FROM customers")
            .await
            .is_err(),
        "and creates nothing"
    );
    tollgate::db::migrate_url(&db.url).await.expect("the job");
    tollgate::app::Application::build(load(&vars))
        .await
        .expect("starts after the migration job");
}
