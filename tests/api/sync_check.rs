//! `tollgate sync … --check`: a drift made at Stripe behind Tollgate's back is reported (and
//! the command exits non-zero) without writing; `sync` repairs it; the check is then clean.

use serde_json::Value;

use crate::helpers::{spawn_app, TestApp, STRIPE_SECRET_KEY};

fn sync_cli(app: &TestApp, args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("sync")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LOG_FORMAT", "json")
        .env("DATABASE_URL", &app.db.url)
        .env("STRIPE_SECRET_KEY", STRIPE_SECRET_KEY)
        .env("STRIPE_API_BASE", app.emulator.base_url())
        .current_dir(dir.path())
        .output()
        .expect("run tollgate");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// `tollgate_sync_drifts{what="…"}` from `/metrics`: what the last CLI run left unrepaired.
async fn sync_drifts(app: &TestApp, what: &str) -> Option<f64> {
    let text = app.get("/metrics").await.text().await.expect("metrics");
    let prefix = format!("tollgate_sync_drifts{{what=\"{what}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .map(|v| v.trim().parse().expect("a number"))
}

#[tokio::test]
async fn a_drift_made_behind_tollgates_back_is_reported_then_repaired() {
    let app = spawn_app().await;
    let token = app.token("drifter", false);
    let pending = app.pay(&token, "6.00", "usd", None).await;
    let id = pending["data"]["createPaymentIntent"]["payment"]["id"]
        .as_str()
        .expect("pending")
        .to_string();
    let id = uuid::Uuid::parse_str(&id).expect("uuid");
    let pi = tollgate::billing::payments::find(app.db(), id)
        .await
        .expect("payment")
        .stripe_payment_intent_id
        .expect("pi");
    // Canceled in the dashboard; no webhook reaches Tollgate.
    let (status, _) = app
        .emulator
        .post(&format!("/v1/payment_intents/{pi}/cancel"), &[])
        .await;
    assert_eq!(status, 200);

    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    let report = tollgate::billing::sync::check(
        app.db(),
        &app.state.stripe,
        tollgate::billing::sync::What::Payments { since },
        &|_, _| {},
    )
    .await
    .expect("check");
    let drift = report
        .drifts
        .iter()
        .find(|d| d.id == pi && d.field == "status")
        .unwrap_or_else(|| panic!("{report:?}"));
    assert_eq!(
        (drift.local.as_deref(), drift.stripe.as_deref()),
        (Some("pending"), Some("canceled"))
    );
    let still = tollgate::billing::payments::find(app.db(), id)
        .await
        .expect("payment");
    assert_eq!(
        still.status,
        entity::PaymentStatus::Pending,
        "a check writes nothing"
    );

    let (code, out) = sync_cli(&app, &["payments", "--since", "1h", "--check", "--json"]);
    assert_eq!(code, Some(1), "{out}");
    let json: Value = serde_json::from_str(out.trim()).expect("JSON report");
    assert!(json["report"]["drifts"].as_array().is_some_and(|d| d
        .iter()
        .any(|d| d["id"] == pi.as_str() && d["stripe"] == "canceled")));
    let found = sync_drifts(&app, "payments").await.expect("recorded");
    assert!(found >= 1.0, "the check's drift is on /metrics: {found}");

    let (code, out) = sync_cli(&app, &["payments", "--since", "1h"]);
    assert_eq!(code, Some(0), "{out}");
    let repaired = tollgate::billing::payments::find(app.db(), id)
        .await
        .expect("payment");
    assert_eq!(repaired.status, entity::PaymentStatus::Canceled);
    let (code, out) = sync_cli(&app, &["payments", "--since", "1h", "--check"]);
    assert_eq!(code, Some(0), "clean after the repair: {out}");
    assert_eq!(sync_drifts(&app, "payments").await, Some(0.0));
    let (code, out) = sync_cli(&app, &["subscriptions", "--check", "--json"]);
    assert_eq!(code, Some(0), "{out}");
}

#[tokio::test]
async fn catalog_drift_made_at_stripe_is_reported_then_repaired() {
    let app = spawn_app().await;
    let emu = &app.emulator;
    let (product, monthly) = emu.create_price("Drifting plan", "usd", 900, true).await;
    let (s, one_off) = emu
        .post(
            "/v1/prices",
            &[
                ("product", product.as_str()),
                ("currency", "eur"),
                ("unit_amount", "500"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{one_off}");
    let one_off = one_off["id"].as_str().expect("price id").to_string();
    let (code, out) = sync_cli(&app, &["catalog"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = sync_cli(&app, &["catalog", "--check"]);
    assert_eq!(code, Some(0), "a fresh mirror has no drift: {out}");

    // Changed in the dashboard; no webhook reaches Tollgate (none is registered).
    let (s, _) = emu
        .post(
            &format!("/v1/products/{product}"),
            &[("name", "Drifted plan")],
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = emu
        .post(&format!("/v1/prices/{monthly}"), &[("active", "false")])
        .await;
    assert_eq!(s, 200);
    let (_, added) = emu.create_price("Added at Stripe", "usd", 100, false).await;

    let (code, out) = sync_cli(&app, &["catalog", "--check", "--json"]);
    assert_eq!(code, Some(1), "{out}");
    let json: Value = serde_json::from_str(out.trim()).expect("JSON report");
    assert_eq!(json["what"], "catalog");
    let drifts = json["report"]["drifts"].as_array().expect("drifts").clone();
    let has = |object: &str, id: &str, field: &str, local: Value, stripe: Value| {
        drifts.iter().any(|d| {
            d["object"] == object
                && d["id"] == id
                && d["field"] == field
                && d["local"] == local
                && d["stripe"] == stripe
        })
    };
    assert!(
        has(
            "product",
            &product,
            "name",
            "Drifting plan".into(),
            "Drifted plan".into()
        ),
        "{drifts:?}"
    );
    assert!(
        has("price", &monthly, "active", "true".into(), "false".into()),
        "{drifts:?}"
    );
    assert!(
        has("price", &added, "exists", Value::Null, "yes".into()),
        "{drifts:?}"
    );
    assert!(
        !drifts.iter().any(|d| d["id"] == one_off.as_str()),
        "an unchanged price is no drift: {drifts:?}"
    );
    let local = tollgate::billing::catalog::list_products(app.db(), false)
        .await
        .expect("catalog");
    assert!(
        local.iter().any(|p| p.product.name == "Drifting plan")
            && local.iter().all(|p| p.prices.iter().all(|pr| pr.active))
            && local.iter().flat_map(|p| &p.prices).count() == 2,
        "a check writes nothing: {local:?}"
    );

    let (code, out) = sync_cli(&app, &["catalog", "--check"]);
    assert_eq!(code, Some(1), "the plain report exits 1 too: {out}");
    assert!(
        out.contains(&format!(
            "product {product} name: local Drifting plan / Stripe Drifted plan"
        )),
        "{out}"
    );

    let (code, out) = sync_cli(&app, &["catalog"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = sync_cli(&app, &["catalog", "--check", "--json"]);
    assert_eq!(code, Some(0), "clean after the repair: {out}");
    let json: Value = serde_json::from_str(out.trim()).expect("JSON report");
    assert_eq!(json["report"]["drifts"], Value::Array(vec![]));
    assert_eq!(
        json["report"]["unchanged"], 5,
        "2 products and 3 prices: {json}"
    );
}
