//! One WebSocket connection, whichever protocol it speaks: the handshake within the init
//! timeout, the viewer from `connection_init`, at most [`MAX_OPERATIONS`] operations each
//! admitted by `guard` (the same checks and limits as HTTP), and the end of the session when
//! its token expires, the client leaves, breaks the protocol, or the server shuts down.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, SystemTime},
};

use async_graphql::{Data, Request, Variables};
use axum::extract::ws::{Message, WebSocket};
use futures_util::{stream::SplitSink, SinkExt, StreamExt};
use serde_json::Value;
use tokio::{sync::mpsc, task::AbortHandle, time::Instant};

use super::{
    protocol::{Close, Inbound, Protocol, SubscribePayload},
    MAX_OPERATIONS,
};
use crate::{
    auth::Viewer,
    error::ErrorCode,
    graphql::{
        completion::is_request_error,
        context::RequestViewer,
        edge::{Edge, GraphqlEdge},
        executor::Refused,
        guard::Door,
        loaders,
    },
};

/// How often the legacy protocol's `ka` goes out; its clients give up after 30 s of silence.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// What the operation tasks hand back to the connection's loop.
enum Outgoing {
    Text(String),
    /// The operation ended; `complete` tells the client (not after an `error`, which already
    /// ends it).
    Done {
        id: String,
        generation: u64,
        complete: bool,
    },
}

/// An acknowledged connection: who it is, and the data its operations run with.
struct Session {
    viewer: Viewer,
    data: Arc<Data>,
}

struct Operation {
    generation: u64,
    task: AbortHandle,
}

/// What handling one client message leads to.
enum Step {
    Continue,
    /// The handshake completed: the session lasts until this moment.
    Acked(Instant),
    End(Option<Close>),
}

/// The socket gone (a send failed): nothing more can be said.
struct Gone;

type Sink = SplitSink<WebSocket, Message>;

struct Connection {
    edge: Edge,
    protocol: Protocol,
    sink: Sink,
    tx: mpsc::Sender<Outgoing>,
    session: Option<Session>,
    init_seen: bool,
    operations: HashMap<String, Operation>,
    generation: u64,
}

/// Runs one connection until it ends, then says why (a close frame) and stops its operations.
pub async fn serve(socket: WebSocket, edge: Edge, protocol: Protocol) {
    let (sink, mut incoming) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Outgoing>(64);
    let mut connection = Connection {
        edge,
        protocol,
        sink,
        tx,
        session: None,
        init_seen: false,
        operations: HashMap::new(),
        generation: 0,
    };
    let close = connection.run(&mut incoming, &mut rx).await;
    for op in connection.operations.values() {
        op.task.abort();
    }
    if let Some(close) = close {
        let _ = connection
            .sink
            .send(Message::Close(Some(close.frame())))
            .await;
    }
    let _ = connection.sink.close().await;
}

impl Connection {
    async fn run(
        &mut self,
        incoming: &mut futures_util::stream::SplitStream<WebSocket>,
        rx: &mut mpsc::Receiver<Outgoing>,
    ) -> Option<Close> {
        let mut closing = self.edge.closing.clone();
        let shutting_down = async move {
            let _ = closing.wait_for(|c| *c).await;
        };
        tokio::pin!(shutting_down);
        let init_deadline = tokio::time::sleep(self.edge.http.ws_init_timeout);
        tokio::pin!(init_deadline);
        // Set when the handshake completes; until then the init deadline governs.
        let token_deadline = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(token_deadline);
        let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
        let keeps_alive = self.protocol.keep_alive().is_some();
        loop {
            let result = tokio::select! {
                () = &mut shutting_down => return Some(Close::GoingAway),
                () = &mut init_deadline, if self.session.is_none() => {
                    return Some(Close::InitTimeout)
                }
                () = &mut token_deadline, if self.session.is_some() => {
                    return Some(Close::TokenExpired)
                }
                _ = keep_alive.tick(), if keeps_alive && self.session.is_some() => {
                    match self.protocol.keep_alive() {
                        Some(ka) => self.send(ka).await.map(|()| Step::Continue),
                        None => Ok(Step::Continue),
                    }
                }
                Some(out) = rx.recv() => self.deliver(out).await.map(|()| Step::Continue),
                message = incoming.next() => self.receive(message).await,
            };
            match result {
                Ok(Step::Continue) => {}
                Ok(Step::Acked(until)) => {
                    token_deadline.as_mut().reset(until);
                    keep_alive.reset();
                }
                Ok(Step::End(close)) => return close,
                Err(Gone) => return None,
            }
        }
    }

