//! Stripe's settings: the key, the API base (the emulator's in tests), Stripe.js, webhook
//! secrets and tolerance, the per-attempt timeout.

use std::time::Duration;

pub const DEFAULT_STRIPE_API_BASE: &str = "https://api.stripe.com/";
pub const DEFAULT_STRIPE_JS_URL: &str = "https://js.stripe.com/v3/";

use super::{parsed, required, var, ConfigError, Secret, Source};

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
        let api_base = api_base(src)?;
        let webhook_secrets = webhook_secrets(src)?;
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

/// `STRIPE_API_BASE`, an absolute URL ending in `/`.
fn api_base(src: &dyn Source) -> Result<String, ConfigError> {
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
    Ok(api_base)
}

/// `STRIPE_WEBHOOK_SECRETS`: comma-separated `whsec_…` (none: webhooks are refused with 503).
fn webhook_secrets(src: &dyn Source) -> Result<Vec<Secret>, ConfigError> {
    let secrets: Vec<Secret> = var(src, "STRIPE_WEBHOOK_SECRETS")
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(Secret::new)
                .collect()
        })
        .unwrap_or_default();
    if let Some(bad) = secrets.iter().find(|s| !s.expose().starts_with("whsec_")) {
        let shown: String = bad.expose().chars().take(6).collect();
        return Err(ConfigError::invalid(
            "STRIPE_WEBHOOK_SECRETS",
            format!("each secret must start with whsec_ (found one starting `{shown}`)"),
        ));
    }
    Ok(secrets)
}
