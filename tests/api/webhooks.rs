//! The event pipeline: webhooks delivered late, twice, out of order, to several replicas, and
//! across a crash, end in the newest state with every side effect exactly once.

use std::{collections::HashMap, time::Duration};

use chrono::Utc;
use entity::{side_effects, subscriptions, webhook_events};
use futures_util::{SinkExt, StreamExt};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use tollgate::webhooks::signature::sign;

use crate::helpers::{
    error_code, eventually, spawn_app, spawn_app_with, Backend, TestApp, WEBHOOK_SECRET,
};

/// A customer row, as if the user had paid before.
async fn customer(app: &TestApp, user: &str, stripe_id: &str) {
    crate::helpers::customer_row(user, stripe_id)
        .insert(app.db())
        .await
        .expect("customer");
}

/// A `customer.subscription.*` event shaped like Stripe's (API 2025+: period on the item).
fn subscription_event(
    event_id: &str,
    sub: &str,
    customer: &str,
    created: i64,
    status: &str,
    cancel: bool,
    period_end: i64,
) -> String {
    json!({
        "id": event_id, "object": "event", "api_version": "2026-09-30.endive", "livemode": false,
        "created": created, "pending_webhooks": 1, "request": {"id": null, "idempotency_key": null},
        "type": "customer.subscription.updated",
        "data": {"object": {
            "id": sub, "object": "subscription", "customer": customer, "status": status,
            "cancel_at_period_end": cancel,
            "items": {"object": "list", "data": [{"id": format!("si_{sub}"), "object": "subscription_item",
                "price": {"id": "price_chaos", "object": "price", "product": "prod_chaos", "currency": "usd", "unit_amount": 500},
                "current_period_start": period_end - 2_592_000, "current_period_end": period_end}]}
        }}
    })
    .to_string()
}

async fn deliver(client: &reqwest::Client, base: &str, body: &str) -> u16 {
    let sig = sign(WEBHOOK_SECRET, Utc::now().timestamp(), body.as_bytes());
    client
        .post(format!("{base}/webhooks/stripe"))
        .header("stripe-signature", sig)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

pub(crate) async fn wait_until_drained(app: &TestApp, expected: u64, within: Duration) {
    eventually(within, "every event applied", || async {
        let total = webhook_events::Entity::find()
            .count(app.db())
            .await
            .expect("count");
        let pending = webhook_events::Entity::find()
            .filter(webhook_events::Column::Status.eq(entity::WebhookEventStatus::Pending))
            .count(app.db())
            .await
            .expect("count");
        if total == expected && pending == 0 {
            Ok(())
        } else {
            Err(format!("{pending} of {total} pending"))
        }
    })
    .await
}

/// A deterministic shuffle (no rand dependency): xorshift.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        items.swap(i, (seed % (i as u64 + 1)) as usize);
    }
}

#[tokio::test]
async fn a_payment_confirmed_by_the_spa_settles_through_the_webhook_alone() {
    let app = spawn_app().await;
    app.emulator
        .register_webhook(&app.url("/webhooks/stripe"), WEBHOOK_SECRET, None)
        .await;
    let token = app.token("alice", false);
    let body = app.pay(&token, "12.50", "usd", None).await;
    let payment = &body["data"]["createPaymentIntent"]["payment"];
    assert_eq!(payment["status"], "PENDING", "{body}");
    let (id, pi) = (
        payment["id"].as_str().expect("id"),
        payment["stripePaymentIntentId"].as_str().expect("pi"),
    );
    // Stripe.js confirms in the browser; Tollgate hears of it only through the webhook.
    let (s, _) = app
        .emulator
        .post(
            &format!("/v1/payment_intents/{pi}/confirm"),
            &[("payment_method", "pm_card_visa")],
        )
        .await;
    assert_eq!(s, 200);
    let now = eventually(
        Duration::from_secs(10),
        "settled by the webhook",
        || async {
            let now = app
                .graphql(
                    "query($id: ID!) { payment(id: $id) { status cardBrand cardLast4 } }",
                    json!({"id": id}),
                    Some(&token),
                )
                .await;
            if now["data"]["payment"]["status"] == "SUCCEEDED" {
                Ok(now)
            } else {
                Err(now)
            }
        },
    )
    .await;
    assert_eq!(now["data"]["payment"]["cardLast4"], "4242", "{now}");
    let events = app
        .graphql("{ webhookEvents(type: \"payment_intent.succeeded\") { totalCount edges { node { status attempts } } } }", json!({}), Some(&app.token("root", true)))
        .await;
    assert_eq!(
        events["data"]["webhookEvents"]["edges"][0]["node"]["status"], "PROCESSED",
        "{events}"
    );
}

