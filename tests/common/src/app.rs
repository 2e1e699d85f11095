//! The real app on a random port, against the test's own database and emulator; requests to
//! it as its clients make them; replicas on the same database.

use std::{collections::HashMap, net::SocketAddr, sync::Mutex, time::Duration};

use reqwest::StatusCode;
use sea_orm::DatabaseConnection;
use serde_json::{json, Value};
use tokio::{sync::oneshot, task::JoinHandle};
use tollgate::{
    app::{AppState, Application},
    auth,
    config::{Config, JwtConfig},
};

use crate::{init_tracing, Emulator, TestDb, JWT_SECRET, STRIPE_SECRET_KEY, WEBHOOK_SECRET};

/// A running Tollgate, its emulator and its database.
pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    pub emulator: Emulator,
    pub db: TestDb,
    pub jwt: JwtConfig,
    pub http: reqwest::Client,
    shutdown: Mutex<Option<oneshot::Sender<()>>>,
    server: Mutex<Option<JoinHandle<std::io::Result<()>>>>,
}

/// The configuration every test app (and replica) starts from. Rate limits stay on, high
/// enough for the suite's bursts; `hostile.rs` sets its own.
pub fn test_config(database_url: &str, stripe_api_base: &str) -> HashMap<String, String> {
    [
        ("DATABASE_URL", database_url),
        ("BIND_ADDR", "127.0.0.1:0"),
        ("STRIPE_SECRET_KEY", STRIPE_SECRET_KEY),
        ("STRIPE_API_BASE", stripe_api_base),
        ("STRIPE_WEBHOOK_SECRETS", WEBHOOK_SECRET),
        ("STRIPE_TIMEOUT_MS", "3000"),
        ("JWT_SECRET", JWT_SECRET),
        ("RATE_LIMIT_IP_PER_MINUTE", "100000"),
        ("RATE_LIMIT_USER_PER_MINUTE", "100000"),
        ("RATE_LIMIT_MUTATIONS_PER_MINUTE", "100000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the app with the default test configuration, adjusted by `customize`.
pub async fn spawn_app_with(customize: impl FnOnce(&mut HashMap<String, String>)) -> TestApp {
    spawn_app_custom(customize, |_| {}).await
}

/// Like `spawn_app_with`, and lets the test prepare the database connection (e.g. to count
/// statements) before the app takes it.
pub async fn spawn_app_custom(
    customize: impl FnOnce(&mut HashMap<String, String>),
    prepare_db: impl FnOnce(&mut DatabaseConnection),
) -> TestApp {
    init_tracing();
    let emulator = Emulator::start().await;
    let db = TestDb::fresh().await;
    let mut vars = test_config(&db.url, &emulator.base_url());
    customize(&mut vars);
    let source = move |name: &str| vars.get(name).cloned();
    let config = Config::load(&source).expect("test configuration loads");
    let jwt = config.jwt.clone();
    let app = Application::build_with(config, prepare_db)
        .await
        .expect("app builds");
    let addr = app.local_addr().expect("bound");
    let state = app.state().clone();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        state,
        emulator,
        db,
        jwt,
        http: reqwest::Client::new(),
        shutdown: Mutex::new(Some(tx)),
        server: Mutex::new(Some(server)),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.state.db
    }

    pub fn token(&self, sub: &str, admin: bool) -> String {
        auth::mint(
            &self.jwt,
            sub,
            Some(&format!("{sub}@example.com")),
            admin,
            Duration::from_secs(600),
        )
        .expect("mint token")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("app reachable")
    }

    /// Sends a GraphQL operation; returns the HTTP status and the JSON body.
    pub async fn graphql_raw(
        &self,
        query: &str,
        variables: Value,
        token: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .post(self.url("/graphql"))
            .json(&json!({"query": query, "variables": variables}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("app reachable");
        let status = res.status();
        (status, res.json().await.expect("JSON body"))
    }

    /// Sends a GraphQL operation and returns the JSON body.
    pub async fn graphql(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        self.graphql_raw(query, variables, token).await.1
    }

    /// Posts a body to the webhook route with the given signature header.
    pub async fn post_webhook(&self, body: &str, signature: Option<&str>) -> reqwest::Response {
        let mut req = self
            .http
            .post(self.url("/webhooks/stripe"))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(s) = signature {
            req = req.header("stripe-signature", s);
        }
        req.send().await.expect("app reachable")
    }

    /// Stops serving (graceful shutdown) and waits for the server task.
    pub async fn stop(&self) {
        let tx = self.shutdown.lock().ok().and_then(|mut s| s.take());
        if let Some(tx) = tx {
            let _ = tx.send(());
        }
        let server = self.server.lock().ok().and_then(|mut s| s.take());
        if let Some(server) = server {
            let _ = server.await;
        }
    }
}

pub const PAY: &str =
    "mutation($input: CreatePaymentIntentInput!) { createPaymentIntent(input: $input) {
    clientSecret payment { id status stripePaymentIntentId amount { amount minorUnits currency }
    amountRefunded { amount } cardBrand cardLast4 failureCode failureMessage } } }";

impl TestApp {
    /// Pays `amount` `currency` as `token`'s user, confirming at once with `payment_method`.
    pub async fn pay(
        &self,
        token: &str,
        amount: &str,
        currency: &str,
        payment_method: Option<&str>,
    ) -> Value {
        self.graphql(
            PAY,
            json!({"input": {"amount": amount, "currency": currency, "paymentMethodId": payment_method}}),
            Some(token),
        )
        .await
    }

    /// Pays and returns the payment's id, asserting it succeeded.
    pub async fn pay_ok(&self, token: &str, amount: &str, currency: &str) -> String {
        let body = self
            .pay(token, amount, currency, Some("pm_card_visa"))
            .await;
        let payment = &body["data"]["createPaymentIntent"]["payment"];
        assert_eq!(payment["status"], "SUCCEEDED", "{body}");
        payment["id"].as_str().expect("payment id").to_string()
    }
}

/// A second app process on the same database and emulator (another replica).
pub struct Replica {
    addr: SocketAddr,
    _shutdown: oneshot::Sender<()>,
}

impl Replica {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

pub async fn spawn_replica(app: &TestApp) -> Replica {
    spawn_replica_with(app, |_| {}).await
}

/// A replica whose configuration differs from the default by `customize`.
pub async fn spawn_replica_with(
    app: &TestApp,
    customize: impl FnOnce(&mut HashMap<String, String>),
) -> Replica {
    let mut vars = test_config(&app.db.url, &app.emulator.base_url());
    customize(&mut vars);
    let source = move |name: &str| vars.get(name).cloned();
    let config = Config::load(&source).expect("config");
    let replica = Application::build(config).await.expect("replica builds");
    let addr = replica.local_addr().expect("bound");
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(replica.run_until(async move {
        let _ = rx.await;
    }));
    Replica {
        addr,
        _shutdown: tx,
    }
}
