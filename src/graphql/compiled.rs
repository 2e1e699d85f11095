//! Compiled operations: the payment-history read without async-graphql's per-field executor.
//!
//! async-graphql resolves every field of every object through a boxed future, a name match and
//! a `Value` tree that is then serialised; on a page of fifty payments that is most of the
//! request's CPU. A query whose selections all fall inside what this module knows (the
//! `payments` and `adminPayments` connections, their payments, refunds and money) is compiled
//! once per document into a `Plan`, and runs as one page read written straight to JSON bytes.
//!
//! Safety rests on three rules:
//! - A plan runs only after the same document has once executed through async-graphql with no
//!   error, so validation (which is per document) has passed; until then, and for anything the
//!   compiler does not know (directives, other fields, other types), the executor runs it.
//! - Anything unexpected at run time (an anonymous or non-admin viewer, a variable that does not
//!   coerce, a bad cursor, a database error) falls back to the executor, which answers with its
//!   usual error. These are reads, so running one again is harmless.
//! - `tests/api/compiled.rs` compares both paths byte for byte on the same data.

use std::cell::Cell;

use async_graphql::{
    parser::types::{
        DocumentOperations, ExecutableDocument, Field, OperationDefinition, OperationType,
        Selection, SelectionSet,
    },
    resolver_utils::enum_value,
    InputType, Name, ScalarType, Value, Variables,
};
use chrono::{DateTime, Utc};
use entity::{payments, refunds};

use super::{
    money::MoneyType,
    payments::{admin_filter, page_args, refund_reason, viewer_filter, PaymentStatus},
    payments::{RefundStatus, SUMMARY_FIELDS},
};
use crate::{
    auth::Viewer,
    billing::{
        self,
        payments::{Columns, Cursor, Page},
    },
    graphql::context::Services,
};

/// Fields a plan may collect in all (fragments expanded); a document past it is the executor's.
const MAX_PLAN_FIELDS: usize = 2_000;

/// Why a plan handed the request back to the executor.
#[derive(Debug)]
pub struct Fallback;

/// A compiled query: one connection of payments at the root.
pub struct Plan {
    key: Key,
    root: Root,
    args: Args,
    connection: Vec<(Key, ConnectionField)>,
    columns: Columns,
    with_refunds: bool,
}

#[derive(Clone, Copy)]
enum Root {
    Payments,
    AdminPayments,
}

/// A response key, kept as the JSON bytes `"key":`.
struct Key(Box<[u8]>);

impl Key {
    fn new(name: &str) -> Self {
        let mut bytes = Vec::with_capacity(name.len() + 3);
        write_str(&mut bytes, name);
        bytes.push(b':');
        Key(bytes.into_boxed_slice())
    }
}

/// Where an argument's value comes from.
#[derive(Default)]
enum Arg {
    #[default]
    Absent,
    Literal(Value),
    /// A variable, with its declared default and whether its type is non-null.
    Variable {
        name: Name,
        default: Option<Value>,
        required: bool,
    },
}

impl Arg {
    fn parse<T: InputType>(&self, variables: &Variables) -> Result<T, Fallback> {
        let value = match self {
            Arg::Absent => None,
            Arg::Literal(v) => Some(v.clone()),
            // An unset variable without a default leaves the argument unset. Every argument
            // compiled here treats unset and null alike (`first` falls back to 20 either way).
            Arg::Variable {
                name,
                default,
                required,
            } => match variables.get(name).or(default.as_ref()) {
                Some(v) => Some(v.clone()),
                // A non-null variable left unset is a request error: the executor's to give.
                None if *required => return Err(Fallback),
                None => None,
            },
        };
        T::parse(value).map_err(|_| Fallback)
    }
}

#[derive(Default)]
struct Args {
    first: Arg,
    after: Arg,
    status: Arg,
    user_id: Arg,
    currency: Arg,
}

enum ConnectionField {
    Typename,
    Edges(Vec<(Key, EdgeField)>),
    PageInfo(Vec<(Key, PageInfoField)>),
}

enum EdgeField {
    Typename,
    Cursor,
    Node(Vec<(Key, PaymentField)>),
}

