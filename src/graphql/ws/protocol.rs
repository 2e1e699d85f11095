//! The two wire formats of GraphQL over WebSocket, translated to and from one set of messages
//! so that `session` runs both the same way:
//!
//! - `graphql-transport-ws`, the `graphql-ws` library's protocol
//!   (<https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md>): `connection_init`,
//!   `ping`/`pong`, `subscribe`, `next`, `error`, `complete`;
//! - `graphql-ws`, the older subscriptions-transport-ws protocol that Apollo's
//!   `SubscriptionClient` still speaks
//!   (<https://github.com/apollographql/subscriptions-transport-ws/blob/master/PROTOCOL.md>):
//!   `connection_init`, `start`, `data`, `error`, `stop`, `complete`, `connection_terminate`,
//!   `connection_error` and the server's `ka` keep-alive.
//!
//! Close codes are graphql-transport-ws's on both (the older protocol defines none of its own),
//! and reasons are fixed short texts: a control frame carries at most 125 bytes (RFC 6455
//! §5.5), and nothing a client sent is echoed back.

use async_graphql::{Response, ServerError};
use axum::extract::ws::CloseFrame;
use serde::Deserialize;
use serde_json::{json, Value};

/// Which protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `graphql-transport-ws`.
    TransportWs,
    /// `graphql-ws` (subscriptions-transport-ws).
    Legacy,
}

/// The subprotocol name of the `graphql-ws` library's protocol.
pub const TRANSPORT_WS: &str = "graphql-transport-ws";
/// The subprotocol name of subscriptions-transport-ws (confusingly, `graphql-ws`).
pub const LEGACY: &str = "graphql-ws";

/// What a client asked for, whichever protocol carried it.
pub enum Inbound {
    Init(Option<Value>),
    Subscribe {
        id: String,
        payload: SubscribePayload,
    },
    /// graphql-transport-ws `complete`, legacy `stop`.
    Complete {
        id: String,
    },
    Ping,
    Pong,
    /// Legacy `connection_terminate`: the client is leaving.
    Terminate,
}

/// An operation's request, the same in both protocols.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscribePayload {
    pub query: String,
    #[serde(default)]
    pub operation_name: Option<String>,
    #[serde(default)]
    pub variables: Option<Value>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum TransportWsMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Ping {},
    Pong {},
    Subscribe {
        id: String,
        payload: SubscribePayload,
    },
    Complete {
        id: String,
    },
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum LegacyMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Start {
        id: String,
        payload: SubscribePayload,
    },
    Stop {
        id: String,
    },
    ConnectionTerminate {},
}

/// Why the server closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    InvalidMessage,
    Unauthorized,
    Forbidden,
    /// The token the session was opened with has expired; reconnect with a fresh one.
    TokenExpired,
    InitTimeout,
    DuplicateId,
    TooManyInits,
    GoingAway,
    /// The client said it was leaving (legacy `connection_terminate`).
    Normal,
}

impl Close {
    pub fn frame(self) -> CloseFrame {
        let (code, reason) = match self {
            Close::InvalidMessage => (4400, "Invalid message received"),
            Close::Unauthorized => (4401, "Unauthorized"),
            Close::Forbidden => (4403, "Forbidden"),
            Close::TokenExpired => (4403, "Token expired"),
            Close::InitTimeout => (4408, "Connection initialisation timeout"),
            Close::DuplicateId => (4409, "Subscriber for this id already exists"),
            Close::TooManyInits => (4429, "Too many initialisation requests"),
            Close::GoingAway => (1001, "server shutting down"),
            Close::Normal => (1000, "bye"),
        };
        CloseFrame {
            code,
            reason: reason.into(),
        }
    }
}

