//! The application: shared state, and the one function where every route is visible.

use std::{future::Future, net::SocketAddr, ops::Deref, sync::Arc, time::Duration};

use axum::{
    extract::{ConnectInfo, DefaultBodyLimit, FromRef, State},
    http::{header, HeaderName, HeaderValue, Method, Request, StatusCode},
    response::{IntoResponse, Response},
    routing::{any, get, post},
    Json, Router,
};
use sea_orm::{DatabaseConnection, DbBackend};
use serde_json::json;
use tokio::{net::TcpListener, sync::Notify};
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::{
    auth::Authenticator,
    config::{Config, HttpConfig},
    db,
    error::EdgeError,
    graphql::{
        self,
        context::Services,
        edge::{Edge, GraphqlEdge},
        executor::GuardedSchema,
    },
    live::LiveHub,
    rate_limit::RateLimits,
    stripe::StripeClient,
    webhooks,
};

/// Shared state: one `Arc`, cheap to clone into every handler. This is the only place that
/// knows the whole; each layer gets the part it uses (`graphql::edge::Edge` and
/// `webhooks::Receiver` by `FromRef`, the worker its `Worker`, resolvers their `Services`).
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

pub struct AppStateInner {
    pub config: Config,
    pub db: DatabaseConnection,
    pub stripe: StripeClient,
    /// Where committed changes are published for GraphQL subscriptions.
    pub live: LiveHub,
    /// What `POST /webhooks/stripe` uses: secrets, tolerance, intake, the worker's wake-up.
    pub webhooks: webhooks::Receiver,
    /// The GraphQL edge: schema behind its checks, authentication, rate limits, services.
    pub graphql: Edge,
    /// Set when shutdown begins; WebSockets (which graceful shutdown does not wait for) close
    /// with 1001 "going away".
    pub closing: tokio::sync::watch::Sender<bool>,
    /// The SPA, its settings and GraphiQL's page.
    pub web: crate::web::Web,
}

impl Deref for AppState {
    type Target = AppStateInner;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl FromRef<AppState> for Edge {
    fn from_ref(state: &AppState) -> Self {
        state.graphql.clone()
    }
}

impl FromRef<AppState> for webhooks::Receiver {
    fn from_ref(state: &AppState) -> Self {
        state.webhooks.clone()
    }
}

impl FromRef<AppState> for crate::web::Web {
    fn from_ref(state: &AppState) -> Self {
        state.web.clone()
    }
}

impl AppState {
    pub fn new(config: Config, db: DatabaseConnection) -> anyhow::Result<Self> {
        let stripe = StripeClient::new(&config.stripe)?;
        let auth = Authenticator::new(&config.jwt)?;
        let mut builder = graphql::schema_builder();
        if !config.graphql_introspection {
            builder = builder.disable_introspection();
        }
        let live = LiveHub::new(db.get_database_backend());
        if config.http.metrics {
            // Installed before the first request so no early count is lost.
            crate::metrics::handle();
        }
        let webhook_wakeup = Arc::new(Notify::new());
        let services = Services {
            db: db.clone(),
            stripe: stripe.clone(),
            live: live.clone(),
            owner_refund_window: config.owner_refund_window,
            webhook_wakeup: webhook_wakeup.clone(),
        };
        let (closing, closing_seen) = tokio::sync::watch::channel(false);
        let web = Arc::new(crate::web::WebFace::new(&config.web, &config.stripe));
        let graphql = Arc::new(GraphqlEdge {
            executor: GuardedSchema::new(builder.finish(), config.http.compiled_operations)?,
            auth,
            rate_limits: RateLimits::new(config.http.rate_limits),
            http: config.http.clone(),
            services,
            closing: closing_seen,
            web: web.clone(),
        });
        let webhooks = webhooks::Receiver {
            secrets: config.stripe.webhook_secrets.clone().into(),
            tolerance: config.stripe.webhook_tolerance,
            intake: Arc::new(webhooks::intake::Intake::new(db.clone())),
            wakeup: webhook_wakeup,
        };
        Ok(AppState(Arc::new(AppStateInner {
            config,
            db,
            stripe,
            live,
            webhooks,
            graphql,
            closing,
            web,
        })))
    }

