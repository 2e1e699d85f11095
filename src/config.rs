//! Typed configuration from the environment (and `.env`). Every variable is named in
//! DESIGN.md §8; a missing or malformed required value stops start-up with one line naming it.
//!
//! - this file: `Config`, how values are read and refused, the database URL, logging;
//! - `stripe`, `jwt`, `http`, `web`: each part's own settings.

mod http;
mod jwt;
mod otel;
mod stripe;
mod web;

pub use http::HttpConfig;
pub use jwt::{JwtAlgorithm, JwtConfig, JwtKey, DEFAULT_JWT_MAX_LIFETIME};
pub use otel::{OtelConfig, OtlpProtocol, ParentlessSampler, Sampler};
pub use stripe::{StripeConfig, DEFAULT_STRIPE_API_BASE, DEFAULT_STRIPE_JS_URL};
pub use web::{WebConfig, DEFAULT_WEB_DIR};

use std::{fmt, net::SocketAddr, time::Duration};

/// A secret string: `Debug` and `Display` never print it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// A configuration problem, always naming the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var} {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

impl ConfigError {
    pub(super) fn missing(var: &'static str) -> Self {
        ConfigError {
            var,
            problem: "is required but not set (environment or .env)".into(),
        }
    }

    pub(super) fn invalid(var: &'static str, why: impl fmt::Display) -> Self {
        ConfigError {
            var,
            problem: format!("is invalid: {why}"),
        }
    }
}

/// Where configuration values come from: the process environment in production, a map in tests.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment, after loading `.env` from the working directory if present.
pub struct Environment;

impl Environment {
    pub fn load() -> Self {
        // A missing .env is normal; a malformed one is worth a warning but not a crash.
        if let Err(e) = dotenvy::dotenv() {
            if !e.not_found() {
                eprintln!("tollgate: ignoring unreadable .env: {e}");
            }
        }
        Environment
    }
}

