//! Invoices mirrored from Stripe (SQLite and PostgreSQL): every line past Stripe's first page,
//! the hosted page and PDF, links to the payment and the subscription, newest first in pages,
//! another user's unseen, and a paid invoice never walked back by an older snapshot.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use crate::{
    helpers::{error_code, spawn_app, TestApp, WEBHOOK_SECRET},
    selling::{advance, clocked_customer, price_in, subscribe},
};

const INVOICES: &str =
    "query($first: Int, $after: String) { invoices(first: $first, after: $after) {
    edges { cursor node { id number status hostedInvoiceUrl invoicePdf
      total { minorUnits } amountPaid { minorUnits } amountRemaining { minorUnits }
      lines { description amount { minorUnits } proration }
      payment { amount { minorUnits } invoice { number } receiptUrl receiptNumber }
      subscription { quantity } } }
    pageInfo { hasNextPage endCursor } } }";

async fn customer_of(app: &TestApp, user: &str) -> String {
    entity::customers::Entity::find()
        .filter(entity::customers::Column::UserId.eq(user))
        .one(app.db())
        .await
        .expect("db")
        .expect("customer")
        .stripe_customer_id
}

#[tokio::test]
async fn an_invoice_keeps_every_line_and_links_its_payment() {
    let app = spawn_app().await;
    let (price, _) = price_in(&app, "usd", 1000, Some("month")).await;
    let token = app.token("ivy", false);
    app.graphql(
        "mutation { attachPaymentMethod(paymentMethodId: \"pm_card_visa\") { id } }",
        json!({}),
        Some(&token),
    )
    .await;
    let customer = customer_of(&app, "ivy").await;
    // Twelve one-off items waiting: the first invoice has 13 lines, past Stripe's page of 10.
    for i in 0..12 {
        let (s, _) = app
            .emulator
            .post(
                "/v1/invoiceitems",
                &[
                    ("customer", customer.as_str()),
                    ("amount", "100"),
                    ("currency", "usd"),
                    ("description", &format!("Setup step {i}")),
                ],
            )
            .await;
        assert!(s.is_success());
    }
    let body = subscribe(&app, &token, json!({"priceId": price, "quantity": 2})).await;
    assert!(body["errors"].is_null(), "{body}");
    let body = app.graphql(INVOICES, json!({}), Some(&token)).await;
    let invoice = &body["data"]["invoices"]["edges"][0]["node"];
    assert_eq!(invoice["status"], "PAID", "{body}");
    assert_eq!(
        invoice["lines"].as_array().map(Vec::len),
        Some(13),
        "{invoice}"
    );
    assert_eq!(
        invoice["total"]["minorUnits"], "3200",
        "12 × 1.00 + 2 × 10.00"
    );
    assert_eq!(invoice["amountPaid"]["minorUnits"], "3200");
    assert_eq!(invoice["amountRemaining"]["minorUnits"], "0");
    assert!(
        invoice["number"]
            .as_str()
            .is_some_and(|n| n.ends_with("-0001")),
        "{invoice}"
    );
    assert_eq!(invoice["payment"]["amount"]["minorUnits"], "3200");
    assert_eq!(invoice["payment"]["invoice"]["number"], invoice["number"]);
    assert_eq!(invoice["subscription"]["quantity"], 2);
    assert!(
        invoice["payment"]["receiptNumber"]
            .as_str()
            .is_some_and(|n| n.len() == 9),
        "{invoice}"
    );
    for url in [
        &invoice["hostedInvoiceUrl"],
        &invoice["invoicePdf"],
        &invoice["payment"]["receiptUrl"],
    ] {
        let url = url.as_str().expect("url");
        let res = reqwest::get(url).await.expect("the page");
        assert_eq!(res.status(), 200, "{url}");
    }

    let id = invoice["id"].as_str().expect("id");
    let one = "query($id: ID!) { invoice(id: $id) { number } }";
    let theirs = app
        .graphql(one, json!({"id": id}), Some(&app.token("mallory", false)))
        .await;
    assert_eq!(error_code(&theirs), Some("NOT_FOUND"), "{theirs}");
    let admin = app
        .graphql(
            "query($u: String) { adminInvoices(userId: $u) { edges { node { number } } } }",
            json!({"u": "ivy"}),
            Some(&app.token("root", true)),
        )
        .await;
    assert_eq!(
        admin["data"]["adminInvoices"]["edges"][0]["node"]["number"],
        invoice["number"]
    );
    let forbidden = app
        .graphql(
            "{ adminInvoices { edges { cursor } } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(error_code(&forbidden), Some("FORBIDDEN"));
}

#[tokio::test]
async fn renewals_add_invoices_newest_first_in_pages() {
    let app = spawn_app().await;
    app.emulator
        .register_webhook(&app.url("/webhooks/stripe"), WEBHOOK_SECRET, None)
        .await;
    let (price, _) = price_in(&app, "usd", 1000, Some("month")).await;
    let clock = clocked_customer(&app, "rita", 0).await;
    let token = app.token("rita", false);
    let body = subscribe(&app, &token, json!({"priceId": price})).await;
    assert!(body["errors"].is_null(), "{body}");
    advance(&app, &clock, 32).await;
    let invoices = crate::helpers::eventually(
        std::time::Duration::from_secs(10),
        "the renewal's invoice",
        || async {
            let body = app
                .graphql(INVOICES, json!({"first": 10}), Some(&token))
                .await;
            let edges = body["data"]["invoices"]["edges"].clone();
            match edges.as_array().map(Vec::len) {
                Some(2) => Ok(edges),
                _ => Err(body),
            }
        },
    )
    .await;
    let numbers: Vec<&str> = invoices
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["node"]["number"].as_str())
        .collect();
    assert!(
        numbers[0].ends_with("-0002") && numbers[1].ends_with("-0001"),
        "{numbers:?}"
    );
    let first = app
        .graphql(INVOICES, json!({"first": 1}), Some(&token))
        .await;
    let page = &first["data"]["invoices"];
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let next = app
        .graphql(
            INVOICES,
            json!({"first": 1, "after": page["pageInfo"]["endCursor"]}),
            Some(&token),
        )
        .await;
    assert_eq!(
        next["data"]["invoices"]["edges"][0]["node"]["number"],
        invoices[1]["node"]["number"]
    );
    assert_eq!(next["data"]["invoices"]["pageInfo"]["hasNextPage"], false);
    let bad = app
        .graphql(INVOICES, json!({"after": "not-a-cursor"}), Some(&token))
        .await;
    assert_eq!(error_code(&bad), Some("INVALID_INPUT"), "{bad}");
}

