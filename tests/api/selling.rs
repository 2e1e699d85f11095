//! The selling surface through GraphQL against the emulator (SQLite and PostgreSQL): seats,
//! coupons and promotion codes, one live subscription per product, cancel reasons and MRR.
//! Plan-change quotes are in `quotes`.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use crate::helpers::{customer_row, error_code, spawn_app, TestApp};

pub(crate) const SUBSCRIBE: &str =
    "mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) {
    clientSecret subscription { id status quantity stripeSubscriptionId
    discount { promotionCode start coupon { percentOff } } } } }";
const CHECK: &str = "query($code: String!, $price: ID!, $q: Int) {
    checkPromotionCode(code: $code, priceId: $price, quantity: $q) {
    valid reason message amountBeforeDiscount { minorUnits } amountAfterDiscount { minorUnits currency }
    discount { promotionCode coupon { percentOff } } } }";
const CREATE_COUPON: &str = "mutation($input: CreateCouponInput!) { createCoupon(input: $input) {
    id stripeCouponId percentOff amountOff { minorUnits currency } duration valid } }";
const CREATE_CODE: &str =
    "mutation($input: CreatePromotionCodeInput!) { createPromotionCode(input: $input) {
    id code active coupon { id } } }";

/// A price created at the emulator for a new product and mirrored; (Tollgate price id, Stripe
/// product id).
pub(crate) async fn price_in(
    app: &TestApp,
    currency: &str,
    unit_amount: i64,
    interval: Option<&str>,
) -> (String, String) {
    let (s, product) = app
        .emulator
        .post("/v1/products", &[("name", "Team plan")])
        .await;
    assert!(s.is_success(), "{product}");
    let product = product["id"].as_str().expect("product").to_string();
    let price = price_of(app, &product, currency, unit_amount, interval).await;
    (price, product)
}

/// Another monthly price of an existing product, mirrored; its Tollgate id.
pub(crate) async fn another_price(
    app: &TestApp,
    product: &str,
    currency: &str,
    amount: i64,
) -> String {
    price_of(app, product, currency, amount, Some("month")).await
}

/// A price of `product` created at the emulator (recurring every `interval`, or one-time)
/// and mirrored; its Tollgate id.
async fn price_of(
    app: &TestApp,
    product: &str,
    currency: &str,
    unit_amount: i64,
    interval: Option<&str>,
) -> String {
    let amount = unit_amount.to_string();
    let mut form = vec![
        ("product", product),
        ("currency", currency),
        ("unit_amount", amount.as_str()),
    ];
    if let Some(i) = interval {
        form.push(("recurring[interval]", i));
    }
    let (s, price) = app.emulator.post("/v1/prices", &form).await;
    assert!(s.is_success(), "{price}");
    mirrored_price(app, price["id"].as_str().expect("price")).await
}

async fn mirrored_price(app: &TestApp, stripe_price: &str) -> String {
    tollgate::billing::sync::sync_catalog(app.db(), &app.state.stripe, &|_, _| {})
        .await
        .expect("sync");
    entity::prices::Entity::find()
        .filter(entity::prices::Column::StripePriceId.eq(stripe_price))
        .one(app.db())
        .await
        .expect("db")
        .expect("mirrored")
        .id
        .to_string()
}

