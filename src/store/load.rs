//! How busy a writer thread is: the share of its recent time spent writing rather than
//! waiting for work. Callers that may write early or late (a run's first step records)
//! read it to choose latency while the writer has room and fewer writes when it has none.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The time over which the share is measured before it is published.
const WINDOW: Duration = Duration::from_millis(20);

/// The published share, in thousandths; cheap to clone and read from any thread.
#[derive(Debug, Clone, Default)]
pub struct Load(Arc<AtomicU32>);

impl Load {
    /// The share of the last measured window spent writing, 0.0 ..= 1.0.
    pub fn busy(&self) -> f64 {
        f64::from(self.0.load(Ordering::Relaxed)) / 1000.0
    }

    /// Whether the thread has lately spent most of its time writing (it is the bottleneck:
    /// work that can wait a little had better be batched).
    pub fn is_saturated(&self) -> bool {
        self.busy() >= 0.5
    }
}

/// The writer thread's side: counts waiting and working time and publishes the share
/// once per window (20 ms).
#[derive(Debug)]
pub(crate) struct LoadMeter {
    load: Load,
    since: Instant,
    working: Duration,
    mark: Instant,
}

impl LoadMeter {
    /// A meter publishing to `load`; the time from now counts as waiting.
    pub(crate) fn new(load: Load) -> LoadMeter {
        let now = Instant::now();
        LoadMeter {
            load,
            since: now,
            working: Duration::ZERO,
            mark: now,
        }
    }

    /// Work starts (the time since the last [`LoadMeter::idle`] was waiting).
    pub(crate) fn work(&mut self) {
        self.mark = Instant::now();
    }

    /// Work ends; publish the share when a window is complete.
    pub(crate) fn idle(&mut self) {
        let now = Instant::now();
        self.working += now - self.mark;
        let window = now - self.since;
        if window >= WINDOW {
            let share = self.working.as_secs_f64() / window.as_secs_f64();
            // a share is within 0 ..= 1: at most 1000
            let permille = (share.clamp(0.0, 1.0) * 1000.0).round() as u32;
            self.load.0.store(permille, Ordering::Relaxed);
            self.since = now;
            self.working = Duration::ZERO;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_of_working_time_is_published_per_window() {
        let load = Load::default();
        let mut meter = LoadMeter::new(load.clone());
        // all work, no waiting
        meter.work();
        std::thread::sleep(WINDOW + Duration::from_millis(5));
        meter.idle();
        assert!(load.busy() > 0.5, "{}", load.busy());
        // all waiting: the next window publishes (almost) nothing
        std::thread::sleep(WINDOW + Duration::from_millis(5));
        meter.work();
        meter.idle();
        assert!(load.busy() < 0.5, "{}", load.busy());
    }
}
