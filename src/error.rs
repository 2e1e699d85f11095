//! The errors users see. Every expected failure carries a stable `code` (DESIGN.md §6) in GraphQL
//! `extensions`; internal causes are logged with their whole chain and reach clients only as
//! `INTERNAL`.

use async_graphql::ErrorExtensions;

/// The fixed list of error codes clients may rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    InvalidInput,
    InvalidAmount,
    CardDeclined,
    InsufficientFunds,
    AuthenticationRequired,
    RefundExceedsPayment,
    NotRefundable,
    IdempotencyKeyReused,
    StripeUnavailable,
    RateLimited,
    Internal,
    /// The query would do more work than allowed (cost, depth, page size, aliases).
    QueryTooComplex,
    /// The request body is not a GraphQL document that parses.
    GraphqlParseFailed,
    /// The document does not fit the schema, or its variables do not fit the operation.
    GraphqlValidationFailed,
    /// The HTTP request itself is malformed (not JSON, no `query`, a batch).
    BadRequest,
    PayloadTooLarge,
    UnsupportedMediaType,
    /// A promotion code that cannot be redeemed here (`reason` says why).
    PromotionCodeInvalid,
    /// The subscription changed since the quote was made; nothing was charged.
    QuoteStale,
    /// The quote is past its `expiresAt`; nothing was charged.
    QuoteExpired,
    /// The viewer already holds a live subscription to this product.
    AlreadySubscribed,
}

impl ErrorCode {
    const ALL: [ErrorCode; 24] = [
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::InvalidInput,
        ErrorCode::InvalidAmount,
        ErrorCode::CardDeclined,
        ErrorCode::InsufficientFunds,
        ErrorCode::AuthenticationRequired,
        ErrorCode::RefundExceedsPayment,
        ErrorCode::NotRefundable,
        ErrorCode::IdempotencyKeyReused,
        ErrorCode::StripeUnavailable,
        ErrorCode::RateLimited,
        ErrorCode::Internal,
        ErrorCode::QueryTooComplex,
        ErrorCode::GraphqlParseFailed,
        ErrorCode::GraphqlValidationFailed,
        ErrorCode::BadRequest,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::PromotionCodeInvalid,
        ErrorCode::QuoteStale,
        ErrorCode::QuoteExpired,
        ErrorCode::AlreadySubscribed,
    ];

    pub fn parse(code: &str) -> Option<ErrorCode> {
        Self::ALL.into_iter().find(|c| c.as_str() == code)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::InvalidInput => "INVALID_INPUT",
            ErrorCode::InvalidAmount => "INVALID_AMOUNT",
            ErrorCode::CardDeclined => "CARD_DECLINED",
            ErrorCode::InsufficientFunds => "INSUFFICIENT_FUNDS",
            ErrorCode::AuthenticationRequired => "AUTHENTICATION_REQUIRED",
            ErrorCode::RefundExceedsPayment => "REFUND_EXCEEDS_PAYMENT",
            ErrorCode::NotRefundable => "NOT_REFUNDABLE",
            ErrorCode::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            ErrorCode::StripeUnavailable => "STRIPE_UNAVAILABLE",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::QueryTooComplex => "QUERY_TOO_COMPLEX",
            ErrorCode::GraphqlParseFailed => "GRAPHQL_PARSE_FAILED",
            ErrorCode::GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ErrorCode::PromotionCodeInvalid => "PROMOTION_CODE_INVALID",
            ErrorCode::QuoteStale => "QUOTE_STALE",
            ErrorCode::QuoteExpired => "QUOTE_EXPIRED",
            ErrorCode::AlreadySubscribed => "ALREADY_SUBSCRIBED",
        }
    }
}