pub(crate) async fn admin_coupon(app: &TestApp, input: Value) -> Value {
    let body = app
        .graphql(
            CREATE_COUPON,
            json!({"input": input}),
            Some(&app.token("root", true)),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["createCoupon"].clone()
}

pub(crate) async fn admin_code(app: &TestApp, coupon: &Value, input: Value) -> Value {
    let mut input = input;
    input["couponId"] = coupon["id"].clone();
    let body = app
        .graphql(
            CREATE_CODE,
            json!({"input": input}),
            Some(&app.token("root", true)),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["createPromotionCode"].clone()
}

/// A Stripe customer for `user` on a new emulator test clock frozen `days_ago` days before now,
/// recorded as the user's customer (as if the app's backend had created it): its subscriptions
/// start then, and a test can advance time to a renewal. The clock's id.
pub(crate) async fn clocked_customer(app: &TestApp, user: &str, days_ago: i64) -> String {
    let now = (chrono::Utc::now().timestamp() - days_ago * 86_400).to_string();
    let (_, clock) = app
        .emulator
        .post("/v1/test_helpers/test_clocks", &[("frozen_time", &now)])
        .await;
    let clock = clock["id"].as_str().expect("clock").to_string();
    let (_, cus) = app
        .emulator
        .post(
            "/v1/customers",
            &[("test_clock", &clock), ("metadata[tollgate_user_id]", user)],
        )
        .await;
    customer_row(user, cus["id"].as_str().expect("customer"))
        .insert(app.db())
        .await
        .expect("customer row");
    clock
}

pub(crate) async fn advance(app: &TestApp, clock: &str, days: i64) {
    let to = (chrono::Utc::now().timestamp() + days * 86_400).to_string();
    let (s, body) = app
        .emulator
        .post(
            &format!("/v1/test_helpers/test_clocks/{clock}/advance"),
            &[("frozen_time", &to)],
        )
        .await;
    assert!(s.is_success(), "{body}");
}

pub(crate) async fn subscribe(app: &TestApp, token: &str, input: Value) -> Value {
    let mut input = input;
    if input.get("paymentMethodId").is_none() {
        input["paymentMethodId"] = json!("pm_card_visa");
    }
    app.graphql(SUBSCRIBE, json!({"input": input}), Some(token))
        .await
}

async fn payment_intent_count(app: &TestApp) -> usize {
    let (_, list) = app.emulator.get("/v1/payment_intents?limit=100").await;
    list["data"].as_array().map_or(0, Vec::len)
}

async fn charged(app: &TestApp, user: &str) -> Vec<i64> {
    let mut rows = entity::payments::Entity::find()
        .filter(entity::payments::Column::UserId.eq(user))
        .all(app.db())
        .await
        .expect("payments");
    rows.sort_by_key(|p| p.created_at);
    rows.into_iter().map(|p| p.amount).collect()
}

#[tokio::test]
async fn a_twenty_percent_forever_code_on_five_seats_charges_eighty_percent_every_time() {
    let app = spawn_app().await;
    app.emulator
        .register_webhook(
            &app.url("/webhooks/stripe"),
            crate::helpers::WEBHOOK_SECRET,
            None,
        )
        .await;
    let (price, _) = price_in(&app, "usd", 1000, Some("month")).await;
    let coupon = admin_coupon(
        &app,
        json!({"name": "Launch", "percentOff": "20", "duration": "FOREVER"}),
    )
    .await;
    assert_eq!(coupon["percentOff"], "20");
    assert_eq!(coupon["valid"], true);
    admin_code(&app, &coupon, json!({"code": "TEAM20"})).await;

    let token = app.token("tess", false);
    let clock = clocked_customer(&app, "tess", 0).await;
    let check = app
        .graphql(
            CHECK,
            json!({"code": "team20", "price": price, "q": 5}),
            Some(&token),
        )
        .await;
    let check = &check["data"]["checkPromotionCode"];
    assert_eq!(check["valid"], true, "{check}");
    assert_eq!(check["amountBeforeDiscount"]["minorUnits"], "5000");
    assert_eq!(
        check["amountAfterDiscount"]["minorUnits"], "4000",
        "what is shown…"
    );

    let body = subscribe(
        &app,
        &token,
        json!({"priceId": price, "quantity": 5, "promotionCode": "TEAM20"}),
    )
    .await;
    let sub = &body["data"]["createSubscription"]["subscription"];
    assert_eq!(sub["status"], "ACTIVE", "{body}");
    assert_eq!(sub["quantity"], 5);
    assert_eq!(sub["discount"]["promotionCode"], "TEAM20");
    assert_eq!(sub["discount"]["coupon"]["percentOff"], "20");
    assert_eq!(charged(&app, "tess").await, vec![4000], "…is what is paid");

    advance(&app, &clock, 32).await;
    crate::helpers::eventually(
        std::time::Duration::from_secs(10),
        "the renewal",
        || async {
            let c = charged(&app, "tess").await;
            if c.len() == 2 {
                Ok(c)
            } else {
                Err(c)
            }
        },
    )
    .await;
    assert_eq!(
        charged(&app, "tess").await,
        vec![4000, 4000],
        "and every renewal"
    );
    let revenue = app
        .graphql(
            "{ revenue { currency discounts { minorUnits } mrr { minorUnits } } }",
            json!({}),
            Some(&app.token("root", true)),
        )
        .await;
    assert_eq!(
        revenue["data"]["revenue"][0],
        json!({"currency": "usd", "discounts": {"minorUnits": "2000"}, "mrr": {"minorUnits": "4000"}}),
        "{revenue}"
    );
}

#[tokio::test]
async fn amount_off_coupons_in_zero_and_three_decimal_currencies() {
    let app = spawn_app().await;
    for (currency, unit, off, after) in [
        ("krw", 30_000_i64, "5000", 25_000_i64),
        ("bhd", 12_000, "1.500", 10_500),
    ] {
        let (price, _) = price_in(&app, currency, unit, Some("month")).await;
        let coupon = admin_coupon(
            &app,
            json!({"amountOff": off, "currency": currency, "duration": "ONCE"}),
        )
        .await;
        assert_eq!(coupon["amountOff"]["currency"], currency);
        let code = format!("OFF{currency}").to_uppercase();
        admin_code(&app, &coupon, json!({"code": code})).await;
        let user = format!("buyer-{currency}");
        let token = app.token(&user, false);
        let body = subscribe(
            &app,
            &token,
            json!({"priceId": price, "promotionCode": code}),
        )
        .await;
        assert_eq!(
            body["data"]["createSubscription"]["subscription"]["status"], "ACTIVE",
            "{body}"
        );
        assert_eq!(charged(&app, &user).await, vec![after], "{currency}");
    }
}

#[tokio::test]
async fn codes_that_cannot_be_redeemed_are_refused_before_stripe_charges() {
    let app = spawn_app().await;
    let (price, _) = price_in(&app, "usd", 1000, Some("month")).await;
    let (_, other_product) = price_in(&app, "usd", 500, Some("month")).await;
    let coupon = admin_coupon(&app, json!({"percentOff": "10", "duration": "ONCE"})).await;
    admin_code(
        &app,
        &coupon,
        json!({"code": "ONCEONLY", "maxRedemptions": 1}),
    )
    .await;
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    admin_code(&app, &coupon, json!({"code": "BRIEF", "expiresAt": soon})).await;
    let elsewhere = admin_coupon(
        &app,
        json!({"percentOff": "50", "duration": "ONCE", "productIds": [product_id(&app, &other_product).await]}),
    )
    .await;
    admin_code(&app, &elsewhere, json!({"code": "OTHERPRODUCT"})).await;

    // Another customer uses the only redemption.
    let first = subscribe(
        &app,
        &app.token("first", false),
        json!({"priceId": price, "promotionCode": "ONCEONLY"}),
    )
    .await;
    assert!(first["errors"].is_null(), "{first}");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;

    let token = app.token("late", false);
    let before = payment_intent_count(&app).await;
    for (code, reason) in [
        ("ONCEONLY", "EXHAUSTED"),
        ("BRIEF", "EXPIRED"),
        ("OTHERPRODUCT", "NOT_APPLICABLE"),
        ("NOSUCHCODE", "UNKNOWN_CODE"),
    ] {
        let check = app
            .graphql(CHECK, json!({"code": code, "price": price}), Some(&token))
            .await;
        assert_eq!(
            check["data"]["checkPromotionCode"]["valid"], false,
            "{check}"
        );
        assert_eq!(check["data"]["checkPromotionCode"]["reason"], reason);
        let body = subscribe(
            &app,
            &token,
            json!({"priceId": price, "promotionCode": code}),
        )
        .await;
        assert_eq!(
            error_code(&body),
            Some("PROMOTION_CODE_INVALID"),
            "{code}: {body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["reason"], reason);
    }
    for hostile in ["", "a b", "x'; DROP TABLE coupons;--", &"A".repeat(65)] {
        let body = subscribe(
            &app,
            &token,
            json!({"priceId": price, "promotionCode": hostile}),
        )
        .await;
        assert_eq!(
            error_code(&body),
            Some("INVALID_INPUT"),
            "{hostile:?}: {body}"
        );
    }
    assert_eq!(
        payment_intent_count(&app).await,
        before,
        "nothing was charged"
    );
    let subs = app
        .graphql("{ subscriptions { id } }", json!({}), Some(&token))
        .await;
    assert_eq!(subs["data"]["subscriptions"], json!([]));
}

async fn product_id(app: &TestApp, stripe_product: &str) -> String {
    entity::products::Entity::find()
        .filter(entity::products::Column::StripeProductId.eq(stripe_product))
        .one(app.db())
        .await
        .expect("db")
        .expect("product")
        .id
        .to_string()
}

#[tokio::test]
async fn two_tabs_subscribing_at_once_make_one_subscription() {
    let app = spawn_app().await;
    let (price, _) = price_in(&app, "usd", 900, Some("month")).await;
    let token = app.token("twotabs", false);
    // Save the card first so both tabs pay with the same saved card.
    let (a, b) = tokio::join!(
        subscribe(
            &app,
            &token,
            json!({"priceId": price, "idempotencyKey": "tab-a"})
        ),
        subscribe(
            &app,
            &token,
            json!({"priceId": price, "idempotencyKey": "tab-b"})
        ),
    );
    let codes: Vec<Option<&str>> = vec![error_code(&a), error_code(&b)];
    assert!(
        codes.contains(&None) && codes.contains(&Some("ALREADY_SUBSCRIBED")),
        "{a}\n{b}"
    );
    // And later, from a third tab, too, with the subscription named.
    let c = subscribe(&app, &token, json!({"priceId": price})).await;
    assert_eq!(error_code(&c), Some("ALREADY_SUBSCRIBED"), "{c}");
    assert!(c["errors"][0]["extensions"]["subscriptionId"].is_string());
    let (_, subs) = app.emulator.get("/v1/subscriptions?limit=100").await;
    assert_eq!(subs["data"].as_array().map(Vec::len), Some(1), "{subs}");
}

#[tokio::test]
async fn a_product_may_allow_several_subscriptions() {
    let app = spawn_app().await;
    let (price, product) = price_in(&app, "usd", 900, Some("month")).await;
    let (s, _) = app
        .emulator
        .post(
            &format!("/v1/products/{product}"),
            &[("metadata[tollgate_multiple_subscriptions]", "true")],
        )
        .await;
    assert!(s.is_success());
    tollgate::billing::sync::sync_catalog(app.db(), &app.state.stripe, &|_, _| {})
        .await
        .expect("sync");
    let token = app.token("many", false);
    for _ in 0..2 {
        let body = subscribe(&app, &token, json!({"priceId": price})).await;
        assert!(body["errors"].is_null(), "{body}");
    }
    let body = app
        .graphql(
            "{ products { allowsMultipleSubscriptions } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        body["data"]["products"][0]["allowsMultipleSubscriptions"],
        true
    );
}

#[tokio::test]
async fn seats_are_bounded_and_one_time_purchases_take_a_quantity() {
    let app = spawn_app().await;
    let (monthly, _) = price_in(&app, "usd", 1000, Some("month")).await;
    let token = app.token("seats", false);
    for bad in [0, -1, 10_001] {
        let body = subscribe(&app, &token, json!({"priceId": monthly, "quantity": bad})).await;
        assert_eq!(error_code(&body), Some("INVALID_INPUT"), "{bad}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "quantity");
    }
    let (once, _) = price_in(&app, "usd", 250, None).await;
    let body = app
        .graphql(
            "mutation($input: CreatePaymentIntentInput!) { createPaymentIntent(input: $input) {
             payment { amount { minorUnits } status } } }",
            json!({"input": {"priceId": once, "quantity": 3, "paymentMethodId": "pm_card_visa"}}),
            Some(&token),
        )
        .await;
    let payment = &body["data"]["createPaymentIntent"]["payment"];
    assert_eq!(payment["amount"]["minorUnits"], "750", "{body}");
    assert_eq!(payment["status"], "SUCCEEDED");
    let body = app
        .graphql(
            "mutation($input: CreatePaymentIntentInput!) { createPaymentIntent(input: $input) { payment { id } } }",
            json!({"input": {"amount": "5.00", "currency": "usd", "quantity": 2}}),
            Some(&token),
        )
        .await;
    assert_eq!(
        error_code(&body),
        Some("INVALID_INPUT"),
        "an amount is already a total"
    );
}

#[tokio::test]
async fn mrr_excludes_trials_and_counts_quantity_and_discounts() {
    let app = spawn_app().await;
    let (monthly, product) = price_in(&app, "usd", 1000, Some("month")).await;
    let (yearly, _) = price_in(&app, "usd", 12_000, Some("year")).await;
    let _ = product;
    let coupon = admin_coupon(&app, json!({"percentOff": "20", "duration": "FOREVER"})).await;
    admin_code(&app, &coupon, json!({"code": "MRR20"})).await;
    // A trial is not revenue (the price offers none, so an admin grants it).
    let admin = app.token("root", true);
    let body = subscribe(&app, &admin, json!({"priceId": monthly, "trialDays": 14})).await;
    assert_eq!(
        body["data"]["createSubscription"]["subscription"]["status"], "TRIALING",
        "{body}"
    );
    let body = subscribe(
        &app,
        &app.token("b", false),
        json!({"priceId": monthly, "quantity": 3, "promotionCode": "MRR20"}),
    )
    .await;
    assert!(body["errors"].is_null(), "{body}");
    let body = subscribe(&app, &app.token("c", false), json!({"priceId": yearly})).await;
    assert!(body["errors"].is_null(), "{body}");
    let revenue = app
        .graphql(
            "{ revenue { currency mrr { minorUnits } } }",
            json!({}),
            Some(&admin),
        )
        .await;
    // 3 × 10.00 × 0.8 = 24.00, plus 120.00 / 12 = 10.00; the trial counts nothing.
    assert_eq!(
        revenue["data"]["revenue"][0]["mrr"]["minorUnits"], "3400",
        "{revenue}"
    );
}

#[tokio::test]
async fn a_cancel_carries_its_reason_to_stripe_and_admins() {
    let app = spawn_app().await;
    let (price, _) = price_in(&app, "usd", 1000, Some("month")).await;
    let token = app.token("leaver", false);
    let body = subscribe(&app, &token, json!({"priceId": price})).await;
    let sub = body["data"]["createSubscription"]["subscription"].clone();
    let cancel = "mutation($input: CancelSubscriptionInput!) { cancelSubscription(input: $input) {
        cancelAtPeriodEnd cancellationReason cancellationComment } }";
    let body = app
        .graphql(
            cancel,
            json!({"input": {"subscriptionId": sub["id"], "reason": "TOO_EXPENSIVE",
                   "comment": "  we are a small team  "}}),
            Some(&token),
        )
        .await;
    assert_eq!(
        body["data"]["cancelSubscription"],
        json!({"cancelAtPeriodEnd": true, "cancellationReason": "too_expensive",
               "cancellationComment": "we are a small team"}),
        "{body}"
    );
    let stripe_id = sub["stripeSubscriptionId"].as_str().expect("sub");
    let (_, at_stripe) = app
        .emulator
        .get(&format!("/v1/subscriptions/{stripe_id}"))
        .await;
    assert_eq!(
        at_stripe["cancellation_details"]["feedback"],
        "too_expensive"
    );
    let admin = app
        .graphql(
            "{ adminSubscriptions { cancellationReason } }",
            json!({}),
            Some(&app.token("root", true)),
        )
        .await;
    assert_eq!(
        admin["data"]["adminSubscriptions"][0]["cancellationReason"],
        "too_expensive"
    );
    let long = "x".repeat(1001);
    let body = app
        .graphql(
            cancel,
            json!({"input": {"subscriptionId": sub["id"], "comment": long}}),
            Some(&token),
        )
        .await;
    assert_eq!(error_code(&body), Some("INVALID_INPUT"), "{body}");
}

