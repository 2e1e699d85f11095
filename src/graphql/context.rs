//! Per-request data resolvers read from the GraphQL context.

use async_graphql::Context;

use crate::{app::AppState, auth::Viewer, error::ApiError};

/// Who made the request; `None` for anonymous callers.
#[derive(Debug, Clone, Default)]
pub struct RequestViewer(pub Option<Viewer>);

pub fn state<'a>(ctx: &Context<'a>) -> Result<&'a AppState, ApiError> {
    ctx.data::<AppState>().map_err(|e| {
        ApiError::internal(anyhow::anyhow!(
            "app state missing from context: {}",
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

/// Publishes a committed change of a payment to live subscribers.
pub async fn publish_payment(state: &AppState, row: &entity::payments::Model) {
    let event = crate::live::LiveEvent::Payment {
        id: row.id,
        user_id: row.user_id.clone(),
    };
    state.live.publish(&state.db, [event]).await;
}

/// Publishes a committed change of a subscription to live subscribers.
pub async fn publish_subscription(state: &AppState, row: &entity::subscriptions::Model) {
    let event = crate::live::LiveEvent::Subscription {
        id: row.id,
        user_id: row.user_id.clone(),
    };
    state.live.publish(&state.db, [event]).await;
}
