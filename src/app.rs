//! The application: shared state, and the one function where every route is visible.

use std::{future::Future, net::SocketAddr, ops::Deref, sync::Arc, time::Duration};

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::{
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, HeaderName, Request, StatusCode},
    response::{Html, IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use sea_orm::{DatabaseConnection, DbBackend};
use serde_json::json;
use tokio::{net::TcpListener, sync::Notify};
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::TraceLayer,
};

use crate::{
    auth::Authenticator,
    config::Config,
    db,
    graphql::{self, context::RequestViewer, TollgateSchema},
    live::LiveHub,
    stripe::StripeClient,
    webhooks,
};

/// Shared state: one `Arc`, cheap to clone into every handler.
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

pub struct AppStateInner {
    pub config: Config,
    pub db: DatabaseConnection,
    pub stripe: StripeClient,
    pub auth: Authenticator,
    pub schema: TollgateSchema,
    /// Woken when a webhook is stored, so the worker need not poll quickly.
    pub webhook_wakeup: Notify,
    /// Where committed changes are published for GraphQL subscriptions.
    pub live: LiveHub,
}

impl Deref for AppState {
    type Target = AppStateInner;

    fn deref(&self) -> &Self::Target {
        &self.0
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
        Ok(AppState(Arc::new(AppStateInner {
            schema: builder.finish(),
            config,
            db,
            stripe,
            auth,
            webhook_wakeup: Notify::new(),
            live,
        })))
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every route of the service.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/graphql", get(graphiql).post(graphql_handler))
        .route("/graphql/ws", get(graphql_ws))
        .route(
            "/webhooks/stripe",
            post(webhooks::receive).layer(DefaultBodyLimit::max(webhooks::MAX_BODY_BYTES)),
        )
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .layer(DefaultBodyLimit::max(256 * 1024))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let request_id = req
                .extensions()
                .get::<RequestId>()
                .and_then(|id| id.header_value().to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .finish(),
    )
}

async fn graphql_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    req: GraphQLRequest,
) -> Response {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let viewer = match state.auth.from_header(header) {
        Ok(v) => v,
        Err(e) => {
            tracing::info!(reason = %e, "rejected bearer token");
            // A bad token is refused outright rather than treated as anonymous, so a client
            // learns its session expired instead of seeing an empty history.
            let body = json!({"errors": [{
                "message": "invalid or expired token",
                "extensions": {"code": "UNAUTHENTICATED"}
            }]});
            return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
        }
    };
    let request = req
        .into_inner()
        .data(RequestViewer(viewer))
        .data(graphql::loaders::request_loader(state.db.clone()))
        .data(state.clone());
    GraphQLResponse::from(state.schema.execute(request).await).into_response()
}

/// graphql-ws (and the older subscriptions-transport-ws) over a WebSocket. The token comes in
/// `connection_init` (`{"Authorization": "Bearer …"}` or `{"token": "…"}`), since browsers
/// cannot set headers on WebSockets; a connection without a valid one is refused.
async fn graphql_ws(
    State(state): State<AppState>,
    protocol: GraphQLProtocol,
    upgrade: axum::extract::ws::WebSocketUpgrade,
) -> Response {
    let schema = state.schema.clone();
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| {
            GraphQLWebSocket::new(stream, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let token = payload
                        .get("Authorization")
                        .or_else(|| payload.get("authorization"))
                        .and_then(|v| v.as_str())
                        .map(str::to_owned)
                        .or_else(|| {
                            payload
                                .get("token")
                                .and_then(|v| v.as_str())
                                .map(|t| format!("Bearer {t}"))
                        });
                    let viewer = state
                        .auth
                        .from_header(token.as_deref())
                        .ok()
                        .flatten()
                        .ok_or_else(|| {
                            async_graphql::Error::new("UNAUTHENTICATED: a valid token is required")
                        })?;
                    let mut data = async_graphql::Data::default();
                    data.insert(RequestViewer(Some(viewer)));
                    data.insert(state.clone());
                    Ok(data)
                })
                .serve()
        })
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
    /// Runs pending migrations, connects to the database, and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with(config, |_| {}).await
    }

    /// Like `build`; `prepare` gets the connection pool first (tests count its statements).
    pub async fn build_with(
        config: Config,
        prepare: impl FnOnce(&mut DatabaseConnection),
    ) -> anyhow::Result<Self> {
        db::migrate_url(&config.database_url).await?;
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
                DbBackend::Postgres => 4,
                _ => 1,
            },
        );
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let handles = webhooks::worker::spawn(self.state.clone(), workers, stopped);
        let app = router(self.state.clone());
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        let _ = stop.send(true);
        for h in handles {
            let _ = h.await;
        }
        served
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
