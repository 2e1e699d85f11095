//! The `tollgate` command line.

use std::{io::IsTerminal, path::PathBuf, process::ExitCode, time::Duration};

use clap::{Parser, Subcommand};
use tollgate::{
    app::{self, Application},
    auth,
    billing::catalog,
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
    /// Run pending migrations and exit.
    Migrate,
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
        #[command(subcommand)]
        what: SyncWhat,
    },
    /// Create the demo catalog in the configured Stripe account (idempotent) and mirror it.
    Demo,
}

#[derive(Subcommand)]
enum SyncWhat {
    /// Every product and price.
    Catalog,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = Environment::load();
    match config::log_format(&env, std::io::stderr().is_terminal()) {
        Ok(format) => telemetry::init(format),
        Err(e) => return config_error(&e),
    }
    match run(cli.command, &env).await {
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

async fn run(command: Command, env: &Environment) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let config = Config::load(env)?;
            let app = Application::build(config).await?;
            tracing::info!(addr = %app.local_addr()?, "serving; GraphiQL at /graphql");
            app.run_until(app::shutdown_signal()).await?;
        }
        Command::Migrate => {
            db::migrate_url(&config::database_url(env)?).await?;
            eprintln!("migrations applied");
        }
        Command::ExportSchema { output } => {
            let sdl = graphql::sdl();
            match output {
                Some(path) => std::fs::write(&path, sdl)?,
                None => print!("{sdl}"),
            }
        }
        Command::Token {
            sub,
            email,
            admin,
            ttl,
        } => {
            let jwt = JwtConfig::load(env)?;
            let token = auth::mint(
                &jwt,
                &sub,
                email.as_deref(),
                admin,
                Duration::from_secs(ttl),
            )?;
            println!("{token}");
        }
        Command::Sync {
            what: SyncWhat::Catalog,
        } => {
            let url = config::database_url(env)?;
            db::migrate_url(&url).await?;
            let conn = db::connect(&url).await?;
            let stripe = StripeClient::new(&StripeConfig::load(env)?)?;
            let show = std::io::stderr().is_terminal();
            let summary = catalog::sync_catalog(&conn, &stripe, &|done, total| {
                if show {
                    eprint!("\r{}", progress_bar(done, total));
                }
            })
            .await?;
            if show {
                eprintln!();
            }
            println!("catalog: {summary}");
        }
        Command::Demo => {
            let url = config::database_url(env)?;
            db::migrate_url(&url).await?;
            let conn = db::connect(&url).await?;
            let stripe = StripeClient::new(&StripeConfig::load(env)?)?;
            let summary = demo::seed(&conn, &stripe).await?;
            println!("demo catalog: {summary}");
        }
    }
    Ok(())
}

fn progress_bar(done: usize, total: usize) -> String {
    const WIDTH: usize = 30;
    let filled = (done * WIDTH)
        .checked_div(total)
        .unwrap_or(WIDTH)
        .min(WIDTH);
    format!(
        "[{}{}] {done}/{total}",
        "#".repeat(filled),
        " ".repeat(WIDTH - filled)
    )
}
