//! The HTTP transport for Stripe requests.
//!
//! Requests are built with async-stripe's typed builders (they know every endpoint's path and
//! form encoding); this client sends them and reads the answer itself, because the SDK's typed
//! responses pin one API version and fail on sparser objects (see `objects.rs`). Owning the
//! transport also keeps what the SDK's client loses: the HTTP status of an error whose body does
//! not match its types, and whether a failed request may have reached Stripe at all.

use std::time::Duration;

use serde::de::DeserializeOwned;
use stripe_client_core::{RequestBuilder, StripeMethod, StripeRequest};

use super::error::{ApiErrorBody, StripeError};
use crate::config::{Secret, StripeConfig};

/// The API version Tollgate's request builders were generated for; sent on every request so
/// Stripe parses parameters the way the builders encode them.
pub fn api_version() -> &'static str {
    stripe_shared::version::VERSION.as_str()
}

#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    api_base: reqwest::Url,
    secret: Secret,
    timeout: Duration,
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeClient")
            .field("api_base", &self.api_base.as_str())
            .finish()
    }
}

/// A Stripe idempotency key (at most 255 characters, Stripe's limit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn new(key: impl Into<String>) -> Result<Self, StripeError> {
        let key = key.into();
        if key.is_empty() || key.len() > 255 || !key.is_ascii() {
            return Err(StripeError::Local(format!(
                "invalid idempotency key length {}",
                key.len()
            )));
        }
        Ok(IdempotencyKey(key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl StripeClient {
    pub fn new(config: &StripeConfig) -> Result<Self, StripeError> {
        let api_base = reqwest::Url::parse(&config.api_base)
            .map_err(|e| StripeError::Local(format!("STRIPE_API_BASE: {e}")))?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("tollgate/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            // Redirects would resend the secret key elsewhere; Stripe never redirects.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| StripeError::Local(e.to_string()))?;
        Ok(StripeClient {
            http,
            api_base,
            secret: config.secret_key.clone(),
            timeout: config.timeout,
        })
    }

    pub fn api_base(&self) -> &str {
        self.api_base.as_str()
    }

    /// Sends a request built with async-stripe and reads the response into `T`, one of
    /// Tollgate's tolerant readers. With an idempotency key the request is retried on
    /// connection failures, 409 conflicts and 5xx/429 answers (Stripe replays the first result
    /// for the same key); without one, only when it certainly never reached Stripe.
    pub async fn send<T: DeserializeOwned>(
        &self,
        request: &impl StripeRequest,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> Result<T, StripeError> {
        let mut built = request.build();
        if let Some(body) = built.body.as_mut() {
            *body = canonical_form(body);
        }
        let bytes = self.execute(&built, idempotency_key).await?;
        serde_json::from_slice(&bytes).map_err(|source| {
            // A 2xx whose body we cannot read: the request did happen at Stripe.
            StripeError::UnreadableResponse {
                request: format!("{} {}", method_name(&built), built.path),
                source,
            }
        })
    }

    /// Every object of a list endpoint, following `starting_after` page by page. `page` builds
    /// the request for the page after the given id (None: the first page).
    pub async fn list_all<T, R>(
        &self,
        page: impl Fn(Option<&str>) -> R,
    ) -> Result<Vec<T>, StripeError>
    where
        T: DeserializeOwned + super::objects::HasId,
        R: StripeRequest,
    {
        let mut out: Vec<T> = Vec::new();
        loop {
            let request = page(out.last().map(|o| o.id()));
            let list: super::objects::List<T> = self.send(&request, None).await?;
            let more = list.has_more && !list.data.is_empty();
            out.extend(list.data);
            if !more {
                return Ok(out);
            }
        }
    }

    async fn execute(
        &self,
        built: &RequestBuilder,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> Result<bytes::Bytes, StripeError> {
        let retry_is_safe = idempotency_key.is_some() || matches!(built.method, StripeMethod::Get);
        let max_attempts = if retry_is_safe { 3 } else { 1 };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.attempt(built, idempotency_key).await;
            let again = match &result {
                Err(StripeError::NotSent(_)) => attempt < 3,
                Err(e) if retry_is_safe => e.is_retryable() && attempt < max_attempts,
                _ => false,
            };
            if !again {
                return result;
            }
            crate::metrics::stripe_retry(method_name(built), &built.path);
            let backoff = Duration::from_millis(100 * 4_u64.pow(attempt - 1));
            let detail = result
                .as_ref()
                .err()
                .map(StripeError::operator_detail)
                .unwrap_or_default();
            tracing::warn!(attempt, backoff_ms = backoff.as_millis() as u64, error = %detail, "retrying Stripe request");
            tokio::time::sleep(backoff).await;
        }
    }

    async fn attempt(
        &self,
        built: &RequestBuilder,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> Result<bytes::Bytes, StripeError> {
        use tracing::Instrument;
        let method = method_name(built);
        let template = crate::metrics::path_template(&built.path);
        // One span per attempt, so a retried call shows each try. The path is the template
        // (`/v1/payment_intents/{id}`): ids stay out of span names.
        let span = tracing::info_span!(
            "stripe",
            otel.name = format!("stripe {method} {template}"),
            otel.kind = "client",
            http.request.method = method,
            url.template = %template,
            http.response.status_code = tracing::field::Empty,
            stripe.outcome = tracing::field::Empty,
            stripe.idempotent = idempotency_key.is_some(),
        );
        let started = std::time::Instant::now();
        let result = self
            .attempt_once(built, idempotency_key)
            .instrument(span.clone())
            .await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(StripeError::Card(_)) => "card_error",
            Err(StripeError::RateLimited) => "rate_limited",
            Err(StripeError::Server { .. }) => "server_error",
            Err(StripeError::OutcomeUnknown(_)) => "unknown_outcome",
            Err(StripeError::NotSent(_)) => "not_sent",
            Err(StripeError::Local(_)) => "refused",
            Err(_) => "invalid",
        };
        span.record("stripe.outcome", outcome);
        crate::metrics::stripe_call(method, &built.path, outcome, started.elapsed());
        result
    }

    async fn attempt_once(
        &self,
        built: &RequestBuilder,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> Result<bytes::Bytes, StripeError> {
        let mut url = api_url(&self.api_base, &built.path)?;
        if let Some(q) = built.query.as_deref().filter(|q| !q.is_empty()) {
            url.set_query(Some(q));
        }
        let method = match built.method {
            StripeMethod::Get => reqwest::Method::GET,
            StripeMethod::Post => reqwest::Method::POST,
            StripeMethod::Delete => reqwest::Method::DELETE,
        };
        let mut req = self
            .http
            .request(method, url)
            .bearer_auth(self.secret.expose())
            .header("Stripe-Version", api_version())
            .timeout(self.timeout);
        if let Some(key) = idempotency_key {
            req = req.header("Idempotency-Key", key.as_str());
        }
        if let Some(body) = &built.body {
            req = req
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(body.clone());
        }
        let started = std::time::Instant::now();
        let response = req.send().await.map_err(classify_transport_error)?;
        let status = response.status();
        let request_id = response
            .headers()
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response.bytes().await.map_err(|e| {
            // The request reached Stripe; only the answer was lost.
            StripeError::OutcomeUnknown(e)
        })?;
        tracing::Span::current().record("http.response.status_code", status.as_u16());
        tracing::debug!(
            method = method_name(built),
            path = %built.path,
            status = status.as_u16(),
            request_id = request_id.as_deref().unwrap_or("-"),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "stripe request"
        );
        if status.is_success() {
            return Ok(bytes);
        }
        let body = serde_json::from_slice::<ApiErrorBody>(&bytes)
            .ok()
            .map(|b| b.error);
        Err(StripeError::from_status(status.as_u16(), &built.path, body))
    }
}

/// The URL of an API path under the configured base's `/v1/`. Each path segment is checked and
/// percent-encoded on its own, so no id can climb out with `..`, start a query with `?` or
/// reach another host; any URL not under `/v1/` is refused before anything is sent. Ids from
/// clients are already typed (`stripe::ids`); this is the second, independent wall.
pub fn api_url(base: &reqwest::Url, path: &str) -> Result<reqwest::Url, StripeError> {
    let refuse = || StripeError::Local("refused an unsafe Stripe API path".into());
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    let prefix = {
        let mut segments = url.path_segments_mut().map_err(|_| refuse())?;
        segments.pop_if_empty().push("v1");
        for segment in path.trim_start_matches('/').split('/') {
            let safe = !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment.len() <= 255
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
            if !safe {
                return Err(refuse());
            }
            segments.push(segment);
        }
        drop(segments);
        let mut prefix = base.path().trim_end_matches('/').to_string();
        prefix.push_str("/v1/");
        prefix
    };
    let same_origin = url.origin() == base.origin();
    if !same_origin || !url.path().starts_with(&prefix) {
        return Err(refuse());
    }
    Ok(url)
}

/// A form body with its pairs in one order whatever order the builder wrote them in: sorted
/// by name, stably, so repeated names (`expand[]`) keep their order. Maps (metadata) are
/// HashMaps, which iterate in a different order in every instance; without this a client's
/// retry of a request, rebuilt from the same input, would reach Stripe with the same
/// idempotency key and other bytes, and be refused as a different request.
pub fn canonical_form(body: &str) -> String {
    let mut pairs: Vec<&str> = body.split('&').filter(|p| !p.is_empty()).collect();
    pairs.sort_by_key(|pair| pair.split_once('=').map_or(*pair, |(name, _)| name));
    pairs.join("&")
}

fn method_name(built: &RequestBuilder) -> &'static str {
    match built.method {
        StripeMethod::Get => "GET",
        StripeMethod::Post => "POST",
        StripeMethod::Delete => "DELETE",
    }
}

/// A connection that could not be made means Stripe never saw the request; a timeout or a
/// connection lost after sending means it may have.
fn classify_transport_error(e: reqwest::Error) -> StripeError {
    if e.is_connect() {
        StripeError::NotSent(e)
    } else {
        // Timed out or reset after sending: Stripe may have acted.
        StripeError::OutcomeUnknown(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &str) -> reqwest::Url {
        reqwest::Url::parse(s).expect("url")
    }

    #[test]
    fn the_same_request_is_the_same_body_however_its_maps_iterate() {
        use stripe_client_core::StripeRequest;
        let body = |keys: &[usize]| {
            let metadata: std::collections::HashMap<String, String> = keys
                .iter()
                .map(|k| (format!("key{k}"), format!("value{k}")))
                .collect();
            let request = crate::stripe::requests::customer::CreateCustomer::new()
                .metadata(metadata)
                .expand(vec!["b".to_string(), "a".to_string()]);
            canonical_form(&request.build().body.unwrap_or_default())
        };
        let forward: Vec<usize> = (0..12).collect();
        let backward: Vec<usize> = (0..12).rev().collect();
        let first = body(&forward);
        assert_eq!(first, body(&backward));
        assert!(
            first.contains("key11") && first.contains("value0"),
            "{first}"
        );
    }

    #[test]
    fn canonical_form_keeps_repeated_names_in_order() {
        assert_eq!(
            canonical_form("z=1&expand[]=b&a=2&expand[]=a"),
            "a=2&expand[]=b&expand[]=a&z=1"
        );
        assert_eq!(canonical_form(""), "");
    }

    #[test]
    fn builds_urls_under_v1() {
        let url = api_url(
            &base("https://api.stripe.com/"),
            "/payment_methods/pm_1/attach",
        )
        .expect("safe");
        assert_eq!(
            url.as_str(),
            "https://api.stripe.com/v1/payment_methods/pm_1/attach"
        );
        let url = api_url(&base("http://127.0.0.1:9/stripe"), "/customers").expect("safe");
        assert_eq!(url.as_str(), "http://127.0.0.1:9/stripe/v1/customers");
    }

    #[test]
    fn refuses_paths_that_leave_v1() {
        let b = base("https://api.stripe.com/");
        for path in [
            "/payment_methods/../payment_intents/pi_1?/attach",
            "/payment_methods/..%2fpayment_intents/attach",
            "/payment_methods/pm_1?x=1/attach",
            "/payment_methods/pm_1#/attach",
            "/payment_methods//attach",
            "/payment_methods/./attach",
            "/payment_methods/pm 1/attach",
            "/payment_methods/@evil.example/attach",
            "/payment_methods/\\evil/attach",
        ] {
            assert!(api_url(&b, path).is_err(), "{path} accepted");
        }
    }
}