#[tokio::test]
async fn a_paid_invoice_is_never_walked_back_by_an_older_snapshot() {
    let app = spawn_app().await;
    let (price, _) = price_in(&app, "usd", 1000, Some("month")).await;
    let token = app.token("otto", false);
    let body = subscribe(&app, &token, json!({"priceId": price})).await;
    assert!(body["errors"].is_null(), "{body}");
    let row = entity::invoices::Entity::find()
        .filter(entity::invoices::Column::UserId.eq("otto"))
        .one(app.db())
        .await
        .expect("db")
        .expect("mirrored");
    assert_eq!(row.status, entity::InvoiceStatus::Paid);
    // The same invoice as an `invoice.finalized` snapshot taken earlier (open, nothing paid),
    // arriving late, and then even with a newer timestamp: still paid.
    let (_, live) = app
        .emulator
        .get(&format!("/v1/invoices/{}", row.stripe_invoice_id))
        .await;
    let mut older: Value = live.clone();
    older["status"] = json!("open");
    older["amount_paid"] = json!(0);
    let older: tollgate::stripe::objects::Invoice = serde_json::from_value(older).expect("reads");
    for at in [
        row.snapshot_at - chrono::Duration::seconds(5),
        chrono::Utc::now(),
    ] {
        tollgate::billing::invoices::apply(app.db(), &app.state.stripe, &older, at)
            .await
            .expect("applies");
        let now = entity::invoices::Entity::find_by_id(row.id)
            .one(app.db())
            .await
            .expect("db")
            .expect("row");
        assert_eq!(now.status, entity::InvoiceStatus::Paid, "at {at}");
        assert_eq!(now.amount_paid, 1000);
    }
}

