//! The `tollgate` command line.

use std::{io::IsTerminal, path::PathBuf, process::ExitCode, time::Duration};

use clap::{Parser, Subcommand};
use tollgate::{
    app::{self, Application},
    auth,
    config::{self, Config, ConfigError, Environment, JwtConfig, StripeConfig},
    db, demo, graphql,
    stripe::StripeClient,
    telemetry,
};

#[derive(Parser)]
#[command(
    name = "tollgate",
    version,
    about = "GraphQL billing gateway for Stripe"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run pending migrations, then serve GraphQL and webhooks.
    Serve,
    /// Run pending migrations and exit (safe to run from several places at once on PostgreSQL).
    Migrate,
    /// Exit 0 when this host's `tollgate serve` is ready (`/readyz` at BIND_ADDR answers 200);
    /// the container image's HEALTHCHECK.
    Healthcheck {
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 3)]
        timeout: u64,
    },
    /// Print the GraphQL SDL (or write it to a file).
    ExportSchema {
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Mint a development JWT with the configured HS256 secret.
    Token {
        #[arg(long)]
        sub: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        admin: bool,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 86_400)]
        ttl: u64,
    },
    /// Re-fetch objects from Stripe and repair the local copy.
    Sync {
        /// Compare with Stripe without writing; exit 1 when anything differs.
        #[arg(long, global = true)]
        check: bool,
        /// Print the report as JSON (for cron and alerting).
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        what: SyncWhat,
    },
    /// Create the demo catalog in the configured Stripe account (idempotent) and mirror it.
    Demo,
    /// Operate on stored webhook events.
    Webhooks {
        #[command(subcommand)]
        what: WebhooksWhat,
    },
}

#[derive(Subcommand)]
enum SyncWhat {
    /// Every product and price.
    Catalog,
    /// PaymentIntents of Tollgate's customers created since a time.
    Payments {
        /// RFC 3339 time or a number of hours back (e.g. `24h`).
        #[arg(long, default_value = "24h")]
        since: String,
    },
    /// Every subscription of Tollgate's customers (all statuses).
    Subscriptions,
}

#[derive(Subcommand)]
enum WebhooksWhat {
    /// Put events back in the queue and apply them now.
    Replay {
        /// One event by Stripe id (`evt_…`).
        #[arg(long, conflicts_with_all = ["failed", "since"])]
        id: Option<String>,
        /// Every event parked as failed.
        #[arg(long, conflicts_with = "since")]
        failed: bool,
        /// Every event received since (RFC 3339 time or e.g. `24h`).
        #[arg(long)]
        since: Option<String>,
    },
}

/// `2026-11-24T10:00:00Z` or `36h`.
fn parse_since(s: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    if let Some(hours) = s.strip_suffix('h') {
        let hours: i64 = hours
            .parse()
            .map_err(|_| anyhow::anyhow!("--since: `{s}` is not like 24h"))?;
        return Ok(chrono::Utc::now() - chrono::Duration::hours(hours));
    }
    Ok(chrono::DateTime::parse_from_rfc3339(s)
        .map_err(|e| anyhow::anyhow!("--since: `{s}`: {e}"))?
        .with_timezone(&chrono::Utc))
}

