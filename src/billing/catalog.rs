//! The product catalog: products and prices live in Stripe and are mirrored here.
//!
//! - this file: reading the mirror (products with their prices);
//! - `mirror`: a Stripe product or price snapshot applied to the mirror (webhooks, API answers,
//!   `sync`), newest snapshot winning;
//! - `create`: creating a product or price in Stripe and mirroring it at once;
//! - `admin`: the admin API's creation, validated and idempotent.
//!
//! `billing::sync::catalog` mirrors the whole catalog from Stripe (`tollgate sync catalog`).

pub mod admin;
mod create;
mod mirror;

use entity::{prices, products};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

pub use create::{create_price, create_product, NewProduct, Recurrence};
pub use mirror::{apply_price, apply_product, find_product, Applied, CatalogError};

/// A product with its prices, loaded in two queries whatever the number of products.
#[derive(Debug, Clone)]
pub struct ProductWithPrices {
    pub product: products::Model,
    pub prices: Vec<prices::Model>,
}

/// Products, newest first, each with its prices (only active ones when `active_only`).
pub async fn list_products(
    db: &impl ConnectionTrait,
    active_only: bool,
) -> Result<Vec<ProductWithPrices>, DbErr> {
    let mut query = products::Entity::find()
        .order_by_desc(products::Column::CreatedAt)
        .order_by_asc(products::Column::Name);
    if active_only {
        query = query.filter(products::Column::Active.eq(true));
    }
    let products = query.all(db).await?;
    with_prices(db, products, active_only).await
}

/// One product by Tollgate id, with all its prices.
pub async fn get_product(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<ProductWithPrices>, DbErr> {
    let Some(product) = products::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    Ok(with_prices(db, vec![product], false).await?.pop())
}

async fn with_prices(
    db: &impl ConnectionTrait,
    products: Vec<products::Model>,
    active_only: bool,
) -> Result<Vec<ProductWithPrices>, DbErr> {
    if products.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<Uuid> = products.iter().map(|p| p.id).collect();
    let mut query = prices::Entity::find()
        .filter(prices::Column::ProductId.is_in(ids))
        .order_by_asc(prices::Column::Currency)
        .order_by_asc(prices::Column::UnitAmount);
    if active_only {
        query = query.filter(prices::Column::Active.eq(true));
    }
    let mut all_prices = query.all(db).await?;
    Ok(products
        .into_iter()
        .map(|product| {
            let (mine, rest): (Vec<_>, Vec<_>) = all_prices
                .drain(..)
                .partition(|p| p.product_id == product.id);
            all_prices = rest;
            ProductWithPrices {
                product,
                prices: mine,
            }
        })
        .collect())
}

/// Tollgate's id of a mirrored product, by Stripe id.
pub async fn product_id_of(
    db: &impl ConnectionTrait,
    stripe_id: &str,
) -> Result<Option<Uuid>, DbErr> {
    Ok(products::Entity::find()
        .filter(products::Column::StripeProductId.eq(stripe_id))
        .one(db)
        .await?
        .map(|p| p.id))
}
