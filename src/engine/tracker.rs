//! Counting the runs of a cascade in flight, so that `emit` and `call` can wait for the whole
//! cascade they started (every listener's run, and the runs of the events those emit).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Notify;

/// Runs of one cascade still queued or running in this process. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Tracker(Arc<TrackerState>);

#[derive(Debug, Default)]
struct TrackerState {
    pending: AtomicUsize,
    idle: Notify,
}

impl Tracker {
    /// A tracker with nothing in flight.
    pub fn new() -> Self {
        Self::default()
    }

    /// A run joins the cascade (call before spawning it).
    pub fn enter(&self) {
        self.0.pending.fetch_add(1, Ordering::SeqCst);
    }

    /// A run of the cascade ended.
    pub fn exit(&self) {
        if self.0.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }

    /// Runs in flight.
    pub fn pending(&self) -> usize {
        self.0.pending.load(Ordering::SeqCst)
    }

    /// Wait until no run of the cascade is in flight.
    pub async fn wait(&self) {
        loop {
            let notified = self.0.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.pending() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Leaves the cascade when dropped, however the run ends.
#[derive(Debug)]
pub(crate) struct Membership(Option<Tracker>);

impl Membership {
    /// Enter `tracker` (if any) now; exit when dropped.
    pub(crate) fn join(tracker: Option<Tracker>) -> Self {
        if let Some(t) = &tracker {
            t.enter();
        }
        Membership(tracker)
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            t.exit();
        }
    }
}
