//! `POST /webhooks/stripe`: verify the signature on the raw body, store the event by Stripe's
//! id (a redelivery is a no-op), answer 2xx at once. Applying events is the worker's job.

pub mod handlers;
pub mod intake;
pub mod signature;
pub mod store;
pub mod worker;

use std::{sync::Arc, time::Duration};
use tracing::Instrument;

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use chrono::Utc;
use serde_json::json;

use tokio::sync::Notify;

use crate::{config::Secret, stripe::objects};

/// What `POST /webhooks/stripe` uses: the app hands it over by `FromRef`.
#[derive(Clone)]
pub struct Receiver {
    /// Any of these may have signed a delivery (secret rotation).
    pub secrets: Arc<[Secret]>,
    /// How old (or how far in the future) a signature's timestamp may be.
    pub tolerance: Duration,
    /// Stores verified deliveries, many per commit.
    pub intake: Arc<intake::Intake>,
    /// Rung when an event is stored, so the worker need not poll quickly.
    pub wakeup: Arc<Notify>,
}

/// Largest body accepted; Stripe's events are far smaller. Checked before any HMAC work.
pub const MAX_BODY_BYTES: usize = 512 * 1024;

/// A delivery refused: its status and a short fixed reason (nothing the sender wrote).
struct Rejected(StatusCode, String);

impl IntoResponse for Rejected {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn reject(status: StatusCode, reason: &str) -> Rejected {
    Rejected(status, reason.to_owned())
}

/// The event's id and type are stored, indexed and logged: they must look like Stripe's,
/// whatever a signed body says (a leaked secret must not let anyone store 100 KB ids).
pub fn check_envelope(event: &objects::Event) -> Result<(), &'static str> {
    check_id_and_type(&event.id, &event.kind)
}

fn check_id_and_type(id: &str, kind: &str) -> Result<(), &'static str> {
    crate::stripe::ids::EventId::parse(id).map_err(|_| "the event id is not a Stripe event id")?;
    let type_ok = !kind.is_empty()
        && kind.len() <= MAX_EVENT_TYPE_LEN
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
    if !type_ok {
        return Err("the event type is not a Stripe event type");
    }
    Ok(())
}

/// Longest event type accepted; Stripe's longest are about 60 characters.
const MAX_EVENT_TYPE_LEN: usize = 100;

/// What intake reads of an event: the envelope. `data.object` must be there (as in
/// `objects::Event`) but is only skipped over; the worker reads it later from the stored body.
#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    created: i64,
    #[allow(dead_code)]
    data: EnvelopeData,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    livemode: bool,
}

#[derive(serde::Deserialize)]
struct EnvelopeData {
    #[allow(dead_code)]
    object: serde::de::IgnoredAny,
}

/// `POST /webhooks/stripe`: verified, its envelope read, stored; 2xx only once it is durable.
pub async fn receive(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (text, event) = match verified(&receiver, &headers, &body) {
        Ok(verified) => verified,
        Err(refused) => return refused.into_response(),
    };
    let received_at = Utc::now();
    // The start of the event's trace: the worker that applies it (here or on another replica)
    // continues from the traceparent stored with it.
    let span = tracing::info_span!(
        "webhook.receive",
        otel.name = "webhook receive",
        stripe.event_id = %event.id,
        stripe.event_type = %event.kind,
    );
    let trace_parent = crate::telemetry::spans::traceparent(&span);
    let delivery = intake::Delivery {
        stripe_event_id: event.id.clone().into_owned(),
        event_type: event.kind.clone().into_owned(),
        payload: text.to_owned(),
        api_version: event.api_version.clone(),
        livemode: event.livemode,
        stripe_created_at: objects::timestamp(event.created).unwrap_or(received_at),
        received_at,
        trace_parent,
    };
    match receiver.intake.store(delivery).instrument(span).await {
        Ok(new) => {
            tracing::info!(event_id = %event.id, event_type = %event.kind, duplicate = !new, "webhook stored");
            crate::metrics::webhook_delivery(if new { "received" } else { "duplicate" });
            receiver.wakeup.notify_one();
            (
                StatusCode::OK,
                Json(json!({ "received": true, "duplicate": !new })),
            )
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, event_id = %event.id, "storing webhook failed");
            // Stripe retries non-2xx answers, so nothing is lost.
            reject(
                StatusCode::INTERNAL_SERVER_ERROR,
                "could not store the event",
            )
            .into_response()
        }
    }
}

/// The body as text and its envelope, once its signature verifies and its id and type look
/// like Stripe's; otherwise the answer that refuses it.
fn verified<'b>(
    receiver: &Receiver,
    headers: &HeaderMap,
    body: &'b Bytes,
) -> Result<(&'b str, Envelope<'b>), Rejected> {
    if receiver.secrets.is_empty() {
        tracing::error!("webhook received but STRIPE_WEBHOOK_SECRETS is not set");
        // 503 makes Stripe retry later, once the secret is configured.
        return Err(reject(
            StatusCode::SERVICE_UNAVAILABLE,
            "webhooks are not configured",
        ));
    }
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let now = Utc::now().timestamp();
    if let Err(e) = signature::verify(header, body, &receiver.secrets, receiver.tolerance, now) {
        tracing::warn!(reason = %e, "webhook signature rejected");
        crate::metrics::webhook_delivery("rejected");
        return Err(reject(StatusCode::BAD_REQUEST, &e.to_string()));
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(reject(StatusCode::BAD_REQUEST, "body is not UTF-8"));
    };
    let event: Envelope = serde_json::from_str(text)
        .map_err(|_| reject(StatusCode::BAD_REQUEST, "body is not a Stripe event"))?;
    if let Err(reason) = check_id_and_type(&event.id, &event.kind) {
        tracing::warn!(reason, "webhook envelope rejected");
        crate::metrics::webhook_delivery("rejected");
        return Err(reject(StatusCode::BAD_REQUEST, reason));
    }
    Ok((text, event))
}
