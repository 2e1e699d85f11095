//! The GraphQL edge: what every door (`http`, `ws`) shares, built once by `app.rs` and handed
//! out by `FromRef`: the schema behind its checks, authentication, rate limits, the services
//! resolvers use; and who the client is (its address, behind trusted proxies).

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

use super::{context::Services, executor::GuardedSchema};
use crate::{auth::Authenticator, config::HttpConfig, rate_limit::RateLimits};

/// What the GraphQL edge uses; `app.rs` builds it once and hands it out with `FromRef`.
pub struct GraphqlEdge {
    pub executor: GuardedSchema,
    pub auth: Authenticator,
    pub rate_limits: RateLimits,
    pub http: HttpConfig,
    pub services: Services,
    /// Turns true when the server starts shutting down: open WebSockets say goodbye.
    pub closing: tokio::sync::watch::Receiver<bool>,
    /// Where GraphiQL's page comes from.
    pub web: crate::web::Web,
}

/// The edge, cheap to clone into every handler.
pub type Edge = std::sync::Arc<GraphqlEdge>;

/// The client's address: the peer, or with `TRUSTED_PROXY_HOPS=n` the address the outermost
/// trusted proxy saw (n-th entry from the right of `X-Forwarded-For`).
pub fn client_ip(headers: &HeaderMap, peer: Option<SocketAddr>, trusted_hops: usize) -> IpAddr {
    let peer_ip = peer.map(|p| p.ip()).unwrap_or(IpAddr::from([0, 0, 0, 0]));
    if trusted_hops == 0 {
        return peer_ip;
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    forwarded
        .len()
        .checked_sub(trusted_hops)
        .and_then(|i| forwarded.get(i))
        .and_then(|s| s.parse().ok())
        .unwrap_or(peer_ip)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    #[test]
    fn forwarded_for_is_trusted_only_as_far_as_configured() {
        let peer = Some(SocketAddr::from(([10, 0, 0, 9], 4000)));
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 1.2.3.4")]);
        assert_eq!(client_ip(&h, peer, 0), IpAddr::from([10, 0, 0, 9]));
        assert_eq!(client_ip(&h, peer, 1), IpAddr::from([1, 2, 3, 4]));
        assert_eq!(client_ip(&h, peer, 2), IpAddr::from([6, 6, 6, 6]));
        assert_eq!(client_ip(&h, peer, 3), IpAddr::from([10, 0, 0, 9]));
        let junk = headers(&[("x-forwarded-for", "<script>")]);
        assert_eq!(client_ip(&junk, peer, 1), IpAddr::from([10, 0, 0, 9]));
    }
}
