//! A long benchmark's course over time (`--duration`): every interval, the store's size on
//! disk, the process's memory and the first step's p99 over that interval, so that a soak
//! shows whether they stay flat while retention prunes.

use super::stats::Histogram;
use super::timeline::Timeline;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The state of the benchmark at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct Sample {
    /// Seconds since the start.
    pub at_s: f64,
    /// Events emitted so far.
    pub events: u64,
    /// The store's file, in MB.
    pub store_mb: f64,
    /// Its write-ahead log, in MB.
    pub wal_mb: f64,
    /// The process's resident memory at that moment, in MB.
    pub rss_mb: f64,
    /// Emit → first step on disk, p99 over the interval that ended here, in ms.
    pub first_step_p99_ms: f64,
}

/// How often to sample a benchmark of `duration`: twenty samples, at least 5 s apart.
pub(crate) fn interval_for(duration: Duration) -> Duration {
    (duration / 20).max(Duration::from_secs(5))
}

/// Sample every `every` until `stop` says so (and once more then).
pub(crate) async fn sample(
    store: PathBuf,
    timeline: Arc<Timeline>,
    emitted: Arc<AtomicU64>,
    every: Duration,
    start: Instant,
    mut stop: watch::Receiver<bool>,
) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut last = Histogram::default();
    loop {
        let stopping = tokio::select! {
            () = tokio::time::sleep(every) => false,
            _ = stop.wait_for(|s| *s) => true,
        };
        let now = timeline.latencies().0.first_step;
        samples.push(Sample {
            at_s: start.elapsed().as_secs_f64(),
            events: emitted.load(Ordering::Relaxed),
            store_mb: file_bytes(&store) as f64 / 1e6,
            wal_mb: file_bytes(&wal_of(&store)) as f64 / 1e6,
            rss_mb: super::memory_mb("VmRSS:"),
            first_step_p99_ms: now.since(&last).percentiles().p99,
        });
        last = now;
        if stopping {
            return samples;
        }
    }
}

/// A file's size in bytes (0 when it is missing).
fn file_bytes(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The write-ahead log beside a store.
fn wal_of(store: &Path) -> PathBuf {
    let mut wal = store.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_samples_at_least_five_seconds_apart() {
        assert_eq!(
            interval_for(Duration::from_secs(600)),
            Duration::from_secs(30)
        );
        assert_eq!(
            interval_for(Duration::from_secs(10)),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn the_store_and_its_log_are_measured_apart() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        std::fs::write(&db, vec![0u8; 1000]).unwrap();
        std::fs::write(dir.path().join("s.db-wal"), vec![0u8; 24]).unwrap();
        assert_eq!(file_bytes(&db), 1000);
        assert_eq!(file_bytes(&wal_of(&db)), 24);
        assert_eq!(file_bytes(&dir.path().join("none")), 0);
        assert!(super::super::memory_mb("VmRSS:") > 0.0);
    }
}
