//! Today's Stripe (API 2026-07-29): Stripe's own example objects (`tests/fixtures/stripe/`)
//! wrapped in signed event envelopes as Stripe sends them, with the ids that link them filled
//! in as a real account would. The emulator speaks an API of 2017–2019; these prove the readers
//! and handlers on the current shapes.

use std::time::Duration;

use chrono::Utc;
use entity::{payments, webhook_events};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use crate::{
    helpers::{eventually, spawn_app, TestApp, WEBHOOK_SECRET},
    subscriptions::monthly_price,
};

/// One of Stripe's example objects, by resource name.
fn fixture(resource: &str) -> Value {
    static ALL: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        let path = crate::helpers::repo_root().join("tests/fixtures/stripe/fixtures3.json");
        let text = std::fs::read_to_string(path).expect("fixtures3.json");
        serde_json::from_str(&text).expect("fixtures are JSON")
    })["resources"][resource]
        .clone()
}

/// `object` with `changes` laid over it.
fn with(mut object: Value, changes: Value) -> Value {
    if let (Some(o), Some(c)) = (object.as_object_mut(), changes.as_object()) {
        for (k, v) in c {
            o.insert(k.clone(), v.clone());
        }
    }
    object
}

/// An event envelope the way Stripe sends it: the fixture `event` with this type and object.
fn envelope(id: &str, kind: &str, object: Value) -> String {
    with(
        fixture("event"),
        json!({
            "id": id, "type": kind, "created": Utc::now().timestamp(),
            "api_version": "2026-07-29.dahlia", "livemode": false,
            "data": {"object": object, "previous_attributes": null}
        }),
    )
    .to_string()
}

async fn deliver(app: &TestApp, body: &str) {
    let sig = tollgate::webhooks::signature::sign(
        WEBHOOK_SECRET,
        Utc::now().timestamp(),
        body.as_bytes(),
    );
    assert_eq!(
        app.post_webhook(body, Some(&sig)).await.status(),
        200,
        "{body}"
    );
}

async fn event_row(app: &TestApp, id: &str) -> Option<webhook_events::Model> {
    webhook_events::Entity::find()
        .filter(webhook_events::Column::StripeEventId.eq(id))
        .one(app.db())
        .await
        .expect("query")
}

async fn all_applied(app: &TestApp, ids: &[String]) {
    eventually(Duration::from_secs(15), "every event applied", || async {
        let mut pending = vec![];
        for id in ids {
            match event_row(app, id).await {
                Some(r) if r.status == entity::WebhookEventStatus::Processed => {}
                other => pending.push((id.clone(), other.map(|r| (r.status, r.last_error)))),
            }
        }
        if pending.is_empty() {
            Ok(())
        } else {
            Err(pending)
        }
    })
    .await;
}

/// A subscribed customer and a renewal PaymentIntent the emulator charged with the saved card.
struct Renewal {
    subscription: entity::subscriptions::Model,
    customer: String,
    invoice: String,
    card: String,
}

