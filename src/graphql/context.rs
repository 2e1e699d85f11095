//! What resolvers read from the GraphQL context: the services they use (never the whole app)
//! and who is asking.

use std::{sync::Arc, time::Duration};

use async_graphql::Context;
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use crate::{auth::Viewer, error::ApiError, live::LiveHub, stripe::StripeClient};

/// Everything a resolver may use, attached to each request by the HTTP and WebSocket edges.
#[derive(Clone)]
pub struct Services {
    pub db: DatabaseConnection,
    pub stripe: StripeClient,
    pub live: LiveHub,
    /// How long after a payment its owner may refund it; None: admins only.
    pub owner_refund_window: Option<Duration>,
    /// Wakes this process's webhook workers (an admin replay queued an event).
    pub webhook_wakeup: Arc<Notify>,
}

/// Who made the request; `None` for anonymous callers.
#[derive(Debug, Clone, Default)]
pub struct RequestViewer(pub Option<Viewer>);

pub fn services<'a>(ctx: &Context<'a>) -> Result<&'a Services, ApiError> {
    ctx.data::<Services>().map_err(|e| {
        ApiError::internal(anyhow::anyhow!(
            "services missing from context: {}",
            e.message
        ))
    })
}
/// The request's DataLoader.
pub fn loader<'a>(ctx: &Context<'a>) -> Result<&'a super::loaders::RequestLoader, ApiError> {
    ctx.data::<super::loaders::RequestLoader>().map_err(|e| {
        ApiError::internal(anyhow::anyhow!(
            "loader missing from context: {}",
            e.message
        ))
    })
}

/// The authenticated viewer, or `UNAUTHENTICATED`.
pub fn viewer<'a>(ctx: &Context<'a>) -> Result<&'a Viewer, ApiError> {
    ctx.data::<RequestViewer>()
        .ok()
        .and_then(|v| v.0.as_ref())
        .ok_or(ApiError::Unauthenticated)
}

/// The viewer, who must be an admin: `FORBIDDEN` otherwise.
pub fn admin<'a>(ctx: &Context<'a>) -> Result<&'a Viewer, ApiError> {
    let viewer = viewer(ctx)?;
    if viewer.is_admin() {
        Ok(viewer)
    } else {
        Err(ApiError::Forbidden)
    }
}
