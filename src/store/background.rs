//! Plumbing of the store's background threads: a thread joined when its owner goes, and a
//! batch taken from a queue.

use std::thread::JoinHandle;
use tokio::sync::mpsc;

/// A thread joined when this is dropped. Whatever ends the thread (a channel's sender, a
/// stop signal) must be dropped first: declare it before this field.
#[derive(Debug)]
pub(crate) struct Joined(Option<JoinHandle<()>>);

impl Joined {
    /// Join `handle` on drop.
    pub(crate) fn new(handle: JoinHandle<()>) -> Joined {
        Joined(Some(handle))
    }
}

impl Drop for Joined {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            let _ = h.join();
        }
    }
}

/// Move what is already waiting in `rx` into `batch`, up to `max` in all.
pub(crate) fn drain<T>(rx: &mut mpsc::Receiver<T>, batch: &mut Vec<T>, max: usize) {
    while batch.len() < max {
        match rx.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}
