//! Retention on PostgreSQL (the SQLite room's `store::prune`): the same rules
//! (`prune::batch`), with this room's statements.
//!
//! What SQLite's prune does by hand with the foreign keys off, the schema's actions do here:
//! removing a run sets `events.parent_run` and `runs.rerun_of` to NULL and takes its pins
//! and shared step values with it; removing an event sets `events.replay_of` to NULL. Step
//! records and skips are removed by the batch itself, to count them.
//!
//! Several processes may prune and pin at once: a batch locks the runs it removes
//! (`FOR UPDATE SKIP LOCKED`: a run another transaction holds, being pinned say, is kept
//! this time) before it asks again whether they are pinned, so a pin committed by then is
//! seen, and one asked for later waits for the batch and finds the run gone.
//!
//! Space: PostgreSQL gives nothing back by hand. Rows removed are dead until autovacuum
//! (or [`PgStore::vacuum`]) marks their space free for new rows; the tables' files do not
//! shrink (only `VACUUM FULL`, which locks them, would).

use super::{PgStore, column};
use crate::model::Timestamp;
use crate::store::Result;
use crate::store::prune::{
    BACKGROUND_BATCH, BATCH, Batch, Cursor, PruneRoom, Pruned, REMOVABLE, Retention, Walked, batch,
};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// The store's tables (what [`PgStore::bytes_in_use`] sums and [`PgStore::vacuum`] cleans).
const TABLES: &[&str] = &[
    "flowdeck_schema",
    "project",
    "definitions",
    "versions",
    "generation",
    "events",
    "runs",
    "steps",
    "step_values",
    "skips",
    "ui_state",
    "breakpoints",
    "project_files",
    "store_identity",
    "pins",
];

/// Runs that `in_range` selects (`$1`, `$2`: after, upto): how many there are, and those
/// that may go, locked (in id order; one another transaction holds is skipped).
fn reached_sql(cell: &'static OnceLock<String>, in_range: &str) -> &'static str {
    cell.get_or_init(|| {
        format!(
            "WITH reached AS (
                 SELECT runs.id, {REMOVABLE} AS may_go FROM runs WHERE {in_range}
             ), locked AS (
                 SELECT runs.id FROM runs
                  WHERE runs.id IN (SELECT id FROM reached WHERE may_go)
                  ORDER BY runs.id FOR UPDATE SKIP LOCKED
             )
             SELECT (SELECT count(*) FROM reached), ARRAY(SELECT id FROM locked)"
        )
    })
}

impl PgStore {
    /// Remove one batch by `rules`, from `cursor` on, in its own transaction, and move the
    /// cursor past what it looked at. With `dry_run`, the transaction is rolled back: the
    /// batch counts what it would remove.
    pub(crate) fn prune_batch(
        &self,
        rules: &Retention,
        cursor: &mut Cursor,
        dry_run: bool,
    ) -> Result<Batch> {
        self.begin()?;
        match batch(self, rules, cursor, BATCH) {
            Ok(done) if dry_run => {
                self.rollback();
                Ok(done)
            }
            Ok(done) => {
                self.commit()?;
                Ok(done)
            }
            Err(e) => {
                self.rollback();
                Err(e)
            }
        }
    }

    /// One small batch from `cursor` inside the caller's transaction (the writer's);
    /// returns the batch and where the next one starts.
    pub(crate) fn prune_within(
        &self,
        rules: &Retention,
        cursor: Cursor,
    ) -> Result<(Batch, Cursor)> {
        let mut next = cursor;
        let done = batch(self, rules, &mut next, BACKGROUND_BATCH)?;
        Ok((done, next))
    }

    /// Nothing to give back by hand: autovacuum marks the space of removed rows free for
    /// new ones. Returns 0.
    pub(crate) fn give_back_piled_up(&self) -> Result<i64> {
        Ok(0)
    }

    /// Nothing to give back by hand (autovacuum makes removed rows' space free for new
    /// rows; the files keep their size). Returns 0.
    pub(crate) fn give_back_space(&self, _pages: i64) -> Result<i64> {
        Ok(0)
    }

