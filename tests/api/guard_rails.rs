//! GraphQL limits: hostile documents are refused before anything executes.

use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn deep_queries_are_refused() {
    let app = spawn_app().await;
    // Introspection types nest without end: 51 levels of `ofType`.
    let mut q = String::from("{ __schema { queryType { fields { type { ");
    for _ in 0..47 {
        q.push_str("ofType { ");
    }
    q.push_str("name ");
    q.push_str(&"} ".repeat(47 + 5));
    let body = app.graphql(&q, json!({}), None).await;
    assert!(body["data"].is_null(), "not executed");
    let msg = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("nested too deep") || msg.contains("recursion depth"),
        "{body}"
    );
}

#[tokio::test]
async fn alias_floods_are_refused() {
    let app = spawn_app().await;
    let many: String = (0..5000).map(|i| format!("a{i}: __typename ")).collect();
    let body = app.graphql(&format!("{{ {many} }}"), json!({}), None).await;
    assert!(
        body["data"].is_null() && body["errors"].is_array(),
        "refused: {}",
        body.to_string().chars().take(300).collect::<String>()
    );
    // Short enough to pass the size cap, still too many aliases.
    let some: String = (0..31).map(|i| format!("a{i}: __typename ")).collect();
    let body = app.graphql(&format!("{{ {some} }}"), json!({}), None).await;
    assert!(body["data"].is_null());
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("aliases")),
        "{body}"
    );
    let fine: String = (0..5).map(|i| format!("a{i}: __typename ")).collect();
    let body = app.graphql(&format!("{{ {fine} }}"), json!({}), None).await;
    assert_eq!(body["data"]["a4"], "Query");
}

#[tokio::test]
async fn batches_are_refused() {
    let app = spawn_app().await;
    let res = reqwest::Client::new()
        .post(app.url("/graphql"))
        .json(&json!([{"query": "{ __typename }"}, {"query": "{ __typename }"}]))
        .send()
        .await
        .expect("reachable");
    assert_eq!(
        res.status(),
        400,
        "a JSON array of operations is not accepted"
    );
}

#[tokio::test]
async fn introspection_and_suggestions_follow_configuration() {
    let app = spawn_app_with(|vars| {
        vars.insert("GRAPHQL_INTROSPECTION".into(), "false".into());
    })
    .await;
    let body = app
        .graphql("{ __schema { types { name } } }", json!({}), None)
        .await;
    assert!(
        body["data"].is_null() || body["data"]["__schema"].is_null(),
        "{body}"
    );
    let body = app.graphql("{ product { nam } }", json!({}), None).await;
    let msg = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(!msg.contains("Did you mean"), "no suggestions: {msg}");
}