#[tokio::test]
async fn hostile_ids_and_values_reach_neither_sql_nor_stripe() {
    let app = spawn_app().await;
    let token = app.token("hostile", false);
    let admin = app.token("root", true);
    let before = app.emulator.requests().await;
    for id in [
        "../../v1/customers",
        "'; DROP TABLE invoices;--",
        &"9".repeat(10_000),
    ] {
        let body = app
            .graphql(
                "query($id: ID!) { invoice(id: $id) { id } }",
                json!({"id": id}),
                Some(&token),
            )
            .await;
        assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
        let body = app
            .graphql(
                "mutation($input: CreateCouponInput!) { createCoupon(input: $input) { id } }",
                json!({"input": {"percentOff": "10", "duration": "ONCE", "productIds": [id]}}),
                Some(&admin),
            )
            .await;
        assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
        let body = app
            .graphql(
                "query($c: ID) { promotionCodes(couponId: $c) { id } }",
                json!({"c": id}),
                Some(&admin),
            )
            .await;
        assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    }
    for bad in ["0", "100.001", "-5", "1e2", "NaN", &"1".repeat(1_000_000)] {
        let body = app
            .graphql(
                "mutation($input: CreateCouponInput!) { createCoupon(input: $input) { id } }",
                json!({"input": {"percentOff": bad, "duration": "FOREVER"}}),
                Some(&admin),
            )
            .await;
        let code = error_code(&body);
        assert!(
            matches!(code, Some("INVALID_INPUT") | Some("PAYLOAD_TOO_LARGE")),
            "{}: {body}",
            &bad[..bad.len().min(12)]
        );
    }
    let customer_made = app
        .graphql(
            "mutation($input: CreateCouponInput!) { createCoupon(input: $input) { id } }",
            json!({"input": {"percentOff": "10", "duration": "ONCE"}}),
            Some(&token),
        )
        .await;
    assert_eq!(error_code(&customer_made), Some("FORBIDDEN"));
    let after = app.emulator.requests().await;
    assert_eq!(
        after.len(),
        before.len(),
        "nothing reached Stripe: {:?}",
        &after[before.len()..]
    );
}

#[tokio::test]
async fn a_one_time_purchase_has_its_receipt() {
    let app = spawn_app().await;
    let token = app.token("reader", false);
    let body = app.pay(&token, "7.50", "usd", Some("pm_card_visa")).await;
    let payment = &body["data"]["createPaymentIntent"]["payment"];
    assert_eq!(payment["status"], "SUCCEEDED", "{body}");
    let read = app
        .graphql(
            "query($id: ID!) { payment(id: $id) { receiptUrl receiptNumber invoice { id } subscription { id } } }",
            json!({"id": payment["id"]}),
            Some(&token),
        )
        .await;
    let p = &read["data"]["payment"];
    let url = p["receiptUrl"].as_str().expect("receipt url");
    assert_eq!(reqwest::get(url).await.expect("receipt").status(), 200);
    assert!(p["receiptNumber"].is_string(), "{read}");
    assert_eq!(p["invoice"], Value::Null);
    assert_eq!(p["subscription"], Value::Null);
}

#[tokio::test]
async fn invoice_states_move_only_forward_whatever_the_snapshot_times() {
    let app = spawn_app().await;
    let (price, _) = price_in(&app, "usd", 1000, Some("month")).await;
    let token = app.token("fwd", false);
    let body = subscribe(&app, &token, json!({"priceId": price})).await;
    assert!(body["errors"].is_null(), "{body}");
    let row = entity::invoices::Entity::find()
        .filter(entity::invoices::Column::UserId.eq("fwd"))
        .one(app.db())
        .await
        .expect("db")
        .expect("mirrored");
    let (_, live) = app
        .emulator
        .get(&format!("/v1/invoices/{}", row.stripe_invoice_id))
        .await;
    let snapshot = |status: &str, number: Value| -> tollgate::stripe::objects::Invoice {
        let mut v = live.clone();
        v["status"] = json!(status);
        v["number"] = number;
        serde_json::from_value(v).expect("reads")
    };
    let apply = |inv: tollgate::stripe::objects::Invoice, at: chrono::DateTime<chrono::Utc>| {
        let app = &app;
        async move {
            tollgate::billing::invoices::apply(app.db(), &app.state.stripe, &inv, at)
                .await
                .expect("applies");
            entity::invoices::Entity::find_by_id(row.id)
                .one(app.db())
                .await
                .expect("db")
                .expect("row")
        }
    };
    let later = chrono::Utc::now() + chrono::Duration::seconds(30);
    // A newer `open` answer stands in front of…
    let open = apply(snapshot("open", live["number"].clone()), later).await;
    assert_eq!(
        open.status,
        entity::InvoiceStatus::Paid,
        "paid is never walked back"
    );
    // …and a draft, even newer, never replaces a finalized invoice or drops its number.
    let draft = apply(
        snapshot("draft", Value::Null),
        later + chrono::Duration::seconds(5),
    )
    .await;
    assert_eq!(draft.status, entity::InvoiceStatus::Paid);
    assert_eq!(draft.number, row.number);
}
