//! The catalog: mirrored from Stripe, served by `products`.

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::json;
use tollgate::{billing::catalog, demo};

use crate::helpers::spawn_app;

const PRODUCTS: &str = "query($all: Boolean) { products(activeOnly: $all) { id name active features
    prices { id currency active type unitAmount { amount minorUnits currency formatted } recurring { interval intervalCount trialPeriodDays } } } }";

#[tokio::test]
async fn demo_seed_serves_the_catalog() {
    let app = spawn_app().await;
    let report = demo::seed(app.db(), &app.state.stripe).await.expect("seed");
    assert_eq!((report.products_created, report.prices_created), (3, 10));
    let again = demo::seed(app.db(), &app.state.stripe)
        .await
        .expect("seed again");
    assert_eq!(
        (again.products_created, again.prices_created),
        (0, 0),
        "seeding is idempotent"
    );
    assert_eq!(again.catalog.unchanged, 13);

    let body = app.graphql(PRODUCTS, json!({"all": true}), None).await;
    let products = body["data"]["products"]
        .as_array()
        .expect("products")
        .clone();
    assert_eq!(products.len(), 3, "{body}");
    let pro = products
        .iter()
        .find(|p| p["name"] == "Tollgate Pro")
        .expect("Pro");
    let krw = pro["prices"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["currency"] == "krw"))
        .expect("KRW price");
    assert_eq!(
        krw["unitAmount"],
        json!({"amount": "15000", "minorUnits": "15000", "currency": "krw", "formatted": "₩15,000"})
    );
    assert_eq!(
        krw["recurring"],
        json!({"interval": "MONTH", "intervalCount": 1, "trialPeriodDays": 14}),
        "the Pro plan offers a 14-day trial"
    );
    let pro_trials: Vec<_> = pro["prices"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p["recurring"]["trialPeriodDays"].clone())
        .collect();
    assert_eq!(pro_trials, vec![json!(14); 4], "every Pro price: {pro}");
    assert_eq!(krw["type"], "RECURRING");
    let ebook = products
        .iter()
        .find(|p| p["name"].as_str().is_some_and(|n| n.contains("e-book")))
        .expect("ebook");
    let usd = ebook["prices"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["currency"] == "usd"))
        .expect("USD");
    assert_eq!(usd["unitAmount"]["amount"], "19.00");
    assert_eq!(usd["type"], "ONE_TIME");

    let id = pro["id"].as_str().expect("id");
    let one = app
        .graphql(
            "query($id: ID!) { product(id: $id) { name } }",
            json!({"id": id}),
            None,
        )
        .await;
    assert_eq!(one["data"]["product"]["name"], "Tollgate Pro");
    let none = app
        .graphql(
            "query { product(id: \"not-a-uuid\") { name } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(none["data"]["product"], serde_json::Value::Null);
}

#[tokio::test]
async fn sync_mirrors_exactly_and_deactivates() {
    let app = spawn_app().await;
    let emu = &app.emulator;
    let mut price_ids = vec![];
    for (name, currencies) in [
        ("A", ["usd", "eur"]),
        ("B", ["usd", "jpy"]),
        ("C", ["krw", "usd"]),
    ] {
        let (_, product) = emu.post("/v1/products", &[("name", name)]).await;
        let product = product["id"].as_str().expect("id").to_string();
        for (i, c) in currencies.iter().enumerate() {
            let mut form = vec![
                ("product", product.as_str()),
                ("currency", *c),
                ("unit_amount", "1000"),
            ];
            if i == 1 {
                form.push(("recurring[interval]", "month"));
            }
            let (s, price) = emu.post("/v1/prices", &form).await;
            assert_eq!(s, StatusCode::OK);
            price_ids.push(price["id"].as_str().expect("id").to_string());
        }
    }
    let first = tollgate::billing::sync::sync_catalog(app.db(), &app.state.stripe, &|_, _| {})
        .await
        .expect("sync");
    assert_eq!(first.created, 9, "3 products + 6 prices: {first}");
    let second = tollgate::billing::sync::sync_catalog(app.db(), &app.state.stripe, &|_, _| {})
        .await
        .expect("sync");
    assert_eq!(
        (
            second.created,
            second.updated,
            second.unchanged,
            second.deactivated
        ),
        (0, 0, 9, 0),
        "{second}"
    );

    emu.post(
        &format!("/v1/prices/{}", price_ids[0]),
        &[("active", "false")],
    )
    .await;
    let third = tollgate::billing::sync::sync_catalog(app.db(), &app.state.stripe, &|_, _| {})
        .await
        .expect("sync");
    assert_eq!(third.deactivated, 1, "{third}");
    assert_eq!(third.unchanged, 8);
    let body = app.graphql(PRODUCTS, json!({"all": true}), None).await;
    let prices: usize = body["data"]["products"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| p["prices"].as_array().map_or(0, Vec::len))
                .sum()
        })
        .unwrap_or(0);
    assert_eq!(
        prices, 5,
        "the inactive price is hidden from activeOnly listings"
    );
}

