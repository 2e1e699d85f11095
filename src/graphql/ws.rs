//! GraphQL over WebSocket at `/graphql/ws`, the `graphql-transport-ws` protocol that the
//! `graphql-ws` library (GraphiQL, Apollo, urql, Relay) speaks, with the protocol's own close
//! codes so clients react as their documentation says: 4400 bad message, 4401 subscribe before
//! the handshake, 4403 refused credentials, 4408 no `connection_init` in time, 4409 a
//! subscription id already in use, 4429 a second `connection_init`, 1001 server going away.
//! Close reasons are fixed, short texts: a control frame carries at most 125 bytes (RFC 6455
//! §5.5), and nothing a client sent is echoed back.
//!
//! The older subscriptions-transport-ws protocol (subprotocol `graphql-ws`) is still served by
//! async-graphql's implementation; see `app::graphql_ws`.

use std::{collections::HashMap, sync::Arc};

use async_graphql::{parser::types::OperationType, Data, Request, Response, Variables};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::{sync::mpsc, task::AbortHandle};

use super::{
    context::RequestViewer,
    executor::Refused,
    http::{Edge, GraphqlEdge},
    loaders,
};
use crate::{auth::Viewer, error::ErrorCode};

/// The subprotocol name of the `graphql-ws` library's protocol.
pub const PROTOCOL: &str = "graphql-transport-ws";
/// Largest message accepted (a subscription document is small; the HTTP limit is for bodies).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Operations one connection may run at once.
const MAX_OPERATIONS: usize = 64;

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
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
#[serde(rename_all = "camelCase")]
struct SubscribePayload {
    query: String,
    #[serde(default)]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<Value>,
}

/// Why the server closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    InvalidMessage,
    Unauthorized,
    Forbidden,
    InitTimeout,
    DuplicateId,
    TooManyInits,
    GoingAway,
}

impl Close {
    pub fn frame(self) -> CloseFrame {
        let (code, reason) = match self {
            Close::InvalidMessage => (4400, "Invalid message received"),
            Close::Unauthorized => (4401, "Unauthorized"),
            Close::Forbidden => (4403, "Forbidden"),
            Close::InitTimeout => (4408, "Connection initialisation timeout"),
            Close::DuplicateId => (4409, "Subscriber for this id already exists"),
            Close::TooManyInits => (4429, "Too many initialisation requests"),
            Close::GoingAway => (1001, "server shutting down"),
        };
        CloseFrame {
            code,
            reason: reason.into(),
        }
    }
}

/// What the operation tasks hand back to the connection's loop.
enum Outgoing {
    Text(String),
    /// The operation ended; `complete` tells the client (not after an `error`, which already
    /// ends it in this protocol).
    Done {
        id: String,
        generation: u64,
        complete: bool,
    },
}

/// An acknowledged connection: who it is, and the data its operations run with.
struct Session {
    user_id: String,
    data: Arc<Data>,
}

struct Operation {
    generation: u64,
    task: AbortHandle,
}

/// Runs one connection until the client leaves, breaks the protocol or the server shuts down.
pub async fn serve(socket: WebSocket, edge: Edge) {
    let (mut sink, mut incoming) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Outgoing>(64);
    let mut closing = edge.closing.clone();
    let shutting_down = async move {
        let _ = closing.wait_for(|c| *c).await;
    };
    tokio::pin!(shutting_down);
    let init_deadline = tokio::time::sleep(edge.http.ws_init_timeout);
    tokio::pin!(init_deadline);
    let mut session: Option<Session> = None;
    let mut init_seen = false;
    let mut operations: HashMap<String, Operation> = HashMap::new();
    let mut generation = 0_u64;

    let close = loop {
        tokio::select! {
            () = &mut shutting_down => break Some(Close::GoingAway),
            () = &mut init_deadline, if session.is_none() => break Some(Close::InitTimeout),
            Some(out) = rx.recv() => {
                let text = match out {
                    Outgoing::Text(text) => text,
                    Outgoing::Done { id, generation, complete } => {
                        if operations.get(&id).is_none_or(|op| op.generation != generation) {
                            continue; // the client completed it first
                        }
                        operations.remove(&id);
                        if !complete {
                            continue;
                        }
                        json!({"type": "complete", "id": id}).to_string()
                    }
                };
                if sink.send(Message::Text(text.into())).await.is_err() {
                    break None;
                }
            }
            message = incoming.next() => {
                let text = match message {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break None,
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Binary(_))) => break Some(Close::InvalidMessage),
                    // axum answers WebSocket pings itself.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                };
                let Ok(message) = serde_json::from_str::<ClientMessage>(text.as_str()) else {
                    break Some(Close::InvalidMessage);
                };
                match message {
                    ClientMessage::ConnectionInit { payload } => {
                        if init_seen {
                            break Some(Close::TooManyInits);
                        }
                        init_seen = true;
                        let Some(viewer) = authenticate(&edge, payload.as_ref()) else {
                            break Some(Close::Forbidden);
                        };
                        session = Some(Session {
                            user_id: viewer.user_id.clone(),
                            data: Arc::new(session_data(&edge, viewer)),
                        });
                        let ack = json!({"type": "connection_ack"}).to_string();
                        if sink.send(Message::Text(ack.into())).await.is_err() {
                            break None;
                        }
                    }
                    ClientMessage::Ping {} => {
                        let pong = json!({"type": "pong"}).to_string();
                        if sink.send(Message::Text(pong.into())).await.is_err() {
                            break None;
                        }
                    }
                    ClientMessage::Pong {} => {}
                    ClientMessage::Subscribe { id, payload } => {
                        let Some(session) = &session else {
                            break Some(Close::Unauthorized);
                        };
                        if operations.contains_key(&id) {
                            break Some(Close::DuplicateId);
                        }
                        if id.is_empty() || id.len() > 255 {
                            break Some(Close::InvalidMessage);
                        }
                        generation += 1;
                        let running = operations.len();
                        match start(&edge, session, &id, generation, payload, running, tx.clone()) {
                            Ok(task) => {
                                operations.insert(id, Operation { generation, task });
                            }
                            Err(refused) => {
                                let text = error_message(&id, refused);
                                if sink.send(Message::Text(text.into())).await.is_err() {
                                    break None;
                                }
                            }
                        }
                    }
                    ClientMessage::Complete { id } => {
                        if let Some(op) = operations.remove(&id) {
                            op.task.abort();
                        }
                    }
                }
            }
        }
    };
    for op in operations.values() {
        op.task.abort();
    }
    if let Some(close) = close {
        let _ = sink.send(Message::Close(Some(close.frame()))).await;
    }
    let _ = sink.close().await;
}

