//! The webhook route: verify, store once, answer at once.

use entity::webhook_events;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;
use tollgate::webhooks::signature::sign;

use crate::helpers::{spawn_app, spawn_app_with, WEBHOOK_SECRET};

fn event(id: &str) -> String {
    json!({
        "id": id, "object": "event", "type": "payment_intent.succeeded",
        "created": chrono::Utc::now().timestamp(), "api_version": "2026-09-30.endive", "livemode": false,
        "data": {"object": {"id": "pi_1", "object": "payment_intent", "amount": 100, "currency": "usd", "status": "succeeded"}}
    })
    .to_string()
}

#[tokio::test]
async fn a_signed_event_is_stored_once() {
    // Intake only: no worker, so the stored row is exactly what the route wrote.
    let app = spawn_app_with(|vars| {
        vars.insert("WEBHOOK_WORKERS".into(), "0".into());
    })
    .await;
    let body = event("evt_once");
    let sig = sign(
        WEBHOOK_SECRET,
        chrono::Utc::now().timestamp(),
        body.as_bytes(),
    );
    let first = app.post_webhook(&body, Some(&sig)).await;
    assert_eq!(first.status(), 200);
    let second = app.post_webhook(&body, Some(&sig)).await;
    assert_eq!(second.status(), 200, "a redelivery is acknowledged");
    let json: serde_json::Value = second.json().await.expect("json");
    assert_eq!(json["duplicate"], true);
    let rows = webhook_events::Entity::find()
        .all(app.db())
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].payload, body, "stored byte for byte");
    assert_eq!(rows[0].status, entity::WebhookEventStatus::Pending);
}

#[tokio::test]
async fn bad_signatures_store_nothing() {
    let app = spawn_app().await;
    let body = event("evt_bad");
    let now = chrono::Utc::now().timestamp();
    let cases = [
        None,
        Some(sign("whsec_wrong", now, body.as_bytes())),
        Some(sign(WEBHOOK_SECRET, now - 301, body.as_bytes())),
        Some(sign(WEBHOOK_SECRET, now + 400, body.as_bytes())),
        Some("t=1,v0=abc".to_string()),
    ];
    for sig in cases {
        let res = app.post_webhook(&body, sig.as_deref()).await;
        assert_eq!(res.status(), 400, "{sig:?}");
    }
    let mut altered = body.clone().into_bytes();
    altered[20] ^= 1;
    let altered = String::from_utf8_lossy(&altered).to_string();
    let res = app
        .post_webhook(&altered, Some(&sign(WEBHOOK_SECRET, now, body.as_bytes())))
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        webhook_events::Entity::find()
            .count(app.db())
            .await
            .expect("count"),
        0
    );
}

#[tokio::test]
async fn rotated_secrets_and_oversized_bodies() {
    let app = spawn_app_with(|vars| {
        vars.insert(
            "STRIPE_WEBHOOK_SECRETS".into(),
            format!("whsec_new_secret,{WEBHOOK_SECRET}"),
        );
    })
    .await;
    let body = event("evt_rotated");
    let res = app
        .post_webhook(
            &body,
            Some(&sign(
                WEBHOOK_SECRET,
                chrono::Utc::now().timestamp(),
                body.as_bytes(),
            )),
        )
        .await;
    assert_eq!(
        res.status(),
        200,
        "the second configured secret is accepted"
    );

    let huge = "x".repeat(tollgate::webhooks::MAX_BODY_BYTES + 1);
    let res = app.post_webhook(&huge, Some("t=1,v1=00")).await;
    assert_eq!(res.status(), 413);
}

#[tokio::test]
async fn the_emulator_delivers_signed_events_the_route_accepts() {
    let app = spawn_app().await;
    app.emulator
        .register_webhook(
            &app.url("/webhooks/stripe"),
            WEBHOOK_SECRET,
            Some(&["customer.created"]),
        )
        .await;
    app.emulator
        .post("/v1/customers", &[("email", "hook@example.com")])
        .await;
    crate::helpers::eventually(
        std::time::Duration::from_secs(10),
        "one delivery from the emulator",
        || async {
            let n = webhook_events::Entity::find()
                .count(app.db())
                .await
                .expect("count");
            if n == 1 {
                Ok(())
            } else {
                Err(n)
            }
        },
    )
    .await;
    let rows = webhook_events::Entity::find()
        .all(app.db())
        .await
        .expect("rows");
    assert_eq!(rows[0].event_type, "customer.created");
}

#[tokio::test]
async fn concurrent_deliveries_store_each_event_once() {
    // Many at once, one of them repeated: it is reported new exactly once (the unique index
    // decides, not a check-then-insert), and every acknowledged event is stored.
    let app = spawn_app_with(|vars| {
        vars.insert("WEBHOOK_WORKERS".into(), "0".into());
    })
    .await;
    let repeated = event("evt_group_same");
    let mut bodies: Vec<String> = (0..60).map(|i| event(&format!("evt_group_{i}"))).collect();
    bodies.extend(std::iter::repeat_n(repeated, 20));
    let answers = futures_util::future::join_all(bodies.iter().map(|body| async {
        let sig = sign(
            WEBHOOK_SECRET,
            chrono::Utc::now().timestamp(),
            body.as_bytes(),
        );
        let res = app.post_webhook(body, Some(&sig)).await;
        assert_eq!(res.status(), 200);
        let json: serde_json::Value = res.json().await.expect("json");
        (body.contains("evt_group_same"), json["duplicate"] == false)
    }))
    .await;
    let new_repeats = answers.iter().filter(|(same, new)| *same && *new).count();
    assert_eq!(new_repeats, 1, "the repeated event is new exactly once");
    assert!(answers
        .iter()
        .filter(|(same, _)| !same)
        .all(|(_, new)| *new));
    assert_eq!(
        webhook_events::Entity::find()
            .count(app.db())
            .await
            .expect("count"),
        61
    );
}

#[tokio::test]
async fn an_event_without_its_object_is_refused() {
    // Intake reads only the envelope, but an event without `data.object` is no event.
    let app = spawn_app_with(|vars| {
        vars.insert("WEBHOOK_WORKERS".into(), "0".into());
    })
    .await;
    for body in [
        json!({"id": "evt_no_data", "object": "event", "type": "customer.created", "created": 1}),
        json!({"id": "evt_no_object", "object": "event", "type": "customer.created", "created": 1,
            "data": {}}),
        json!({"id": "evt_bad_created", "object": "event", "type": "customer.created",
            "created": "yesterday", "data": {"object": {}}}),
    ] {
        let body = body.to_string();
        let sig = sign(
            WEBHOOK_SECRET,
            chrono::Utc::now().timestamp(),
            body.as_bytes(),
        );
        let res = app.post_webhook(&body, Some(&sig)).await;
        assert_eq!(res.status(), 400, "{body}");
    }
    assert_eq!(
        webhook_events::Entity::find()
            .count(app.db())
            .await
            .expect("count"),
        0
    );
}
