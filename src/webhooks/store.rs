//! The event store: every verified delivery, keyed by Stripe's event id, so a redelivery is a
//! no-op and nothing accepted is ever lost before the worker applies it.

use chrono::Utc;
use entity::{side_effects, webhook_events};
use sea_orm::{sea_query::OnConflict, ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};
use uuid::Uuid;

use crate::stripe::objects;

pub use entity::WebhookEventStatus;

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

/// Which stored events an admin lists.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub status: Option<WebhookEventStatus>,
    pub event_type: Option<String>,
}

/// A page of stored events, newest first: the rows, whether more follow, and how many match.
pub async fn page(
    db: &impl ConnectionTrait,
    filter: Filter,
    first: u64,
    after: Option<&crate::billing::payments::Cursor>,
) -> Result<(Vec<webhook_events::Model>, bool, u64), DbErr> {
    use sea_orm::{ColumnTrait, Condition, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
    let mut condition = Condition::all();
    if let Some(s) = filter.status {
        condition = condition.add(webhook_events::Column::Status.eq(s));
    }
    if let Some(t) = filter.event_type {
        condition = condition.add(webhook_events::Column::EventType.eq(t));
    }
    let total = webhook_events::Entity::find()
        .filter(condition.clone())
        .count(db)
        .await?;
    if let Some(c) = after {
        condition = condition.add(c.before(
            webhook_events::Column::ReceivedAt,
            webhook_events::Column::Id,
        ));
    }
    let mut rows = webhook_events::Entity::find()
        .filter(condition)
        .order_by_desc(webhook_events::Column::ReceivedAt)
        .order_by_desc(webhook_events::Column::Id)
        .limit(first + 1)
        .all(db)
        .await?;
    let has_next = rows.len() as u64 > first;
    rows.truncate(first as usize);
    Ok((rows, has_next, total))
}