#[tokio::test]
async fn sync_check_reports_coupons_codes_quantities_and_discounts_changed_at_stripe() {
    let app = spawn_app().await;
    let (price, _) = price_in(&app, "usd", 1000, Some("month")).await;
    let token = app.token("drift", false);
    let body = subscribe(&app, &token, json!({"priceId": price, "quantity": 2})).await;
    let sub = body["data"]["createSubscription"]["subscription"].clone();
    // Made in the dashboard, behind Tollgate's back.
    let (_, coupon) = app
        .emulator
        .post(
            "/v1/coupons",
            &[("percent_off", "15"), ("duration", "forever")],
        )
        .await;
    let coupon_id = coupon["id"].as_str().expect("coupon");
    app.emulator
        .post(
            "/v1/promotion_codes",
            &[("promotion[coupon]", coupon_id), ("code", "DASH15")],
        )
        .await;
    let stripe_sub = sub["stripeSubscriptionId"].as_str().expect("sub");
    let (_, live) = app
        .emulator
        .get(&format!("/v1/subscriptions/{stripe_sub}"))
        .await;
    let item = live["items"]["data"][0]["id"].as_str().expect("item");
    let (s, _) = app
        .emulator
        .post(
            &format!("/v1/subscriptions/{stripe_sub}"),
            &[
                ("items[0][id]", item),
                ("items[0][quantity]", "4"),
                ("proration_behavior", "none"),
                ("coupon", coupon_id),
            ],
        )
        .await;
    assert!(s.is_success());
    let report = tollgate::billing::sync::sync_catalog(app.db(), &app.state.stripe, &|_, _| {})
        .await
        .expect("sync");
    let objects: Vec<&str> = report.drifts.iter().map(|d| d.object).collect();
    assert!(
        objects.contains(&"coupon") && objects.contains(&"promotion_code"),
        "{objects:?}"
    );
    let report =
        tollgate::billing::sync::sync_subscriptions(app.db(), &app.state.stripe, &|_, _| {})
            .await
            .expect("sync");
    let fields: Vec<&str> = report.drifts.iter().map(|d| d.field).collect();
    assert!(
        fields.contains(&"quantity") && fields.contains(&"discount"),
        "{fields:?}"
    );
    let after = app
        .graphql(
            "{ subscriptions { quantity discount { coupon { percentOff } } } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(
        after["data"]["subscriptions"][0],
        json!({"quantity": 4, "discount": {"coupon": {"percentOff": "15"}}}),
        "{after}"
    );
}

