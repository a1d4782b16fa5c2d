//! `flowdeck serve`: every endpoint's live version over HTTP (an axum Router), event
//! ingestion (plain and CloudEvents), the record (`/runs/{id}`, `/events/{id}`), a worker
//! that takes up queued runs, with leases shared with other processes on the same store,
//! and retention (`engine::retention`) pruning the record by the project's rules.
//!
//! A request goes through: the request log and the path's normalisation (`layers`, around
//! the Router, so that `/runs/7/` is routed as `/runs/7`); `GET /healthz`; then, behind the
//! token and the body's limits, the built-in routes (`fixed`) and, for every other method
//! and path, the endpoints' Routers, rebuilt when the definitions change (`endpoints`).

mod blocking;
mod cloudevents;
mod endpoint_table;
mod endpoints;
mod fixed;
mod generation;
/// Pure parsing of ingested requests (events, CloudEvents, bodies); public for the fuzz targets.
pub mod ingest;
mod layers;
mod listen;
mod payload;
mod reply;

use crate::engine::Engine;
use axum::Extension;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodFilter, get};
use payload::BodyRules;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tower::ServiceBuilder;
use tower_http::normalize_path::NormalizePathLayer;
use tower_http::timeout::RequestBodyDeadlineLayer;

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
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
    /// Retention rules that override the project's `[store]` ones (`--retain`, `--max-size`).
    pub retention: crate::model::project::StoreSettings,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            token: None,
            body_limit: 1024 * 1024,
            grace: Duration::from_secs(10),
            max_connections: 1024,
            read_timeout: Duration::from_secs(10),
            retention: crate::model::project::StoreSettings::default(),
        }
    }
}

/// Shared by every request.
pub(crate) struct App {
    pub(crate) engine: Engine,
    pub(crate) options: ServeOptions,
    /// The endpoints' Routers, as of the last definitions read.
    pub(crate) endpoints: endpoints::Live,
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

/// The routes, with their layers.
pub fn router(engine: Engine, options: ServeOptions) -> axum::Router {
    let rules = BodyRules::of(&options);
    let app = Arc::new(App {
        endpoints: endpoints::Live::new(&engine),
        engine,
        options,
    });
    endpoints::rebuild_when_heard(&app);
    // everything but the health check: the token first (a 401 before any limit), then the
    // body's limits, which the handlers' body extractors (`payload`) enforce and answer for.
    // The token's layer is there only when the server has a token
    let mut guarded = fixed::routes().layer(
        ServiceBuilder::new()
            .layer(Extension(Arc::clone(&app)))
            .layer(DefaultBodyLimit::max(rules.limit))
            .layer(RequestBodyDeadlineLayer::new(rules.timeout)),
    );
    if app.options.token.is_some() {
        guarded = guarded.layer(from_fn_with_state(Arc::clone(&app), layers::authorize));
    }
    let guarded = guarded.with_state(Arc::clone(&app));
    let routes = axum::Router::new()
        .route(
            "/healthz",
            get(fixed::healthz)
                .on_service(MethodFilter::HEAD, guarded.clone())
                .fallback_service(guarded.clone()),
        )
        .fallback_service(guarded)
        .with_state(app);
    // around the Router: the log sees the path as sent, and the routes see it normalised
    // (`/runs/7/` and `//runs/7` are `/runs/7`, as the routes always took them). The log's
    // layer is there only when its level is on: its span costs every request otherwise
    let logged = tracing::enabled!(target: "flowdeck::http", tracing::Level::DEBUG);
    let normalized = ServiceBuilder::new()
        .layer(NormalizePathLayer::trim_trailing_slash())
        .service(routes);
    if logged {
        axum::Router::new().fallback_service(
            ServiceBuilder::new()
                .layer(layers::request_log())
                .service(normalized),
        )
    } else {
        axum::Router::new().fallback_service(normalized)
    }
}

/// Bind and serve in the background (the queue worker too) until `stop` is called.
pub async fn start(engine: Engine, options: ServeOptions) -> anyhow::Result<Running> {
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", options.bind))?;
    let addr = listener.local_addr()?;
    let (stop, mut stopped) = watch::channel(false);
    let mut stopped_worker = stop.subscribe();
    let mut stopped_retention = stop.subscribe();
    let retention = options.retention;
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
        let pruner = {
            let engine = engine.clone();
            tokio::spawn(async move {
                engine
                    .keep_retention(retention, async move {
                        let _ = stopped_retention.wait_for(|s| *s).await;
                    })
                    .await;
            })
        };
        listen::serve(listener, router, limits, async move {
            let _ = stopped.wait_for(|s| *s).await;
        })
        .await;
        let _ = worker.await;
        let _ = pruner.await;
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
