//! `flowdeck serve`: every endpoint's live version over HTTP (axum), event ingestion (plain
//! and CloudEvents), the record (`/runs/{id}`, `/events/{id}`), and a worker that takes up
//! queued runs, with leases shared with other processes on the same store.

mod cloudevents;
mod handler;
/// Pure parsing of ingested requests (events, CloudEvents, bodies); public for the fuzz targets.
pub mod ingest;
mod listen;
mod reply;

use crate::engine::Engine;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How to serve.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen.
    pub bind: SocketAddr,
    /// Required bearer token, when set.
    pub token: Option<String>,
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// How long a shutdown waits for in-flight runs before giving them back to the queue.
    pub grace: Duration,
    /// Connections held at once; more wait until one ends.
    pub max_connections: usize,
    /// Time for a request's head to arrive, and for its body: a client slower than that is
    /// answered 408 (or, for the head, disconnected).
    pub read_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            token: None,
            body_limit: 1024 * 1024,
            grace: Duration::from_secs(10),
            max_connections: 1024,
            read_timeout: Duration::from_secs(10),
        }
    }
}

/// Shared by every request.
pub(crate) struct App {
    pub(crate) engine: Engine,
    pub(crate) options: Options,
}

/// A running server.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Stop gracefully and wait until it has.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.task.await?
    }
}

/// The routes.
pub fn router(engine: Engine, options: Options) -> axum::Router {
    let app = Arc::new(App { engine, options });
    axum::Router::new()
        .fallback(handler::handle)
        .with_state(app)
}

/// Bind and serve in the background (the queue worker too) until `stop` is called.
pub async fn start(engine: Engine, options: Options) -> anyhow::Result<Running> {
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", options.bind))?;
    let addr = listener.local_addr()?;
    let (stop, mut stopped) = watch::channel(false);
    let mut stopped_worker = stop.subscribe();
    let grace = options.grace;
    let limits = listen::Limits {
        max_connections: options.max_connections,
        read_timeout: options.read_timeout,
    };
    let router = router(engine.clone(), options);
    let task = tokio::spawn(async move {
        let worker = {
            let engine = engine.clone();
            tokio::spawn(async move {
                engine
                    .work_queue(async move {
                        let _ = stopped_worker.wait_for(|s| *s).await;
                    })
                    .await;
            })
        };
        listen::serve(listener, router, limits, async move {
            let _ = stopped.wait_for(|s| *s).await;
        })
        .await;
        let _ = worker.await;
        let released = engine.shutdown(grace).await?;
        if released > 0 {
            tracing::info!(released, "gave unfinished runs back to the queue");
        }
        Ok(())
    });
    Ok(Running { addr, stop, task })
}

/// Wait for SIGINT or SIGTERM.
pub async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
