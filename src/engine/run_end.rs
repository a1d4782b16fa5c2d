//! How a run ends, and the one way its end is recorded: its outcome (succeeded, failed or
//! cancelled) becomes the run's status, output and error, written with its last step
//! records in one write.

use super::core::Core;
use super::interpreter::RunOutcome;
use super::runlog::RunLog;
use super::secrets::Secrets;
use crate::model::RunStatus;
use crate::store::HotWrites;
use crate::store::held::WriterStore;
use serde_json::Value;
use std::time::Instant;

/// How a run ended, as it is recorded (secrets masked) and as its caller needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEnd {
    /// Store id.
    pub run_id: i64,
    /// Final status.
    pub status: RunStatus,
    /// The run's output, when it succeeded.
    pub output: Option<Value>,
    /// The error, when it failed or was cancelled.
    pub error: Option<String>,
    /// HTTP status from `return` (endpoints).
    pub http_status: Option<u16>,
}

impl RunEnd {
    /// The end of a run whose interpreter stopped with `outcome` (`None`: it stopped
    /// without one, which is a failure), secrets masked.
    pub fn of(run_id: i64, outcome: Option<&RunOutcome>, secrets: &Secrets) -> RunEnd {
        let (status, output, error, http_status) = match outcome {
            Some(RunOutcome::Succeeded { output, status }) => {
                let mut output = output.clone();
                secrets.mask(&mut output);
                (RunStatus::Succeeded, Some(output), None, *status)
            }
            Some(RunOutcome::Failed { error, step }) => {
                let message = match step {
                    Some(s) => format!("step {s}: {error}"),
                    None => error.clone(),
                };
                (
                    RunStatus::Failed,
                    None,
                    Some(secrets.mask_text(&message)),
                    None,
                )
            }
            Some(RunOutcome::Cancelled { reason }) => (
                RunStatus::Cancelled,
                None,
                Some(secrets.mask_text(reason)),
                None,
            ),
            None => (
                RunStatus::Failed,
                None,
                Some("the run stopped without an outcome".into()),
                None,
            ),
        };
        RunEnd {
            run_id,
            status,
            output,
            error,
            http_status,
        }
    }

    /// A run that failed before it could run a step (its program could not be had, say).
    pub fn failed(run_id: i64, error: impl Into<String>) -> RunEnd {
        RunEnd {
            run_id,
            status: RunStatus::Failed,
            output: None,
            error: Some(error.into()),
            http_status: None,
        }
    }
}

impl Core {
    /// Record how a run ended, with its pending step records, in one write; `then` runs (on
    /// the writer thread: keep it short) once the end is on disk. This is the one way a run
    /// ends. When the end cannot be written, the failure is logged and `then` is dropped
    /// unrun.
    pub async fn end_run(&self, log: RunLog, end: &RunEnd, then: impl FnOnce() + Send + 'static) {
        let (run_id, has_steps) = (log.run_id, log.has_pending());
        let probe = self.probe().cloned();
        self.writer()
            .submit_then(
                "run end",
                end_write(log, end),
                Some(move || {
                    if let Some(p) = probe {
                        ended(p.as_ref(), run_id, has_steps);
                    }
                    then();
                }),
            )
            .await;
    }

    /// [`Core::end_run`], waiting until the end is on disk; returns `end`.
    pub async fn end_run_and_wait(&self, log: RunLog, end: RunEnd) -> RunEnd {
        let (done, written) = tokio::sync::oneshot::channel();
        self.end_run(log, &end, move || {
            let _ = done.send(());
        })
        .await;
        if written.await.is_err() {
            tracing::error!(run_id = end.run_id, "the end of a run was not written");
        }
        end
    }
}

/// The write that ends a run: its pending step records and its end.
fn end_write(
    log: RunLog,
    end: &RunEnd,
) -> impl Fn(&WriterStore<'_>) -> crate::store::Result<()> + Send + 'static {
    let RunLog {
        run_id,
        started_at,
        mut pending,
        ..
    } = log;
    let status = end.status;
    // in the records' buffer: what the writer frees is one allocation made on another core
    pending.set_end(end.output.as_ref(), end.error.as_deref());
    move |s| {
        s.insert_encoded_steps(run_id, &pending)?;
        let (output, error) = pending.end();
        s.finish_run_started(run_id, started_at, status, output, error)
    }
}

/// Tell the probe a run's end (and its last step records) are on disk.
fn ended(probe: &dyn super::probe::Probe, run_id: i64, has_steps: bool) {
    let now = Instant::now();
    if has_steps {
        probe.steps_committed(run_id, now);
    }
    probe.run_finished(run_id, now);
}
