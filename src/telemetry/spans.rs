//! Trace contexts across the boundaries a `tracing` span cannot cross by itself: a caller's
//! `traceparent` header, a webhook event stored by one replica and applied by another, and
//! database statements that SeaORM times but does not wrap in spans. Everything here does
//! nothing unless spans are exported (`telemetry::exporting`).

use std::{collections::HashMap, time::SystemTime};

use opentelemetry::{
    trace::{SpanKind, Status, TraceContextExt, Tracer},
    KeyValue,
};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::exporting;

/// The W3C `traceparent` of `span`, to be stored and continued later; None when spans are not
/// exported or `span` is not part of a trace.
pub fn traceparent(span: &tracing::Span) -> Option<String> {
    if !exporting() {
        return None;
    }
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        )
    })
}

/// Makes `span` (not yet entered) continue the trace a stored `traceparent` names. A value
/// that is not a valid `traceparent` is ignored: the span starts a trace of its own.
pub fn continue_from(span: &tracing::Span, traceparent: &str) {
    if !exporting() {
        return;
    }
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(&carrier));
    if cx.span().span_context().is_valid() {
        let _ = span.set_parent(cx);
    }
}

/// Makes a request's span continue its caller's trace (`traceparent`/`tracestate` headers,
/// parsed strictly by the W3C propagator; anything malformed is ignored).
pub fn continue_from_headers(span: &tracing::Span, headers: &http::HeaderMap) {
    if !exporting() || !headers.contains_key("traceparent") {
        return;
    }
    let cx = opentelemetry::global::get_text_map_propagator(|p| {
        p.extract(&opentelemetry_http::HeaderExtractor(headers))
    });
    if cx.span().span_context().is_valid() {
        let _ = span.set_parent(cx);
    }
}

/// Names the current request's span after its GraphQL operation: `mutation confirmPayment`
/// (the operation's name, else its first root field). Both are GraphQL names the parser has
/// checked, so no client text but a name reaches the trace; the name is cut at 64 characters.
pub fn name_operation(analysis: &crate::graphql::cost::Analysis) {
    if !exporting() {
        return;
    }
    let kind = match analysis.operation_type {
        async_graphql::parser::types::OperationType::Query => "query",
        async_graphql::parser::types::OperationType::Mutation => "mutation",
        async_graphql::parser::types::OperationType::Subscription => "subscription",
    };
    let name = analysis
        .operation_name
        .as_deref()
        .or_else(|| analysis.root_keys.first().map(|(_, field)| field.as_str()))
        .unwrap_or("anonymous");
    // Span names are what trace backends index (operation lists, span metrics): bounded as
    // the metrics' labels are, the first 100 plain names and `other` after them.
    let name = crate::metrics::operation_label(Some(name));
    let span = tracing::Span::current();
    // The request's span has started by now, and a started span takes a new name only
    // through OpenTelemetry's own API (`otel.name` recorded later is ignored).
    span.context().span().update_name(format!("{kind} {name}"));
    span.record("graphql.operation.type", kind);
    if let Some(op) = &analysis.operation_name {
        span.record(
            "graphql.operation.name",
            op.chars().take(64).collect::<String>(),
        );
    }
}

/// Links `span` to `other` (a batch's worker span to each delivery it applies, say).
pub fn link(span: &tracing::Span, other: &tracing::Span) {
    if !exporting() {
        return;
    }
    let sc = other.context().span().span_context().clone();
    if sc.is_valid() {
        span.add_link(sc);
    }
}

/// Records a finished statement as a child span of the current span, named by its operation
/// and table (`SELECT payments`). Statements outside any trace (the webhook worker polling an
/// empty queue, the intake's writers) make no spans. The SQL text is not recorded: the
/// operation and table say what ran, and nothing a client sent can reach the trace this way.
pub fn statement(info: &sea_orm::metric::Info<'_>) {
    let parent = tracing::Span::current().context();
    if !parent.span().span_context().is_valid() {
        return;
    }
    let end = SystemTime::now();
    let start = end.checked_sub(info.elapsed).unwrap_or(end);
    let (operation, table) = operation_and_table(&info.statement.sql);
    let system = match info.statement.db_backend {
        sea_orm::DbBackend::Postgres => "postgresql",
        sea_orm::DbBackend::Sqlite => "sqlite",
        _ => "other_sql",
    };
    let name = match table {
        Some(t) => format!("{operation} {t}"),
        None => operation.to_owned(),
    };
    let tracer = opentelemetry::global::tracer("tollgate");
    let mut attributes = vec![
        KeyValue::new("db.system.name", system),
        KeyValue::new("db.operation.name", operation.to_owned()),
    ];
    if let Some(t) = table {
        attributes.push(KeyValue::new("db.collection.name", t.to_owned()));
    }
    let mut span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Client)
        .with_start_time(start)
        .with_attributes(attributes)
        .start_with_context(&tracer, &parent);
    if info.failed {
        opentelemetry::trace::Span::set_status(&mut span, Status::error("statement failed"));
    }
    opentelemetry::trace::Span::end_with_timestamp(&mut span, end);
}

/// `SELECT … FROM "payments" …` → (`SELECT`, `payments`). Only plain identifiers are taken, at
/// most 63 characters; anything else gives no table.
fn operation_and_table(sql: &str) -> (&'static str, Option<&str>) {
    let head = sql.trim_start();
    let word = head.split_whitespace().next().unwrap_or("");
    let operation = match word.to_ascii_uppercase().as_str() {
        "SELECT" => "SELECT",
        "INSERT" => "INSERT",
        "UPDATE" => "UPDATE",
        "DELETE" => "DELETE",
        "WITH" => "WITH",
        "BEGIN" | "START" => "BEGIN",
        "COMMIT" => "COMMIT",
        "ROLLBACK" => "ROLLBACK",
        "SAVEPOINT" => "SAVEPOINT",
        "RELEASE" => "RELEASE",
        "NOTIFY" => "NOTIFY",
        _ => "SQL",
    };
    let keyword = match operation {
        "SELECT" | "DELETE" | "WITH" => "FROM",
        "INSERT" => "INTO",
        "UPDATE" => "UPDATE",
        _ => return (operation, None),
    };
    let mut words = head.split_whitespace();
    let table = words
        .by_ref()
        .position(|w| w.eq_ignore_ascii_case(keyword))
        .and_then(|_| words.next())
        .map(|t| t.trim_matches('"'))
        .filter(|t| {
            !t.is_empty()
                && t.len() < 64
                && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
    (operation, table)
}

#[cfg(test)]
mod tests {
    use super::operation_and_table;

    #[test]
    fn statements_are_named_by_operation_and_table_only() {
        assert_eq!(
            operation_and_table(r#"SELECT "payments"."id" FROM "payments" WHERE "id" = $1"#),
            ("SELECT", Some("payments"))
        );
        assert_eq!(
            operation_and_table(r#"INSERT INTO "webhook_events" ("id") VALUES ($1)"#),
            ("INSERT", Some("webhook_events"))
        );
        assert_eq!(
            operation_and_table(r#"UPDATE "refunds" SET "status" = $1"#),
            ("UPDATE", Some("refunds"))
        );
        assert_eq!(
            operation_and_table("SELECT pg_advisory_xact_lock($1, k) FROM unnest($2::int4[]) AS k"),
            ("SELECT", None),
            "not a plain table name"
        );
        assert_eq!(operation_and_table("VACUUM"), ("SQL", None));
        assert_eq!(operation_and_table("SELECT 1"), ("SELECT", None));
    }
}
