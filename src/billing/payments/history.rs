//! The payment history: one page of payments (newest first, after a cursor, filtered), read
//! in one statement with each payment's refunds joined when asked for, and counted apart.
//! `rows` reads that statement's rows by position.

pub mod rows;

use chrono::{DateTime, Utc};
use entity::{payments, refunds};
use sea_orm::{
    sea_query::Expr, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use super::PaymentStatus;
use crate::error::ApiError;

/// Filters of a payment listing.
#[derive(Debug, Clone, Default)]
pub struct PaymentFilter {
    pub user_id: Option<String>,
    pub status: Option<PaymentStatus>,
    pub currency: Option<String>,
}

/// A position in a newest-first listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn of(row: &payments::Model) -> Self {
        Cursor {
            created_at: row.created_at,
            id: row.id,
        }
    }

    /// Rows after this position in a newest-first listing ordered by (`at`, `id`).
    pub fn before<C: ColumnTrait>(&self, at: C, id: C) -> Condition {
        Condition::any().add(at.lt(self.created_at)).add(
            Condition::all()
                .add(at.eq(self.created_at))
                .add(id.lt(self.id)),
        )
    }

    /// Opaque to clients; stable across requests.
    pub fn encode(&self) -> String {
        use std::io::Write;
        // `{micros}|{uuid}` is at most 20 + 1 + 36 bytes: built on the stack, hex-encoded once.
        let mut raw = [0_u8; 64];
        let mut w = &mut raw[..];
        let _ = write!(w, "{}|", self.created_at.timestamp_micros());
        let used = 64 - w.len();
        let id = self.id.hyphenated();
        let mut buf = uuid::Uuid::encode_buffer();
        let id = id.encode_lower(&mut buf);
        raw[used..used + id.len()].copy_from_slice(id.as_bytes());
        hex::encode(&raw[..used + id.len()])
    }

    pub fn decode(s: &str) -> Option<Self> {
        // `{micros}|{uuid}` in hex is at most ~110 characters; anything longer is not ours.
        if s.len() > 128 {
            return None;
        }
        let raw = String::from_utf8(hex::decode(s).ok()?).ok()?;
        let (micros, id) = raw.split_once('|')?;
        Some(Cursor {
            created_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: Uuid::parse_str(id).ok()?,
        })
    }
}

/// What a history page shows of a payment when it asks for nothing more (`Columns::Summary`):
/// id, owner, money, status, card, dispute flag, time. No metadata JSON to decode, no free
/// text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentSummary {
    pub id: Uuid,
    pub user_id: String,
    pub customer_id: Option<Uuid>,
    pub amount: i64,
    pub currency: String,
    pub status: PaymentStatus,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub amount_refunded: i64,
    pub disputed: bool,
    pub created_at: DateTime<Utc>,
}

impl From<&payments::Model> for PaymentSummary {
    fn from(row: &payments::Model) -> Self {
        PaymentSummary {
            id: row.id,
            user_id: row.user_id.clone(),
            customer_id: row.customer_id,
            amount: row.amount,
            currency: row.currency.clone(),
            status: row.status,
            card_brand: row.card_brand.clone(),
            card_last4: row.card_last4.clone(),
            amount_refunded: row.amount_refunded,
            disputed: row.disputed,
            created_at: row.created_at,
        }
    }
}

/// A payment of a page: the whole row, or its summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentRow {
    /// Boxed: a summary is a third of a whole row's size, and most pages read summaries.
    Whole(Box<payments::Model>),
    Summary(PaymentSummary),
}

impl From<payments::Model> for PaymentRow {
    fn from(row: payments::Model) -> Self {
        PaymentRow::Whole(Box::new(row))
    }
}

/// A field both a whole row and a summary hold, from whichever this is.
macro_rules! either {
    ($row:ident . $field:ident) => {
        match $row {
            PaymentRow::Whole(row) => &row.$field,
            PaymentRow::Summary(row) => &row.$field,
        }
    };
}

impl PaymentRow {
    pub fn id(&self) -> Uuid {
        *either!(self.id)
    }

    pub fn user_id(&self) -> &str {
        either!(self.user_id)
    }

    pub fn customer_id(&self) -> Option<Uuid> {
        *either!(self.customer_id)
    }

    pub fn amount(&self) -> i64 {
        *either!(self.amount)
    }

    pub fn currency(&self) -> &str {
        either!(self.currency)
    }

    pub fn status(&self) -> PaymentStatus {
        *either!(self.status)
    }

