//! `POST /graphql` and `GET /graphql`, following GraphQL-over-HTTP: bodies are
//! `application/json` only and limited before they are read; `Accept:
//! application/graphql-response+json` gets 4xx for request errors, `application/json` (or no
//! preference) the legacy 200. Every refusal is a GraphQL-shaped body with a stable `code`;
//! nothing here echoes Rust's debug text.

use std::net::SocketAddr;

use async_graphql::{Request as GqlRequest, Response as GqlResponse, Variables};
use axum::{
    body::Body,
    extract::{ConnectInfo, Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    completion::is_request_error,
    edge::{client_ip, Edge, GraphqlEdge},
    executor::{Answer, Checked},
    guard::{Door, Refusal},
};
use crate::error::{EdgeError, ErrorCode};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// Which media type the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `application/graphql-response+json`: request errors are 4xx.
    GraphqlResponse,
    /// `application/json`, `*/*` or no Accept header: always 200 for GraphQL errors.
    Json,
}

/// What a client sends in a POST body (or a GET query string).
#[derive(Debug, Deserialize)]
struct Params {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<Value>,
    /// Not used (no persisted queries); parsed only so that a non-object is refused.
    #[serde(default)]
    #[allow(dead_code)]
    extensions: Option<serde_json::Map<String, Value>>,
}

fn peer_of(req: &Request) -> Option<SocketAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

fn accept_mode(headers: &HeaderMap) -> Result<Mode, EdgeError> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(Mode::Json);
    };
    let mut json = false;
    for item in accept.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        if refused {
            continue;
        }
        match media.as_str() {
            GRAPHQL_RESPONSE_JSON => return Ok(Mode::GraphqlResponse),
            "application/json" | "application/*" | "*/*" => json = true,
            _ => {}
        }
    }
    if json {
        Ok(Mode::Json)
    } else {
        Err(EdgeError::new(
            StatusCode::NOT_ACCEPTABLE,
            ErrorCode::BadRequest,
            "this endpoint answers application/json or application/graphql-response+json",
        ))
    }
}

fn is_json_body(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

async fn read_body(body: Body, headers: &HeaderMap, max: usize) -> Result<bytes::Bytes, EdgeError> {
    let too_large = || {
        EdgeError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            format!("the request body is larger than {max} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(_) => Err(EdgeError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            "the request body could not be read",
        )),
    }
}

fn parse_params(bytes: &[u8]) -> Result<Params, EdgeError> {
    let bad = |m: &str| EdgeError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, m);
    let value: Value =
        serde_json::from_slice(bytes).map_err(|_| bad("the request body is not valid JSON"))?;
    match value {
        Value::Object(_) => {}
        Value::Array(_) => return Err(bad("batched operations are not supported")),
        _ => return Err(bad("the request body must be a JSON object")),
    }
    serde_json::from_value(value).map_err(|_| {
        bad("`query` and `operationName` must be strings, `variables` and `extensions` objects")
    })
}

fn variables_of(value: Option<Value>) -> Result<Variables, EdgeError> {
    match value {
        None | Some(Value::Null) => Ok(Variables::default()),
        Some(v @ Value::Object(_)) => Ok(Variables::from_json(v)),
        Some(_) => Err(EdgeError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            "`variables` must be an object",
        )),
    }
}

