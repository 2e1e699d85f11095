//! Test harness: the real app on a random port, a fresh database per test (SQLite temp file, or a
//! new PostgreSQL database when `TEST_DATABASE_URL` points at a server), and a real Stripe
//! emulator process (localstripe through our launcher) per test.

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::PathBuf,
    process::Stdio,
    sync::{Mutex, OnceLock},
    time::Duration,
};

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{json, Value};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
    sync::oneshot,
    task::JoinHandle,
};
use tollgate::{
    app::{AppState, Application},
    auth,
    config::{Config, JwtConfig},
};

pub const STRIPE_SECRET_KEY: &str = "sk_test_tollgate_suite";
pub const WEBHOOK_SECRET: &str = "whsec_tollgate_suite_secret";
pub const JWT_SECRET: &str = "tollgate-test-secret-0123456789abcdef";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn init_tracing() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            tollgate::telemetry::init(tollgate::config::LogFormat::Pretty);
        }
    });
}

/// Installs the emulator's virtualenv once per test process (the script holds a file lock, so
/// parallel test processes wait for one install).
fn ensure_venv() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let status =
            std::process::Command::new(repo_root().join("scripts/stripe-emulator/ensure-venv"))
                .status()
                .expect("run ensure-venv");
        assert!(status.success(), "installing localstripe failed");
    });
}

/// A running Stripe emulator on a free loopback port; stopped when dropped.
pub struct Emulator {
    child: Option<Child>,
    pub port: u16,
    http: reqwest::Client,
}

