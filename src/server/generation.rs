//! The definitions' generation, read for the endpoints' Routers before each request: by one
//! thread of the server's own, once for every request waiting when it reads, so that a burst
//! of requests costs one read and one thread wake-up rather than a blocking task each. A
//! request's answer is always read after it asked, so a deploy committed before a request
//! arrived is seen by it.

use crate::engine::Engine;
use std::sync::mpsc;
use tokio::sync::oneshot;

/// What a request waits for: the generation, or why it could not be read.
type Reply = oneshot::Sender<Result<i64, String>>;

/// The reading thread's door; the thread ends when this is dropped.
#[derive(Debug)]
pub(super) struct GenerationReader {
    asks: mpsc::Sender<Reply>,
}

impl GenerationReader {
    /// Start the thread on `engine`'s reader connection (`None` when no thread can start).
    pub(super) fn start(engine: Engine) -> Option<GenerationReader> {
        let (asks, waiting) = mpsc::channel::<Reply>();
        std::thread::Builder::new()
            .name("flowdeck-routes".into())
            .spawn(move || {
                while let Ok(first) = waiting.recv() {
                    // every request that asked meanwhile shares this read
                    let batch: Vec<Reply> =
                        std::iter::once(first).chain(waiting.try_iter()).collect();
                    let generation = engine.store().generation().map_err(|e| e.to_string());
                    for reply in batch {
                        let _ = reply.send(generation.clone());
                    }
                }
            })
            .ok()?;
        Some(GenerationReader { asks })
    }

    /// The generation as of now (read after this call began).
    pub(super) async fn read(&self) -> Result<i64, String> {
        let (reply, answer) = oneshot::channel();
        self.asks.send(reply).map_err(|_| {
            "the thread that reads the definitions' generation has stopped".to_string()
        })?;
        answer.await.map_err(|_| {
            "the thread that reads the definitions' generation has stopped".to_string()
        })?
    }
}
