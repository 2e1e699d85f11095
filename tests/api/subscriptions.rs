//! Subscriptions and saved payment methods through GraphQL against the emulator.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app, TestApp};

const SUBSCRIBE: &str =
    "mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) {
    clientSecret subscription { id status isActive currentPeriodStart currentPeriodEnd trialEnd
    cancelAtPeriodEnd endedAt daysUntilRenewal price { stripePriceId } } } }";
const ATTACH: &str = "mutation($id: String!) { attachPaymentMethod(paymentMethodId: $id) {
    id stripePaymentMethodId brand last4 expMonth expYear isDefault } }";
const CANCEL: &str =
    "mutation($input: CancelSubscriptionInput!) { cancelSubscription(input: $input) {
    status isActive cancelAtPeriodEnd endedAt canceledAt } }";
const RESUME: &str =
    "mutation($id: ID!) { resumeSubscription(subscriptionId: $id) { status cancelAtPeriodEnd } }";

/// A monthly USD price in the catalog; returns its Tollgate id.
pub(crate) async fn monthly_price(app: &TestApp, amount: i64) -> String {
    app.emulator.create_price("Pro", "usd", amount, true).await;
    tollgate::billing::sync::sync_catalog(app.db(), &app.state.stripe, &|_, _| {})
        .await
        .expect("sync");
    let body = app
        .graphql(
            "{ products { prices { id unitAmount { minorUnits } } } }",
            json!({}),
            None,
        )
        .await;
    let wanted = amount.to_string();
    body["data"]["products"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["prices"].as_array().cloned().unwrap_or_default())
        .find(|p| p["unitAmount"]["minorUnits"] == wanted.as_str())
        .and_then(|p| p["id"].as_str().map(str::to_owned))
        .expect("price in catalog")
}

async fn save_card(app: &TestApp, token: &str, pm: &str) -> Value {
    let body = app.graphql(ATTACH, json!({"id": pm}), Some(token)).await;
    body["data"]["attachPaymentMethod"].clone()
}

fn days_from_now(v: &Value) -> i64 {
    let t: DateTime<Utc> = v.as_str().and_then(|s| s.parse().ok()).expect("timestamp");
    (t - Utc::now()).num_days()
}

