//! GraphQL subscriptions (graphql-ws over `/graphql/ws`): live payment and subscription
//! changes, each user's own (admins see all). Authenticated in `connection_init`.

use std::future::Future;

use async_graphql::{Context, Subscription};
use futures_util::{Stream, StreamExt};
use tokio_stream::wrappers::BroadcastStream;
use uuid::Uuid;

use super::context::Services;
use super::{context, payments::Payment, subscriptions::Subscription as SubscriptionType};
use crate::{billing, error::GqlError, live::LiveEvent};

#[derive(Default)]
pub struct SubscriptionRoot;

/// The viewer's share of the live events `pick` selects, each reloaded with `load` so clients
/// see the committed state.
fn updates<T, F, Fut>(
    ctx: &Context<'_>,
    pick: fn(LiveEvent) -> Option<Uuid>,
    load: F,
) -> Result<impl Stream<Item = T>, GqlError>
where
    F: Fn(Services, Uuid) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Option<T>> + Send,
    T: Send + 'static,
{
    let viewer = context::viewer(ctx)?.clone();
    let state = context::services(ctx)?.clone();
    let events = BroadcastStream::new(state.live.subscribe());
    Ok(events.filter_map(move |event| {
        let (viewer, state, load) = (viewer.clone(), state.clone(), load.clone());
        async move {
            let event = event.ok()?;
            if event.user_id() != viewer.user_id && !viewer.is_admin() {
                return None;
            }
            load(state, pick(event)?).await
        }
    }))
}

/// Live updates over `/graphql/ws`: each field streams the changes it names, as they commit.
#[Subscription]
impl SubscriptionRoot {
    /// A payment of the viewer (any payment for admins) changed; sends its new state.
    async fn payment_updated(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Payment>, GqlError> {
        updates(
            ctx,
            |e| match e {
                LiveEvent::Payment { id, .. } => Some(id),
                _ => None,
            },
            |state: Services, id| async move {
                billing::payments::find(&state.db, id)
                    .await
                    .ok()
                    .map(Payment::from)
            },
        )
    }

    /// A subscription of the viewer (any for admins) changed; sends its new state.
    async fn subscription_updated(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = SubscriptionType>, GqlError> {
        updates(
            ctx,
            |e| match e {
                LiveEvent::Subscription { id, .. } => Some(id),
                _ => None,
            },
            |state: Services, id| async move {
                billing::subscriptions::find(&state.db, id)
                    .await
                    .ok()
                    .map(SubscriptionType)
            },
        )
    }
}