#[tokio::test]
async fn delivery_chaos_ends_in_the_newest_state_with_each_side_effect_once() {
    let app = spawn_app().await;
    customer(&app, "u-chaos", "cus_chaos").await;
    let mut live = app.state.live.subscribe();
    let base = Utc::now().timestamp() - 10_000;
    let mut deliveries = vec![];
    let mut distinct = 0;
    for k in 0..50 {
        for j in 0..10 {
            let body = subscription_event(
                &format!("evt_chaos_{k}_{j}"),
                &format!("sub_chaos_{k}"),
                "cus_chaos",
                base + j * 10 + k % 3,
                if j % 2 == 0 { "active" } else { "past_due" },
                j % 2 == 1,
                base + j * 1000,
            );
            distinct += 1;
            for _ in 0..(1 + (k * 7 + j * 3) % 3) {
                deliveries.push(body.clone());
            }
        }
    }
    assert_eq!(distinct, 500);
    shuffle(&mut deliveries, 0x5eed);
    let client = reqwest::Client::new();
    let url = app.url("");
    let statuses: Vec<u16> = futures_util::stream::iter(deliveries.iter())
        .map(|body| deliver(&client, &url, body))
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(
        statuses.iter().all(|s| *s == 200),
        "every delivery acknowledged"
    );
    wait_until_drained(&app, 500, Duration::from_secs(30)).await;

    let rows = subscriptions::Entity::find()
        .all(app.db())
        .await
        .expect("rows");
    assert_eq!(rows.len(), 50);
    for row in &rows {
        assert_eq!(
            (row.status.as_str(), row.cancel_at_period_end),
            ("past_due", true),
            "{}",
            row.stripe_subscription_id
        );
        assert_eq!(
            row.current_period_end.map(|t| t.timestamp()),
            Some(base + 9000)
        );
    }
    let processed = webhook_events::Entity::find()
        .filter(webhook_events::Column::Status.eq(entity::WebhookEventStatus::Processed))
        .count(app.db())
        .await
        .expect("count");
    assert_eq!(processed, 500, "zero events lost");
    let effects = side_effects::Entity::find()
        .all(app.db())
        .await
        .expect("effects");
    let mut per_event: HashMap<String, usize> = HashMap::new();
    for e in &effects {
        *per_event.entry(e.stripe_event_id.clone()).or_default() += 1;
    }
    assert!(
        per_event.values().all(|n| *n == 1),
        "one side effect per applied event"
    );
    // On PostgreSQL updates travel through NOTIFY and a listener: listen until every
    // subscription was heard of and the channel has been quiet for a while, then make sure no
    // more than one per side effect ever arrived.
    let mut published = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(500), live.recv()).await {
            Ok(Ok(_)) => published += 1,
            Ok(Err(e)) => panic!("live channel: {e}"),
            Err(_) if published >= rows.len() => break,
            Err(_) => {}
        }
    }
    // The worker applies events in batches and publishes each changed object once per commit,
    // so a batch with two changes to one subscription publishes it once: never more updates
    // than side effects (a redelivery publishes nothing), and every subscription at least one.
    assert!(
        published <= effects.len() && published >= rows.len(),
        "{published} updates for {} side effects on {} subscriptions",
        effects.len(),
        rows.len()
    );
    assert!(effects.len() <= 500 && !effects.is_empty());
}

