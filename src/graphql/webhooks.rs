//! Admin view of the webhook event store: what arrived, what failed and why.

use async_graphql::{Context, Enum, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::webhook_events;

use super::{context, payments::PageInfo};
use crate::{
    billing::payments::Cursor,
    error::{ApiError, GqlResult},
};

/// Where an event stands in the worker's queue.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::WebhookEventStatus")]
pub enum WebhookEventStatus {
    /// Waiting to be applied (or to be retried after a failure).
    Pending,
    /// Applied to the local copy.
    Processed,
    /// A type Tollgate does not handle; stored, nothing done.
    Ignored,
    /// Out of attempts; `tollgate webhooks replay` re-runs it.
    Failed,
}

/// One delivery from Stripe, as stored.
pub struct WebhookEvent(webhook_events::Model);

impl From<webhook_events::Model> for WebhookEvent {
    fn from(row: webhook_events::Model) -> Self {
        WebhookEvent(row)
    }
}

/// One event Stripe delivered, as stored and applied by the worker.
#[Object]
impl WebhookEvent {
    /// Tollgate's id.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Stripe's event id (`evt_…`).
    async fn stripe_event_id(&self) -> &str {
        &self.0.stripe_event_id
    }

    /// The event type (`payment_intent.succeeded`, …).
    #[graphql(name = "type")]
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }

    /// Where the event stands in the worker's queue.
    async fn status(&self) -> WebhookEventStatus {
        self.0.status.into()
    }

    /// Times the worker tried it.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }

    /// Why the last attempt failed.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    /// When Stripe created the event.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.stripe_created_at
    }

    /// When Tollgate received (and stored) the delivery.
    async fn received_at(&self) -> DateTime<Utc> {
        self.0.received_at
    }

    /// When the worker applied (or ignored) it, once it has.
    async fn processed_at(&self) -> Option<DateTime<Utc>> {
        self.0.processed_at
    }

    /// When a pending event is next tried.
    async fn next_attempt_at(&self) -> DateTime<Utc> {
        self.0.next_attempt_at
    }
}

/// One event in a page, with its cursor (Relay).
#[derive(SimpleObject)]
pub struct WebhookEventEdge {
    /// Pass as `after` to continue after this event.
    pub cursor: String,
    /// The event.
    pub node: WebhookEvent,
}

/// Stored events, newest first.
#[derive(SimpleObject)]
pub struct WebhookEventConnection {
    /// The events of this page, each with its cursor.
    pub edges: Vec<WebhookEventEdge>,
    /// Where this page is.
    pub page_info: PageInfo,
    /// How many events match the filters, across all pages.
    pub total_count: u64,
}

#[derive(Default)]
pub struct WebhooksQuery;

#[Object]
impl WebhooksQuery {
    /// Admin: webhook events, newest first, by status and type.
    async fn webhook_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only events in this status.")] status: Option<WebhookEventStatus>,
        #[graphql(
            name = "type",
            desc = "Only events of this type (`payment_intent.succeeded`, …)."
        )]
        event_type: Option<String>,
        #[graphql(
            default = 20,
            desc = "How many to return (1–100; larger values are clamped)."
        )]
        first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (`pageInfo.endCursor` of the page before).")]
        after: Option<String>,
    ) -> GqlResult<WebhookEventConnection> {
        context::admin(ctx)?;
        let svc = context::services(ctx)?;
        let first = first.unwrap_or(20);
        if first < 1 {
            return Err(ApiError::invalid_input("first", "must be at least 1").into());
        }
        let first = first.min(super::payments::MAX_PAGE) as u64;
        let after = after
            .map(|a| {
                Cursor::decode(&a)
                    .ok_or_else(|| ApiError::invalid_input("after", "not a cursor from this API"))
            })
            .transpose()?;
        let filter = crate::webhooks::store::Filter {
            status: status.map(Into::into),
            event_type,
        };
        let (rows, has_next, total) =
            crate::webhooks::store::page(&svc.db, filter, first, after.as_ref()).await?;
        let edges: Vec<WebhookEventEdge> = rows
            .into_iter()
            .map(|r| WebhookEventEdge {
                cursor: Cursor {
                    created_at: r.received_at,
                    id: r.id,
                }
                .encode(),
                node: WebhookEvent(r),
            })
            .collect();
        Ok(WebhookEventConnection {
            page_info: PageInfo {
                has_next_page: has_next,
                has_previous_page: false,
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
            total_count: total,
        })
    }
}

#[derive(Default)]
pub struct WebhooksMutation;

#[Object]
impl WebhooksMutation {
    /// Admin: puts a stored event back in the queue (attempts reset, due now) and wakes the
    /// worker, like `tollgate webhooks replay --id`. Handlers are idempotent, so replaying a
    /// processed event changes nothing that is already right. Returns the event as queued.
    async fn replay_webhook_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event's Tollgate id.")] id: ID,
    ) -> GqlResult<WebhookEvent> {
        context::admin(ctx)?;
        let svc = context::services(ctx)?;
        let id = uuid::Uuid::parse_str(&id)
            .map_err(|_| ApiError::invalid_input("id", "not a webhook event id"))?;
        let row = crate::webhooks::worker::requeue_row(&svc.db, id)
            .await?
            .ok_or(ApiError::NotFound("webhook event"))?;
        svc.webhook_wakeup.notify_one();
        Ok(WebhookEvent(row))
    }
}
