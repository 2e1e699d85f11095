//! One invoice for a viewer (their own; any for admins), and pages of invoices newest first
//! (by Stripe's `created`, then id), continued by an opaque cursor.

use base64::Engine;
use chrono::{DateTime, Utc};
use entity::{invoices, InvoiceStatus};
use sea_orm::{
    sea_query::{Condition, Expr, ExprTrait},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::{auth::Viewer, error::ApiError};

/// Largest page a client may ask for (larger is clamped).
pub const MAX_PAGE: u64 = 100;

/// Which invoices a page holds.
#[derive(Debug, Clone, Default)]
pub struct InvoiceFilter {
    pub user_id: Option<String>,
    pub status: Option<InvoiceStatus>,
}

/// A page, and whether more follow.
pub struct InvoicePage {
    pub rows: Vec<invoices::Model>,
    pub has_next: bool,
}

/// The viewer's own invoice (any for admins); everything else is `NOT_FOUND`.
pub async fn find_for_viewer(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: &str,
) -> Result<invoices::Model, ApiError> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound("invoice"))?;
    let row = invoices::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("invoice"))?;
    if row.user_id == viewer.user_id || viewer.is_admin() {
        Ok(row)
    } else {
        Err(ApiError::NotFound("invoice"))
    }
}

/// The cursor of a row: its order key, opaque to clients.
pub fn cursor_of(row: &invoices::Model) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
        "{}:{}",
        row.stripe_created_at.timestamp_micros(),
        row.id
    ))
}

fn parse_cursor(cursor: &str) -> Result<(DateTime<Utc>, Uuid), ApiError> {
    let bad = || ApiError::invalid_input("after", "not a cursor this list gave");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.as_bytes())
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (micros, id) = text.split_once(':').ok_or_else(bad)?;
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    let at = DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
    Ok((at, Uuid::parse_str(id).map_err(|_| bad())?))
}

/// `first` invoices after `after`, newest first.
pub async fn page(
    db: &impl ConnectionTrait,
    filter: &InvoiceFilter,
    first: u64,
    after: Option<&str>,
) -> Result<InvoicePage, ApiError> {
    use invoices::Column as C;
    let first = first.clamp(1, MAX_PAGE);
    let mut query = invoices::Entity::find()
        .order_by_desc(C::StripeCreatedAt)
        .order_by_desc(C::Id)
        .limit(first + 1);
    if let Some(u) = &filter.user_id {
        query = query.filter(C::UserId.eq(u.as_str()));
    }
    if let Some(s) = filter.status {
        query = query.filter(C::Status.eq(s));
    }
    if let Some(cursor) = after {
        let (at, id) = parse_cursor(cursor)?;
        query = query.filter(
            Condition::any().add(C::StripeCreatedAt.lt(at)).add(
                Expr::col(C::StripeCreatedAt)
                    .eq(at)
                    .and(Expr::col(C::Id).lt(id)),
            ),
        );
    }
    let mut rows = query.all(db).await?;
    let has_next = rows.len() as u64 > first;
    rows.truncate(usize::try_from(first).unwrap_or(usize::MAX));
    Ok(InvoicePage { rows, has_next })
}
