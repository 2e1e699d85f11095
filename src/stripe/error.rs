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
    #[error("invalid request ({status}) {}: {}", .error.code.as_deref().unwrap_or("-"), .error.message.as_deref().unwrap_or("-"))]
    InvalidRequest {
        status: u16,
        error: Box<StripeApiError>,
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

impl StripeError {
    pub(super) fn from_status(status: u16, error: Option<StripeApiError>) -> Self {
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
            (_, _, error) => StripeError::InvalidRequest {
                status,
                error: Box::new(error.unwrap_or_default()),
            },
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
        matches!(self, StripeError::InvalidRequest { status: 404, .. })
            || self.stripe_code() == Some("resource_missing")
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
            StripeError::InvalidRequest { status, error } if status < 500 && status != 409 => {
                // Stripe's message can quote ids and parameters back; it is logged, and the
                // client gets a fixed sentence naming only the parameter Stripe pointed at.
                tracing::warn!(status, code = ?error.code, param = ?error.param, message = ?error.message, "Stripe refused a request as invalid");
                let field = error
                    .param
                    .as_deref()
                    .filter(|p| {
                        p.len() <= 64
                            && p.bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"_[].".contains(&b))
                    })
                    .unwrap_or("input");
                let message = if error.code.as_deref() == Some("resource_missing") {
                    "no such object at the payment provider"
                } else {
                    "the payment provider refused this request as invalid"
                };
                ApiError::invalid_input(field, message)
            }
            StripeError::RateLimited => ApiError::RateLimited {
                retry_after_secs: None,
            },
            StripeError::NotSent(_)
            | StripeError::Server { .. }
            | StripeError::OutcomeUnknown(_) => {
                tracing::warn!(error = ?anyhow::Error::from(e), "Stripe unavailable");
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
        let card =
            StripeError::from_status(402, Some(err("card_error", Some("card_declined"), None)));
        assert!(matches!(card, StripeError::Card(_)));
        // Older emulators say invalid_request_error with HTTP 402: still a card error.
        let legacy = StripeError::from_status(
            402,
            Some(err("invalid_request_error", Some("card_declined"), None)),
        );
        assert!(matches!(legacy, StripeError::Card(_)));
        let idem = StripeError::from_status(400, Some(err("idempotency_error", None, None)));
        assert!(matches!(idem, StripeError::Idempotency(_)));
        assert!(matches!(
            StripeError::from_status(429, None),
            StripeError::RateLimited
        ));
        assert!(matches!(
            StripeError::from_status(401, None),
            StripeError::Authentication(401)
        ));
        let server = StripeError::from_status(503, None);
        assert!(server.outcome_unknown() && server.is_retryable());
        let missing = StripeError::from_status(
            404,
            Some(err("invalid_request_error", Some("resource_missing"), None)),
        );
        assert!(missing.is_not_found() && !missing.is_retryable());
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
        let unavailable = ApiError::from(StripeError::from_status(503, None));
        assert_eq!(unavailable.code(), ErrorCode::StripeUnavailable);
        let invalid = ApiError::from(StripeError::from_status(
            400,
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
