//! Leases on PostgreSQL (the SQLite room's `store::leases`): which server runs which queued
//! run. Any number of servers claim at once: a claim locks the runs it takes
//! (`FOR UPDATE SKIP LOCKED`), so that a run another claim holds is passed over, never
//! given twice.

use super::runs::{finished_runs, run_columns};
use super::{PgStore, column};
use crate::model::{RunRecord, RunStatus, Timestamp};
use crate::store::Result;

impl PgStore {
    /// Whether any run is waiting to be taken up (a cheap read before a claim).
    pub(crate) fn has_claimable(&self, now: Timestamp) -> Result<bool> {
        let row = self.query_one(
            "SELECT EXISTS (SELECT 1 FROM runs WHERE finished_at IS NULL AND status IN ('queued', 'running')
                AND (lease_owner IS NULL OR lease_expires < $1))",
            &[&now.0],
        )?;
        column(&row, 0)
    }

    /// Take up to `limit` runs that nobody holds (queued without an owner, or held by a
    /// lease that expired), in id order: they become `owner`'s until `expires`. The
    /// candidates are locked as they are chosen, and those another claim has locked are
    /// skipped: two servers claiming at once never get the same run (a run another claim
    /// took and committed meanwhile is checked again, and is no longer free). A run taken
    /// up again starts over: its attempt count goes up and its old step records go.
    pub(crate) fn claim_runs(
        &self,
        owner: &str,
        now: Timestamp,
        expires: Timestamp,
        limit: u32,
    ) -> Result<Vec<RunRecord>> {
        let limit = i64::from(limit);
        let rows = self.query(
            concat!(
                "UPDATE runs r SET lease_owner = $1, lease_expires = $2,
                        attempt = r.attempt + CASE WHEN r.status = 'running' OR r.lease_owner IS NOT NULL
                                                   THEN 1 ELSE 0 END,
                        status = 'queued'
                  WHERE r.id IN (SELECT c.id FROM runs c
                                  WHERE c.finished_at IS NULL AND c.status IN ('queued', 'running')
                                    AND (c.lease_owner IS NULL OR c.lease_expires < $3)
                                  ORDER BY c.id LIMIT $4
                                  FOR UPDATE SKIP LOCKED)
                  RETURNING ",
                run_columns!()
            ),
            &[&owner, &expires.0, &now.0, &limit],
        )?;
        let mut runs = finished_runs(&rows)?;
        // RETURNING gives no order
        runs.sort_by_key(|r| r.id);
        for run in runs.iter().filter(|r| r.attempt > 1) {
            self.forget_records(run.id)?;
        }
        Ok(runs)
    }

    /// The owners holding unexpired leases on unfinished runs (in order).
    pub(crate) fn lease_owners(&self, now: Timestamp) -> Result<Vec<String>> {
        let rows = self.query(
            "SELECT DISTINCT lease_owner COLLATE \"C\" FROM runs
              WHERE finished_at IS NULL AND lease_owner IS NOT NULL AND lease_expires >= $1
              ORDER BY 1",
            &[&now.0],
        )?;
        rows.iter().map(|r| column(r, 0)).collect()
    }

    /// End `owner`'s leases now (its process is known to be dead): its runs can be
    /// claimed at once. Returns how many runs it held.
    pub(crate) fn expire_leases(&self, owner: &str) -> Result<usize> {
        let n = self.execute(
            "UPDATE runs SET lease_expires = 0 WHERE finished_at IS NULL AND lease_owner = $1",
            &[&owner],
        )?;
        if n > 0 {
            self.note_queued();
        }
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// Extend `owner`'s leases on its unfinished runs.
    pub(crate) fn renew_leases(&self, owner: &str, expires: Timestamp) -> Result<usize> {
        let n = self.execute(
            "UPDATE runs SET lease_expires = $2
              WHERE finished_at IS NULL AND lease_owner = $1 AND status IN ('queued', 'running', 'paused')",
            &[&owner, &expires.0],
        )?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// Give `owner`'s unfinished runs back to the queue (a graceful shutdown): a run that
    /// had begun starts over, with its records gone.
    pub(crate) fn release_leases(&self, owner: &str) -> Result<usize> {
        let rows = self.query(
            "UPDATE runs SET lease_owner = NULL, lease_expires = NULL, status = 'queued',
                    attempt = attempt + CASE WHEN status = 'running' THEN 1 ELSE 0 END
              WHERE finished_at IS NULL AND lease_owner = $1 AND status IN ('queued', 'running')
              RETURNING id, attempt > 1",
            &[&owner],
        )?;
        for row in &rows {
            if column::<bool>(row, 1)? {
                // it starts over: the records of the interrupted execution go
                self.forget_records(column(row, 0)?)?;
            }
        }
        if !rows.is_empty() {
            self.note_queued();
        }
        Ok(rows.len())
    }

    /// The first run that may still resume: the lowest unfinished run's id, or one past
    /// the last run when every run is finished.
    pub(crate) fn first_unfinished_run(&self) -> Result<i64> {
        let row = self.query_one(
            "SELECT coalesce((SELECT min(id) FROM runs WHERE finished_at IS NULL),
                             (SELECT coalesce(max(id), 0) + 1 FROM runs))",
            &[],
        )?;
        column(&row, 0)
    }

    /// Runs queued or running (for health checks).
    pub(crate) fn count_unfinished(&self) -> Result<i64> {
        let row = self.query_one(
            "SELECT count(*) FROM runs WHERE finished_at IS NULL AND status IN ($1, $2)",
            &[&RunStatus::Queued.as_str(), &RunStatus::Running.as_str()],
        )?;
        column(&row, 0)
    }

    /// Remove the step records of run `id` and the values they shared: it starts over
    /// (its pin, the user's, stays).
    fn forget_records(&self, id: i64) -> Result<()> {
        self.execute("DELETE FROM steps WHERE run_id = $1", &[&id])?;
        self.execute("DELETE FROM step_values WHERE run_id = $1", &[&id])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::column;
    use super::super::runs::tests::workflow_w;
    use super::super::scratch::scratch_store;
    use crate::model::{RunStatus, Timestamp};
    use crate::store::{HotWrites, Store};
    use std::path::Path;

    /// `n` runs of workflow 1 nobody holds, ids 1 to `n`.
    fn queued(store: &Store, n: i64) {
        for id in 1..=n {
            store
                .postgres()
                .unwrap()
                .execute(
                    "INSERT INTO runs (id, definition_id, kind, target, mode, status, params, queued_at)
                       VALUES ($1, 1, 'workflow', 'w', 'live', 'queued', '{}', 0)",
                    &[&id],
                )
                .unwrap();
        }
    }

    fn steps_of_run_1(store: &Store) -> (i64, i64) {
        let row = store
            .postgres()
            .unwrap()
            .query_one(
                "SELECT (SELECT count(*) FROM steps WHERE run_id = 1),
                        (SELECT count(*) FROM step_values WHERE run_id = 1)",
                &[],
            )
            .unwrap();
        (column(&row, 0).unwrap(), column(&row, 1).unwrap())
    }

    #[test]
    fn runs_of_a_dead_process_start_over_and_count_an_attempt() {
        let Some((_db, store)) =
            scratch_store("runs_of_a_dead_process_start_over_and_count_an_attempt")
        else {
            return;
        };
        workflow_w(&store);
        store
            .postgres()
            .unwrap()
            .batch(
                "-- held by a process that died: one whose start was recorded, one whose start
                 -- would have gone with its end, and one nobody held (queued for anyone)
                 INSERT INTO runs (id, definition_id, kind, target, mode, status, params, lease_owner, lease_expires, queued_at)
                   VALUES (1, 1, 'workflow', 'w', 'live', 'running', '{}', 'dead', 10, 0),
                          (2, 1, 'workflow', 'w', 'live', 'queued', '{}', 'dead', 10, 0),
                          (3, 1, 'workflow', 'w', 'live', 'queued', '{}', NULL, NULL, 0),
                          (4, 1, 'workflow', 'w', 'live', 'queued', '{}', 'alive', 1000, 0);
                 INSERT INTO steps (run_id, seq, step, path, action, status, input, output, attempt, started_at, duration_us)
                   VALUES (1, 1, 'a', '/steps/0', 'set', 'succeeded', '\\x7b7d', '\\x7b7d', 1, 0, 1);
                 INSERT INTO step_values (run_id, hash, body) VALUES (1, 7, '{}');
                 INSERT INTO pins (run_id, pinned_at) VALUES (1, 0);",
            )
            .unwrap();
        assert!(store.has_claimable(Timestamp(100)).unwrap());
        assert_eq!(store.count_unfinished().unwrap(), 4);
        assert_eq!(store.lease_owners(Timestamp(100)).unwrap(), vec!["alive"]);
        assert_eq!(
            store.lease_owners(Timestamp(5)).unwrap(),
            vec!["alive", "dead"]
        );
        let claimed = store
            .claim_runs("me", Timestamp(100), Timestamp(200), 10)
            .unwrap();
        let got: Vec<(i64, u32)> = claimed.iter().map(|r| (r.id, r.attempt)).collect();
        assert_eq!(got, [(1, 2), (2, 2), (3, 1)], "run 4's lease still holds");
        assert_eq!(
            steps_of_run_1(&store),
            (0, 0),
            "the old attempt's records go"
        );
        let pinned: i64 = column(
            &store
                .postgres()
                .unwrap()
                .query_one("SELECT count(*) FROM pins WHERE run_id = 1", &[])
                .unwrap(),
            0,
        )
        .unwrap();
        assert_eq!(pinned, 1, "its pin stays");
        assert!(claimed.iter().all(|r| r.status == RunStatus::Queued));
        assert!(!store.has_claimable(Timestamp(100)).unwrap());
        assert_eq!(store.first_unfinished_run().unwrap(), 1);
    }

    #[test]
    fn leases_are_renewed_expired_and_released() {
        let Some((_db, store)) = scratch_store("leases_are_renewed_expired_and_released") else {
            return;
        };
        workflow_w(&store);
        assert_eq!(store.first_unfinished_run().unwrap(), 1, "none yet");
        queued(&store, 3);
        let claimed = store
            .claim_runs("me", Timestamp(0), Timestamp(10), 2)
            .unwrap();
        assert_eq!(claimed.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 2]);
        store.start_run(1, "me", Timestamp(10)).unwrap();
        assert_eq!(store.renew_leases("me", Timestamp(500)).unwrap(), 2);
        assert_eq!(store.lease_owners(Timestamp(400)).unwrap(), vec!["me"]);
        let taken = store
            .claim_runs("you", Timestamp(400), Timestamp(900), 10)
            .unwrap();
        assert_eq!(
            taken.iter().map(|r| r.id).collect::<Vec<_>>(),
            [3],
            "the renewed leases hold"
        );
        // a graceful shutdown gives them back; the one that had begun starts over
        store
            .postgres()
            .unwrap()
            .batch(
                "INSERT INTO step_values (run_id, hash, body) VALUES (1, 7, '{}');
                 INSERT INTO steps (run_id, seq, step, path, action, status, input, output, attempt, started_at, duration_us)
                   VALUES (1, 1, 'a', '/steps/0', 'set', 'succeeded', '\\x7b7d', '\\x7b7d', 1, 0, 1);",
            )
            .unwrap();
        assert_eq!(store.release_leases("me").unwrap(), 2);
        assert_eq!(steps_of_run_1(&store), (0, 0));
        let run = store.run(1).unwrap().unwrap();
        assert_eq!((run.status, run.attempt), (RunStatus::Queued, 2));
        assert_eq!(store.run(2).unwrap().unwrap().attempt, 1);
        // a dead owner's leases end at once
        assert_eq!(store.expire_leases("you").unwrap(), 1);
        assert!(store.lease_owners(Timestamp(1)).unwrap().is_empty());
        store
            .finish_run_started(1, None, RunStatus::Succeeded, None, None)
            .unwrap();
        assert_eq!(store.first_unfinished_run().unwrap(), 2);
        assert_eq!(store.count_unfinished().unwrap(), 2);
    }

    #[test]
    fn an_expired_lease_is_taken_again_with_one_more_attempt() {
        let Some((_db, store)) =
            scratch_store("an_expired_lease_is_taken_again_with_one_more_attempt")
        else {
            return;
        };
        workflow_w(&store);
        queued(&store, 1);
        let first = store
            .claim_runs("a", Timestamp(0), Timestamp(10), 5)
            .unwrap();
        assert_eq!((first[0].id, first[0].attempt), (1, 1));
        assert!(
            store
                .claim_runs("b", Timestamp(5), Timestamp(20), 5)
                .unwrap()
                .is_empty(),
            "the lease still holds"
        );
        let again = store
            .claim_runs("b", Timestamp(11), Timestamp(30), 5)
            .unwrap();
        assert_eq!((again[0].id, again[0].attempt), (1, 2));
        let owner: String = column(
            &store
                .postgres()
                .unwrap()
                .query_one("SELECT lease_owner FROM runs WHERE id = 1", &[])
                .unwrap(),
            0,
        )
        .unwrap();
        assert_eq!(owner, "b");
    }

    #[test]
    fn two_servers_claiming_at_once_never_take_the_same_run() {
        let Some((db, store)) =
            scratch_store("two_servers_claiming_at_once_never_take_the_same_run")
        else {
            return;
        };
        workflow_w(&store);
        queued(&store, 40);
        let barrier = std::sync::Barrier::new(2);
        let taken: Vec<Vec<i64>> = std::thread::scope(|s| {
            let handles: Vec<_> = ["a", "b"]
                .into_iter()
                .map(|owner| {
                    let barrier = &barrier;
                    let url = db.url().to_string();
                    s.spawn(move || {
                        let mut store = Store::open(Path::new(&url)).unwrap();
                        barrier.wait();
                        let mut mine = Vec::new();
                        loop {
                            let got = store
                                .transaction(|s| {
                                    let runs =
                                        s.claim_runs(owner, Timestamp(0), Timestamp(1_000), 3)?;
                                    // hold the locks a while, as a server's transaction does
                                    std::thread::sleep(std::time::Duration::from_millis(5));
                                    Ok(runs)
                                })
                                .unwrap();
                            if got.is_empty() {
                                break;
                            }
                            mine.extend(got.iter().map(|r| r.id));
                        }
                        mine
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut all: Vec<i64> = taken.iter().flatten().copied().collect();
        all.sort_unstable();
        let before = all.len();
        all.dedup();
        assert_eq!(before, all.len(), "a run was given twice: {taken:?}");
        assert_eq!(all, (1..=40).collect::<Vec<_>>(), "together they took all");
        assert!(!store.has_claimable(Timestamp(0)).unwrap());
    }

    #[test]
    fn a_claim_passes_over_the_runs_another_claim_holds_without_waiting() {
        let Some((db, store)) =
            scratch_store("a_claim_passes_over_the_runs_another_claim_holds_without_waiting")
        else {
            return;
        };
        workflow_w(&store);
        queued(&store, 5);
        let other = Store::open(Path::new(db.url())).unwrap();
        store.begin_write().unwrap();
        let held = store
            .claim_runs("a", Timestamp(0), Timestamp(10), 2)
            .unwrap();
        assert_eq!(held.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 2]);
        // not committed: the other server skips the locked runs instead of waiting on them
        let rest = other
            .claim_runs("b", Timestamp(0), Timestamp(10), 10)
            .unwrap();
        assert_eq!(rest.iter().map(|r| r.id).collect::<Vec<_>>(), [3, 4, 5]);
        // given up: they are free again, as they were
        store.rollback_write();
        let again = other
            .claim_runs("b", Timestamp(0), Timestamp(10), 10)
            .unwrap();
        assert_eq!(
            again.iter().map(|r| (r.id, r.attempt)).collect::<Vec<_>>(),
            [(1, 1), (2, 1)]
        );
    }
}
