//! The OTLP/HTTP span exporter. The SDK's batch processor exports from a thread of its own,
//! outside tokio, so its HTTP client is Tollgate's reqwest in blocking mode: the same TLS
//! stack as the Stripe client, and no second HTTP library in the binary.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::{
    trace::{Sampler as SdkSampler, SdkTracerProvider},
    Resource,
};

use crate::config::{OtelConfig, OtlpProtocol, ParentlessSampler, Sampler};

/// The tracer provider for `config`: batched export, the configured sampler, and the
/// resource every span carries (service name and version, this process's instance id).
pub fn provider(config: &OtelConfig) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(BlockingClient::new()?)
        .with_endpoint(config.traces_endpoint.clone())
        .with_protocol(match config.protocol {
            OtlpProtocol::HttpProtobuf => Protocol::HttpBinary,
            OtlpProtocol::HttpJson => Protocol::HttpJson,
        })
        .build()?;
    let resource = Resource::builder()
        .with_service_name(config.service_name.clone())
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .with_attribute(KeyValue::new(
            "service.instance.id",
            uuid::Uuid::new_v4().to_string(),
        ))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(sampler(config.sampler))
        .with_resource(resource)
        .build())
}

fn sampler(sampler: Sampler) -> SdkSampler {
    match sampler {
        Sampler::AlwaysOn => SdkSampler::AlwaysOn,
        Sampler::AlwaysOff => SdkSampler::AlwaysOff,
        Sampler::Ratio(r) => SdkSampler::TraceIdRatioBased(r),
        Sampler::ParentBased(root) => SdkSampler::ParentBased(Box::new(match root {
            ParentlessSampler::AlwaysOn => SdkSampler::AlwaysOn,
            ParentlessSampler::AlwaysOff => SdkSampler::AlwaysOff,
            ParentlessSampler::Ratio(r) => SdkSampler::TraceIdRatioBased(r),
        })),
    }
}

/// reqwest's blocking client as the exporter's `HttpClient`.
#[derive(Debug)]
struct BlockingClient(reqwest::blocking::Client);

impl BlockingClient {
    fn new() -> anyhow::Result<Self> {
        // Built (and later dropped, with the exporter) off the async runtime: the blocking
        // client runs a runtime of its own, which may not be created inside another.
        let client = std::thread::spawn(|| {
            reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
        })
        .join()
        .map_err(|_| anyhow::anyhow!("building the OTLP HTTP client panicked"))??;
        Ok(BlockingClient(client))
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for BlockingClient {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let (parts, body) = request.into_parts();
        let response = self
            .0
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body.to_vec())
            .send()?;
        let mut answer = http::Response::builder().status(response.status());
        if let Some(headers) = answer.headers_mut() {
            *headers = response.headers().clone();
        }
        Ok(answer.body(response.bytes()?)?)
    }
}
