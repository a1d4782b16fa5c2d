//! The probe of a benchmark: each listener run's latencies (emit → first step on disk, emit →
//! end on disk), counted into histograms as the commits are reported. Memory follows the
//! runs in flight, not the runs measured.

use super::stats::Histogram;
use crate::engine::probe::Probe;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Reports about a run not registered yet are kept this long (a run of a cascade is never
/// registered: only the emitted event's own listener runs are).
const UNCLAIMED: Duration = Duration::from_secs(5);

/// One listener's histograms.
#[derive(Debug, Default, Clone)]
pub(crate) struct Latencies {
    /// Emit → the run's end committed.
    pub end: Histogram,
    /// Emit → its first step record committed.
    pub first_step: Histogram,
}

/// A registered run not finished yet.
#[derive(Debug)]
struct Pending {
    listener: Arc<str>,
    emitted: Instant,
    first_step_seen: bool,
}

/// Commits reported before the run was registered (its emit had not returned yet).
#[derive(Debug, Default)]
struct Early {
    first_step: Option<Instant>,
    end: Option<Instant>,
}

#[derive(Debug, Default)]
struct TimelineState {
    pending: FxHashMap<i64, Pending>,
    early: FxHashMap<i64, Early>,
    listeners: BTreeMap<Arc<str>, Latencies>,
    all: Latencies,
    registered: u64,
}

impl TimelineState {
    fn first_step(&mut self, listener: &Arc<str>, latency: Duration) {
        record(
            &mut self.all,
            &mut self.listeners,
            listener,
            |l| &mut l.first_step,
            latency,
        );
    }

    fn end(&mut self, listener: &Arc<str>, latency: Duration) {
        record(
            &mut self.all,
            &mut self.listeners,
            listener,
            |l| &mut l.end,
            latency,
        );
    }
}

/// Count `latency` into the histogram `which` of all listeners and of `listener` (its name
/// is copied in only the first time: this runs on the store's writer thread, for every
/// commit).
fn record(
    all: &mut Latencies,
    listeners: &mut BTreeMap<Arc<str>, Latencies>,
    listener: &Arc<str>,
    which: fn(&mut Latencies) -> &mut Histogram,
    latency: Duration,
) {
    which(all).record(latency);
    match listeners.get_mut(listener) {
        Some(l) => which(l).record(latency),
        None => {
            let mut l = Latencies::default();
            which(&mut l).record(latency);
            listeners.insert(Arc::clone(listener), l);
        }
    }
}

/// The latencies of the runs measured so far.
#[derive(Debug, Default)]
pub(crate) struct Timeline(Mutex<TimelineState>);

impl Timeline {
    fn lock(&self) -> MutexGuard<'_, TimelineState> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A run of `listener` whose event was emitted at `emitted`.
    pub(crate) fn register(&self, run_id: i64, listener: &Arc<str>, emitted: Instant) {
        let mut inner = self.lock();
        inner.registered += 1;
        if inner.registered.is_multiple_of(4096) {
            // reports about runs nobody will register (a cascade's)
            inner.early.retain(|_, e| {
                e.first_step
                    .or(e.end)
                    .is_some_and(|t| t.elapsed() < UNCLAIMED)
            });
        }
        let early = inner.early.remove(&run_id).unwrap_or_default();
        if let Some(at) = early.first_step {
            inner.first_step(listener, at.saturating_duration_since(emitted));
        }
        match early.end {
            Some(at) => inner.end(listener, at.saturating_duration_since(emitted)),
            None => {
                inner.pending.insert(
                    run_id,
                    Pending {
                        listener: listener.clone(),
                        emitted,
                        first_step_seen: early.first_step.is_some(),
                    },
                );
            }
        }
    }

    /// All listeners together, and each (by name).
    pub(crate) fn latencies(&self) -> (Latencies, BTreeMap<Arc<str>, Latencies>) {
        let inner = self.lock();
        (inner.all.clone(), inner.listeners.clone())
    }
}

impl Probe for Timeline {
    fn steps_committed(&self, run_id: i64, at: Instant) {
        let mut inner = self.lock();
        let TimelineState {
            pending,
            early,
            listeners,
            all,
            ..
        } = &mut *inner;
        match pending.get_mut(&run_id) {
            Some(p) if !p.first_step_seen => {
                p.first_step_seen = true;
                // the fields apart, so that the listener's name is borrowed, not cloned
                let latency = at.saturating_duration_since(p.emitted);
                record(all, listeners, &p.listener, |l| &mut l.first_step, latency);
            }
            Some(_) => {}
            None => {
                early
                    .entry(run_id)
                    .or_default()
                    .first_step
                    .get_or_insert(at);
            }
        }
    }

    fn run_finished(&self, run_id: i64, at: Instant) {
        let mut inner = self.lock();
        match inner.pending.remove(&run_id) {
            Some(p) => inner.end(&p.listener, at.saturating_duration_since(p.emitted)),
            None => inner.early.entry(run_id).or_default().end = Some(at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_reported_before_or_after_the_registration_count_once() {
        let t = Timeline::default();
        let name: Arc<str> = Arc::from("tally");
        let at = Instant::now();
        // registered first
        t.register(1, &name, at);
        t.steps_committed(1, at + Duration::from_millis(1));
        t.steps_committed(1, at + Duration::from_millis(2));
        t.run_finished(1, at + Duration::from_millis(3));
        // reported first
        t.steps_committed(2, at + Duration::from_millis(4));
        t.run_finished(2, at + Duration::from_millis(5));
        t.register(2, &name, at);
        // a cascade's run, never registered
        t.run_finished(3, at);
        let (all, per) = t.latencies();
        assert_eq!((all.end.len(), all.first_step.len()), (2, 2));
        assert_eq!(per[&name].end.percentiles().max, 5.0);
        assert_eq!(per[&name].first_step.percentiles().max, 4.0);
        let inner = t.lock();
        assert!(inner.pending.is_empty());
        assert_eq!(inner.early.len(), 1, "only the cascade's report waits");
    }
}