    pub fn card_brand(&self) -> Option<&str> {
        either!(self.card_brand).as_deref()
    }

    pub fn card_last4(&self) -> Option<&str> {
        either!(self.card_last4).as_deref()
    }

    pub fn amount_refunded(&self) -> i64 {
        *either!(self.amount_refunded)
    }

    pub fn disputed(&self) -> bool {
        *either!(self.disputed)
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        *either!(self.created_at)
    }

    /// The whole row, when the page read whole rows.
    pub fn whole(&self) -> Option<&payments::Model> {
        match self {
            PaymentRow::Whole(row) => Some(row.as_ref()),
            PaymentRow::Summary(_) => None,
        }
    }

    /// The position after this row in the history.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            created_at: self.created_at(),
            id: self.id(),
        }
    }
}

/// One page of payments, newest first, and whether more follow.
pub struct Page {
    pub rows: Vec<PaymentRow>,
    /// Each row's refunds, oldest first (`refunds[i]` belongs to `rows[i]`), when the page was
    /// read with them.
    pub refunds: Option<Vec<Vec<refunds::Model>>>,
    pub has_next: bool,
}

fn condition_of(filter: &PaymentFilter) -> Condition {
    let mut condition = Condition::all();
    if let Some(u) = &filter.user_id {
        condition = condition.add(payments::Column::UserId.eq(u.clone()));
    }
    if let Some(s) = &filter.status {
        condition = condition.add(payments::Column::Status.eq(*s));
    }
    if let Some(c) = &filter.currency {
        condition = condition.add(payments::Column::Currency.eq(c.to_ascii_lowercase()));
    }
    condition
}

/// How many payments match the filter. A plain `COUNT(*)` the planner can answer from the
/// history index (an ORM-style count over a subquery of every column reads each row).
pub async fn count(db: &impl ConnectionTrait, filter: &PaymentFilter) -> Result<u64, ApiError> {
    let n: Option<i64> = payments::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(condition_of(filter))
        .into_tuple()
        .one(db)
        .await?;
    Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
}

/// One page of payments matching `filter`, newest first, after `after`; with `with_refunds`,
/// each payment's refunds too, read in the same statement (the page as a subquery, its refunds
/// joined to it): one round trip and one statement for the database instead of two, which was
/// most of what a history page cost it.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &PaymentFilter,
    first: u64,
    after: Option<Cursor>,
    columns: Columns,
    with_refunds: bool,
) -> Result<Page, ApiError> {
    let mut page_condition = condition_of(filter);
    if let Some(c) = after {
        page_condition =
            page_condition.add(c.before(payments::Column::CreatedAt, payments::Column::Id));
    }
    let query = payments::Entity::find()
        .filter(page_condition)
        .order_by_desc(payments::Column::CreatedAt)
        .order_by_desc(payments::Column::Id)
        .limit(first + 1);
    let query = match columns {
        Columns::All => query,
        Columns::Summary => query.select_only().columns(SUMMARY_COLUMNS),
    };
    let backend = db.get_database_backend();
    let statement = if with_refunds {
        backend.build(&with_their_refunds(query))
    } else {
        use sea_orm::QueryTrait;
        query.build(backend)
    };
    // Rows are read by position (`rows`): the page's columns, then (joined) a refund's.
    let refund_at = match columns {
        Columns::All => rows::PAYMENT_COLUMNS,
        Columns::Summary => rows::SUMMARY_COLUMN_COUNT,
    };
    let mut payments_read: Vec<PaymentRow> = Vec::new();
    let mut refunds_of: Vec<Vec<refunds::Model>> = Vec::new();
    for result in db.query_all_raw(statement).await? {
        let row = rows::Positional::new(&result);
        // Rows of one payment are consecutive; its first carries the payment.
        let id = row.payment_id()?;
        if payments_read.last().map(PaymentRow::id) != Some(id) {
            payments_read.push(row.payment(columns)?);
            refunds_of.push(Vec::new());
        }
        if with_refunds {
            if let (Some(refund), Some(of_last)) = (row.refund(refund_at)?, refunds_of.last_mut()) {
                of_last.push(refund);
            }
        }
    }
    let has_next = payments_read.len() as u64 > first;
    payments_read.truncate(first as usize);
    refunds_of.truncate(first as usize);
    Ok(Page {
        rows: payments_read,
        refunds: with_refunds.then_some(refunds_of),
        has_next,
    })
}

