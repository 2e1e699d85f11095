//! Logs and traces. Logs: `RUST_LOG` filter (default `info`), pretty or JSON lines by
//! `LOG_FORMAT`. Traces (`otlp`, `spans`): Tollgate's own `tracing` spans exported over OTLP
//! when an endpoint is configured (`config::OtelConfig`): one trace per HTTP request named by
//! its GraphQL operation, with a child span per Stripe call, per database transaction and per
//! statement, and a webhook's trace carried from receipt through the worker to the live
//! publish. No spans per GraphQL field: a page of 100 payments would be thousands.

pub mod otlp;
pub mod spans;

use std::sync::atomic::{AtomicBool, Ordering};

use tracing::Level;
use tracing_subscriber::{
    filter::Targets, fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer,
};

use crate::config::{LogFormat, OtelConfig};

/// Whether spans are being exported (set once by `init`): without it nothing computes trace
/// contexts, stores `traceparent`s or times statements for spans.
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// True once `init` installed the OTLP exporter.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// What `init` set up; `shutdown` flushes the spans still queued (call it before exiting).
#[must_use = "call shutdown() before the process exits, or the last spans are lost"]
pub struct Telemetry {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Telemetry {
    /// Exports what is queued and stops the exporter (waits up to its timeout).
    pub fn shutdown(self) {
        if let Some(provider) = self.provider {
            if let Err(e) = provider.shutdown() {
                eprintln!("tollgate: flushing traces: {e}");
            }
        }
    }
}

/// Installs the global subscriber, and the OTLP exporter when `otel` says where. Calling it
/// twice is harmless (the second call does nothing), so tests may call it freely. Traces see
/// Tollgate's own spans at `info` whatever `RUST_LOG` says: quieter logs must not cut traces.
pub fn init(format: LogFormat, otel: Option<&OtelConfig>) -> Telemetry {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let provider = match otel.map(otlp::provider) {
        Some(Ok(provider)) => Some(provider),
        Some(Err(e)) => {
            eprintln!("tollgate: traces are not exported: {e:#}");
            None
        }
        None => None,
    };
    let traces = provider.as_ref().map(|provider| {
        use opentelemetry::trace::TracerProvider as _;
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("tollgate"))
            .with_tracked_inactivity(false)
            .with_filter(Targets::new().with_target("tollgate", Level::INFO))
    });
    let registry = tracing_subscriber::registry().with(traces);
    let result = match format {
        LogFormat::Pretty => registry
            .with(
                fmt::layer()
                    .compact()
                    .with_writer(std::io::stderr)
                    .with_filter(filter),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_writer(std::io::stderr)
                    .with_filter(filter),
            )
            .try_init(),
    };
    match (result, provider) {
        (Ok(()), Some(provider)) => {
            opentelemetry::global::set_text_map_propagator(
                opentelemetry_sdk::propagation::TraceContextPropagator::new(),
            );
            opentelemetry::global::set_tracer_provider(provider.clone());
            EXPORTING.store(true, Ordering::Relaxed);
            Telemetry {
                provider: Some(provider),
            }
        }
        // Already initialised (tests): keep the first subscriber.
        _ => Telemetry { provider: None },
    }
}
