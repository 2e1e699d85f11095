//! GraphiQL at `GET /graphql`. Its scripts are pinned to exact versions with Subresource
//! Integrity (the hashes of the npm packages' files, which the CDN serves byte for byte), and
//! the page's Content-Security-Policy allows only those, the boot script by its hash, and
//! connections back to this origin: a changed file on the CDN is refused by the browser.

use std::sync::OnceLock;

use axum::{
    http::{header, HeaderValue},
    response::{Html, IntoResponse, Response},
};
use base64::Engine;
use sha2::{Digest, Sha256};

const BOOT: &str = r#"
const url = new URL('/graphql', window.location.origin).toString();
const ws = new URL('/graphql/ws', window.location.origin);
ws.protocol = ws.protocol === 'https:' ? 'wss:' : 'ws:';
ReactDOM.createRoot(document.getElementById('graphiql')).render(
  React.createElement(GraphiQL, {
    fetcher: GraphiQL.createFetcher({ url, subscriptionUrl: ws.toString() }),
    defaultEditorToolsVisibility: true,
  })
);
"#;

const PAGE_HEAD: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tollgate GraphiQL</title>
<style>body{margin:0;height:100%;overflow:hidden}#graphiql{height:100vh}</style>
<link rel="stylesheet" href="https://unpkg.com/graphiql@4.1.2/graphiql.min.css" integrity="sha384-1el1QShFBnnXTx9x/Cprg82hZWKt0ry29OAYIXt05swbi0KcZDFoj0CWguMpopJr" crossorigin="anonymous">
<script src="https://unpkg.com/react@18.3.1/umd/react.production.min.js" integrity="sha384-DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z" crossorigin="anonymous"></script>
<script src="https://unpkg.com/react-dom@18.3.1/umd/react-dom.production.min.js" integrity="sha384-gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1" crossorigin="anonymous"></script>
<script src="https://unpkg.com/graphiql@4.1.2/graphiql.min.js" integrity="sha384-9XdHu7ajgGJziD4J1zNBKQ842Q/+zZfDv+ib1eMhZWBH6hPAs806x+Jbcf0yNO6B" crossorigin="anonymous"></script>
</head>
<body>
<div id="graphiql">Loading…</div>
<script>"#;

const PAGE_TAIL: &str = "</script>\n</body>\n</html>\n";

struct Page {
    html: String,
    csp: HeaderValue,
}

fn page() -> &'static Page {
    static PAGE: OnceLock<Page> = OnceLock::new();
    PAGE.get_or_init(|| {
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(BOOT));
        let csp = format!(
            "default-src 'none'; script-src https://unpkg.com 'sha256-{hash}'; \
             style-src https://unpkg.com 'unsafe-inline'; font-src https://unpkg.com data:; \
             img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; \
             base-uri 'none'; form-action 'none'"
        );
        Page {
            html: format!("{PAGE_HEAD}{BOOT}{PAGE_TAIL}"),
            csp: HeaderValue::from_str(&csp)
                .unwrap_or(HeaderValue::from_static("default-src 'none'")),
        }
    })
}

pub async fn serve() -> Response {
    let page = page();
    let mut response = Html(page.html.clone()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, page.csp.clone());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_external_resource_is_pinned_with_integrity() {
        let html = &page().html;
        for tag in html.split('<').filter(|t| t.contains("https://")) {
            assert!(tag.contains("integrity=\"sha384-"), "unpinned: {tag}");
            assert!(
                !tag.contains("@18/") && !tag.contains("@4/"),
                "floating version: {tag}"
            );
        }
        let csp = page().csp.to_str().expect("ascii");
        assert!(csp.contains("'sha256-") && !csp.contains("unsafe-eval"));
    }
}
