//! What every fault test stands on: a PostgreSQL server of its own that it may restart, the
//! real `tollgate` binary as a child process it may SIGTERM, SIGKILL and start again on the
//! same port and database, the Stripe emulator, and the end-state checks (local state equal
//! to Stripe's, no duplicate charge, no event lost).

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement, TransactionTrait};
use serde_json::{json, Value};
use tokio::process::{Child, Command};

use crate::helpers::{eventually, Emulator, JWT_SECRET, STRIPE_SECRET_KEY, WEBHOOK_SECRET};

/// A free loopback port (bound, then released for the server to take).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("addr").port()
}

fn postgres_bin() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop().expect(
        "the fault suite needs PostgreSQL's server binaries (Debian's `postgresql` package, \
         which `scripts/postgres start` installs); none under /usr/lib/postgresql/*/bin",
    )
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// Runs `"$0" "$@"` with no open descriptor but stdin, stdout and stderr. A server started
/// here outlives the command that started it: it must not keep ours, such as the lock of a
/// `flock … cargo nextest` around the run, which it would hold for as long as it lives.
const WITHOUT_INHERITED_FDS: &str = r#"for fd in /proc/$$/fd/*; do fd=${fd##*/}; if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi; done; exec "$0" "$@""#;

/// `program args…`, as the `postgres` user when we are root (initdb and pg_ctl refuse root).
fn as_pg(program: &Path, args: &[&str]) -> Command {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]);
        c
    } else {
        Command::new("env")
    };
    cmd.args(["bash", "-c", WITHOUT_INHERITED_FDS])
        .arg(program)
        .args(args)
        .current_dir("/")
        .stdin(Stdio::null());
    cmd
}

/// Stops and removes the clusters of fault tests whose process is gone (killed by a timeout
/// before it could stop its server).
async fn reap_orphans(bin: &Path) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for dir in entries.flatten().map(|e| e.path()) {
        let is_ours = dir
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(CLUSTER_PREFIX));
        let owner = std::fs::read_to_string(dir.join("owner.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok());
        let Some(owner) = owner.filter(|_| is_ours) else {
            continue;
        };
        if Path::new(&format!("/proc/{owner}")).exists() {
            continue;
        }
        let data = dir.join("data").to_string_lossy().into_owned();
        let _ = as_pg(
            &bin.join("pg_ctl"),
            &["-D", &data, "-m", "immediate", "stop"],
        )
        .output()
        .await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}

const CLUSTER_PREFIX: &str = "tollgate-fault-pg.";

async fn run_ok(mut cmd: Command, what: &str) {
    let out = cmd.output().await.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A private PostgreSQL server: its own data and socket directory under a temp dir, its own
/// free port, trust auth on loopback. Never the suite's shared cluster. Stopped when dropped.
pub struct PgCluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
}

impl PgCluster {
    pub async fn start() -> PgCluster {
        let bin = postgres_bin();
        reap_orphans(&bin).await;
        let dir = tempfile::Builder::new()
            .prefix(CLUSTER_PREFIX)
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir_all(dir.path().join("sock")).expect("socket dir");
        std::fs::write(dir.path().join("owner.pid"), std::process::id().to_string())
            .expect("owner file");
        if is_root() {
            let mut chown = Command::new("chown");
            chown.arg("-R").arg("postgres:").arg(dir.path());
            run_ok(chown, "chown the cluster directory").await;
        }
        let data = dir.path().join("data");
        let data_arg = data.to_string_lossy().into_owned();
        run_ok(
            as_pg(
                &bin.join("initdb"),
                &[
                    "-D",
                    &data_arg,
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
            ),
            "initdb",
        )
        .await;
        let cluster = PgCluster {
            bin,
            dir,
            port: free_port(),
        };
        cluster.pg_ctl_start().await;
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").to_string_lossy().into_owned()
    }

    /// Durability off (a throw-away cluster); a backend whose client died is ended within
    /// 100 ms even while it waits on a lock, as after a real crash of the client's host,
    /// instead of finishing the dead client's statement when the lock frees.
    fn options(&self) -> String {
        format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off \
             -c client_connection_check_interval=100",
            self.port,
            self.dir.path().join("sock").display()
        )
    }

    fn log(&self) -> String {
        self.dir
            .path()
            .join("server.log")
            .to_string_lossy()
            .into_owned()
    }

    async fn pg_ctl_start(&self) {
        let log = self.log();
        run_ok(
            as_pg(
                &self.bin.join("pg_ctl"),
                &[
                    "-D",
                    &self.data(),
                    "-l",
                    &log,
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    &self.options(),
                    "start",
                ],
            ),
            "pg_ctl start",
        )
        .await;
    }

    /// `postgres://…/postgres`: the database Tollgate runs on in these tests.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Restarts the server (`fast`: every session is terminated, open transactions roll back;
    /// `immediate`: no shutdown at all, crash recovery on start) and waits until it accepts
    /// connections again.
    pub async fn restart(&self, mode: &str) {
        // With its log file, or the new postmaster would hold our output pipes open.
        let log = self.log();
        run_ok(
            as_pg(
                &self.bin.join("pg_ctl"),
                &[
                    "-D",
                    &self.data(),
                    "-l",
                    &log,
                    "-m",
                    mode,
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    &self.options(),
                    "restart",
                ],
            ),
            "pg_ctl restart",
        )
        .await;
    }

    /// Stops the server (`fast`); `start_again` brings it back.
    pub async fn stop(&self) {
        run_ok(
            as_pg(
                &self.bin.join("pg_ctl"),
                &["-D", &self.data(), "-m", "fast", "-w", "stop"],
            ),
            "pg_ctl stop",
        )
        .await;
    }

    pub async fn start_again(&self) {
        self.pg_ctl_start().await;
    }

    pub async fn connect(&self) -> DatabaseConnection {
        match Database::connect(self.url()).await {
            Ok(db) => db,
            Err(e) => panic!(
                "connect to the private cluster: {e}; its log ends:\n{}",
                self.log_tail()
            ),
        }
    }

    /// The last lines of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data();
        let pg_ctl = self.bin.join("pg_ctl");
        let mut cmd = if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(pg_ctl);
            c
        } else {
            std::process::Command::new(pg_ctl)
        };
        let _ = cmd
            .args(["-D", &data, "-m", "immediate", "stop"])
            .current_dir("/")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// One SQL value as text (the first column of the first row), for checks in the tests.
pub async fn scalar(db: &DatabaseConnection, sql: &str) -> Option<String> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))?;
    row.try_get_by_index::<Option<String>>(0)
        .ok()
        .flatten()
        .or_else(|| row.try_get_by_index::<i64>(0).ok().map(|n| n.to_string()))
}

