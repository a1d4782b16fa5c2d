//! Taking up queued runs: those queued by another process (`emit --queue`, an HTTP event) and
//! those abandoned by a process that died (their lease expired). Leases are renewed while
//! runs go on; a graceful shutdown waits for in-flight runs, then gives the rest back.

use super::context::{EventContext, Inputs};
use super::core::{Core, RunJob, event_value};
use super::error::EngineError;
use super::run_end::RunEnd;
use super::runlog::RunLog;
use crate::model::{DefinitionKind, RunRecord, RunTarget, Timestamp};
use std::sync::Arc;
use std::time::Duration;

/// Runs claimed at once.
const BATCH: u32 = 64;
/// Runs in flight per worker before a process stops claiming more.
const AHEAD: usize = 4;
/// How long a busy process waits before it looks again.
const BUSY: Duration = Duration::from_millis(5);
/// How often an idle worker looks for runs.
const IDLE: Duration = Duration::from_millis(100);
/// How often an idle worker looks for runs when the store tells of runs queued by any
/// process (PostgreSQL's `LISTEN`): a queued run wakes it at once; this is for leases that
/// expire, which nothing announces.
const IDLE_LISTENING: Duration = Duration::from_secs(1);
/// How often a worker looks for runs held by dead processes of this machine.
const DEAD_OWNERS_EVERY: Duration = Duration::from_secs(2);
/// How often the notes of finished runs' `db.exec` statements are forgotten.
const FORGET_EVERY: Duration = Duration::from_secs(60);

impl Core {
    fn lease_until(&self) -> Timestamp {
        Timestamp(Timestamp::now().0 + self.lease().as_micros() as i64)
    }

    /// Runs this process may claim now: no more than its workers can start soon, so that a
    /// long queue stays in the store (memory stays flat, and other processes share it).
    fn room(&self) -> u32 {
        let ahead = self.worker_count() * AHEAD;
        let room = ahead.saturating_sub(self.inflight().pending());
        u32::try_from(room).unwrap_or(BATCH).min(BATCH)
    }

    /// Claim what is claimable and start it; returns how many runs started (`None`: this
    /// process is busy and claimed nothing).
    pub async fn take_up(self: &Arc<Self>) -> Result<Option<usize>, EngineError> {
        let room = self.room();
        if room == 0 {
            return Ok(None);
        }
        let now = Timestamp::now();
        if !self.reader().has_claimable(now)? {
            return Ok(Some(0));
        }
        let owner = self.owner().to_string();
        let expires = self.lease_until();
        let claimed = self
            .writer()
            .call(move |s| s.claim_runs(&owner, now, expires, room))
            .await?;
        let n = claimed.len();
        if n > 0 {
            tracing::info!(runs = n, owner = self.owner(), "took up queued runs");
        }
        for run in claimed {
            match self.job_for(&run) {
                Ok(job) => self.spawn(job),
                Err(why) => {
                    tracing::warn!(run = run.id, why, "a claimed run cannot be resumed");
                    let end = RunEnd::failed(run.id, why);
                    self.end_run_and_wait(RunLog::recorded(run.id), end).await;
                }
            }
        }
        Ok(Some(n))
    }