#[tokio::test]
async fn a_saved_card_subscribes_and_renews_in_a_month() {
    let app = spawn_app().await;
    let token = app.token("alice", false);
    let price = monthly_price(&app, 1200).await;
    let card = save_card(&app, &token, "pm_card_visa").await;
    assert_eq!(card["last4"], "4242", "{card}");
    assert_eq!(
        card["isDefault"], true,
        "the first saved card becomes the default"
    );

    let body = app
        .graphql(
            SUBSCRIBE,
            json!({"input": {"priceId": price, "paymentMethodId": card["stripePaymentMethodId"]}}),
            Some(&token),
        )
        .await;
    let sub = &body["data"]["createSubscription"]["subscription"];
    assert_eq!(sub["status"], "ACTIVE", "{body}");
    assert_eq!(sub["isActive"], true);
    let renewal = days_from_now(&sub["currentPeriodEnd"]);
    assert!(
        (27..=31).contains(&renewal),
        "renews in a month: {renewal} days"
    );
    assert_eq!(
        body["data"]["createSubscription"]["clientSecret"],
        Value::Null
    );

    // The first charge is in the payment history, linked to the subscription.
    let history = app
        .graphql(
            "{ payments { totalCount edges { node { status amount { amount } } } } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(history["data"]["payments"]["totalCount"], 1, "{history}");
    assert_eq!(
        history["data"]["payments"]["edges"][0]["node"]["amount"]["amount"],
        "12.00"
    );

    let mine = app
        .graphql(
            "{ subscriptions(status: ACTIVE) { id } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(
        mine["data"]["subscriptions"].as_array().map(Vec::len),
        Some(1)
    );
    let revenue = app
        .graphql(
            "{ revenue { currency mrr { amount } } }",
            json!({}),
            Some(&app.token("root", true)),
        )
        .await;
    assert_eq!(
        revenue["data"]["revenue"][0]["mrr"]["amount"], "12.00",
        "{revenue}"
    );
}

#[tokio::test]
async fn a_trial_starts_trialing_for_fourteen_days() {
    let app = spawn_app().await;
    let token = app.token("bob", false);
    let price = monthly_price_with_trial(&app, 900, 14).await;
    let body = app
        .graphql(
            SUBSCRIBE,
            json!({"input": {"priceId": price, "trialDays": 14}}),
            Some(&token),
        )
        .await;
    let sub = &body["data"]["createSubscription"]["subscription"];
    assert_eq!(sub["status"], "TRIALING", "{body}");
    assert_eq!(sub["isActive"], true);
    assert!(
        (13..=14).contains(&days_from_now(&sub["trialEnd"])),
        "{sub}"
    );
    let body = app
        .graphql(
            SUBSCRIBE,
            json!({"input": {"priceId": price, "trialDays": 0}}),
            Some(&token),
        )
        .await;
    assert_eq!(error_code(&body), Some("INVALID_INPUT"));
}

#[tokio::test]
async fn cancel_at_period_end_resume_and_cancel_now() {
    let app = spawn_app().await;
    let token = app.token("carol", false);
    let price = monthly_price(&app, 1500).await;
    save_card(&app, &token, "pm_card_visa").await;
    let card = app
        .graphql(
            "{ viewer { paymentMethods { stripePaymentMethodId } } }",
            json!({}),
            Some(&token),
        )
        .await;
    let pm = card["data"]["viewer"]["paymentMethods"][0]["stripePaymentMethodId"].clone();
    let body = app
        .graphql(
            SUBSCRIBE,
            json!({"input": {"priceId": price, "paymentMethodId": pm}}),
            Some(&token),
        )
        .await;
    let id = body["data"]["createSubscription"]["subscription"]["id"]
        .as_str()
        .expect("id")
        .to_string();

    let later = app
        .graphql(
            CANCEL,
            json!({"input": {"subscriptionId": id}}),
            Some(&token),
        )
        .await;
    let later = &later["data"]["cancelSubscription"];
    assert_eq!(later["cancelAtPeriodEnd"], true, "{later}");
    assert_eq!(
        later["isActive"], true,
        "access continues until the period ends"
    );
    assert_eq!(later["status"], "ACTIVE");

    let resumed = app.graphql(RESUME, json!({"id": id}), Some(&token)).await;
    assert_eq!(
        resumed["data"]["resumeSubscription"]["cancelAtPeriodEnd"], false,
        "{resumed}"
    );
    let again = app.graphql(RESUME, json!({"id": id}), Some(&token)).await;
    assert_eq!(
        error_code(&again),
        Some("INVALID_INPUT"),
        "nothing to resume"
    );

    let now = app
        .graphql(
            CANCEL,
            json!({"input": {"subscriptionId": id, "atPeriodEnd": false}}),
            Some(&token),
        )
        .await;
    let now = &now["data"]["cancelSubscription"];
    assert_eq!(now["status"], "CANCELED", "{now}");
    assert_eq!(now["isActive"], false);
    assert!(now["endedAt"].is_string());
}

#[tokio::test]
async fn declines_store_nothing_and_other_users_see_nothing() {
    let app = spawn_app().await;
    let alice = app.token("alice", false);
    let mallory = app.token("mallory", false);
    let price = monthly_price(&app, 1000).await;

    // Declined when attached: nothing is stored.
    let (_, pm) = app
        .emulator
        .post(
            "/v1/payment_methods",
            &[
                ("type", "card"),
                ("card[number]", "4000000000000002"),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2031"),
                ("card[cvc]", "123"),
            ],
        )
        .await;
    let declined = app
        .graphql(ATTACH, json!({"id": pm["id"]}), Some(&alice))
        .await;
    assert_eq!(error_code(&declined), Some("CARD_DECLINED"), "{declined}");
    let methods = app
        .graphql(
            "{ viewer { paymentMethods { id } } }",
            json!({}),
            Some(&alice),
        )
        .await;
    assert_eq!(methods["data"]["viewer"]["paymentMethods"], json!([]));

    // Attaches, then declines when charged: no subscription is left behind.
    let body = app
        .graphql(
            SUBSCRIBE,
            json!({"input": {"priceId": price, "paymentMethodId": "pm_card_chargeCustomerFail"}}),
            Some(&alice),
        )
        .await;
    assert_eq!(error_code(&body), Some("CARD_DECLINED"), "{body}");
    let subs = app
        .graphql("{ subscriptions { id } }", json!({}), Some(&alice))
        .await;
    assert_eq!(subs["data"]["subscriptions"], json!([]), "{subs}");
    let methods = app
        .graphql(
            "{ viewer { paymentMethods { id } } }",
            json!({}),
            Some(&alice),
        )
        .await;
    assert_eq!(
        methods["data"]["viewer"]["paymentMethods"],
        json!([]),
        "the declined card is not kept"
    );
    let (_, at_stripe) = app.emulator.get("/v1/subscriptions?status=all").await;
    assert!(
        at_stripe["data"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|s| s["status"] == "canceled"),
        "{at_stripe}"
    );

    // Alice's subscription and card are invisible to Mallory.
    let card = save_card(&app, &alice, "pm_card_visa").await;
    let pm_id = card["stripePaymentMethodId"].clone();
    let sub = app
        .graphql(
            SUBSCRIBE,
            json!({"input": {"priceId": price, "paymentMethodId": pm_id}}),
            Some(&alice),
        )
        .await;
    let id = sub["data"]["createSubscription"]["subscription"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let peek = app
        .graphql(
            "query($id: ID!) { subscription(id: $id) { id } }",
            json!({"id": id}),
            Some(&mallory),
        )
        .await;
    assert_eq!(error_code(&peek), Some("NOT_FOUND"));
    let cancel = app
        .graphql(
            CANCEL,
            json!({"input": {"subscriptionId": id, "atPeriodEnd": false}}),
            Some(&mallory),
        )
        .await;
    assert_eq!(error_code(&cancel), Some("NOT_FOUND"));
    let resume = app.graphql(RESUME, json!({"id": id}), Some(&mallory)).await;
    assert_eq!(error_code(&resume), Some("NOT_FOUND"));
    let use_card = app
        .graphql(
            SUBSCRIBE,
            json!({"input": {"priceId": price, "paymentMethodId": pm_id}}),
            Some(&mallory),
        )
        .await;
    assert_eq!(error_code(&use_card), Some("NOT_FOUND"), "{use_card}");
    let pay_with = app.pay(&mallory, "5.00", "usd", pm_id.as_str()).await;
    assert_eq!(error_code(&pay_with), Some("NOT_FOUND"), "{pay_with}");
    let detach = app
        .graphql(
            "mutation($id: String!) { detachPaymentMethod(paymentMethodId: $id) }",
            json!({"id": pm_id}),
            Some(&mallory),
        )
        .await;
    assert_eq!(error_code(&detach), Some("NOT_FOUND"));
    let steal = app
        .graphql(ATTACH, json!({"id": pm_id}), Some(&mallory))
        .await;
    assert_eq!(error_code(&steal), Some("NOT_FOUND"), "{steal}");
    // Still Alice's, still her default.
    let mine = app
        .graphql(
            "{ viewer { paymentMethods { stripePaymentMethodId isDefault } } }",
            json!({}),
            Some(&alice),
        )
        .await;
    assert_eq!(
        mine["data"]["viewer"]["paymentMethods"][0]["isDefault"], true,
        "{mine}"
    );
}

#[tokio::test]
async fn payment_methods_set_default_and_detach() {
    let app = spawn_app().await;
    let token = app.token("dave", false);
    let setup = app
        .graphql(
            "mutation { createSetupIntent { clientSecret } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert!(
        setup["data"]["createSetupIntent"]["clientSecret"]
            .as_str()
            .is_some_and(|s| s.starts_with("seti_")),
        "{setup}"
    );
    let first = save_card(&app, &token, "pm_card_visa").await;
    let second = save_card(&app, &token, "pm_card_mastercard").await;
    assert_eq!(second["brand"], "mastercard");
    assert_eq!(second["isDefault"], false);
    let set = app
        .graphql("mutation($id: String!) { setDefaultPaymentMethod(paymentMethodId: $id) { isDefault } }", json!({"id": second["id"]}), Some(&token))
        .await;
    assert_eq!(
        set["data"]["setDefaultPaymentMethod"]["isDefault"], true,
        "{set}"
    );
    let detached = app
        .graphql(
            "mutation($id: String!) { detachPaymentMethod(paymentMethodId: $id) }",
            json!({"id": first["stripePaymentMethodId"]}),
            Some(&token),
        )
        .await;
    assert_eq!(detached["data"]["detachPaymentMethod"], true, "{detached}");
    let left = app
        .graphql(
            "{ viewer { paymentMethods { brand isDefault } } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(
        left["data"]["viewer"]["paymentMethods"],
        json!([{"brand": "mastercard", "isDefault": true}])
    );
}

#[tokio::test]
async fn without_a_card_the_spa_confirms_the_first_payment() {
    let app = spawn_app().await;
    let token = app.token("erin", false);
    let price = monthly_price(&app, 700).await;
    let body = app
        .graphql(
            SUBSCRIBE,
            json!({"input": {"priceId": price}}),
            Some(&token),
        )
        .await;
    let payload = &body["data"]["createSubscription"];
    assert_eq!(payload["subscription"]["status"], "INCOMPLETE", "{body}");
    let secret = payload["clientSecret"]
        .as_str()
        .expect("client secret for Stripe.js");
    // What Stripe.js does with the secret: confirm the PaymentIntent with a card.
    let pi = secret.split("_secret_").next().expect("pi id");
    let (s, confirmed) = app
        .emulator
        .post(
            &format!("/v1/payment_intents/{pi}/confirm"),
            &[("payment_method", "pm_card_visa")],
        )
        .await;
    assert_eq!(s, 200, "{confirmed}");
    let (_, sub) = app.emulator.get("/v1/subscriptions?status=all").await;
    assert_eq!(
        sub["data"][0]["status"], "active",
        "Stripe activates it once paid"
    );
}

#[tokio::test]
async fn plan_changes_move_to_the_new_price() {
    let app = spawn_app().await;
    let token = app.token("fay", false);
    let basic = monthly_price(&app, 500).await;
    let pro = monthly_price(&app, 2500).await;
    let card = save_card(&app, &token, "pm_card_visa").await;
    let body = app
        .graphql(
            SUBSCRIBE,
            json!({"input": {"priceId": basic, "paymentMethodId": card["stripePaymentMethodId"]}}),
            Some(&token),
        )
        .await;
    let id = body["data"]["createSubscription"]["subscription"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let change = "mutation($input: ChangeSubscriptionPriceInput!) { changeSubscriptionPrice(input: $input) { status price { id } } }";
    let changed = app
        .graphql(
            change,
            json!({"input": {"subscriptionId": id, "priceId": pro}}),
            Some(&token),
        )
        .await;
    assert_eq!(
        changed["data"]["changeSubscriptionPrice"]["price"]["id"],
        pro.as_str(),
        "{changed}"
    );
    let one_time = app
        .graphql(
            change,
            json!({"input": {"subscriptionId": id, "priceId": uuid::Uuid::new_v4().to_string()}}),
            Some(&token),
        )
        .await;
    assert_eq!(error_code(&one_time), Some("NOT_FOUND"));
}

#[tokio::test]
async fn a_paid_renewal_invoice_is_recorded_as_a_payment_of_the_subscription() {
    let app = spawn_app().await;
    let token = app.token("gail", false);
    let price = monthly_price(&app, 1100).await;
    let card = save_card(&app, &token, "pm_card_visa").await;
    let body = app
        .graphql(
            SUBSCRIBE,
            json!({"input": {"priceId": price, "paymentMethodId": card["stripePaymentMethodId"]}}),
            Some(&token),
        )
        .await;
    let sub_id = body["data"]["createSubscription"]["subscription"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let row = tollgate::billing::subscriptions::find(
        app.db(),
        uuid::Uuid::parse_str(&sub_id).expect("uuid"),
    )
    .await
    .expect("row");
    let customer = tollgate::billing::customers::find_for_user(app.db(), "gail")
        .await
        .expect("q")
        .expect("customer");
    // A month later Stripe charges the renewal. The emulator has no clock to get there, so the
    // charge is made at the emulator and `invoice.paid` is sent as Stripe would (API 2026 shape:
    // the subscription under `parent.subscription_details`, the older `payment_intent` field too).
    let (_, pi) = app
        .emulator
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "1100"),
                ("currency", "usd"),
                ("customer", &customer.stripe_customer_id),
                (
                    "payment_method",
                    card["stripePaymentMethodId"].as_str().expect("pm"),
                ),
                ("confirm", "true"),
            ],
        )
        .await;
    let event = json!({
        "id": "evt_renewal_1", "object": "event", "type": "invoice.paid", "api_version": "2026-09-30.endive",
        "created": Utc::now().timestamp(), "livemode": false,
        "data": {"object": {"id": "in_renewal_1", "object": "invoice", "status": "paid", "customer": customer.stripe_customer_id,
            "amount_paid": 1100, "currency": "usd", "payment_intent": pi["id"],
            "parent": {"type": "subscription_details", "subscription_details": {"subscription": row.stripe_subscription_id}}}}
    })
    .to_string();
    let sig = tollgate::webhooks::signature::sign(
        crate::helpers::WEBHOOK_SECRET,
        Utc::now().timestamp(),
        event.as_bytes(),
    );
    assert_eq!(app.post_webhook(&event, Some(&sig)).await.status(), 200);
    let history = crate::helpers::eventually(
        std::time::Duration::from_secs(10),
        "renewal recorded",
        || async {
            let history = app
                .graphql(
                    "{ payments { totalCount edges { node { status amount { amount } } } } }",
                    json!({}),
                    Some(&token),
                )
                .await;
            if history["data"]["payments"]["totalCount"] == 2 {
                Ok(history)
            } else {
                Err(history)
            }
        },
    )
    .await;
    assert_eq!(
        history["data"]["payments"]["edges"][0]["node"]["status"], "SUCCEEDED",
        "{history}"
    );
    let linked = entity::payments::Entity::find()
        .filter(entity::payments::Column::StripeInvoiceId.eq("in_renewal_1"))
        .one(app.db())
        .await
        .expect("query")
        .expect("renewal payment");
    assert_eq!(
        linked.subscription_id,
        Some(row.id),
        "linked to the subscription"
    );
}

/// A monthly USD price offering a `days`-day trial, mirrored; returns its Tollgate id.
async fn monthly_price_with_trial(app: &TestApp, amount: i64, days: u32) -> String {
    let (_, product) = app
        .emulator
        .post("/v1/products", &[("name", "Trial")])
        .await;
    let product = product["id"].as_str().expect("product id").to_string();
    let (amount, days) = (amount.to_string(), days.to_string());
    let (s, price) = app
        .emulator
        .post(
            "/v1/prices",
            &[
                ("product", product.as_str()),
                ("currency", "usd"),
                ("unit_amount", amount.as_str()),
                ("recurring[interval]", "month"),
                ("recurring[trial_period_days]", days.as_str()),
            ],
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::OK, "{price}");
    tollgate::billing::sync::sync_catalog(app.db(), &app.state.stripe, &|_, _| {})
        .await
        .expect("sync");
    let row = entity::prices::Entity::find()
        .filter(entity::prices::Column::StripePriceId.eq(price["id"].as_str().expect("id")))
        .one(app.db())
        .await
        .expect("query")
        .expect("mirrored");
    row.id.to_string()
}

/// The price's trial is an offer the client takes by passing `trialDays`: without it there is no
/// trial, as before; with it the existing 1–730 rule governs, whatever the price offers.
/// `createSubscription` with a trial of `days`, as `token`.
async fn subscribe_with_trial(app: &TestApp, price: &str, days: i64, token: &str) -> Value {
    app.graphql(
        SUBSCRIBE,
        json!({"input": {"priceId": price, "trialDays": days}}),
        Some(token),
    )
    .await
}

#[tokio::test]
async fn subscriptions_take_a_price_trial_only_when_asked() {
    let app = spawn_app().await;
    let token = app.token("dora", false);
    let price = monthly_price_with_trial(&app, 1100, 14).await;
    let offer = app
        .graphql(
            "query { products { prices { id recurring { trialPeriodDays } } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        offer["data"]["products"][0]["prices"][0],
        json!({"id": price, "recurring": {"trialPeriodDays": 14}})
    );

    // No `trialDays`: no trial, the first payment is due now.
    let body = app
        .graphql(
            SUBSCRIBE,
            json!({"input": {"priceId": price}}),
            Some(&token),
        )
        .await;
    let sub = &body["data"]["createSubscription"]["subscription"];
    assert_eq!(sub["status"], "INCOMPLETE", "{body}");
    assert_eq!(sub["trialEnd"], Value::Null);
    assert!(body["data"]["createSubscription"]["clientSecret"].is_string());

    // The offer, as the SPA passes it (another customer: dora now holds this product).
    let body = subscribe_with_trial(&app, &price, 14, &app.token("erin", false)).await;
    let sub = &body["data"]["createSubscription"]["subscription"];
    assert_eq!(sub["status"], "TRIALING", "{body}");
    assert!(
        (13..=14).contains(&days_from_now(&sub["trialEnd"])),
        "{sub}"
    );

    // Longer than the offer is free service the price does not give: refused for a customer…
    let body = subscribe_with_trial(&app, &price, 30, &token).await;
    assert_eq!(error_code(&body), Some("INVALID_INPUT"), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "trialDays");
    // …and so is any trial on a price that offers none.
    let plain = monthly_price(&app, 700).await;
    let body = subscribe_with_trial(&app, &plain, 7, &token).await;
    assert_eq!(error_code(&body), Some("INVALID_INPUT"), "{body}");
    // An admin may grant a longer one (within Stripe's 730 days).
    let body = subscribe_with_trial(&app, &price, 30, &app.token("root", true)).await;
    let sub = &body["data"]["createSubscription"]["subscription"];
    assert_eq!(sub["status"], "TRIALING", "{body}");
    assert!(
        (29..=30).contains(&days_from_now(&sub["trialEnd"])),
        "{sub}"
    );
    for days in [731, 0, -14] {
        let body = subscribe_with_trial(&app, &price, days, &token).await;
        assert_eq!(error_code(&body), Some("INVALID_INPUT"), "{days}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "trialDays");
    }
}
