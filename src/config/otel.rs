//! Trace export, read from OpenTelemetry's standard variables (the names every SDK and
//! collector documents), so an operator configures Tollgate as any other service. Off unless
//! an OTLP endpoint is set. Only OTLP over HTTP is built in (protobuf or JSON); headers and
//! the export timeout (`OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT` and their
//! `_TRACES_` forms) are read by the exporter itself.

use super::{boolean, var, ConfigError, Source};

/// Where and how traces are exported.
#[derive(Debug, Clone, PartialEq)]
pub struct OtelConfig {
    /// The traces URL, e.g. `http://collector:4318/v1/traces`.
    pub traces_endpoint: String,
    pub protocol: OtlpProtocol,
    /// `service.name` of every span (`OTEL_SERVICE_NAME`, default `tollgate`).
    pub service_name: String,
    pub sampler: Sampler,
}

/// `OTEL_EXPORTER_OTLP_PROTOCOL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// `http/protobuf`, the specification's default.
    HttpProtobuf,
    /// `http/json`.
    HttpJson,
}

/// `OTEL_TRACES_SAMPLER` with `OTEL_TRACES_SAMPLER_ARG`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampler {
    AlwaysOn,
    AlwaysOff,
    /// This share of new traces (0..=1).
    Ratio(f64),
    /// As the caller's `traceparent` decided; new traces by the inner sampler.
    ParentBased(ParentlessSampler),
}

/// What a parent-based sampler does for a trace that starts here.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParentlessSampler {
    AlwaysOn,
    AlwaysOff,
    Ratio(f64),
}

impl OtelConfig {
    /// None when tracing is off: no endpoint set, `OTEL_SDK_DISABLED=true`, or
    /// `OTEL_TRACES_EXPORTER=none`.
    pub fn load(src: &dyn Source) -> Result<Option<Self>, ConfigError> {
        if boolean(src, "OTEL_SDK_DISABLED", false)? {
            return Ok(None);
        }
        match var(src, "OTEL_TRACES_EXPORTER").as_deref() {
            None | Some("otlp") => {}
            Some("none") => return Ok(None),
            Some(other) => {
                return Err(ConfigError::invalid(
                    "OTEL_TRACES_EXPORTER",
                    format!("`{other}`: only `otlp` and `none` are built in"),
                ))
            }
        }
        let traces_endpoint = match (
            var(src, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            var(src, "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ) {
            // The signal's own variable is the whole URL; the general one is a base the
            // signal's path is added to (the OTLP exporter specification).
            (Some(url), _) => checked_url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url)?,
            (None, Some(base)) => {
                let base = checked_url("OTEL_EXPORTER_OTLP_ENDPOINT", base)?;
                format!("{}/v1/traces", base.trim_end_matches('/'))
            }
            (None, None) => return Ok(None),
        };
        let (protocol_var, protocol) = match var(src, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") {
            Some(p) => ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", Some(p)),
            None => (
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                var(src, "OTEL_EXPORTER_OTLP_PROTOCOL"),
            ),
        };
        let protocol = match protocol.as_deref() {
            None | Some("http/protobuf") => OtlpProtocol::HttpProtobuf,
            Some("http/json") => OtlpProtocol::HttpJson,
            Some("grpc") => {
                return Err(ConfigError::invalid(
                    protocol_var,
                    "grpc is not built in: use http/protobuf (a collector's port 4318)",
                ))
            }
            Some(other) => {
                return Err(ConfigError::invalid(
                    protocol_var,
                    format!("`{other}` is not http/protobuf or http/json"),
                ))
            }
        };
        Ok(Some(OtelConfig {
            traces_endpoint,
            protocol,
            service_name: var(src, "OTEL_SERVICE_NAME").unwrap_or_else(|| "tollgate".into()),
            sampler: sampler(src)?,
        }))
    }
}

fn checked_url(name: &'static str, url: String) -> Result<String, ConfigError> {
    match reqwest::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(url),
        Ok(_) => Err(ConfigError::invalid(name, "expected an http(s) URL")),
        Err(e) => Err(ConfigError::invalid(name, e)),
    }
}

fn sampler(src: &dyn Source) -> Result<Sampler, ConfigError> {
    let ratio = || -> Result<f64, ConfigError> {
        match var(src, "OTEL_TRACES_SAMPLER_ARG") {
            None => Ok(1.0),
            Some(v) => match v.parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
                _ => Err(ConfigError::invalid(
                    "OTEL_TRACES_SAMPLER_ARG",
                    "expected a ratio from 0 to 1",
                )),
            },
        }
    };
    Ok(match var(src, "OTEL_TRACES_SAMPLER").as_deref() {
        None | Some("parentbased_always_on") => Sampler::ParentBased(ParentlessSampler::AlwaysOn),
        Some("parentbased_always_off") => Sampler::ParentBased(ParentlessSampler::AlwaysOff),
        Some("parentbased_traceidratio") => {
            Sampler::ParentBased(ParentlessSampler::Ratio(ratio()?))
        }
        Some("always_on") => Sampler::AlwaysOn,
        Some("always_off") => Sampler::AlwaysOff,
        Some("traceidratio") => Sampler::Ratio(ratio()?),
        Some(other) => {
            return Err(ConfigError::invalid(
                "OTEL_TRACES_SAMPLER",
                format!("`{other}` is not one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio"),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Option<OtelConfig>, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        OtelConfig::load(&move |name: &str| map.get(name).cloned())
    }

    #[test]
    fn off_without_an_endpoint_or_when_disabled() {
        assert_eq!(load(&[]).expect("loads"), None);
        let disabled = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_SDK_DISABLED", "true"),
        ];
        assert_eq!(load(&disabled).expect("loads"), None);
        let none = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ];
        assert_eq!(load(&none).expect("loads"), None);
    }

    #[test]
    fn the_general_endpoint_gets_the_signal_path_and_the_signal_endpoint_is_kept() {
        let c = load(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")])
            .expect("loads")
            .expect("on");
        assert_eq!(c.traces_endpoint, "http://collector:4318/v1/traces");
        assert_eq!(c.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(c.service_name, "tollgate");
        assert_eq!(c.sampler, Sampler::ParentBased(ParentlessSampler::AlwaysOn));
        let c = load(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://otlp.example/traces",
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_SERVICE_NAME", "billing-eu"),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ])
        .expect("loads")
        .expect("on");
        assert_eq!(c.traces_endpoint, "https://otlp.example/traces");
        assert_eq!(c.protocol, OtlpProtocol::HttpJson);
        assert_eq!(c.service_name, "billing-eu");
        assert_eq!(
            c.sampler,
            Sampler::ParentBased(ParentlessSampler::Ratio(0.25))
        );
    }

    #[test]
    fn what_is_not_built_in_is_refused_by_name() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317");
        let e = load(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).expect_err("grpc");
        assert_eq!(e.var, "OTEL_EXPORTER_OTLP_PROTOCOL");
        let e = load(&[endpoint, ("OTEL_TRACES_EXPORTER", "zipkin")]).expect_err("zipkin");
        assert_eq!(e.var, "OTEL_TRACES_EXPORTER");
        let e = load(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")]).expect_err("no scheme");
        assert_eq!(e.var, "OTEL_EXPORTER_OTLP_ENDPOINT");
        let e = load(&[
            endpoint,
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "2"),
        ])
        .expect_err("ratio");
        assert_eq!(e.var, "OTEL_TRACES_SAMPLER_ARG");
    }
}