impl Emulator {
    pub async fn start() -> Emulator {
        ensure_venv();
        let root = repo_root();
        let mut child = Command::new(root.join(".venv/bin/python"))
            .arg(root.join("scripts/stripe-emulator/launcher.py"))
            .args(["--port", "0", "--quiet"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start the emulator");
        let stdout = child.stdout.take().expect("stdout piped");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("emulator did not start within 30 s")
            .expect("read emulator stdout")
            .expect("emulator exited before listening");
        let port: u16 = line
            .strip_prefix("LISTENING ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected emulator output: {line}"));
        // Keep draining stdout so the emulator never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Emulator {
            child: Some(child),
            port,
            http: reqwest::Client::new(),
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// POST a form to the emulator's Stripe API (`path` like `/v1/prices`).
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        self.post_with(path, form, None).await
    }

    pub async fn post_with(
        &self,
        path: &str,
        form: &[(&str, &str)],
        idempotency_key: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .post(self.url(path))
            .basic_auth(STRIPE_SECRET_KEY, Some(""))
            .form(form);
        if let Some(k) = idempotency_key {
            req = req.header("Idempotency-Key", k);
        }
        let res = req.send().await.expect("emulator reachable");
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let res = self
            .http
            .get(self.url(path))
            .basic_auth(STRIPE_SECRET_KEY, Some(""))
            .send()
            .await
            .expect("emulator reachable");
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Every `/v1` request the emulator has received, as `METHOD /v1/path?query`.
    pub async fn requests(&self) -> Vec<String> {
        let res = self
            .http
            .get(self.url("/_config/requests"))
            .send()
            .await
            .expect("emulator reachable");
        let body: Value = res.json().await.expect("JSON");
        body["requests"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|r| {
                        format!(
                            "{} {}",
                            r["method"].as_str().unwrap_or_default(),
                            r["path"].as_str().unwrap_or_default()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Makes the next `count` API requests fail (`error`: HTTP 500) or hang (`hang`).
    pub async fn chaos(&self, mode: &str, count: u32) {
        self.chaos_with(mode, count, &[]).await;
    }

    /// Chaos with its options: `seconds` (for `delay`), `method` and `path` (a `/v1/…` prefix)
    /// to pick the requests it applies to. Modes: `error`, `hang`, `delay`, `drop`,
    /// `drop_unprocessed` (see the emulator's middleware.py).
    pub async fn chaos_with(&self, mode: &str, count: u32, options: &[(&str, &str)]) {
        let count = count.to_string();
        let mut form = vec![("mode", mode), ("count", count.as_str())];
        form.extend_from_slice(options);
        let res = self
            .http
            .post(self.url("/_config/chaos"))
            .form(&form)
            .send()
            .await
            .expect("emulator reachable");
        assert!(res.status().is_success(), "chaos config refused");
    }

    /// Every webhook delivery the emulator made or is still retrying: `event`, `type`,
    /// `endpoint`, `attempts`, `delivered`, `last_status`.
    pub async fn deliveries(&self) -> Vec<Value> {
        let res = self
            .http
            .get(self.url("/_config/deliveries"))
            .send()
            .await
            .expect("emulator reachable");
        let body: Value = res.json().await.expect("JSON");
        body["deliveries"].as_array().cloned().unwrap_or_default()
    }

    /// Registers a webhook endpoint that receives the given event types (all when None).
    pub async fn register_webhook(&self, url: &str, secret: &str, events: Option<&[&str]>) {
        let mut form: Vec<(&str, &str)> = vec![("url", url), ("secret", secret)];
        for e in events.unwrap_or(&[]) {
            form.push(("events[]", e));
        }
        let res = self
            .http
            .post(self.url("/_config/webhooks/tollgate"))
            .form(&form)
            .send()
            .await
            .expect("emulator reachable");
        assert!(res.status().is_success(), "webhook registration refused");
    }

    /// Stops the emulator now (for "Stripe is down" tests).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
            let _ = child.wait().await;
        }
    }

    /// Creates a product and a price directly in the emulator, as an admin would in Stripe.
    pub async fn create_price(
        &self,
        product_name: &str,
        currency: &str,
        unit_amount: i64,
        monthly: bool,
    ) -> (String, String) {
        let (s, product) = self.post("/v1/products", &[("name", product_name)]).await;
        assert_eq!(s, StatusCode::OK, "{product}");
        let product_id = product["id"].as_str().expect("product id").to_string();
        let amount = unit_amount.to_string();
        let mut form = vec![
            ("product", product_id.as_str()),
            ("currency", currency),
            ("unit_amount", amount.as_str()),
        ];
        if monthly {
            form.push(("recurring[interval]", "month"));
        }
        let (s, price) = self.post("/v1/prices", &form).await;
        assert_eq!(s, StatusCode::OK, "{price}");
        (
            product_id,
            price["id"].as_str().expect("price id").to_string(),
        )
    }
}

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database of the test's own.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    /// For PostgreSQL: the server's maintenance URL and our database's name.
    admin: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn fresh() -> TestDb {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = format!("tollgate_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(&admin_url)
                    .await
                    .expect("connect to TEST_DATABASE_URL");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                let mut url = reqwest::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&format!("/{name}"));
                TestDb {
                    url: url.to_string(),
                    backend: Backend::Postgres,
                    admin: Some((admin_url, name)),
                    _dir: None,
                }
            }
            _ => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/tollgate.db?mode=rwc", dir.path().display());
                TestDb {
                    url,
                    backend: Backend::Sqlite,
                    admin: None,
                    _dir: Some(dir),
                }
            }
        }
    }

    /// Drops the database out from under whoever is connected (PostgreSQL only).
    pub async fn drop_database(&self) {
        if let Some((admin_url, name)) = &self.admin {
            let admin = Database::connect(admin_url).await.expect("connect admin");
            admin
                .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
                .await
                .expect("drop database");
            admin.close().await.ok();
        }
    }
}

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

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl TestApp {
    /// A graphql-transport-ws connection to the app, before `connection_init`.
    pub async fn ws_connect(&self) -> Ws {
        self.ws_connect_as("graphql-transport-ws").await
    }

    /// A connection offering `subprotocol` (`graphql-ws` is the legacy
    /// subscriptions-transport-ws), before `connection_init`.
    pub async fn ws_connect_as(&self, subprotocol: &str) -> Ws {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{}/graphql/ws", self.addr)
            .into_client_request()
            .expect("request");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            subprotocol.parse().expect("header"),
        );
        tokio_tungstenite::connect_async(request)
            .await
            .expect("connect")
            .0
    }

    /// A socket past `connection_init` (acknowledged) as `sub`, in `subprotocol`.
    pub async fn ws_acked_as(&self, subprotocol: &str, sub: &str, admin: bool) -> Ws {
        let mut ws = self.ws_connect_as(subprotocol).await;
        let token = self.token(sub, admin);
        ws_send(
            &mut ws,
            json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}),
        )
        .await;
        assert_eq!(ws_next_json(&mut ws).await["type"], "connection_ack");
        ws
    }
}

