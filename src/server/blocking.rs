//! Reads of the store made for a request, on tokio's blocking threads: a store read takes
//! the reader connection's lock and waits on SQLite, and an async worker that did that would
//! hold up every other request it serves meanwhile.

use crate::engine::{Engine, EngineError};
use crate::store::Store;

/// What a request's read of the store ran into.
#[derive(Debug, thiserror::Error)]
pub(super) enum ReadError {
    /// The store (or the engine reading it) failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The blocking task ended without an answer (it panicked, or the runtime is stopping).
    #[error("a read of the store did not finish: {0}")]
    Stopped(#[from] tokio::task::JoinError),
    /// The definitions' generation could not be read (`server::generation`).
    #[error("cannot read the definitions' generation: {0}")]
    Generation(String),
}

/// Run `read` with the engine's reader connection on a blocking thread.
pub(super) async fn read<T, E>(
    engine: &Engine,
    read: impl FnOnce(&Store) -> Result<T, E> + Send + 'static,
) -> Result<T, ReadError>
where
    T: Send + 'static,
    E: Into<EngineError> + Send + 'static,
{
    let engine = engine.clone();
    let done = tokio::task::spawn_blocking(move || read(&engine.store())).await?;
    done.map_err(|e| ReadError::Engine(e.into()))
}

/// Run `work`, which reads the store through the engine, on a blocking thread.
pub(super) async fn with_engine<T: Send + 'static>(
    engine: &Engine,
    work: impl FnOnce(&Engine) -> T + Send + 'static,
) -> Result<T, ReadError> {
    let engine = engine.clone();
    Ok(tokio::task::spawn_blocking(move || work(&engine)).await?)
}
