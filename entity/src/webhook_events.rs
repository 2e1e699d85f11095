//! Every Stripe event delivery accepted by the webhook route, keyed by Stripe's event id.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub stripe_event_id: String,
    pub event_type: String,
    /// The body exactly as received (the signature covers these bytes).
    pub payload: String,
    pub api_version: Option<String>,
    pub livemode: bool,
    /// The event's `created` (when Stripe took the snapshot).
    pub stripe_created_at: DateTimeUtc,
    pub received_at: DateTimeUtc,
    pub status: super::statuses::WebhookEventStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub processed_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    /// W3C `traceparent` of the span that received the delivery (null when tracing is off):
    /// the worker continues that trace.
    pub trace_parent: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
