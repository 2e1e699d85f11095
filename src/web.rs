//! The browser face: the SPA's build (`web/dist`) at `/` with an `index.html` fallback, the
//! runtime settings it reads at start (`/settings.json`, so one build runs against any Stripe
//! account or emulator), and GraphiQL's page, which the same Vite build bundles — nothing is
//! loaded from a CDN, so both work without internet and under a strict CSP.

use std::path::{Component, Path, PathBuf};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::{
    config::{StripeConfig, WebConfig},
    error::EdgeError,
    error::ErrorCode,
};

/// Vite puts content-hashed files here: a name never changes meaning, so browsers may keep them.
const ASSETS_PREFIX: &str = "/assets/";
const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");

/// What the web routes serve, computed once at start.
pub struct WebFace {
    /// The SPA's build; None when `WEB_DIR=off`.
    dir: Option<PathBuf>,
    settings: String,
    spa_csp: HeaderValue,
    graphiql_csp: HeaderValue,
}

pub type Web = std::sync::Arc<WebFace>;

impl WebFace {
    pub fn new(web: &WebConfig, stripe: &StripeConfig) -> Self {
        if let Some(dir) = &web.dir {
            if !dir.join("index.html").is_file() {
                tracing::warn!(
                    dir = %dir.display(),
                    "the SPA is not built (run scripts/build-web); `/` and GraphiQL answer 404"
                );
            }
        }
        let graphiql_headers = web
            .graphiql_token
            .as_ref()
            .map(|t| json!({ "Authorization": format!("Bearer {}", t.expose()) }).to_string());
        let settings = json!({
            "stripePublishableKey": stripe.publishable_key,
            "stripeJsUrl": stripe.js_url,
            "graphqlPath": "/graphql",
            "graphqlWsPath": "/graphql/ws",
            "graphiqlHeaders": graphiql_headers,
        })
        .to_string();
        WebFace {
            dir: web.dir.clone(),
            settings,
            spa_csp: csp(&spa_policy(&stripe.js_url)),
            graphiql_csp: csp(GRAPHIQL_POLICY),
        }
    }
}

/// Stripe.js runs from its own origin, talks to Stripe's API and frames its card fields from
/// Stripe's hosts; everything else is this origin. `'unsafe-inline'` styles only: React and
/// Stripe Elements set style attributes, while scripts stay bundled files.
fn spa_policy(stripe_js_url: &str) -> String {
    let stripe = reqwest::Url::parse(stripe_js_url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
        .unwrap_or_else(|| "https://js.stripe.com".to_owned());
    format!(
        "default-src 'self'; script-src 'self' {stripe}; \
         connect-src 'self' ws: wss: {stripe} https://api.stripe.com; \
         frame-src {stripe} https://js.stripe.com https://hooks.stripe.com; \
         img-src 'self' data: https://*.stripe.com; style-src 'self' 'unsafe-inline'; \
         font-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

const GRAPHIQL_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; \
    connect-src 'self' ws: wss:; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; \
    form-action 'none'; frame-ancestors 'none'";

fn csp(policy: &str) -> HeaderValue {
    HeaderValue::from_str(policy).unwrap_or(HeaderValue::from_static("default-src 'none'"))
}

/// `GET /settings.json`: what the SPA (and GraphiQL) need to know at run time.
pub async fn settings(State(web): State<Web>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        web.settings.clone(),
    )
        .into_response()
}

/// GraphiQL's page (`graphiql.html` of the SPA's build), under its own CSP.
pub async fn graphiql(web: &WebFace) -> Response {
    let Some(dir) = &web.dir else {
        return not_found();
    };
    let mut response = serve_file(&dir.join("graphiql.html")).await;
    if response.status() == StatusCode::OK {
        set(
            &mut response,
            header::CONTENT_SECURITY_POLICY,
            web.graphiql_csp.clone(),
        );
        set(&mut response, header::CACHE_CONTROL, REVALIDATE);
    }
    response
}

/// Everything no other route matched: a file of the build, or — for a path that names no file
/// (`/payments`, `/admin`) — the SPA's `index.html`, whose router takes it from there.
pub async fn fallback(State(web): State<Web>, req: Request) -> Response {
    let Some(dir) = &web.dir else {
        return not_found();
    };
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return not_found();
    }
    let path = req.uri().path();
    let Some(relative) = safe_relative(path) else {
        return not_found();
    };
    if is_server_path(&relative) {
        return not_found();
    }
    let names_a_file = relative
        .file_name()
        .is_some_and(|n| n.to_string_lossy().contains('.'));
    let (file, cache) = if names_a_file {
        let cache = if path.starts_with(ASSETS_PREFIX) {
            IMMUTABLE
        } else {
            REVALIDATE
        };
        (dir.join(&relative), cache)
    } else {
        (dir.join("index.html"), REVALIDATE)
    };
    let mut response = serve_file_for(&file, req).await;
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        set(&mut response, header::CACHE_CONTROL, cache);
        set(
            &mut response,
            header::CONTENT_SECURITY_POLICY,
            web.spa_csp.clone(),
        );
    }
    response
}

