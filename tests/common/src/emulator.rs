//! A real Stripe emulator process (localstripe through our launcher) on a free loopback port,
//! and its test-only routes: registered webhooks, chaos, the request and delivery logs.

use std::{process::Stdio, sync::OnceLock, time::Duration};

use reqwest::StatusCode;
use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

use crate::{repo_root, STRIPE_SECRET_KEY};

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