async fn subscribed(app: &TestApp, user: &str) -> Renewal {
    let token = app.token(user, false);
    let price = monthly_price(app, 1500).await;
    let card = app
        .graphql(
            "mutation { attachPaymentMethod(paymentMethodId: \"pm_card_visa\") { stripePaymentMethodId } }",
            json!({}),
            Some(&token),
        )
        .await["data"]["attachPaymentMethod"]["stripePaymentMethodId"]
        .as_str()
        .expect("card")
        .to_string();
    let body = app
        .graphql(
            "mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { subscription { id } } }",
            json!({"input": {"priceId": price, "paymentMethodId": card}}),
            Some(&token),
        )
        .await;
    let id = body["data"]["createSubscription"]["subscription"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"));
    let subscription =
        tollgate::billing::subscriptions::find(app.db(), uuid::Uuid::parse_str(id).expect("uuid"))
            .await
            .expect("row");
    let customer = tollgate::billing::customers::find_for_user(app.db(), user)
        .await
        .expect("query")
        .expect("customer")
        .stripe_customer_id;
    let invoice = subscription
        .latest_invoice_id
        .clone()
        .expect("an invoice at the emulator");
    Renewal {
        subscription,
        customer,
        invoice,
        card,
    }
}

async fn charge_renewal(app: &TestApp, r: &Renewal) -> String {
    let (status, pi) = app
        .emulator
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "1500"),
                ("currency", "usd"),
                ("customer", &r.customer),
                ("payment_method", &r.card),
                ("confirm", "true"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{pi}");
    pi["id"].as_str().expect("pi").to_string()
}

/// The four events a renewal arrives by, in today's shapes.
fn renewal_events(r: &Renewal, pi: &str, tag: &str) -> Vec<(String, String)> {
    let sub = &r.subscription.stripe_subscription_id;
    let invoice_payment = with(
        fixture("invoice_payment"),
        json!({"id": format!("inpay_{tag}"), "invoice": r.invoice, "currency": "usd", "amount_paid": 1500,
               "status": "paid", "payment": {"type": "payment_intent", "payment_intent": pi}}),
    );
    let mut invoice = with(
        fixture("invoice"),
        json!({"id": r.invoice, "customer": r.customer, "status": "paid", "amount_paid": 1500,
               "billing_reason": "subscription_cycle",
               "parent": {"type": "subscription_details", "quote_details": null,
                          "subscription_details": {"subscription": sub, "metadata": {}}},
               "payments": {"object": "list", "has_more": false, "data": [invoice_payment.clone()]}}),
    );
    if let Some(o) = invoice.as_object_mut() {
        o.remove("subscription"); // gone since 2025-03-31
    }
    let intent = with(
        fixture("payment_intent"),
        json!({"id": pi, "status": "succeeded", "amount": 1500, "amount_received": 1500,
               "customer": r.customer, "payment_method": r.card, "latest_charge": format!("ch_{tag}"),
               "description": "Subscription update", "metadata": {}}),
    );
    let charge = with(
        fixture("charge"),
        json!({"id": format!("ch_{tag}"), "payment_intent": pi, "customer": r.customer, "amount": 1500,
               "captured": true, "paid": true, "status": "succeeded", "payment_method": r.card}),
    );
    vec![
        (
            format!("evt_inv_{tag}"),
            envelope(&format!("evt_inv_{tag}"), "invoice.paid", invoice),
        ),
        (
            format!("evt_inpay_{tag}"),
            envelope(
                &format!("evt_inpay_{tag}"),
                "invoice_payment.paid",
                invoice_payment,
            ),
        ),
        (
            format!("evt_pi_{tag}"),
            envelope(&format!("evt_pi_{tag}"), "payment_intent.succeeded", intent),
        ),
        (
            format!("evt_ch_{tag}"),
            envelope(&format!("evt_ch_{tag}"), "charge.succeeded", charge),
        ),
    ]
}

#[tokio::test]
async fn a_renewal_arriving_by_any_event_in_any_order_is_one_linked_payment_with_its_card() {
    let app = spawn_app().await;
    let r = subscribed(&app, "renewer").await;
    let orders: [[usize; 4]; 5] = [
        [0, 1, 2, 3],
        [3, 2, 1, 0],
        [2, 0, 3, 1],
        [1, 3, 0, 2],
        [2, 3, 1, 0],
    ];
    for (n, order) in orders.iter().enumerate() {
        let pi = charge_renewal(&app, &r).await;
        let events = renewal_events(&r, &pi, &format!("{n}"));
        for &i in order {
            deliver(&app, &events[i].1).await;
        }
        let ids: Vec<String> = events.iter().map(|(id, _)| id.clone()).collect();
        all_applied(&app, &ids).await;
        let rows = payments::Entity::find()
            .filter(payments::Column::StripePaymentIntentId.eq(pi.as_str()))
            .all(app.db())
            .await
            .expect("payments");
        assert_eq!(rows.len(), 1, "order {order:?}: exactly one payment");
        let p = &rows[0];
        assert_eq!(
            p.subscription_id,
            Some(r.subscription.id),
            "order {order:?}: linked"
        );
        assert_eq!(p.stripe_invoice_id.as_deref(), Some(r.invoice.as_str()));
        assert_eq!(
            p.price_id, r.subscription.price_id,
            "order {order:?}: price"
        );
        assert_eq!(
            p.card_last4.as_deref(),
            Some("4242"),
            "order {order:?}: card"
        );
        assert_eq!(p.status, entity::PaymentStatus::Succeeded);
        assert_eq!(p.user_id, "renewer");
    }
}

#[tokio::test]
async fn customer_updated_moves_the_default_card_and_refund_updates_are_read_as_refunds() {
    let app = spawn_app().await;
    let r = subscribed(&app, "dashboard-user").await;
    let customer = with(
        fixture("customer"),
        json!({"id": r.customer, "invoice_settings": {"default_payment_method": "pm_chosen_in_dashboard",
               "custom_fields": null, "footer": null, "rendering_options": null}}),
    );
    deliver(
        &app,
        &envelope("evt_cus_updated", "customer.updated", customer),
    )
    .await;
    all_applied(&app, &["evt_cus_updated".to_string()]).await;
    let row = tollgate::billing::customers::find_for_user(app.db(), "dashboard-user")
        .await
        .expect("query")
        .expect("customer");
    assert_eq!(
        row.default_payment_method_id.as_deref(),
        Some("pm_chosen_in_dashboard")
    );

    // `charge.refund.updated` carries a Refund: a refund of the first payment, failed later.
    let token = app.token("root", true);
    let first = payments::Entity::find()
        .filter(payments::Column::UserId.eq("dashboard-user"))
        .one(app.db())
        .await
        .expect("query")
        .expect("first charge");
    let refunded = app
        .graphql(
            "mutation($input: RefundPaymentInput!) { refundPayment(input: $input) { stripeRefundId } }",
            json!({"input": {"paymentId": first.id, "amount": "5.00"}}),
            Some(&token),
        )
        .await;
    let re = refunded["data"]["refundPayment"]["stripeRefundId"]
        .as_str()
        .unwrap_or_else(|| panic!("{refunded}"))
        .to_string();
    let refund = with(
        fixture("refund"),
        json!({"id": re, "amount": 500, "currency": "usd", "status": "failed",
               "failure_reason": "expired_or_canceled_card",
               "payment_intent": first.stripe_payment_intent_id, "charge": "ch_x"}),
    );
    let mut body: Value =
        serde_json::from_str(&envelope("evt_refund_upd", "charge.refund.updated", refund))
            .expect("json");
    body["created"] = json!(Utc::now().timestamp() + 5);
    deliver(&app, &body.to_string()).await;
    all_applied(&app, &["evt_refund_upd".to_string()]).await;
    let rows = entity::refunds::Entity::find()
        .all(app.db())
        .await
        .expect("refunds");
    assert_eq!(rows[0].status, entity::RefundStatus::Failed);
    assert_eq!(
        rows[0].failure_reason.as_deref(),
        Some("expired_or_canceled_card")
    );
    let payment = tollgate::billing::payments::find(app.db(), first.id)
        .await
        .expect("payment");
    assert_eq!(
        (payment.amount_refunded, payment.status),
        (0, entity::PaymentStatus::Succeeded)
    );
}

#[tokio::test]
async fn a_handled_event_whose_shape_cannot_be_read_fails_visibly() {
    let app = spawn_app().await;
    let broken = with(
        fixture("payment_intent"),
        json!({"amount": "a lot", "status": 7}),
    );
    deliver(
        &app,
        &envelope("evt_unreadable", "payment_intent.succeeded", broken),
    )
    .await;
    let row = eventually(Duration::from_secs(10), "parked as failed", || async {
        match event_row(&app, "evt_unreadable").await {
            Some(r) if r.status == entity::WebhookEventStatus::Failed => Ok(r),
            other => Err(other),
        }
    })
    .await;
    assert_eq!(row.attempts, 1, "not retried: it cannot get better");
    assert!(row
        .last_error
        .unwrap_or_default()
        .contains("payload unreadable"));
    let admin = app.token("root", true);
    let listed = app
        .graphql(
            "{ webhookEvents(status: FAILED) { edges { node { stripeEventId lastError } } } }",
            json!({}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        listed["data"]["webhookEvents"]["edges"][0]["node"]["stripeEventId"], "evt_unreadable",
        "{listed}"
    );
}

#[tokio::test]
async fn an_object_stripe_does_not_have_parks_the_event_at_once_naming_it() {
    let app = spawn_app().await;
    // A charge of ours whose PaymentIntent Stripe answers 404 for: retrying cannot make it.
    let charge = with(
        fixture("charge"),
        json!({"id": "ch_orphan", "payment_intent": "pi_nowhere1234"}),
    );
    deliver(&app, &envelope("evt_orphan", "charge.succeeded", charge)).await;
    let row = eventually(Duration::from_secs(10), "parked as failed", || async {
        match event_row(&app, "evt_orphan").await {
            Some(r) if r.status == entity::WebhookEventStatus::Failed => Ok(r),
            other => Err(other),
        }
    })
    .await;
    assert_eq!(row.attempts, 1, "parked at once, not retried");
    let reason = row.last_error.unwrap_or_default();
    assert!(
        reason.starts_with("Stripe has no payment_intent pi_nowhere1234"),
        "{reason}"
    );
    // Stripe's own code and words are there for the operator, without Debug forms.
    assert!(reason.contains("code resource_missing"), "{reason}");
    assert!(
        !reason.contains("Some(") && !reason.contains("None"),
        "{reason}"
    );
    // A client asking for something Stripe lacks still gets the fixed sentence.
    let token = app.token("orphan-client", false);
    let body = app
        .graphql(
            "mutation { attachPaymentMethod(paymentMethodId: \"pm_nowhere1234\") { id } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(1), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        !message.contains("pm_nowhere1234") && !message.contains("No such"),
        "{message}"
    );
}

#[tokio::test]
async fn dispute_outcomes_are_recorded_and_lost_ones_come_off_revenue() {
    let app = spawn_app().await;
    let buyer = app.token("buyer", false);
    let admin = app.token("root", true);
    let lost = app.pay_ok(&buyer, "30.00", "usd").await;
    let won = app.pay_ok(&buyer, "20.00", "usd").await;
    let pi_of = |id: &str| {
        let id = uuid::Uuid::parse_str(id).expect("uuid");
        let db = app.db().clone();
        async move {
            tollgate::billing::payments::find(&db, id)
                .await
                .expect("payment")
                .stripe_payment_intent_id
                .expect("pi")
        }
    };
    let (lost_pi, won_pi) = (pi_of(&lost).await, pi_of(&won).await);
    let dispute = |id: &str, pi: &str, amount: i64, status: &str| {
        with(
            fixture("dispute"),
            json!({"id": id, "payment_intent": pi, "amount": amount, "currency": "usd", "status": status}),
        )
    };
    // The lost one in order; the won one closed before its `created` arrives (out of order).
    let events = [
        (
            "evt_dp_1",
            "charge.dispute.created",
            dispute("dp_lost", &lost_pi, 3000, "needs_response"),
        ),
        (
            "evt_dp_2",
            "charge.dispute.funds_withdrawn",
            dispute("dp_lost", &lost_pi, 3000, "needs_response"),
        ),
        (
            "evt_dp_3",
            "charge.dispute.closed",
            dispute("dp_lost", &lost_pi, 3000, "lost"),
        ),
        (
            "evt_dp_4",
            "charge.dispute.closed",
            dispute("dp_won", &won_pi, 2000, "won"),
        ),
        (
            "evt_dp_5",
            "charge.dispute.created",
            dispute("dp_won", &won_pi, 2000, "needs_response"),
        ),
    ];
    for (id, kind, object) in &events {
        deliver(&app, &envelope(id, kind, object.clone())).await;
        all_applied(&app, &[id.to_string()]).await;
    }
    let q = "query($a: ID!, $b: ID!) { a: payment(id: $a) { disputed dispute { status amount { minorUnits } } }
             b: payment(id: $b) { dispute { status } } revenue { currency gross { minorUnits } disputesLost { minorUnits } net { minorUnits } } }";
    let body = app
        .graphql(q, json!({"a": lost, "b": won}), Some(&admin))
        .await;
    assert_eq!(body["data"]["a"]["disputed"], true, "{body}");
    assert_eq!(body["data"]["a"]["dispute"]["status"], "LOST");
    assert_eq!(body["data"]["a"]["dispute"]["amount"]["minorUnits"], "3000");
    assert_eq!(
        body["data"]["b"]["dispute"]["status"], "WON",
        "an outcome is never walked back"
    );
    let usd = &body["data"]["revenue"][0];
    assert_eq!(usd["gross"]["minorUnits"], "5000");
    assert_eq!(usd["disputesLost"]["minorUnits"], "3000");
    assert_eq!(usd["net"]["minorUnits"], "2000");
}

/// Delivers one fixture-shaped event taken `later` seconds from now and waits until applied.
async fn apply(app: &TestApp, id: &str, kind: &str, object: Value, later: i64) {
    let mut body: Value = serde_json::from_str(&envelope(id, kind, object)).expect("json");
    body["created"] = json!(Utc::now().timestamp() + later);
    deliver(app, &body.to_string()).await;
    all_applied(app, &[id.to_string()]).await;
}

async fn payment_of(app: &TestApp, id: &str) -> entity::payments::Model {
    tollgate::billing::payments::find(app.db(), uuid::Uuid::parse_str(id).expect("uuid"))
        .await
        .expect("payment")
}

#[tokio::test]
async fn every_handled_event_type_applies_in_todays_shape() {
    use entity::{payment_methods, prices, products, side_effects};
    let app = spawn_app().await;
    let r = subscribed(&app, "owner").await;
    let token = app.token("owner", false);
    let find_product = || async {
        products::Entity::find()
            .filter(products::Column::StripeProductId.eq("prod_today"))
            .one(app.db())
            .await
            .expect("query")
    };

    // Catalog: product.created / updated, price.created / deleted, product.deleted.
    let product = with(
        fixture("product"),
        json!({"id": "prod_today", "name": "Today", "active": true}),
    );
    apply(&app, "evt_t1", "product.created", product.clone(), 1).await;
    assert_eq!(
        find_product().await.map(|p| p.name).as_deref(),
        Some("Today")
    );
    apply(
        &app,
        "evt_t2",
        "product.updated",
        with(product.clone(), json!({"name": "Renamed"})),
        2,
    )
    .await;
    assert_eq!(
        find_product().await.map(|p| p.name).as_deref(),
        Some("Renamed")
    );
    let price = with(
        fixture("price"),
        json!({"id": "price_today", "product": "prod_today", "currency": "usd", "unit_amount": 999,
               "type": "recurring", "active": true,
               "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed", "meter": null, "trial_period_days": null}}),
    );
    apply(&app, "evt_t3", "price.created", price.clone(), 3).await;
    let row = prices::Entity::find()
        .filter(prices::Column::StripePriceId.eq("price_today"))
        .one(app.db())
        .await
        .expect("query")
        .expect("price mirrored");
    assert_eq!(
        (row.unit_amount, row.recurring_interval),
        (Some(999), Some(entity::PriceInterval::Month))
    );
    apply(
        &app,
        "evt_t4",
        "price.deleted",
        with(price, json!({"deleted": true})),
        4,
    )
    .await;
    apply(
        &app,
        "evt_t5",
        "product.deleted",
        with(product, json!({"deleted": true})),
        5,
    )
    .await;
    assert_eq!(find_product().await.map(|p| p.active), Some(false));

    // Cards saved and removed in the dashboard.
    let pm = with(
        fixture("payment_method"),
        json!({"id": "pm_today", "customer": r.customer, "type": "card",
               "card": {"brand": "mastercard", "last4": "4444", "exp_month": 4, "exp_year": 2031}}),
    );
    apply(&app, "evt_t6", "payment_method.attached", pm.clone(), 1).await;
    let saved = payment_methods::Entity::find()
        .filter(payment_methods::Column::StripePaymentMethodId.eq("pm_today"))
        .one(app.db())
        .await
        .expect("query");
    assert_eq!(saved.and_then(|s| s.last4).as_deref(), Some("4444"));
    apply(
        &app,
        "evt_t7",
        "payment_method.detached",
        with(pm, json!({"customer": null})),
        2,
    )
    .await;
    let gone = payment_methods::Entity::find()
        .filter(payment_methods::Column::StripePaymentMethodId.eq("pm_today"))
        .one(app.db())
        .await
        .expect("query");
    assert!(gone.is_none());

    // Payments: failed, canceled, refunded outside Tollgate, disputed.
    let pending = |amount: &'static str| {
        let (app, token) = (&app, token.clone());
        async move {
            let body = app.pay(&token, amount, "usd", None).await;
            body["data"]["createPaymentIntent"]["payment"]["id"]
                .as_str()
                .expect("pending")
                .to_string()
        }
    };
    let failing = pending("4.00").await;
    let failing_pi = payment_of(&app, &failing)
        .await
        .stripe_payment_intent_id
        .expect("pi");
    let failed = with(
        fixture("payment_intent"),
        json!({"id": failing_pi, "amount": 400, "status": "requires_payment_method", "customer": r.customer,
               "last_payment_error": {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
                                      "message": "Your card has insufficient funds."}}),
    );
    apply(&app, "evt_t8", "payment_intent.payment_failed", failed, 5).await;
    let row = payment_of(&app, &failing).await;
    assert_eq!(row.status, entity::PaymentStatus::Failed);
    assert_eq!(row.failure_code.as_deref(), Some("insufficient_funds"));
    let canceling = pending("5.00").await;
    let canceling_pi = payment_of(&app, &canceling)
        .await
        .stripe_payment_intent_id
        .expect("pi");
    let canceled = with(
        fixture("payment_intent"),
        json!({"id": canceling_pi, "amount": 500, "status": "canceled", "customer": r.customer, "last_payment_error": null}),
    );
    apply(&app, "evt_t9", "payment_intent.canceled", canceled, 5).await;
    assert_eq!(
        payment_of(&app, &canceling).await.status,
        entity::PaymentStatus::Canceled
    );

    let paid = app.pay_ok(&token, "10.00", "usd").await;
    let paid_pi = payment_of(&app, &paid)
        .await
        .stripe_payment_intent_id
        .expect("pi");
    let charge = with(
        fixture("charge"),
        json!({"id": "ch_today", "payment_intent": paid_pi, "amount": 1000, "refunded": false}),
    );
    apply(&app, "evt_t10", "charge.refunded", charge, 1).await;
    let outside = with(
        fixture("refund"),
        json!({"id": "re_today", "amount": 250, "currency": "usd", "status": "succeeded", "payment_intent": paid_pi, "charge": "ch_today"}),
    );
    apply(&app, "evt_t11", "refund.created", outside, 2).await;
    let row = payment_of(&app, &paid).await;
    assert_eq!(
        (row.amount_refunded, row.status),
        (250, entity::PaymentStatus::PartiallyRefunded)
    );
    let dispute = with(
        fixture("dispute"),
        json!({"id": "dp_today", "payment_intent": paid_pi, "amount": 750, "currency": "usd", "status": "under_review"}),
    );
    apply(
        &app,
        "evt_t12",
        "charge.dispute.updated",
        dispute.clone(),
        3,
    )
    .await;
    apply(
        &app,
        "evt_t13",
        "charge.dispute.funds_reinstated",
        with(dispute, json!({"status": "won"})),
        4,
    )
    .await;
    assert_eq!(
        payment_of(&app, &paid).await.dispute_status,
        Some(entity::DisputeStatus::Won)
    );

    // Subscriptions: updated (past due, period on the item), trial ending, deleted.
    let sub_id = r.subscription.stripe_subscription_id.clone();
    let period_end = Utc::now().timestamp() + 20 * 86_400;
    let item = json!({"object": "list", "data": [with(fixture("subscription_item"), json!({
        "id": "si_today", "subscription": sub_id, "current_period_start": period_end - 30 * 86_400,
        "current_period_end": period_end, "price": with(fixture("price"), json!({"id": r.subscription.stripe_price_id}))}))]});
    let subscription = with(
        fixture("subscription"),
        json!({"id": sub_id, "customer": r.customer, "status": "past_due", "items": item, "cancel_at_period_end": false}),
    );
    apply(
        &app,
        "evt_t14",
        "customer.subscription.updated",
        subscription.clone(),
        5,
    )
    .await;
    let row = tollgate::billing::subscriptions::find(app.db(), r.subscription.id)
        .await
        .expect("row");
    assert_eq!(row.status, entity::SubscriptionStatus::PastDue);
    assert_eq!(
        row.current_period_end.map(|t| t.timestamp()),
        Some(period_end)
    );
    assert_eq!(row.price_id, r.subscription.price_id);
    apply(
        &app,
        "evt_t15",
        "customer.subscription.trial_will_end",
        subscription.clone(),
        6,
    )
    .await;
    let reminder = side_effects::Entity::find()
        .filter(side_effects::Column::Kind.eq("email.trial_will_end"))
        .one(app.db())
        .await
        .expect("query");
    assert!(
        reminder.is_some(),
        "the trial reminder hook is recorded once"
    );
    let ended = with(
        subscription,
        json!({"status": "canceled", "ended_at": Utc::now().timestamp()}),
    );
    apply(&app, "evt_t16", "customer.subscription.deleted", ended, 7).await;
    let row = tollgate::billing::subscriptions::find(app.db(), r.subscription.id)
        .await
        .expect("row");
    assert_eq!(row.status, entity::SubscriptionStatus::Canceled);
    let invoice = with(
        fixture("invoice"),
        json!({"id": r.invoice, "customer": r.customer, "status": "open",
               "parent": {"type": "subscription_details", "quote_details": null,
                          "subscription_details": {"subscription": sub_id, "metadata": {}}}}),
    );
    apply(&app, "evt_t17", "invoice.payment_failed", invoice, 8).await;
    let row = tollgate::billing::subscriptions::find(app.db(), r.subscription.id)
        .await
        .expect("row");
    assert_eq!(
        row.status,
        entity::SubscriptionStatus::Canceled,
        "canceled is final"
    );
}

