//! DataLoader batching: nested objects of a page cost one query per kind, not one per row.
//! A loader is created per request, so nothing cached crosses users.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{customers, refunds};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::billing;

/// The refunds of a payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PaymentRefundsKey(pub Uuid);

/// A customer by Tollgate id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CustomerKey(pub Uuid);

pub struct Loaders {
    db: DatabaseConnection,
}

/// Cached for the request's lifetime only, so list resolvers can prime it (`prime_customers`)
/// and nested fields then resolve without scheduling a batch at all.
pub type RequestLoader = DataLoader<Loaders, HashMapCache>;

pub fn request_loader(db: DatabaseConnection) -> RequestLoader {
    // A couple of milliseconds lets every row of a page register its key before the batch
    // query goes out.
    DataLoader::with_cache(Loaders { db }, tokio::spawn, HashMapCache::default())
        .delay(std::time::Duration::from_millis(2))
}

impl Loader<PaymentRefundsKey> for Loaders {
    type Value = Vec<refunds::Model>;
    type Error = Arc<crate::error::ApiError>;

    async fn load(
        &self,
        keys: &[PaymentRefundsKey],
    ) -> Result<HashMap<PaymentRefundsKey, Self::Value>, Self::Error> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = billing::refunds::for_payments(&self.db, &ids)
            .await
            .map_err(Arc::new)?;
        let mut out: HashMap<PaymentRefundsKey, Vec<refunds::Model>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for r in rows {
            out.entry(PaymentRefundsKey(r.payment_id))
                .or_default()
                .push(r);
        }
        Ok(out)
    }
}

impl Loader<CustomerKey> for Loaders {
    type Value = customers::Model;
    type Error = Arc<crate::error::ApiError>;

    async fn load(
        &self,
        keys: &[CustomerKey],
    ) -> Result<HashMap<CustomerKey, Self::Value>, Self::Error> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = customers::Entity::find()
            .filter(customers::Column::Id.is_in(ids))
            .all(&self.db)
            .await
            .map_err(|e| Arc::new(e.into()))?;
        Ok(rows.into_iter().map(|c| (CustomerKey(c.id), c)).collect())
    }
}

/// Loads the customers of a page in one query and primes the loader with them.
pub async fn prime_customers(
    loader: &RequestLoader,
    db: &DatabaseConnection,
    customer_ids: &[Uuid],
) -> Result<(), crate::error::ApiError> {
    let mut ids = customer_ids.to_vec();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(());
    }
    let rows = customers::Entity::find()
        .filter(customers::Column::Id.is_in(ids))
        .all(db)
        .await?;
    loader
        .feed_many(rows.into_iter().map(|c| (CustomerKey(c.id), c)))
        .await;
    Ok(())
}