impl Protocol {
    /// The protocol a client's `Sec-WebSocket-Protocol` offers pick: graphql-transport-ws when
    /// offered (or when nothing is), the legacy protocol when only it is.
    pub fn negotiate<'a>(offered: impl IntoIterator<Item = &'a str>) -> Protocol {
        let offered: Vec<&str> = offered.into_iter().collect();
        let names = |name: &str| offered.iter().any(|p| p.eq_ignore_ascii_case(name));
        if !names(TRANSPORT_WS) && names(LEGACY) {
            Protocol::Legacy
        } else {
            Protocol::TransportWs
        }
    }

    pub fn subprotocol(self) -> &'static str {
        match self {
            Protocol::TransportWs => TRANSPORT_WS,
            Protocol::Legacy => LEGACY,
        }
    }

    /// One text message from the client; `None` when the protocol does not define it.
    pub fn decode(self, text: &str) -> Option<Inbound> {
        Some(match self {
            Protocol::TransportWs => match serde_json::from_str(text).ok()? {
                TransportWsMessage::ConnectionInit { payload } => Inbound::Init(payload),
                TransportWsMessage::Ping {} => Inbound::Ping,
                TransportWsMessage::Pong {} => Inbound::Pong,
                TransportWsMessage::Subscribe { id, payload } => Inbound::Subscribe { id, payload },
                TransportWsMessage::Complete { id } => Inbound::Complete { id },
            },
            Protocol::Legacy => match serde_json::from_str(text).ok()? {
                LegacyMessage::ConnectionInit { payload } => Inbound::Init(payload),
                LegacyMessage::Start { id, payload } => Inbound::Subscribe { id, payload },
                LegacyMessage::Stop { id } => Inbound::Complete { id },
                LegacyMessage::ConnectionTerminate {} => Inbound::Terminate,
            },
        })
    }

    pub fn ack(self) -> String {
        json!({"type": "connection_ack"}).to_string()
    }

    pub fn pong(self) -> String {
        json!({"type": "pong"}).to_string()
    }

    /// The legacy protocol's keep-alive, sent after the ack and then periodically; its
    /// clients treat a silent server as gone.
    pub fn keep_alive(self) -> Option<String> {
        match self {
            Protocol::TransportWs => None,
            Protocol::Legacy => Some(json!({"type": "ka"}).to_string()),
        }
    }

    /// What the legacy protocol says before closing a connection it refuses
    /// (`connection_error`); graphql-transport-ws says it with the close code alone.
    pub fn connection_error(self, message: &str) -> Option<String> {
        match self {
            Protocol::TransportWs => None,
            Protocol::Legacy => Some(
                json!({"type": "connection_error", "payload": {"message": message}}).to_string(),
            ),
        }
    }

    /// One result of a running operation.
    pub fn next(self, id: &str, response: &Response) -> String {
        let kind = match self {
            Protocol::TransportWs => "next",
            Protocol::Legacy => "data",
        };
        message(kind, id, response)
    }

    /// An operation refused before it ran; it is over (no `complete` follows).
    pub fn error(self, id: &str, errors: &[ServerError]) -> String {
        message("error", id, &errors)
    }

    pub fn complete(self, id: &str) -> String {
        json!({"type": "complete", "id": id}).to_string()
    }

    /// Whether a client's own `stop` is answered with `complete` (the legacy server did).
    pub fn completes_on_client_stop(self) -> bool {
        self == Protocol::Legacy
    }

    /// Whether `subscribe` with an id already running closes the connection (graphql-transport-ws,
    /// 4409) or replaces the running operation (the legacy server's behaviour).
    pub fn duplicate_id_closes(self) -> bool {
        self == Protocol::TransportWs
    }
}

/// `{"type", "id", "payload"}`, the payload serialised as it is: going through a
/// `serde_json::Value` would sort its keys, and results keep the document's order (§7.1.1).
fn message(kind: &str, id: &str, payload: &impl serde::Serialize) -> String {
    let payload = serde_json::to_string(payload).unwrap_or_else(|e| {
        tracing::error!(error = %e, "serialising a GraphQL result failed");
        r#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}"#.into()
    });
    format!(
        r#"{{"type":{},"id":{},"payload":{payload}}}"#,
        Value::from(kind),
        Value::from(id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_prefers_the_current_protocol() {
        assert_eq!(Protocol::negotiate([]), Protocol::TransportWs);
        assert_eq!(
            Protocol::negotiate(["graphql-ws", "graphql-transport-ws"]),
            Protocol::TransportWs
        );
        assert_eq!(Protocol::negotiate(["GraphQL-WS"]), Protocol::Legacy);
        assert_eq!(Protocol::negotiate(["other"]), Protocol::TransportWs);
    }

    #[test]
    fn each_protocol_reads_only_its_own_messages() {
        let start = r#"{"type":"start","id":"1","payload":{"query":"{ a }"}}"#;
        let subscribe = r#"{"type":"subscribe","id":"1","payload":{"query":"{ a }"}}"#;
        assert!(Protocol::TransportWs.decode(start).is_none());
        assert!(Protocol::Legacy.decode(subscribe).is_none());
        assert!(matches!(
            Protocol::Legacy.decode(start),
            Some(Inbound::Subscribe { .. })
        ));
        assert!(matches!(
            Protocol::Legacy.decode(r#"{"type":"connection_terminate"}"#),
            Some(Inbound::Terminate)
        ));
        assert!(Protocol::Legacy.decode(r#"{"type":"ping"}"#).is_none());
        assert!(matches!(
            Protocol::TransportWs.decode(r#"{"type":"ping","payload":{"x":1}}"#),
            Some(Inbound::Ping)
        ));
    }

    #[test]
    fn results_keep_the_order_of_their_keys() {
        let mut data = async_graphql::indexmap::IndexMap::new();
        data.insert(
            async_graphql::Name::new("zeta"),
            async_graphql::Value::from(1),
        );
        data.insert(
            async_graphql::Name::new("alpha"),
            async_graphql::Value::from(2),
        );
        let response = Response::new(async_graphql::Value::Object(data));
        let text = Protocol::TransportWs.next("a\"b", &response);
        assert_eq!(
            text,
            r#"{"type":"next","id":"a\"b","payload":{"data":{"zeta":1,"alpha":2}}}"#
        );
    }

    #[test]
    fn close_reasons_fit_a_control_frame() {
        for close in [
            Close::InvalidMessage,
            Close::Unauthorized,
            Close::Forbidden,
            Close::TokenExpired,
            Close::InitTimeout,
            Close::DuplicateId,
            Close::TooManyInits,
            Close::GoingAway,
            Close::Normal,
        ] {
            assert!(close.frame().reason.len() <= 123, "{close:?}");
        }
    }
}
