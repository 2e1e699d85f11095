//! Documents that would do far more work than they say: refused before anything executes,
//! anonymously or not, with `QUERY_TOO_COMPLEX` (or a validation code).

use serde_json::json;

use super::{first_error, still_healthy};
use crate::helpers::{spawn_app, spawn_app_with};

/// The reproduction: `F_i` spreads `F_{i-1}` `spreads` times, `levels` deep, `F0 { __typename }`.
fn fragment_bomb(spreads: usize, levels: usize) -> String {
    let mut q = format!("query {{ ...F{levels} }}\nfragment F0 on Query {{ __typename }}\n");
    for i in 1..=levels {
        let body = vec![format!("...F{}", i - 1); spreads].join(" ");
        q.push_str(&format!("fragment F{i} on Query {{ {body} }}\n"));
    }
    q
}

#[tokio::test]
async fn fragment_fan_out_is_refused_before_execution() {
    let app = spawn_app().await;
    let eight = fragment_bomb(8, 7);
    assert!(eight.len() < 700, "the attack is a ~600-byte document");
    let ten = fragment_bomb(10, 7);
    // Four at once, as in the reproduction that stalled /healthz.
    let attacks = (0..4).map(|i| {
        let q = if i % 2 == 0 {
            eight.clone()
        } else {
            ten.clone()
        };
        let app = &app;
        async move { app.graphql_raw(&q, json!({}), None).await }
    });
    for (status, body) in futures_util::future::join_all(attacks).await {
        assert_eq!(status, 200);
        assert_eq!(first_error(&body).0, Some("QUERY_TOO_COMPLEX"), "{body}");
        assert!(body.get("data").is_none(), "nothing executed: {body}");
    }
    // Preferring the GraphQL response type makes it a 400.
    let res = reqwest::Client::new()
        .post(app.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .json(&json!({"query": ten}))
        .send()
        .await
        .expect("reachable");
    assert_eq!(res.status(), 400);
    still_healthy(&app).await;
}

#[tokio::test]
async fn cycles_depth_aliases_and_pages_are_bounded() {
    let app = spawn_app().await;
    let cases = [
        (
            "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "{ ...A } fragment A on Query { __typename ...A }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
            "QUERY_TOO_COMPLEX",
        ),

        ("{ a: __typename b: __typename c: __typename d: __typename e: __typename f: __typename g: __typename h: __typename i: __typename j: __typename k: __typename l: __typename m: __typename n: __typename o: __typename p: __typename q: __typename r: __typename s: __typename t: __typename u: __typename v: __typename w: __typename x: __typename y: __typename z: __typename aa: __typename ab: __typename ac: __typename ad: __typename ae: __typename }", "QUERY_TOO_COMPLEX"),
        (
            // Ten pages of refunds (three estimated per payment since the SPA's own page had
            // to fit): about 12,000 fields.
            "{ a: payments(first: 100) { edges { node { refunds { amount { amount formatted } } } } }
               b: payments(first: 100) { edges { node { refunds { amount { amount formatted } } } } }
               c: payments(first: 100) { edges { node { refunds { amount { amount formatted } } } } }
               d: payments(first: 100) { edges { node { refunds { amount { amount formatted } } } } }
               e: payments(first: 100) { edges { node { refunds { amount { amount formatted } } } } }
               f: payments(first: 100) { edges { node { refunds { amount { amount formatted } } } } }
               g: payments(first: 100) { edges { node { refunds { amount { amount formatted } } } } }
               h: payments(first: 100) { edges { node { refunds { amount { amount formatted } } } } }
               i: payments(first: 100) { edges { node { refunds { amount { amount formatted } } } } }
               j: payments(first: 100) { edges { node { refunds { amount { amount formatted } } } } } }",
            "QUERY_TOO_COMPLEX",
        ),
        ("{ __typename", "GRAPHQL_PARSE_FAILED"),
        ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
        ("query A { __typename } query B { __typename }", "GRAPHQL_VALIDATION_FAILED"),
    ];
    let of_type_chain = format!(
        "{{ __type(name: \"Query\") {{ {} name {} }} }}",
        "ofType { ".repeat(13),
        "} ".repeat(13)
    );
    let cases = cases
        .iter()
        .map(|(q, c)| (q.to_string(), *c))
        .chain([(of_type_chain, "QUERY_TOO_COMPLEX")]);
    for (query, code) in cases {
        let (status, body) = app.graphql_raw(&query, json!({}), None).await;
        assert_eq!(status, 200, "{query}");
        assert_eq!(first_error(&body).0, Some(code), "{query}: {body}");
        assert!(body["data"].is_null(), "{query}: not executed");
    }
    // 32 KiB of query text at most.
    let long = format!("{{ __typename {} }}", " ".repeat(33 * 1024));
    let body = app.graphql(&long, json!({}), None).await;
    assert_eq!(first_error(&body).0, Some("QUERY_TOO_COMPLEX"));
    still_healthy(&app).await;
}

#[tokio::test]
async fn standard_introspection_passes_and_can_be_switched_off() {
    let standard = include_str!("../../fixtures/introspection_query.graphql");
    let app = spawn_app().await;
    let body = app.graphql(standard, json!({}), None).await;
    assert!(body["errors"].is_null(), "{body}");
    assert!(body["data"]["__schema"]["types"]
        .as_array()
        .is_some_and(|t| t.len() > 20));
    let closed = spawn_app_with(|vars| {
        vars.insert("GRAPHQL_INTROSPECTION".into(), "false".into());
    })
    .await;
    let body = closed.graphql(standard, json!({}), None).await;
    assert!(
        body["data"].is_null() || body["data"]["__schema"].is_null(),
        "{body}"
    );
    still_healthy(&closed).await;
}
