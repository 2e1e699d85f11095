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

use crate::helpers::{insert_payments_and_refunds, spawn_app_custom};

const PAGE: &str = "query($first: Int) { payments(first: $first) { totalCount edges { node {
    id amount { formatted } refunds { id amount { amount } } customer { stripeCustomerId } } } } }";

/// A succeeded refund row of `payment`, written directly: these tests are about reading.
fn succeeded_refund(
    payment: Uuid,
    stripe_id: String,
    amount: i64,
    at: chrono::DateTime<Utc>,
) -> refunds::ActiveModel {
    refunds::ActiveModel {
        id: Set(Uuid::now_v7()),
        payment_id: Set(payment),
        stripe_refund_id: Set(Some(stripe_id)),
        amount: Set(amount),
        currency: Set("usd".into()),
        reason: Set(None),
        status: Set(entity::RefundStatus::Succeeded),
        failure_reason: Set(None),
        requested_by: Set(None),
        snapshot_at: Set(at),
        created_at: Set(at),
        updated_at: Set(at),
    }
}

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
            refund_rows.push(succeeded_refund(id, format!("re_seed_{i}_{j}"), 100, at));
        }
    }
    insert_payments_and_refunds(&app, payment_rows, refund_rows).await;

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
    // count + the page with its refunds + customers, whatever the page size.
    assert_eq!(
        costs,
        [3, 3],
        "a page must cost a constant number of statements"
    );
}

/// The page reads its refunds joined to its payments in one statement; each payment alone reads
/// them through the loader. Both must give the same refunds in the same order (oldest first,
/// ties by id), nothing of another payment or user, and every payment once across pages.
#[tokio::test]
async fn a_page_reads_the_same_refunds_as_each_payment_alone() {
    let app = crate::helpers::spawn_app().await;
    let token = app.token("carol", false);
    let now = Utc::now();
    let mut payment_rows = vec![];
    let mut refund_rows = vec![];
    let mut made = vec![];
    for (user, count) in [("carol", 7_i64), ("dave", 3)] {
        for i in 0..count {
            let id = Uuid::now_v7();
            let at = now - Duration::seconds(100 - i);
            if user == "carol" {
                made.push(id);
            }
            payment_rows.push(payments::ActiveModel {
                id: Set(id),
                description: Set(Some(format!("{user} {i}"))),
                created_at: Set(at),
                ..crate::helpers::payment_row(user, &format!("pi_join_{user}_{i}"), 1000, 0)
            });
            // 0, 1 or 2 refunds; the second of two is older than the first, and for one
            // payment both have the same time (then the id decides).
            for j in 0..(i % 3) {
                let refund_at = if i == 5 {
                    at
                } else {
                    at + Duration::seconds(10 - j)
                };
                refund_rows.push(succeeded_refund(
                    id,
                    format!("re_join_{user}_{i}_{j}"),
                    100 + j,
                    refund_at,
                ));
            }
        }
    }
    insert_payments_and_refunds(&app, payment_rows, refund_rows).await;

    const REFUNDS: &str = "refunds { id status amount { minorUnits currency } createdAt }";
    // A summary selection and one that needs whole rows take different reads.
    for extra in ["", "description"] {
        let page_query = format!(
            "query($after: String) {{ payments(first: 3, after: $after) {{ pageInfo {{ hasNextPage endCursor }} edges {{ node {{ id {extra} {REFUNDS} }} }} }} }}"
        );
        let mut seen = vec![];
        let mut refunds_seen = 0;
        let mut after = serde_json::Value::Null;
        loop {
            let body = app
                .graphql(&page_query, json!({"after": after}), Some(&token))
                .await;
            let conn = &body["data"]["payments"];
            for edge in conn["edges"].as_array().expect("edges") {
                let node = &edge["node"];
                let alone = app
                    .graphql(
                        &format!("query($id: ID!) {{ payment(id: $id) {{ {REFUNDS} }} }}"),
                        json!({"id": node["id"]}),
                        Some(&token),
                    )
                    .await;
                assert_eq!(
                    node["refunds"], alone["data"]["payment"]["refunds"],
                    "page vs alone ({extra:?}): {body} / {alone}"
                );
                refunds_seen += node["refunds"].as_array().map_or(0, Vec::len);
                seen.push(node["id"].as_str().expect("id").to_owned());
            }
            if conn["pageInfo"]["hasNextPage"] != json!(true) {
                break;
            }
            after = conn["pageInfo"]["endCursor"].clone();
        }
        let newest_first: Vec<String> = made.iter().rev().map(Uuid::to_string).collect();
        assert_eq!(
            seen, newest_first,
            "every payment of carol's once ({extra:?})"
        );
        assert_eq!(
            refunds_seen, 6,
            "carol's refunds, and only hers ({extra:?})"
        );
    }
}