enum PageInfoField {
    Typename,
    HasNextPage,
    HasPreviousPage,
    StartCursor,
    EndCursor,
}

enum PaymentField {
    Typename,
    Id,
    UserId,
    StripePaymentIntentId,
    Amount(Vec<(Key, MoneyField)>),
    AmountRefunded(Vec<(Key, MoneyField)>),
    Status,
    Description,
    CardBrand,
    CardLast4,
    FailureCode,
    FailureMessage,
    Disputed,
    CreatedAt,
    UpdatedAt,
    Refunds(Vec<(Key, RefundField)>),
}

enum RefundField {
    Typename,
    Id,
    PaymentId,
    StripeRefundId,
    Amount(Vec<(Key, MoneyField)>),
    Reason,
    Status,
    FailureReason,
    CreatedAt,
}

enum MoneyField {
    Typename,
    Amount,
    MinorUnits,
    Currency,
    Formatted,
}

// ---- compiling ----

/// What compiling learns about the page while walking the selections.
#[derive(Default)]
struct Needs {
    whole_rows: bool,
    refunds: bool,
}

/// The document being compiled, and how many more fields it may collect.
struct Compiler<'a> {
    doc: &'a ExecutableDocument,
    fields_left: Cell<usize>,
}

pub(super) fn compile(document: &ExecutableDocument, operation_name: Option<&str>) -> Option<Plan> {
    let doc = &Compiler {
        doc: document,
        fields_left: Cell::new(MAX_PLAN_FIELDS),
    };
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), _) => &op.node,
        (DocumentOperations::Multiple(ops), Some(name)) => &ops.get(name)?.node,
        // Named operations are kept by name even when there is one; without a name the
        // request means the only one.
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => &ops.values().next()?.node,
        (DocumentOperations::Multiple(_), None) => return None,
    };
    if operation.ty != OperationType::Query || !operation.directives.is_empty() {
        return None;
    }
    let mut groups = Vec::new();
    collect(doc, &operation.selection_set.node, "Query", &mut groups, 0)?;
    let [(key, fields)] = groups.as_slice() else {
        return None;
    };
    let [field] = fields.as_slice() else {
        return None;
    };
    let root = match field.name.node.as_str() {
        "payments" => Root::Payments,
        "adminPayments" => Root::AdminPayments,
        _ => return None,
    };
    let args = root_args(operation, field, root)?;
    let mut needs = Needs::default();
    let connection = object(
        doc,
        &[&field.selection_set.node],
        "PaymentConnection",
        |name, fields| {
            Some(match name {
                "__typename" => leaf(fields, ConnectionField::Typename)?,
                "edges" => ConnectionField::Edges(edges(doc, fields, &mut needs)?),
                "pageInfo" => ConnectionField::PageInfo(object(
                    doc,
                    &sets(fields)?,
                    "PageInfo",
                    |name, fields| {
                        leaf(
                            fields,
                            match name {
                                "__typename" => PageInfoField::Typename,
                                "hasNextPage" => PageInfoField::HasNextPage,
                                "hasPreviousPage" => PageInfoField::HasPreviousPage,
                                "startCursor" => PageInfoField::StartCursor,
                                "endCursor" => PageInfoField::EndCursor,
                                _ => return None,
                            },
                        )
                    },
                )?),
                // `totalCount` and anything newer: the executor's.
                _ => return None,
            })
        },
    )?;
    Some(Plan {
        key: Key::new(key.as_str()),
        root,
        args,
        connection,
        columns: if needs.whole_rows {
            Columns::All
        } else {
            Columns::Summary
        },
        with_refunds: needs.refunds,
    })
}

fn root_args(operation: &OperationDefinition, field: &Field, root: Root) -> Option<Args> {
    let mut args = Args::default();
    for (name, value) in &field.arguments {
        let slot = match (name.node.as_str(), root) {
            ("first", _) => &mut args.first,
            ("after", _) => &mut args.after,
            ("status", _) => &mut args.status,
            ("userId", Root::AdminPayments) => &mut args.user_id,
            ("currency", Root::AdminPayments) => &mut args.currency,
            _ => return None,
        };
        *slot = match &value.node {
            async_graphql_value::Value::Variable(var) => {
                let definition = operation
                    .variable_definitions
                    .iter()
                    .find(|d| d.node.name.node == *var)?;
                Arg::Variable {
                    name: var.clone(),
                    default: definition
                        .node
                        .default_value
                        .as_ref()
                        .map(|d| d.node.clone()),
                    required: !definition.node.var_type.node.nullable,
                }
            }
            other => Arg::Literal(other.clone().into_const()?),
        };
    }
    Some(args)
}

