//! The emulator's coupons, promotion codes, prorations and test clocks, each checked against the
//! Stripe documentation it follows. These talk to the emulator directly.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::Emulator;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A customer on a new test clock frozen at `frozen`, with `pm_card_visa` attached; (customer,
/// clock, payment method).
async fn clocked_customer(emu: &Emulator, frozen: i64) -> (String, String, String) {
    let (s, clock) = emu
        .post(
            "/v1/test_helpers/test_clocks",
            &[("frozen_time", &frozen.to_string())],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{clock}");
    let clock = clock["id"].as_str().expect("clock").to_string();
    let (s, cus) = emu.post("/v1/customers", &[("test_clock", &clock)]).await;
    assert_eq!(s, StatusCode::OK, "{cus}");
    assert_eq!(cus["test_clock"], clock.as_str());
    let cus = cus["id"].as_str().expect("customer").to_string();
    let pm = card(emu, &cus, "pm_card_visa").await;
    (cus, clock, pm)
}

async fn card(emu: &Emulator, cus: &str, test_pm: &str) -> String {
    let (s, pm) = emu
        .post(
            &format!("/v1/payment_methods/{test_pm}/attach"),
            &[("customer", cus)],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{pm}");
    pm["id"].as_str().expect("pm").to_string()
}

async fn coupon(emu: &Emulator, form: &[(&str, &str)]) -> String {
    let (s, c) = emu.post("/v1/coupons", form).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    c["id"].as_str().expect("coupon").to_string()
}

async fn promotion_code(emu: &Emulator, coupon: &str, extra: &[(&str, &str)]) -> Value {
    let mut form = vec![("promotion[coupon]", coupon)];
    form.extend_from_slice(extra);
    let (s, p) = emu.post("/v1/promotion_codes", &form).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    p
}

async fn subscribe(
    emu: &Emulator,
    cus: &str,
    pm: &str,
    price: &str,
    quantity: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut form = vec![
        ("customer", cus),
        ("items[0][price]", price),
        ("items[0][quantity]", quantity),
        ("default_payment_method", pm),
        ("expand[]", "latest_invoice"),
    ];
    form.extend_from_slice(extra);
    emu.post("/v1/subscriptions", &form).await
}

async fn payment_intent_count(emu: &Emulator) -> usize {
    let (_, list) = emu.get("/v1/payment_intents?limit=100").await;
    list["data"].as_array().map_or(0, Vec::len)
}

/// https://docs.stripe.com/billing/subscriptions/coupons and
/// https://docs.stripe.com/api/promotion_codes: a promotion code redeems its coupon on a
/// subscription; a 20 % `forever` coupon discounts the first invoice and every renewal
/// (https://docs.stripe.com/billing/testing/test-clocks advances time); both redemption counters
/// count it.
#[tokio::test]
async fn a_promotion_code_discounts_every_invoice_of_a_forever_coupon() {
    let emu = Emulator::start().await;
    let start = now();
    let (cus, clock, pm) = clocked_customer(&emu, start).await;
    let (_, price) = emu.create_price("Team", "usd", 1000, true).await;
    let c = coupon(
        &emu,
        &[
            ("percent_off", "20"),
            ("duration", "forever"),
            ("name", "20 off"),
        ],
    )
    .await;
    let promo = promotion_code(&emu, &c, &[("code", "TEAM20")]).await;
    assert_eq!(promo["promotion"]["coupon"], c.as_str(), "today's shape");
    assert_eq!(promo["coupon"]["id"], c.as_str(), "legacy shape");
    // Codes are matched case-insensitively.
    let (_, found) = emu.get("/v1/promotion_codes?code=team20").await;
    assert_eq!(found["data"][0]["id"], promo["id"]);
    let promo_id = promo["id"].as_str().expect("promo");
    let (s, sub) = subscribe(
        &emu,
        &cus,
        &pm,
        &price,
        "5",
        &[("discounts[0][promotion_code]", promo_id)],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{sub}");
    let invoice = &sub["latest_invoice"];
    assert_eq!(invoice["subtotal"], 5000);
    assert_eq!(invoice["total"], 4000, "5 × 10.00 × 0.8");
    assert_eq!(invoice["amount_paid"], 4000);
    assert_eq!(invoice["total_discount_amounts"][0]["amount"], 1000);
    assert_eq!(sub["discount"]["coupon"]["id"], c.as_str());
    assert_eq!(sub["discount"]["promotion_code"], promo_id);
    assert_eq!(sub["discounts"].as_array().map(Vec::len), Some(1));
    let (_, coupon_now) = emu.get(&format!("/v1/coupons/{c}")).await;
    assert_eq!(coupon_now["times_redeemed"], 1);
    let (_, promo_now) = emu.get(&format!("/v1/promotion_codes/{promo_id}")).await;
    assert_eq!(promo_now["times_redeemed"], 1);
    // A month and a day later the renewal is discounted the same.
    let later = (start + 32 * 86_400).to_string();
    let (s, _) = emu
        .post(
            &format!("/v1/test_helpers/test_clocks/{clock}/advance"),
            &[("frozen_time", later.as_str())],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let sub_id = sub["id"].as_str().expect("sub");
    let (_, renewed) = emu
        .get(&format!(
            "/v1/subscriptions/{sub_id}?expand[]=latest_invoice"
        ))
        .await;
    assert_ne!(renewed["latest_invoice"]["id"], invoice["id"]);
    assert_eq!(
        renewed["latest_invoice"]["billing_reason"],
        "subscription_cycle"
    );
    assert_eq!(renewed["latest_invoice"]["total"], 4000);
    assert_eq!(renewed["latest_invoice"]["status"], "paid");
    assert_eq!(
        renewed["items"]["data"][0]["current_period_start"],
        sub["items"]["data"][0]["current_period_end"],
        "the new period starts where the last ended"
    );
}

/// https://docs.stripe.com/api/promotion_codes/object (max_redemptions, expires_at,
/// restrictions.first_time_transaction) and https://docs.stripe.com/api/coupons/object
/// (applies_to): a code that cannot be redeemed is refused before anything is charged.
#[tokio::test]
async fn unredeemable_codes_are_refused_before_any_charge() {
    let emu = Emulator::start().await;
    let start = now();
    let (_, price) = emu.create_price("Team", "usd", 1000, true).await;
    let (other_product, _) = emu.create_price("Other", "usd", 500, true).await;
    let c = coupon(&emu, &[("percent_off", "10"), ("duration", "once")]).await;
    let once_only = promotion_code(&emu, &c, &[("max_redemptions", "1")]).await;
    let once_only = once_only["id"].as_str().expect("promo").to_string();
    let (a, _, a_pm) = clocked_customer(&emu, start).await;
    let (s, _) = subscribe(
        &emu,
        &a,
        &a_pm,
        &price,
        "1",
        &[("promotion_code", &once_only)],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "the first redemption");

    let (b, b_clock, b_pm) = clocked_customer(&emu, start).await;
    let before = payment_intent_count(&emu).await;
    let (s, err) = subscribe(
        &emu,
        &b,
        &b_pm,
        &price,
        "1",
        &[("discounts[0][promotion_code]", &once_only)],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{err}");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("maximum"));

    let expiring = promotion_code(&emu, &c, &[("expires_at", &(start + 60).to_string())]).await;
    let expiring = expiring["id"].as_str().expect("promo").to_string();
    let (s, _) = emu
        .post(
            &format!("/v1/test_helpers/test_clocks/{b_clock}/advance"),
            &[("frozen_time", &(start + 120).to_string())],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, err) = subscribe(
        &emu,
        &b,
        &b_pm,
        &price,
        "1",
        &[("discounts[0][promotion_code]", &expiring)],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{err}");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("expired"));

    let elsewhere = coupon(
        &emu,
        &[
            ("amount_off", "100"),
            ("currency", "usd"),
            ("duration", "once"),
            ("applies_to[products][0]", &other_product),
        ],
    )
    .await;
    let (s, err) = subscribe(&emu, &b, &b_pm, &price, "1", &[("coupon", &elsewhere)]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{err}");
    let eur = coupon(
        &emu,
        &[
            ("amount_off", "100"),
            ("currency", "eur"),
            ("duration", "once"),
        ],
    )
    .await;
    let (s, _) = subscribe(&emu, &b, &b_pm, &price, "1", &[("coupon", &eur)]).await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "an amount off in another currency"
    );
    assert_eq!(
        payment_intent_count(&emu).await,
        before,
        "nothing was charged"
    );

    // First-time-only: the customer who subscribed above has a prior transaction.
    let first_time = promotion_code(
        &emu,
        &c,
        &[("restrictions[first_time_transaction]", "true")],
    )
    .await;
    let first_time = first_time["id"].as_str().expect("promo").to_string();
    let (s, err) = subscribe(
        &emu,
        &a,
        &a_pm,
        &price,
        "1",
        &[("promotion_code", &first_time)],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{err}");
    let (s, _) = subscribe(
        &emu,
        &b,
        &b_pm,
        &price,
        "1",
        &[("promotion_code", &first_time)],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "a new customer may use it");
}

/// https://docs.stripe.com/currencies#zero-decimal and #three-decimal: an amount off is in the
/// coupon's currency's minor units, whatever their size.
#[tokio::test]
async fn amount_off_coupons_in_zero_and_three_decimal_currencies() {
    let emu = Emulator::start().await;
    for (currency, unit, off, expected) in [
        ("krw", 30_000, 5_000, 25_000),
        ("bhd", 12_000, 1_500, 10_500),
    ] {
        let (cus, _, pm) = clocked_customer(&emu, now()).await;
        let (_, price) = emu.create_price("Seat", currency, unit, true).await;
        let c = coupon(
            &emu,
            &[
                ("amount_off", &off.to_string()),
                ("currency", currency),
                ("duration", "forever"),
            ],
        )
        .await;
        let (s, sub) = subscribe(&emu, &cus, &pm, &price, "1", &[("coupon", &c)]).await;
        assert_eq!(s, StatusCode::OK, "{sub}");
        assert_eq!(sub["latest_invoice"]["total"], expected, "{currency}");
        assert_eq!(sub["latest_invoice"]["currency"], currency);
    }
}

/// https://docs.stripe.com/billing/subscriptions/prorations#preview-proration: a preview made
/// with a `proration_date` equals, to the minor unit, the invoice an update with the same date
/// and `proration_behavior=always_invoice` makes and charges at once; prorations are by the
/// second; a date outside the period is refused.
#[tokio::test]
async fn a_preview_with_a_proration_date_equals_the_update_it_previews() {
    let emu = Emulator::start().await;
    let start = now();
    let (cus, _, pm) = clocked_customer(&emu, start).await;
    let (product, price) = emu.create_price("Team", "usd", 1000, true).await;
    let (s, bigger) = emu
        .post(
            "/v1/prices",
            &[
                ("product", &product),
                ("currency", "usd"),
                ("unit_amount", "2500"),
                ("recurring[interval]", "month"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let bigger = bigger["id"].as_str().expect("price");
    let (_, sub) = subscribe(&emu, &cus, &pm, &price, "2", &[]).await;
    let sub_id = sub["id"].as_str().expect("sub");
    let item = sub["items"]["data"][0]["id"].as_str().expect("item");
    let period_start = sub["items"]["data"][0]["current_period_start"]
        .as_i64()
        .expect("start");
    let period_end = sub["items"]["data"][0]["current_period_end"]
        .as_i64()
        .expect("end");
    let at = period_start + 10 * 86_400 + 1234;
    let at_s = at.to_string();
    let (s, preview) = emu
        .post(
            "/v1/invoices/create_preview",
            &[
                ("customer", &cus),
                ("subscription", sub_id),
                ("subscription_details[items][0][id]", item),
                ("subscription_details[items][0][price]", bigger),
                ("subscription_details[items][0][quantity]", "3"),
                ("subscription_details[proration_date]", &at_s),
                ("subscription_details[proration_behavior]", "always_invoice"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{preview}");
    let (len, left) = ((period_end - period_start) as f64, (period_end - at) as f64);
    let credit = -(2000.0 * left / len).round() as i64;
    let charge = (7500.0 * left / len).round() as i64;
    let lines = preview["lines"]["data"].as_array().expect("lines");
    assert_eq!(lines.len(), 2, "{preview}");
    assert_eq!(lines[0]["amount"], credit);
    assert_eq!(
        lines[0]["parent"]["subscription_item_details"]["proration"],
        true
    );
    assert_eq!(lines[1]["amount"], charge);
    assert_eq!(lines[1]["quantity"], 3);
    assert_eq!(preview["total"], credit + charge);
    assert_eq!(
        preview["parent"]["subscription_details"]["subscription_proration_date"],
        at
    );
    // Nothing changed by previewing.
    let (_, unchanged) = emu.get(&format!("/v1/subscriptions/{sub_id}")).await;
    assert_eq!(unchanged["items"]["data"][0]["quantity"], 2);

    let (s, updated) = emu
        .post(
            &format!("/v1/subscriptions/{sub_id}"),
            &[
                ("items[0][id]", item),
                ("items[0][price]", bigger),
                ("items[0][quantity]", "3"),
                ("proration_date", &at_s),
                ("proration_behavior", "always_invoice"),
                ("payment_behavior", "error_if_incomplete"),
                ("expand[]", "latest_invoice"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{updated}");
    let invoice = &updated["latest_invoice"];
    assert_eq!(invoice["total"], preview["total"]);
    assert_eq!(invoice["status"], "paid", "always_invoice charges now");
    assert_eq!(invoice["billing_reason"], "subscription_update");
    assert_eq!(
        updated["items"]["data"][0]["id"], item,
        "the item is changed in place"
    );
    assert_eq!(updated["items"]["data"][0]["quantity"], 3);

    let (s, _) = emu
        .post(
            "/v1/invoices/create_preview",
            &[
                ("subscription", sub_id),
                ("subscription_details[items][0][id]", item),
                ("subscription_details[items][0][quantity]", "4"),
                (
                    "subscription_details[proration_date]",
                    &(period_end + 10).to_string(),
                ),
            ],
        )
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "a proration date after the period"
    );
}

/// https://docs.stripe.com/billing/subscriptions/pending-updates (error_if_incomplete): an update
/// whose invoice cannot be paid is not applied and answers the card error.
#[tokio::test]
async fn an_update_whose_charge_fails_is_not_applied() {
    let emu = Emulator::start().await;
    let (cus, _, _) = clocked_customer(&emu, now()).await;
    let (_, price) = emu.create_price("Team", "usd", 1000, true).await;
    // Attaching succeeds and the first charge too is made with the good card; then the
    // failing card becomes the subscription's default.
    let good = card(&emu, &cus, "pm_card_visa").await;
    let (_, sub) = subscribe(&emu, &cus, &good, &price, "1", &[]).await;
    let sub_id = sub["id"].as_str().expect("sub");
    let bad = card(&emu, &cus, "pm_card_chargeCustomerFail").await;
    let (s, _) = emu
        .post(
            &format!("/v1/subscriptions/{sub_id}"),
            &[("default_payment_method", &bad)],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let item = sub["items"]["data"][0]["id"].as_str().expect("item");
    let (s, err) = emu
        .post(
            &format!("/v1/subscriptions/{sub_id}"),
            &[
                ("items[0][id]", item),
                ("items[0][quantity]", "4"),
                ("proration_behavior", "always_invoice"),
                ("payment_behavior", "error_if_incomplete"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED, "{err}");
    assert_eq!(err["error"]["type"], "card_error");
    let (_, after) = emu.get(&format!("/v1/subscriptions/{sub_id}")).await;
    assert_eq!(after["items"]["data"][0]["quantity"], 1, "not applied");
    assert_eq!(after["status"], "active");
}

/// https://docs.stripe.com/api/subscriptions/cancel (cancellation_details): the feedback and
/// comment given with a cancel are kept; an unknown feedback value is refused.
#[tokio::test]
async fn a_cancel_keeps_its_feedback() {
    let emu = Emulator::start().await;
    let (cus, _, pm) = clocked_customer(&emu, now()).await;
    let (_, price) = emu.create_price("Team", "usd", 1000, true).await;
    let (_, sub) = subscribe(&emu, &cus, &pm, &price, "1", &[]).await;
    let sub_id = sub["id"].as_str().expect("sub");
    let (s, _) = emu
        .post(
            &format!("/v1/subscriptions/{sub_id}"),
            &[("cancellation_details[feedback]", "too_cheap")],
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, updated) = emu
        .post(
            &format!("/v1/subscriptions/{sub_id}"),
            &[
                ("cancel_at_period_end", "true"),
                ("cancellation_details[feedback]", "too_expensive"),
                ("cancellation_details[comment]", "we are a small team"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{updated}");
    assert_eq!(updated["cancellation_details"]["feedback"], "too_expensive");
    assert_eq!(
        updated["cancellation_details"]["comment"],
        "we are a small team"
    );
}

/// The events until every `wanted` type has arrived (or 10 s passed), as JSON.
async fn events_until(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<crate::emulator::Delivery>,
    wanted: &[&str],
) -> Vec<Value> {
    let mut seen: Vec<Value> = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !wanted.iter().all(|w| seen.iter().any(|e| e["type"] == *w)) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((_, body))) => {
                if let Ok(event) = serde_json::from_slice(&body) {
                    seen.push(event);
                }
            }
            _ => break,
        }
    }
    let types: Vec<&str> = seen.iter().filter_map(|e| e["type"].as_str()).collect();
    for w in wanted {
        assert!(types.contains(w), "missing {w}; got {types:?}");
    }
    seen
}

/// https://docs.stripe.com/api/events/types: creating a coupon and a promotion code sends
/// `coupon.created` and `promotion_code.created`; a change invoiced at once
/// (https://docs.stripe.com/billing/subscriptions/prorations) sends `invoice.created`,
/// `invoice.paid` (its discount in `total_discount_amounts`) and
/// `customer.subscription.updated`; a renewal on a test clock sends `invoice.paid` with
/// `billing_reason=subscription_cycle`.
#[tokio::test]
async fn discounts_changes_and_renewals_send_the_events_stripe_sends() {
    let emu = Emulator::start().await;
    let mut rx = crate::emulator::webhook_collector(&emu).await;
    let start = now();
    let (cus, clock, pm) = clocked_customer(&emu, start).await;
    let (_, price) = emu.create_price("Team", "usd", 1000, true).await;
    let c = coupon(&emu, &[("percent_off", "10"), ("duration", "forever")]).await;
    let promo = promotion_code(&emu, &c, &[("code", "TEN")]).await;
    let promo_id = promo["id"].as_str().expect("promo");
    let (_, sub) = subscribe(
        &emu,
        &cus,
        &pm,
        &price,
        "1",
        &[("promotion_code", promo_id)],
    )
    .await;
    let sub_id = sub["id"].as_str().expect("sub");
    let item = sub["items"]["data"][0]["id"].as_str().expect("item");
    events_until(
        &mut rx,
        &["coupon.created", "promotion_code.created", "invoice.paid"],
    )
    .await;

    let (s, _) = emu
        .post(
            &format!("/v1/subscriptions/{sub_id}"),
            &[
                ("items[0][id]", item),
                ("items[0][quantity]", "3"),
                ("proration_behavior", "always_invoice"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let seen = events_until(
        &mut rx,
        &[
            "invoice.created",
            "invoice.paid",
            "customer.subscription.updated",
        ],
    )
    .await;
    let paid = seen
        .iter()
        .find(|e| e["type"] == "invoice.paid")
        .expect("paid");
    assert_eq!(
        paid["data"]["object"]["billing_reason"],
        "subscription_update"
    );
    assert!(paid["data"]["object"]["total_discount_amounts"][0]["amount"].as_i64() > Some(0));
    let updated = seen
        .iter()
        .find(|e| e["type"] == "customer.subscription.updated")
        .expect("updated");
    assert_eq!(updated["data"]["object"]["items"]["data"][0]["quantity"], 3);

    let later = (start + 32 * 86_400).to_string();
    emu.post(
        &format!("/v1/test_helpers/test_clocks/{clock}/advance"),
        &[("frozen_time", later.as_str())],
    )
    .await;
    let seen = events_until(&mut rx, &["invoice.paid"]).await;
    let renewal = seen
        .iter()
        .find(|e| e["type"] == "invoice.paid")
        .expect("renewal");
    assert_eq!(
        renewal["data"]["object"]["billing_reason"],
        "subscription_cycle"
    );
    assert_eq!(renewal["data"]["object"]["total"], 2700, "3 × 10.00 × 0.9");
}

/// https://docs.stripe.com/invoicing/overview (a finalized invoice is numbered, the customer's
/// prefix and a sequence), https://docs.stripe.com/invoicing/hosted-invoice-page (its hosted
/// page and PDF, public), https://docs.stripe.com/api/invoices/invoice_lines (lines ten to a
/// page, `has_more`, `starting_after`).
#[tokio::test]
async fn finalized_invoices_are_numbered_hosted_and_page_their_lines() {
    let emu = Emulator::start().await;
    let (cus, _, pm) = clocked_customer(&emu, now()).await;
    for i in 0..11 {
        let amount = (100 + i).to_string();
        emu.post(
            "/v1/invoiceitems",
            &[("customer", &cus), ("amount", &amount), ("currency", "usd")],
        )
        .await;
    }
    let (_, price) = emu.create_price("Team", "usd", 1000, true).await;
    let (_, sub) = subscribe(&emu, &cus, &pm, &price, "1", &[]).await;
    let invoice = &sub["latest_invoice"];
    let number = invoice["number"].as_str().expect("numbered");
    assert!(number.ends_with("-0001"), "{number}");
    assert_eq!(invoice["amount_remaining"], 0);
    assert_eq!(invoice["lines"]["data"].as_array().map(Vec::len), Some(10));
    assert_eq!(invoice["lines"]["has_more"], true);
    let id = invoice["id"].as_str().expect("id");
    let last = invoice["lines"]["data"][9]["id"].as_str().expect("line id");
    let (s, rest) = emu
        .get(&format!(
            "/v1/invoices/{id}/lines?limit=10&starting_after={last}"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{rest}");
    assert_eq!(rest["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(rest["has_more"], false);
    for (url, kind) in [
        (&invoice["hosted_invoice_url"], "text/html"),
        (&invoice["invoice_pdf"], "application/pdf"),
    ] {
        // Public, as Stripe's are: no key.
        let res = reqwest::get(url.as_str().expect("url"))
            .await
            .expect("page");
        assert_eq!(res.status(), StatusCode::OK);
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(content_type.starts_with(kind), "{content_type}");
    }
}

/// https://docs.stripe.com/receipts and https://docs.stripe.com/api/charges/object
/// (`receipt_url`, `receipt_number`): a succeeded charge links a public receipt page; a failed
/// one has none.
#[tokio::test]
async fn a_succeeded_charge_has_a_public_receipt() {
    let emu = Emulator::start().await;
    let (s, pi) = emu
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "750"),
                ("currency", "usd"),
                ("payment_method", "pm_card_visa"),
                ("confirm", "true"),
                ("expand[]", "latest_charge"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{pi}");
    let charge = &pi["latest_charge"];
    let url = charge["receipt_url"].as_str().expect("receipt url");
    assert!(charge["receipt_number"]
        .as_str()
        .is_some_and(|n| n.len() == 9));
    let res = reqwest::get(url).await.expect("receipt");
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap_or_default();
    assert!(page.contains("750 USD"), "{page}");
    let (_, declined) = emu
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "750"),
                ("currency", "usd"),
                ("payment_method", "pm_card_visa_chargeDeclined"),
                ("confirm", "true"),
            ],
        )
        .await;
    let charge_id = declined["error"]["charge"]
        .as_str()
        .unwrap_or_else(|| panic!("a declined charge: {declined}"));
    let (_, failed) = emu.get(&format!("/v1/charges/{charge_id}")).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["receipt_url"], Value::Null, "{failed}");
}