/// An error at the API boundary (GraphQL resolvers and the billing functions they call).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("authentication required")]
    Unauthenticated,
    /// A token was sent but is not valid (expired, forged, for another audience).
    #[error("invalid or expired token")]
    InvalidToken,
    #[error("you are not allowed to do this")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{field}: {message}")]
    InvalidInput { field: String, message: String },
    #[error("{field}: {message}")]
    InvalidAmount { field: String, message: String },
    /// A card error reported by Stripe; `code` is one of the card codes above.
    #[error("{message}")]
    Card {
        code: ErrorCode,
        decline_code: Option<String>,
        stripe_code: Option<String>,
        message: String,
    },
    #[error("the refund exceeds what is left to refund ({remaining} minor units)")]
    RefundExceedsPayment { remaining: i64 },
    #[error("{0}")]
    NotRefundable(String),
    #[error("this idempotency key was already used with a different request")]
    IdempotencyKeyReused,
    #[error("the payment provider is unavailable; try again later")]
    StripeUnavailable,
    /// Ours (per IP, user or mutation), or Stripe's 429 passed on (no wait known).
    #[error("too many requests; slow down")]
    RateLimited { retry_after_secs: Option<u64> },
    /// The stored outcome of an earlier request with the same idempotency key.
    #[error("{message}")]
    Replayed { code: ErrorCode, message: String },
    /// Stripe refused the request as invalid (a 4xx other than a card error): for clients
    /// `INVALID_INPUT` with a fixed sentence naming the parameter; what Stripe said (its code,
    /// param and message) stays in `detail`, for operators.
    #[error("{field}: {}", if .missing.is_some() { "no such object at the payment provider" } else { "the payment provider refused this request as invalid" })]
    StripeRefused {
        field: String,
        /// For a 404 or `resource_missing`: the object Stripe does not have
        /// (`payment_intent pi_…`).
        missing: Option<String>,
        detail: String,
    },
    /// A promotion code refused before anything was charged.
    #[error("{}", .0.message())]
    PromotionCodeInvalid(crate::billing::discounts::Refusal),
    /// A quote whose subscription moved (another change, a renewal, a cancel) since it was
    /// made; the words say what moved.
    #[error("the subscription changed since this quote was made ({0}); ask for a new quote")]
    QuoteStale(String),
    #[error("this quote has expired; ask for a new quote")]
    QuoteExpired,
    /// The viewer holds (or is creating right now) a live subscription to the product.
    #[error("you already subscribe to this product")]
    AlreadySubscribed { subscription_id: Option<uuid::Uuid> },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Unauthenticated | ApiError::InvalidToken => ErrorCode::Unauthenticated,
            ApiError::Forbidden => ErrorCode::Forbidden,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::InvalidInput { .. } | ApiError::StripeRefused { .. } => {
                ErrorCode::InvalidInput
            }
            ApiError::InvalidAmount { .. } => ErrorCode::InvalidAmount,
            ApiError::Card { code, .. } => *code,
            ApiError::RefundExceedsPayment { .. } => ErrorCode::RefundExceedsPayment,
            ApiError::NotRefundable(_) => ErrorCode::NotRefundable,
            ApiError::IdempotencyKeyReused => ErrorCode::IdempotencyKeyReused,
            ApiError::StripeUnavailable => ErrorCode::StripeUnavailable,
            ApiError::RateLimited { .. } => ErrorCode::RateLimited,
            ApiError::Replayed { code, .. } => *code,
            ApiError::PromotionCodeInvalid(_) => ErrorCode::PromotionCodeInvalid,
            ApiError::QuoteStale(_) => ErrorCode::QuoteStale,
            ApiError::QuoteExpired => ErrorCode::QuoteExpired,
            ApiError::AlreadySubscribed { .. } => ErrorCode::AlreadySubscribed,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Whether the error is a settled fact about the request (a decline, a refused refund,
    /// invalid input) that an idempotent retry should get again, rather than a transient
    /// failure it may get past.
    pub fn is_final_outcome(&self) -> bool {
        matches!(
            self,
            ApiError::Card { .. }
                | ApiError::RefundExceedsPayment { .. }
                | ApiError::NotRefundable(_)
                | ApiError::InvalidAmount { .. }
                | ApiError::InvalidInput { .. }
                | ApiError::StripeRefused { .. }
                | ApiError::NotFound(_)
                | ApiError::Forbidden
                | ApiError::Replayed { .. }
                | ApiError::PromotionCodeInvalid(_)
                | ApiError::QuoteStale(_)
                | ApiError::QuoteExpired
                // Held by a subscription: a fact. Held by another attempt right now: passes.
                | ApiError::AlreadySubscribed {
                    subscription_id: Some(_)
                }
        )
    }

    pub fn invalid_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::InvalidInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A money input that does not parse: a bad currency is `INVALID_INPUT`, a bad amount
    /// `INVALID_AMOUNT`.
    pub fn money(field: &str, err: crate::money::MoneyError) -> Self {
        use crate::money::MoneyError;
        match err {
            MoneyError::InvalidCurrency | MoneyError::UnsupportedCurrency(_) => {
                ApiError::invalid_input(field, err.to_string())
            }
            _ => ApiError::InvalidAmount {
                field: field.into(),
                message: err.to_string(),
            },
        }
    }

    /// A client's value that is not a Stripe id of the kind the field expects.
    pub fn bad_id(field: impl Into<String>, err: crate::stripe::ids::IdError) -> Self {
        ApiError::invalid_input(field, err.to_string())
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(err.into())
    }

    /// What went wrong, for operators (logs, a parked webhook's `lastError`): an internal
    /// cause's whole chain, Stripe's own code, param and message; otherwise what clients see.
    pub fn operator_detail(&self) -> String {
        match self {
            ApiError::Internal(cause) => format!("{cause:#}"),
            ApiError::StripeRefused { detail, .. } => detail.clone(),
            other => other.to_string(),
        }
    }

    /// The GraphQL error clients receive. Internal causes are logged here, once, with the
    /// current span (which carries the request id), and replaced by a bare `INTERNAL`.
    pub fn to_graphql(&self) -> async_graphql::Error {
        let code = self.code().as_str();
        if let ApiError::Internal(cause) = self {
            tracing::error!(error = %format_args!("{cause:#}"), "internal error");
        }
        let message = self.to_string();
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", code);
            match self {
                ApiError::InvalidInput { field, .. }
                | ApiError::InvalidAmount { field, .. }
                | ApiError::StripeRefused { field, .. } => {
                    ext.set("field", field.as_str());
                }
                ApiError::Card {
                    decline_code,
                    stripe_code,
                    ..
                } => {
                    if let Some(d) = decline_code {
                        ext.set("declineCode", d.as_str());
                    }
                    if let Some(s) = stripe_code {
                        ext.set("stripeCode", s.as_str());
                    }
                }
                ApiError::RefundExceedsPayment { remaining } => {
                    ext.set("remainingMinorUnits", remaining.to_string());
                }
                ApiError::RateLimited {
                    retry_after_secs: Some(secs),
                } => {
                    ext.set("retryAfter", *secs);
                }
                ApiError::PromotionCodeInvalid(refusal) => {
                    ext.set("field", "promotionCode");
                    ext.set("reason", refusal.as_str());
                }
                ApiError::AlreadySubscribed {
                    subscription_id: Some(id),
                } => {
                    ext.set("subscriptionId", id.to_string());
                }
                _ => {}
            }
        })
    }
}