/// `billing::payments::list` reads its rows by position (`billing::payments::history::rows`): every field must
/// come back as the ordinary entity read gives it, with refunds joined or not, for whole rows
/// and for summaries.
#[tokio::test]
async fn a_page_reads_every_field_as_the_entity_does() {
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
    use tollgate::billing::payments::{list, Columns, PaymentFilter, PaymentRow, PaymentSummary};

    let app = crate::helpers::spawn_app().await;
    let now = Utc::now();
    let mut payment_rows = vec![];
    let mut refund_rows = vec![];
    for i in 0..6_i64 {
        let id = Uuid::now_v7();
        let at = now - Duration::seconds(100 - i);
        payment_rows.push(payments::ActiveModel {
            id: Set(id),
            description: Set((i % 2 == 0).then(|| format!("order {i} \"x\""))),
            card_brand: Set((i % 3 == 0).then(|| "visa".into())),
            card_last4: Set((i % 3 == 0).then(|| "4242".into())),
            failure_code: Set((i == 1).then(|| "card_declined".into())),
            failure_message: Set((i == 1).then(|| "declined".into())),
            metadata: Set(json!({"order": i, "tags": ["a", "b"]})),
            stripe_idempotency_key: Set((i == 2).then(|| format!("key-{i}"))),
            disputed: Set(i == 3),
            dispute_status: Set((i == 3).then_some(entity::DisputeStatus::NeedsResponse)),
            dispute_amount: Set(if i == 3 { 500 } else { 0 }),
            refund_reserved: Set(i * 7),
            status: Set(if i == 4 {
                entity::PaymentStatus::PartiallyRefunded
            } else {
                entity::PaymentStatus::Succeeded
            }),
            snapshot_at: Set(at - Duration::seconds(1)),
            created_at: Set(at),
            updated_at: Set(at + Duration::seconds(3)),
            ..crate::helpers::payment_row("erin", &format!("pi_fields_{i}"), 1000 + i, 10 * i)
        });
        for j in 0..(i % 3) {
            let mut refund = succeeded_refund(id, format!("re_fields_{i}_{j}"), 10 + j, at);
            if j == 1 {
                refund.stripe_refund_id = Set(None);
                refund.reason = Set(Some("duplicate".into()));
                refund.status = Set(entity::RefundStatus::Failed);
                refund.failure_reason = Set(Some("lost_or_stolen_card".into()));
                refund.requested_by = Set(Some("erin".into()));
                refund.created_at = Set(at + Duration::seconds(1));
            }
            refund_rows.push(refund);
        }
    }
    insert_payments_and_refunds(&app, payment_rows, refund_rows).await;

    let expected = payments::Entity::find()
        .filter(payments::Column::UserId.eq("erin"))
        .order_by_desc(payments::Column::CreatedAt)
        .all(app.db())
        .await
        .expect("payments");
    let filter = PaymentFilter {
        user_id: Some("erin".into()),
        status: None,
        currency: None,
    };
    for columns in [Columns::All, Columns::Summary] {
        for with_refunds in [false, true] {
            let page = list(app.db(), &filter, 5, None, columns, with_refunds)
                .await
                .expect("page");
            assert!(page.has_next, "6 payments, pages of 5");
            assert_eq!(page.rows.len(), 5);
            for (i, (got, want)) in page.rows.iter().zip(&expected).enumerate() {
                let want = match columns {
                    Columns::All => PaymentRow::Whole(Box::new(want.clone())),
                    // A summary holds only what it reads.
                    Columns::Summary => PaymentRow::Summary(PaymentSummary::from(want)),
                };
                assert_eq!(got, &want, "{columns:?}, refunds {with_refunds}");
                let refunds_alone = refunds::Entity::find()
                    .filter(refunds::Column::PaymentId.eq(want.id()))
                    .order_by_asc(refunds::Column::CreatedAt)
                    .order_by_asc(refunds::Column::Id)
                    .all(app.db())
                    .await
                    .expect("refunds");
                match &page.refunds {
                    Some(refunds) => assert_eq!(refunds[i], refunds_alone, "{columns:?}"),
                    None => assert!(!with_refunds),
                }
            }
        }
    }
}
