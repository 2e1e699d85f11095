//! What can go wrong talking to Stripe, read tolerantly from Stripe's error bodies
//! (https://docs.stripe.com/api/errors), and how each case reaches users.

use serde::Deserialize;

use crate::error::{ApiError, ErrorCode};

#[derive(Debug, Deserialize)]
pub(super) struct ApiErrorBody {
    pub error: StripeApiError,
}

/// Stripe's `error` object; only the fields Tollgate uses, all optional.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StripeApiError {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub decline_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub param: Option<String>,
    /// Card errors raised while confirming a PaymentIntent include it.
    #[serde(default)]
    pub payment_intent: Option<serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// A card was declined or failed (`card_error`, HTTP 402).
    #[error("card error {}: {}", .0.code.as_deref().unwrap_or("-"), .0.message.as_deref().unwrap_or("-"))]
    Card(Box<StripeApiError>),
    /// Stripe refused the request as invalid (HTTP 400/404 `invalid_request_error`).
    #[error("invalid request ({status}) {}: {}", .error.code.as_deref().unwrap_or("-"), .error.message.as_deref().map(plain).unwrap_or_default())]
    InvalidRequest {
        status: u16,
        error: Box<StripeApiError>,
        /// For a 404 or `resource_missing`: the object Stripe does not have, as
        /// `payment_intent pi_…` (from the path Tollgate asked for) or `customer (param
        /// customer)` (from Stripe's `param`). Asking again will not make it exist.
        missing: Option<String>,
    },
    /// The idempotency key was reused with other parameters (`idempotency_error`).
    #[error("idempotency error: {}", .0.message.as_deref().unwrap_or("-"))]
    Idempotency(Box<StripeApiError>),
    /// Too many requests (HTTP 429).
    #[error("rate limited by Stripe")]
    RateLimited,
    /// Our key was refused (HTTP 401/403): a configuration problem, never the user's.
    #[error("Stripe refused the API key ({0})")]
    Authentication(u16),
    /// The request certainly never reached Stripe (connection refused, DNS, TLS).
    #[error("could not reach Stripe")]
    NotSent(#[source] reqwest::Error),
    /// Stripe answered 5xx: it failed, and Stripe documents the outcome as indeterminate.
    #[error("Stripe error {status}: {}", .error.as_ref().and_then(|e| e.message.as_deref()).unwrap_or("-"))]
    Server {
        status: u16,
        error: Option<Box<StripeApiError>>,
    },
    /// Sent, but no complete answer came back (timeout, connection reset).
    #[error("Stripe's answer was lost")]
    OutcomeUnknown(#[source] reqwest::Error),
    /// A 2xx answer that Tollgate could not read.
    #[error("unreadable Stripe response to {request}")]
    UnreadableResponse {
        request: String,
        #[source]
        source: serde_json::Error,
    },
    /// A problem on our side before sending (bad configuration or key).
    #[error("{0}")]
    Local(String),
}

/// Stripe's text made safe for a log line or an admin view: control characters dropped, at
/// most 300 characters.
fn plain(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(300).collect()
}

/// The object an API path names: `/payment_intents/pi_1/confirm` → `payment_intent pi_1`. The
/// path was built by Tollgate from typed ids; the id is still checked before it is shown.
fn object_of_path(path: &str) -> Option<String> {
    let mut segments = path.trim_start_matches('/').split('/');
    let collection = segments.next()?;
    let object = collection.strip_suffix('s').unwrap_or(collection);
    let plain_word = |s: &str| {
        !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    if !plain_word(object) {
        return None;
    }
    Some(match segments.next().filter(|id| plain_word(id)) {
        Some(id) => format!("{object} {id}"),
        None => object.to_owned(),
    })
}

impl StripeError {
    /// Stripe's error answer to a request for `path`.
    pub(super) fn from_status(status: u16, path: &str, error: Option<StripeApiError>) -> Self {
        let kind = error.as_ref().and_then(|e| e.kind.clone());
        match (status, kind.as_deref(), error) {
            (_, Some("card_error"), Some(e)) | (402, _, Some(e)) => StripeError::Card(Box::new(e)),
            (_, Some("idempotency_error"), Some(e)) => StripeError::Idempotency(Box::new(e)),
            (429, ..) => StripeError::RateLimited,
            (401 | 403, ..) => StripeError::Authentication(status),
            (500.., _, error) => StripeError::Server {
                status,
                error: error.map(Box::new),
            },
            (_, _, error) => {
                let error = error.unwrap_or_default();
                let missing = if status == 404 {
                    object_of_path(path)
                } else if error.code.as_deref() == Some("resource_missing") {
                    error
                        .param
                        .as_deref()
                        .map(|p| format!("object named by the parameter {}", plain(p)))
                } else {
                    None
                };
                StripeError::InvalidRequest {
                    status,
                    error: Box::new(error),
                    missing,
                }
            }
        }
    }

    /// What Stripe said, for operators (logs, a parked webhook's `lastError`): its status,
    /// `code`, `param` and message; never shown to clients.
    pub fn operator_detail(&self) -> String {
        let error = match self {
            StripeError::Card(e)
            | StripeError::Idempotency(e)
            | StripeError::InvalidRequest { error: e, .. } => Some(e.as_ref()),
            StripeError::Server { error, .. } => error.as_deref(),
            _ => None,
        };
        let Some(e) = error else {
            return self.to_string();
        };
        let field = |name: &str, v: &Option<String>| {
            v.as_deref()
                .map(|v| format!(" {name} {}", plain(v)))
                .unwrap_or_default()
        };
        let status = match self {
            StripeError::InvalidRequest { status, .. } | StripeError::Server { status, .. } => {
                format!(" {status}")
            }
            _ => String::new(),
        };
        format!(
            "Stripe answered{status}{}{}{}: {}",
            field("type", &e.kind),
            field("code", &e.code),
            field("param", &e.param),
            e.message
                .as_deref()
                .map(plain)
                .unwrap_or_else(|| "-".into())
        )
    }

    /// For a 404 or `resource_missing`: the object Stripe does not have.
    pub fn missing_object(&self) -> Option<&str> {
        match self {
            StripeError::InvalidRequest { missing, .. } => missing.as_deref(),
            _ => None,
        }
    }

    /// Worth retrying with the same idempotency key.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StripeError::NotSent(_)
                | StripeError::Server { .. }
                | StripeError::RateLimited
                | StripeError::OutcomeUnknown(_)
        ) || matches!(self, StripeError::InvalidRequest { status: 409, .. })
    }

    /// Whether Stripe may have acted on the request even though we got no usable answer: the
    /// caller must record what it knows as pending and let a webhook or re-fetch settle it.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            StripeError::OutcomeUnknown(_)
                | StripeError::Server { .. }
                | StripeError::UnreadableResponse { .. }
        )
    }

    /// Stripe's error code (`resource_missing`, `card_declined`, …), if any.
    pub fn stripe_code(&self) -> Option<&str> {
        match self {
            StripeError::Card(e)
            | StripeError::InvalidRequest { error: e, .. }
            | StripeError::Idempotency(e) => e.code.as_deref(),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.missing_object().is_some()
    }
}