    /// Pin a run (never pruned) or unpin it. Returns whether the run exists. The run is
    /// locked while it is pinned (`FOR KEY SHARE`): a prune removing it at the same time
    /// either waits for the pin and keeps the run, or goes first and the run is not found.
    pub(crate) fn set_pinned(&self, run_id: i64, pinned: bool) -> Result<bool> {
        let now = Timestamp::now().micros();
        let row = if pinned {
            self.query_one(
                "WITH r AS (SELECT id FROM runs WHERE id = $1 FOR KEY SHARE),
                      pin AS (INSERT INTO pins (run_id, pinned_at) SELECT id, $2 FROM r
                              ON CONFLICT (run_id) DO NOTHING)
                 SELECT count(*) FROM r",
                &[&run_id, &now],
            )?
        } else {
            self.query_one(
                "WITH r AS (SELECT id FROM runs WHERE id = $1),
                      unpin AS (DELETE FROM pins WHERE run_id = $1)
                 SELECT count(*) FROM r",
                &[&run_id],
            )?
        };
        let found: i64 = column(&row, 0)?;
        Ok(found > 0)
    }

    /// Whether a run is pinned.
    pub(crate) fn is_pinned(&self, run_id: i64) -> Result<bool> {
        let row = self.query_one(
            "SELECT EXISTS (SELECT 1 FROM pins WHERE run_id = $1)",
            &[&run_id],
        )?;
        column(&row, 0)
    }

    /// The bytes of the store's tables with their indexes and TOAST (`pg_total_relation_size`;
    /// space freed by removed rows stays counted: the files keep their size).
    pub(crate) fn bytes_in_use(&self) -> Result<u64> {
        let row = self.query_one(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = current_schema() AND c.relkind = 'r'
                AND c.relname = ANY($1)",
            &[&TABLES],
        )?;
        let bytes: i64 = column(&row, 0)?;
        Ok(u64::try_from(bytes).unwrap_or(0))
    }

    /// The database's size on disk (`pg_database_size`: everything in it, the store's
    /// tables and anything else).
    pub(crate) fn file_bytes(&self) -> Result<u64> {
        let row = self.query_one("SELECT pg_database_size(current_database())", &[])?;
        let bytes: i64 = column(&row, 0)?;
        Ok(u64::try_from(bytes).unwrap_or(0))
    }

    /// Always: autovacuum makes the space of removed rows free for new ones.
    pub(crate) fn gives_back_space(&self) -> Result<bool> {
        Ok(true)
    }

    /// `VACUUM (ANALYZE)` of the store's tables now, rather than when autovacuum comes to
    /// them: the space of removed rows becomes free for new ones, and empty pages at a
    /// table's end go back to the file system. Outside a transaction only (PostgreSQL
    /// refuses `VACUUM` in one); other writers go on meanwhile.
    pub(crate) fn vacuum(&self) -> Result<()> {
        static SQL: OnceLock<String> = OnceLock::new();
        // one statement: several in one message would run as one transaction block
        self.batch(SQL.get_or_init(|| format!("VACUUM (ANALYZE) {}", TABLES.join(", "))))
    }

    /// The runs `reached` selects (see [`reached_sql`]; `after`, `upto` bound): those that
    /// may go and are not pinned by now are removed with their step records (their shared
    /// values and pins go by the foreign keys), the others counted as kept.
    fn remove_runs(&self, reached: &'static str, after: i64, upto: i64) -> Result<Pruned> {
        let row = self.query_one(reached, &[&after, &upto])?;
        let total: i64 = column(&row, 0)?;
        let locked: Vec<i64> = column(&row, 1)?;
        let mut pruned = Pruned::default();
        if !locked.is_empty() {
            // a new statement: it sees the pins committed before the lock was taken
            let row = self.query_one(
                "WITH going AS (
                     SELECT id FROM runs WHERE id = ANY($1)
                        AND NOT EXISTS (SELECT 1 FROM pins WHERE pins.run_id = runs.id)
                 ), s AS (
                     DELETE FROM steps WHERE run_id IN (SELECT id FROM going) RETURNING 1
                 ), r AS (
                     DELETE FROM runs WHERE id IN (SELECT id FROM going) RETURNING 1
                 )
                 SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM r)",
                &[&locked],
            )?;
            pruned.steps = u64::try_from(column::<i64>(&row, 0)?).unwrap_or(0);
            pruned.runs = u64::try_from(column::<i64>(&row, 1)?).unwrap_or(0);
        }
        pruned.kept = u64::try_from(total)
            .unwrap_or(0)
            .saturating_sub(pruned.runs);
        Ok(pruned)
    }
}

/// The size rule is not applied on PostgreSQL (said once per process).
static SIZE_RULE_SKIPPED: AtomicBool = AtomicBool::new(false);