#[tokio::test]
async fn events_queued_when_the_process_is_killed_are_applied_after_restart() {
    let app = spawn_app_with(|v| {
        v.insert("WEBHOOK_WORKERS".into(), "0".into());
    })
    .await;
    app.stop().await; // the in-process server is not used; real processes are
    customer(&app, "u-kill", "cus_kill").await;
    let port = |_: ()| {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port")
    };
    let spawn = |workers: &str, port: u16| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .arg("serve")
            .env_clear()
            .env("DATABASE_URL", &app.db.url)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("STRIPE_SECRET_KEY", crate::helpers::STRIPE_SECRET_KEY)
            .env("STRIPE_API_BASE", app.emulator.base_url())
            .env("STRIPE_WEBHOOK_SECRETS", WEBHOOK_SECRET)
            .env("JWT_SECRET", crate::helpers::JWT_SECRET)
            .env("WEBHOOK_WORKERS", workers)
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start tollgate")
    };
    let client = reqwest::Client::new();
    let wait_ready = |base: String| {
        let client = client.clone();
        async move {
            for _ in 0..100 {
                if client
                    .get(format!("{base}/readyz"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200)
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("tollgate did not become ready");
        }
    };
    let first_port = port(());
    let mut first = spawn("0", first_port);
    let base = format!("http://127.0.0.1:{first_port}");
    wait_ready(base.clone()).await;
    let now = Utc::now().timestamp();
    for k in 0..40 {
        let body = subscription_event(
            &format!("evt_kill_{k}"),
            &format!("sub_kill_{k}"),
            "cus_kill",
            now,
            "active",
            false,
            now + 1000,
        );
        assert_eq!(deliver(&client, &base, &body).await, 200);
    }
    first.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix: no cleanup runs
    let _ = first.wait();

    let second_port = port(());
    let mut second = spawn("2", second_port);
    wait_ready(format!("http://127.0.0.1:{second_port}")).await;
    wait_until_drained(&app, 40, Duration::from_secs(30)).await;
    let _ = second.kill();
    let _ = second.wait();
    assert_eq!(
        subscriptions::Entity::find()
            .count(app.db())
            .await
            .expect("count"),
        40
    );
}

#[tokio::test]
async fn two_replicas_share_the_queue_and_apply_each_event_once() {
    let app = spawn_app().await;
    if app.db.backend != Backend::Postgres {
        eprintln!(
            "several replicas need PostgreSQL (SKIP LOCKED); covered when TEST_DATABASE_URL is set"
        );
        return;
    }
    customer(&app, "u-rep", "cus_rep").await;
    let replica = crate::helpers::spawn_replica(&app).await;
    let bases = [app.url(""), replica.url("")];
    let now = Utc::now().timestamp();
    let bodies: Vec<String> = (0..1000)
        .map(|k| {
            subscription_event(
                &format!("evt_rep_{k}"),
                &format!("sub_rep_{k}"),
                "cus_rep",
                now,
                "active",
                false,
                now + 1000,
            )
        })
        .collect();
    let client = reqwest::Client::new();
    let statuses: Vec<u16> = futures_util::stream::iter(bodies.iter().enumerate())
        .map(|(i, body)| deliver(&client, &bases[i % 2], body))
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 200));
    wait_until_drained(&app, 1000, Duration::from_secs(120)).await;
    let events = webhook_events::Entity::find()
        .all(app.db())
        .await
        .expect("events");
    assert!(
        events
            .iter()
            .all(|e| e.status == entity::WebhookEventStatus::Processed && e.attempts == 1),
        "each processed exactly once"
    );
    assert_eq!(
        side_effects::Entity::find()
            .count(app.db())
            .await
            .expect("count"),
        1000
    );
    assert_eq!(
        subscriptions::Entity::find()
            .count(app.db())
            .await
            .expect("count"),
        1000
    );
}

async fn ws_client(app: &TestApp, token: &str) -> crate::helpers::Ws {
    let mut ws = app.ws_connect().await;
    let init =
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}});
    ws.send(Message::text(init.to_string()))
        .await
        .expect("init");
    let ack = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("ack in time")
        .expect("open")
        .expect("frame");
    assert!(
        ack.to_text().unwrap_or_default().contains("connection_ack"),
        "{ack:?}"
    );
    let subscribe = json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { paymentUpdated { id status } }"}});
    ws.send(Message::text(subscribe.to_string()))
        .await
        .expect("subscribe");
    ws
}

async fn next_payment(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    within: Duration,
) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .ok()??
            .ok()?;
        let Ok(text) = frame.to_text() else { continue };
        let msg: Value = serde_json::from_str(text).ok()?;
        if msg["type"] == "next" {
            return Some(msg["payload"]["data"]["paymentUpdated"].clone());
        }
    }
}

