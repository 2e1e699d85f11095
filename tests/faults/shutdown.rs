//! SIGTERM under load, on the real binary: requests in flight finish with 200, new connections
//! are refused, the webhook worker finishes the event it is applying, WebSockets are told
//! 1001 (going away), and the process exits 0.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{
    client::IntoClientRequest, protocol::frame::coding::CloseCode, Message,
};

use sea_orm::{ConnectionTrait, TransactionTrait};

use crate::{
    harness::{
        assert_charged_once_each, assert_in_sync, assert_no_event_lost, charge_outside,
        claimed_events, scalar, PgCluster, Tollgate,
    },
    helpers::{eventually, Emulator},
};

const SLOW_PAYMENTS: usize = 6;
const QUERIES: usize = 12;

#[tokio::test]
async fn sigterm_under_load_drains_and_stops_cleanly() {
    let pg = PgCluster::start().await;
    let emu = Emulator::start().await;
    let app = Tollgate::start(&pg.url(), &emu, |vars| {
        vars.insert("WEBHOOK_WORKERS".into(), "1".into());
    })
    .await;
    let token = app.warmed_up_shopper("busy-shopper").await;
    assert_no_event_lost(&emu, &pg).await;
    let db = pg.connect().await;
    let customer = scalar(&db, "SELECT stripe_customer_id FROM customers")
        .await
        .expect("customer");

    // A live-update subscriber.
    let mut request = format!("ws://127.0.0.1:{}/graphql/ws", app.port)
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("WebSocket");
    let init = json!({"type": "connection_init", "payload": {"token": token}});
    ws.send(Message::text(init.to_string()))
        .await
        .expect("init");
    let ack = ws.next().await.expect("open").expect("frame");
    assert!(ack.to_text().unwrap_or_default().contains("connection_ack"));
    let subscribe = json!({"id": "1", "type": "subscribe",
        "payload": {"query": "subscription { paymentUpdated { id status } }"}});
    ws.send(Message::text(subscribe.to_string()))
        .await
        .expect("subscribe");

    // The worker busy inside an event: a payment made at Stripe reaches Tollgate by webhook
    // only, and the worker's write of it waits on the payments table, held here until after
    // SIGTERM.
    let lock = db.begin().await.expect("begin");
    lock.execute_unprepared("LOCK TABLE payments IN EXCLUSIVE MODE")
        .await
        .expect("lock payments");
    charge_outside(&emu, &customer, "1234").await;
    let claimed = eventually(
        Duration::from_secs(20),
        "the worker inside its events, writing",
        || async {
            let claimed = claimed_events(&db).await;
            if claimed.is_empty() {
                Err(claimed)
            } else {
                Ok(claimed)
            }
        },
    )
    .await;

    // Load: slow payments (Stripe holds each answer 3 s) and quick queries, each request on
    // a connection of its own.
    emu.chaos_with(
        "delay",
        SLOW_PAYMENTS as u32,
        &[
            ("method", "POST"),
            ("path", "/v1/payment_intents"),
            ("seconds", "3"),
        ],
    )
    .await;
    let posts_before = emu
        .requests()
        .await
        .iter()
        .filter(|r| *r == "POST /v1/payment_intents")
        .count();
    let app = &app;
    let token = &token;
    let payments = futures_util::future::join_all((0..SLOW_PAYMENTS).map(|i| async move {
        let answer = app
            .pay(token, &format!("{}.00", 20 + i), &format!("slow-{i}"))
            .await;
        (answer, Instant::now())
    }));
    let queries = futures_util::future::join_all((0..QUERIES).map(|_| async move {
        app.graphql("{ payments { totalCount } }", json!({}), token)
            .await
    }));
    let emu = &emu;
    let terminate = async move {
        eventually(
            Duration::from_secs(10),
            "every slow payment at Stripe",
            || async {
                let n = emu
                    .requests()
                    .await
                    .iter()
                    .filter(|r| *r == "POST /v1/payment_intents")
                    .count();
                if n >= posts_before + SLOW_PAYMENTS {
                    Ok(())
                } else {
                    Err(n)
                }
            },
        )
        .await;
        app.sigterm().await;
        let signalled = Instant::now();
        // New connections are refused from now on, while the slow requests still run.
        let refused = eventually(
            Duration::from_secs(2),
            "new connections refused",
            || async {
                match tokio::net::TcpStream::connect(("127.0.0.1", app.port)).await {
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                        Ok(Instant::now())
                    }
                    other => Err(format!("{other:?}")),
                }
            },
        )
        .await;
        // The worker may write again: it finishes its event during the shutdown.
        lock.rollback().await.expect("release the payments table");
        (signalled, refused)
    };
    let (payments, queries, (signalled, refused)) = tokio::join!(payments, queries, terminate);

    for (answer, answered_at) in &payments {
        let (status, body) = answer.as_ref().expect("in-flight payment answered");
        assert_eq!(status.as_u16(), 200, "{body}");
        assert_eq!(
            body["data"]["createPaymentIntent"]["payment"]["status"], "SUCCEEDED",
            "{body}"
        );
        assert!(
            refused < *answered_at,
            "the listener closed while requests were still in flight"
        );
        assert!(
            *answered_at > signalled,
            "answered after SIGTERM, not before"
        );
    }
    for answer in &queries {
        let (status, body) = answer.as_ref().expect("query answered");
        assert_eq!(status.as_u16(), 200, "{body}");
        assert!(body["errors"].is_null(), "{body}");
    }

    // The subscriber is told the server is going away.
    let close = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(frame) = ws.next().await {
            match frame {
                Ok(Message::Close(close)) => return close,
                Ok(_) => continue,
                Err(e) => panic!("WebSocket ended without a close frame: {e}"),
            }
        }
        None
    })
    .await
    .expect("a close frame in time");
    assert_eq!(close.map(|c| c.code), Some(CloseCode::Away));

    let exit = app.wait_exit(Duration::from_secs(40)).await;
    assert!(exit.success(), "exit status {exit:?}");
    // The worker finished the events it was applying before the process exited.
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
    assert!(claimed_events(&db).await.is_empty(), "nothing left claimed");

    // Started again, it catches up with whatever arrived meanwhile.
    app.spawn().await;
    assert_charged_once_each(emu, 2 + SLOW_PAYMENTS).await;
    assert_no_event_lost(emu, &pg).await;
    assert_in_sync(app).await;
}
