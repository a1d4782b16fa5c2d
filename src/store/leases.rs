//! Leases: which process runs which queued run. A run is taken up by one process at a time
//! (the claim is one UPDATE under SQLite's write lock), held for a while, renewed while it
//! runs, and taken up again by anyone once the lease has expired (its process died).

use super::runs::{RUN_COLUMNS, finish_raw, raw_run};
use super::{Result, Store};
use crate::model::{RunRecord, RunStatus, Timestamp};
use rusqlite::params;

impl Store {
    /// Whether any run is waiting to be taken up (a cheap read before a claim).
    pub fn has_claimable(&self, now: Timestamp) -> Result<bool> {
        if let Some(pg) = self.postgres() {
            return pg.has_claimable(now);
        }
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM runs WHERE finished_at IS NULL AND status IN ('queued', 'running')
                    AND (lease_owner IS NULL OR lease_expires < ?1))",
            )?
            .query_row(params![now.0], |r| r.get(0))?)
    }

    /// Take up to `limit` runs that nobody holds (queued without an owner, or held by a lease
    /// that expired): they become `owner`'s until `expires`. A run taken up again after its
    /// process died starts over: its attempt count goes up and its old step records go. (A
    /// held run counts as begun even when its start was not recorded: a fast run's start goes
    /// with its end, and its steps may have had effects.)
    pub fn claim_runs(
        &self,
        owner: &str,
        now: Timestamp,
        expires: Timestamp,
        limit: u32,
    ) -> Result<Vec<RunRecord>> {
        if let Some(pg) = self.postgres() {
            return pg.claim_runs(owner, now, expires, limit);
        }
        // RETURNING names the updated table itself (no alias): the same columns, in the same order
        let columns = RUN_COLUMNS.replace("r.", "runs.");
        let sql = format!(
            "UPDATE runs SET lease_owner = ?1, lease_expires = ?2,
                    attempt = attempt + (status = 'running' OR lease_owner IS NOT NULL), status = 'queued'
              WHERE id IN (SELECT id FROM runs WHERE finished_at IS NULL AND status IN ('queued', 'running')
                           AND (lease_owner IS NULL OR lease_expires < ?3) ORDER BY id LIMIT ?4)
              RETURNING {columns}"
        );
        let raw = self
            .conn()
            .prepare_cached(&sql)?
            .query_map(params![owner, expires.0, now.0, limit], raw_run)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let runs = raw
            .into_iter()
            .map(finish_raw)
            .collect::<Result<Vec<_>>>()?;
        for run in runs.iter().filter(|r| r.attempt > 1) {
            self.forget_records(run.id)?;
        }
        Ok(runs)
    }

    /// The owners holding unexpired leases on unfinished runs.
    pub fn lease_owners(&self, now: Timestamp) -> Result<Vec<String>> {
        if let Some(pg) = self.postgres() {
            return pg.lease_owners(now);
        }
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT DISTINCT lease_owner FROM runs
                  WHERE finished_at IS NULL AND lease_owner IS NOT NULL AND lease_expires >= ?1",
            )?
            .query_map(params![now.0], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// End `owner`'s leases now (its process is known to be dead): its runs can be claimed
    /// at once. Returns how many runs it held.
    pub fn expire_leases(&self, owner: &str) -> Result<usize> {
        if let Some(pg) = self.postgres() {
            return pg.expire_leases(owner);
        }
        Ok(self
            .conn()
            .prepare_cached(
                "UPDATE runs SET lease_expires = 0
                  WHERE finished_at IS NULL AND lease_owner = ?1",
            )?
            .execute(params![owner])?)
    }

    /// Extend `owner`'s leases on its unfinished runs.
    pub fn renew_leases(&self, owner: &str, expires: Timestamp) -> Result<usize> {
        if let Some(pg) = self.postgres() {
            return pg.renew_leases(owner, expires);
        }
        Ok(self
            .conn()
            .prepare_cached(
                "UPDATE runs SET lease_expires = ?2
                  WHERE finished_at IS NULL AND lease_owner = ?1 AND status IN ('queued', 'running', 'paused')",
            )?
            .execute(params![owner, expires.0])?)
    }

    /// Give `owner`'s unfinished runs back to the queue (a graceful shutdown): another
    /// process, or this one restarted, runs them from the start.
    pub fn release_leases(&self, owner: &str) -> Result<usize> {
        if let Some(pg) = self.postgres() {
            return pg.release_leases(owner);
        }
        let released: Vec<(i64, bool)> = self
            .conn()
            .prepare_cached(
                "UPDATE runs SET lease_owner = NULL, lease_expires = NULL, status = 'queued',
                        attempt = attempt + (status = 'running')
                  WHERE finished_at IS NULL AND lease_owner = ?1 AND status IN ('queued', 'running')
                  RETURNING id, attempt > 1",
            )?
            .query_map(params![owner], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (id, started) in &released {
            if *started {
                // it starts over: the records of the interrupted execution go
                self.forget_records(*id)?;
            }
        }
        Ok(released.len())
    }

    /// The first run that may still resume: the lowest unfinished run's id, or one past the
    /// last run when every run is finished.
    pub fn first_unfinished_run(&self) -> Result<i64> {
        if let Some(pg) = self.postgres() {
            return pg.first_unfinished_run();
        }
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT coalesce((SELECT min(id) FROM runs WHERE finished_at IS NULL),
                                 (SELECT coalesce(max(id), 0) + 1 FROM runs))",
            )?
            .query_row([], |r| r.get(0))?)
    }

    /// Runs queued or running (for health checks).
    pub fn count_unfinished(&self) -> Result<i64> {
        if let Some(pg) = self.postgres() {
            return pg.count_unfinished();
        }
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT count(*) FROM runs WHERE finished_at IS NULL AND status IN (?1, ?2)",
            )?
            .query_row(
                params![RunStatus::Queued.as_str(), RunStatus::Running.as_str()],
                |r| r.get(0),
            )?)
    }

    /// Remove the step records of run `id` (and the values they shared): it starts over.
    fn forget_records(&self, id: i64) -> Result<()> {
        for sql in [
            "DELETE FROM steps WHERE run_id = ?1",
            "DELETE FROM step_values WHERE run_id = ?1",
        ] {
            self.conn().prepare_cached(sql)?.execute(params![id])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{temp_store, workflow_w};

    #[test]
    fn runs_of_a_dead_process_start_over_and_count_an_attempt() {
        let (_d, store) = temp_store();
        workflow_w(&store);
        store
            .conn()
            .execute_batch(
                "-- held by a process that died: one whose start was recorded, one whose start
                 -- would have gone with its end, and one nobody held (queued for anyone)
                 INSERT INTO runs (id, definition_id, kind, target, mode, status, params, lease_owner, lease_expires, queued_at)
                   VALUES (1, 1, 'workflow', 'w', 'live', 'running', '{}', 'dead', 10, 0),
                          (2, 1, 'workflow', 'w', 'live', 'queued', '{}', 'dead', 10, 0),
                          (3, 1, 'workflow', 'w', 'live', 'queued', '{}', NULL, NULL, 0),
                          (4, 1, 'workflow', 'w', 'live', 'queued', '{}', 'alive', 1000, 0);
                 INSERT INTO steps (run_id, seq, step, path, action, status, input, output, attempt, started_at, duration_us)
                   VALUES (1, 1, 'a', '/steps/0', 'set', 'succeeded', '{}', '{}', 1, 0, 1);",
            )
            .unwrap();
        let claimed = store
            .claim_runs("me", Timestamp(100), Timestamp(200), 10)
            .unwrap();
        let got: Vec<(i64, u32)> = claimed.iter().map(|r| (r.id, r.attempt)).collect();
        assert_eq!(got, [(1, 2), (2, 2), (3, 1)], "run 4's lease still holds");
        assert!(
            store.steps_of(1).unwrap().is_empty(),
            "the old attempt's records go"
        );
        assert!(claimed.iter().all(|r| r.status == RunStatus::Queued));
    }
}