/// `POST /graphql`.
pub async fn post(State(state): State<Edge>, req: Request) -> Response {
    let peer = peer_of(&req);
    let (parts, body) = req.into_parts();
    let result = async {
        let ip = client_ip(&parts.headers, peer, state.http.trusted_proxy_hops);
        state.rate_limits.ip(ip).map_err(EdgeError::rate_limited)?;
        let mode = accept_mode(&parts.headers)?;
        if !is_json_body(&parts.headers) {
            return Err(EdgeError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                "POST /graphql takes application/json",
            ));
        }
        let bytes = read_body(body, &parts.headers, state.http.max_body_bytes).await?;
        let params = parse_params(&bytes)?;
        execute(&state, &parts.headers, params, mode, false).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /graphql`: a browser gets GraphiQL; a client with `?query=` runs a query (never a
/// mutation: GET must not change anything).
pub async fn get(State(state): State<Edge>, req: Request) -> Response {
    let peer = peer_of(&req);
    let headers = req.headers().clone();
    let raw_query = req.uri().query().unwrap_or_default().to_owned();
    // A browser (or anything not asking for JSON) gets the IDE; a GraphQL client gets a 400.
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let wants_html = accept.contains("text/html") || !accept.contains("json");
    if raw_query.is_empty() && wants_html {
        return crate::web::graphiql(&state.web).await;
    }
    let result = async {
        let ip = client_ip(&headers, peer, state.http.trusted_proxy_hops);
        state.rate_limits.ip(ip).map_err(EdgeError::rate_limited)?;
        let mode = accept_mode(&headers)?;
        let bad = |m: &str| EdgeError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, m);
        let form: Vec<(String, String)> = serde_urlencoded::from_str(&raw_query)
            .map_err(|_| bad("the query string is malformed"))?;
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let variables = field("variables")
            .map(|v| serde_json::from_str(&v).map_err(|_| bad("`variables` is not valid JSON")))
            .transpose()?;
        let params = Params {
            query: field("query"),
            operation_name: field("operationName"),
            variables,
            extensions: None,
        };
        execute(&state, &headers, params, mode, true).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// The viewer of a bearer token (None without one). A bad token is refused outright rather
/// than treated as anonymous, so a client learns its session expired instead of seeing an
/// empty history.
fn authenticate(
    state: &GraphqlEdge,
    headers: &HeaderMap,
) -> Result<Option<crate::auth::Viewer>, EdgeError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    state.viewer_of(authorization).map_err(|e| {
        tracing::info!(reason = %e, "rejected bearer token");
        EdgeError::unauthenticated()
    })
}

/// GET must not change anything: mutations are POSTed.
fn mutation_over_get() -> Response {
    let mut response = EdgeError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::BadRequest,
        "mutations are sent with POST",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

async fn execute(
    state: &GraphqlEdge,
    headers: &HeaderMap,
    params: Params,
    mode: Mode,
    via_get: bool,
) -> Result<Response, EdgeError> {
    let Some(query) = params.query else {
        return Err(EdgeError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            "the request has no `query`",
        ));
    };
    let variables = variables_of(params.variables)?;
    let viewer = authenticate(state, headers)?;
    let mut request = GqlRequest::new(query).variables(variables);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    let door = if via_get {
        Door::HttpGet
    } else {
        Door::HttpPost
    };
    let checked: Checked = match state.admit(door, viewer.as_ref(), request) {
        Ok(c) => c,
        Err(Refusal::RateLimited(limited)) => return Err(EdgeError::rate_limited(limited)),
        Err(Refusal::MutationOverGet) => return Ok(mutation_over_get()),
        Err(Refusal::Refused(refused)) => return Ok(render(refused.into_response(), mode, true)),
    };
    Ok(
        match state
            .executor
            .answer(checked, viewer, state.services.clone())
            .await
        {
            Answer::Executed(response) => render(response, mode, false),
            Answer::Compiled(body) => json_response(StatusCode::OK, mode, body),
        },
    )
}

fn render(response: GqlResponse, mode: Mode, refused: bool) -> Response {
    let request_error = refused || is_request_error(&response);
    // Serialised straight to bytes: going through a `serde_json::Value` first built (and
    // freed) a map for every object of the answer.
    let body = if request_error {
        serde_json::to_vec(&json!({ "errors": response.errors }))
    } else {
        serde_json::to_vec(&response)
    }
    .unwrap_or_else(|e| {
        tracing::error!(error = %e, "serialising a GraphQL response failed");
        br#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}"#.to_vec()
    });
    let status = match mode {
        Mode::GraphqlResponse if request_error => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    json_response(status, mode, body)
}

fn json_response(status: StatusCode, mode: Mode, body: Vec<u8>) -> Response {
    let content_type = match mode {
        Mode::GraphqlResponse => GRAPHQL_RESPONSE_JSON,
        Mode::Json => "application/json",
    };
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

/// Methods other than GET and POST.
pub async fn method_not_allowed(method: Method) -> Response {
    let mut response = EdgeError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::BadRequest,
        format!("{method} is not supported here; use POST (or GET for queries)"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    #[test]
    fn accept_negotiation() {
        assert_eq!(accept_mode(&headers(&[])).ok(), Some(Mode::Json));
        let grj = headers(&[(
            "accept",
            "application/graphql-response+json, application/json",
        )]);
        assert_eq!(accept_mode(&grj).ok(), Some(Mode::GraphqlResponse));
        assert_eq!(
            accept_mode(&headers(&[("accept", "*/*")])).ok(),
            Some(Mode::Json)
        );
        assert!(accept_mode(&headers(&[("accept", "text/html")])).is_err());
        let refused = headers(&[(
            "accept",
            "application/graphql-response+json;q=0, application/json",
        )]);
        assert_eq!(accept_mode(&refused).ok(), Some(Mode::Json));
    }

    #[test]
    fn bodies_parse_strictly() {
        assert!(parse_params(br#"{"query":"{ a }"}"#).is_ok());
        for bad in [&b"[]"[..], b"\"x\"", b"{", br#"{"query": 5}"#, b"\xff"] {
            assert!(parse_params(bad).is_err());
        }
    }
}
