//! `flowdeck bench`: a burst of events into the store's live workflows, in this process, with
//! throughput, the latency of every listener's run (emit → first step on disk, emit → end on
//! disk), peak memory and, on request, the SQLite ceiling of the same rows on the same disk.

pub(crate) mod ceiling;
pub(crate) mod ceiling_pg;
pub(crate) mod cpu;
pub(crate) mod soak;
pub(crate) mod stats;
pub(crate) mod steal;
pub(crate) mod timeline;

use crate::engine::{EmitRequest, Engine, EngineError, Tracker};
use crate::store::StoreError;
use crate::store::tallies::Written;
use serde::Serialize;
use serde_json::Value;
use stats::Percentiles;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use timeline::Timeline;
use tokio::sync::Semaphore;

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BenchError {
    /// Bad options.
    #[error("{0}")]
    Input(String),
    /// The engine refused.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The benchmark's own task ended abnormally (a bug: please report it).
    #[error("the benchmark's emitting task ended abnormally ({0}); please report this")]
    Task(String),
}

/// How fast to emit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// As fast as the engine takes them (with a bounded number of events in flight).
    Max,
    /// This many events per second, on a schedule that does not wait for slow emits.
    PerSecond(f64),
}

impl std::str::FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Rate, String> {
        if s == "max" {
            return Ok(Rate::Max);
        }
        match s.parse::<f64>() {
            Ok(r) if r.is_finite() && r > 0.0 => Ok(Rate::PerSecond(r)),
            _ => Err(format!(
                "{s:?} is not a rate: give events per second (a positive number) or `max`"
            )),
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct BenchOptions {
    /// The event.
    pub event: String,
    /// How many.
    pub events: usize,
    /// How fast.
    pub rate: Rate,
    /// Params of every event (an object).
    pub params: Value,
    /// Also measure the SQLite ceiling.
    pub baseline: bool,
    /// Emit for this long instead of `events` events (a soak), sampling as it goes.
    pub duration: Option<Duration>,
    /// Retention rules over the project's `[store]` ones, pruning while it runs.
    pub retention: crate::model::project::StoreSettings,
}

/// Events in flight at once under `--rate max` (each holds its runs until they end).
const WINDOW: usize = 256;

/// Latencies of one listener's runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ListenerLatency {
    /// The workflow.
    pub workflow: String,
    /// Its runs.
    pub runs: usize,
    /// Emit → the run's end committed.
    pub latency_ms: Percentiles,
    /// Emit → its first step record committed.
    pub first_step_ms: Percentiles,
}

/// The figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Report {
    /// The event.
    pub event: String,
    /// Where the record went: `sqlite` or `postgres`.
    pub store: &'static str,
    /// Events emitted.
    pub events: usize,
    /// Runs of the listeners (and of their cascades) that ran.
    pub runs: u64,
    /// Of them, failed.
    pub failed_runs: u64,
    /// Step records written.
    pub steps: u64,
    /// From the first emit to the last run's end on disk, in seconds.
    pub seconds: f64,
    /// Events per second.
    pub events_per_s: f64,
    /// Runs per second.
    pub runs_per_s: f64,
    /// Step records per second.
    pub steps_per_s: f64,
    /// Emit → run end committed, all listeners.
    pub latency_ms: Percentiles,
    /// Emit → first step record committed, all listeners.
    pub first_step_ms: Percentiles,
    /// The same, per listener.
    pub listeners: Vec<ListenerLatency>,
    /// The process's peak resident memory.
    pub peak_rss_mb: f64,
    /// Record rows written per second (events, runs, step records, skips).
    pub rows_per_s: f64,
    /// The bare loop's rows per second on the same disk (`--baseline`).
    pub ceiling_rows_per_s: Option<f64>,
    /// `rows_per_s` / `ceiling_rows_per_s`.
    pub ratio: Option<f64>,
    /// The share of the machine's CPU time the host took while the events ran, in percent
    /// (Linux; on a shared virtual machine the figures above move with it).
    pub steal_pct: Option<f64>,
    /// The same while the ceiling was measured.
    pub ceiling_steal_pct: Option<f64>,
    /// The process's CPU time (user and system, every thread) per event, in microseconds
    /// (Linux).
    pub cpu_us_per_event: Option<f64>,
    /// Whether retention pruned the store while it ran (the record counts above are then
    /// of what was left).
    pub pruning: bool,
    /// With `--duration`: the course of the store's size, memory and first-step p99.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<soak::Sample>,
    /// That CPU time over the wall time: how many cores the run kept busy (Linux).
    pub cores_busy: Option<f64>,
}

