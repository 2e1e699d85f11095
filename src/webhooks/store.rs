//! The event store: every verified delivery, keyed by Stripe's event id, so a redelivery is a
//! no-op and nothing accepted is ever lost before the worker applies it.

use chrono::{DateTime, Utc};
use entity::{side_effects, webhook_events};
use sea_orm::{sea_query::OnConflict, ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};
use uuid::Uuid;

use crate::stripe::objects;

pub use entity::WebhookEventStatus;

/// Stores an event as received (`payload` is the exact body). Returns false when Stripe's
/// event id was already stored: a redelivery.
pub async fn insert(
    db: &impl ConnectionTrait,
    event: &objects::Event,
    payload: &str,
    received_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let created = objects::timestamp(event.created).unwrap_or(received_at);
    let row = webhook_events::ActiveModel {
        id: Set(Uuid::now_v7()),
        stripe_event_id: Set(event.id.clone()),
        event_type: Set(event.kind.clone()),
        payload: Set(payload.to_string()),
        api_version: Set(event.api_version.clone()),
        livemode: Set(event.livemode),
        stripe_created_at: Set(created),
        received_at: Set(received_at),
        status: Set(WebhookEventStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(received_at),
        processed_at: Set(None),
        last_error: Set(None),
    };
    let inserted = webhook_events::Entity::insert(row)
        .on_conflict(
            OnConflict::column(webhook_events::Column::StripeEventId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
}

/// Records a side effect of `event` once; true when this call recorded it (so it should
/// happen), false when an earlier delivery already did.
pub async fn once(
    db: &impl ConnectionTrait,
    event: &objects::Event,
    kind: &str,
    payload: serde_json::Value,
) -> Result<bool, DbErr> {
    let row = side_effects::ActiveModel {
        id: Set(Uuid::now_v7()),
        stripe_event_id: Set(event.id.clone()),
        kind: Set(kind.to_string()),
        payload: Set(payload),
        created_at: Set(Utc::now()),
    };
    let inserted = side_effects::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                side_effects::Column::StripeEventId,
                side_effects::Column::Kind,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
}
