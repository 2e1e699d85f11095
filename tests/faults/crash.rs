//! The process SIGKILLed after Stripe charged the card and before the local commit: nothing
//! of the request survives in the process, and Stripe will not be asked twice.

use std::time::Duration;

use sea_orm::{ConnectionTrait, TransactionTrait};

use crate::{
    harness::{
        assert_charged_once_each, assert_in_sync, assert_no_event_lost, list_all, scalar,
        PgCluster, Tollgate,
    },
    helpers::{eventually, Emulator},
};

#[tokio::test]
async fn killed_between_stripes_answer_and_the_local_commit() {
    let pg = PgCluster::start().await;
    let emu = Emulator::start().await;
    let app = Tollgate::start(&pg.url(), &emu, |_| {}).await;
    let token = app.warmed_up_shopper("crash-shopper").await;
    assert_no_event_lost(&emu, &pg).await;

    // Hold the payments table: reads go on, writes wait. The payment below gets Stripe's
    // answer and then blocks on its first write, inside the window.
    let db = pg.connect().await;
    let lock = db.begin().await.expect("begin");
    lock.execute_unprepared("LOCK TABLE payments IN EXCLUSIVE MODE")
        .await
        .expect("lock payments");

    let in_flight = app.pay(&token, "44.00", "killed-mid-commit");
    let kill = async {
        let waiting = eventually(
            Duration::from_secs(20),
            "Tollgate waiting to write the payment Stripe charged",
            || async {
                let charged = list_all(&emu, "/v1/payment_intents")
                    .await
                    .iter()
                    .any(|pi| pi["amount"] == 4400 && pi["status"] == "succeeded");
                let waiting = scalar(
                    &db,
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                     AND query ILIKE '%payments%' AND datname = current_database()",
                )
                .await;
                match (charged, waiting.as_deref()) {
                    (true, Some(n)) if n != "0" => Ok(n.to_string()),
                    other => Err(format!("{other:?}")),
                }
            },
        )
        .await;
        app.sigkill().await;
        waiting
    };
    let (answer, waiting) = tokio::join!(in_flight, kill);
    assert!(
        answer.is_err(),
        "the client never hears back from a killed process: {answer:?} ({waiting} waiting)"
    );
    // The killed process's sessions are gone (their statements never ran), then the table
    // is free again.
    eventually(
        Duration::from_secs(10),
        "the killed process's sessions ended",
        || async {
            match scalar(
                &db,
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                 AND datname = current_database()",
            )
            .await
            .as_deref()
            {
                Some("0") => Ok(()),
                other => Err(other.map(str::to_owned)),
            }
        },
    )
    .await;
    lock.rollback().await.expect("release the table");
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM payments WHERE amount = 4400")
            .await
            .as_deref(),
        Some("0"),
        "nothing of the killed request was committed"
    );

    // Back on the same port and database. The client retries with its key: Tollgate takes
    // the dead request's key over and hears Stripe's replay of the first charge.
    app.spawn().await;
    let payment = app
        .pay_until_answered(&token, "44.00", "killed-mid-commit")
        .await;
    assert_eq!(payment["status"], "SUCCEEDED", "{payment}");
    assert_charged_once_each(&emu, 2).await;
    assert_no_event_lost(&emu, &pg).await;
    assert_in_sync(&app).await;
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM payments WHERE amount = 4400 AND status = 'succeeded'"
        )
        .await
        .as_deref(),
        Some("1")
    );
}
