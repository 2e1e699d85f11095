//! Deeply nested documents, through every door that parses one: `GET` and `POST /graphql`, and
//! both WebSocket protocols. Before the nesting bound, one anonymous 813-byte `GET` of
//! `{ zzz(a: [[[…400…1]]]) }` overflowed a worker's stack and aborted the whole process: pest
//! itself gives up with a parse error past about 330 levels, but below that async-graphql's
//! own recursive conversion of what pest built overflowed. So every spelling is sent at a
//! sweep of depths, from just over the bound through that window up to what the 32 KiB
//! document limit allows.

use serde_json::{json, Value};

use super::{first_error, still_healthy};
use crate::helpers::{spawn_app, ws_next_json, ws_send, TestApp};

/// The longest document accepted (`executor::MAX_QUERY_BYTES`).
const MAX_DOCUMENT: usize = 32 * 1024;
/// A `GET` carries the document percent-encoded (a `[` is three bytes) in a URI of at most
/// 64 KiB.
const MAX_GET_DOCUMENT: usize = 19 * 1024;
/// Levels of nesting tried: just past the bound, the window where the parser succeeded and
/// the conversion after it overflowed, and then as deep as the document limit allows.
const DEPTHS: [usize; 10] = [49, 64, 128, 256, 300, 350, 400, 600, 1_000, usize::MAX];

/// `wrap` with `VALUE` replaced by `open`…`1`…`close`, `levels` deep or as deep as fits in
/// `room`.
fn nested(levels: usize, room: usize, wrap: &str, open: &str, close: &str) -> String {
    let fits = (room - wrap.len() - 1) / (open.len() + close.len());
    let levels = levels.min(fits);
    let value = format!("{}1{}", open.repeat(levels), close.repeat(levels));
    wrap.replace("VALUE", &value)
}

/// Every place a value or a selection nests, in lists and objects, `levels` deep.
fn spellings(levels: usize, room: usize) -> Vec<(&'static str, String)> {
    let deep = |wrap: &str, open: &str, close: &str| nested(levels, room, wrap, open, close);
    vec![
        ("argument list", deep("{ zzz(a: VALUE) }", "[", "]")),
        ("argument object", deep("{ zzz(a: VALUE) }", "{a:", "}")),
        (
            "fragment",
            deep(
                "query { ...F } fragment F on Query { zzz(a: VALUE) }",
                "[",
                "]",
            ),
        ),
        (
            "variable default",
            deep("query($v: [Int] = VALUE) { __typename }", "[", "]"),
        ),
        (
            "variable default object",
            deep("query($v: JSON = VALUE) { __typename }", "{a:", "}"),
        ),
        (
            "directive argument",
            deep("{ __typename @include(if: VALUE) }", "[", "]"),
        ),
        (
            "directive argument object",
            deep("{ __typename @skip(if: VALUE) }", "{a:", "}"),
        ),
        // `1` stands for a field here: `{ a { a … 1 } }` is refused before it parses.
        ("selection sets", deep("VALUE", "{ a ", "}")),
        (
            "subscription",
            deep("subscription { paymentUpdated(a: VALUE) { id } }", "[", "]"),
        ),
    ]
}

fn assert_too_deep(door: &str, what: &str, errors: &Value) {
    let body = json!({ "errors": errors });
    let (code, message) = first_error(&body);
    assert_eq!(
        code,
        Some("QUERY_TOO_COMPLEX"),
        "{door} / {what}: {body:.300}"
    );
    assert!(
        message.contains("nested too deep"),
        "{door} / {what}: {message}"
    );
}

async fn over_post(app: &TestApp, what: &str, document: &str) {
    let (status, body) = app.graphql_raw(document, json!({}), None).await;
    assert_eq!(status, 200, "POST / {what}");
    assert_too_deep("POST", what, &body["errors"]);
}

async fn over_get(app: &TestApp, what: &str, document: &str) {
    let url =
        reqwest::Url::parse_with_params(&app.url("/graphql"), &[("query", document)]).expect("url");
    let res = app
        .http
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .expect("the server answers");
    assert_eq!(res.status(), 200, "GET / {what}");
    let body: Value = res.json().await.expect("JSON");
    assert_too_deep("GET", what, &body["errors"]);
}

