//! The HTTP edge's settings: timeouts, body size, CORS, client addresses, rate limits,
//! metrics, compiled plans, the WebSocket init timeout.

use std::{net::SocketAddr, time::Duration};

use super::{boolean, optional, parsed, var, ConfigError, Source};

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
        let cors_allowed_origins = cors_origins(src)?;
        let rate_limits = rate_limits(src)?;
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
            ws_init_timeout: ws_init_timeout(src)?,
        })
    }
}

/// `CORS_ALLOWED_ORIGINS`: comma-separated origins, each a scheme and host (no path, no `*`).
fn cors_origins(src: &dyn Source) -> Result<Vec<String>, ConfigError> {
    let origins: Vec<String> = var(src, "CORS_ALLOWED_ORIGINS")
        .map(|v| {
            v.split(',')
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .filter(|o| !o.is_empty())
                .collect()
        })
        .unwrap_or_default();
    for origin in &origins {
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
    Ok(origins)
}

/// The three limits, or none with `RATE_LIMITS=false`.
fn rate_limits(src: &dyn Source) -> Result<crate::rate_limit::RateLimitConfig, ConfigError> {
    if !boolean(src, "RATE_LIMITS", true)? {
        return Ok(crate::rate_limit::RateLimitConfig::OFF);
    }
    Ok(crate::rate_limit::RateLimitConfig {
        per_ip: per_minute(src, "RATE_LIMIT_IP_PER_MINUTE", 600)?,
        per_user: per_minute(src, "RATE_LIMIT_USER_PER_MINUTE", 300)?,
        mutations_per_user: per_minute(src, "RATE_LIMIT_MUTATIONS_PER_MINUTE", 30)?,
    })
}

fn ws_init_timeout(src: &dyn Source) -> Result<Duration, ConfigError> {
    let ms: u64 = parsed(src, "GRAPHQL_WS_INIT_TIMEOUT_MS", 10_000)?;
    if ms == 0 {
        return Err(ConfigError::invalid(
            "GRAPHQL_WS_INIT_TIMEOUT_MS",
            "must be positive",
        ));
    }
    Ok(Duration::from_millis(ms))
}
