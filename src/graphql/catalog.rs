//! Catalog queries: products and their prices.

use async_graphql::{Context, Enum, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::{prices, products};
use uuid::Uuid;

use super::{context, money::MoneyType};
use crate::{billing::catalog, error::GqlResult};

#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// Products for sale, newest first, each with its prices. With `activeOnly` (the default)
    /// archived products and prices are left out.
    async fn products(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = true, desc = "Only products still for sale (default).")]
        active_only: bool,
    ) -> GqlResult<Vec<Product>> {
        let svc = context::services(ctx)?;
        let rows = catalog::list_products(&svc.db, active_only).await?;
        Ok(rows.into_iter().map(Product::from).collect())
    }

    /// One product by its Tollgate id, with all its prices; null when there is none.
    async fn product(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product's Tollgate id.")] id: ID,
    ) -> GqlResult<Option<Product>> {
        let svc = context::services(ctx)?;
        let Ok(id) = Uuid::parse_str(&id) else {
            return Ok(None);
        };
        let row = catalog::get_product(&svc.db, id).await?;
        Ok(row.map(Product::from))
    }
}

/// Something for sale, mirrored from Stripe.
pub struct Product {
    row: products::Model,
    prices: Vec<prices::Model>,
}

impl From<catalog::ProductWithPrices> for Product {
    fn from(p: catalog::ProductWithPrices) -> Self {
        Product {
            row: p.product,
            prices: p.prices,
        }
    }
}

/// Something for sale, mirrored from Stripe, with its prices.
#[Object]
impl Product {
    /// Tollgate's id for the product.
    pub(crate) async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    /// Stripe's id (`prod_…`).
    async fn stripe_product_id(&self) -> &str {
        &self.row.stripe_product_id
    }

    /// The product's name, as shoppers see it.
    async fn name(&self) -> &str {
        &self.row.name
    }

    /// What the product is, in a sentence or two.
    async fn description(&self) -> Option<&str> {
        self.row.description.as_deref()
    }

    /// Whether it is still for sale.
    async fn active(&self) -> bool {
        self.row.active
    }

    /// Whether a customer may hold several live subscriptions to it at once (its Stripe
    /// metadata `tollgate_multiple_subscriptions=true`); otherwise a second
    /// `createSubscription` is `ALREADY_SUBSCRIBED`.
    async fn allows_multiple_subscriptions(&self) -> bool {
        crate::billing::subscriptions::claims::allows_multiple(&self.row)
    }

    /// Marketing features, in display order.
    async fn features(&self) -> Vec<String> {
        self.row
            .features
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Its prices (only active ones when the product list was asked with `activeOnly`).
    async fn prices(&self) -> Vec<Price> {
        self.prices.iter().cloned().map(Price).collect()
    }

    /// When the product was created at Stripe.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }

    /// When the local copy last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
}

/// Whether a price is paid once or on a schedule.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum PriceType {
    /// Paid once (`createPaymentIntent` with `priceId`).
    OneTime,
    /// Paid on a schedule (`createSubscription`).
    Recurring,
}

/// How often a recurring price bills.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::PriceInterval")]
pub enum RecurringInterval {
    /// Every `intervalCount` days.
    Day,
    /// Every `intervalCount` weeks.
    Week,
    /// Every `intervalCount` months.
    Month,
    /// Every `intervalCount` years.
    Year,
}

/// The schedule of a recurring price: every `intervalCount` `interval`s.
#[derive(SimpleObject)]
pub struct Recurring {
    /// The unit of the schedule.
    pub interval: RecurringInterval,
    /// How many `interval`s between two charges.
    pub interval_count: i32,
    /// Days of free trial the price offers (Stripe's `recurring.trial_period_days`, 1–730);
    /// null when it offers none. Subscribing does not apply it by itself: pass it as
    /// `createSubscription(input: { trialDays })` to start with the trial.
    pub trial_period_days: Option<i32>,
}

/// A price of a product, in one currency.
pub struct Price(pub prices::Model);

/// What a product costs: once, or on a schedule, in one currency.
#[Object]
impl Price {
    /// Tollgate's id for the price (use it in `createPaymentIntent` / `createSubscription`).
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Stripe's id (`price_…`).
    async fn stripe_price_id(&self) -> &str {
        &self.0.stripe_price_id
    }

    /// Tollgate's id of the product it belongs to.
    async fn product_id(&self) -> ID {
        ID(self.0.product_id.to_string())
    }