// On worker threads with tokio's default 2 MiB stacks, as `tollgate serve` runs: the test
// thread's own stack is larger and survived what aborted the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_nested_to_the_size_limit_are_refused_at_every_door() {
    let app = spawn_app().await;
    let mut transport = app.ws_acked_as("graphql-transport-ws", "deep", false).await;
    let mut legacy = app.ws_acked_as("graphql-ws", "deep-legacy", false).await;
    let mut i = 0;
    for levels in DEPTHS {
        for (what, document) in spellings(levels, MAX_GET_DOCUMENT) {
            over_get(&app, what, &document).await;
        }
        for (what, document) in spellings(levels, MAX_DOCUMENT) {
            i += 1;
            assert!(document.len() <= MAX_DOCUMENT, "{what} fits the size limit");
            over_post(&app, what, &document).await;

            let id = format!("t{i}");
            ws_send(
                &mut transport,
                json!({"type": "subscribe", "id": id, "payload": {"query": document}}),
            )
            .await;
            let answer = ws_next_json(&mut transport).await;
            assert_eq!(answer["type"], "error", "graphql-transport-ws / {what}");
            assert_too_deep("graphql-transport-ws", what, &answer["payload"]);

            ws_send(
                &mut legacy,
                json!({"type": "start", "id": id, "payload": {"query": document}}),
            )
            .await;
            let answer = ws_next_json(&mut legacy).await;
            assert_eq!(answer["type"], "error", "graphql-ws / {what}");
            assert_too_deep("graphql-ws", what, &answer["payload"]);
        }
        still_healthy(&app).await;
    }
    // Both sockets still serve ordinary operations.
    ws_send(
        &mut transport,
        json!({"type": "subscribe", "id": "ok", "payload": {"query": "{ __typename }"}}),
    )
    .await;
    assert_eq!(ws_next_json(&mut transport).await["type"], "next");
    ws_send(
        &mut legacy,
        json!({"type": "start", "id": "ok", "payload": {"query": "{ __typename }"}}),
    )
    .await;
    assert_eq!(ws_next_json(&mut legacy).await["type"], "data");
}

#[tokio::test]
async fn nesting_within_the_bound_still_reaches_validation() {
    let app = spawn_app().await;
    // 40 levels: parsed, then refused by validation as any unknown field is: the bound does
    // not refuse documents that merely have brackets.
    let document = format!("{{ zzz(a: {}1{}) }}", "[".repeat(40), "]".repeat(40));
    let (_, body) = app.graphql_raw(&document, json!({}), None).await;
    assert_eq!(
        first_error(&body).0,
        Some("GRAPHQL_VALIDATION_FAILED"),
        "{body}"
    );
    // Brackets inside strings are text.
    let text = format!("{{ products {{ name }} }} # {}", "[".repeat(20_000));
    let (_, body) = app.graphql_raw(&text, json!({}), None).await;
    assert!(body["errors"].is_null(), "{body:.300}");
}

#[tokio::test]
async fn deeply_nested_variables_are_refused_like_documents() {
    let app = spawn_app().await;
    let mut value = json!(1);
    for _ in 0..120 {
        value = json!([value]);
    }
    let (_, body) = app
        .graphql_raw(
            "query($m: JSON) { __typename @include(if: true) }",
            json!({ "m": value }),
            None,
        )
        .await;
    assert_eq!(first_error(&body).0, Some("QUERY_TOO_COMPLEX"), "{body}");
    let mut ws = app.ws_acked_as("graphql-ws", "vars", false).await;
    ws_send(
        &mut ws,
        json!({"type": "start", "id": "v", "payload": {"query": "query($m: JSON) { __typename }", "variables": {"m": value}}}),
    )
    .await;
    let answer = ws_next_json(&mut ws).await;
    assert_eq!(answer["type"], "error", "{answer}");
    still_healthy(&app).await;
}
