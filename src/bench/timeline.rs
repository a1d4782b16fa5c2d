//! The probe of a benchmark: when each run's first step records and its end reached the disk.

use crate::engine::probe::Probe;
use std::sync::Mutex;
use std::time::Instant;

/// When each run's records reached the disk: `(run id, when)`, in the order reported.
pub type Commits = Vec<(i64, Instant)>;

/// Commit instants, in the order they were reported.
#[derive(Debug, Default)]
pub struct Timeline {
    steps: Mutex<Commits>,
    finished: Mutex<Commits>,
}

impl Timeline {
    /// Take what was reported: step commits and run ends, each `(run id, when)`.
    pub fn take(&self) -> (Commits, Commits) {
        let take = |m: &Mutex<Commits>| {
            std::mem::take(&mut *m.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
        };
        (take(&self.steps), take(&self.finished))
    }
}

impl Probe for Timeline {
    fn steps_committed(&self, run_id: i64, at: Instant) {
        if let Ok(mut v) = self.steps.lock() {
            v.push((run_id, at));
        }
    }

    fn run_finished(&self, run_id: i64, at: Instant) {
        if let Ok(mut v) = self.finished.lock() {
            v.push((run_id, at));
        }
    }
}