fn edges(
    doc: &Compiler<'_>,
    fields: &[&Field],
    needs: &mut Needs,
) -> Option<Vec<(Key, EdgeField)>> {
    object(doc, &sets(fields)?, "PaymentEdge", |name, fields| {
        Some(match name {
            "__typename" => leaf(fields, EdgeField::Typename)?,
            "cursor" => leaf(fields, EdgeField::Cursor)?,
            "node" => EdgeField::Node(payment(doc, fields, needs)?),
            _ => return None,
        })
    })
}

fn payment(
    doc: &Compiler<'_>,
    fields: &[&Field],
    needs: &mut Needs,
) -> Option<Vec<(Key, PaymentField)>> {
    object(doc, &sets(fields)?, "Payment", |name, fields| {
        // The same rule as the executor's page read: a field outside the summary reads whole rows.
        if !SUMMARY_FIELDS.contains(&name) {
            needs.whole_rows = true;
        }
        let leaf_field = match name {
            "__typename" => PaymentField::Typename,
            "id" => PaymentField::Id,
            "userId" => PaymentField::UserId,
            "stripePaymentIntentId" => PaymentField::StripePaymentIntentId,
            "status" => PaymentField::Status,
            "description" => PaymentField::Description,
            "cardBrand" => PaymentField::CardBrand,
            "cardLast4" => PaymentField::CardLast4,
            "failureCode" => PaymentField::FailureCode,
            "failureMessage" => PaymentField::FailureMessage,
            "disputed" => PaymentField::Disputed,
            "createdAt" => PaymentField::CreatedAt,
            "updatedAt" => PaymentField::UpdatedAt,
            "amount" => return Some(PaymentField::Amount(money(doc, fields)?)),
            "amountRefunded" => return Some(PaymentField::AmountRefunded(money(doc, fields)?)),
            "refunds" => {
                needs.refunds = true;
                return Some(PaymentField::Refunds(refund(doc, fields)?));
            }
            // `customer`, `dispute`, `metadata`: the executor's.
            _ => return None,
        };
        leaf(fields, leaf_field)
    })
}

fn refund(doc: &Compiler<'_>, fields: &[&Field]) -> Option<Vec<(Key, RefundField)>> {
    object(doc, &sets(fields)?, "Refund", |name, fields| {
        let leaf_field = match name {
            "__typename" => RefundField::Typename,
            "id" => RefundField::Id,
            "paymentId" => RefundField::PaymentId,
            "stripeRefundId" => RefundField::StripeRefundId,
            "reason" => RefundField::Reason,
            "status" => RefundField::Status,
            "failureReason" => RefundField::FailureReason,
            "createdAt" => RefundField::CreatedAt,
            "amount" => return Some(RefundField::Amount(money(doc, fields)?)),
            _ => return None,
        };
        leaf(fields, leaf_field)
    })
}

fn money(doc: &Compiler<'_>, fields: &[&Field]) -> Option<Vec<(Key, MoneyField)>> {
    object(doc, &sets(fields)?, "Money", |name, fields| {
        leaf(
            fields,
            match name {
                "__typename" => MoneyField::Typename,
                "amount" => MoneyField::Amount,
                "minorUnits" => MoneyField::MinorUnits,
                "currency" => MoneyField::Currency,
                "formatted" => MoneyField::Formatted,
                _ => return None,
            },
        )
    })
}

/// A scalar field: no arguments, no selections.
fn leaf<T>(fields: &[&Field], value: T) -> Option<T> {
    fields
        .iter()
        .all(|f| f.arguments.is_empty() && f.selection_set.node.items.is_empty())
        .then_some(value)
}