/// `page` as a subquery with its refunds joined: one row per refund, or one with no refund for
/// a payment without any; rows of one payment are consecutive.
fn with_their_refunds(
    page: sea_orm::Select<payments::Entity>,
) -> sea_orm::sea_query::SelectStatement {
    use sea_orm::{
        sea_query::{Alias, ExprTrait},
        IdenStatic, Iterable, QueryTrait,
    };
    let (p, r) = (Alias::new("p"), Alias::new("r"));
    let mut select = sea_orm::sea_query::Query::select();
    // The page's own columns first, in the order the subquery selects them, then the refund's,
    // prefixed: `rows` reads them by position.
    select.column((p.clone(), sea_orm::sea_query::Asterisk));
    for c in refunds::Column::iter() {
        select.expr_as(
            Expr::col((r.clone(), c)),
            Alias::new(format!("{REFUND_PREFIX}{}", c.as_str())),
        );
    }
    select
        .from_subquery(page.into_query(), p.clone())
        .join_as(
            sea_orm::JoinType::LeftJoin,
            refunds::Entity,
            r.clone(),
            Expr::col((r.clone(), refunds::Column::PaymentId))
                .equals((p.clone(), payments::Column::Id)),
        )
        .order_by(
            (p.clone(), payments::Column::CreatedAt),
            sea_orm::Order::Desc,
        )
        .order_by((p.clone(), payments::Column::Id), sea_orm::Order::Desc)
        .order_by((r.clone(), refunds::Column::CreatedAt), sea_orm::Order::Asc)
        .order_by((r, refunds::Column::Id), sea_orm::Order::Asc);
    select
}

/// Names the joined refund columns apart from the payment's (`id`, `amount`, … are in both).
const REFUND_PREFIX: &str = "r_";

/// The columns of `Columns::Summary`, in the order `rows` reads them.
pub const SUMMARY_COLUMNS: [payments::Column; 11] = [
    payments::Column::Id,
    payments::Column::UserId,
    payments::Column::CustomerId,
    payments::Column::Amount,
    payments::Column::Currency,
    payments::Column::Status,
    payments::Column::CardBrand,
    payments::Column::CardLast4,
    payments::Column::AmountRefunded,
    payments::Column::Disputed,
    payments::Column::CreatedAt,
];

/// How much of each row a listing reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columns {
    /// Whole rows (`PaymentRow::Whole`).
    All,
    /// `PaymentSummary`s (`PaymentRow::Summary`).
    Summary,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_keep_their_published_format() {
        // Clients hold cursors across deploys: the bytes must not change.
        for micros in [0_i64, 1, 1_764_000_000_123_456, -5] {
            let c = Cursor {
                created_at: DateTime::from_timestamp_micros(micros).expect("time"),
                id: Uuid::from_u128(0x0193_5a7e_1234_7abc_8def_0123_4567_89ab),
            };
            assert_eq!(
                c.encode(),
                hex::encode(format!("{micros}|01935a7e-1234-7abc-8def-0123456789ab"))
            );
        }
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = Cursor {
            created_at: Utc::now(),
            id: Uuid::now_v7(),
        };
        let back = Cursor::decode(&c.encode()).expect("decodes");
        assert_eq!(back.id, c.id);
        assert_eq!(
            back.created_at.timestamp_micros(),
            c.created_at.timestamp_micros()
        );
        assert!(Cursor::decode("zz").is_none());
        assert!(Cursor::decode(&hex::encode("1|not-a-uuid")).is_none());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any string a client sends as `after`: a cursor or None, never a panic.
            #[test]
            fn decode_is_total(s in "\\PC{0,200}") {
                let _ = Cursor::decode(&s);
            }

            /// Hex that decodes to anything at all is still only accepted if it round-trips.
            #[test]
            fn decoded_cursors_reencode_to_themselves(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
                let s = hex::encode(&bytes);
                if let Some(c) = Cursor::decode(&s) {
                    prop_assert_eq!(Cursor::decode(&c.encode()).map(|d| (d.id, d.created_at)), Some((c.id, c.created_at)));
                }
            }

            #[test]
            fn cursors_round_trip(micros in 0i64..4_102_444_800_000_000, id in any::<u128>()) {
                let c = Cursor {
                    created_at: DateTime::from_timestamp_micros(micros).expect("in range"),
                    id: Uuid::from_u128(id),
                };
                let back = Cursor::decode(&c.encode()).expect("decodes");
                prop_assert_eq!(back.id, c.id);
                prop_assert_eq!(back.created_at, c.created_at);
            }
        }
    }
}