/// A request refused at the HTTP edge (before any GraphQL runs), as a GraphQL-shaped body
/// with a status, a stable `code` and, for rate limits, `Retry-After`.
pub struct EdgeError {
    status: axum::http::StatusCode,
    code: ErrorCode,
    message: String,
    retry_after: Option<u64>,
}

impl EdgeError {
    pub fn new(
        status: axum::http::StatusCode,
        code: ErrorCode,
        message: impl Into<String>,
    ) -> Self {
        EdgeError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn rate_limited(limited: crate::rate_limit::Limited) -> Self {
        let secs = limited.retry_after_secs();
        EdgeError {
            retry_after: Some(secs),
            ..EdgeError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                "too many requests; slow down",
            )
        }
    }

    /// An `ApiError` refused at the edge, with its code and message.
    pub fn api(status: axum::http::StatusCode, err: &ApiError) -> Self {
        EdgeError::new(status, err.code(), err.to_string())
    }

    pub fn unauthenticated() -> Self {
        EdgeError::api(
            axum::http::StatusCode::UNAUTHORIZED,
            &ApiError::InvalidToken,
        )
    }
}

impl axum::response::IntoResponse for EdgeError {
    fn into_response(self) -> axum::response::Response {
        let mut extensions = serde_json::json!({ "code": self.code.as_str() });
        if let Some(secs) = self.retry_after {
            extensions["retryAfter"] = serde_json::json!(secs);
        }
        let body = serde_json::json!({ "errors": [{ "message": self.message, "extensions": extensions }] });
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs),
            );
        }
        if self.status == axum::http::StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// What resolvers return on failure. It deliberately does not implement `Display`: async-graphql