/// The selection sets of an object field selected (perhaps several times) without arguments.
fn sets<'a>(fields: &[&'a Field]) -> Option<Vec<&'a SelectionSet>> {
    fields
        .iter()
        .map(|f| {
            (f.arguments.is_empty() && !f.selection_set.node.items.is_empty())
                .then_some(&f.selection_set.node)
        })
        .collect()
}

/// The response keys of an object of type `on`, in order, each compiled by `each` from its
/// field name and every field selected under that key (GraphQL merges them).
fn object<'a, T>(
    doc: &Compiler<'a>,
    sets: &[&'a SelectionSet],
    on: &str,
    mut each: impl FnMut(&str, &[&'a Field]) -> Option<T>,
) -> Option<Vec<(Key, T)>> {
    let mut groups = Vec::new();
    for set in sets {
        collect(doc, set, on, &mut groups, 0)?;
    }
    groups
        .into_iter()
        .map(|(key, fields)| {
            let name = fields.first()?.name.node.as_str();
            if fields.iter().any(|f| f.name.node != name) {
                return None;
            }
            Some((Key::new(key.as_str()), each(name, &fields)?))
        })
        .collect()
}

/// GraphQL's field collection for a concrete type: fragments flattened, fields grouped by
/// response key in first-seen order. Directives (`@skip`, `@include`) are the executor's.
fn collect<'a>(
    doc: &Compiler<'a>,
    set: &'a SelectionSet,
    on: &str,
    groups: &mut Vec<(Name, Vec<&'a Field>)>,
    depth: usize,
) -> Option<()> {
    if depth > super::MAX_RECURSIVE_DEPTH {
        return None;
    }
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                let field = &field.node;
                if !field.directives.is_empty() {
                    return None;
                }
                let left = doc.fields_left.get().checked_sub(1)?;
                doc.fields_left.set(left);
                let key = &field.response_key().node;
                match groups.iter_mut().find(|(k, _)| k == key) {
                    Some((_, fields)) => fields.push(field),
                    None => groups.push((key.clone(), vec![field])),
                }
            }
            Selection::InlineFragment(fragment) => {
                let fragment = &fragment.node;
                let same_type = fragment
                    .type_condition
                    .as_ref()
                    .is_none_or(|c| c.node.on.node == on);
                if !fragment.directives.is_empty() || !same_type {
                    return None;
                }
                collect(doc, &fragment.selection_set.node, on, groups, depth + 1)?;
            }
            Selection::FragmentSpread(spread) => {
                let spread = &spread.node;
                let fragment = &doc.doc.fragments.get(&spread.fragment_name.node)?.node;
                if !spread.directives.is_empty()
                    || !fragment.directives.is_empty()
                    || fragment.type_condition.node.on.node != on
                {
                    return None;
                }
                collect(doc, &fragment.selection_set.node, on, groups, depth + 1)?;
            }
        }
    }
    Some(())
}

// ---- running ----

impl Plan {
    /// Reads the page and writes the whole GraphQL response body.
    pub async fn execute(
        &self,
        services: &Services,
        viewer: Option<&Viewer>,
        variables: &Variables,
    ) -> Result<Vec<u8>, Fallback> {
        let viewer = viewer.ok_or(Fallback)?;
        let status: Option<PaymentStatus> = self.args.status.parse(variables)?;
        let filter = match self.root {
            Root::Payments => viewer_filter(viewer, status),
            Root::AdminPayments if viewer.is_admin() => admin_filter(
                status,
                self.args.user_id.parse(variables)?,
                self.args.currency.parse(variables)?,
            ),
            Root::AdminPayments => return Err(Fallback),
        };
        let (first, after) = page_args(
            self.args.first.parse(variables)?,
            self.args.after.parse(variables)?,
        )
        .map_err(|_| Fallback)?;
        let page = billing::payments::list(
            &services.db,
            &filter,
            first,
            after,
            self.columns,
            self.with_refunds,
        )
        .await
        .map_err(|e| {
            tracing::debug!(error = %e, "compiled page read failed; the executor answers");
            Fallback
        })?;
        let mut out = Vec::with_capacity(256 + page.rows.len() * 256);
        out.extend_from_slice(b"{\"data\":{");
        out.extend_from_slice(&self.key.0);
        self.write_connection(&mut out, &page);
        out.extend_from_slice(b"}}");
        Ok(out)
    }

