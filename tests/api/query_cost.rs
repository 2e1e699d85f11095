//! A page of payments costs a constant number of SQL statements, whatever its size.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use chrono::{Duration, Utc};
use entity::{payments, refunds};
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::spawn_app_custom;

const PAGE: &str = "query($first: Int) { payments(first: $first) { totalCount edges { node {
    id amount { formatted } refunds { id amount { amount } } customer { stripeCustomerId } } } } }";

#[tokio::test]
async fn a_page_of_fifty_costs_a_constant_number_of_statements() {
    let statements = Arc::new(AtomicUsize::new(0));
    let counter = statements.clone();
    let app = spawn_app_custom(
        // No webhook worker: its idle polls would be counted with the request's statements.
        |vars| {
            vars.insert("WEBHOOK_WORKERS".into(), "0".into());
        },
        move |db| {
            db.set_metric_callback(move |_| {
                counter.fetch_add(1, Ordering::SeqCst);
            })
        },
    )
    .await;
    let token = app.token("alice", false);
    app.pay_ok(&token, "1.00", "usd").await; // creates the customer row
    let customer = tollgate::billing::customers::find_for_user(app.db(), "alice")
        .await
        .expect("query")
        .expect("customer");

    // 60 more payments with two refunds each, written directly: this test is about reading.
    let now = Utc::now();
    let mut payment_rows = vec![];
    let mut refund_rows = vec![];
    for i in 0..60 {
        let id = Uuid::now_v7();
        let at = now - Duration::seconds(i + 10);
        payment_rows.push(payments::ActiveModel {
            id: Set(id),
            customer_id: Set(Some(customer.id)),
            status: Set(entity::PaymentStatus::PartiallyRefunded),
            card_brand: Set(Some("visa".into())),
            card_last4: Set(Some("4242".into())),
            snapshot_at: Set(at),
            created_at: Set(at),
            updated_at: Set(at),
            ..crate::helpers::payment_row("alice", &format!("pi_seed_{i}"), 1000, 200)
        });
        for j in 0..2 {
            refund_rows.push(refunds::ActiveModel {
                id: Set(Uuid::now_v7()),
                payment_id: Set(id),
                stripe_refund_id: Set(Some(format!("re_seed_{i}_{j}"))),
                amount: Set(100),
                currency: Set("usd".into()),
                reason: Set(None),
                status: Set(entity::RefundStatus::Succeeded),
                failure_reason: Set(None),
                requested_by: Set(None),
                snapshot_at: Set(at),
                created_at: Set(at),
                updated_at: Set(at),
            });
        }
    }
    payments::Entity::insert_many(payment_rows)
        .exec(app.db())
        .await
        .expect("insert payments");
    refunds::Entity::insert_many(refund_rows)
        .exec(app.db())
        .await
        .expect("insert refunds");

    let mut costs = vec![];
    for first in [5, 50] {
        statements.store(0, Ordering::SeqCst);
        let body = app
            .graphql(PAGE, json!({"first": first}), Some(&token))
            .await;
        let edges = body["data"]["payments"]["edges"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(edges.len(), first, "{body}");
        assert!(edges
            .iter()
            .skip(1)
            .all(|e| e["node"]["refunds"].as_array().map(Vec::len) == Some(2)));
        costs.push(statements.load(Ordering::SeqCst));
    }
    println!(
        "statements per page: first=5 → {}, first=50 → {}",
        costs[0], costs[1]
    );
    // count + page + refunds + customers, whatever the page size.
    assert_eq!(
        costs,
        [4, 4],
        "a page must cost a constant number of statements"
    );
}