impl Source for Environment {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl<F: Fn(&str) -> Option<String>> Source for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// Reads a variable, treating an empty value as unset.
pub(super) fn var(src: &dyn Source, name: &str) -> Option<String> {
    src.get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

pub(super) fn required(src: &dyn Source, name: &'static str) -> Result<String, ConfigError> {
    var(src, name).ok_or_else(|| ConfigError::missing(name))
}

pub(super) fn parsed<T: std::str::FromStr>(
    src: &dyn Source,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    match var(src, name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|e| ConfigError::invalid(name, e)),
    }
}

pub(super) fn optional<T: std::str::FromStr>(
    src: &dyn Source,
    name: &'static str,
) -> Result<Option<T>, ConfigError>
where
    T::Err: fmt::Display,
{
    var(src, name)
        .map(|v| v.parse().map_err(|e| ConfigError::invalid(name, e)))
        .transpose()
}

pub(super) fn boolean(
    src: &dyn Source,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match var(src, name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if matches!(v.as_str(), "true" | "1" | "yes" | "on") => Ok(true),
        Some(v) if matches!(v.as_str(), "false" | "0" | "no" | "off") => Ok(false),
        Some(v) => Err(ConfigError::invalid(
            name,
            format!("`{v}` is not true or false"),
        )),
    }
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://tollgate.db?mode=rwc";

/// The database to use; a SQLite file by default, created on first run.
pub fn database_url(src: &dyn Source) -> Result<String, ConfigError> {
    let url = var(src, "DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
    if url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://")
    {
        Ok(url)
    } else {
        Err(ConfigError::invalid(
            "DATABASE_URL",
            "expected a sqlite:… or postgres://… URL",
        ))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub bind_addr: SocketAddr,
    pub stripe: StripeConfig,
    pub jwt: JwtConfig,
    pub graphql_introspection: bool,
    /// How long after a payment its owner may refund it themselves; None: only admins refund.
    pub owner_refund_window: Option<Duration>,
    /// Webhook worker tasks in this process; None picks by database (PostgreSQL 8, SQLite 1).
    /// 0 makes an intake-only replica.
    pub webhook_workers: Option<usize>,
    /// `MIGRATE_ON_START` (default true): `tollgate serve` applies pending migrations first.
    /// False for replicas behind a separate `tollgate migrate` job; they then refuse to start
    /// while any migration is pending rather than serve an older schema.
    pub migrate_on_start: bool,
    pub http: HttpConfig,
    pub web: WebConfig,
}

impl Config {
    /// Everything `tollgate serve` needs.
    pub fn load(src: &dyn Source) -> Result<Self, ConfigError> {
        let config = Config {
            database_url: database_url(src)?,
            bind_addr: bind_addr(src)?,
            stripe: StripeConfig::load(src)?,
            jwt: JwtConfig::load(src)?,
            graphql_introspection: boolean(src, "GRAPHQL_INTROSPECTION", true)?,
            owner_refund_window: optional::<u64>(src, "REFUND_OWNER_WINDOW_SECS")?
                .map(Duration::from_secs),
            webhook_workers: optional(src, "WEBHOOK_WORKERS")?,
            migrate_on_start: boolean(src, "MIGRATE_ON_START", true)?,
            http: HttpConfig::load(src)?,
            web: WebConfig::load(src)?,
        };
        if config.web.graphiql_token.is_some() && config.stripe.is_live() {
            // `/settings.json` hands the token to every visitor: a demo convenience that, on
            // a live account, gives anyone the powers of whoever the token names.
            return Err(ConfigError {
                var: "GRAPHIQL_DEFAULT_TOKEN",
                problem: "must not be set with a live STRIPE_SECRET_KEY (sk_live_/rk_live_): \
                          /settings.json gives it to every visitor"
                    .into(),
            });
        }
        Ok(config)
    }
}

/// `BIND_ADDR` (default `127.0.0.1:8080`; the container image sets `0.0.0.0:8080`).
pub fn bind_addr(src: &dyn Source) -> Result<SocketAddr, ConfigError> {
    parsed(src, "BIND_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))
}

/// `LOG_FORMAT`: pretty on a terminal, JSON otherwise, unless set.
pub fn log_format(src: &dyn Source, is_terminal: bool) -> Result<LogFormat, ConfigError> {
    match var(src, "LOG_FORMAT").as_deref() {
        None => Ok(if is_terminal {
            LogFormat::Pretty
        } else {
            LogFormat::Json
        }),
        Some("pretty") => Ok(LogFormat::Pretty),
        Some("json") => Ok(LogFormat::Json),
        Some(other) => Err(ConfigError::invalid(
            "LOG_FORMAT",
            format!("`{other}` is not pretty or json"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn src(pairs: &[(&str, &str)]) -> impl Source {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| map.get(name).cloned()
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn minimal() -> Vec<(&'static str, &'static str)> {
        vec![("STRIPE_SECRET_KEY", "sk_test_x"), ("JWT_SECRET", SECRET)]
    }

    #[test]
    fn defaults() {
        let c = Config::load(&src(&minimal())).expect("loads");
        assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(c.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.stripe.api_base, DEFAULT_STRIPE_API_BASE);
        assert_eq!(c.stripe.webhook_tolerance, Duration::from_secs(300));
        assert!(c.stripe.webhook_secrets.is_empty());
        assert_eq!(c.jwt.algorithm, JwtAlgorithm::Hs256);
        assert!(c.graphql_introspection);
        assert_eq!(c.owner_refund_window, None);
        assert_eq!(c.http.header_timeout, Duration::from_secs(10));
        assert_eq!(c.http.request_timeout, Duration::from_secs(30));
        assert_eq!(c.http.max_body_bytes, 256 * 1024);
        assert!(c.http.cors_allowed_origins.is_empty());
        assert_eq!(
            c.http.rate_limits.mutations_per_user.map(|n| n.get()),
            Some(30),
            "rate limits are on by default"
        );
    }

    #[test]
    fn missing_required_values_are_named() {
        let e = Config::load(&src(&[("JWT_SECRET", SECRET)])).expect_err("needs stripe key");
        assert_eq!(e.var, "STRIPE_SECRET_KEY");
        assert!(
            e.to_string().starts_with("STRIPE_SECRET_KEY is required"),
            "{e}"
        );

        let e = Config::load(&src(&[("STRIPE_SECRET_KEY", "sk_test_x")])).expect_err("jwt");
        assert_eq!(e.var, "JWT_SECRET");

        let e = Config::load(&src(&[
            ("STRIPE_SECRET_KEY", "sk_test_x"),
            ("JWT_ALGORITHM", "RS256"),
        ]))
        .expect_err("needs pem");
        assert_eq!(e.var, "JWT_PUBLIC_KEY_FILE");
    }

    #[test]
    fn malformed_values_are_named() {
        let cases: &[(&str, &str, &str)] = &[
            ("BIND_ADDR", "nope", "BIND_ADDR"),
            ("STRIPE_SECRET_KEY", "pk_test_x", "STRIPE_SECRET_KEY"),
            ("STRIPE_API_BASE", "not a url", "STRIPE_API_BASE"),
            (
                "STRIPE_WEBHOOK_SECRETS",
                "whsec_a,oops",
                "STRIPE_WEBHOOK_SECRETS",
            ),
            (
                "STRIPE_WEBHOOK_TOLERANCE_SECS",
                "0",
                "STRIPE_WEBHOOK_TOLERANCE_SECS",
            ),
            (
                "STRIPE_WEBHOOK_TOLERANCE_SECS",
                "-5",
                "STRIPE_WEBHOOK_TOLERANCE_SECS",
            ),
            ("JWT_ALGORITHM", "none", "JWT_ALGORITHM"),
            ("JWT_SECRET", "short", "JWT_SECRET"),
            ("GRAPHQL_INTROSPECTION", "maybe", "GRAPHQL_INTROSPECTION"),
            ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
            (
                "REFUND_OWNER_WINDOW_SECS",
                "a day",
                "REFUND_OWNER_WINDOW_SECS",
            ),
            ("HTTP_HEADER_TIMEOUT_SECS", "0", "HTTP_HEADER_TIMEOUT_SECS"),
            ("GRAPHQL_MAX_BODY_BYTES", "10", "GRAPHQL_MAX_BODY_BYTES"),
            ("CORS_ALLOWED_ORIGINS", "*", "CORS_ALLOWED_ORIGINS"),
            (
                "CORS_ALLOWED_ORIGINS",
                "https://a.example/path",
                "CORS_ALLOWED_ORIGINS",
            ),
            ("RATE_LIMITS", "sometimes", "RATE_LIMITS"),
            ("RATE_LIMIT_IP_PER_MINUTE", "-1", "RATE_LIMIT_IP_PER_MINUTE"),
        ];
        for (name, value, expected) in cases {
            let mut pairs = minimal();
            pairs.retain(|(k, _)| k != name);
            pairs.push((name, value));
            let e = Config::load(&src(&pairs)).expect_err(name);
            assert_eq!(&e.var, expected, "{name}={value}: {e}");
            assert!(!e.to_string().contains(SECRET), "never echo secrets");
        }
    }

    #[test]
    fn parses_lists_and_normalises_base_url() {
        let mut pairs = minimal();
        pairs.push(("STRIPE_WEBHOOK_SECRETS", " whsec_a , whsec_b ,"));
        pairs.push(("STRIPE_API_BASE", "http://127.0.0.1:12111"));
        pairs.push(("GRAPHQL_INTROSPECTION", "false"));
        pairs.push(("REFUND_OWNER_WINDOW_SECS", "3600"));
        let c = Config::load(&src(&pairs)).expect("loads");
        let secrets: Vec<&str> = c
            .stripe
            .webhook_secrets
            .iter()
            .map(Secret::expose)
            .collect();
        assert_eq!(secrets, ["whsec_a", "whsec_b"]);
        assert_eq!(c.stripe.api_base, "http://127.0.0.1:12111/");
        assert!(!c.graphql_introspection);
        assert_eq!(c.owner_refund_window, Some(Duration::from_secs(3600)));
    }

    #[test]
    fn secrets_never_print() {
        let c = Config::load(&src(&minimal())).expect("loads");
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("sk_test_x") && !debug.contains(SECRET),
            "{debug}"
        );
    }

    #[test]
    fn a_graphiql_token_with_a_live_key_stops_start_up() {
        for live in ["sk_live_abc", "rk_live_abc"] {
            let pairs = vec![
                ("STRIPE_SECRET_KEY", live),
                ("JWT_SECRET", SECRET),
                ("GRAPHIQL_DEFAULT_TOKEN", "eyJ.a.b"),
            ];
            let err = Config::load(&src(&pairs)).expect_err("refused");
            let line = err.to_string();
            assert!(
                line.contains("GRAPHIQL_DEFAULT_TOKEN") && line.contains("STRIPE_SECRET_KEY"),
                "{line}"
            );
            assert!(!line.contains('\n'), "one line: {line}");
            // Without the token a live key starts.
            assert!(Config::load(&src(&pairs[..2])).is_ok());
        }
        let mut test_key = minimal();
        test_key.push(("GRAPHIQL_DEFAULT_TOKEN", "eyJ.a.b"));
        assert!(Config::load(&src(&test_key)).is_ok());
    }

    #[test]
    fn jwt_max_lifetime_defaults_to_a_day() {
        let c = Config::load(&src(&minimal())).expect("loads");
        assert_eq!(c.jwt.max_lifetime, Duration::from_secs(86_400));
        let mut pairs = minimal();
        pairs.push(("JWT_MAX_LIFETIME_SECS", "600"));
        let c = Config::load(&src(&pairs)).expect("loads");
        assert_eq!(c.jwt.max_lifetime, Duration::from_secs(600));
        for bad in ["0", "-1", "soon"] {
            let mut pairs = minimal();
            pairs.push(("JWT_MAX_LIFETIME_SECS", bad));
            let err = Config::load(&src(&pairs)).expect_err(bad);
            assert_eq!(err.var, "JWT_MAX_LIFETIME_SECS");
        }
    }
}