    fn write_connection(&self, out: &mut Vec<u8>, page: &Page) {
        let no_refunds: &[refunds::Model] = &[];
        write_object(out, &self.connection, |out, field| match field {
            ConnectionField::Typename => write_str(out, "PaymentConnection"),
            ConnectionField::Edges(fields) => {
                out.push(b'[');
                for (i, row) in page.rows.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    let refunds = page
                        .refunds
                        .as_ref()
                        .and_then(|r| r.get(i))
                        .map_or(no_refunds, Vec::as_slice);
                    write_object(out, fields, |out, field| match field {
                        EdgeField::Typename => write_str(out, "PaymentEdge"),
                        EdgeField::Cursor => write_str(out, &Cursor::of(row).encode()),
                        EdgeField::Node(fields) => write_payment(out, fields, row, refunds),
                    });
                }
                out.push(b']');
            }
            ConnectionField::PageInfo(fields) => write_object(out, fields, |out, field| {
                let cursor = |row: Option<&payments::Model>| row.map(|r| Cursor::of(r).encode());
                match field {
                    PageInfoField::Typename => write_str(out, "PageInfo"),
                    PageInfoField::HasNextPage => write_bool(out, page.has_next),
                    PageInfoField::HasPreviousPage => write_bool(out, false),
                    PageInfoField::StartCursor => {
                        write_opt_str(out, cursor(page.rows.first()).as_deref())
                    }
                    PageInfoField::EndCursor => {
                        write_opt_str(out, cursor(page.rows.last()).as_deref())
                    }
                }
            }),
        });
    }
}

fn write_payment(
    out: &mut Vec<u8>,
    fields: &[(Key, PaymentField)],
    row: &payments::Model,
    refunds: &[refunds::Model],
) {
    write_object(out, fields, |out, field| match field {
        PaymentField::Typename => write_str(out, "Payment"),
        PaymentField::Id => write_str(out, &row.id.to_string()),
        PaymentField::UserId => write_str(out, &row.user_id),
        PaymentField::StripePaymentIntentId => {
            write_opt_str(out, row.stripe_payment_intent_id.as_deref())
        }
        PaymentField::Amount(fields) => write_money(out, fields, row.amount, &row.currency),
        PaymentField::AmountRefunded(fields) => {
            write_money(out, fields, row.amount_refunded, &row.currency)
        }
        PaymentField::Status => write_enum(out, PaymentStatus::from(row.status)),
        PaymentField::Description => write_opt_str(out, row.description.as_deref()),
        PaymentField::CardBrand => write_opt_str(out, row.card_brand.as_deref()),
        PaymentField::CardLast4 => write_opt_str(out, row.card_last4.as_deref()),
        PaymentField::FailureCode => write_opt_str(out, row.failure_code.as_deref()),
        PaymentField::FailureMessage => write_opt_str(out, row.failure_message.as_deref()),
        PaymentField::Disputed => write_bool(out, row.disputed),
        PaymentField::CreatedAt => write_time(out, &row.created_at),
        PaymentField::UpdatedAt => write_time(out, &row.updated_at),
        PaymentField::Refunds(fields) => {
            out.push(b'[');
            for (i, refund) in refunds.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_refund(out, fields, refund);
            }
            out.push(b']');
        }
    });
}

fn write_refund(out: &mut Vec<u8>, fields: &[(Key, RefundField)], row: &refunds::Model) {
    write_object(out, fields, |out, field| match field {
        RefundField::Typename => write_str(out, "Refund"),
        RefundField::Id => write_str(out, &row.id.to_string()),
        RefundField::PaymentId => write_str(out, &row.payment_id.to_string()),
        RefundField::StripeRefundId => write_opt_str(out, row.stripe_refund_id.as_deref()),
        RefundField::Amount(fields) => write_money(out, fields, row.amount, &row.currency),
        RefundField::Reason => match row.reason.as_deref().and_then(refund_reason) {
            Some(reason) => write_enum(out, reason),
            None => out.extend_from_slice(b"null"),
        },
        RefundField::Status => write_enum(out, RefundStatus::from(row.status)),
        RefundField::FailureReason => write_opt_str(out, row.failure_reason.as_deref()),
        RefundField::CreatedAt => write_time(out, &row.created_at),
    });
}

