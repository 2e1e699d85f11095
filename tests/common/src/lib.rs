//! The test harness both test binaries share (`tests/api`, the integration tests, and
//! `tests/faults`, the fault suite): the real app on a random port, a fresh database per test
//! (a SQLite temp file, or a new PostgreSQL database when `TEST_DATABASE_URL` points at a
//! server), and a real Stripe emulator process (localstripe through our launcher) per test.
//!
//! - `emulator`: the Stripe emulator process and its test-only routes;
//! - `db`: a database of the test's own;
//! - `app`: the app (and replicas) on the test's database and emulator, with requests;
//! - `ws`: a GraphQL WebSocket client;
//! - `rows`: rows written directly, for tests about reading.

mod app;
mod db;
mod emulator;
mod rows;
mod ws;

use std::{path::PathBuf, sync::OnceLock, time::Duration};

use serde_json::Value;

pub use app::{
    spawn_app, spawn_app_custom, spawn_app_with, spawn_replica, spawn_replica_with, test_config,
    Replica, TestApp, PAY,
};
pub use db::{Backend, TestDb};
pub use emulator::Emulator;
pub use rows::{customer_row, insert_payments_and_refunds, payment_row};
pub use ws::{ws_closed_with, ws_next_json, ws_send, Ws};

pub const STRIPE_SECRET_KEY: &str = "sk_test_tollgate_suite";
pub const WEBHOOK_SECRET: &str = "whsec_tollgate_suite_secret";
pub const JWT_SECRET: &str = "tollgate-test-secret-0123456789abcdef";

/// The repository's root (this crate is `tests/common` in it).
pub fn repo_root() -> PathBuf {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .nth(2)
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| here.to_path_buf())
}

pub(crate) fn init_tracing() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tollgate::telemetry::init(tollgate::config::LogFormat::Pretty, None);
        }
    });
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
