//! The demo catalog: a few products with one-time and recurring prices in USD, EUR, KRW and
//! JPY, created in whatever Stripe account is configured (the emulator in the demo); the Pro
//! plan's prices offer a 14-day free trial. Running it twice creates nothing new: products are
//! found by their `tollgate_demo` metadata.

use std::collections::HashMap;

use sea_orm::ConnectionTrait;

use crate::{
    billing::{
        catalog::{self, NewProduct, Recurrence},
        sync::{self, Report, SyncError},
    },
    money::{Currency, Money},
    stripe::{IdempotencyKey, StripeClient, StripeError},
};

struct DemoPrice {
    amount: &'static str,
    currency: &'static str,
    monthly: bool,
    /// Days of free trial the (monthly) price offers.
    trial_days: Option<u32>,
}

struct DemoProduct {
    key: &'static str,
    name: &'static str,
    description: &'static str,
    features: &'static [&'static str],
    prices: &'static [DemoPrice],
}

const fn price(amount: &'static str, currency: &'static str, monthly: bool) -> DemoPrice {
    DemoPrice {
        amount,
        currency,
        monthly,
        trial_days: None,
    }
}

/// A monthly price with a free trial of `days`.
const fn monthly_with_trial(amount: &'static str, currency: &'static str, days: u32) -> DemoPrice {
    DemoPrice {
        amount,
        currency,
        monthly: true,
        trial_days: Some(days),
    }
}

const CATALOG: &[DemoProduct] = &[
    DemoProduct {
        key: "ebook",
        name: "Rust Payments Handbook (e-book)",
        description: "A one-time purchase: the e-book, yours to keep.",
        features: &["PDF and EPUB", "Free updates"],
        prices: &[
            price("19.00", "usd", false),
            price("17.50", "eur", false),
            price("25000", "krw", false),
            price("2800", "jpy", false),
        ],
    },
    DemoProduct {
        key: "pro",
        name: "Tollgate Pro",
        description: "Monthly subscription with priority support.",
        features: &[
            "Unlimited projects",
            "Priority support",
            "14-day trial available",
        ],
        prices: &[
            monthly_with_trial("12.00", "usd", 14),
            monthly_with_trial("11.00", "eur", 14),
            monthly_with_trial("15000", "krw", 14),
            monthly_with_trial("1600", "jpy", 14),
        ],
    },
    DemoProduct {
        key: "sticker",
        name: "Sticker pack",
        description: "Five vinyl stickers.",
        features: &["Weatherproof"],
        prices: &[price("4.50", "usd", false), price("4.00", "eur", false)],
    },
];

/// What seeding did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub products_created: usize,
    pub prices_created: usize,
    /// The final mirror of the whole catalog.
    pub catalog: Report,
}

impl std::fmt::Display for SeedReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} products and {} prices created in Stripe; catalog sync: {}",
            self.products_created, self.prices_created, self.catalog
        )
    }
}

/// Creates the demo catalog in Stripe where it is missing, then mirrors the whole catalog.
pub async fn seed(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
) -> Result<SeedReport, SyncError> {
    let (mut products_created, mut prices_created) = (0, 0);
    let existing = sync::sync_catalog(db, stripe, &|_, _| {}).await?;
    tracing::debug!(%existing, "catalog before seeding");
    let mirrored = catalog::list_products(db, false).await?;
    for demo in CATALOG {
        let already = mirrored.iter().any(|p| {
            p.product
                .metadata
                .get("tollgate_demo")
                .and_then(|v| v.as_str())
                == Some(demo.key)
        });
        if !already {
            prices_created += seed_product(db, stripe, demo).await?;
            products_created += 1;
        }
    }
    let catalog = sync::sync_catalog(db, stripe, &|_, _| {}).await?;
    Ok(SeedReport {
        products_created,
        prices_created,
        catalog,
    })
}

/// One demo product and its prices, created in Stripe under keys of their own (so running the
/// demo twice creates them once); how many prices were created.
async fn seed_product(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    demo: &DemoProduct,
) -> Result<usize, SyncError> {
    let key = |suffix: &str| IdempotencyKey::new(format!("tollgate-demo-{}-{suffix}", demo.key));
    let local = |e: &dyn std::fmt::Display| SyncError::Stripe(StripeError::Local(e.to_string()));
    let product = catalog::create_product(
        db,
        stripe,
        &NewProduct {
            name: demo.name.into(),
            description: Some(demo.description.into()),
            features: demo.features.iter().map(|f| f.to_string()).collect(),
            metadata: HashMap::from([("tollgate_demo".to_string(), demo.key.to_string())]),
        },
        Some(&key("product")?),
    )
    .await?;
    for p in demo.prices {
        let currency = Currency::parse(p.currency).map_err(|e| local(&e))?;
        let money = Money::parse_chargeable(p.amount, &currency).map_err(|e| local(&e))?;
        let recurring = p.monthly.then_some(Recurrence {
            interval: entity::PriceInterval::Month,
            interval_count: 1,
            trial_period_days: p.trial_days,
        });
        catalog::create_price(
            db,
            stripe,
            &product,
            &money,
            recurring.as_ref(),
            Some(&key(&format!("price-{}", p.currency))?),
        )
        .await?;
    }
    Ok(demo.prices.len())
}