/// Events a worker has claimed right now: pending rows locked by someone else.
pub async fn claimed_events(db: &DatabaseConnection) -> Vec<String> {
    let ids = |rows: Vec<sea_orm::QueryResult>| -> Vec<String> {
        rows.iter()
            .filter_map(|r| r.try_get_by_index::<String>(0).ok())
            .collect()
    };
    let txn = db.begin().await.expect("begin");
    let backend = txn.get_database_backend();
    let pending = ids(txn
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT stripe_event_id FROM webhook_events WHERE status = 'pending'",
        ))
        .await
        .expect("pending events"));
    let free = ids(txn
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT stripe_event_id FROM webhook_events WHERE status = 'pending' \
             FOR UPDATE SKIP LOCKED",
        ))
        .await
        .expect("unclaimed events"));
    txn.rollback().await.expect("rollback");
    pending.into_iter().filter(|e| !free.contains(e)).collect()
}

/// The real `tollgate serve` as a child process, on a fixed loopback port so it can be killed
/// and started again where the emulator's webhooks point.
pub struct Tollgate {
    child: std::sync::Mutex<Option<Child>>,
    pub port: u16,
    vars: HashMap<String, String>,
    pub jwt: tollgate::config::JwtConfig,
    http: reqwest::Client,
}

impl Tollgate {
    /// Starts `tollgate serve` on `database_url` against `emulator`, registers its webhook
    /// endpoint there, and waits until it is ready. `customize` adjusts the environment.
    pub async fn start(
        database_url: &str,
        emulator: &Emulator,
        customize: impl FnOnce(&mut HashMap<String, String>),
    ) -> Tollgate {
        let port = free_port();
        let mut vars: HashMap<String, String> = [
            ("DATABASE_URL", database_url.to_string()),
            ("BIND_ADDR", format!("127.0.0.1:{port}")),
            ("STRIPE_SECRET_KEY", STRIPE_SECRET_KEY.into()),
            ("STRIPE_API_BASE", emulator.base_url()),
            ("STRIPE_WEBHOOK_SECRETS", WEBHOOK_SECRET.into()),
            ("STRIPE_TIMEOUT_MS", "10000".into()),
            ("JWT_SECRET", JWT_SECRET.into()),
            ("RATE_LIMITS", "false".into()),
            ("LOG_FORMAT", "json".into()),
            ("RUST_LOG", "warn".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        customize(&mut vars);
        let source = {
            let vars = vars.clone();
            move |name: &str| vars.get(name).cloned()
        };
        let jwt = tollgate::config::JwtConfig::load(&source).expect("JWT configuration");
        let app = Tollgate {
            child: std::sync::Mutex::new(None),
            port,
            vars,
            jwt,
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("client"),
        };
        emulator
            .register_webhook(&app.url("/webhooks/stripe"), WEBHOOK_SECRET, None)
            .await;
        app.spawn().await;
        app
    }

    /// Starts the binary (again) with the same environment and waits for `/readyz`.
    pub async fn spawn(&self) {
        assert!(self.running().is_none(), "already running");
        let dir = std::env::temp_dir();
        let child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&self.vars)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start tollgate serve");
        *self.child.lock().expect("child lock") = Some(child);
        let ready = self.url("/readyz");
        let http = self.http.clone();
        eventually(Duration::from_secs(30), "tollgate ready", || {
            let http = http.clone();
            let ready = ready.clone();
            async move {
                match http.get(&ready).send().await {
                    Ok(r) if r.status() == StatusCode::OK => Ok(()),
                    Ok(r) => Err(format!("{}", r.status())),
                    Err(e) => Err(e.to_string()),
                }
            }
        })
        .await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn running(&self) -> Option<u32> {
        self.child
            .lock()
            .expect("child lock")
            .as_ref()
            .and_then(Child::id)
    }

    fn take_child(&self) -> Child {
        self.child
            .lock()
            .expect("child lock")
            .take()
            .expect("tollgate is running")
    }

    pub fn pid(&self) -> u32 {
        self.running().expect("tollgate is running")
    }

    /// Sends SIGTERM (graceful shutdown) to the child.
    pub async fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .await
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// SIGKILL: the process dies at once, whatever it was doing.
    pub async fn sigkill(&self) {
        let mut child = self.take_child();
        child.kill().await.expect("SIGKILL tollgate");
    }

    /// Waits for the child to exit (after `sigterm`) and returns how it ended.
    pub async fn wait_exit(&self, within: Duration) -> std::process::ExitStatus {
        let mut child = self.take_child();
        tokio::time::timeout(within, child.wait())
            .await
            .unwrap_or_else(|_| panic!("tollgate still running after {within:?}"))
            .expect("wait for tollgate")
    }

    pub fn token(&self, sub: &str, admin: bool) -> String {
        tollgate::auth::mint(
            &self.jwt,
            sub,
            Some(&format!("{sub}@example.com")),
            admin,
            Duration::from_secs(3600),
        )
        .expect("mint token")
    }

    /// POST /graphql; the HTTP status and JSON body, or the transport error as text.
    pub async fn graphql(
        &self,
        query: &str,
        variables: Value,
        token: &str,
    ) -> Result<(StatusCode, Value), String> {
        let res = self
            .http
            .post(self.url("/graphql"))
            .bearer_auth(token)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        let status = res.status();
        let body = res.json().await.map_err(|e| format!("{e:?}"))?;
        Ok((status, body))
    }

    /// `createPaymentIntent` confirmed at once with Stripe's Visa test card.
    pub async fn pay(
        &self,
        token: &str,
        amount: &str,
        key: &str,
    ) -> Result<(StatusCode, Value), String> {
        self.graphql(
            crate::helpers::PAY,
            json!({"input": {"amount": amount, "currency": "usd",
                "paymentMethodId": "pm_card_visa", "idempotencyKey": key}}),
            token,
        )
        .await
    }

    /// A shopper's token after a first paid payment, which also creates their Stripe customer:
    /// each later payment makes a single Stripe call.
    pub async fn warmed_up_shopper(&self, user: &str) -> String {
        let token = self.token(user, false);
        let first = self.pay_until_answered(&token, "10.00", "warm-up").await;
        assert_eq!(first["status"], "SUCCEEDED", "{first}");
        token
    }

    /// Pays, retrying with the same idempotency key until an answer carries the payment
    /// (a client that did not hear back does exactly this); returns the payment.
    pub async fn pay_until_answered(&self, token: &str, amount: &str, key: &str) -> Value {
        let mut last = String::new();
        for _ in 0..40 {
            match self.pay(token, amount, key).await {
                Ok((_, body)) if body["data"]["createPaymentIntent"]["payment"].is_object() => {
                    return body["data"]["createPaymentIntent"]["payment"].clone();
                }
                Ok((status, body)) => last = format!("{status} {body}"),
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("payment with key {key} never answered; last: {last}");
    }

    /// `tollgate ARGS…` against the same database and emulator: exit code and stdout.
    pub async fn cli(&self, args: &[&str]) -> (Option<i32>, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&self.vars)
            .current_dir(std::env::temp_dir())
            .output()
            .await
            .expect("run tollgate");
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}

/// Every object of a list endpoint of the emulator.
pub async fn list_all(emulator: &Emulator, path: &str) -> Vec<Value> {
    let mut out: Vec<Value> = vec![];
    loop {
        let after = out
            .last()
            .and_then(|o| o["id"].as_str())
            .map(|id| format!("&starting_after={id}"))
            .unwrap_or_default();
        let sep = if path.contains('?') { '&' } else { '?' };
        let (status, page) = emulator.get(&format!("{path}{sep}limit=100{after}")).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        let data = page["data"].as_array().cloned().unwrap_or_default();
        let more = page["has_more"] == true && !data.is_empty();
        out.extend(data);
        if !more {
            return out;
        }
    }
}

/// No duplicate charge: exactly `expected` PaymentIntents at Stripe, never two for one
/// Tollgate payment, and no intent charged more than once.
pub async fn assert_charged_once_each(emulator: &Emulator, expected: usize) {
    let intents = list_all(emulator, "/v1/payment_intents").await;
    assert_eq!(
        intents.len(),
        expected,
        "PaymentIntents at Stripe: {intents:#?}"
    );
    let ids: Vec<&str> = intents
        .iter()
        .filter_map(|pi| pi["metadata"]["tollgate_payment_id"].as_str())
        .collect();
    let distinct: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), distinct.len(), "one intent per payment: {ids:?}");
    let charges = list_all(emulator, "/v1/charges").await;
    let mut per_intent: HashMap<&str, usize> = HashMap::new();
    for c in charges.iter().filter(|c| c["status"] == "succeeded") {
        *per_intent
            .entry(c["payment_intent"].as_str().unwrap_or("-"))
            .or_default() += 1;
    }
    assert!(
        per_intent.values().all(|&n| n == 1),
        "an intent charged twice: {per_intent:?}"
    );
}

/// No event lost: every event the emulator sent reached Tollgate (after its retries) and is
/// in `webhook_events` as processed (or ignored, for types Tollgate does not handle), none
/// pending or failed.
pub async fn assert_no_event_lost(emulator: &Emulator, db: &PgCluster) {
    let sent = eventually(
        Duration::from_secs(90),
        "every webhook delivery acknowledged",
        || async {
            let d = emulator.deliveries().await;
            if !d.is_empty() && d.iter().all(|d| d["delivered"] == true) {
                Ok(d)
            } else {
                Err(d
                    .into_iter()
                    .filter(|d| d["delivered"] != true)
                    .collect::<Vec<_>>())
            }
        },
    )
    .await;
    let conn = db.connect().await;
    let conn = &conn;
    let sent = &sent;
    eventually(
        Duration::from_secs(60),
        "every sent event processed",
        || async move {
            let mut missing = vec![];
            for d in sent {
                let id = d["event"].as_str().unwrap_or_default();
                let status = scalar(
                    conn,
                    &format!(
                        "SELECT status::text FROM webhook_events WHERE stripe_event_id = '{}'",
                        id.replace('\'', "")
                    ),
                )
                .await;
                if !matches!(status.as_deref(), Some("processed" | "ignored")) {
                    missing.push(format!("{id} {}: {status:?}", d["type"]));
                }
            }
            if missing.is_empty() {
                Ok(())
            } else {
                Err(missing)
            }
        },
    )
    .await;
    let processed = scalar(
        conn,
        "SELECT count(*) FROM webhook_events WHERE status = 'processed'",
    )
    .await;
    assert!(
        processed.as_deref().and_then(|n| n.parse::<i64>().ok()) > Some(0),
        "nothing was applied at all: {processed:?}"
    );
}

/// The local state equals Stripe's: `sync payments --check` and `sync subscriptions --check`
/// exit 0.
pub async fn assert_in_sync(app: &Tollgate) {
    for what in [
        &["sync", "payments", "--since", "1h", "--check"][..],
        &["sync", "subscriptions", "--check"][..],
    ] {
        let (code, out) = app.cli(what).await;
        assert_eq!(code, Some(0), "{what:?}: {out}");
    }
}

/// Holds Stripe's answer to the next `POST /v1/payment_intents` for `seconds` (it has done the
/// work by then), so a fault can land while Tollgate waits for it.
pub async fn hold_next_payment_intent(emu: &Emulator, seconds: &str) {
    emu.chaos_with(
        "delay",
        1,
        &[
            ("method", "POST"),
            ("path", "/v1/payment_intents"),
            ("seconds", seconds),
        ],
    )
    .await;
}

/// A card payment made at Stripe behind Tollgate's back (a confirmed PaymentIntent of one of
/// its customers): Tollgate hears of it through the webhook alone.
pub async fn charge_outside(emu: &Emulator, customer: &str, amount: &str) -> Value {
    let (status, pi) = emu
        .post(
            "/v1/payment_intents",
            &[
                ("amount", amount),
                ("currency", "usd"),
                ("customer", customer),
                ("payment_method", "pm_card_visa"),
                ("confirm", "true"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{pi}");
    pi
}
