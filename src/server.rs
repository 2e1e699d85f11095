//! The server loop: connections accepted with the edge's timeouts (headers, idle keep-alive,
//! HTTP/2 pings), served by the router, and drained on shutdown within a grace period.

use std::{future::Future, net::SocketAddr, time::Duration};

use axum::{extract::ConnectInfo, http::Request, Router};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{
        conn::auto::Builder,
        graceful::{GracefulShutdown, Watcher},
    },
    service::TowerToHyperService,
};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use crate::config::HttpConfig;

/// Accepts connections until `shutdown`, then lets in-flight requests finish. Our own loop
/// rather than `axum::serve`, which cannot bound how long a client takes to send its headers:
/// hyper's header-read timer also runs while a keep-alive connection waits for its next
/// request, so idle and half-sent connections are closed alike.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    http: &HttpConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let builder = connection_builder(http);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection = Connection {
            app: app.clone(),
            builder: builder.clone(),
            header_timeout: http.header_timeout,
        };
        tokio::spawn(connection.serve(stream, peer, graceful.watcher()));
    }
    drop(listener);
    // A request stuck past its own timeout must not hold the process forever.
    let grace = http.request_timeout + Duration::from_secs(5);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the grace period; closing them");
    }
    Ok(())
}

/// What one accepted connection is served with.
struct Connection {
    app: Router,
    builder: Builder<TokioExecutor>,
    header_timeout: Duration,
}

impl Connection {
    async fn serve(self, stream: TcpStream, peer: SocketAddr, watcher: Watcher) {
        let _ = stream.set_nodelay(true);
        let service = self
            .app
            .map_request(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req.map(axum::body::Body::new)
            });
        let service = TowerToHyperService::new(service);
        // hyper's protocol detection waits for the first bytes before any HTTP/1 timer runs:
        // a client that connects and sends nothing is closed after the header timeout here.
        let mut first = [0u8; 1];
        let first_byte = tokio::time::timeout(self.header_timeout, stream.peek(&mut first)).await;
        if !matches!(first_byte, Ok(Ok(n)) if n > 0) {
            return;
        }
        let connection = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        if let Err(e) = watcher.watch(connection).await {
            tracing::debug!(error = %e, "connection closed with an error");
        }
    }
}

/// HTTP/1 and HTTP/2 with the edge's timeouts: headers (and idle keep-alive) bounded by the
/// header timeout, HTTP/2 connections pinged and dropped when they stop answering.
pub fn connection_builder(http: &HttpConfig) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(http.header_timeout)
        .max_buf_size(64 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(http.header_timeout))
        .keep_alive_timeout(http.header_timeout)
        .max_concurrent_streams(64);
    builder
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