#[tokio::test]
async fn subscribers_hear_their_own_payments_and_nobody_elses() {
    let app = spawn_app().await;
    app.emulator
        .register_webhook(&app.url("/webhooks/stripe"), WEBHOOK_SECRET, None)
        .await;
    let alice = app.token("alice", false);
    let body = app.pay(&alice, "8.00", "usd", None).await;
    let payment = body["data"]["createPaymentIntent"]["payment"].clone();
    let pi = payment["stripePaymentIntentId"]
        .as_str()
        .expect("pi")
        .to_string();

    let mut mine = ws_client(&app, &alice).await;
    let mut theirs = ws_client(&app, &app.token("mallory", false)).await;
    tokio::time::sleep(Duration::from_millis(200)).await; // subscriptions are registered
    app.emulator
        .post(
            &format!("/v1/payment_intents/{pi}/confirm"),
            &[("payment_method", "pm_card_visa")],
        )
        .await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let heard = loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match next_payment(&mut mine, left).await {
            Some(p) if p["status"] == "SUCCEEDED" => break p,
            Some(_) => continue,
            None => panic!("no paymentUpdated within 5 s"),
        }
    };
    assert_eq!(heard["id"], payment["id"]);
    assert_eq!(
        next_payment(&mut theirs, Duration::from_secs(1)).await,
        None,
        "another user hears nothing"
    );

    // A socket without a valid token is refused at connection_init.
    let mut anon = app.ws_connect().await;
    anon.send(Message::text(
        json!({"type": "connection_init", "payload": {}}).to_string(),
    ))
    .await
    .expect("init");
    let reply = tokio::time::timeout(Duration::from_secs(5), anon.next())
        .await
        .expect("reply");
    let refused = match reply {
        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => true,
        Some(Ok(m)) => !m.to_text().unwrap_or_default().contains("connection_ack"),
    };
    assert!(refused);
}

#[tokio::test]
async fn failed_events_are_replayed_from_the_command_line() {
    let app = spawn_app_with(|v| {
        v.insert("WEBHOOK_WORKERS".into(), "0".into());
    })
    .await;
    customer(&app, "u-replay", "cus_replay").await;
    let now = Utc::now().timestamp();
    let body = subscription_event(
        "evt_replay",
        "sub_replay",
        "cus_replay",
        now,
        "active",
        false,
        now + 1000,
    );
    assert_eq!(
        deliver(&reqwest::Client::new(), &app.url(""), &body).await,
        200
    );
    webhook_events::Entity::update_many()
        .col_expr(
            webhook_events::Column::Status,
            sea_orm::sea_query::Expr::value(entity::WebhookEventStatus::Failed),
        )
        .col_expr(
            webhook_events::Column::Attempts,
            sea_orm::sea_query::Expr::value(8),
        )
        .exec(app.db())
        .await
        .expect("park");
    let admin = app.token("root", true);
    let listed = app.graphql("{ webhookEvents(status: FAILED) { totalCount edges { node { stripeEventId attempts } } } }", json!({}), Some(&admin)).await;
    assert_eq!(listed["data"]["webhookEvents"]["totalCount"], 1, "{listed}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["webhooks", "replay", "--failed"])
        .env_clear()
        .env("DATABASE_URL", &app.db.url)
        .env("STRIPE_SECRET_KEY", crate::helpers::STRIPE_SECRET_KEY)
        .env("STRIPE_API_BASE", app.emulator.base_url())
        .env("JWT_SECRET", crate::helpers::JWT_SECRET)
        .env("LOG_FORMAT", "json")
        .output()
        .expect("run replay");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("requeued 1"));
    let event = webhook_events::Entity::find()
        .one(app.db())
        .await
        .expect("query")
        .expect("row");
    assert_eq!(
        (event.status, event.attempts),
        (entity::WebhookEventStatus::Processed, 1)
    );
    assert_eq!(
        subscriptions::Entity::find()
            .count(app.db())
            .await
            .expect("count"),
        1
    );
}