/// The CPU time stolen by the host since `before`, in percent.
fn stolen_since(before: Option<steal::CpuTimes>) -> Option<f64> {
    before?.steal_pct_until(&steal::CpuTimes::now()?)
}

/// This process's peak resident memory in MB (Linux; 0 elsewhere).
pub(crate) fn peak_rss_mb() -> f64 {
    memory_mb("VmHWM:")
}

/// A memory figure of this process (`VmHWM:`, `VmRSS:`, … in `/proc/self/status`) in MB
/// (Linux; 0 elsewhere).
pub(crate) fn memory_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Check that `event` has a live, active listener.
fn check_listeners(engine: &Engine, event: &str) -> Result<(), BenchError> {
    let listeners = engine.store().live_listeners(event)?;
    if !listeners.iter().any(|l| l.active && l.deployed) {
        let why = if listeners.is_empty() {
            "no workflow listens to it".to_string()
        } else {
            format!(
                "its listeners ({}) are inactive or not deployed",
                listeners
                    .iter()
                    .map(|l| &*l.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        return Err(BenchError::Input(format!(
            "cannot bench {event:?}: {why}; deploy and switch on a workflow that listens to it"
        )));
    }
    Ok(())
}

/// Emit the events of `options`, each tracked until its runs end on disk; the first error,
/// if any (emitting stops at it).
async fn emit_all(
    engine: Engine,
    options: BenchOptions,
    timeline: Arc<Timeline>,
    start: Instant,
    emitted: Arc<AtomicU64>,
) -> Option<EngineError> {
    let BenchOptions {
        event,
        events,
        rate,
        params,
        duration,
        ..
    } = options;
    let until = duration.map(|d| start + d);
    // sent as text, as `serve` and `emit` receive an event from outside
    let params = crate::model::json_text(&params);
    let window = Arc::new(Semaphore::new(match rate {
        Rate::Max => WINDOW,
        Rate::PerSecond(_) => Semaphore::MAX_PERMITS,
    }));
    let mut tasks = tokio::task::JoinSet::new();
    let mut first_error: Option<EngineError> = None;
    for i in 0.. {
        if until.is_none() && i >= events {
            break;
        }
        if let Rate::PerSecond(r) = rate {
            let due = start + Duration::from_secs_f64(i as f64 / r);
            if until.is_some_and(|u| due >= u) {
                break;
            }
            tokio::time::sleep_until(due.into()).await;
        } else if until.is_some_and(|u| Instant::now() >= u) {
            break;
        }
        let Ok(permit) = window.clone().acquire_owned().await else {
            break;
        };
        let (engine, timeline) = (engine.clone(), timeline.clone());
        let request = EmitRequest::with_text(event.clone(), params.clone(), "bench");
        emitted.fetch_add(1, Ordering::Relaxed);
        tasks.spawn(async move {
            let _permit = permit;
            let tracker = Tracker::new();
            let at = Instant::now();
            let dispatched = engine.emit(request, Some(tracker.clone())).await?;
            for run in &dispatched.runs {
                // the listener cache's name, shared
                timeline.register(run.run_id, &run.name, at);
            }
            tracker.wait().await;
            Ok::<(), EngineError>(())
        });
        // collect finished tasks as we go, so the set stays small
        while let Some(done) = tasks.try_join_next() {
            if let Ok(Err(e)) = done {
                first_error.get_or_insert(e);
            }
        }
        if first_error.is_some() {
            break;
        }
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok(Err(e)) = done {
            first_error.get_or_insert(e);
        }
    }
    first_error
}

/// Run the benchmark on `engine` (whose store is at `store_path`).
pub(crate) async fn run(
    engine: &Engine,
    store_path: &Path,
    options: &BenchOptions,
) -> Result<Report, BenchError> {
    if !options.params.is_object() {
        return Err(BenchError::Input(format!(
            "--params must be a JSON object, got {}",
            options.params
        )));
    }
    if options.events == 0 && options.duration.is_none() {
        return Err(BenchError::Input("--events must be at least 1".into()));
    }
    if options.duration.is_some_and(|d| d.is_zero()) {
        return Err(BenchError::Input(
            "--duration must be longer than 0s".into(),
        ));
    }
    check_listeners(engine, &options.event)?;
    let timeline = Arc::new(Timeline::default());
    if !engine.core().set_probe(timeline.clone()) {
        return Err(BenchError::Input(
            "this engine is already being measured".into(),
        ));
    }
    let before = engine.store().marks()?;
    let cpu_before = steal::CpuTimes::now();
    let process_before = cpu::process_cpu();
    let start = Instant::now();
    // the emitting loop runs on the runtime's workers, as a server's handlers would: a
    // finished event's permit then wakes it on the same worker, not the thread blocked on
    // the benchmark (a futex wake-up per event)
    let emitted = Arc::new(AtomicU64::new(0));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let project_rules = engine.store().project()?.config.store;
    let rules = crate::engine::retention::rules_of(options.retention, project_rules);
    let pruning = !rules.is_unset();
    let pruner = pruning.then(|| {
        let (engine, mut stopped) = (engine.clone(), stopped.clone());
        tokio::spawn(async move {
            engine
                .keep_retention(rules, async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
        })
    });
    let sampler = options.duration.map(|d| {
        tokio::spawn(soak::sample(
            store_path.to_path_buf(),
            timeline.clone(),
            emitted.clone(),
            soak::interval_for(d),
            start,
            stopped.clone(),
        ))
    });
    let emitting = tokio::spawn(emit_all(
        engine.clone(),
        options.clone(),
        timeline.clone(),
        start,
        emitted.clone(),
    ));
    let first_error = emitting
        .await
        .map_err(|e| BenchError::Task(e.to_string()))?;
    engine.core().writer().flush().await?;
    let elapsed = start.elapsed();
    let _ = stop.send(true);
    let samples = match sampler {
        Some(task) => task.await.map_err(|e| BenchError::Task(e.to_string()))?,
        None => Vec::new(),
    };
    if let Some(task) = pruner {
        task.await.map_err(|e| BenchError::Task(e.to_string()))?;
    }
    let sent = usize::try_from(emitted.load(Ordering::Relaxed)).unwrap_or(usize::MAX);
    let steal_pct = stolen_since(cpu_before);
    let cpu_used = process_before
        .zip(cpu::process_cpu())
        .and_then(|(before, after)| after.checked_sub(before));
    if let Some(e) = first_error {
        return Err(e.into());
    }
    let Written {
        events,
        runs,
        failed: failed_runs,
        steps,
        skips,
    } = engine.store().written_after(before)?;
    let rows = events + runs + steps + skips;

    let (all, per) = timeline.latencies();
    let listeners = per
        .into_iter()
        .map(|(name, l)| ListenerLatency {
            workflow: name.to_string(),
            runs: usize::try_from(l.end.len()).unwrap_or(usize::MAX),
            latency_ms: l.end.percentiles(),
            first_step_ms: l.first_step.percentiles(),
        })
        .collect();
    let seconds = elapsed.as_secs_f64().max(1e-9);
    let rows_per_s = rows as f64 / seconds;
    let mut report = Report {
        event: options.event.clone(),
        store: if engine.store().is_postgres() {
            "postgres"
        } else {
            "sqlite"
        },
        events: sent,
        runs,
        failed_runs,
        steps,
        seconds,
        events_per_s: sent as f64 / seconds,
        runs_per_s: runs as f64 / seconds,
        steps_per_s: steps as f64 / seconds,
        latency_ms: all.end.percentiles(),
        first_step_ms: all.first_step.percentiles(),
        listeners,
        peak_rss_mb: peak_rss_mb(),
        rows_per_s,
        ceiling_rows_per_s: None,
        ratio: None,
        steal_pct,
        ceiling_steal_pct: None,
        cpu_us_per_event: cpu_used.map(|c| c.as_secs_f64() * 1e6 / sent.max(1) as f64),
        cores_busy: cpu_used.map(|c| c.as_secs_f64() / seconds),
        pruning,
        samples,
    };
    if options.baseline {
        let last_event = engine
            .store()
            .last_bench_event(&options.event)?
            .ok_or_else(|| BenchError::Input("the benchmark recorded no event".into()))?;
        let path = store_path.to_path_buf();
        let n = sent;
        let cpu_before = steal::CpuTimes::now();
        let on_postgres = engine.store().is_postgres();
        let ceiling = tokio::task::spawn_blocking(move || match path.to_str() {
            Some(url) if on_postgres => ceiling_pg::measure(url, last_event, n),
            _ => ceiling::measure(&path, last_event, n),
        })
        .await
        .map_err(|e| BenchError::Input(format!("the ceiling measurement stopped: {e}")))??;
        report.ceiling_rows_per_s = Some(ceiling.rows_per_s());
        report.ratio = Some(rows_per_s / ceiling.rows_per_s());
        report.ceiling_steal_pct = stolen_since(cpu_before);
    }
    Ok(report)
}
