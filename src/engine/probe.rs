//! Watching runs' records reach the disk, for measurements (`flowdeck bench`): the engine
//! tells a probe when a run's first step records are committed and when its end is.

use std::time::Instant;

/// Told about commits of runs' records; called on the store's writer thread or a run's
/// task, so it must be quick.
pub trait Probe: Send + Sync + std::fmt::Debug {
    /// Step records of `run_id` were committed at `at` (called for every batch of them).
    fn steps_committed(&self, run_id: i64, at: Instant);
    /// The end of `run_id` was committed at `at`.
    fn run_finished(&self, run_id: i64, at: Instant);
}
