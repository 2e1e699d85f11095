//! Typed configuration from the environment (and `.env`). Every variable is named in
//! DESIGN.md §8; a missing or malformed required value stops start-up with one line naming it.

use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

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
    fn missing(var: &'static str) -> Self {
        ConfigError {
            var,
            problem: "is required but not set (environment or .env)".into(),
        }
    }

    fn invalid(var: &'static str, why: impl fmt::Display) -> Self {
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
fn var(src: &dyn Source, name: &str) -> Option<String> {
    src.get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn required(src: &dyn Source, name: &'static str) -> Result<String, ConfigError> {
    var(src, name).ok_or_else(|| ConfigError::missing(name))
}

fn parsed<T: std::str::FromStr>(
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

fn optional<T: std::str::FromStr>(
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

fn boolean(src: &dyn Source, name: &'static str, default: bool) -> Result<bool, ConfigError> {
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
pub const DEFAULT_STRIPE_API_BASE: &str = "https://api.stripe.com/";
pub const DEFAULT_STRIPE_JS_URL: &str = "https://js.stripe.com/v3/";

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

#[derive(Debug, Clone)]
pub struct StripeConfig {
    pub secret_key: Secret,
    /// Base URL of the Stripe API, ending in `/`.
    pub api_base: String,
    pub publishable_key: Option<String>,
    pub js_url: String,
    /// Any of these may have signed a webhook (secret rotation).
    pub webhook_secrets: Vec<Secret>,
    pub webhook_tolerance: Duration,
    /// Per-attempt time limit for a Stripe request.
    pub timeout: Duration,
}

impl StripeConfig {
    /// Whether the key moves real money (a live secret or restricted key).
    pub fn is_live(&self) -> bool {
        let key = self.secret_key.expose();
        key.starts_with("sk_live_") || key.starts_with("rk_live_")
    }

    pub fn load(src: &dyn Source) -> Result<Self, ConfigError> {
        let secret_key = required(src, "STRIPE_SECRET_KEY")?;
        if !(secret_key.starts_with("sk_") || secret_key.starts_with("rk_")) {
            return Err(ConfigError::invalid(
                "STRIPE_SECRET_KEY",
                "expected a secret key starting with sk_ (or a restricted rk_ key)",
            ));
        }
        let mut api_base =
            var(src, "STRIPE_API_BASE").unwrap_or_else(|| DEFAULT_STRIPE_API_BASE.to_string());
        if reqwest::Url::parse(&api_base).is_err() {
            return Err(ConfigError::invalid(
                "STRIPE_API_BASE",
                "not an absolute URL",
            ));
        }
        if !api_base.ends_with('/') {
            api_base.push('/');
        }
        let webhook_secrets: Vec<Secret> = var(src, "STRIPE_WEBHOOK_SECRETS")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(Secret::new)
                    .collect()
            })
            .unwrap_or_default();
        if let Some(bad) = webhook_secrets
            .iter()
            .find(|s| !s.expose().starts_with("whsec_"))
        {
            let shown: String = bad.expose().chars().take(6).collect();
            return Err(ConfigError::invalid(
                "STRIPE_WEBHOOK_SECRETS",
                format!("each secret must start with whsec_ (found one starting `{shown}`)"),
            ));
        }
        let tolerance: u64 = parsed(src, "STRIPE_WEBHOOK_TOLERANCE_SECS", 300)?;
        if tolerance == 0 {
            return Err(ConfigError::invalid(
                "STRIPE_WEBHOOK_TOLERANCE_SECS",
                "must be at least 1 second (0 would accept replays of any age)",
            ));
        }
        let timeout_ms: u64 = parsed(src, "STRIPE_TIMEOUT_MS", 30_000)?;
        if timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "STRIPE_TIMEOUT_MS",
                "must be positive",
            ));
        }
        Ok(StripeConfig {
            secret_key: Secret::new(secret_key),
            api_base,
            publishable_key: var(src, "STRIPE_PUBLISHABLE_KEY"),
            js_url: var(src, "STRIPE_JS_URL").unwrap_or_else(|| DEFAULT_STRIPE_JS_URL.to_string()),
            webhook_secrets,
            webhook_tolerance: Duration::from_secs(tolerance),
            timeout: Duration::from_millis(timeout_ms),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    Hs256,
    Rs256,
    EdDsa,
}

impl std::str::FromStr for JwtAlgorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "HS256" => Ok(JwtAlgorithm::Hs256),
            "RS256" => Ok(JwtAlgorithm::Rs256),
            "EdDSA" => Ok(JwtAlgorithm::EdDsa),
            other => Err(format!("`{other}` is not one of HS256, RS256, EdDSA")),
        }
    }
}

