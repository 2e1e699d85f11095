//! A page of payments as a Relay connection: `PaymentConnection`, `PaymentEdge`, `PageInfo`,
//! the page arguments and filters both roots share, and how the executor reads a page (the
//! history plan, `history_plan`, reads the same page its own way). Each type's table for the
//! history plan is beside its `#[Object]`.

use async_graphql::{Context, Object, SimpleObject};

use super::{
    super::context,
    types::{summary_holds, Payment, PaymentStatus},
};
use crate::{
    billing::{
        self,
        payments::{Columns, Cursor, PaymentFilter},
    },
    error::{ApiError, GqlResult},
};

/// Largest page a client may ask for; larger requests are clamped.
pub const MAX_PAGE: i32 = 100;

/// Pagination state of a connection (Relay).
#[derive(SimpleObject)]
pub struct PageInfo {
    /// Whether another page follows (ask for it with `after: endCursor`).
    pub has_next_page: bool,
    /// Always false: pages only go forward.
    pub has_previous_page: bool,
    /// The cursor of this page's first item; null for an empty page.
    pub start_cursor: Option<String>,
    /// The cursor of this page's last item: pass it as `after` for the next page.
    pub end_cursor: Option<String>,
}

/// A `PageInfo` field the history plan writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageInfoLeaf {
    Typename,
    HasNextPage,
    HasPreviousPage,
    StartCursor,
    EndCursor,
}

/// Every `PageInfo` field and how the history plan writes it.
pub const PAGE_INFO_FIELDS: &[(&str, PageInfoLeaf)] = &[
    ("__typename", PageInfoLeaf::Typename),
    ("hasNextPage", PageInfoLeaf::HasNextPage),
    ("hasPreviousPage", PageInfoLeaf::HasPreviousPage),
    ("startCursor", PageInfoLeaf::StartCursor),
    ("endCursor", PageInfoLeaf::EndCursor),
];

/// A payment and its cursor. The cursor is encoded only when a client asks for it: most pages
/// read `pageInfo.endCursor` alone.
pub struct PaymentEdge(Payment);

/// One payment in a page, with the cursor that continues after it (Relay).
#[Object]
impl PaymentEdge {
    /// Pass as `after` to continue after this payment.
    async fn cursor(&self) -> String {
        self.0.row().cursor().encode()
    }

    /// The payment.
    async fn node(&self) -> &Payment {
        &self.0
    }
}

/// How the history plan answers a `PaymentEdge` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgePlan {
    Typename,
    Cursor,
    Node,
}

/// Every `PaymentEdge` field and how the history plan answers it.
pub const EDGE_FIELDS: &[(&str, EdgePlan)] = &[
    ("__typename", EdgePlan::Typename),
    ("cursor", EdgePlan::Cursor),
    ("node", EdgePlan::Node),
];

/// A page of payments, newest first.
pub struct PaymentConnection {
    edges: Vec<PaymentEdge>,
    page_info: PageInfo,
    filter: PaymentFilter,
}

/// A page of payments, newest first (Relay Cursor Connections).
#[Object]
impl PaymentConnection {
    /// The payments of this page, each with its cursor.
    async fn edges(&self) -> &[PaymentEdge] {
        &self.edges
    }

    /// Where this page is: whether more follow, and the cursors at its ends.
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }

    /// How many payments match the filters, across all pages (counted only when asked for).
    async fn total_count(&self, ctx: &Context<'_>) -> GqlResult<u64> {
        let svc = context::services(ctx)?;
        Ok(billing::payments::count(&svc.db, &self.filter).await?)
    }
}

/// How the history plan answers a `PaymentConnection` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionPlan {
    Typename,
    Edges,
    PageInfo,
    /// The executor answers it (`totalCount` is a second statement, asked for rarely).
    Executor,
}

/// Every `PaymentConnection` field and how the history plan answers it.
pub const CONNECTION_FIELDS: &[(&str, ConnectionPlan)] = &[
    ("__typename", ConnectionPlan::Typename),
    ("edges", ConnectionPlan::Edges),
    ("pageInfo", ConnectionPlan::PageInfo),
    ("totalCount", ConnectionPlan::Executor),
];

pub fn page_args(
    first: Option<i32>,
    after: Option<String>,
) -> Result<(u64, Option<Cursor>), ApiError> {
    let first = first.unwrap_or(20);
    if first < 1 {
        return Err(ApiError::invalid_input("first", "must be at least 1"));
    }
    let first = first.min(MAX_PAGE) as u64;
    let after = match after {
        None => None,
        Some(a) => Some(
            Cursor::decode(&a)
                .ok_or_else(|| ApiError::invalid_input("after", "not a cursor from this API"))?,
        ),
    };
    Ok((first, after))
}

/// `payments`: the viewer's own.
pub fn viewer_filter(viewer: &crate::auth::Viewer, status: Option<PaymentStatus>) -> PaymentFilter {
    PaymentFilter {
        user_id: Some(viewer.user_id.clone()),
        status: status.map(Into::into),
        currency: None,
    }
}

/// `adminPayments`: anyone's, as filtered.
pub fn admin_filter(
    status: Option<PaymentStatus>,
    user_id: Option<String>,
    currency: Option<String>,
) -> PaymentFilter {
    PaymentFilter {
        user_id,
        status: status.map(Into::into),
        currency,
    }
}

/// Reads one page: a summary of each row when the query asks only for fields a summary holds
/// (the history page), whole rows otherwise; and the refunds of the whole page in one
/// statement when the query asks for them.
pub(super) async fn page_for(
    ctx: &Context<'_>,
    filter: PaymentFilter,
    first: u64,
    after: Option<Cursor>,
) -> GqlResult<PaymentConnection> {
    let svc = context::services(ctx)?;
    let nodes = ctx.look_ahead().field("edges").field("node");
    let summary = nodes
        .selection_fields()
        .iter()
        .all(|node| node.selection_set().all(|f| summary_holds(f.name())));
    let columns = if summary {
        Columns::Summary
    } else {
        Columns::All
    };
    let with_refunds = nodes.field("refunds").exists();
    let page =
        billing::payments::list(&svc.db, &filter, first, after, columns, with_refunds).await?;
    Ok(connection(page, filter))
}

fn connection(page: billing::payments::Page, filter: PaymentFilter) -> PaymentConnection {
    let page_info = PageInfo {
        has_next_page: page.has_next,
        has_previous_page: false,
        start_cursor: page.rows.first().map(|r| r.cursor().encode()),
        end_cursor: page.rows.last().map(|r| r.cursor().encode()),
    };
    let mut refunds = page.refunds.map(Vec::into_iter);
    let edges: Vec<PaymentEdge> = page
        .rows
        .into_iter()
        .map(|row| PaymentEdge(Payment::new(row, refunds.as_mut().and_then(Iterator::next))))
        .collect();
    PaymentConnection {
        page_info,
        edges,
        filter,
    }
}