#[tokio::test]
async fn an_older_snapshot_never_overwrites_a_newer_one() {
    let app = spawn_app().await;
    let product = tollgate::stripe::objects::Product {
        id: "prod_x".into(),
        name: "New name".into(),
        description: None,
        active: true,
        marketing_features: vec![],
        metadata: Default::default(),
        deleted: false,
    };
    let now = Utc::now();
    let (_, applied) = catalog::apply_product(app.db(), &product, now)
        .await
        .expect("apply");
    assert_eq!(applied, catalog::Applied::Created);
    let stale = tollgate::stripe::objects::Product {
        name: "Old name".into(),
        ..product.clone()
    };
    let (row, applied) =
        catalog::apply_product(app.db(), &stale, now - chrono::Duration::seconds(5))
            .await
            .expect("apply");
    assert_eq!(applied, catalog::Applied::Stale);
    assert_eq!(row.name, "New name");
}

#[tokio::test]
async fn sync_catalog_picks_up_the_trial_a_price_offers() {
    let app = spawn_app().await;
    let emu = &app.emulator;
    let (_, product) = emu.post("/v1/products", &[("name", "Trial")]).await;
    let product = product["id"].as_str().expect("id").to_string();
    for (currency, trial) in [("usd", Some("30")), ("eur", None)] {
        let mut form = vec![
            ("product", product.as_str()),
            ("currency", currency),
            ("unit_amount", "1000"),
            ("recurring[interval]", "month"),
        ];
        if let Some(days) = trial {
            form.push(("recurring[trial_period_days]", days));
        }
        let (s, price) = emu.post("/v1/prices", &form).await;
        assert_eq!(s, StatusCode::OK, "{price}");
    }
    let summary = tollgate::billing::sync::sync_catalog(app.db(), &app.state.stripe, &|_, _| {})
        .await
        .expect("sync");
    assert_eq!(summary.created, 3, "{summary}");
    let body = app.graphql(PRODUCTS, json!({"all": true}), None).await;
    let trials: Vec<_> = body["data"]["products"][0]["prices"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["currency"].clone(),
                p["recurring"]["trialPeriodDays"].clone(),
            )
        })
        .collect();
    assert_eq!(
        trials,
        vec![(json!("eur"), json!(null)), (json!("usd"), json!(30))],
        "{body}"
    );
    let again = tollgate::billing::sync::sync_catalog(app.db(), &app.state.stripe, &|_, _| {})
        .await
        .expect("sync");
    assert_eq!(again.unchanged, 3, "the trial compares equal: {again}");
}

#[tokio::test]
async fn a_catalog_price_trial_outside_1_to_730_days_is_no_trial() {
    use tollgate::stripe::objects::Price;
    let app = spawn_app().await;
    let product: tollgate::stripe::objects::Product =
        serde_json::from_value(json!({"id": "prod_t", "name": "T"})).expect("product");
    let (product, _) = catalog::apply_product(app.db(), &product, Utc::now())
        .await
        .expect("apply");
    let price = |trial: serde_json::Value| -> Price {
        serde_json::from_value(json!({
            "id": "price_t", "product": "prod_t", "currency": "usd", "unit_amount": 500,
            "recurring": {"interval": "month", "interval_count": 1, "trial_period_days": trial}
        }))
        .expect("price")
    };
    let start = Utc::now();
    for (i, (trial, stored)) in [
        (json!(730), Some(730)),
        (json!(731), None),
        (json!(1), Some(1)),
        (json!(0), None),
        (json!(7), Some(7)),
        (json!(-7), None),
        (json!(7), Some(7)),
        (json!("7"), None),
        (json!(7), Some(7)),
        (json!(null), None),
    ]
    .into_iter()
    .enumerate()
    {
        let at = start + chrono::Duration::seconds(i64::try_from(i).expect("small"));
        let (row, _) = catalog::apply_price(app.db(), &price(trial.clone()), product.id, at)
            .await
            .expect("a bad trial never fails the price");
        assert_eq!(row.trial_period_days, stored, "trial {trial}");
        assert!(row.active, "the price stays for sale");
    }
}