    /// How to run a claimed run again.
    fn job_for(&self, run: &RunRecord) -> Result<RunJob, String> {
        let (kind, name) = match &run.target {
            RunTarget::Workflow(n) => (DefinitionKind::Workflow, n.clone()),
            RunTarget::Endpoint(n) => (DefinitionKind::Endpoint, n.clone()),
        };
        let Some(event_id) = run.event_id else {
            return Err(match kind {
                DefinitionKind::Endpoint => {
                    "the process answering this request stopped; the request is lost".into()
                }
                DefinitionKind::Workflow => {
                    "the debug session of this run ended with its process".into()
                }
            });
        };
        let reader = self.reader();
        let row = reader
            .find_definition(kind, &name)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{name} is no longer in the store"))?;
        let event = reader
            .event(event_id)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("event #{event_id} is no longer in the store"))?;
        Ok(RunJob {
            run_id: run.id,
            definition_id: row.id,
            kind,
            name,
            version: run.version,
            mode: run.mode,
            inputs: Inputs::workflow(event.record.params.clone(), event_value(&event.record)),
            event: Some(EventContext {
                id: Some(event.record.id),
                chain: event.chain.clone(),
                depth: event.record.depth,
            }),
            tracker: None,
            resumed: run.attempt > 1,
        })
    }

    /// End the leases of processes of this machine that are known to be dead, so that their
    /// runs are taken up now rather than when the leases expire. Returns how many runs.
    pub async fn take_over_dead(&self) -> Result<usize, EngineError> {
        let owners = self.reader().lease_owners(Timestamp::now())?;
        let dead: Vec<String> = owners
            .into_iter()
            .filter(|o| o != self.owner() && self.identity().knows_dead(o))
            .collect();
        if dead.is_empty() {
            return Ok(0);
        }
        let runs = self
            .writer()
            .call(move |s| {
                let mut runs = 0;
                for owner in &dead {
                    runs += s.expire_leases(owner)?;
                    tracing::info!(owner, "the process holding these runs is dead");
                }
                Ok(runs)
            })
            .await?;
        tracing::info!(runs, "took over the runs of dead processes of this machine");
        Ok(runs)
    }

    /// Forget the notes that made finished runs' `db.exec` statements happen once: a finished
    /// run never resumes.
    pub async fn forget_finished_effects(&self) -> Result<(), EngineError> {
        let first = self.reader().first_unfinished_run()?;
        match self.data().forget_done_before(first).await {
            Ok(n) if n > 0 => tracing::debug!(notes = n, "forgot notes of finished runs"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot forget notes of finished runs"),
        }
        Ok(())
    }

    /// Renew this process's leases.
    pub async fn renew(&self) -> Result<(), EngineError> {
        let owner = self.owner().to_string();
        let expires = self.lease_until();
        self.writer()
            .call(move |s| s.renew_leases(&owner, expires))
            .await?;
        Ok(())
    }
}

impl super::Engine {
    /// Take up queued and abandoned runs until `stop` resolves, renewing leases as it goes.
    pub async fn work_queue(&self, stop: impl std::future::Future<Output = ()>) {
        let core = self.core().clone();
        let renew_every = core.lease() / 3;
        let mut last_renew = std::time::Instant::now();
        let mut last_dead_look: Option<std::time::Instant> = None;
        let mut last_forget: Option<std::time::Instant> = None;
        core.set_working(true);
        let heard = core.reader().queued_runs_heard();
        tokio::pin!(stop);
        loop {
            if last_dead_look.is_none_or(|t| t.elapsed() >= DEAD_OWNERS_EVERY) {
                if let Err(e) = core.take_over_dead().await {
                    tracing::warn!(error = %e, "cannot look for runs of dead processes");
                }
                last_dead_look = Some(std::time::Instant::now());
            }
            if last_forget.is_none_or(|t| t.elapsed() >= FORGET_EVERY) {
                if let Err(e) = core.forget_finished_effects().await {
                    tracing::warn!(error = %e, "cannot forget notes of finished runs");
                }
                last_forget = Some(std::time::Instant::now());
            }
            let started = match core.take_up().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot take up queued runs");
                    Some(0)
                }
            };
            if last_renew.elapsed() >= renew_every {
                if let Err(e) = core.renew().await {
                    tracing::warn!(error = %e, "cannot renew leases");
                }
                last_renew = std::time::Instant::now();
            }
            let pause = match (started, &heard) {
                (None, _) => BUSY,
                (Some(0), None) => IDLE,
                (Some(0), Some(_)) => IDLE_LISTENING,
                (Some(_), _) => Duration::ZERO,
            };
            let commit_elsewhere = async {
                match &heard {
                    Some(heard) => heard.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = &mut stop => break,
                () = tokio::time::sleep(pause) => {}
                () = commit_elsewhere => {}
            }
        }
        core.set_working(false);
    }

    /// Stop gracefully: wait up to `grace` for in-flight runs, then give the rest back to the
    /// queue. Returns how many runs were given back.
    pub async fn shutdown(&self, grace: Duration) -> Result<usize, EngineError> {
        let inflight = self.core().inflight().clone();
        if tokio::time::timeout(grace, inflight.wait()).await.is_err() {
            let stopped = self.core().abort_all();
            tracing::info!(stopped, "the grace period ended; stopping in-flight runs");
        }
        // the records a full store still refuses are let go: their runs are given back
        // below, and run again by whoever takes them up
        self.core().writer().let_go_of_waiting();
        let owner = self.core().owner().to_string();
        let released = self
            .core()
            .writer()
            .call(move |s| s.release_leases(&owner))
            .await?;
        self.flush().await?;
        Ok(released)
    }
}