/// Sends one JSON text message.
pub async fn ws_send(ws: &mut Ws, message: Value) {
    use futures_util::SinkExt;
    ws.send(tokio_tungstenite::tungstenite::Message::text(
        message.to_string(),
    ))
    .await
    .expect("send");
}

/// The next text message, as JSON (WebSocket pings and the legacy protocol's `ka` skipped).
pub async fn ws_next_json(ws: &mut Ws) -> Value {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message in time")
            .expect("open")
            .expect("readable");
        match frame {
            Message::Text(t) => {
                let value: Value = serde_json::from_str(t.as_str()).expect("JSON");
                if value["type"] != "ka" {
                    return value;
                }
            }
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// Reads until the server closes; its close code and reason.
pub async fn ws_closed_with(ws: &mut Ws) -> (u16, String) {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("closed in time");
        match frame {
            Some(Ok(Message::Close(Some(close)))) => {
                return (u16::from(close.code), close.reason.to_string())
            }
            Some(Ok(Message::Close(None))) | None => panic!("closed without a code"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("error instead of a close frame: {e}"),
        }
    }
}

/// Polls `check` every 100 ms until it yields a value; panics with `what` and the last
/// observation after `within`. The one waiting loop of the suite.
pub async fn eventually<T, O, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    O: std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, O>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match check().await {
            Ok(v) => return v,
            Err(last) => assert!(
                tokio::time::Instant::now() < deadline,
                "{what} (within {within:?}); last seen: {last:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The first error's `extensions.code`, if any.
pub fn error_code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

/// A customer row, as if the user had paid before.
pub fn customer_row(user: &str, stripe_id: &str) -> entity::customers::ActiveModel {
    use sea_orm::ActiveValue::Set;
    let now = chrono::Utc::now();
    entity::customers::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        user_id: Set(user.into()),
        stripe_customer_id: Set(stripe_id.into()),
        email: Set(None),
        default_payment_method_id: Set(None),
        snapshot_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// A succeeded payment row written directly (for tests about reading and constraints).
pub fn payment_row(
    user: &str,
    pi: &str,
    amount: i64,
    refunded: i64,
) -> entity::payments::ActiveModel {
    use sea_orm::ActiveValue::Set;
    let now = chrono::Utc::now();
    entity::payments::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        user_id: Set(user.into()),
        customer_id: Set(None),
        stripe_payment_intent_id: Set(Some(pi.into())),
        stripe_idempotency_key: Set(None),
        amount: Set(amount),
        currency: Set("usd".into()),
        status: Set(entity::PaymentStatus::Succeeded),
        description: Set(None),
        card_brand: Set(None),
        card_last4: Set(None),
        failure_code: Set(None),
        failure_message: Set(None),
        amount_refunded: Set(refunded),
        refund_reserved: Set(0),
        metadata: Set(json!({})),
        price_id: Set(None),
        subscription_id: Set(None),
        stripe_invoice_id: Set(None),
        disputed: Set(false),
        dispute_status: Set(None),
        dispute_amount: Set(0),
        snapshot_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Writes payment and refund rows directly (for tests about reading).
pub async fn insert_payments_and_refunds(
    app: &TestApp,
    payment_rows: Vec<entity::payments::ActiveModel>,
    refund_rows: Vec<entity::refunds::ActiveModel>,
) {
    use sea_orm::EntityTrait;
    entity::payments::Entity::insert_many(payment_rows)
        .exec(app.db())
        .await
        .expect("insert payments");
    entity::refunds::Entity::insert_many(refund_rows)
        .exec(app.db())
        .await
        .expect("insert refunds");
}
