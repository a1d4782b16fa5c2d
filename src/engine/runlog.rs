//! A live run's records on their way to the store. A run keeps its step records and sends
//! them together: when it ends (its whole life is then one write: steps and end), before a
//! step that may wait (`http`, `sleep`, a retry's backoff) so that the studio shows where it
//! waits, and every few milliseconds otherwise (every 20 while the writer is saturated, so
//! that a fast run's records go with its end). The writer group-commits them with other
//! runs' records.

use super::core::Core;
use crate::model::{StepRecord, Timestamp};
use crate::store::HotWrites;
use crate::store::steps::EncodedSteps;
use std::time::{Duration, Instant};

/// The longest a step record waits in a run before it is sent to the writer.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(2);
/// [`FLUSH_EVERY`] while the writer is saturated: a fast run's records then go with its
/// end, in one write instead of two or three.
pub(crate) const FLUSH_EVERY_SATURATED: Duration = Duration::from_millis(20);

/// Records of one run not yet sent to the writer.
#[derive(Debug)]
pub struct RunLog {
    pub(super) run_id: i64,
    /// When the run started, until its start (status `running`, its lease) is sent.
    pub(super) started_at: Option<Timestamp>,
    pub(super) pending: EncodedSteps,
    last_flush: Instant,
}

/// Whether records that have waited `waited` are to be sent now (`saturated` is asked only
/// when it decides).
fn flush_due(waited: Duration, saturated: impl FnOnce() -> bool) -> bool {
    waited >= FLUSH_EVERY && (waited >= FLUSH_EVERY_SATURATED || !saturated())
}

impl RunLog {
    /// A run starting now; nothing sent yet.
    pub fn new(run_id: i64) -> RunLog {
        RunLog {
            run_id,
            started_at: Some(Timestamp::now()),
            pending: EncodedSteps::default(),
            last_flush: Instant::now(),
        }
    }

    /// A run whose start (if it started) and steps were recorded as they happened (the
    /// debugger's).
    pub fn recorded(run_id: i64) -> RunLog {
        RunLog {
            started_at: None,
            ..RunLog::new(run_id)
        }
    }

    /// Whether step records wait to be sent.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }
}

impl Core {
    /// Secrets masked out of step records (every record of a run goes through here before
    /// it is recorded or shown).
    pub fn mask_records(&self, records: &mut [StepRecord]) {
        let secrets = &self.settings().secrets;
        if secrets.is_empty() {
            return;
        }
        for r in records {
            secrets.mask(&mut r.input);
            secrets.mask(&mut r.output);
            if let Some(v) = &mut r.vars {
                secrets.mask(v);
            }
            if let Some(e) = &mut r.error {
                *e = secrets.mask_text(e);
            }
        }
    }

    /// Add a step's records to the log; send the log if it has waited long enough.
    pub async fn log_steps(&self, log: &mut RunLog, records: Vec<StepRecord>) {
        self.add_records(log, records);
        if flush_due(log.last_flush.elapsed(), || self.writer().is_saturated()) {
            self.flush_log(log).await;
        }
    }

    /// Send step records of a run recorded as it goes (the debugger's) to the writer now.
    pub async fn record_steps(&self, run_id: i64, records: Vec<StepRecord>) {
        let mut log = RunLog::recorded(run_id);
        self.add_records(&mut log, records);
        self.flush_log(&mut log).await;
    }

    fn add_records(&self, log: &mut RunLog, mut records: Vec<StepRecord>) {
        self.mask_records(&mut records);
        for r in &records {
            log.pending.push(r);
        }
        log_lines(log.run_id, &records);
    }

    /// Send the run's start (once) and its pending step records to the writer.
    pub async fn flush_log(&self, log: &mut RunLog) {
        log.last_flush = Instant::now();
        if log.started_at.is_none() && log.pending.is_empty() {
            return;
        }
        let start = log.started_at.take().map(|at| {
            let lease_expires = Timestamp(Timestamp::now().0 + self.lease().as_micros() as i64);
            (at, self.owner().to_string(), lease_expires)
        });
        let steps = std::mem::take(&mut log.pending);
        let run_id = log.run_id;
        let has_steps = !steps.is_empty();
        let probe = self.probe().cloned().filter(|_| has_steps);
        self.writer()
            .submit_then(
                "run records",
                move |s| {
                    if let Some((at, owner, lease_expires)) = &start {
                        s.start_run_at(run_id, *at, owner, *lease_expires)?;
                    }
                    s.insert_encoded_steps(run_id, &steps)?;
                    Ok(())
                },
                probe.map(|p| move || p.steps_committed(run_id, Instant::now())),
            )
            .await;
    }
}

/// The lines of `log` steps, to the log file (their records masked already).
fn log_lines(run_id: i64, records: &[StepRecord]) {
    for r in records.iter().filter(|r| r.action == "log") {
        match &r.output {
            serde_json::Value::String(text) => {
                tracing::info!(run = run_id, step = %r.step, "{text}");
            }
            serde_json::Value::Null => {}
            other => tracing::info!(run = run_id, step = %r.step, "{other}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn records_wait_2_ms_or_20_while_the_writer_is_saturated() {
        assert!(!flush_due(MS, || false), "not yet");
        assert!(flush_due(2 * MS, || false));
        assert!(
            !flush_due(2 * MS, || true),
            "they can go with the run's end"
        );
        assert!(!flush_due(19 * MS, || true));
        assert!(flush_due(20 * MS, || true), "never longer than 20 ms");
    }

    #[test]
    fn the_writer_is_asked_only_when_it_decides() {
        let asked = std::cell::Cell::new(0);
        let ask = || {
            asked.set(asked.get() + 1);
            false
        };
        flush_due(MS, ask);
        flush_due(25 * MS, ask);
        assert_eq!(asked.get(), 0);
        flush_due(5 * MS, ask);
        assert_eq!(asked.get(), 1);
    }
}
