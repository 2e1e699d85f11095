//! Load generator for `POST /webhooks/stripe` (a benchmark, not a test): posts signed
//! `customer.subscription.updated` events, one subscription each, at a fixed concurrency; then
//! waits until the worker has applied them all. Prints events/s acknowledged (with p50/p99 of
//! the acknowledgement) and events/s applied.
//!
//! cargo run --release --example webhook_load -- URL WHSEC ADMIN_TOKEN CUSTOMER EVENTS CONCURRENCY

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, secret, admin, customer, events, concurrency] = args.as_slice() else {
        anyhow::bail!("usage: webhook_load URL WHSEC ADMIN_TOKEN CUSTOMER EVENTS CONCURRENCY");
    };
    let (events, concurrency): (usize, usize) = (events.parse()?, concurrency.parse()?);
    seed_customer(customer).await?;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let now = chrono::Utc::now().timestamp();
    let bodies: Vec<String> = (0..events)
        .map(|i| {
            json!({
                "id": format!("evt_load_{run}_{i}"), "object": "event", "type": "customer.subscription.updated",
                "created": now, "api_version": "2026-09-30.endive", "livemode": false,
                "data": {"object": {"id": format!("sub_load_{run}_{i}"), "object": "subscription",
                    "customer": customer, "status": "active", "cancel_at_period_end": false,
                    "items": {"data": [{"id": format!("si_{i}"), "price": {"id": "price_load", "product": "prod_load", "currency": "usd"},
                        "current_period_start": now, "current_period_end": now + 2_592_000}]}}}
            })
            .to_string()
        })
        .collect();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let endpoint = format!("{url}/webhooks/stripe");
    let started = Instant::now();
    let results: Vec<(bool, Duration)> = futures_util::stream::iter(bodies.iter())
        .map(|body| {
            let (client, endpoint) = (client.clone(), endpoint.clone());
            let sig = tollgate::webhooks::signature::sign(
                secret,
                chrono::Utc::now().timestamp(),
                body.as_bytes(),
            );
            async move {
                let t = Instant::now();
                let ok = client
                    .post(&endpoint)
                    .header("stripe-signature", sig)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                (ok, t.elapsed())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let acked_in = started.elapsed();
    let failures = results.iter().filter(|(ok, _)| !ok).count();
    let mut latencies: Vec<Duration> = results.iter().map(|(_, d)| *d).collect();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "acknowledged: {events} events in {:.2}s = {:.0} events/s, p50 {:.2}ms, p99 {:.2}ms, failures {failures}",
        acked_in.as_secs_f64(),
        events as f64 / acked_in.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3
    );
    let pending_query = json!({"query": "{ webhookEvents(status: PENDING) { totalCount } }"});
    loop {
        let body: serde_json::Value = client
            .post(format!("{url}/graphql"))
            .bearer_auth(admin)
            .json(&pending_query)
            .send()
            .await?
            .json()
            .await?;
        let pending = body["data"]["webhookEvents"]["totalCount"]
            .as_u64()
            .unwrap_or(u64::MAX);
        if pending == 0 {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            anyhow::bail!("still {pending} pending after 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let applied_in = started.elapsed();
    println!(
        "applied: {events} events in {:.2}s = {:.0} events/s (from the first post to the last applied)",
        applied_in.as_secs_f64(),
        events as f64 / applied_in.as_secs_f64()
    );
    Ok(())
}

/// The events' customer must be one of Tollgate's, or the worker has nothing to apply.
async fn seed_customer(stripe_id: &str) -> anyhow::Result<()> {
    use sea_orm::{sea_query::OnConflict, ActiveValue::Set, EntityTrait};
    let url = std::env::var("DATABASE_URL")?;
    let db = tollgate::db::connect(&url).await?;
    let now = chrono::Utc::now();
    let row = entity::customers::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        user_id: Set(format!("load-{stripe_id}")),
        stripe_customer_id: Set(stripe_id.to_string()),
        email: Set(None),
        default_payment_method_id: Set(None),
        snapshot_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
    };
    entity::customers::Entity::insert(row)
        .on_conflict(
            OnConflict::column(entity::customers::Column::UserId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&db)
        .await?;
    Ok(())
}