    /// What the webhook worker needs.
    pub fn worker(&self) -> webhooks::worker::Worker {
        webhooks::worker::Worker {
            db: self.db.clone(),
            stripe: self.stripe.clone(),
            live: self.live.clone(),
            wakeup: self.webhooks.wakeup.clone(),
        }
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every route of the service.
pub fn router(state: AppState) -> Router {
    let http = &state.config.http;
    let mut router = Router::new()
        .merge(bounded_routes(http))
        .route("/graphql/ws", any(graphql::ws::upgrade));
    if http.metrics && http.metrics_bind.is_none() {
        router = router.route("/metrics", get(local_metrics));
    }
    let router = router
        .fallback(crate::web::fallback)
        .layer(axum::middleware::from_fn(record_http))
        .layer(DefaultBodyLimit::max(256 * 1024))
        .layer(cors(http));
    with_security_headers(router)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(|res: &Response, _latency: Duration, span: &tracing::Span| {
                    span.record("http.response.status_code", res.status().as_u16());
                }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(axum::middleware::map_request(drop_unsafe_request_id))
        .with_state(state)
}

/// Every route but the WebSocket: each answers within the request timeout, body included.
fn bounded_routes(http: &HttpConfig) -> Router<AppState> {
    Router::new()
        .route(
            "/graphql",
            get(graphql::http::get)
                .post(graphql::http::post)
                .fallback(graphql::http::method_not_allowed),
        )
        .route(
            "/webhooks/stripe",
            post(webhooks::receive).layer(DefaultBodyLimit::max(webhooks::MAX_BODY_BYTES)),
        )
        .route("/settings.json", get(crate::web::settings))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            http.request_timeout,
        ))
}

/// The headers every response carries unless it sets its own (the SPA and GraphiQL widen the
/// content security policy for their own files).
fn with_security_headers(router: Router<AppState>) -> Router<AppState> {
    router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
}

/// Each request's span: the log lines' context, and with traces on, the root of the request's
/// trace (continuing the caller's `traceparent`). Named `METHOD route` here (the matched
/// pattern, never the raw path); GraphQL renames it after the operation (`guard::admit`).
fn request_span<B>(req: &Request<B>) -> tracing::Span {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-");
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |p| p.as_str());
    // Docker's and the load balancer's health checks every few seconds are not worth a trace
    // each: a debug span, below the traces' (and the default logs') level.
    if matches!(route, "/healthz" | "/readyz") {
        return tracing::debug_span!("http", route, request_id);
    }
    // The method as OpenTelemetry's conventions name it: any other token a client sends is
    // `_OTHER`, so span names stay a closed set.
    let method = match *req.method() {
        Method::GET
        | Method::POST
        | Method::PUT
        | Method::DELETE
        | Method::HEAD
        | Method::OPTIONS
        | Method::PATCH
        | Method::CONNECT
        | Method::TRACE => req.method().as_str(),
        _ => "_OTHER",
    };
    let span = tracing::info_span!(
        "http",
        method,
        path = %req.uri().path(),
        request_id,
        otel.name = format!("{method} {route}"),
        otel.kind = "server",
        http.route = route,
        http.response.status_code = tracing::field::Empty,
        graphql.operation.type = tracing::field::Empty,
        graphql.operation.name = tracing::field::Empty,
    );
    crate::telemetry::spans::continue_from_headers(&span, req.headers());
    span
}

/// Counts each answered request by route (the matched pattern, never the raw path) and status.
async fn record_http(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    crate::metrics::http_request(&route, response.status().as_u16(), started.elapsed());
    response
}

/// Prometheus text format.
async fn metrics(State(state): State<AppState>) -> Response {
    match crate::metrics::render(&state.db, &state.live).await {
        Some(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            )],
            text,
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder unavailable",
        )
            .into_response(),
    }
}

/// `/metrics` on the API's own address answers loopback peers only (a scraper or sidecar on
/// the same host): the figures are not for the internet. Remote scrapers use `METRICS_BIND`.
async fn local_metrics(
    state: State<AppState>,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
) -> Response {
    match connect {
        Some(axum::Extension(ConnectInfo(peer))) if peer.ip().is_loopback() => metrics(state).await,
        _ => not_found().await,
    }
}