    /// The amount charged per period (or once); null for prices without a fixed amount.
    async fn unit_amount(&self) -> Option<MoneyType> {
        self.0
            .unit_amount
            .map(|a| MoneyType::from_parts(a, &self.0.currency))
    }

    /// Lower-case ISO-4217 code.
    async fn currency(&self) -> &str {
        &self.0.currency
    }

    /// Paid once, or on a schedule.
    #[graphql(name = "type")]
    async fn price_type(&self) -> PriceType {
        if self.0.recurring_interval.is_some() {
            PriceType::Recurring
        } else {
            PriceType::OneTime
        }
    }

    /// The billing schedule; null for one-time prices.
    async fn recurring(&self) -> Option<Recurring> {
        Some(Recurring {
            interval: self.0.recurring_interval?.into(),
            interval_count: self.0.recurring_interval_count.unwrap_or(1),
            trial_period_days: self.0.trial_period_days,
        })
    }

    /// Whether it can be bought.
    async fn active(&self) -> bool {
        self.0.active
    }

    /// A short internal label for the price, if the merchant gave one.
    async fn nickname(&self) -> Option<&str> {
        self.0.nickname.as_deref()
    }
}

/// A product to sell (admin).
#[derive(async_graphql::InputObject)]
pub struct CreateProductInput {
    /// The product's name, as shoppers see it (1–250 characters).
    pub name: String,
    /// What the product is, in a sentence or two.
    pub description: Option<String>,
    /// Marketing features, in display order.
    #[graphql(default)]
    pub features: Vec<String>,
    /// One per click (at most 255 printable characters): a repeat answers the first result instead of doing it twice; the same key with another request is `IDEMPOTENCY_KEY_REUSED`.
    pub idempotency_key: Option<String>,
}

/// How often a new recurring price bills.
#[derive(async_graphql::InputObject)]
pub struct RecurringInput {
    /// The unit of the schedule.
    pub interval: RecurringInterval,
    /// Bill every this many intervals (at most one year in total).
    #[graphql(default = 1)]
    pub interval_count: i32,
}

/// A price for a product (admin).
#[derive(async_graphql::InputObject)]
pub struct CreatePriceInput {
    /// The product (Tollgate's id) the price is for.
    pub product_id: ID,
    /// Decimal amount in major units ("12.00"; "15000" for KRW).
    pub amount: String,
    /// Lower-case ISO-4217 code of a currency Stripe supports.
    pub currency: String,
    /// Omit for a one-time price.
    pub recurring: Option<RecurringInput>,
    /// Days of free trial the price offers (1–730; recurring prices only), sent to Stripe as
    /// `recurring[trial_period_days]` and shown as `recurring.trialPeriodDays`. Anything else is
    /// `INVALID_INPUT` with `field: "trialPeriodDays"`.
    pub trial_period_days: Option<i32>,
    /// One per click (at most 255 printable characters): a repeat answers the first result instead of doing it twice; the same key with another request is `IDEMPOTENCY_KEY_REUSED`.
    pub idempotency_key: Option<String>,
}

#[derive(Default)]
pub struct CatalogMutation;

#[Object]
impl CatalogMutation {
    /// Admin: creates a product in Stripe and in the catalog.
    async fn create_product(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product to create.")] input: CreateProductInput,
    ) -> GqlResult<Product> {
        let viewer = context::admin(ctx)?;
        let svc = context::services(ctx)?;
        let new = catalog::NewProduct {
            name: input.name,
            description: input.description,
            features: input.features,
            metadata: Default::default(),
        };
        let product = catalog::admin::create_product_as_admin(
            &svc.db,
            &svc.stripe,
            &viewer.user_id,
            &new,
            input.idempotency_key.as_deref(),
        )
        .await?;
        Ok(Product {
            row: product,
            prices: vec![],
        })
    }

    /// Admin: creates a price for a product in Stripe and in the catalog.
    async fn create_price(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The price to create.")] input: CreatePriceInput,
    ) -> GqlResult<Price> {
        let viewer = context::admin(ctx)?;
        let svc = context::services(ctx)?;
        let new = catalog::admin::NewPrice {
            product_id: input.product_id.to_string(),
            amount: input.amount,
            currency: input.currency,
            recurring: input.recurring.map(|r| catalog::admin::RecurrenceInput {
                interval: r.interval.into(),
                interval_count: r.interval_count,
            }),
            trial_period_days: input.trial_period_days,
        };
        let price = catalog::admin::create_price_as_admin(
            &svc.db,
            &svc.stripe,
            &viewer.user_id,
            &new,
            input.idempotency_key.as_deref(),
        )
        .await?;
        Ok(Price(price))
    }
}
