//! Compiled operations (`graphql::compiled`) answer exactly what async-graphql's executor
//! answers: the same bytes, the same errors. Two servers share one database: the app (plans on)
//! and a replica with `GRAPHQL_COMPILED_OPERATIONS=false`. Every case is asked of both; the
//! `/metrics` counter shows which cases the app really answered with a plan, so a plan that
//! silently never runs fails here too.

use chrono::{DateTime, Duration, TimeZone, Utc};
use entity::{payments, refunds};
use reqwest::StatusCode;
use sea_orm::ActiveValue::Set;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{
    insert_payments_and_refunds, payment_row, spawn_app, spawn_replica_with, TestApp,
};

const MONEY: &str = "fragment MoneyFields on Money { amount minorUnits currency formatted }";

/// The SPA's own history query (web/src/graphql/operations.ts), fragments and all.
const SPA_PAGE: &str = "query CompiledSpa($first: Int!, $after: String) {
  payments(first: $first, after: $after) {
    edges { cursor node { ...PaymentFields } }
    pageInfo { hasNextPage endCursor }
  }
}
fragment PaymentFields on Payment {
  id userId status description
  amount { ...MoneyFields } amountRefunded { ...MoneyFields }
  cardBrand cardLast4 failureCode failureMessage disputed createdAt updatedAt
  refunds { id status reason amount { ...MoneyFields } createdAt }
}";

fn at(base: DateTime<Utc>, secs: i64, micros: i64) -> DateTime<Utc> {
    base + Duration::seconds(secs) + Duration::microseconds(micros)
}

/// Payments of alice (varied in every field the plans write), two of bob's, none of carol's.
async fn seed(app: &TestApp) {
    let base = Utc
        .with_ymd_and_hms(2026, 3, 4, 5, 6, 7)
        .single()
        .expect("time");
    let texts = [
        Some("Order #1 — \"gift\" \\ tab\t newline\n 💳 </script>".to_string()),
        None,
        Some(String::new()),
        Some("\u{1}\u{1f} control characters".to_string()),
    ];
    let statuses = [
        entity::PaymentStatus::Succeeded,
        entity::PaymentStatus::PartiallyRefunded,
        entity::PaymentStatus::Refunded,
        entity::PaymentStatus::Failed,
        entity::PaymentStatus::Pending,
        entity::PaymentStatus::RequiresAction,
        entity::PaymentStatus::Canceled,
    ];
    let currencies = ["usd", "jpy", "eur", "krw", "bhd"];
    let mut rows = vec![];
    let mut refund_rows = vec![];
    for i in 0..9_i64 {
        let id = Uuid::now_v7();
        // Whole seconds, milliseconds and microseconds: the DateTime scalar prints each
        // differently; two rows share a timestamp so the id breaks the tie.
        let created = at(
            base,
            i.min(7) * 60,
            [0, 123_000, 123_456][(i.min(7) % 3) as usize],
        );
        let n = i as usize;
        rows.push(payments::ActiveModel {
            id: Set(id),
            status: Set(statuses[n % statuses.len()]),
            currency: Set(currencies[n % currencies.len()].into()),
            description: Set(texts[n % texts.len()].clone()),
            card_brand: Set((i % 2 == 0).then(|| "visa".into())),
            card_last4: Set((i % 2 == 0).then(|| format!("42{i:02}"))),
            failure_code: Set((i == 3).then(|| "card_declined".into())),
            failure_message: Set((i == 3).then(|| "Your card was declined.".into())),
            disputed: Set(i == 4),
            created_at: Set(created),
            updated_at: Set(at(created, 30, 7)),
            snapshot_at: Set(created),
            ..payment_row("alice", &format!("pi_compiled_{i}"), 1050 + i * 1001, 0)
        });
        for (j, (reason, status)) in [
            (
                Some("requested_by_customer"),
                entity::RefundStatus::Succeeded,
            ),
            (
                Some("a_reason_this_api_does_not_name"),
                entity::RefundStatus::Pending,
            ),
            (None, entity::RefundStatus::Failed),
        ]
        .into_iter()
        .take((i % 4) as usize)
        .enumerate()
        {
            let when = at(created, 5 + j as i64, 0);
            refund_rows.push(refunds::ActiveModel {
                id: Set(Uuid::now_v7()),
                payment_id: Set(id),
                stripe_refund_id: Set((j != 1).then(|| format!("re_compiled_{i}_{j}"))),
                amount: Set(100 + j as i64),
                currency: Set(currencies[n % currencies.len()].into()),
                reason: Set(reason.map(Into::into)),
                status: Set(status),
                failure_reason: Set((status == entity::RefundStatus::Failed)
                    .then(|| "expired_or_canceled_card".into())),
                requested_by: Set(None),
                snapshot_at: Set(when),
                created_at: Set(when),
                updated_at: Set(when),
            });
        }
    }
    for i in 0..2 {
        rows.push(payment_row("bob", &format!("pi_compiled_bob_{i}"), 777, 0));
    }
    insert_payments_and_refunds(app, rows, refund_rows).await;
}