/// `/metrics` alone on `METRICS_BIND`, so it can stay on a private interface.
async fn serve_metrics(state: AppState, addr: SocketAddr) {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .with_state(state);
    match TcpListener::bind(addr).await {
        Ok(listener) => {
            tracing::info!(%addr, "metrics on their own address");
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "metrics listener stopped");
            }
        }
        Err(e) => tracing::error!(error = %e, %addr, "cannot bind METRICS_BIND"),
    }
}

/// A client's `x-request-id` is kept only when it is short and plain; anything else is
/// replaced by a fresh id, so a log line never carries attacker-chosen markup.
async fn drop_unsafe_request_id<B>(mut req: Request<B>) -> Request<B> {
    let plain = req.headers().get(&REQUEST_ID).is_some_and(|v| {
        let b = v.as_bytes();
        !b.is_empty()
            && b.len() <= 64
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    });
    if !plain {
        req.headers_mut().remove(&REQUEST_ID);
    }
    req
}

/// CORS for the listed origins only; none listed, no CORS headers (same-origin SPAs need none).
fn cors(http: &HttpConfig) -> CorsLayer {
    let origins: Vec<HeaderValue> = http
        .cors_allowed_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return CorsLayer::new();
    }
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .max_age(Duration::from_secs(600))
}

async fn not_found() -> Response {
    EdgeError::new(
        StatusCode::NOT_FOUND,
        crate::error::ErrorCode::NotFound,
        "no such route",
    )
    .into_response()
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers within a second.
async fn readyz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(1), db::ping(&state.db)).await {
        Ok(Ok(())) => (StatusCode::OK, Json(json!({"status": "ready"}))).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "database unreachable"})),
            )
                .into_response()
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "database timeout"})),
        )
            .into_response(),
    }
}

/// A bound, migrated, ready-to-serve application. Binding port 0 picks a free port.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Runs pending migrations (or, with `MIGRATE_ON_START=false`, checks none is pending),
    /// connects to the database, and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with(config, |_| {}).await
    }

    /// Like `build`; `prepare` gets the connection pool first (tests count its statements).
    pub async fn build_with(
        config: Config,
        prepare: impl FnOnce(&mut DatabaseConnection),
    ) -> anyhow::Result<Self> {
        if config.migrate_on_start {
            db::migrate_url(&config.database_url).await?;
        } else {
            let pending = db::pending_migrations(&config.database_url).await?;
            if !pending.is_empty() {
                anyhow::bail!(
                    "MIGRATE_ON_START=false but {} migration(s) are pending ({}): run `tollgate migrate` first",
                    pending.len(),
                    pending.join(", ")
                );
            }
        }
        let mut db = db::connect(&config.database_url).await?;
        prepare(&mut db);
        let listener = TcpListener::bind(config.bind_addr).await?;
        let state = AppState::new(config, db)?;
        state
            .live
            .start_listener(&state.config.database_url)
            .await?;
        Ok(Application { listener, state })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves (and runs the webhook workers) until `shutdown` completes, then finishes
    /// in-flight requests and the event being applied.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let workers = self.state.config.webhook_workers.unwrap_or(
            match self.state.db.get_database_backend() {
                // Each worker mostly waits on round trips to the database: 8 applied 3,150–3,290
                // events/s in `scripts/bench webhooks` where 4 applied 2,840 and 16 only 2,390.
                DbBackend::Postgres => 8,
                _ => 1,
            },
        );
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let handles = webhooks::worker::spawn(self.state.worker(), workers, stopped);
        let app = router(self.state.clone());
        let http = &self.state.config.http;
        let metrics_listener = match http.metrics_bind {
            Some(addr) if http.metrics => {
                Some(tokio::spawn(serve_metrics(self.state.clone(), addr)))
            }
            _ => None,
        };
        let state = self.state.clone();
        let shutdown = async move {
            shutdown.await;
            let _ = state.closing.send(true);
        };
        let served =
            crate::server::serve(self.listener, app, &self.state.config.http, shutdown).await;
        if let Some(task) = metrics_listener {
            task.abort();
        }
        let _ = stop.send(true);
        for h in handles {
            let _ = h.await;
        }
        served
    }
}