impl From<StripeError> for ApiError {
    /// The user-facing meaning of a Stripe failure. Card errors keep Stripe's message (it is
    /// written for end users) and decline code; everything else is ours to explain.
    fn from(e: StripeError) -> Self {
        match e {
            StripeError::Card(err) => {
                let decline = err.decline_code.clone();
                let code = match (err.code.as_deref(), decline.as_deref()) {
                    (_, Some("insufficient_funds")) | (Some("insufficient_funds"), _) => {
                        ErrorCode::InsufficientFunds
                    }
                    (Some("authentication_required"), _)
                    | (_, Some("authentication_required"))
                    | (Some("payment_intent_authentication_failure"), _) => {
                        ErrorCode::AuthenticationRequired
                    }
                    _ => ErrorCode::CardDeclined,
                };
                ApiError::Card {
                    code,
                    decline_code: decline,
                    stripe_code: err.code,
                    message: err
                        .message
                        .unwrap_or_else(|| "Your card was declined.".into()),
                }
            }
            StripeError::InvalidRequest {
                status, ref error, ..
            } if status < 500 && status != 409 => {
                // Stripe's message can quote ids and parameters back; it is for operators, and
                // the client gets a fixed sentence naming only the parameter Stripe pointed at.
                tracing::warn!(detail = %e.operator_detail(), "Stripe refused a request as invalid");
                let field = error
                    .param
                    .as_deref()
                    .filter(|p| {
                        p.len() <= 64
                            && p.bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"_[].".contains(&b))
                    })
                    .unwrap_or("input")
                    .to_owned();
                ApiError::StripeRefused {
                    field,
                    missing: e.missing_object().map(str::to_owned),
                    detail: e.operator_detail(),
                }
            }
            StripeError::RateLimited => ApiError::RateLimited {
                retry_after_secs: None,
            },
            StripeError::NotSent(_)
            | StripeError::Server { .. }
            | StripeError::OutcomeUnknown(_) => {
                tracing::warn!(error = %format_args!("{:#}", anyhow::Error::from(e)), "Stripe unavailable");
                ApiError::StripeUnavailable
            }
            other => ApiError::internal(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(kind: &str, code: Option<&str>, decline: Option<&str>) -> StripeApiError {
        StripeApiError {
            kind: Some(kind.into()),
            code: code.map(Into::into),
            decline_code: decline.map(Into::into),
            message: Some("m".into()),
            ..Default::default()
        }
    }

    #[test]
    fn classifies_by_type_and_status() {
        let card = StripeError::from_status(
            402,
            "/payment_intents",
            Some(err("card_error", Some("card_declined"), None)),
        );
        assert!(matches!(card, StripeError::Card(_)));
        // Older emulators say invalid_request_error with HTTP 402: still a card error.
        let legacy = StripeError::from_status(
            402,
            "/payment_intents",
            Some(err("invalid_request_error", Some("card_declined"), None)),
        );
        assert!(matches!(legacy, StripeError::Card(_)));
        let idem =
            StripeError::from_status(400, "/refunds", Some(err("idempotency_error", None, None)));
        assert!(matches!(idem, StripeError::Idempotency(_)));
        assert!(matches!(
            StripeError::from_status(429, "/refunds", None),
            StripeError::RateLimited
        ));
        assert!(matches!(
            StripeError::from_status(401, "/refunds", None),
            StripeError::Authentication(401)
        ));
        let server = StripeError::from_status(503, "/refunds", None);
        assert!(server.outcome_unknown() && server.is_retryable());
        let missing = StripeError::from_status(
            404,
            "/payment_intents/pi_123/confirm",
            Some(err("invalid_request_error", Some("resource_missing"), None)),
        );
        assert!(missing.is_not_found() && !missing.is_retryable());
        assert_eq!(missing.missing_object(), Some("payment_intent pi_123"));
        let by_param = StripeError::from_status(
            400,
            "/subscriptions",
            Some(StripeApiError {
                code: Some("resource_missing".into()),
                param: Some("customer".into()),
                ..Default::default()
            }),
        );
        assert_eq!(
            by_param.missing_object(),
            Some("object named by the parameter customer")
        );
        let invalid = StripeError::from_status(
            400,
            "/refunds",
            Some(err("invalid_request_error", Some("amount_too_large"), None)),
        );
        assert!(!invalid.is_not_found());
    }

    #[test]
    fn operators_see_stripes_code_param_and_message_in_plain_text() {
        let e = StripeError::from_status(
            404,
            "/payment_intents/pi_9",
            Some(StripeApiError {
                kind: Some("invalid_request_error".into()),
                code: Some("resource_missing".into()),
                param: Some("intent".into()),
                message: Some("No such payment_intent: 'pi_9'\r\nforged: line".into()),
                ..Default::default()
            }),
        );
        let detail = e.operator_detail();
        assert_eq!(
            detail,
            "Stripe answered 404 type invalid_request_error code resource_missing param intent: \
             No such payment_intent: 'pi_9'forged: line"
        );
        assert!(!detail.contains("Some("), "{detail}");
        // Clients get the fixed sentence.
        let client = ApiError::from(e);
        assert_eq!(client.code(), ErrorCode::InvalidInput);
        assert!(!client.to_string().contains("pi_9"), "{client}");
    }

    #[test]
    fn maps_card_codes_for_users() {
        let code = |c: Option<&str>, d: Option<&str>| {
            ApiError::from(StripeError::Card(Box::new(err("card_error", c, d)))).code()
        };
        assert_eq!(
            code(Some("card_declined"), Some("generic_decline")),
            ErrorCode::CardDeclined
        );
        assert_eq!(
            code(Some("card_declined"), Some("insufficient_funds")),
            ErrorCode::InsufficientFunds
        );
        assert_eq!(
            code(Some("expired_card"), Some("expired_card")),
            ErrorCode::CardDeclined
        );
        assert_eq!(
            code(
                Some("authentication_required"),
                Some("authentication_required")
            ),
            ErrorCode::AuthenticationRequired
        );
        let unavailable = ApiError::from(StripeError::from_status(503, "/refunds", None));
        assert_eq!(unavailable.code(), ErrorCode::StripeUnavailable);
        let invalid = ApiError::from(StripeError::from_status(
            400,
            "/payment_intents",
            Some(StripeApiError {
                kind: Some("invalid_request_error".into()),
                code: Some("resource_missing".into()),
                message: Some("No such PaymentMethod: '<script>'".into()),
                param: Some("payment_method".into()),
                ..Default::default()
            }),
        ));
        assert_eq!(invalid.code(), ErrorCode::InvalidInput);
        assert!(!invalid.to_string().contains("<script>"), "{invalid}");
        let auth = ApiError::from(StripeError::Authentication(401));
        assert_eq!(
            auth.code(),
            ErrorCode::Internal,
            "a bad key is our problem, not the user's"
        );
    }
}