/// turns any `Display` error into a bare message, so `?` on an `ApiError` in a resolver
/// returning `async_graphql::Result` would silently drop the `code`. Going through `GqlError`
/// keeps the extensions.
#[derive(Clone)]
pub struct GqlError(async_graphql::Error);

pub type GqlResult<T> = Result<T, GqlError>;

impl From<ApiError> for GqlError {
    fn from(e: ApiError) -> Self {
        GqlError(e.to_graphql())
    }
}

impl From<std::sync::Arc<ApiError>> for GqlError {
    fn from(e: std::sync::Arc<ApiError>) -> Self {
        GqlError(e.to_graphql())
    }
}

impl From<sea_orm::DbErr> for GqlError {
    fn from(e: sea_orm::DbErr) -> Self {
        ApiError::from(e).into()
    }
}

impl From<GqlError> for async_graphql::Error {
    fn from(e: GqlError) -> Self {
        e.0
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        ApiError::Internal(e.into())
    }
}

/// Which unique constraint a database error violated, if any, by table and column, so callers
/// turn a race into a typed outcome instead of string-matching at each call site. PostgreSQL
/// names inline unique constraints `<table>_<column>_key`; SQLite reports `table.column`.
pub fn unique_violation_on(err: &sea_orm::DbErr, table: &str, column: &str) -> bool {
    match err.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(detail)) => {
            detail.contains(&format!("{table}_{column}_key"))
                || detail.contains(&format!("{table}.{column}"))
        }
        _ => false,
    }
}

/// Whether the error is any unique-constraint violation.
pub fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(e: ApiError) -> (String, serde_json::Value) {
        let gql = e.to_graphql();
        let value = serde_json::to_value(
            gql.extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .cloned()
                .unwrap_or(async_graphql::Value::Null),
        )
        .expect("serialises");
        let full = serde_json::to_value(gql.extensions.unwrap_or_default()).expect("ser");
        (value.as_str().unwrap_or_default().to_string(), full)
    }

    #[test]
    fn codes_are_stable() {
        let cases = [
            (ApiError::Unauthenticated, "UNAUTHENTICATED"),
            (ApiError::Forbidden, "FORBIDDEN"),
            (ApiError::NotFound("payment"), "NOT_FOUND"),
            (ApiError::invalid_input("first", "too big"), "INVALID_INPUT"),
            (
                ApiError::InvalidAmount {
                    field: "amount".into(),
                    message: "x".into(),
                },
                "INVALID_AMOUNT",
            ),
            (
                ApiError::RefundExceedsPayment { remaining: 5 },
                "REFUND_EXCEEDS_PAYMENT",
            ),
            (ApiError::NotRefundable("failed".into()), "NOT_REFUNDABLE"),
            (ApiError::IdempotencyKeyReused, "IDEMPOTENCY_KEY_REUSED"),
            (ApiError::StripeUnavailable, "STRIPE_UNAVAILABLE"),
            (
                ApiError::RateLimited {
                    retry_after_secs: Some(3),
                },
                "RATE_LIMITED",
            ),
        ];
        for (err, code) in cases {
            assert_eq!(ext(err).0, code);
        }
    }

    #[test]
    fn card_errors_carry_decline_code() {
        let (code, full) = ext(ApiError::Card {
            code: ErrorCode::InsufficientFunds,
            decline_code: Some("insufficient_funds".into()),
            stripe_code: Some("card_declined".into()),
            message: "Your card has insufficient funds.".into(),
        });
        assert_eq!(code, "INSUFFICIENT_FUNDS");
        assert_eq!(full["declineCode"], "insufficient_funds");
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let cause = anyhow::anyhow!("relation \"payments\" does not exist; password=hunter2");
        let gql = ApiError::internal(cause).to_graphql();
        assert_eq!(gql.message, "internal error");
        let full = serde_json::to_string(&gql.extensions).expect("ser");
        assert!(
            !full.contains("hunter2") && !full.contains("relation"),
            "{full}"
        );
        assert!(full.contains("INTERNAL"));
    }
}
