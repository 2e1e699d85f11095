//! Webhook deliveries an attacker would forge or replay: each refused with 400 and nothing
//! stored; genuine ones (including rotated secrets and several `v1` entries) accepted once.

use entity::webhook_events;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;
use tollgate::webhooks::signature::sign;

use super::still_healthy;
use crate::helpers::{spawn_app_with, WEBHOOK_SECRET};

fn event(id: &str, kind: &str) -> String {
    json!({
        "id": id, "object": "event", "type": kind,
        "created": chrono::Utc::now().timestamp(), "api_version": "2026-07-29.dahlia", "livemode": false,
        "data": {"object": {"id": "pi_1", "object": "payment_intent", "amount": 100, "currency": "usd", "status": "succeeded"}}
    })
    .to_string()
}

#[tokio::test]
async fn forged_stale_and_tampered_deliveries_store_nothing() {
    const OLD: &str = "whsec_rotated_out_but_still_listed";
    let app = spawn_app_with(|vars| {
        vars.insert(
            "STRIPE_WEBHOOK_SECRETS".into(),
            format!("{OLD},{WEBHOOK_SECRET}"),
        );
    })
    .await;
    let now = chrono::Utc::now().timestamp();
    let body = event("evt_hostile1", "payment_intent.succeeded");
    let good = sign(WEBHOOK_SECRET, now, body.as_bytes());
    let good_sig = good.split("v1=").nth(1).unwrap_or_default().to_string();
    let tampered = body.replace("\"amount\":100", "\"amount\":1");
    let refused: Vec<(&str, String, Option<String>)> = vec![
        ("missing", body.clone(), None),
        ("empty", body.clone(), Some(String::new())),
        (
            "wrong secret",
            body.clone(),
            Some(sign("whsec_attacker", now, body.as_bytes())),
        ),
        (
            "stale",
            body.clone(),
            Some(sign(WEBHOOK_SECRET, now - 400, body.as_bytes())),
        ),
        (
            "future",
            body.clone(),
            Some(sign(WEBHOOK_SECRET, now + 400, body.as_bytes())),
        ),
        ("tampered body", tampered, Some(good.clone())),
        (
            "v0 only",
            body.clone(),
            Some(format!("t={now},v0={good_sig}")),
        ),
        (
            "timestamp swapped",
            body.clone(),
            Some(format!("t={},v1={good_sig}", now - 1)),
        ),
        (
            "two wrong v1",
            body.clone(),
            Some(format!(
                "t={now},v1={},v1={}",
                "0".repeat(64),
                "f".repeat(64)
            )),
        ),
        ("junk", body.clone(), Some("t=abc,v1=zz".into())),
        (
            "huge header",
            body.clone(),
            Some(format!("t={now},{}", "v1=00,".repeat(2000))),
        ),
    ];
    for (name, payload, header) in refused {
        let res = app.post_webhook(&payload, header.as_deref()).await;
        assert_eq!(res.status(), 400, "{name}");
    }
    // A signed envelope must still look like Stripe's: bounded ids and types.
    let long_id = event(
        &format!("evt_{}", "a".repeat(100 * 1024)),
        "payment_intent.succeeded",
    );
    let not_evt = event("pi_123", "payment_intent.succeeded");
    let bad_type = event("evt_ok", "payment_intent.succeeded<script>");
    for payload in [long_id, not_evt, bad_type] {
        let header = sign(WEBHOOK_SECRET, now, payload.as_bytes());
        let res = app.post_webhook(&payload, Some(&header)).await;
        assert_eq!(res.status(), 400);
    }
    let stored = webhook_events::Entity::find()
        .count(app.db())
        .await
        .expect("count");
    assert_eq!(stored, 0, "nothing stored");

    // Genuine: several v1 entries (one right), and the older listed secret.
    let two = format!("t={now},v1={},v1={good_sig}", "0".repeat(64));
    assert_eq!(app.post_webhook(&body, Some(&two)).await.status(), 200);
    let rotated = event("evt_hostile2", "payment_intent.succeeded");
    let header = sign(OLD, now, rotated.as_bytes());
    assert_eq!(
        app.post_webhook(&rotated, Some(&header)).await.status(),
        200
    );
    // A replay of the same delivery is a no-op.
    assert_eq!(app.post_webhook(&body, Some(&good)).await.status(), 200);
    let stored = webhook_events::Entity::find()
        .count(app.db())
        .await
        .expect("count");
    assert_eq!(stored, 2);
    still_healthy(&app).await;
}