impl PruneRoom for PgStore {
    /// Never (the size rule is skipped, with a warning): the tables' size does not fall as
    /// rows are removed (nor when autovacuum frees their space for new rows), so a rule
    /// that removes the oldest "until the store fits" would remove every run it may.
    fn over_size(&self, max: u64) -> Result<bool> {
        if !SIZE_RULE_SKIPPED.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                max_bytes = max,
                store = self.shown(),
                "the size rule of retention does not apply to a store on PostgreSQL (its tables do not shrink as records are removed); keep it by age or count"
            );
        }
        Ok(false)
    }

    fn oldest(&self, walked: Walked, after: i64, limit: i64) -> Result<Vec<(i64, i64)>> {
        let sql = match walked {
            Walked::Events => {
                "SELECT id, emitted_at FROM events WHERE id > $1 ORDER BY id LIMIT $2"
            }
            Walked::LoneRuns => {
                "SELECT id, queued_at FROM runs WHERE event_id IS NULL AND id > $1 ORDER BY id LIMIT $2"
            }
        };
        self.query(sql, &[&after, &limit])?
            .iter()
            .map(|r| Ok((column(r, 0)?, column(r, 1)?)))
            .collect()
    }

    fn newest_removable(&self, walked: Walked, keep: i64) -> Result<Option<i64>> {
        let sql = match walked {
            Walked::Events => "SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET $1",
            Walked::LoneRuns => {
                "SELECT id FROM runs WHERE event_id IS NULL ORDER BY id DESC LIMIT 1 OFFSET $1"
            }
        };
        self.query_opt(sql, &[&keep])?
            .map(|r| column(&r, 0))
            .transpose()
    }

    fn remove_events(&self, after: i64, upto: i64) -> Result<Pruned> {
        static REACHED: OnceLock<String> = OnceLock::new();
        let mut pruned = self.remove_runs(
            reached_sql(&REACHED, "runs.event_id > $1 AND runs.event_id <= $2"),
            after,
            upto,
        )?;
        // events left without runs (one another transaction holds, a run being added to
        // it say, is kept); `replay_of` of their replays is cleared by the foreign key
        let row = self.query_one(
            "WITH gone AS (
                 SELECT id FROM events WHERE id > $1 AND id <= $2
                    AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.event_id = events.id)
                  ORDER BY id FOR UPDATE SKIP LOCKED
             ), k AS (
                 DELETE FROM skips WHERE event_id IN (SELECT id FROM gone) RETURNING 1
             ), e AS (
                 DELETE FROM events WHERE id IN (SELECT id FROM gone) RETURNING 1
             )
             SELECT (SELECT count(*) FROM k), (SELECT count(*) FROM e)",
            &[&after, &upto],
        )?;
        pruned.skips = u64::try_from(column::<i64>(&row, 0)?).unwrap_or(0);
        pruned.events = u64::try_from(column::<i64>(&row, 1)?).unwrap_or(0);
        Ok(pruned)
    }

    fn remove_lone_runs(&self, after: i64, upto: i64) -> Result<Pruned> {
        static REACHED: OnceLock<String> = OnceLock::new();
        self.remove_runs(
            reached_sql(
                &REACHED,
                "runs.event_id IS NULL AND runs.id > $1 AND runs.id <= $2",
            ),
            after,
            upto,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::scratch::scratch_store;
    use super::*;
    use crate::model::{StepRecord, StepStatus};
    use crate::store::Store;
    use crate::store::step_values::SHARED_FROM;
    use serde_json::json;

    /// Events 1..=n at times 1..=n, each with a finished run of `w` (run id = event id) with
    /// two step records and a skip of definition 2 (`v`).
    fn history(store: &Store, n: i64) {
        let pg = store.postgres().unwrap();
        pg.batch(&format!(
            "INSERT INTO definitions (id, kind, name, on_event, draft, draft_source, created_at, updated_at)
               VALUES (1, 'workflow', 'w', 'e', '{{}}', '{{}}', 0, 0),
                      (2, 'workflow', 'v', 'e', '{{}}', '{{}}', 0, 0);
             INSERT INTO events (id, name, params, source, emitted_at)
               SELECT i, 'e', '{{}}', 'cli', i FROM generate_series(1, {n}) i;
             INSERT INTO runs (id, definition_id, kind, target, event_id, mode, status, params, queued_at, finished_at)
               SELECT i, 1, 'workflow', 'w', i, 'live', 'succeeded', '', i, i FROM generate_series(1, {n}) i;
             INSERT INTO steps (run_id, seq, step, path, action, status, input, output, attempt, started_at, duration_us)
               SELECT i, s, 'a', '0', 'set', 'ok', '\\x7b7d', '\\x7b7d', 1, i, 1
                 FROM generate_series(1, {n}) i, generate_series(1, 2) s;
             INSERT INTO skips (event_id, definition_id, workflow, reason)
               SELECT i, 2, 'v', 'inactive' FROM generate_series(1, {n}) i;"
        ))
        .unwrap();
    }

    fn count(store: &Store, sql: &str) -> i64 {
        let rows = store.postgres().unwrap().query_dynamic(sql, &[]).unwrap();
        column(&rows[0], 0).unwrap()
    }

    fn ids(store: &Store, sql: &str) -> Vec<i64> {
        store
            .postgres()
            .unwrap()
            .query_dynamic(sql, &[])
            .unwrap()
            .iter()
            .map(|r| column(r, 0).unwrap())
            .collect()
    }

    fn prune_all(store: &Store, rules: &Retention, dry_run: bool) -> (Pruned, u64) {
        let mut cursor = Cursor::default();
        let mut total = Pruned::default();
        let mut batches = 0;
        loop {
            let b = store.prune_batch(rules, &mut cursor, dry_run).unwrap();
            total.add(b.pruned);
            batches += 1;
            if !b.more {
                return (total, batches);
            }
        }
    }

    #[test]
    fn keep_last_removes_exactly_the_older_events_with_what_they_own() {
        let Some((_db, store)) =
            scratch_store("keep_last_removes_exactly_the_older_events_with_what_they_own")
        else {
            return;
        };
        history(&store, 500);
        let rules = Retention {
            keep_last: Some(100),
            ..Retention::default()
        };
        let (pruned, batches) = prune_all(&store, &rules, false);
        assert_eq!(
            pruned,
            Pruned {
                events: 400,
                runs: 400,
                steps: 800,
                skips: 400,
                kept: 0
            }
        );
        assert!(batches >= 2, "in batches of {BATCH}: {batches}");
        assert_eq!(count(&store, "SELECT min(id) FROM events"), 401);
        assert_eq!(count(&store, "SELECT count(*) FROM runs"), 100);
        assert_eq!(count(&store, "SELECT count(*) FROM steps"), 200);
        assert_eq!(count(&store, "SELECT count(*) FROM skips"), 100);
        assert_eq!(store.steps_of(401).unwrap().len(), 2);
        let (again, _) = prune_all(&store, &rules, false);
        assert!(again.is_nothing(), "{again:?}");
    }

    #[test]
    fn the_foreign_keys_clear_the_references_to_what_a_batch_removes() {
        let Some((_db, store)) =
            scratch_store("the_foreign_keys_clear_the_references_to_what_a_batch_removes")
        else {
            return;
        };
        history(&store, 30);
        // a child event of run 2, kept (run 25 owns it); a rerun of run 3 and a replay of
        // event 4, both kept; all three point at what the prune removes
        store
            .postgres()
            .unwrap()
            .batch(
                "UPDATE events SET parent_run = 2 WHERE id = 25;
                 UPDATE runs SET rerun_of = 3 WHERE id = 26;
                 UPDATE events SET replay_of = 4 WHERE id = 27;
                 INSERT INTO step_values (run_id, hash, body) VALUES (1, 7, 'null'), (28, 7, 'null');",
            )
            .unwrap();
        let rules = Retention {
            before: Some(Timestamp(20)),
            ..Retention::default()
        };
        // as a server does: small batches inside the writer's transaction
        let mut cursor = Cursor::default();
        let mut pruned = Pruned::default();
        store.begin_write().unwrap();
        loop {
            let (batch, next) = store.prune_within(&rules, cursor).unwrap();
            pruned.add(batch.pruned);
            cursor = next;
            if !batch.more {
                break;
            }
        }
        store.commit_write().unwrap();
        assert_eq!(pruned.events, 19, "{pruned:?}");
        assert_eq!(pruned.skips, 19, "{pruned:?}");
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM events WHERE id = 25 AND parent_run IS NULL"
            ),
            1
        );
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM runs WHERE id = 26 AND rerun_of IS NULL"
            ),
            1
        );
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM events WHERE id = 27 AND replay_of IS NULL"
            ),
            1
        );
        // a removed run's shared step values go with it
        assert_eq!(
            count(
                &store,
                "SELECT (sum(run_id) * count(*))::bigint FROM step_values"
            ),
            28
        );
    }

    #[test]
    fn unfinished_pinned_and_last_runs_are_never_removed() {
        let Some((_db, store)) =
            scratch_store("pg_unfinished_pinned_and_last_runs_are_never_removed")
        else {
            return;
        };
        history(&store, 50);
        store
            .postgres()
            .unwrap()
            .batch("UPDATE runs SET status = 'running', finished_at = NULL WHERE id = 3")
            .unwrap();
        assert!(store.set_pinned(7, true).unwrap());
        assert!(
            store.set_pinned(7, true).unwrap(),
            "pinned twice: still pinned once"
        );
        assert!(store.is_pinned(7).unwrap());
        assert!(!store.is_pinned(8).unwrap());
        assert!(!store.set_pinned(999, true).unwrap(), "no such run");
        assert!(!store.set_pinned(999, false).unwrap(), "no such run");
        let rules = Retention {
            before: Some(Timestamp(1_000)),
            ..Retention::default()
        };
        let (pruned, _) = prune_all(&store, &rules, false);
        assert_eq!(pruned.kept, 3, "{pruned:?}");
        assert_eq!(pruned.runs, 47);
        // the unfinished, the pinned, and `w`'s last
        assert_eq!(
            ids(&store, "SELECT id FROM runs ORDER BY id"),
            vec![3, 7, 50]
        );
        assert_eq!(count(&store, "SELECT count(*) FROM events"), 3);
        assert_eq!(count(&store, "SELECT count(*) FROM skips"), 3);
        assert_eq!(count(&store, "SELECT count(*) FROM steps"), 6);
        // unpinned, it goes with the next prune
        assert!(store.set_pinned(7, false).unwrap());
        assert!(!store.is_pinned(7).unwrap());
        let (pruned, _) = prune_all(&store, &rules, false);
        assert_eq!(pruned.runs, 1);
        assert_eq!(ids(&store, "SELECT id FROM runs ORDER BY id"), vec![3, 50]);
    }

    #[test]
    fn a_run_pinned_by_another_transaction_under_way_is_kept() {
        let Some((db, store)) =
            scratch_store("a_run_pinned_by_another_transaction_under_way_is_kept")
        else {
            return;
        };
        history(&store, 10);
        // another process pins run 4, and has not committed yet
        let other = Store::open(std::path::Path::new(db.url())).unwrap();
        other.begin_write().unwrap();
        assert!(other.set_pinned(4, true).unwrap());
        let rules = Retention {
            before: Some(Timestamp(1_000)),
            ..Retention::default()
        };
        let (pruned, _) = prune_all(&store, &rules, false);
        other.commit_write().unwrap();
        assert_eq!(pruned.runs, 8, "{pruned:?}");
        assert_eq!(ids(&store, "SELECT id FROM runs ORDER BY id"), vec![4, 10]);
        assert!(store.is_pinned(4).unwrap());
    }

    #[test]
    fn age_removes_the_oldest_up_to_the_first_young_one() {
        let Some((_db, store)) =
            scratch_store("pg_age_removes_the_oldest_up_to_the_first_young_one")
        else {
            return;
        };
        history(&store, 30);
        let rules = Retention {
            before: Some(Timestamp(11)),
            ..Retention::default()
        };
        let (pruned, _) = prune_all(&store, &rules, false);
        assert_eq!(pruned.events, 10);
        assert_eq!(count(&store, "SELECT min(id) FROM events"), 11);
    }

    #[test]
    fn a_dry_run_counts_and_changes_nothing() {
        let Some((_db, store)) = scratch_store("pg_a_dry_run_counts_and_changes_nothing") else {
            return;
        };
        history(&store, 300);
        let rules = Retention {
            keep_last: Some(10),
            ..Retention::default()
        };
        let (counted, _) = prune_all(&store, &rules, true);
        assert_eq!(counted.events, 290);
        assert_eq!(count(&store, "SELECT count(*) FROM events"), 300);
        assert_eq!(count(&store, "SELECT count(*) FROM steps"), 600);
        let (pruned, _) = prune_all(&store, &rules, false);
        assert_eq!(pruned, counted);
        assert_eq!(count(&store, "SELECT count(*) FROM events"), 10);
    }

    #[test]
    fn runs_without_an_event_are_kept_by_their_own_count() {
        let Some((_db, store)) =
            scratch_store("pg_runs_without_an_event_are_kept_by_their_own_count")
        else {
            return;
        };
        history(&store, 0);
        store
            .postgres()
            .unwrap()
            .batch(
                "INSERT INTO runs (id, definition_id, kind, target, mode, status, params, queued_at, finished_at)
                   SELECT i, 1, 'workflow', 'w', 'debug', 'succeeded', '{}', i, i
                     FROM generate_series(1, 20) i",
            )
            .unwrap();
        let (pruned, _) = prune_all(
            &store,
            &Retention {
                keep_last: Some(5),
                ..Retention::default()
            },
            false,
        );
        assert_eq!(pruned.runs, 15);
        assert_eq!(count(&store, "SELECT min(id) FROM runs"), 16);
    }

    /// Runs that share a large value each keep their own copy: a run read after its
    /// neighbours were pruned is whole.
    #[test]
    fn a_run_read_after_pruning_its_neighbours_is_whole() {
        let Some((_db, store)) = scratch_store("a_run_read_after_pruning_its_neighbours_is_whole")
        else {
            return;
        };
        history(&store, 0);
        let body: serde_json::Value = (0..100).map(|i| json!({"sku": i})).collect();
        assert!(body.to_string().len() > SHARED_FROM);
        let records: Vec<StepRecord> = (1..=3)
            .map(|seq| StepRecord {
                seq,
                step: format!("s{seq}"),
                path: format!("/steps/{seq}"),
                action: "fetch".into(),
                status: StepStatus::Succeeded,
                input: json!({"n": seq, "body": body}),
                output: json!({"status": 200, "body": body}),
                error: None,
                vars: Some(json!({"resp": {"body": body}})),
                started_at: Timestamp(i64::from(seq)),
                duration_us: 5,
                attempt: 1,
                iteration: Vec::new(),
            })
            .collect();
        for run in 1..=5 {
            store
                .postgres()
                .unwrap()
                .batch(&format!(
                    "INSERT INTO runs (id, definition_id, kind, target, mode, status, params, queued_at, finished_at)
                       VALUES ({run}, 1, 'workflow', 'w', 'debug', 'succeeded', '{{}}', {run}, {run})"
                ))
                .unwrap();
            for r in &records {
                store.insert_step(run, r).unwrap();
            }
        }
        assert_eq!(count(&store, "SELECT count(*) FROM step_values"), 5);
        assert!(store.set_pinned(3, true).unwrap());
        let (pruned, _) = prune_all(
            &store,
            &Retention {
                before: Some(Timestamp(1_000)),
                ..Retention::default()
            },
            false,
        );
        assert_eq!((pruned.runs, pruned.steps, pruned.kept), (3, 9, 2));
        assert_eq!(ids(&store, "SELECT id FROM runs ORDER BY id"), vec![3, 5]);
        assert_eq!(
            ids(&store, "SELECT run_id FROM step_values ORDER BY run_id"),
            vec![3, 5]
        );
        assert_eq!(store.steps_of(3).unwrap(), records);
        assert_eq!(store.steps_of(5).unwrap(), records);
        assert!(store.steps_of(4).unwrap().is_empty());
    }

    #[test]
    fn space_is_measured_and_vacuumed_and_the_size_rule_removes_nothing() {
        let Some((_db, store)) =
            scratch_store("space_is_measured_and_vacuumed_and_the_size_rule_removes_nothing")
        else {
            return;
        };
        assert!(store.gives_back_space().unwrap());
        history(&store, 200);
        let used = store.bytes_in_use().unwrap();
        assert!(used > 0);
        assert!(store.file_bytes().unwrap() >= used);
        let (pruned, _) = prune_all(
            &store,
            &Retention {
                max_bytes: Some(1),
                ..Retention::default()
            },
            false,
        );
        assert!(pruned.is_nothing(), "{pruned:?}");
        let (pruned, _) = prune_all(
            &store,
            &Retention {
                max_bytes: Some(1),
                keep_last: Some(50),
                ..Retention::default()
            },
            false,
        );
        assert_eq!(pruned.events, 150, "the other rules still apply");
        assert_eq!(store.give_back_space(0).unwrap(), 0);
        assert_eq!(store.give_back_piled_up().unwrap(), 0);
        store.vacuum().unwrap();
        assert_eq!(count(&store, "SELECT count(*) FROM events"), 50);
    }
}