/// The viewer of the credentials in `connection_init` (see `auth::token_from_connection_params`
/// for the accepted shapes); None refuses the connection.
fn authenticate(edge: &GraphqlEdge, payload: Option<&Value>) -> Option<Viewer> {
    let token = payload.and_then(crate::auth::token_from_connection_params);
    match edge.auth.from_header(token.as_deref()) {
        Ok(Some(viewer)) => Some(viewer),
        Ok(None) => None,
        Err(e) => {
            tracing::info!(reason = %e, "rejected WebSocket credentials");
            None
        }
    }
}

/// What every operation of the connection sees. The loader does not cache: one subscription
/// lives for many events, and each must show the rows as they are now.
pub fn session_data(edge: &GraphqlEdge, viewer: Viewer) -> Data {
    let loader = loaders::request_loader(edge.services.db.clone());
    loader.enable_all_cache(false);
    let mut data = Data::default();
    data.insert(RequestViewer(Some(viewer)));
    data.insert(edge.services.clone());
    data.insert(loader);
    data
}

/// Checks and starts one operation on its own task, which streams its results to `tx`.
fn start(
    edge: &GraphqlEdge,
    session: &Session,
    id: &str,
    generation: u64,
    payload: SubscribePayload,
    running: usize,
    tx: mpsc::Sender<Outgoing>,
) -> Result<AbortHandle, Refused> {
    if running >= MAX_OPERATIONS {
        return Err(Refused::new(
            ErrorCode::BadRequest,
            format!("at most {MAX_OPERATIONS} operations per connection"),
        ));
    }
    if edge.rate_limits.user(&session.user_id).is_err() {
        return Err(Refused::new(
            ErrorCode::RateLimited,
            "too many requests; try again later",
        ));
    }
    let mut request = Request::new(payload.query);
    if let Some(name) = payload.operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = payload.variables {
        request = request.variables(Variables::from_json(variables));
    }
    let checked = edge.executor.check(request)?;
    if checked.analysis.operation_type == OperationType::Mutation {
        // Mutations move money: they go through POST /graphql and its per-user limits.
        return Err(Refused::new(
            ErrorCode::BadRequest,
            "send mutations with POST /graphql",
        ));
    }
    let mut stream = edge.executor.stream(checked, session.data.clone());
    let id = id.to_owned();
    let task = tokio::spawn(async move {
        let mut first = true;
        while let Some(response) = stream.next().await {
            // A request error (no data at all) is the protocol's `error`, which ends the
            // operation; anything else, errors in fields included, is a `next`.
            if first && response.data == async_graphql::Value::Null && response.is_err() {
                let text = errors_message(&id, &response);
                let _ = tx.send(Outgoing::Text(text)).await;
                let _ = tx
                    .send(Outgoing::Done {
                        id,
                        generation,
                        complete: false,
                    })
                    .await;
                return;
            }
            first = false;
            let text = json!({"type": "next", "id": id, "payload": response}).to_string();
            if tx.send(Outgoing::Text(text)).await.is_err() {
                return;
            }
        }
        let _ = tx
            .send(Outgoing::Done {
                id,
                generation,
                complete: true,
            })
            .await;
    });
    Ok(task.abort_handle())
}

fn errors_message(id: &str, response: &Response) -> String {
    json!({"type": "error", "id": id, "payload": response.errors}).to_string()
}

fn error_message(id: &str, refused: Refused) -> String {
    errors_message(id, &refused.into_response())
}
