//! PostgreSQL restarted (or down for a while) under a payment in flight, and under the webhook
//! worker applying events.

use std::time::Duration;

use sea_orm::{ConnectionTrait, TransactionTrait};
use tokio::time::Instant;

use crate::{
    harness::{
        assert_charged_once_each, assert_in_sync, assert_no_event_lost, charge_outside,
        claimed_events, hold_next_payment_intent, scalar, PgCluster, Tollgate,
    },
    helpers::{eventually, Emulator},
};

/// Waits until the emulator has received one more `POST /v1/payment_intents` than `before`.
async fn reached_stripe(emu: &Emulator, before: usize) {
    eventually(
        Duration::from_secs(10),
        "the payment reached Stripe",
        || async {
            let n = emu
                .requests()
                .await
                .iter()
                .filter(|r| *r == "POST /v1/payment_intents")
                .count();
            if n > before {
                Ok(())
            } else {
                Err(n)
            }
        },
    )
    .await;
}

async fn intents_created(emu: &Emulator) -> usize {
    emu.requests()
        .await
        .iter()
        .filter(|r| *r == "POST /v1/payment_intents")
        .count()
}

/// The restart lands while Stripe holds the answer to `createPaymentIntent` (it has already
/// charged the card): the write-through after the answer meets a freshly restarted server and
/// a pool whose connections were all terminated.
#[tokio::test]
async fn postgres_restarted_while_a_payment_is_in_flight() {
    let pg = PgCluster::start().await;
    let emu = Emulator::start().await;
    let app = Tollgate::start(&pg.url(), &emu, |_| {}).await;
    let token = app.warmed_up_shopper("restart-shopper").await;

    hold_next_payment_intent(&emu, "5").await;
    let before = intents_created(&emu).await;
    let in_flight = async {
        let answer = app.pay(&token, "25.00", "paid-during-restart").await;
        eprintln!("DBG answered {answer:?}");
        (answer, Instant::now())
    };
    let restart = async {
        reached_stripe(&emu, before).await;
        eprintln!("DBG reached");
        pg.restart("fast").await;
        eprintln!("DBG restarted");
        Instant::now()
    };
    let ((answer, answered_at), restarted_at) = tokio::join!(in_flight, restart);
    assert!(
        restarted_at < answered_at,
        "the restart must land while the request is in flight"
    );
    eprintln!("answer during the restart: {answer:?}");

    // The client retries with the same key until it hears back: one payment, one charge.
    let payment = app
        .pay_until_answered(&token, "25.00", "paid-during-restart")
        .await;
    assert_eq!(payment["status"], "SUCCEEDED", "{payment}");
    if let Ok((_, body)) = &answer {
        let first_id = &body["data"]["createPaymentIntent"]["payment"]["id"];
        if !first_id.is_null() {
            assert_eq!(
                first_id, &payment["id"],
                "the retry answers the same payment"
            );
        }
    }
    assert_charged_once_each(&emu, 2).await;
    assert_no_event_lost(&emu, &pg).await;
    assert_in_sync(&app).await;
    let db = pg.connect().await;
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM payments WHERE status = 'succeeded'"
        )
        .await
        .as_deref(),
        Some("2")
    );
}

/// Harsher: the database is down when Stripe's answer arrives and stays down for seconds.
/// The write-through fails, the webhook deliveries fail; the client's retry and Stripe's
/// redeliveries repair everything once the database is back.
#[tokio::test]
async fn postgres_down_when_stripe_answers() {
    let pg = PgCluster::start().await;
    let emu = Emulator::start().await;
    let app = Tollgate::start(&pg.url(), &emu, |_| {}).await;
    let token = app.warmed_up_shopper("outage-shopper").await;

    hold_next_payment_intent(&emu, "4").await;
    let before = intents_created(&emu).await;
    let in_flight = app.pay(&token, "31.00", "paid-during-outage");
    let outage = async {
        reached_stripe(&emu, before).await;
        pg.stop().await;
        Instant::now()
    };
    let (answer, stopped_at) = tokio::join!(in_flight, outage);
    let (status, body) = answer.expect("an answer even with the database down");
    assert!(
        body["data"]["createPaymentIntent"].is_null() && body["errors"].is_array(),
        "the database was down when Stripe answered: {status} {body}"
    );
    assert!(
        !body.to_string().to_lowercase().contains("sql"),
        "no SQL leaks to clients: {body}"
    );
    assert!(stopped_at.elapsed() < Duration::from_secs(30));
    // Stripe's first deliveries of the payment's events fail while the database is down.
    eventually(Duration::from_secs(20), "a delivery failed", || async {
        let d = emu.deliveries().await;
        if d.iter()
            .any(|d| d["delivered"] != true && d["attempts"] != 0)
        {
            Ok(())
        } else {
            Err(d)
        }
    })
    .await;
    pg.start_again().await;

    let payment = app
        .pay_until_answered(&token, "31.00", "paid-during-outage")
        .await;
    assert_eq!(payment["status"], "SUCCEEDED", "{payment}");
    assert_charged_once_each(&emu, 2).await;
    assert_no_event_lost(&emu, &pg).await;
    assert_in_sync(&app).await;
}

/// The restart lands while the worker is inside an event's transaction (the event claimed,
/// its handler writing the payment): the transaction dies with its connection; the event is
/// still pending afterwards and is applied on the next pass.
#[tokio::test]
async fn postgres_restarted_while_the_worker_applies_events() {
    let pg = PgCluster::start().await;
    let emu = Emulator::start().await;
    let app = Tollgate::start(&pg.url(), &emu, |vars| {
        vars.insert("WEBHOOK_WORKERS".into(), "2".into());
    })
    .await;
    app.warmed_up_shopper("worker-shopper").await;
    let db = pg.connect().await;
    let customer = scalar(&db, "SELECT stripe_customer_id FROM customers")
        .await
        .expect("the customer Tollgate created");
    assert_no_event_lost(&emu, &pg).await;

    // The workers get stuck inside their events: the payments table is held, so a handler's
    // write waits, its event claimed and its transaction open.
    let lock = db.begin().await.expect("begin");
    lock.execute_unprepared("LOCK TABLE payments IN EXCLUSIVE MODE")
        .await
        .expect("lock payments");
    // Payments made at Stripe (the dashboard, another integration): only their webhooks
    // tell Tollgate about them.
    for amount in ["700", "800", "900"] {
        charge_outside(&emu, &customer, amount).await;
    }
    let claimed = eventually(
        Duration::from_secs(20),
        "a worker inside an event, writing",
        || async {
            let claimed = claimed_events(&db).await;
            let writing = scalar(
                &db,
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                 AND query ILIKE '%payments%' AND datname = current_database()",
            )
            .await;
            match writing.as_deref() {
                Some(n) if n != "0" && !claimed.is_empty() => Ok(claimed),
                _ => Err((writing, claimed)),
            }
        },
    )
    .await;
    pg.restart("fast").await;
    drop(lock);

    assert_no_event_lost(&emu, &pg).await;
    assert_in_sync(&app).await;
    let db = pg.connect().await;
    for event in &claimed {
        let status = scalar(
            &db,
            &format!("SELECT status::text FROM webhook_events WHERE stripe_event_id = '{event}'"),
        )
        .await;
        assert!(
            matches!(status.as_deref(), Some("processed" | "ignored")),
            "{event}: {status:?}"
        );
    }
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM payments WHERE status = 'succeeded' AND card_last4 = '4242'"
        )
        .await
        .as_deref(),
        Some("4"),
        "the three outside payments are recorded with their card"
    );
    assert_charged_once_each(&emu, 4).await;
}