/// `price.updated` as today's Stripe sends it (Stripe's example price, `recurring` with
/// `trial_period_days`) carries the trial into the catalog; a stale event does not undo it, and a
/// value Tollgate cannot grant is no trial rather than a failed event.
#[tokio::test]
async fn price_updated_in_todays_shape_carries_the_trial_into_the_catalog() {
    let app = spawn_app().await;
    let product = with(
        fixture("product"),
        json!({"id": "prod_trial", "name": "Trial plan", "active": true}),
    );
    apply(&app, "evt_p1", "product.created", product, 1).await;
    let price = |trial: Value| {
        with(
            fixture("price"),
            json!({"id": "price_trial", "product": "prod_trial", "currency": "usd",
                   "unit_amount": 1200, "type": "recurring", "active": true,
                   "recurring": {"interval": "month", "interval_count": 1, "meter": null,
                                 "usage_type": "licensed", "trial_period_days": trial}}),
        )
    };
    let offered = || async {
        let body = app
            .graphql(
                "{ products { prices { stripePriceId recurring { trialPeriodDays } } } }",
                json!({}),
                None,
            )
            .await;
        body["data"]["products"][0]["prices"][0]["recurring"]["trialPeriodDays"].clone()
    };

    apply(&app, "evt_p2", "price.created", price(json!(null)), 2).await;
    assert_eq!(offered().await, json!(null));
    apply(&app, "evt_p3", "price.updated", price(json!(21)), 4).await;
    assert_eq!(offered().await, json!(21), "the trial reaches the catalog");
    // Older than what the row holds: ignored. (`created` is counted from each call's clock,
    // so a margin of a second could be crossed on a slow machine; a minute cannot.)
    apply(&app, "evt_p4", "price.updated", price(json!(7)), -60).await;
    assert_eq!(offered().await, json!(21), "a stale event changes nothing");
    // More than Stripe grants: applied (the event is not failed) as no trial.
    apply(&app, "evt_p5", "price.updated", price(json!(1000)), 5).await;
    assert_eq!(offered().await, json!(null));
    apply(&app, "evt_p6", "price.updated", price(json!(14)), 6).await;
    assert_eq!(offered().await, json!(14));
}
