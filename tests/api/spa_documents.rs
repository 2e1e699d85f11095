//! The SPA's own operations (every document in `web/src/graphql/operations.ts`, with the
//! fragments it spreads, as GraphQL Code Generator sends them) pass the cost check at their
//! largest page. Before, the history page was `QUERY_TOO_COMPLEX` above `first: 76` although
//! `first` is clamped at 100.

use std::collections::HashMap;

use serde_json::json;

use crate::helpers::{repo_root, spawn_app};

/// The largest page a paginated field returns (`graphql::payments::MAX_PAGE`).
const MAX_FIRST: u64 = tollgate::graphql::payments::MAX_PAGE as u64;

/// Every ``graphql(`…`)`` document in the file.
fn documents(source: &str) -> Vec<String> {
    source
        .split("graphql(`")
        .skip(1)
        .filter_map(|rest| rest.split_once("`)").map(|(doc, _)| doc.trim().to_owned()))
        .collect()
}

/// The name after `keyword` at the start of a document (`query Payments(` → `Payments`).
fn name_after<'a>(doc: &'a str, keyword: &str) -> Option<&'a str> {
    let rest = doc.strip_prefix(keyword)?.trim_start();
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// `operation` with every fragment it spreads, transitively, appended.
fn with_fragments(operation: &str, fragments: &HashMap<String, String>) -> String {
    let mut text = operation.to_owned();
    let mut added: Vec<String> = Vec::new();
    loop {
        let spread = fragments
            .keys()
            .find(|name| !added.contains(name) && text.contains(&format!("...{name}")))
            .cloned();
        let Some(name) = spread else {
            return text;
        };
        text.push('\n');
        text.push_str(&fragments[&name]);
        added.push(name);
    }
}

#[tokio::test]
async fn every_spa_document_passes_the_cost_check_at_its_largest_page() {
    let source = std::fs::read_to_string(repo_root().join("web/src/graphql/operations.ts"))
        .expect("the SPA's operations");
    let all = documents(&source);
    let fragments: HashMap<String, String> = all
        .iter()
        .filter_map(|d| name_after(d, "fragment").map(|n| (n.to_owned(), d.clone())))
        .collect();
    let operations: Vec<&String> = all.iter().filter(|d| !d.starts_with("fragment")).collect();
    assert!(
        operations.len() >= 20,
        "found {} operations",
        operations.len()
    );

    let app = spawn_app().await;
    let admin = app.token("spa-admin", true);
    for operation in operations {
        let document = with_fragments(operation, &fragments);
        let paged = operation.contains("$first");
        let variables = if paged {
            json!({ "first": MAX_FIRST })
        } else {
            json!({})
        };
        let (status, body) = app.graphql_raw(&document, variables, Some(&admin)).await;
        let name = name_after(operation, "query")
            .or_else(|| name_after(operation, "mutation"))
            .or_else(|| name_after(operation, "subscription"))
            .unwrap_or("?");
        let codes: Vec<&str> = body["errors"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter_map(|e| e["extensions"]["code"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            !codes.contains(&"QUERY_TOO_COMPLEX") && !codes.contains(&"GRAPHQL_PARSE_FAILED"),
            "{name}: {status} {body}"
        );
        // The paged queries need nothing else: they run, at the largest page, without error.
        if paged && operation.starts_with("query") {
            assert!(
                body["errors"].is_null(),
                "{name} at first: {MAX_FIRST}: {body}"
            );
        }
    }
}
