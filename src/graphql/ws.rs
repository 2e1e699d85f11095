//! GraphQL over WebSocket at `/graphql/ws`, in both protocols clients speak: graphql-transport-ws
//! (the `graphql-ws` library: GraphiQL, Apollo, urql, Relay) and the older
//! subscriptions-transport-ws (subprotocol `graphql-ws`, Apollo's `SubscriptionClient`, still
//! in use).
//!
//! Both are implemented here rather than by async-graphql's `GraphQLWebSocket` because a
//! WebSocket is a door like any other: its operations must pass the same guard as `POST
//! /graphql` (`guard`: viewer, per-user and mutation limits, mutations refused, the document
//! checks), and a connection needs bounds of its own that async-graphql's handler does not
//! have: an init timeout, at most [`MAX_OPERATIONS`] operations, the session ending with its
//! token, close codes clients act on. Served by async-graphql, the legacy protocol once let
//! mutations through past the rate limits and held 10,000 operations on one socket.
//!
//! - `protocol`: the two wire formats, read into and written from one set of messages;
//! - `session`: one connection, the same for both.

mod protocol;
mod session;

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, State, WebSocketUpgrade},
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
};

pub use protocol::{Close, Protocol, LEGACY, TRANSPORT_WS};

use super::edge::{client_ip, Edge};
use crate::error::EdgeError;

/// The subprotocol name of the `graphql-ws` library's protocol.
pub const PROTOCOL: &str = TRANSPORT_WS;
/// Largest message accepted (a subscription document is small; the HTTP limit is for bodies).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Operations one connection may run at once.
pub const MAX_OPERATIONS: usize = 64;

/// `GET /graphql/ws`: the upgrade, within the per-address limit, in the protocol the client
/// offers. The token comes in `connection_init`, since browsers cannot set headers on
/// WebSockets.
pub async fn upgrade(
    State(edge): State<Edge>,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let ip = client_ip(
        &headers,
        connect.map(|c| c.0 .0),
        edge.http.trusted_proxy_hops,
    );
    if let Err(limited) = edge.rate_limits.ip(ip) {
        return EdgeError::rate_limited(limited).into_response();
    }
    let offered = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim);
    let protocol = Protocol::negotiate(offered);
    upgrade
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .protocols([protocol.subprotocol()])
        .on_upgrade(move |socket| session::serve(socket, edge, protocol))
}
