//! The history plan: `payments` and `adminPayments` answered as one page read written straight
//! to JSON, for documents whose every field is in the field tables beside each type
//! (`types::PAYMENT_FIELDS`, `REFUND_FIELDS`, `connection::CONNECTION_FIELDS`, …, `MONEY_FIELDS`).
//! Anything else, and anything unexpected at run time, goes to the executor (`plan`'s rules).
//! The page is the executor's own (`billing::payments::list`), with the same filters.

use async_graphql::{
    parser::types::{
        DocumentOperations, ExecutableDocument, Field, OperationDefinition, OperationType,
    },
    Variables,
};
use entity::refunds;

use super::{
    connection::{
        admin_filter, page_args, viewer_filter, ConnectionPlan, EdgePlan, PageInfoLeaf,
        CONNECTION_FIELDS, EDGE_FIELDS, PAGE_INFO_FIELDS,
    },
    types::{
        refund_reason, Needs, PaymentLeaf, PaymentPlan, PaymentStatus, RefundLeaf, RefundPlan,
        RefundStatus, PAYMENT_FIELDS, REFUND_FIELDS,
    },
};
use crate::{
    auth::Viewer,
    billing::{
        self,
        payments::{Columns, Page, PaymentRow},
    },
    graphql::{
        context::Services,
        money::{MoneyLeaf, MoneyType, MONEY_FIELDS},
        plan::{
            collect, leaf, object, sets, write_bool, write_enum, write_object, write_opt_str,
            write_str, write_time, Arg, Compiler, Fallback, Key,
        },
    },
};

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
    PageInfo(Vec<(Key, PageInfoLeaf)>),
}

enum EdgeField {
    Typename,
    Cursor,
    Node(Vec<(Key, PaymentField)>),
}

enum PaymentField {
    Leaf(PaymentLeaf),
    Amount(Vec<(Key, MoneyLeaf)>),
    AmountRefunded(Vec<(Key, MoneyLeaf)>),
    Refunds(Vec<(Key, RefundField)>),
}

enum RefundField {
    Leaf(RefundLeaf),
    Amount(Vec<(Key, MoneyLeaf)>),
}

/// What compiling learns about the page while walking the selections.
#[derive(Default)]
struct PageNeeds {
    whole_rows: bool,
    refunds: bool,
}

/// The plan of the table entry `name` of `table`, if it has one.
fn planned<T: Copy>(table: &[(&str, T)], name: &str) -> Option<T> {
    table
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, plan)| *plan)
}

