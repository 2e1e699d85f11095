//! The HTTP edge of `/graphql`: bodies limited before they are read, JSON only, malformed input
//! answered with a GraphQL-shaped error and a code, never Rust's debug text.

use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use super::{first_error, still_healthy};
use crate::helpers::spawn_app;

async fn post_raw(
    app: &crate::helpers::TestApp,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new().post(app.url("/graphql")).body(body);
    if let Some(ct) = content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    let res = req.send().await.expect("reachable");
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, body)
}

fn no_debug_text(body: &Value) {
    let text = body.to_string();
    for tell in [
        "Error(",
        "ParseRequestError",
        "line ",
        "column ",
        "src/",
        "panicked",
    ] {
        assert!(!text.contains(tell), "internal text leaked: {text}");
    }
}

#[tokio::test]
async fn oversized_bodies_are_refused_unread() {
    let app = spawn_app().await;
    // 10 MB of JSON: refused on its Content-Length.
    let padding = "x".repeat(10 * 1024 * 1024);
    let big = serde_json::to_vec(&json!({"query": "{ __typename }", "variables": {"p": padding}}))
        .expect("json");
    let (status, body) = post_raw(&app, Some("application/json"), big).await;
    assert_eq!(status, 413);
    assert_eq!(first_error(&body).0, Some("PAYLOAD_TOO_LARGE"));
    // The same without a Content-Length (chunked): cut off at the limit.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..64).map(|_| Ok(vec![b' '; 64 * 1024])).collect();
    let res = reqwest::Client::new()
        .post(app.url("/graphql"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .expect("reachable");
    assert_eq!(res.status(), 413);
    // A multipart upload is refused on its type, before any byte of it is read.
    let (status, body) = post_raw(
        &app,
        Some("multipart/form-data; boundary=x"),
        vec![b'a'; 1024 * 1024],
    )
    .await;
    assert_eq!(status, 415);
    assert_eq!(first_error(&body).0, Some("UNSUPPORTED_MEDIA_TYPE"));
    still_healthy(&app).await;
}

#[tokio::test]
async fn only_json_is_executed() {
    let app = spawn_app().await;
    let query = br#"{"query":"{ __typename }"}"#.to_vec();
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/graphql"),
        None,
    ] {
        let (status, body) = post_raw(&app, ct, query.clone()).await;
        assert_eq!(status, 415, "{ct:?}");
        assert_eq!(first_error(&body).0, Some("UNSUPPORTED_MEDIA_TYPE"));
    }
    let (status, body) = post_raw(&app, Some("application/json; charset=utf-8"), query).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["__typename"], "Query");
    still_healthy(&app).await;
}

#[tokio::test]
async fn malformed_bodies_get_a_code_not_debug_text() {
    let app = spawn_app().await;
    let cases: [&[u8]; 11] = [
        b"{",
        b"not json",
        b"\xff\xfe",
        b"[]",
        br#"[{"query":"{ __typename }"},{"query":"{ __typename }"}]"#,
        b"42",
        br#"{"variables":{}}"#,
        br#"{"query":{"a":1}}"#,
        br#"{"query":"{ __typename }","variables":[1]}"#,
        br#"{"query":"{ __typename }","extensions":[1]}"#,
        br#"{"query":"{ __typename }","operationName":7}"#,
    ];
    for bad in cases {
        let (status, body) = post_raw(&app, Some("application/json"), bad.to_vec()).await;
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(bad));
        assert_eq!(first_error(&body).0, Some("BAD_REQUEST"), "{body}");
        no_debug_text(&body);
    }
    // Variables of the wrong type are a validation error with a code.
    let body = app
        .graphql(
            "query($n: Int) { payments(first: $n) { totalCount } }",
            json!({"n": "x"}),
            None,
        )
        .await;
    assert!(first_error(&body).0.is_some(), "{body}");
    still_healthy(&app).await;
}

#[tokio::test]
async fn get_runs_queries_only() {
    let app = spawn_app().await;
    let res = reqwest::Client::new()
        .get(app.url("/graphql?query=%7B__typename%7D"))
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .expect("reachable");
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["data"]["__typename"], "Query");
    let before = app.emulator.requests().await;
    let token = app.token("u1", false);
    let res = reqwest::Client::new()
        .get(app.url("/graphql?query=mutation%7BcreateSetupIntent%7BclientSecret%7D%7D"))
        .header(header::ACCEPT, "application/json")
        .bearer_auth(token)
        .send()
        .await
        .expect("reachable");
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()[header::ALLOW], "POST");
    super::nothing_sent_since(&app, &before).await;
    still_healthy(&app).await;
}

#[tokio::test]
async fn request_ids_are_kept_only_when_plain_and_headers_are_safe() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let hostile = "attacker-chosen-id-<script>alert(1)</script>";
    let res = client
        .get(app.url("/healthz"))
        .header("x-request-id", hostile)
        .send()
        .await
        .expect("reachable");
    let echoed = res.headers()["x-request-id"]
        .to_str()
        .unwrap_or_default()
        .to_string();
    assert_ne!(echoed, hostile);
    assert!(
        uuid::Uuid::parse_str(&echoed).is_ok(),
        "a fresh id: {echoed}"
    );
    let long = "a".repeat(200);
    let res = client
        .get(app.url("/healthz"))
        .header("x-request-id", &long)
        .send()
        .await
        .expect("reachable");
    assert_ne!(res.headers()["x-request-id"], long.as_str());
    let res = client
        .get(app.url("/healthz"))
        .header("x-request-id", "req-42_a.b")
        .send()
        .await
        .expect("reachable");
    assert_eq!(res.headers()["x-request-id"], "req-42_a.b");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    assert!(res.headers()["content-security-policy"]
        .to_str()
        .unwrap_or_default()
        .contains("frame-ancestors 'none'"));
    // GraphiQL's page and its bundled-assets-only CSP: `web::settings_and_graphiql_come_from_the_server_not_the_build`.
}

#[tokio::test]
async fn cors_is_an_allow_list_off_by_default() {
    let preflight = |url: String, origin: &'static str| async move {
        reqwest::Client::new()
            .request(reqwest::Method::OPTIONS, url)
            .header(header::ORIGIN, origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
            .await
            .expect("reachable")
    };
    let closed = spawn_app().await;
    let res = preflight(closed.url("/graphql"), "https://shop.example").await;
    assert!(res.headers().get("access-control-allow-origin").is_none());

    let open = crate::helpers::spawn_app_with(|vars| {
        vars.insert(
            "CORS_ALLOWED_ORIGINS".into(),
            "https://shop.example, https://admin.example".into(),
        );
    })
    .await;
    let res = preflight(open.url("/graphql"), "https://shop.example").await;
    assert!(res.status().is_success());
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    let res = preflight(open.url("/graphql"), "https://evil.example").await;
    assert!(res.headers().get("access-control-allow-origin").is_none());
    // A listed origin can use the API for real.
    let res = reqwest::Client::new()
        .post(open.url("/graphql"))
        .header(header::ORIGIN, "https://admin.example")
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await
        .expect("reachable");
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://admin.example"
    );
}