fn write_money(out: &mut Vec<u8>, fields: &[(Key, MoneyField)], minor_units: i64, currency: &str) {
    let money = MoneyType::from_parts(minor_units, currency).0;
    write_object(out, fields, |out, field| match field {
        MoneyField::Typename => write_str(out, "Money"),
        MoneyField::Amount => write_str(out, &money.decimal_string()),
        MoneyField::MinorUnits => write_str(out, &money.minor_units().to_string()),
        MoneyField::Currency => write_str(out, money.currency().as_str()),
        MoneyField::Formatted => write_str(out, &money.formatted()),
    });
}

fn write_object<T>(
    out: &mut Vec<u8>,
    fields: &[(Key, T)],
    mut value: impl FnMut(&mut Vec<u8>, &T),
) {
    out.push(b'{');
    for (i, (key, field)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&key.0);
        value(out, field);
    }
    out.push(b'}');
}

/// A JSON string, escaped exactly as async-graphql's responses are (both use serde_json).
fn write_str(out: &mut Vec<u8>, s: &str) {
    if serde_json::to_writer(&mut *out, s).is_err() {
        // Writing a string into a Vec cannot fail; keep the JSON well-formed regardless.
        out.extend_from_slice(b"null");
    }
}

fn write_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => write_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

fn write_bool(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// An enum value by its GraphQL name, as the executor names it.
fn write_enum<T: async_graphql::resolver_utils::EnumType>(out: &mut Vec<u8>, value: T) {
    match enum_value(value) {
        Value::Enum(name) => write_str(out, name.as_str()),
        _ => out.extend_from_slice(b"null"),
    }
}

/// A timestamp in the `DateTime` scalar's own format.
fn write_time(out: &mut Vec<u8>, at: &DateTime<Utc>) {
    match ScalarType::to_value(at) {
        Value::String(s) => write_str(out, &s),
        _ => out.extend_from_slice(b"null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiles(query: &str) -> bool {
        let doc = async_graphql::parser::parse_query(query).expect("parses");
        compile(&doc, None).is_some()
    }

    #[test]
    fn what_the_executor_keeps() {
        for query in [
            "{ payments { edges { node { id @include(if: true) } } } }",
            "{ payments { totalCount } }",
            "{ payments { edges { node { customer { id } } } } }",
            "{ payments { edges { node { id } } } viewer { id } }",
            "{ a: payments { edges { cursor } } b: payments { edges { cursor } } }",
            "{ payments { edges { node { ... on Refund { id } } } } }",
            "{ payments(first: 1, unknown: 2) { edges { cursor } } }",
            "{ adminPayments { edges { node { amount } } } }",
            "mutation { payments { edges { cursor } } }",
            "subscription { paymentUpdated { id } }",
            "query A { payments { edges { cursor } } } query B { payments { edges { cursor } } }",
        ] {
            assert!(!compiles(query), "{query}");
        }
    }

    /// Fragments spread in fan-out multiply the fields collected; past the budget the plan is
    /// abandoned rather than built (the executor and the cost check answer such documents).
    #[test]
    fn fragment_fan_out_is_bounded() {
        let fan_out = |levels: usize| {
            let mut query = String::from("{ payments { edges { node { ...F0 } } } }");
            for i in 0..levels {
                let next = i + 1;
                query.push_str(&format!(
                    " fragment F{i} on Payment {{ id ...F{next} a{i}: id ...F{next} }}"
                ));
            }
            query.push_str(&format!(" fragment F{levels} on Payment {{ id }}"));
            query
        };
        assert!(
            compiles(&fan_out(4)),
            "a few levels are an ordinary document"
        );
        let started = std::time::Instant::now();
        assert!(!compiles(&fan_out(16)), "65,536 fields are past the budget");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn the_history_page_compiles() {
        assert!(compiles(
            "query H { payments(first: 50) { edges { node { id amount { minorUnits currency } \
             status cardLast4 createdAt refunds { id amount { minorUnits } } } } } }"
        ));
    }
}
