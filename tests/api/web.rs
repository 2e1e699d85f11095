//! The browser face as the server sees it: the SPA's build at `/` with its fallback, cache
//! headers and CSP, the runtime settings, and GraphiQL's page from the same build. A small
//! stand-in build is written per test (the real one is exercised by the browser tests in
//! `web/tests`, which need Node and Chromium).

use std::path::Path;

use reqwest::{header, StatusCode};
use serde_json::Value;

use crate::helpers::{spawn_app_with, TestApp};

fn write_build(dir: &Path) {
    std::fs::create_dir_all(dir.join("assets")).expect("mkdir");
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><div id=root>spa</div>",
    )
    .expect("w");
    std::fs::write(
        dir.join("graphiql.html"),
        "<!doctype html><div id=g>ide</div>",
    )
    .expect("w");
    std::fs::write(dir.join("assets/index-4f2a9c.js"), "console.log(1)").expect("w");
    std::fs::write(dir.join("favicon.svg"), "<svg/>").expect("w");
    // Outside the build: must never be reachable.
    std::fs::write(dir.parent().expect("parent").join("secret.txt"), "s3cret").expect("w");
}

async fn app_with_build() -> (TestApp, tempfile::TempDir) {
    app_with_build_and(|_| {}).await
}

async fn app_with_build_and(
    customize: impl FnOnce(&mut std::collections::HashMap<String, String>),
) -> (TestApp, tempfile::TempDir) {
    let root = tempfile::tempdir().expect("tempdir");
    let build = root.path().join("dist");
    write_build(&build);
    let dir = build.to_string_lossy().into_owned();
    let app = spawn_app_with(move |v| {
        v.insert("WEB_DIR".into(), dir);
        v.insert("STRIPE_PUBLISHABLE_KEY".into(), "pk_test_suite".into());
        v.insert(
            "STRIPE_JS_URL".into(),
            "http://127.0.0.1:9/js.stripe.com/v3/".into(),
        );
        v.insert("GRAPHIQL_DEFAULT_TOKEN".into(), "eyJ.demo.token".into());
        customize(v);
    })
    .await;
    (app, root)
}

async fn get(app: &TestApp, path: &str, accept: &str) -> reqwest::Response {
    app.http
        .get(app.url(path))
        .header(header::ACCEPT, accept)
        .send()
        .await
        .expect("reachable")
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_spa_is_served_with_a_fallback_cache_headers_and_its_csp() {
    let (app, _root) = app_with_build().await;
    for path in ["/", "/payments", "/admin/webhooks", "/index.html"] {
        let res = get(&app, path, "text/html").await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&res, "cache-control"), "no-cache", "{path}");
        let csp = header(&res, "content-security-policy").to_owned();
        assert!(
            csp.contains("script-src 'self' http://127.0.0.1:9;")
                && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert!(res.text().await.expect("body").contains("spa"), "{path}");
    }
    let asset = get(&app, "/assets/index-4f2a9c.js", "*/*").await;
    assert_eq!(asset.status(), StatusCode::OK);
    assert_eq!(
        header(&asset, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert!(header(&asset, "content-type").contains("javascript"));
    let etag_or_date = header(&asset, "last-modified").to_owned();
    assert!(
        !etag_or_date.is_empty(),
        "conditional requests are possible"
    );
    let again = app
        .http
        .get(app.url("/assets/index-4f2a9c.js"))
        .header(header::IF_MODIFIED_SINCE, etag_or_date)
        .send()
        .await
        .expect("reachable");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // A missing file is a 404 (with a code), not the SPA: a stale asset URL must not get HTML.
    let missing = get(&app, "/assets/index-000000.js", "*/*").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let body: Value = missing.json().await.expect("json");
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");
    // Only reads fall back to the SPA.
    let post = app
        .http
        .post(app.url("/payments"))
        .send()
        .await
        .expect("reachable");
    assert_eq!(post.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn nothing_outside_the_build_is_reachable() {
    let (app, _root) = app_with_build().await;
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/assets/..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
        "/secret.txt%00.js",
    ] {
        // Sent raw: an HTTP client would normalise the dots away.
        let raw = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let mut stream = tokio::net::TcpStream::connect(app.addr)
            .await
            .expect("connect");
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream.write_all(raw.as_bytes()).await.expect("write");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read");
        assert!(!answer.contains("s3cret"), "{path} leaked: {answer}");
        assert!(
            answer.starts_with("HTTP/1.1 404") || answer.starts_with("HTTP/1.1 400"),
            "{path}: {answer}"
        );
    }
}

#[tokio::test]
async fn settings_and_graphiql_come_from_the_server_not_the_build() {
    let (app, _root) = app_with_build().await;
    let res = get(&app, "/settings.json", "application/json").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "cache-control"), "no-store");
    let settings: Value = res.json().await.expect("json");
    assert_eq!(settings["stripePublishableKey"], "pk_test_suite");
    assert_eq!(
        settings["stripeJsUrl"],
        "http://127.0.0.1:9/js.stripe.com/v3/"
    );
    assert_eq!(settings["graphqlPath"], "/graphql");
    assert_eq!(settings["graphqlWsPath"], "/graphql/ws");
    let headers: Value =
        serde_json::from_str(settings["graphiqlHeaders"].as_str().expect("demo headers"))
            .expect("a JSON header map");
    assert_eq!(headers["Authorization"], "Bearer eyJ.demo.token");

    let ide = get(&app, "/graphql", "text/html").await;
    assert_eq!(ide.status(), StatusCode::OK);
    let csp = header(&ide, "content-security-policy").to_owned();
    assert!(
        csp.contains("script-src 'self';") && !csp.contains("unpkg") && !csp.contains("https:"),
        "bundled assets only: {csp}"
    );
    assert!(ide.text().await.expect("body").contains("ide"));
    // A GraphQL client asking for JSON still runs its query over GET.
    let query = app
        .http
        .get(app.url("/graphql?query=%7B__typename%7D"))
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .expect("reachable");
    assert_eq!(
        query.json::<Value>().await.expect("json")["data"]["__typename"],
        "Query"
    );
}

#[tokio::test]
async fn the_web_face_can_be_turned_off() {
    let app = spawn_app_with(|v| {
        v.insert("WEB_DIR".into(), "off".into());
    })
    .await;
    for path in ["/", "/payments", "/graphql"] {
        let res = get(&app, path, "text/html").await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // The API does not need the SPA.
    let res = app
        .graphql("{ products { name } }", serde_json::json!({}), None)
        .await;
    assert!(res["data"]["products"].is_array(), "{res}");
    let settings = get(&app, "/settings.json", "application/json").await;
    let settings: Value = settings.json().await.expect("json");
    assert_eq!(
        settings["graphiqlHeaders"],
        Value::Null,
        "no token unless configured"
    );
}

#[tokio::test]
async fn server_paths_never_fall_back_to_the_spa() {
    // Metrics off: `/metrics` is a 404 a scraper understands, not the SPA's page with a 200.
    let (app, _root) = app_with_build_and(|v| {
        v.insert("METRICS".into(), "false".into());
    })
    .await;
    for path in ["/metrics", "/webhooks/other", "/healthz/x", "/graphql/x"] {
        let res = get(&app, path, "text/html").await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        let body: Value = res.json().await.expect("a JSON 404");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{path}"
        );
    }
    // Paths that only begin like one are the SPA's.
    let res = get(&app, "/metrics-dashboard", "text/html").await;
    assert_eq!(res.status(), StatusCode::OK);
}