/// See Cargo.toml: glibc's arenas contended under load; mimalloc frees across threads without
/// a lock.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = Environment::load();
    let format = match config::log_format(&env, std::io::stderr().is_terminal()) {
        Ok(format) => format,
        Err(e) => return config_error(&e),
    };
    // Traces only from the server: a CLI run (migrate, sync, token) is not a request.
    let otel = match &cli.command {
        Command::Serve => match config::OtelConfig::load(&env) {
            Ok(otel) => otel,
            Err(e) => return config_error(&e),
        },
        _ => None,
    };
    let telemetry = telemetry::init(format, otel.as_ref());
    let result = run(cli.command, &env).await;
    telemetry.shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<ConfigError>() {
            Some(c) => config_error(c),
            None => {
                eprintln!("tollgate: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn config_error(e: &ConfigError) -> ExitCode {
    eprintln!("tollgate: configuration error: {e}");
    ExitCode::from(2)
}

/// One function per command, so each reads on its own.
async fn run(command: Command, env: &Environment) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(env).await,
        Command::Migrate => {
            db::migrate_url(&config::database_url(env)?).await?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Healthcheck { timeout } => {
            let addr = tollgate::healthcheck::target(config::bind_addr(env)?);
            tollgate::healthcheck::probe(addr, Duration::from_secs(timeout))
                .await
                .map_err(|e| anyhow::anyhow!("not ready: {e}"))
        }
        Command::ExportSchema { output } => export_schema(output),
        Command::Token {
            sub,
            email,
            admin,
            ttl,
        } => token(env, &sub, email.as_deref(), admin, ttl),
        Command::Sync { check, json, what } => sync(env, what, check, json).await,
        Command::Webhooks {
            what: WebhooksWhat::Replay { id, failed, since },
        } => replay(env, id, failed, since).await,
        Command::Demo => demo(env).await,
    }
}

async fn serve(env: &Environment) -> anyhow::Result<()> {
    let config = Config::load(env)?;
    let app = Application::build(config).await?;
    tracing::info!(addr = %app.local_addr()?, "serving; GraphiQL at /graphql");
    app.run_until(tollgate::server::shutdown_signal()).await?;
    Ok(())
}

fn export_schema(output: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let sdl = graphql::sdl();
    match output {
        Some(path) => std::fs::write(&path, sdl)?,
        None => print!("{sdl}"),
    }
    Ok(())
}

fn token(
    env: &Environment,
    sub: &str,
    email: Option<&str>,
    admin: bool,
    ttl: u64,
) -> anyhow::Result<()> {
    let jwt = JwtConfig::load(env)?;
    let token = auth::mint(&jwt, sub, email, admin, Duration::from_secs(ttl))?;
    println!("{token}");
    Ok(())
}

async fn sync(env: &Environment, what: SyncWhat, check: bool, json: bool) -> anyhow::Result<()> {
    use tollgate::billing::sync;
    let what = match what {
        SyncWhat::Catalog => sync::What::Catalog,
        SyncWhat::Payments { since } => sync::What::Payments {
            since: parse_since(&since)?,
        },
        SyncWhat::Subscriptions => sync::What::Subscriptions,
    };
    let (conn, stripe) = connect_with_stripe(env).await?;
    let bar = Progress::new(show_progress() && !json);
    let report = if check {
        sync::check(&conn, &stripe, what, &bar.report()).await?
    } else {
        sync::run(&conn, &stripe, what, &bar.report()).await?
    };
    bar.finish();
    sync::record(&conn, what, &report, !check).await?;
    let name = what.name();
    if json {
        let out = serde_json::json!({"what": name, "check": check, "report": report});
        println!("{out}");
    } else {
        for d in &report.drifts {
            println!(
                "  {} {} {}: local {} / Stripe {}",
                d.object,
                d.id,
                d.field,
                d.local.as_deref().unwrap_or("-"),
                d.stripe.as_deref().unwrap_or("-")
            );
        }
        println!("{name}: {report}");
    }
    if check && !report.drifts.is_empty() {
        anyhow::bail!(
            "{} difference(s) between the local copy and Stripe",
            report.drifts.len()
        );
    }
    Ok(())
}

async fn replay(
    env: &Environment,
    id: Option<String>,
    failed: bool,
    since: Option<String>,
) -> anyhow::Result<()> {
    use tollgate::webhooks::worker::{self, Requeue};
    let selector = match (id, failed, since) {
        (Some(id), _, _) => Requeue::Id(id),
        (None, true, _) => Requeue::Failed,
        (None, false, Some(s)) => Requeue::Since(parse_since(&s)?),
        (None, false, None) => anyhow::bail!("say which events: --id, --failed or --since"),
    };
    let config = Config::load(env)?;
    db::migrate_url(&config.database_url).await?;
    let conn = db::connect(&config.database_url).await?;
    let requeued = worker::requeue(&conn, selector).await?;
    let state = app::AppState::new(config, conn)?;
    let bar = Progress::new(show_progress());
    let report = bar.report();
    let total = usize::try_from(requeued).unwrap_or(usize::MAX);
    let applied =
        worker::drain_reporting(&state.worker(), &|done| report(done, total.max(done))).await?;
    bar.finish();
    println!("requeued {requeued}; applied {applied} due events");
    Ok(())
}

async fn demo(env: &Environment) -> anyhow::Result<()> {
    let (conn, stripe) = connect_with_stripe(env).await?;
    let summary = demo::seed(&conn, &stripe).await?;
    println!("demo catalog: {summary}");
    Ok(())
}

async fn connect_with_stripe(
    env: &Environment,
) -> anyhow::Result<(sea_orm::DatabaseConnection, StripeClient)> {
    let url = config::database_url(env)?;
    db::migrate_url(&url).await?;
    let conn = db::connect(&url).await?;
    let stripe = StripeClient::new(&StripeConfig::load(env)?)?;
    Ok((conn, stripe))
}

fn show_progress() -> bool {
    std::io::stderr().is_terminal()
}

/// A progress bar with counts and ETA on a terminal (hidden otherwise); the callback the sync
/// functions report to.
struct Progress(indicatif::ProgressBar);

impl Progress {
    fn new(show: bool) -> Self {
        let bar = if show {
            indicatif::ProgressBar::new(0)
        } else {
            indicatif::ProgressBar::hidden()
        };
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} ({per_sec}, ETA {eta})")
        {
            bar.set_style(style);
        }
        Progress(bar)
    }

    fn report(&self) -> impl Fn(usize, usize) + Sync + '_ {
        move |done, total| {
            self.0.set_length(total as u64);
            self.0.set_position(done as u64);
        }
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}