/// The plan of a document's operation, when every field it selects has one.
pub fn compile(document: &ExecutableDocument, operation_name: Option<&str>) -> Option<Plan> {
    let doc = &Compiler::new(document);
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
    let mut needs = PageNeeds::default();
    let connection = object(
        doc,
        &[&field.selection_set.node],
        "PaymentConnection",
        |name, fields| {
            Some(match planned(CONNECTION_FIELDS, name)? {
                ConnectionPlan::Typename => leaf(fields, ConnectionField::Typename)?,
                ConnectionPlan::Edges => ConnectionField::Edges(edges(doc, fields, &mut needs)?),
                ConnectionPlan::PageInfo => ConnectionField::PageInfo(object(
                    doc,
                    &sets(fields)?,
                    "PageInfo",
                    |name, fields| leaf(fields, planned(PAGE_INFO_FIELDS, name)?),
                )?),
                ConnectionPlan::Executor => return None,
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
    needs: &mut PageNeeds,
) -> Option<Vec<(Key, EdgeField)>> {
    object(doc, &sets(fields)?, "PaymentEdge", |name, fields| {
        Some(match planned(EDGE_FIELDS, name)? {
            EdgePlan::Typename => leaf(fields, EdgeField::Typename)?,
            EdgePlan::Cursor => leaf(fields, EdgeField::Cursor)?,
            EdgePlan::Node => EdgeField::Node(payment(doc, fields, needs)?),
        })
    })
}

fn payment(
    doc: &Compiler<'_>,
    fields: &[&Field],
    needs: &mut PageNeeds,
) -> Option<Vec<(Key, PaymentField)>> {
    object(doc, &sets(fields)?, "Payment", |name, fields| {
        let (_, plan, held) = PAYMENT_FIELDS.iter().find(|(n, ..)| *n == name)?;
        // The same rule as the executor's page read: a field outside the summary reads whole rows.
        if *held == Needs::WholeRow {
            needs.whole_rows = true;
        }
        Some(match plan {
            PaymentPlan::Leaf(l) => leaf(fields, PaymentField::Leaf(*l))?,
            PaymentPlan::Amount => PaymentField::Amount(money(doc, fields)?),
            PaymentPlan::AmountRefunded => PaymentField::AmountRefunded(money(doc, fields)?),
            PaymentPlan::Refunds => {
                needs.refunds = true;
                PaymentField::Refunds(refund(doc, fields)?)
            }
            PaymentPlan::Executor => return None,
        })
    })
}

fn refund(doc: &Compiler<'_>, fields: &[&Field]) -> Option<Vec<(Key, RefundField)>> {
    object(doc, &sets(fields)?, "Refund", |name, fields| {
        Some(match planned(REFUND_FIELDS, name)? {
            RefundPlan::Leaf(l) => leaf(fields, RefundField::Leaf(l))?,
            RefundPlan::Amount => RefundField::Amount(money(doc, fields)?),
        })
    })
}

fn money(doc: &Compiler<'_>, fields: &[&Field]) -> Option<Vec<(Key, MoneyLeaf)>> {
    object(doc, &sets(fields)?, "Money", |name, fields| {
        leaf(fields, planned(MONEY_FIELDS, name)?)
    })
}

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
                        EdgeField::Cursor => write_str(out, &row.cursor().encode()),
                        EdgeField::Node(fields) => write_payment(out, fields, row, refunds),
                    });
                }
                out.push(b']');
            }
            ConnectionField::PageInfo(fields) => write_object(out, fields, |out, field| {
                let cursor = |row: Option<&PaymentRow>| row.map(|r| r.cursor().encode());
                match field {
                    PageInfoLeaf::Typename => write_str(out, "PageInfo"),
                    PageInfoLeaf::HasNextPage => write_bool(out, page.has_next),
                    PageInfoLeaf::HasPreviousPage => write_bool(out, false),
                    PageInfoLeaf::StartCursor => {
                        write_opt_str(out, cursor(page.rows.first()).as_deref())
                    }
                    PageInfoLeaf::EndCursor => {
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
    row: &PaymentRow,
    refunds: &[refunds::Model],
) {
    write_object(out, fields, |out, field| match field {
        PaymentField::Leaf(leaf) => write_payment_leaf(out, *leaf, row),
        PaymentField::Amount(fields) => write_money(out, fields, row.amount(), row.currency()),
        PaymentField::AmountRefunded(fields) => {
            write_money(out, fields, row.amount_refunded(), row.currency())
        }
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

/// A leaf of the summary from either row; the whole row's own only from a whole row (a plan
/// that selects one reads whole rows, so `null` never shows).
fn write_payment_leaf(out: &mut Vec<u8>, leaf: PaymentLeaf, row: &PaymentRow) {
    let whole = row.whole();
    match leaf {
        PaymentLeaf::Typename => write_str(out, "Payment"),
        PaymentLeaf::Id => write_str(out, &row.id().to_string()),
        PaymentLeaf::UserId => write_str(out, row.user_id()),
        PaymentLeaf::Status => write_enum(out, PaymentStatus::from(row.status())),
        PaymentLeaf::CardBrand => write_opt_str(out, row.card_brand()),
        PaymentLeaf::CardLast4 => write_opt_str(out, row.card_last4()),
        PaymentLeaf::Disputed => write_bool(out, row.disputed()),
        PaymentLeaf::CreatedAt => write_time(out, &row.created_at()),
        PaymentLeaf::StripePaymentIntentId => write_opt_str(
            out,
            whole.and_then(|w| w.stripe_payment_intent_id.as_deref()),
        ),
        PaymentLeaf::Description => {
            write_opt_str(out, whole.and_then(|w| w.description.as_deref()))
        }
        PaymentLeaf::FailureCode => {
            write_opt_str(out, whole.and_then(|w| w.failure_code.as_deref()))
        }
        PaymentLeaf::FailureMessage => {
            write_opt_str(out, whole.and_then(|w| w.failure_message.as_deref()))
        }
        PaymentLeaf::UpdatedAt => match whole {
            Some(w) => write_time(out, &w.updated_at),
            None => out.extend_from_slice(b"null"),
        },
    }
}

fn write_refund(out: &mut Vec<u8>, fields: &[(Key, RefundField)], row: &refunds::Model) {
    write_object(out, fields, |out, field| match field {
        RefundField::Amount(fields) => write_money(out, fields, row.amount, &row.currency),
        RefundField::Leaf(leaf) => match leaf {
            RefundLeaf::Typename => write_str(out, "Refund"),
            RefundLeaf::Id => write_str(out, &row.id.to_string()),
            RefundLeaf::PaymentId => write_str(out, &row.payment_id.to_string()),
            RefundLeaf::StripeRefundId => write_opt_str(out, row.stripe_refund_id.as_deref()),
            RefundLeaf::Reason => match row.reason.as_deref().and_then(refund_reason) {
                Some(reason) => write_enum(out, reason),
                None => out.extend_from_slice(b"null"),
            },
            RefundLeaf::Status => write_enum(out, RefundStatus::from(row.status)),
            RefundLeaf::FailureReason => write_opt_str(out, row.failure_reason.as_deref()),
            RefundLeaf::CreatedAt => write_time(out, &row.created_at),
        },
    });
}

fn write_money(out: &mut Vec<u8>, fields: &[(Key, MoneyLeaf)], minor_units: i64, currency: &str) {
    let money = MoneyType::from_parts(minor_units, currency).0;
    write_object(out, fields, |out, field| match field {
        MoneyLeaf::Typename => write_str(out, "Money"),
        MoneyLeaf::Amount => write_str(out, &money.decimal_string()),
        MoneyLeaf::MinorUnits => write_str(out, &money.minor_units().to_string()),
        MoneyLeaf::Currency => write_str(out, money.currency().as_str()),
        MoneyLeaf::Formatted => write_str(out, &money.formatted()),
    });
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

    /// Every field of every type the plan touches is in that type's table (compiled, or left
    /// to the executor on purpose), and the tables name no field the schema lacks: a field
    /// added to `Payment` (or a guard, a deprecation) without a decision here fails this.
    #[test]
    fn every_field_the_plan_touches_is_decided() {
        use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
        let names = |table: Vec<&'static str>| -> std::collections::BTreeSet<String> {
            table
                .into_iter()
                .filter(|n| *n != "__typename")
                .map(str::to_owned)
                .collect()
        };
        let tables = [
            (
                "Payment",
                names(PAYMENT_FIELDS.iter().map(|(n, ..)| *n).collect()),
            ),
            (
                "Refund",
                names(REFUND_FIELDS.iter().map(|(n, _)| *n).collect()),
            ),
            (
                "Money",
                names(MONEY_FIELDS.iter().map(|(n, _)| *n).collect()),
            ),
            (
                "PageInfo",
                names(PAGE_INFO_FIELDS.iter().map(|(n, _)| *n).collect()),
            ),
            (
                "PaymentEdge",
                names(EDGE_FIELDS.iter().map(|(n, _)| *n).collect()),
            ),
            (
                "PaymentConnection",
                names(CONNECTION_FIELDS.iter().map(|(n, _)| *n).collect()),
            ),
        ];
        let sdl = async_graphql::parser::parse_schema(crate::graphql::sdl()).expect("SDL");
        for (type_name, decided) in tables {
            let fields: std::collections::BTreeSet<String> = sdl
                .definitions
                .iter()
                .find_map(|d| match d {
                    TypeSystemDefinition::Type(t) if t.node.name.node == type_name => {
                        match &t.node.kind {
                            TypeKind::Object(o) => Some(
                                o.fields
                                    .iter()
                                    .map(|f| f.node.name.node.to_string())
                                    .collect(),
                            ),
                            _ => None,
                        }
                    }
                    _ => None,
                })
                .unwrap_or_else(|| panic!("{type_name} is in the schema"));
            assert_eq!(
                fields, decided,
                "{type_name}: the schema's fields and the history plan's table differ"
            );
        }
        // Every table entry the plan compiles, it compiles: each `Payment` leaf alone.
        for (name, plan, _) in PAYMENT_FIELDS {
            if matches!(plan, PaymentPlan::Leaf(_)) && *name != "__typename" {
                assert!(
                    compiles(&format!(
                        "{{ payments {{ edges {{ node {{ {name} }} }} }} }}"
                    )),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn the_history_page_compiles() {
        assert!(compiles(
            "query H { payments(first: 50) { edges { node { id amount { minorUnits currency } \
             status cardLast4 createdAt refunds { id amount { minorUnits } } } } } }"
        ));
    }
}