#[tokio::test]
async fn sync_adopts_payments_made_outside_tollgate() {
    let app = spawn_app().await;
    let token = app.token("olga", false);
    app.pay_ok(&token, "1.00", "usd").await;
    let customer = tollgate::billing::customers::find_for_user(app.db(), "olga")
        .await
        .expect("q")
        .expect("customer");
    // Paid in the Stripe dashboard (or another system) for the same customer.
    app.emulator
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "4200"),
                ("currency", "eur"),
                ("customer", &customer.stripe_customer_id),
                ("payment_method", "pm_card_visa"),
                ("confirm", "true"),
            ],
        )
        .await;
    app.emulator
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "100"),
                ("currency", "eur"),
                ("payment_method", "pm_card_visa"),
                ("confirm", "true"),
            ],
        )
        .await;
    let report = tollgate::billing::sync::sync_payments(
        app.db(),
        &app.state.stripe,
        Utc::now() - chrono::Duration::hours(1),
        &|_, _| {},
    )
    .await
    .expect("sync");
    assert_eq!(
        (
            report.fetched,
            report.created,
            report.unchanged,
            report.skipped
        ),
        (3, 1, 1, 1),
        "{report}"
    );
    let history = app
        .graphql("{ payments { totalCount } }", json!({}), Some(&token))
        .await;
    assert_eq!(history["data"]["payments"]["totalCount"], 2);
}

/// The first frame the server sends after `connection_init` with `payload`.
async fn init_answer(app: &TestApp, payload: Value) -> String {
    let mut ws = app.ws_connect().await;
    let init = json!({"type": "connection_init", "payload": payload});
    ws.send(Message::text(init.to_string()))
        .await
        .expect("init");
    match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        Ok(Some(Ok(frame))) => format!("{frame:?}"),
        other => format!("{other:?}"),
    }
}

#[tokio::test]
async fn websocket_clients_authenticate_in_the_shapes_clients_document() {
    let app = spawn_app().await;
    let token = app.token("ws-user", false);
    for payload in [
        json!({"Authorization": format!("Bearer {token}")}),
        json!({"authorization": token}),
        json!({"headers": {"Authorization": format!("Bearer {token}")}}),
        json!({"token": token}),
        json!({"authToken": token}),
    ] {
        let answer = init_answer(&app, payload.clone()).await;
        assert!(answer.contains("connection_ack"), "{payload}: {answer}");
    }
    for payload in [json!({}), json!({"authToken": "not-a-token"})] {
        let answer = init_answer(&app, payload.clone()).await;
        assert!(!answer.contains("connection_ack"), "{payload}: {answer}");
    }
}