#[tokio::test]
async fn another_customers_code_is_no_code_and_coupon_figures_are_for_admins() {
    let app = spawn_app().await;
    let (price, _) = price_in(&app, "usd", 1000, Some("month")).await;
    let coupon = admin_coupon(&app, json!({"percentOff": "30", "duration": "ONCE"})).await;
    let (_, someone) = app.emulator.post("/v1/customers", &[]).await;
    let (s, _) = app
        .emulator
        .post(
            "/v1/promotion_codes",
            &[
                (
                    "promotion[coupon]",
                    coupon["stripeCouponId"].as_str().expect("coupon"),
                ),
                ("code", "VIPONLY"),
                ("customer", someone["id"].as_str().expect("customer")),
            ],
        )
        .await;
    assert!(s.is_success());
    let token = app.token("curious", false);
    let check = app
        .graphql(
            CHECK,
            json!({"code": "VIPONLY", "price": price}),
            Some(&token),
        )
        .await;
    assert_eq!(
        check["data"]["checkPromotionCode"]["reason"], "UNKNOWN_CODE",
        "{check}"
    );
    admin_code(&app, &coupon, json!({"code": "PUBLIC30"})).await;
    let check = app
        .graphql(
            "query($p: ID!) { checkPromotionCode(code: \"PUBLIC30\", priceId: $p) {
             discount { coupon { percentOff timesRedeemed } } } }",
            json!({"p": price}),
            Some(&token),
        )
        .await;
    assert_eq!(
        error_code(&check),
        Some("FORBIDDEN"),
        "redemption counts are sales figures: {check}"
    );
}