#[derive(Debug, Clone)]
pub enum JwtKey {
    /// HS256 shared secret.
    Secret(Secret),
    /// PEM public key for RS256 / EdDSA.
    PublicKeyPem { path: PathBuf, pem: Vec<u8> },
}

#[derive(Debug, Clone)]
pub struct JwtConfig {
    pub algorithm: JwtAlgorithm,
    pub key: JwtKey,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// Longest a token may live (`JWT_MAX_LIFETIME_SECS`): `exp − iat`, or `exp − now` for a
    /// token without `iat`. A token good until the year 9999 is a stolen token forever.
    pub max_lifetime: Duration,
    /// Clock skew tolerated on `exp` and `nbf` (`JWT_LEEWAY_SECS`).
    pub leeway: Duration,
}

/// `JWT_MAX_LIFETIME_SECS` unless set: a day.
pub const DEFAULT_JWT_MAX_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

impl JwtConfig {
    pub fn load(src: &dyn Source) -> Result<Self, ConfigError> {
        let algorithm: JwtAlgorithm = parsed(src, "JWT_ALGORITHM", JwtAlgorithm::Hs256)?;
        let key = match algorithm {
            JwtAlgorithm::Hs256 => {
                let secret = required(src, "JWT_SECRET")?;
                // RFC 7518 §3.2: an HS256 key must be at least as long as the hash (32 bytes).
                if secret.len() < 32 {
                    return Err(ConfigError::invalid(
                        "JWT_SECRET",
                        "must be at least 32 bytes for HS256",
                    ));
                }
                JwtKey::Secret(Secret::new(secret))
            }
            JwtAlgorithm::Rs256 | JwtAlgorithm::EdDsa => {
                let path = PathBuf::from(required(src, "JWT_PUBLIC_KEY_FILE")?);
                let pem = std::fs::read(&path).map_err(|e| {
                    ConfigError::invalid("JWT_PUBLIC_KEY_FILE", format!("{}: {e}", path.display()))
                })?;
                JwtKey::PublicKeyPem { path, pem }
            }
        };
        let max_lifetime = match optional::<u64>(src, "JWT_MAX_LIFETIME_SECS")? {
            None => DEFAULT_JWT_MAX_LIFETIME,
            Some(0) => {
                return Err(ConfigError::invalid(
                    "JWT_MAX_LIFETIME_SECS",
                    "must be at least 1 second",
                ))
            }
            Some(secs) => Duration::from_secs(secs),
        };
        Ok(JwtConfig {
            algorithm,
            key,
            issuer: var(src, "JWT_ISSUER"),
            audience: var(src, "JWT_AUDIENCE"),
            max_lifetime,
            leeway: Duration::from_secs(parsed(src, "JWT_LEEWAY_SECS", 30)?),
        })
    }
}

/// The HTTP edge: timeouts, body size, CORS, client addresses and rate limits.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Time to receive a request's headers; also how long an idle keep-alive connection may
    /// wait for its next request (hyper starts the same timer for both).
    pub header_timeout: Duration,
    /// Time to answer a request (WebSockets excepted), body included.
    pub request_timeout: Duration,
    /// Largest `POST /graphql` body, refused before it is read.
    pub max_body_bytes: usize,
    /// Origins allowed to call the API from a browser; empty: no CORS headers at all.
    pub cors_allowed_origins: Vec<String>,
    /// Proxies in front of Tollgate that append to `X-Forwarded-For`; 0 trusts none and uses
    /// the peer address.
    pub trusted_proxy_hops: usize,
    pub rate_limits: crate::rate_limit::RateLimitConfig,
    /// Serve `/metrics` at all.
    pub metrics: bool,
    /// Serve `/metrics` on this address instead of the API's (keep it off the internet).
    pub metrics_bind: Option<SocketAddr>,
    /// How long a graphql-ws connection may stay open without `connection_init` (closed 4408).
    pub ws_init_timeout: Duration,
    /// Run known query shapes as compiled plans (`graphql::compiled`); off: every operation
    /// goes through async-graphql's executor.
    pub compiled_operations: bool,
}

fn per_minute(
    src: &dyn Source,
    name: &'static str,
    default: u32,
) -> Result<Option<std::num::NonZeroU32>, ConfigError> {
    let n: u32 = parsed(src, name, default)?;
    Ok(std::num::NonZeroU32::new(n))
}

