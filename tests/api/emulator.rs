//! The emulator launcher's adjustments to localstripe, each checked against the Stripe
//! behaviour it imitates. These talk to the emulator directly, as Stripe's own docs describe.

use std::time::Duration;

use axum::{body::Bytes, extract::State, http::HeaderMap, routing::post, Router};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::helpers::Emulator;

#[tokio::test]
async fn binds_loopback_only_and_keeps_its_store_in_memory() {
    let pickle = std::env::temp_dir().join("localstripe.pickle");
    let before = std::fs::metadata(&pickle).and_then(|m| m.modified()).ok();
    let emu = Emulator::start().await;
    let (s, _) = emu
        .post("/v1/customers", &[("email", "a@example.com")])
        .await;
    assert_eq!(s, StatusCode::OK);
    let after = std::fs::metadata(&pickle).and_then(|m| m.modified()).ok();
    assert_eq!(
        before,
        after,
        "stock localstripe would pickle its store to {}",
        pickle.display()
    );
    // Stock localstripe listens on `::` (every interface, IPv6 included).
    let v6 = tokio::net::TcpStream::connect(("::1", emu.port)).await;
    assert!(v6.is_err(), "must not accept on ::1");
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", emu.port))
        .await
        .is_ok());
}

#[tokio::test]
async fn prices_api_create_retrieve_list_update() {
    let emu = Emulator::start().await;
    let (_, product) = emu.post("/v1/products", &[("name", "Gold")]).await;
    let product = product["id"].as_str().expect("id");
    let (s, monthly) = emu
        .post(
            "/v1/prices",
            &[
                ("product", product),
                ("currency", "usd"),
                ("unit_amount", "1250"),
                ("recurring[interval]", "month"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{monthly}");
    assert_eq!(monthly["object"], "price");
    assert_eq!(monthly["type"], "recurring");
    assert_eq!(monthly["unit_amount"], 1250);
    assert_eq!(monthly["recurring"]["interval"], "month");
    assert_eq!(monthly["recurring"]["interval_count"], 1);
    let id = monthly["id"].as_str().expect("id");
    assert!(id.starts_with("price_"));

    let (s, once) = emu
        .post(
            "/v1/prices",
            &[
                ("product", product),
                ("currency", "jpy"),
                ("unit_amount", "1000"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(once["type"], "one_time");
    assert_eq!(once["recurring"], Value::Null);

    let (s, fetched) = emu.get(&format!("/v1/prices/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(fetched["id"], monthly["id"]);

    let (_, list) = emu.get("/v1/prices?limit=1").await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["has_more"], true);
    let first = list["data"][0]["id"].as_str().expect("id");
    let (_, rest) = emu
        .get(&format!("/v1/prices?limit=10&starting_after={first}"))
        .await;
    assert_eq!(rest["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(rest["has_more"], false);

    let (s, archived) = emu
        .post(&format!("/v1/prices/{id}"), &[("active", "false")])
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(archived["active"], false);
    let (_, active) = emu.get("/v1/prices?active=true").await;
    assert_eq!(active["data"].as_array().map(Vec::len), Some(1));

    // Stripe validates what it is given.
    let (s, err) = emu
        .post(
            "/v1/prices",
            &[
                ("product", product),
                ("currency", "usd"),
                ("unit_amount", "-5"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{err}");
    let (s, _) = emu
        .post(
            "/v1/prices",
            &[
                ("product", "prod_missing"),
                ("currency", "usd"),
                ("unit_amount", "5"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// Today's Stripe takes `recurring[trial_period_days]` on a price and echoes it under
/// `recurring`; the plan behind the price carries it too.
#[tokio::test]
async fn prices_offer_a_trial_as_stripe_does() {
    let emu = Emulator::start().await;
    let (_, product) = emu.post("/v1/products", &[("name", "Gold")]).await;
    let product = product["id"].as_str().expect("id");
    let create = |trial: &'static str| {
        let product = product.to_string();
        let emu = &emu;
        async move {
            emu.post(
                "/v1/prices",
                &[
                    ("product", product.as_str()),
                    ("currency", "usd"),
                    ("unit_amount", "1250"),
                    ("recurring[interval]", "month"),
                    ("recurring[trial_period_days]", trial),
                ],
            )
            .await
        }
    };
    let (s, price) = create("14").await;
    assert_eq!(s, StatusCode::OK, "{price}");
    assert_eq!(price["recurring"]["trial_period_days"], 14);
    let id = price["id"].as_str().expect("id");
    let (_, fetched) = emu.get(&format!("/v1/prices/{id}")).await;
    assert_eq!(fetched["recurring"]["trial_period_days"], 14);
    let (_, plan) = emu.get(&format!("/v1/plans/{id}")).await;
    assert_eq!(plan["trial_period_days"], 14, "{plan}");
    let (_, listed) = emu.get("/v1/prices?limit=10").await;
    assert_eq!(listed["data"][0]["recurring"]["trial_period_days"], 14);
    for bad in ["731", "-1", "two weeks"] {
        let (s, err) = create(bad).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {err}");
        assert_eq!(
            err["error"]["param"], "recurring[trial_period_days]",
            "{bad}: {err}"
        );
    }
}

#[tokio::test]
async fn idempotency_keys_replay_or_refuse() {
    let emu = Emulator::start().await;
    let form = [("amount", "1250"), ("currency", "usd")];
    let (s1, first) = emu
        .post_with("/v1/payment_intents", &form, Some("key-1"))
        .await;
    let (s2, second) = emu
        .post_with("/v1/payment_intents", &form, Some("key-1"))
        .await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(
        first, second,
        "same key + same params replays the first response"
    );
    let (s3, other) = emu
        .post_with(
            "/v1/payment_intents",
            &[("amount", "999"), ("currency", "usd")],
            Some("key-1"),
        )
        .await;
    assert_eq!(s3, StatusCode::BAD_REQUEST);
    assert_eq!(other["error"]["type"], "idempotency_error");
    let (_, third) = emu
        .post_with("/v1/payment_intents", &form, Some("key-2"))
        .await;
    assert_ne!(third["id"], first["id"], "another key is another request");
    let (_, all) = emu.get("/v1/payment_intents?limit=100").await;
    assert_eq!(all["data"].as_array().map(Vec::len), Some(2));
}

async fn customer(emu: &Emulator) -> String {
    let (_, c) = emu
        .post("/v1/customers", &[("email", "c@example.com")])
        .await;
    c["id"].as_str().expect("customer id").to_string()
}

#[tokio::test]
async fn card_errors_and_three_d_secure_look_like_stripe() {
    let emu = Emulator::start().await;
    let cus = customer(&emu).await;
    let pay = |pm: &'static str| {
        let cus = cus.clone();
        let emu = &emu;
        async move {
            emu.post(
                "/v1/payment_intents",
                &[
                    ("amount", "1250"),
                    ("currency", "usd"),
                    ("customer", &cus),
                    ("payment_method", pm),
                    ("confirm", "true"),
                ],
            )
            .await
        }
    };
    let (s, ok) = pay("pm_card_visa").await;
    assert_eq!(
        (s, ok["status"].as_str()),
        (StatusCode::OK, Some("succeeded"))
    );

    let (s, declined) = pay("pm_card_visa_chargeDeclined").await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(declined["error"]["type"], "card_error");
    assert_eq!(declined["error"]["code"], "card_declined");
    assert_eq!(declined["error"]["decline_code"], "generic_decline");
    assert_eq!(
        declined["error"]["payment_intent"]["status"],
        "requires_payment_method"
    );

    let (_, broke) = pay("pm_card_visa_chargeDeclinedInsufficientFunds").await;
    assert_eq!(broke["error"]["decline_code"], "insufficient_funds");

    let (s, at_charge) = pay("pm_card_chargeCustomerFail").await;
    assert_eq!(
        s,
        StatusCode::PAYMENT_REQUIRED,
        "4000000000000341 declines when charged"
    );
    assert_eq!(at_charge["error"]["type"], "card_error");

    let (s, sca) = pay("pm_card_authenticationRequired").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(sca["status"], "requires_action");
    assert!(sca["next_action"].is_object());

    // 4000000000000002 is declined when attached to a customer.
    let (_, pm) = emu
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
    let pm = pm["id"].as_str().expect("pm id");
    let (s, attach) = emu
        .post(
            &format!("/v1/payment_methods/{pm}/attach"),
            &[("customer", &cus)],
        )
        .await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(attach["error"]["type"], "card_error");
    assert_eq!(attach["error"]["code"], "card_declined");
}

#[tokio::test]
async fn accepts_parameters_tollgate_sends_and_refuses_over_refunds() {
    let emu = Emulator::start().await;
    let (s, pi) = emu
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "5000"),
                ("currency", "usd"),
                ("payment_method", "pm_card_visa"),
                ("confirm", "true"),
                ("automatic_payment_methods[enabled]", "true"),
                ("automatic_payment_methods[allow_redirects]", "never"),
                ("description", "order 42"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{pi}");
    assert_eq!(pi["automatic_payment_methods"]["enabled"], true);
    assert_eq!(pi["description"], "order 42");
    let pi = pi["id"].as_str().expect("id");

    let (s, over) = emu
        .post("/v1/refunds", &[("payment_intent", pi), ("amount", "9999")])
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{over}");
    assert_eq!(over["error"]["type"], "invalid_request_error");
    let (s, partial) = emu
        .post(
            "/v1/refunds",
            &[
                ("payment_intent", pi),
                ("amount", "3000"),
                ("reason", "requested_by_customer"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{partial}");
    assert_eq!(partial["reason"], "requested_by_customer");
    let (s, rest) = emu.post("/v1/refunds", &[("payment_intent", pi)]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        rest["amount"], 2000,
        "a refund without amount refunds what is left"
    );
    let (s, again) = emu.post("/v1/refunds", &[("payment_intent", pi)]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(again["error"]["code"], "charge_already_refunded");
}

#[tokio::test]
async fn subscriptions_take_prices_default_payment_methods_and_trials() {
    let emu = Emulator::start().await;
    let cus = customer(&emu).await;
    let (_, price) = emu.create_price("Pro", "usd", 1200, true).await;
    let pm = attached_card(&emu, &cus).await;

    let (s, sub) = emu
        .post(
            "/v1/subscriptions",
            &[
                ("customer", &cus),
                ("items[0][price]", &price),
                ("default_payment_method", &pm),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{sub}");
    assert_eq!(sub["status"], "active");
    assert_eq!(sub["default_payment_method"], pm.as_str());
    let item = &sub["items"]["data"][0];
    assert_eq!(item["price"]["id"], price.as_str());
    let period = item["current_period_end"].as_i64().unwrap_or(0)
        - item["current_period_start"].as_i64().unwrap_or(0);
    assert!(
        (28 * 86_400..=31 * 86_400).contains(&period),
        "a month: {period}"
    );

    let (s, trial) = emu
        .post(
            "/v1/subscriptions",
            &[
                ("customer", &cus),
                ("items[0][price]", &price),
                ("trial_period_days", "14"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{trial}");
    assert_eq!(trial["status"], "trialing");
    let trial_len =
        trial["trial_end"].as_i64().unwrap_or(0) - trial["trial_start"].as_i64().unwrap_or(0);
    assert_eq!(trial_len, 14 * 86_400);

    // A payment method of another customer is refused.
    let other = customer(&emu).await;
    let (s, _) = emu
        .post(
            "/v1/subscriptions",
            &[
                ("customer", &other),
                ("items[0][price]", &price),
                ("default_payment_method", &pm),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

/// Each delivery to the hook: its `Stripe-Signature` and the raw body.
pub(crate) type Delivery = (String, Bytes);

async fn collect(
    State(tx): State<mpsc::UnboundedSender<Delivery>>,
    headers: HeaderMap,
    body: Bytes,
) {
    let sig = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let _ = tx.send((sig, body));
}

/// A local webhook endpoint registered with the emulator (secret `whsec_emu`).
pub(crate) async fn webhook_collector(emu: &Emulator) -> mpsc::UnboundedReceiver<Delivery> {
    let (tx, rx) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            Router::new().route("/hook", post(collect)).with_state(tx),
        )
        .await;
    });
    emu.register_webhook(&format!("http://{addr}/hook"), "whsec_emu", None)
        .await;
    rx
}

#[tokio::test]
async fn emits_the_events_stripe_would() {
    let emu = Emulator::start().await;
    let mut rx = webhook_collector(&emu).await;

    let cus = customer(&emu).await;
    let (_, price) = emu.create_price("Pro", "usd", 1200, true).await;
    let (_, pm) = emu.get("/v1/payment_methods/pm_card_visa").await;
    let pm = pm["id"].as_str().expect("pm").to_string();
    emu.post(
        &format!("/v1/payment_methods/{pm}/attach"),
        &[("customer", &cus)],
    )
    .await;
    let (_, sub) = emu
        .post(
            "/v1/subscriptions",
            &[
                ("customer", &cus),
                ("items[0][price]", &price),
                ("default_payment_method", &pm),
            ],
        )
        .await;
    let sub = sub["id"].as_str().expect("sub").to_string();
    emu.post(
        &format!("/v1/subscriptions/{sub}"),
        &[("cancel_at_period_end", "true")],
    )
    .await;
    let (_, pi) = emu
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "700"),
                ("currency", "usd"),
                ("payment_method", "pm_card_visa"),
                ("confirm", "true"),
            ],
        )
        .await;
    let pi = pi["id"].as_str().expect("pi").to_string();
    emu.post("/v1/refunds", &[("payment_intent", &pi), ("amount", "100")])
        .await;

    let wanted = [
        "price.created",
        "payment_method.attached",
        "customer.subscription.created",
        "invoice.paid",
        "customer.subscription.updated",
        "payment_intent.created",
        "payment_intent.succeeded",
        "refund.created",
        "charge.refunded",
    ];
    let mut seen: Vec<(String, Value)> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !wanted
        .iter()
        .all(|w| seen.iter().any(|(_, e)| e["type"] == *w))
    {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((sig, body))) => {
                if let Ok(event) = serde_json::from_slice(&body) {
                    seen.push((sig, event));
                }
            }
            _ => break,
        }
    }
    let types: Vec<&str> = seen
        .iter()
        .filter_map(|(_, e)| e["type"].as_str())
        .collect();
    for w in wanted {
        assert!(types.contains(&w), "missing {w}; got {types:?}");
    }
    let (sig, updated) = seen
        .iter()
        .find(|(_, e)| e["type"] == "customer.subscription.updated")
        .expect("updated event");
    assert_eq!(updated["data"]["object"]["cancel_at_period_end"], true);
    assert_eq!(
        updated["data"]["previous_attributes"]["cancel_at_period_end"],
        false
    );
    assert!(updated["request"].is_object() && updated["pending_webhooks"] == 1);
    // Signed like Stripe: t=<time of this delivery attempt>,v1=<hmac>; the first attempt
    // leaves a second after the event was created.
    let created = updated["created"].as_i64().expect("created");
    let signed_at: i64 = sig
        .strip_prefix("t=")
        .and_then(|s| s.split(',').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{sig}"));
    assert!(
        (created..created + 10).contains(&signed_at) && sig.contains(",v1="),
        "{sig} for an event created at {created}"
    );
}

#[tokio::test]
async fn chaos_makes_requests_fail_on_purpose() {
    let emu = Emulator::start().await;
    emu.chaos("error", 2).await;
    let (s1, body) = emu.get("/v1/customers").await;
    let (s2, _) = emu.get("/v1/customers").await;
    let (s3, _) = emu.get("/v1/customers").await;
    assert_eq!(
        (s1, s2, s3),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::OK
        )
    );
    assert_eq!(body["error"]["type"], "api_error");
}

/// A POST to the emulator that expects no answer: the connection must close without one.
async fn post_expecting_no_answer(emu: &Emulator, path: &str, key: &str, form: &[(&str, &str)]) {
    let res = reqwest::Client::new()
        .post(format!(
            "{}{}",
            emu.base_url(),
            path.trim_start_matches('/')
        ))
        .basic_auth(crate::helpers::STRIPE_SECRET_KEY, Some(""))
        .header("Idempotency-Key", key)
        .form(form)
        .send()
        .await;
    let err = res.expect_err("the connection closes without an answer");
    assert!(!err.is_connect() && !err.is_timeout(), "{err:?}");
}

async fn customer_count(emu: &Emulator) -> usize {
    let (_, list) = emu.get("/v1/customers?limit=100").await;
    list["data"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn chaos_drops_connections_with_or_without_doing_the_work() {
    let emu = Emulator::start().await;
    // drop: Stripe did it, the answer never came; a replay of the key answers it.
    emu.chaos_with("drop", 1, &[("path", "/v1/customers")])
        .await;
    post_expecting_no_answer(
        &emu,
        "/v1/customers",
        "k-drop",
        &[("email", "a@example.com")],
    )
    .await;
    assert_eq!(customer_count(&emu).await, 1, "processed before the drop");
    let (s, replayed) = emu
        .post_with(
            "/v1/customers",
            &[("email", "a@example.com")],
            Some("k-drop"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(replayed["email"], "a@example.com");
    assert_eq!(customer_count(&emu).await, 1, "the replay created nothing");

    // drop_unprocessed: the same silence, but nothing happened.
    emu.chaos("drop_unprocessed", 1).await;
    post_expecting_no_answer(
        &emu,
        "/v1/customers",
        "k-lost",
        &[("email", "b@example.com")],
    )
    .await;
    assert_eq!(customer_count(&emu).await, 1, "not processed");
    let (s, _) = emu
        .post_with(
            "/v1/customers",
            &[("email", "b@example.com")],
            Some("k-lost"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "nothing to replay: the key runs afresh");
    assert_eq!(customer_count(&emu).await, 2);

    // Filters: a GET does not use up chaos meant for POSTs; rules with other filters hold
    // side by side, and a rule with the same filter replaces the earlier one.
    emu.chaos_with("error", 1, &[("method", "post")]).await;
    let (s, _) = emu.get("/v1/customers").await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = emu.post("/v1/customers", &[]).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    emu.chaos_with("error", 1, &[("method", "GET"), ("path", "/v1/customers")])
        .await;
    emu.chaos_with("error", 5, &[("method", "POST")]).await;
    emu.chaos_with("error", 1, &[("method", "POST")]).await;
    let (s, _) = emu.get("/v1/products").await;
    assert_eq!(s, StatusCode::OK, "another path");
    let (s, _) = emu.get("/v1/customers").await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    let (s, _) = emu.post("/v1/products", &[("name", "P")]).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    let (s, _) = emu.post("/v1/products", &[("name", "P")]).await;
    assert_eq!(s, StatusCode::OK, "the replacing rule had one request");
}

#[tokio::test]
async fn chaos_delay_answers_late_after_doing_the_work() {
    let emu = Emulator::start().await;
    emu.chaos_with("delay", 1, &[("seconds", "1.5")]).await;
    let started = std::time::Instant::now();
    let slow = emu.post("/v1/customers", &[("email", "slow@example.com")]);
    let watch = async {
        // The customer exists while the answer is still held back.
        crate::helpers::eventually(Duration::from_secs(5), "customer created", || async {
            if customer_count(&emu).await == 1 {
                Ok(started.elapsed())
            } else {
                Err(())
            }
        })
        .await
    };
    let ((s, body), seen_after) = tokio::join!(slow, watch);
    let answered_after = started.elapsed();
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(
        seen_after < answered_after && answered_after >= Duration::from_millis(1500),
        "created at {seen_after:?}, answered at {answered_after:?}"
    );
}

/// An endpoint that answers 503 to its first `failures` deliveries, then 200.
async fn flaky_hook(emu: &Emulator, failures: usize) -> mpsc::UnboundedReceiver<Delivery> {
    use std::sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let seen = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hook = move |headers: HeaderMap, body: Bytes| {
        let tx = tx.clone();
        let seen = seen.clone();
        async move {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let sig = headers
                .get("stripe-signature")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let _ = tx.send((sig, body));
            if n < failures {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            }
        }
    };
    tokio::spawn(async move {
        let _ = axum::serve(listener, Router::new().route("/hook", post(hook))).await;
    });
    emu.register_webhook(&format!("http://{addr}/hook"), "whsec_emu", None)
        .await;
    rx
}

#[tokio::test]
async fn failed_webhook_deliveries_are_retried_as_stripe_does() {
    let emu = Emulator::start().await;
    let mut rx = flaky_hook(&emu, 2).await;
    let (_, product) = emu.post("/v1/products", &[("name", "Retried")]).await;
    let mut bodies = vec![];
    for _ in 0..3 {
        let (sig, body) = tokio::time::timeout(Duration::from_secs(15), rx.recv())
            .await
            .expect("a delivery attempt within 15 s")
            .expect("hook running");
        assert!(sig.starts_with("t=") && sig.contains(",v1="), "{sig}");
        bodies.push(body);
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "same event each time"
    );
    let event: Value = serde_json::from_slice(&bodies[0]).expect("JSON");
    assert_eq!(event["data"]["object"]["id"], product["id"]);
    let deliveries = crate::helpers::eventually(Duration::from_secs(5), "delivered", || async {
        let d = emu.deliveries().await;
        if d.iter().any(|d| d["delivered"] == true) {
            Ok(d)
        } else {
            Err(d)
        }
    })
    .await;
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(deliveries[0]["event"], event["id"]);
    assert_eq!(deliveries[0]["attempts"], 3);
    assert_eq!(deliveries[0]["last_status"], 200);
}

#[tokio::test]
async fn confirm_takes_a_payment_method_and_cancel_works() {
    let emu = Emulator::start().await;
    let (_, pi) = emu
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "800"),
                ("currency", "eur"),
                ("automatic_payment_methods[enabled]", "true"),
            ],
        )
        .await;
    assert_eq!(pi["status"], "requires_payment_method");
    assert!(pi["client_secret"]
        .as_str()
        .is_some_and(|s| s.contains("_secret_")));
    let id = pi["id"].as_str().expect("id");
    // Stock localstripe answers 500 "Not implemented" here.
    let (s, confirmed) = emu
        .post(
            &format!("/v1/payment_intents/{id}/confirm"),
            &[("payment_method", "pm_card_visa")],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{confirmed}");
    assert_eq!(confirmed["status"], "succeeded");
    let (s, _) = emu
        .post(&format!("/v1/payment_intents/{id}/cancel"), &[])
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "a succeeded payment cannot be canceled"
    );

    let (_, open) = emu
        .post(
            "/v1/payment_intents",
            &[("amount", "800"), ("currency", "eur")],
        )
        .await;
    let open = open["id"].as_str().expect("id");
    let (s, canceled) = emu
        .post(&format!("/v1/payment_intents/{open}/cancel"), &[])
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(canceled["status"], "canceled");
    assert!(canceled["canceled_at"].is_i64());
}

/// `pm_card_visa` attached to `cus`; its id.
async fn attached_card(emu: &Emulator, cus: &str) -> String {
    let (_, pm) = emu.get("/v1/payment_methods/pm_card_visa").await;
    let pm = pm["id"].as_str().expect("pm").to_string();
    let (s, _) = emu
        .post(
            &format!("/v1/payment_methods/{pm}/attach"),
            &[("customer", cus)],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    pm
}

/// A customer paying by card (`pm_card_visa`, attached and the subscription's default) with a
/// 1200 usd monthly subscription, created with its `latest_invoice` expanded.
async fn card_subscription(emu: &Emulator) -> Value {
    let cus = customer(emu).await;
    let (_, price) = emu.create_price("Pro", "usd", 1200, true).await;
    let pm = attached_card(emu, &cus).await;
    let (s, sub) = emu
        .post(
            "/v1/subscriptions",
            &[
                ("customer", &cus),
                ("items[0][price]", &price),
                ("default_payment_method", &pm),
                ("expand[]", "latest_invoice"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{sub}");
    assert_eq!(sub["status"], "active");
    sub
}

#[tokio::test]
async fn invoices_list_their_payments_as_today_and_keep_the_legacy_fields() {
    let emu = Emulator::start().await;
    let sub = card_subscription(&emu).await;
    let invoice = &sub["latest_invoice"];
    let id = invoice["id"].as_str().expect("invoice id");
    assert_eq!(invoice["status"], "paid");
    // The legacy fields stay: the first PaymentIntent, its charge, the subscription.
    let pi = invoice["payment_intent"]
        .as_str()
        .expect("legacy payment_intent");
    assert!(pi.starts_with("pi_"), "{pi}");
    assert!(!invoice["charge"].is_null(), "legacy charge");
    assert_eq!(invoice["subscription"], sub["id"]);
    let (_, intent) = emu.get(&format!("/v1/payment_intents/{pi}")).await;
    assert_eq!(intent["status"], "succeeded");

    let payments = &invoice["payments"];
    assert_eq!(payments["object"], "list");
    assert_eq!(payments["has_more"], false);
    assert_eq!(
        payments["url"],
        format!("/v1/invoice_payments?invoice={id}").as_str()
    );
    assert_eq!(payments["data"].as_array().map(Vec::len), Some(1));
    let payment = &payments["data"][0];
    assert!(payment["id"]
        .as_str()
        .is_some_and(|p| p.starts_with("inpay_")));
    assert_eq!(payment["object"], "invoice_payment");
    assert_eq!(payment["invoice"], id);
    assert_eq!(payment["status"], "paid");
    assert_eq!(payment["amount_paid"], 1200);
    assert_eq!(payment["amount_requested"], 1200);
    assert_eq!(payment["currency"], "usd");
    assert_eq!(payment["is_default"], true);
    assert_eq!(payment["livemode"], false);
    assert!(payment["created"].is_i64());
    assert_eq!(payment["payment"]["type"], "payment_intent");
    assert_eq!(payment["payment"]["payment_intent"], pi);
    assert!(payment["status_transitions"]["paid_at"].is_i64());
    assert!(payment["status_transitions"]["canceled_at"].is_null());
    // Since API 2025-03-31 the subscription is also under `parent`.
    assert_eq!(invoice["parent"]["type"], "subscription_details");
    assert_eq!(
        invoice["parent"]["subscription_details"]["subscription"],
        sub["id"]
    );
    assert_eq!(
        invoice["parent"]["subscription_details"]["metadata"],
        serde_json::json!({})
    );

    // The API answers the same as the expansion.
    let (s, fetched) = emu.get(&format!("/v1/invoices/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(fetched["payments"], *payments);
    assert_eq!(fetched["parent"], invoice["parent"]);
}

#[tokio::test]
async fn an_invoice_payment_is_open_until_its_payment_intent_succeeds() {
    let emu = Emulator::start().await;
    let cus = customer(&emu).await;
    let (_, price) = emu.create_price("Pro", "usd", 900, true).await;
    let (s, sub) = emu
        .post(
            "/v1/subscriptions",
            &[
                ("customer", &cus),
                ("items[0][price]", &price),
                ("payment_behavior", "default_incomplete"),
                ("expand[]", "latest_invoice"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{sub}");
    let invoice = &sub["latest_invoice"];
    let id = invoice["id"].as_str().expect("invoice id");
    let pi = invoice["payment_intent"].as_str().expect("payment_intent");
    let open = &invoice["payments"]["data"][0];
    assert_eq!(open["status"], "open");
    assert_eq!(open["amount_paid"], Value::Null);
    assert_eq!(open["amount_requested"], 900);
    assert_eq!(open["payment"]["payment_intent"], pi);
    assert!(open["status_transitions"]["paid_at"].is_null());

    let (s, confirmed) = emu
        .post(
            &format!("/v1/payment_intents/{pi}/confirm"),
            &[("payment_method", "pm_card_visa")],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{confirmed}");
    let (_, paid) = emu.get(&format!("/v1/invoices/{id}")).await;
    assert_eq!(paid["status"], "paid");
    let payment = &paid["payments"]["data"][0];
    assert_eq!(payment["id"], open["id"], "the same payment, now paid");
    assert_eq!(payment["status"], "paid");
    assert_eq!(payment["amount_paid"], 900);
    assert!(payment["status_transitions"]["paid_at"].is_i64());
}

#[tokio::test]
async fn invoice_payments_api_lists_and_retrieves() {
    let emu = Emulator::start().await;
    let sub = card_subscription(&emu).await;
    let invoice = &sub["latest_invoice"];
    let id = invoice["id"].as_str().expect("invoice id");
    let payment = &invoice["payments"]["data"][0];
    let payment_id = payment["id"].as_str().expect("payment id");

    let (s, list) = emu.get(&format!("/v1/invoice_payments?invoice={id}")).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list["object"], "list");
    assert_eq!(list["has_more"], false);
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["data"][0], *payment);
    assert_eq!(
        list["data"][0]["payment"]["payment_intent"],
        invoice["payment_intent"]
    );

    let (s, one) = emu.get(&format!("/v1/invoice_payments/{payment_id}")).await;
    assert_eq!(s, StatusCode::OK, "{one}");
    assert_eq!(one, *payment);

    // Like Stripe: an unknown invoice or payment is `resource_missing`.
    let (s, missing) = emu.get("/v1/invoice_payments?invoice=in_missing").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{missing}");
    assert_eq!(missing["error"]["type"], "invalid_request_error");
    assert_eq!(missing["error"]["code"], "resource_missing");
    assert_eq!(missing["error"]["param"], "invoice");
    let (s, missing) = emu.get("/v1/invoice_payments/inpay_missing").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{missing}");
    assert_eq!(missing["error"]["code"], "resource_missing");
}

#[tokio::test]
async fn invoice_payment_paid_is_sent_to_webhooks_signed() {
    let emu = Emulator::start().await;
    let mut rx = webhook_collector(&emu).await;

    let sub = card_subscription(&emu).await;
    let invoice = &sub["latest_invoice"];
    let payment = &invoice["payments"]["data"][0];

    let mut seen: Vec<(String, Bytes, Value)> = Vec::new();
    let wanted = ["invoice.paid", "invoice_payment.paid"];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !wanted
        .iter()
        .all(|w| seen.iter().any(|(_, _, e)| e["type"] == *w))
    {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((sig, body))) => {
                let event = serde_json::from_slice(&body).expect("event JSON");
                seen.push((sig, body, event));
            }
            _ => break,
        }
    }
    let types: Vec<&str> = seen
        .iter()
        .filter_map(|(_, _, e)| e["type"].as_str())
        .collect();
    let paid: Vec<_> = seen
        .iter()
        .filter(|(_, _, e)| e["type"] == "invoice_payment.paid")
        .collect();
    assert_eq!(paid.len(), 1, "one invoice_payment.paid; got {types:?}");
    let (sig, body, event) = paid[0];
    let object = &event["data"]["object"];
    assert_eq!(object["object"], "invoice_payment");
    assert_eq!(object["id"], payment["id"]);
    assert_eq!(object["invoice"], invoice["id"]);
    assert_eq!(object["status"], "paid");
    assert_eq!(object["amount_paid"], 1200);
    assert_eq!(
        object["payment"]["payment_intent"],
        invoice["payment_intent"]
    );
    assert!(event["request"].is_object() && event["pending_webhooks"] == 1);
    // Signed like the other events: t=<time of the attempt>,v1=HMAC-SHA256 of "t.body".
    let signed_at: i64 = sig
        .strip_prefix("t=")
        .and_then(|s| s.split(',').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{sig}"));
    assert!(signed_at >= event["created"].as_i64().expect("created"));
    assert_eq!(
        *sig,
        tollgate::webhooks::signature::sign("whsec_emu", signed_at, body)
    );

    // Webhook payloads of invoices list the payments too.
    let (_, _, invoice_paid) = seen
        .iter()
        .find(|(_, _, e)| e["type"] == "invoice.paid")
        .expect("invoice.paid");
    let listed = &invoice_paid["data"]["object"]["payments"]["data"][0];
    assert_eq!(listed["id"], payment["id"]);
    assert_eq!(listed["status"], "paid");
}

/// https://docs.stripe.com/error-codes#resource-missing: "The ID provided is not valid. Either
/// the resource does not exist, or an ID for a different resource has been provided." A 404
/// `invalid_request_error` with `code` `resource_missing`, the object and id in the message
/// and the path argument in `param` (`intent` for PaymentIntents).
#[tokio::test]
async fn an_unknown_object_is_resource_missing_naming_it() {
    let emu = Emulator::start().await;
    for (path, object, id, param) in [
        (
            "/v1/payment_intents/pi_nowhere",
            "payment_intent",
            "pi_nowhere",
            "intent",
        ),
        ("/v1/customers/cus_nowhere", "customer", "cus_nowhere", "id"),
        ("/v1/charges/ch_nowhere", "charge", "ch_nowhere", "id"),
        (
            "/v1/subscriptions/sub_nowhere",
            "subscription",
            "sub_nowhere",
            "id",
        ),
    ] {
        let (s, body) = emu.get(path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {body}");
        let error = &body["error"];
        assert_eq!(error["type"], "invalid_request_error", "{body}");
        assert_eq!(error["code"], "resource_missing", "{body}");
        assert_eq!(error["param"], param, "{body}");
        assert_eq!(
            error["message"].as_str(),
            Some(format!("No such {object}: '{id}'").as_str()),
            "{body}"
        );
    }
}