#[tokio::test]
async fn a_subscription_stripe_has_but_the_database_missed_still_counts() {
    let app = spawn_app().await;
    let (price, _) = price_in(&app, "usd", 1000, Some("month")).await;
    let token = app.token("lost-write", false);
    // The customer exists (a card saved), and Stripe holds a subscription Tollgate never stored
    // (an attempt that failed after Stripe answered, or one made in the dashboard).
    let saved = app
        .graphql(
            "mutation { attachPaymentMethod(paymentMethodId: \"pm_card_visa\") { stripePaymentMethodId } }",
            json!({}),
            Some(&token),
        )
        .await;
    let pm = saved["data"]["attachPaymentMethod"]["stripePaymentMethodId"]
        .as_str()
        .expect("pm")
        .to_string();
    let customer = entity::customers::Entity::find()
        .filter(entity::customers::Column::UserId.eq("lost-write"))
        .one(app.db())
        .await
        .expect("db")
        .expect("customer");
    let stripe_price = entity::prices::Entity::find_by_id(price.parse::<uuid::Uuid>().expect("id"))
        .one(app.db())
        .await
        .expect("db")
        .expect("price")
        .stripe_price_id;
    let (s, at_stripe) = app
        .emulator
        .post(
            "/v1/subscriptions",
            &[
                ("customer", customer.stripe_customer_id.as_str()),
                ("items[0][price]", stripe_price.as_str()),
                ("default_payment_method", pm.as_str()),
            ],
        )
        .await;
    assert!(s.is_success(), "{at_stripe}");
    let body = subscribe(&app, &token, json!({"priceId": price})).await;
    assert_eq!(error_code(&body), Some("ALREADY_SUBSCRIBED"), "{body}");
    let subs = app
        .graphql(
            "{ subscriptions { stripeSubscriptionId } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(
        subs["data"]["subscriptions"][0]["stripeSubscriptionId"], at_stripe["id"],
        "and it is stored now"
    );
}

#[tokio::test]
async fn stripe_backed_queries_spend_the_mutation_budget() {
    let app = crate::helpers::spawn_app_with(|c| {
        c.insert("RATE_LIMIT_MUTATIONS_PER_MINUTE".into(), "3".into());
    })
    .await;
    let (price, _) = price_in(&app, "usd", 1000, Some("month")).await;
    let token = app.token("prober", false);
    let aliases: String = (0..5)
        .map(|i| format!("c{i}: checkPromotionCode(code: \"GUESS{i}\", priceId: $p) {{ valid }} "))
        .collect();
    let body = app
        .graphql(
            &format!("query($p: ID!) {{ {aliases} }}"),
            json!({"p": price}),
            Some(&token),
        )
        .await;
    assert_eq!(
        error_code(&body),
        Some("RATE_LIMITED"),
        "five guesses at once: {body}"
    );
    let (_, requests) = (0, app.emulator.requests().await);
    assert!(
        !requests
            .iter()
            .any(|r| r.contains("/v1/promotion_codes?code=")),
        "none reached Stripe: {requests:?}"
    );
}
