//! GraphQL subscriptions (graphql-ws over `/graphql/ws`): live payment and subscription
//! changes, each user's own (admins see all). Authenticated in `connection_init`.

use async_graphql::{Context, Subscription};
use futures_util::{Stream, StreamExt};
use tokio_stream::wrappers::BroadcastStream;

use super::{context, payments::Payment, subscriptions::Subscription as SubscriptionType};
use crate::{billing, error::GqlError, live::LiveEvent};

#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// A payment of the viewer (any payment for admins) changed; sends its new state.
    async fn payment_updated(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Payment>, GqlError> {
        let viewer = context::viewer(ctx)?.clone();
        let state = context::state(ctx)?.clone();
        let events = BroadcastStream::new(state.live.subscribe());
        Ok(events.filter_map(move |event| {
            let (viewer, state) = (viewer.clone(), state.clone());
            async move {
                let Ok(LiveEvent::Payment { id, user_id }) = event else {
                    return None;
                };
                if user_id != viewer.user_id && !viewer.is_admin() {
                    return None;
                }
                billing::payments::find(&state.db, id)
                    .await
                    .ok()
                    .map(Payment)
            }
        }))
    }

    /// A subscription of the viewer (any for admins) changed; sends its new state.
    async fn subscription_updated(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = SubscriptionType>, GqlError> {
        let viewer = context::viewer(ctx)?.clone();
        let state = context::state(ctx)?.clone();
        let events = BroadcastStream::new(state.live.subscribe());
        Ok(events.filter_map(move |event| {
            let (viewer, state) = (viewer.clone(), state.clone());
            async move {
                let Ok(LiveEvent::Subscription { id, user_id }) = event else {
                    return None;
                };
                if user_id != viewer.user_id && !viewer.is_admin() {
                    return None;
                }
                billing::subscriptions::find(&state.db, id)
                    .await
                    .ok()
                    .map(SubscriptionType)
            }
        }))
    }
}