    async fn send(&mut self, text: String) -> Result<(), Gone> {
        self.sink
            .send(Message::Text(text.into()))
            .await
            .map_err(|_| Gone)
    }

    /// Passes an operation's output on, unless the client already completed it.
    async fn deliver(&mut self, out: Outgoing) -> Result<(), Gone> {
        match out {
            Outgoing::Text(text) => self.send(text).await,
            Outgoing::Done {
                id,
                generation,
                complete,
            } => {
                if self
                    .operations
                    .get(&id)
                    .is_none_or(|op| op.generation != generation)
                {
                    return Ok(()); // the client completed (or replaced) it first
                }
                self.operations.remove(&id);
                if complete {
                    let text = self.protocol.complete(&id);
                    self.send(text).await?;
                }
                Ok(())
            }
        }
    }

    async fn receive(
        &mut self,
        message: Option<Result<Message, axum::Error>>,
    ) -> Result<Step, Gone> {
        let text = match message {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(Step::End(None)),
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(_))) => return Ok(Step::End(Some(Close::InvalidMessage))),
            // axum answers WebSocket pings itself.
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => return Ok(Step::Continue),
        };
        let Some(inbound) = self.protocol.decode(text.as_str()) else {
            return Ok(Step::End(Some(Close::InvalidMessage)));
        };
        match inbound {
            Inbound::Init(payload) => self.init(payload.as_ref()).await,
            Inbound::Ping => {
                let pong = self.protocol.pong();
                self.send(pong).await.map(|()| Step::Continue)
            }
            Inbound::Pong => Ok(Step::Continue),
            Inbound::Terminate => Ok(Step::End(Some(Close::Normal))),
            Inbound::Subscribe { id, payload } => self.subscribe(id, payload).await,
            Inbound::Complete { id } => {
                if let Some(op) = self.operations.remove(&id) {
                    op.task.abort();
                    if self.protocol.completes_on_client_stop() {
                        let text = self.protocol.complete(&id);
                        self.send(text).await?;
                    }
                }
                Ok(Step::Continue)
            }
        }
    }

    /// `connection_init`: once, with credentials the HTTP edge would accept.
    async fn init(&mut self, payload: Option<&Value>) -> Result<Step, Gone> {
        if self.init_seen {
            return Ok(Step::End(Some(Close::TooManyInits)));
        }
        self.init_seen = true;
        let Some(viewer) = authenticate(&self.edge, payload) else {
            if let Some(text) = self.protocol.connection_error("Forbidden") {
                self.send(text).await?;
            }
            return Ok(Step::End(Some(Close::Forbidden)));
        };
        let until = instant_of(viewer.valid_until);
        self.session = Some(Session {
            data: Arc::new(session_data(&self.edge, viewer.clone())),
            viewer,
        });
        let ack = self.protocol.ack();
        self.send(ack).await?;
        if let Some(ka) = self.protocol.keep_alive() {
            self.send(ka).await?;
        }
        Ok(Step::Acked(until))
    }

    async fn subscribe(&mut self, id: String, payload: SubscribePayload) -> Result<Step, Gone> {
        if self.session.is_none() {
            return Ok(Step::End(Some(Close::Unauthorized)));
        }
        if id.is_empty() || id.len() > 255 {
            return Ok(Step::End(Some(Close::InvalidMessage)));
        }
        if let Some(running) = self.operations.remove(&id) {
            running.task.abort();
            if self.protocol.duplicate_id_closes() {
                return Ok(Step::End(Some(Close::DuplicateId)));
            }
        }
        self.generation += 1;
        match self.start(&id, payload) {
            Ok(task) => {
                let generation = self.generation;
                self.operations.insert(id, Operation { generation, task });
                Ok(Step::Continue)
            }
            Err(refused) => {
                let text = self.protocol.error(&id, &refused.into_response().errors);
                self.send(text).await.map(|()| Step::Continue)
            }
        }
    }

    /// Admits one operation and runs it on its own task, which streams its results back.
    fn start(&self, id: &str, payload: SubscribePayload) -> Result<AbortHandle, Refused> {
        let Some(session) = &self.session else {
            return Err(Refused::new(ErrorCode::Unauthenticated, "not initialised"));
        };
        if self.operations.len() >= MAX_OPERATIONS {
            return Err(Refused::new(
                ErrorCode::BadRequest,
                format!("at most {MAX_OPERATIONS} operations per connection"),
            ));
        }
        let request = request_of(payload)?;
        let checked = self
            .edge
            .admit(Door::WebSocket, Some(&session.viewer), request)
            .map_err(|refusal| refusal.into_refused())?;
        let mut stream = self.edge.executor.stream(checked, session.data.clone());
        let (protocol, tx, generation, id) = (
            self.protocol,
            self.tx.clone(),
            self.generation,
            id.to_owned(),
        );
        let task = tokio::spawn(async move {
            let mut first = true;
            while let Some(response) = stream.next().await {
                // A request error (nothing executed) is the protocol's `error`, which ends the
                // operation; anything else, errors in fields included, is a result.
                if first && is_request_error(&response) {
                    let _ = tx
                        .send(Outgoing::Text(protocol.error(&id, &response.errors)))
                        .await;
                    let done = Outgoing::Done {
                        id,
                        generation,
                        complete: false,
                    };
                    let _ = tx.send(done).await;
                    return;
                }
                first = false;
                if tx
                    .send(Outgoing::Text(protocol.next(&id, &response)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            let done = Outgoing::Done {
                id,
                generation,
                complete: true,
            };
            let _ = tx.send(done).await;
        });
        Ok(task.abort_handle())
    }
}

/// An operation's request; `variables` must be an object (or absent), as over HTTP.
fn request_of(payload: SubscribePayload) -> Result<Request, Refused> {
    let mut request = Request::new(payload.query);
    if let Some(name) = payload.operation_name {
        request = request.operation_name(name);
    }
    match payload.variables {
        None | Some(Value::Null) => {}
        Some(v @ Value::Object(_)) => request = request.variables(Variables::from_json(v)),
        Some(_) => {
            return Err(Refused::new(
                ErrorCode::BadRequest,
                "`variables` must be an object",
            ))
        }
    }
    Ok(request)
}

/// The viewer of the credentials in `connection_init` (see `auth::token_from_connection_params`
/// for the accepted shapes); None refuses the connection.
fn authenticate(edge: &GraphqlEdge, payload: Option<&Value>) -> Option<Viewer> {
    let token = payload.and_then(crate::auth::token_from_connection_params);
    match edge.viewer_of(token.as_deref()) {
        Ok(Some(viewer)) => Some(viewer),
        Ok(None) => None,
        Err(e) => {
            tracing::info!(reason = %e, "rejected WebSocket credentials");
            None
        }
    }
}

/// The monotonic moment of a wall-clock time (now, if it has passed).
fn instant_of(at: SystemTime) -> Instant {
    let left = at
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    Instant::now() + left
}

/// What every operation of the connection sees. The loader does not cache: one subscription
/// lives for many events, and each must show the rows as they are now.
fn session_data(edge: &GraphqlEdge, viewer: Viewer) -> Data {
    let loader = loaders::request_loader(edge.services.db.clone());
    loader.enable_all_cache(false);
    let mut data = Data::default();
    data.insert(RequestViewer(Some(viewer)));
    data.insert(edge.services.clone());
    data.insert(loader);
    data
}
