//! The one guard every GraphQL operation passes, whichever door it came through: `POST` and
//! `GET /graphql`, graphql-transport-ws and the legacy subscriptions-transport-ws protocol.
//! Each door only translates its wire format into a credential and a `Request`; this module
//! decides who the viewer is, which limits apply, and what may run:
//!
//! - the viewer: a bearer credential verified by `auth` (the same function for a header and a
//!   WebSocket's `connection_init`);
//! - the per-user limit, charged once per operation;
//! - the document: size, nesting, parse, cost (`executor::GuardedSchema::check`), for the
//!   operation `operationName` selects, not the first one in the text;
//! - mutations only over `POST` (`GET` must not change anything; a WebSocket would bypass the
//!   per-request limits of `POST`), and then within the per-user mutation limit, counted by
//!   root fields; queries that ask Stripe (`STRIPE_BACKED_QUERIES`) are charged to that limit
//!   too, one per alias.
//!
//! What is per connection (the operation cap, message size and init timeout of WebSockets)
//! lives with the connection in `ws`, the same for both protocols.

use async_graphql::{parser::types::OperationType, Request};

use super::{
    edge::GraphqlEdge,
    executor::{Checked, Refused},
};
use crate::{
    auth::{AuthError, Viewer},
    error::ErrorCode,
    rate_limit::Limited,
};

/// Query fields that call Stripe each time they run; rate-limited like mutations (by alias).
pub const STRIPE_BACKED_QUERIES: [&str; 2] = ["checkPromotionCode", "previewSubscriptionChange"];

/// How an operation reached the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    HttpPost,
    HttpGet,
    WebSocket,
}

/// Why an operation may not run.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// Over a rate limit: HTTP answers 429 with `Retry-After`, a WebSocket an `error`.
    RateLimited(Limited),
    /// A mutation sent with `GET`: HTTP 405 with `Allow: POST`.
    MutationOverGet,
    /// Refused as a GraphQL request error with its code (document, cost, a mutation over a
    /// WebSocket).
    Refused(Refused),
}

impl Refusal {
    /// As a GraphQL request error, for transports without HTTP statuses.
    pub fn into_refused(self) -> Refused {
        match self {
            Refusal::RateLimited(_) => {
                Refused::new(ErrorCode::RateLimited, "too many requests; try again later")
            }
            Refusal::MutationOverGet => {
                Refused::new(ErrorCode::BadRequest, "mutations are sent with POST")
            }
            Refusal::Refused(refused) => refused,
        }
    }
}

impl From<Refused> for Refusal {
    fn from(refused: Refused) -> Self {
        Refusal::Refused(refused)
    }
}

impl GraphqlEdge {
    /// The viewer of an `Authorization`-style credential (`Bearer <token>`); `Ok(None)` without
    /// one. Every door names its viewer through this.
    pub fn viewer_of(&self, credential: Option<&str>) -> Result<Option<Viewer>, AuthError> {
        self.auth.from_header(credential)
    }

    /// Checks `request` from `viewer` arriving through `door`, charging its limits; what it
    /// returns may run.
    pub fn admit(
        &self,
        door: Door,
        viewer: Option<&Viewer>,
        request: Request,
    ) -> Result<Checked, Refusal> {
        if let Some(v) = viewer {
            self.rate_limits
                .user(&v.user_id)
                .map_err(Refusal::RateLimited)?;
        }
        let checked = self.executor.check(request)?;
        if door != Door::WebSocket {
            // A socket's span is the whole session; one request's span is this operation's.
            crate::telemetry::spans::name_operation(&checked.analysis);
        }
        // Queries that ask Stripe (a code check, a quote) cost what a mutation costs: at the
        // query rate one user could spend the merchant's whole Stripe rate limit.
        let asks_stripe = checked
            .analysis
            .root_keys
            .iter()
            .filter(|(_, field)| STRIPE_BACKED_QUERIES.contains(&field.as_str()))
            .count();
        if checked.analysis.operation_type == OperationType::Query && asks_stripe > 0 {
            if let Some(v) = viewer {
                self.rate_limits
                    .mutations(&v.user_id, asks_stripe)
                    .map_err(Refusal::RateLimited)?;
            }
        }
        if checked.analysis.operation_type == OperationType::Mutation {
            match door {
                Door::HttpPost => {}
                Door::HttpGet => return Err(Refusal::MutationOverGet),
                Door::WebSocket => {
                    return Err(Refusal::Refused(Refused::new(
                        ErrorCode::BadRequest,
                        "send mutations with POST /graphql",
                    )))
                }
            }
            if let Some(v) = viewer {
                self.rate_limits
                    .mutations(&v.user_id, checked.analysis.root_fields)
                    .map_err(Refusal::RateLimited)?;
            }
        }
        Ok(checked)
    }
}