#[tokio::test]
async fn an_admin_replays_a_parked_event_from_graphql() {
    let app = spawn_app().await;
    customer(&app, "u-replay-gql", "cus_replay_gql").await;
    let now = Utc::now().timestamp();
    let body = subscription_event(
        "evt_replay_gql",
        "sub_replay_gql",
        "cus_replay_gql",
        now,
        "active",
        false,
        now + 1000,
    );
    // Parked, as if its handler had failed every attempt (stored directly: a delivery would
    // be applied by the running worker at once).
    let parked_at = Utc::now();
    webhook_events::ActiveModel {
        id: sea_orm::Set(uuid::Uuid::now_v7()),
        stripe_event_id: sea_orm::Set("evt_replay_gql".into()),
        event_type: sea_orm::Set("customer.subscription.updated".into()),
        payload: sea_orm::Set(body.clone()),
        api_version: sea_orm::Set(None),
        livemode: sea_orm::Set(false),
        stripe_created_at: sea_orm::Set(parked_at),
        received_at: sea_orm::Set(parked_at),
        status: sea_orm::Set(entity::WebhookEventStatus::Failed),
        attempts: sea_orm::Set(8),
        next_attempt_at: sea_orm::Set(parked_at),
        processed_at: sea_orm::Set(None),
        last_error: sea_orm::Set(Some("handler failed".into())),
        trace_parent: sea_orm::Set(None),
    }
    .insert(app.db())
    .await
    .expect("park");
    let applied = |status: entity::WebhookEventStatus| {
        let db = app.db().clone();
        move || {
            let db = db.clone();
            async move {
                let row = webhook_events::Entity::find()
                    .one(&db)
                    .await
                    .expect("query")
                    .expect("row");
                if row.status == status {
                    Ok(row)
                } else {
                    Err((row.status, row.attempts, row.last_error))
                }
            }
        }
    };
    let admin = app.token("root", true);
    let listed = app
        .graphql(
            "{ webhookEvents(status: FAILED) { edges { node { id } } } }",
            json!({}),
            Some(&admin),
        )
        .await;
    let id = listed["data"]["webhookEvents"]["edges"][0]["node"]["id"]
        .as_str()
        .expect("a failed event")
        .to_owned();
    const REPLAY: &str =
        "mutation($id: ID!) { replayWebhookEvent(id: $id) { id status attempts } }";

    let user = app.token("u-replay-gql", false);
    let refused = app.graphql(REPLAY, json!({"id": id}), Some(&user)).await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
    let bad = app
        .graphql(REPLAY, json!({"id": "evt_../../x"}), Some(&admin))
        .await;
    assert_eq!(error_code(&bad), Some("INVALID_INPUT"), "{bad}");
    // A huge id: under the body limit it is refused as input, and not echoed back; over it,
    // the request is refused before it is read.
    let long = "e".repeat(200 * 1024);
    let (status, huge) = app
        .graphql_raw(REPLAY, json!({"id": long}), Some(&admin))
        .await;
    assert_eq!(
        (status.as_u16(), error_code(&huge)),
        (200, Some("INVALID_INPUT"))
    );
    assert!(huge.to_string().len() < 2048, "the id is not echoed back");
    let (status, _) = app
        .graphql_raw(REPLAY, json!({"id": "e".repeat(1024 * 1024)}), Some(&admin))
        .await;
    assert_eq!(status.as_u16(), 413, "1 MiB is over the body limit");
    let missing = app
        .graphql(
            REPLAY,
            json!({"id": uuid::Uuid::nil().to_string()}),
            Some(&admin),
        )
        .await;
    assert_eq!(error_code(&missing), Some("NOT_FOUND"), "{missing}");

    let replayed = app.graphql(REPLAY, json!({"id": id}), Some(&admin)).await;
    assert_eq!(
        (
            &replayed["data"]["replayWebhookEvent"]["status"],
            &replayed["data"]["replayWebhookEvent"]["attempts"]
        ),
        (&json!("PENDING"), &json!(0)),
        "the answer is the event as queued: {replayed}"
    );
    let row = eventually(
        Duration::from_secs(10),
        "the woken worker applies the replayed event",
        applied(entity::WebhookEventStatus::Processed),
    )
    .await;
    assert_eq!(row.attempts, 1);
    // Handlers are idempotent: the replay changed nothing that was already right.
    assert_eq!(
        subscriptions::Entity::find()
            .count(app.db())
            .await
            .expect("count"),
        1
    );
}

#[tokio::test]
async fn one_bad_event_in_a_batch_is_parked_alone() {
    // Intake only: the three events wait, then one drain applies them as one batch.
    let app = spawn_app_with(|v| {
        v.insert("WEBHOOK_WORKERS".into(), "0".into());
    })
    .await;
    customer(&app, "u-batch", "cus_batch").await;
    let now = Utc::now().timestamp();
    let good = |n: i64| {
        subscription_event(
            &format!("evt_batch_{n}"),
            &format!("sub_batch_{n}"),
            "cus_batch",
            now + n,
            "active",
            false,
            now + 1000,
        )
    };
    let mut bad: Value = serde_json::from_str(&good(1)).expect("json");
    bad["id"] = json!("evt_batch_bad");
    bad["data"]["object"] = json!({"id": 5, "object": "subscription"});
    let client = reqwest::Client::new();
    for body in [good(0), bad.to_string(), good(2)] {
        assert_eq!(deliver(&client, &app.url(""), &body).await, 200);
    }
    let handled = tollgate::webhooks::worker::drain(&app.state.worker())
        .await
        .expect("drain");
    assert_eq!(handled, 3);
    let status_of = |id: &'static str| {
        let db = app.db().clone();
        async move {
            let row = webhook_events::Entity::find()
                .filter(webhook_events::Column::StripeEventId.eq(id))
                .one(&db)
                .await
                .expect("query")
                .expect("row");
            (row.status, row.last_error.is_some())
        }
    };
    assert_eq!(
        status_of("evt_batch_0").await,
        (entity::WebhookEventStatus::Processed, false)
    );
    assert_eq!(
        status_of("evt_batch_bad").await,
        (entity::WebhookEventStatus::Failed, true),
        "unreadable: parked at once, with the reason"
    );
    assert_eq!(
        status_of("evt_batch_2").await,
        (entity::WebhookEventStatus::Processed, false),
        "the event after the bad one still applied"
    );
    assert_eq!(
        subscriptions::Entity::find()
            .count(app.db())
            .await
            .expect("count"),
        2
    );
}