impl HttpConfig {
    pub fn load(src: &dyn Source) -> Result<Self, ConfigError> {
        let secs = |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
            let v: u64 = parsed(src, name, default)?;
            if v == 0 {
                return Err(ConfigError::invalid(name, "must be at least 1 second"));
            }
            Ok(Duration::from_secs(v))
        };
        let max_body_bytes: usize = parsed(src, "GRAPHQL_MAX_BODY_BYTES", 256 * 1024)?;
        if !(1024..=16 * 1024 * 1024).contains(&max_body_bytes) {
            return Err(ConfigError::invalid(
                "GRAPHQL_MAX_BODY_BYTES",
                "must be between 1024 and 16777216",
            ));
        }
        let cors_allowed_origins: Vec<String> = var(src, "CORS_ALLOWED_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_string())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        for origin in &cors_allowed_origins {
            let ok = reqwest::Url::parse(origin).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https") && u.path() == "/" && u.query().is_none()
            });
            if !ok || origin == "*" {
                return Err(ConfigError::invalid(
                    "CORS_ALLOWED_ORIGINS",
                    format!("`{origin}` is not an origin like https://shop.example.com"),
                ));
            }
        }
        let rate_limits = if boolean(src, "RATE_LIMITS", true)? {
            crate::rate_limit::RateLimitConfig {
                per_ip: per_minute(src, "RATE_LIMIT_IP_PER_MINUTE", 600)?,
                per_user: per_minute(src, "RATE_LIMIT_USER_PER_MINUTE", 300)?,
                mutations_per_user: per_minute(src, "RATE_LIMIT_MUTATIONS_PER_MINUTE", 30)?,
            }
        } else {
            crate::rate_limit::RateLimitConfig::OFF
        };
        Ok(HttpConfig {
            header_timeout: secs("HTTP_HEADER_TIMEOUT_SECS", 10)?,
            request_timeout: secs("HTTP_REQUEST_TIMEOUT_SECS", 30)?,
            max_body_bytes,
            cors_allowed_origins,
            trusted_proxy_hops: parsed(src, "TRUSTED_PROXY_HOPS", 0)?,
            rate_limits,
            metrics: boolean(src, "METRICS", true)?,
            compiled_operations: boolean(src, "GRAPHQL_COMPILED_OPERATIONS", true)?,
            metrics_bind: optional(src, "METRICS_BIND")?,
            ws_init_timeout: {
                let ms: u64 = parsed(src, "GRAPHQL_WS_INIT_TIMEOUT_MS", 10_000)?;
                if ms == 0 {
                    return Err(ConfigError::invalid(
                        "GRAPHQL_WS_INIT_TIMEOUT_MS",
                        "must be positive",
                    ));
                }
                Duration::from_millis(ms)
            },
        })
    }
}

/// The browser face: where the SPA's build is, and what the demo pre-fills in GraphiQL.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The built SPA (`web/dist`), served at `/`; None: not served (`WEB_DIR=off`). GraphiQL's
    /// page and assets come from the same build.
    pub dir: Option<PathBuf>,
    /// A token GraphiQL starts with in its Authorization header. For the local demo only: it is
    /// handed to anyone who loads the page.
    pub graphiql_token: Option<Secret>,
}

pub const DEFAULT_WEB_DIR: &str = "web/dist";

impl WebConfig {
    pub fn load(src: &dyn Source) -> Result<Self, ConfigError> {
        let dir = match var(src, "WEB_DIR") {
            Some(v) if v.eq_ignore_ascii_case("off") => None,
            Some(v) => Some(PathBuf::from(v)),
            None => Some(PathBuf::from(DEFAULT_WEB_DIR)),
        };
        let graphiql_token = var(src, "GRAPHIQL_DEFAULT_TOKEN");
        if let Some(t) = &graphiql_token {
            // It ends up in a JSON header map and an HTTP header: plain token characters only.
            if !t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            {
                return Err(ConfigError::invalid(
                    "GRAPHIQL_DEFAULT_TOKEN",
                    "expected a JWT (letters, digits, `-`, `_`, `.`)",
                ));
            }
        }
        Ok(WebConfig {
            dir,
            graphiql_token: graphiql_token.map(Secret::new),
        })
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
    pub http: HttpConfig,
    pub web: WebConfig,
}

impl Config {
    /// Everything `tollgate serve` needs.
    pub fn load(src: &dyn Source) -> Result<Self, ConfigError> {
        let config = Config {
            database_url: database_url(src)?,
            bind_addr: parsed(src, "BIND_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            stripe: StripeConfig::load(src)?,
            jwt: JwtConfig::load(src)?,
            graphql_introspection: boolean(src, "GRAPHQL_INTROSPECTION", true)?,
            owner_refund_window: optional::<u64>(src, "REFUND_OWNER_WINDOW_SECS")?
                .map(Duration::from_secs),
            webhook_workers: optional(src, "WEBHOOK_WORKERS")?,
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