/// Paths that belong to the server. When their route is off or elsewhere (`METRICS=false`,
/// `METRICS_BIND`), they answer 404, never the SPA's page with a 200 that a
/// scraper or a probe would take for an answer.
const SERVER_PATHS: &[&str] = &["metrics", "graphql", "webhooks", "healthz", "readyz"];

fn is_server_path(relative: &Path) -> bool {
    relative
        .components()
        .next()
        .is_some_and(|first| SERVER_PATHS.iter().any(|p| first.as_os_str() == *p))
}

/// The request path as a relative path inside the build, or None if it tries to leave it
/// (`..`, a root or drive component, a backslash or NUL smuggled in).
fn safe_relative(path: &str) -> Option<PathBuf> {
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?;
    if decoded.contains(['\\', '\0']) {
        return None;
    }
    let mut out = PathBuf::new();
    for component in Path::new(decoded.trim_start_matches('/')).components() {
        match component {
            Component::Normal(c) => out.push(c),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

async fn serve_file(file: &Path) -> Response {
    let req = Request::builder()
        .method(Method::GET)
        .body(Body::empty())
        .unwrap_or_default();
    serve_file_for(file, req).await
}

/// One file, with tower-http's conditional requests, ranges and HEAD; a missing file is our
/// JSON 404, not an empty body.
async fn serve_file_for(file: &Path, req: Request) -> Response {
    match ServeFile::new(file).oneshot(req).await {
        Ok(response) if response.status() == StatusCode::NOT_FOUND => not_found(),
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    }
}

fn set(response: &mut Response, name: header::HeaderName, value: HeaderValue) {
    response.headers_mut().insert(name, value);
}

fn not_found() -> Response {
    EdgeError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such route").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_build() {
        assert_eq!(
            safe_relative("/assets/index-abc.js"),
            Some(PathBuf::from("assets/index-abc.js"))
        );
        assert_eq!(safe_relative("/"), Some(PathBuf::new()));
        for hostile in [
            "/../etc/passwd",
            "/assets/../../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/assets/%2e%2e%2f%2e%2e%2fsecret",
            "/a%5c..%5cb",
            "/a%00.js",
            "/%ff",
        ] {
            assert_eq!(safe_relative(hostile), None, "{hostile}");
        }
    }

    #[test]
    fn the_spa_policy_allows_stripe_js_from_its_configured_origin_only() {
        let p = spa_policy("http://127.0.0.1:4321/js.stripe.com/v3/");
        assert!(p.contains("script-src 'self' http://127.0.0.1:4321;"));
        assert!(!p.contains("unsafe-eval") && !p.contains("script-src 'self' 'unsafe-inline'"));
        let p = spa_policy("not a url");
        assert!(p.contains("script-src 'self' https://js.stripe.com;"));
    }
}
