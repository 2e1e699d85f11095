//! Relay's object identification (<https://relay.dev/graphql/objectidentification.htm>): the
//! `Node` interface on every type a client can refetch by id, and `Query.node(id:)` to do it,
//! so Relay's `@refetchable` and normalised caches work. Who may see what is
//! `billing::by_id`'s, the same rules as each type's own field.

use async_graphql::{Context, Interface, Object, ID};

use super::{
    catalog::{Price, Product},
    context::{self, RequestViewer},
    payment_methods::PaymentMethod,
    payments::{Payment, Refund},
    subscriptions::Subscription,
    webhooks::WebhookEvent,
};
use crate::{
    billing::by_id::{self, Found},
    error::{ApiError, GqlResult},
};

/// An object with an id that is unique across every type, refetchable with `node(id:)`.
#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "Tollgate's id, unique across all types."
))]
pub enum Node {
    /// Boxed: a payment carries its row, its whole row once loaded, and its refunds.
    Payment(Box<Payment>),
    Refund(Refund),
    Subscription(Subscription),
    Product(Product),
    Price(Price),
    PaymentMethod(PaymentMethod),
    WebhookEvent(WebhookEvent),
}

impl From<Found> for Node {
    fn from(found: Found) -> Self {
        match found {
            Found::Payment(row) => Node::Payment(Box::new(Payment::from(row))),
            Found::Refund(row) => Node::Refund(Refund(row)),
            Found::Subscription(row) => Node::Subscription(Subscription(row)),
            Found::Product(product) => Node::Product(Product::from(product)),
            Found::Price(row) => Node::Price(Price(row)),
            Found::PaymentMethod(row, is_default) => {
                Node::PaymentMethod(PaymentMethod { row, is_default })
            }
            Found::WebhookEvent(row) => Node::WebhookEvent(WebhookEvent::from(row)),
        }
    }
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any object by its id, as its own field would show it. An id that does not exist, and
    /// one the viewer may not see (another user's payment, a webhook event for a non-admin),
    /// are alike: `null` with a `NOT_FOUND` error.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Any object's Tollgate id.")] id: ID,
    ) -> GqlResult<Option<Node>> {
        let svc = context::services(ctx)?;
        let viewer = ctx.data::<RequestViewer>().ok().and_then(|v| v.0.as_ref());
        match by_id::find(&svc.db, viewer, &id).await? {
            Some(found) => Ok(Some(found.into())),
            None => Err(ApiError::NotFound("node").into()),
        }
    }
}