/// One request's answer: status, content type and body text, exactly.
async fn ask(
    http: &reqwest::Client,
    url: &str,
    query: &str,
    variables: &Value,
    token: Option<&str>,
) -> (StatusCode, String, String) {
    let mut req = http
        .post(url)
        .header("accept", "application/graphql-response+json")
        .json(&json!({"query": query, "variables": variables}));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("reachable");
    let status = res.status();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, res.text().await.expect("body"))
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).expect("a JSON body")
}

async fn compiled_count(app: &TestApp, operation: &str) -> u64 {
    let text = app.get("/metrics").await.text().await.expect("metrics");
    let prefix =
        format!("tollgate_graphql_compiled_operations_total{{operation=\"{operation}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |v| v.trim().parse().expect("a count"))
}

struct Case {
    /// The operation's name: each case has its own, so its metric is its own.
    name: &'static str,
    query: String,
    variables: Value,
    token: Option<String>,
    /// Whether the app is expected to answer it with a plan.
    compiled: bool,
}

#[tokio::test]
async fn compiled_pages_answer_byte_for_byte_what_the_executor_answers() {
    let app = spawn_app().await;
    let executor_only = spawn_replica_with(&app, |vars| {
        vars.insert("GRAPHQL_COMPILED_OPERATIONS".into(), "false".into());
    })
    .await;
    seed(&app).await;
    let alice = app.token("alice", false);
    let admin = app.token("root", true);
    let carol = app.token("carol", false);
    let http = reqwest::Client::new();

    // The second page's cursor, from the executor's first page.
    let (_, _, first_page) = ask(
        &http,
        &executor_only.url("/graphql"),
        &format!(
            "{}\n{MONEY}",
            SPA_PAGE.replace("CompiledSpa", "CursorSource")
        ),
        &json!({"first": 4}),
        Some(&alice),
    )
    .await;
    let first_page: Value = serde_json::from_str(&first_page).expect("json");
    let end_cursor = first_page["data"]["payments"]["pageInfo"]["endCursor"].clone();
    assert!(end_cursor.is_string(), "{first_page}");

    let case = |name: &'static str, query: String, variables: Value, token: &str, compiled| Case {
        name,
        query,
        variables,
        token: Some(token.to_owned()),
        compiled,
    };
    let cases = vec![
        case(
            "CompiledBench",
            "query CompiledBench { payments(first: 50) { edges { node { id amount { minorUnits currency } status cardLast4 createdAt refunds { id amount { minorUnits } } } } } }".into(),
            json!({}),
            &alice,
            true,
        ),
        case("CompiledSpa", format!("{SPA_PAGE}\n{MONEY}"), json!({"first": 4}), &alice, true),
        case(
            "CompiledSpaPageTwo",
            format!("{}\n{MONEY}", SPA_PAGE.replace("CompiledSpa", "CompiledSpaPageTwo")),
            json!({"first": 4, "after": end_cursor}),
            &alice,
            true,
        ),
        case(
            "CompiledAliases",
            "query CompiledAliases { mine: payments(first: 3) { __typename
                edges { __typename c: cursor node { __typename id other: id amount { currency } amount { minorUnits __typename } } }
                pageInfo { hasNextPage startCursor endCursor hasPreviousPage __typename }
                edges { node { status amountRefunded { amount formatted } } } } }".into(),
            json!({}),
            &alice,
            true,
        ),
        case(
            "CompiledFragments",
            "query CompiledFragments { payments { ... on PaymentConnection { edges { ... on PaymentEdge { cursor } ... { node { ...Node } } } } ...Info } }
             fragment Node on Payment { id ... on Payment { disputed userId cardBrand } }
             fragment Info on PaymentConnection { pageInfo { endCursor } }".into(),
            json!({}),
            &alice,
            true,
        ),
        case(
            "CompiledStatusVariable",
            "query CompiledStatusVariable($s: PaymentStatus) { payments(status: $s) { edges { node { id status refunds { __typename id paymentId stripeRefundId amount { amount formatted } reason status failureReason createdAt } } } } }".into(),
            json!({"s": "PARTIALLY_REFUNDED"}),
            &alice,
            true,
        ),
        case(
            "CompiledStatusLiteral",
            "query CompiledStatusLiteral { payments(status: FAILED, first: 10) { edges { node { id description failureCode failureMessage stripePaymentIntentId updatedAt } } } }".into(),
            json!({}),
            &alice,
            true,
        ),
        case(
            "CompiledDefault",
            "query CompiledDefault($n: Int = 2) { payments(first: $n) { pageInfo { hasNextPage } edges { node { id } } } }".into(),
            json!({}),
            &alice,
            true,
        ),
        case(
            "CompiledAdmin",
            "query CompiledAdmin($u: String, $c: String) { adminPayments(userId: $u, currency: $c, first: 5) { edges { node { id userId amount { formatted } } } pageInfo { hasNextPage } } }".into(),
            json!({"u": "alice", "c": "usd"}),
            &admin,
            true,
        ),
        case(
            "CompiledEveryone",
            "query CompiledEveryone { adminPayments(first: 20) { edges { node { userId } } } }".into(),
            json!({}),
            &admin,
            true,
        ),
        case(
            "CompiledEmpty",
            "query CompiledEmpty { payments { edges { cursor } pageInfo { hasNextPage startCursor endCursor } } }".into(),
            json!({}),
            &carol,
            true,
        ),
        // Handed back to the executor: its errors, exactly.
        case(
            "CompiledBadCursor",
            "query CompiledBadCursor($a: String) { payments(after: $a) { edges { cursor } } }".into(),
            json!({"a": "not-a-cursor"}),
            &alice,
            false,
        ),
        case(
            "CompiledZero",
            "query CompiledZero($n: Int) { payments(first: $n) { edges { cursor } } }".into(),
            json!({"n": 0}),
            &alice,
            false,
        ),
        case(
            "CompiledNotAdmin",
            "query CompiledNotAdmin { adminPayments { edges { cursor } } }".into(),
            json!({}),
            &alice,
            false,
        ),
        case(
            "CompiledWrongType",
            "query CompiledWrongType($n: Int) { payments(first: $n) { edges { cursor } } }".into(),
            json!({"n": "fifty"}),
            &alice,
            false,
        ),
        case(
            "CompiledMissingRequired",
            format!(
                "{}\n{MONEY}",
                SPA_PAGE.replace("CompiledSpa", "CompiledMissingRequired")
            ),
            json!({}),
            &alice,
            false,
        ),
        // Not compiled at all: directives, fields only the executor knows.
        case(
            "CompiledDirective",
            "query CompiledDirective($x: Boolean!) { payments { edges { node { id @include(if: $x) status } } } }".into(),
            json!({"x": false}),
            &alice,
            false,
        ),
        case(
            "CompiledTotal",
            "query CompiledTotal { payments { totalCount edges { node { id metadata dispute { status } } } } }".into(),
            json!({}),
            &alice,
            false,
        ),
    ];
    let anonymous = Case {
        name: "CompiledAnonymous",
        query: "query CompiledAnonymous { payments { edges { cursor } } }".into(),
        variables: json!({}),
        token: None,
        compiled: false,
    };

    for case in cases.iter().chain([&anonymous]) {
        let token = case.token.as_deref();
        let expected = ask(
            &http,
            &executor_only.url("/graphql"),
            &case.query,
            &case.variables,
            token,
        )
        .await;
        // The first answer validates the document; the second may run its plan.
        for round in ["first", "second"] {
            let got = ask(
                &http,
                &app.url("/graphql"),
                &case.query,
                &case.variables,
                token,
            )
            .await;
            if case.compiled {
                assert_eq!(got, expected, "{} ({round} time)", case.name);
            } else {
                // The executor itself may order the keys of fields that wait on the database
                // (`totalCount` beside `edges`) as they finish: compared as JSON values.
                assert_eq!(
                    (got.0, &got.1, json_of(&got.2)),
                    (expected.0, &expected.1, json_of(&expected.2)),
                    "{} ({round} time)",
                    case.name
                );
            }
        }
        let runs = compiled_count(&app, case.name).await;
        assert_eq!(
            runs,
            u64::from(case.compiled),
            "{}: answered by a plan {runs} times",
            case.name
        );
    }

    // The cases are not vacuous: data where data was asked for, errors where expected.
    let (_, _, bench) = ask(
        &http,
        &app.url("/graphql"),
        &cases[0].query,
        &json!({}),
        Some(&alice),
    )
    .await;
    let bench: Value = serde_json::from_str(&bench).expect("json");
    let edges = bench["data"]["payments"]["edges"]
        .as_array()
        .expect("edges");
    assert_eq!(edges.len(), 9, "alice's payments only: {bench}");
    assert!(edges
        .iter()
        .any(|e| e["node"]["refunds"].as_array().map(Vec::len) == Some(3)));
    let (status, _, bad) = ask(
        &http,
        &app.url("/graphql"),
        &cases[11].query,
        &cases[11].variables,
        Some(&alice),
    )
    .await;
    assert!(bad.contains("INVALID_INPUT"), "{status} {bad}");
}
