//! Group commit on PostgreSQL: writes whose answer nobody waits for are sent at once and
//! answered at the commit, so that a batch of events costs a few round trips, not one per
//! row. A write's statement goes out on the connection as it is made (tokio-postgres sends
//! a request on its first poll, and answers come back in order), and the transaction's
//! commit first collects every answer: one failure refuses the commit, as a failed
//! statement would have.
//!
//! The hot writes (new events and runs, step records and the values they share, run starts
//! and ends) go further: while writes are deferred they are not sent one by one but kept,
//! column by column, in a [`Buffered`] per kind, and a flush sends **one** statement per
//! kind (arrays unnested: PostgreSQL's cost per statement is paid once for the lot), in the
//! order events, runs, step values, steps, starts, ends. The connection flushes before any
//! statement it runs while waiting for its answer (so that a read sees every write made
//! before it, in order) and at the commit; a rollback forgets what is kept.
//!
//! The ids of new events and runs come from blocks taken from their sequences ahead of
//! time, so that inserting one needs no answer either. Ids stay unique; across servers they
//! are no longer in the order of insertion (each server draws from its own block).

use super::{PgStore, column, wait};
use crate::store::{Result, StoreError};
use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use tokio_postgres::types::ToSql;

/// A value a deferred write binds (owned: the write outlives its caller's borrows).
pub(crate) type Param = Box<dyn ToSql + Sync + Send>;

/// A write sent and not yet answered.
pub(crate) type Pending =
    Pin<Box<dyn Future<Output = std::result::Result<u64, tokio_postgres::Error>> + Send>>;

/// Ids taken from a sequence at once.
const ID_BLOCK: i64 = 64;

/// Ids taken ahead of time, per table.
#[derive(Debug, Default)]
pub(crate) struct IdBlocks {
    events: VecDeque<i64>,
    runs: VecDeque<i64>,
}

/// A table whose ids come from blocks.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ids {
    /// `events.id`
    Events,
    /// `runs.id`
    Runs,
}

/// Rows of one kind of hot write, kept column by column until a flush sends them in one
/// statement ([`Bulk::SQL`], binding one array per column).
pub(crate) trait Bulk: Default {
    /// The statement that writes every row: `unnest` of one array per column, each cast.
    const SQL: &'static str;

    /// How many rows are kept.
    fn len(&self) -> usize;

    /// The columns, in the order [`Bulk::SQL`] binds them.
    fn into_params(self) -> Vec<Param>;
}

/// The hot writes kept while writes are deferred, per kind (see the module's doc).
#[derive(Default)]
pub(crate) struct Buffered {
    /// New events, with their ids (`events.rs`).
    pub(crate) events: super::events::EventRows,
    /// New runs, with their ids (`runs.rs`).
    pub(crate) runs: super::runs::RunRows,
    /// The ids of [`Buffered::runs`] (an event whose parent run is among them is written
    /// after them: the flush writes events first).
    pub(crate) run_ids: HashSet<i64>,
    /// Step values (`steps.rs`).
    pub(crate) values: super::steps::ValueRows,
    /// Step records (`steps.rs`).
    pub(crate) steps: super::steps::StepRows,
    /// Run starts, one per run (`runs.rs`).
    pub(crate) starts: super::runs::StartRows,
    /// Run ends, one per run (`runs.rs`).
    pub(crate) finishes: super::runs::FinishRows,
}

impl Buffered {
    fn is_empty(&self) -> bool {
        self.events.len() == 0
            && self.runs.len() == 0
            && self.values.len() == 0
            && self.steps.len() == 0
            && self.starts.len() == 0
            && self.finishes.len() == 0
    }

    /// Send every kind, in the fixed order (a run's event before it, a step's run before
    /// it, a run's start before its end).
    fn send(self, pg: &PgStore) -> Result<()> {
        pg.send_bulk(self.events)?;
        pg.send_bulk(self.runs)?;
        pg.send_bulk(self.values)?;
        pg.send_bulk(self.steps)?;
        pg.send_bulk(self.starts)?;
        pg.send_bulk(self.finishes)
    }
}

impl PgStore {
    /// Send `sql` with `params` now (after the hot writes kept so far: preparing it
    /// flushes them); its answer is collected at the commit (or by [`PgStore::settle`]).
    /// Outside a transaction it runs at once.
    pub(crate) fn execute_deferred(&self, sql: &'static str, params: Vec<Param>) -> Result<()> {
        let statement = self.statement(sql)?;
        if !self.defers_writes() {
            let refs: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            wait(self.client.execute(&statement, &refs)).map_err(|e| self.error(e))?;
            return Ok(());
        }
        let client = Arc::clone(&self.client);
        let mut pending: Pending = Box::pin(async move {
            let refs: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            client.execute(&statement, &refs).await
        });
        // the first poll sends the request; its answer waits in the connection's queue (or
        // is already there: a finished write is not kept, a finished future never polled
        // again)
        let mut cx = Context::from_waker(Waker::noop());
        match pending.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(_)) => Ok(()),
            Poll::Ready(Err(e)) => Err(self.error(e)),
            Poll::Pending => {
                self.lock_pending().push(pending);
                Ok(())
            }
        }
    }

    /// Send the rows of one kind in one statement, if there are any (during a flush:
    /// nothing is kept any more, so the statement goes out as it is).
    fn send_bulk<B: Bulk>(&self, rows: B) -> Result<()> {
        if rows.len() == 0 {
            return Ok(());
        }
        self.execute_deferred(B::SQL, rows.into_params())
    }

    /// Write the rows of one kind now, after whatever is kept (outside the fast path).
    pub(crate) fn write_now<B: Bulk>(&self, rows: B) -> Result<()> {
        if rows.len() == 0 {
            return Ok(());
        }
        self.flush()?;
        let params = rows.into_params();
        let refs: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        self.execute(B::SQL, &refs)?;
        Ok(())
    }

    /// `f` on the hot writes kept (see [`Buffered`]).
    pub(crate) fn with_buffered<T>(&self, f: impl FnOnce(&mut Buffered) -> T) -> T {
        f(&mut self
            .buffered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Send the hot writes kept so far, one statement per kind (answered at the commit);
    /// nothing when none are kept.
    pub(crate) fn flush(&self) -> Result<()> {
        let kept = self.with_buffered(|b| {
            if b.is_empty() {
                None
            } else {
                Some(std::mem::take(b))
            }
        });
        match kept {
            Some(kept) => kept.send(self),
            None => Ok(()),
        }
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Send the hot writes kept, then collect the answers of every write sent and not yet
    /// answered: the first failure.
    pub(crate) fn settle(&self) -> Result<()> {
        let flushed = self.flush();
        let pending = std::mem::take(&mut *self.lock_pending());
        let mut first: Option<tokio_postgres::Error> = None;
        if !pending.is_empty() {
            wait(async {
                for p in pending {
                    if let Err(e) = p.await
                        && first.is_none()
                    {
                        first = Some(e);
                    }
                }
            });
        }
        flushed?;
        match first {
            Some(e) => Err(self.error(e)),
            None => Ok(()),
        }
    }

    /// Forget the writes not yet answered and the hot writes kept (their transaction is
    /// rolled back).
    pub(crate) fn drop_pending(&self) {
        self.lock_pending().clear();
        self.with_buffered(|b| *b = Buffered::default());
        self.fresh_events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// Whether event `id` was inserted by the open transaction (no run of it exists
    /// elsewhere, so its runs need no check for one).
    pub(crate) fn is_fresh_event(&self, id: i64) -> bool {
        self.fresh_events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&id)
    }

    /// Note event `id` as inserted by the open transaction.
    pub(crate) fn note_fresh_event(&self, id: i64) {
        if self.is_in_transaction() {
            self.fresh_events
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(id);
        }
    }

    /// The next id of `table`, from a block taken ahead of time (taking one flushes the
    /// hot writes kept first, as any statement waited for does).
    pub(crate) fn next_id(&self, table: Ids) -> Result<i64> {
        let mut blocks = self
            .ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (queue, sql): (&mut VecDeque<i64>, &'static str) = match table {
            Ids::Events => (
                &mut blocks.events,
                "SELECT nextval(pg_get_serial_sequence('events', 'id')) FROM generate_series(1::bigint, $1::bigint)",
            ),
            Ids::Runs => (
                &mut blocks.runs,
                "SELECT nextval(pg_get_serial_sequence('runs', 'id')) FROM generate_series(1::bigint, $1::bigint)",
            ),
        };
        if queue.is_empty() {
            // a block only for a batch of many jobs: a process that writes now and then (a
            // command, the studio) draws one id at a time and leaves no gaps
            let size = if self.ids_ahead.load(std::sync::atomic::Ordering::Acquire) {
                ID_BLOCK
            } else {
                1
            };
            let rows = self.query(sql, &[&size])?;
            let ids = rows
                .iter()
                .map(|r| column::<i64>(r, 0))
                .collect::<Result<Vec<_>>>()?;
            queue.extend(ids);
        }
        queue
            .pop_front()
            .ok_or_else(|| StoreError::Postgres("the id sequence gave no ids; try again".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::column;
    use super::super::runs::tests::{new_run, workflow_w};
    use super::super::scratch::scratch_store;
    use super::Bulk;
    use crate::model::{DefinitionKind, RunStatus, StepRecord, StepStatus, Timestamp};
    use crate::store::events::NewEvent;
    use crate::store::runs::NewRun;
    use crate::store::step_values::SHARED_FROM;
    use crate::store::steps::EncodedSteps;
    use crate::store::{HotWrites, Store};
    use serde_json::{Value, json};

    /// An event named `e` (`parent_run`, `draft`, a chain and a depth as given); its id.
    fn event(store: &Store, n: i64, parent_run: Option<i64>, draft: bool) -> i64 {
        let params = json!({"n": n, "name": format!("event {n} é")});
        let params_json = crate::model::json_text(&params);
        let chain = vec![format!("w{n}")];
        let (stored, new) = store
            .insert_event(&NewEvent {
                name: "e",
                params: &params,
                params_json: &params_json,
                source: if draft { "studio" } else { "test" },
                parent_run,
                depth: u32::try_from(n).unwrap(),
                chain: &chain,
                draft,
                dedup_key: None,
            })
            .unwrap();
        assert!(new);
        stored.record.id
    }

    /// Step records `seqs`; the first has an output large enough to be shared (the same in
    /// every call: a value a run has already).
    fn steps(seqs: std::ops::RangeInclusive<u32>) -> EncodedSteps {
        let mut encoded = EncodedSteps::default();
        for seq in seqs {
            encoded.push(&StepRecord {
                seq,
                step: format!("s{seq}"),
                path: format!("/steps/{seq}"),
                action: "set".into(),
                status: if seq == 2 {
                    StepStatus::Failed
                } else {
                    StepStatus::Succeeded
                },
                input: json!({"seq": seq}),
                output: if seq % 3 == 1 {
                    json!("y".repeat(SHARED_FROM * 2))
                } else {
                    json!(seq)
                },
                error: (seq == 2).then(|| "two".to_string()),
                vars: (seq % 2 == 0).then(|| json!({"v": seq})),
                started_at: Timestamp(1_000 + i64::from(seq)),
                duration_us: u64::from(seq) * 10,
                attempt: 1,
                iteration: if seq == 3 { vec![0, 1] } else { Vec::new() },
            });
        }
        encoded
    }

    /// The same writes, in the fast path (kept and flushed at the commit) or each at once:
    /// events (one whose parent run is kept too), runs, steps in several calls, starts and
    /// ends of the same runs (twice each, and a start after an end); the events' and
    /// runs' ids.
    fn write_a_batch(store: &Store, fast: bool) -> (Vec<i64>, Vec<i64>) {
        let pg = store.postgres().unwrap();
        if fast {
            pg.set_pipelining(true);
            store.begin_write().unwrap();
        }
        let e1 = event(store, 1, None, false);
        let e2 = event(store, 2, None, true);
        let r1 = store.insert_run(&new_run(Some(e1))).unwrap().0;
        let r2 = store
            .insert_run(&NewRun {
                lease_owner: Some("me"),
                lease_expires: Some(Timestamp(99)),
                ..new_run(Some(e2))
            })
            .unwrap()
            .0;
        let r3 = store
            .insert_run(&NewRun {
                kind: DefinitionKind::Endpoint,
                target: "GET /x",
                version: Some(3),
                params_json: r#"{"q":"é"}"#,
                ..new_run(None)
            })
            .unwrap()
            .0;
        let r4 = store.insert_run(&new_run(None)).unwrap().0;
        let r5 = store.insert_run(&new_run(None)).unwrap().0;
        let e3 = event(store, 3, Some(r1), false);
        store.insert_encoded_steps(r1, &steps(1..=3)).unwrap();
        store.insert_encoded_steps(r2, &steps(1..=2)).unwrap();
        store.insert_encoded_steps(r1, &steps(4..=5)).unwrap();
        store
            .start_run_at(r1, Timestamp(5), "me", Timestamp(50))
            .unwrap();
        store
            .start_run_at(r2, Timestamp(9), "me", Timestamp(90))
            .unwrap();
        store
            .start_run_at(r1, Timestamp(7), "you", Timestamp(70))
            .unwrap();
        store
            .finish_run_started(
                r1,
                Some(Timestamp(1)),
                RunStatus::Succeeded,
                Some("[1]"),
                None,
            )
            .unwrap();
        store
            .finish_run_started(r2, None, RunStatus::Failed, None, Some("no"))
            .unwrap();
        store
            .finish_run_started(
                r2,
                Some(Timestamp(11)),
                RunStatus::Succeeded,
                Some("2"),
                None,
            )
            .unwrap();
        store
            .finish_run_started(r3, Some(Timestamp(3)), RunStatus::Failed, None, Some("3"))
            .unwrap();
        store
            .start_run_at(r3, Timestamp(4), "them", Timestamp(40))
            .unwrap();
        store
            .finish_run_started(r4, Some(Timestamp(20)), RunStatus::Failed, None, Some("a"))
            .unwrap();
        store
            .finish_run_started(r4, Some(Timestamp(21)), RunStatus::Cancelled, None, None)
            .unwrap();
        store
            .start_run_at(r5, Timestamp(5), "me", Timestamp(50))
            .unwrap();
        store
            .start_run_at(r5, Timestamp(7), "you", Timestamp(70))
            .unwrap();
        if fast {
            assert!(
                pg.with_buffered(|b| b.starts.len() + b.steps.len()) > 0,
                "the fast path keeps its writes"
            );
            store.commit_write().unwrap();
            pg.set_pipelining(false);
        }
        (vec![e1, e2, e3], vec![r1, r2, r3, r4, r5])
    }

    /// Every row of `sql`'s one text column.
    fn texts(store: &Store, sql: &'static str) -> Vec<String> {
        let rows = store.postgres().unwrap().query(sql, &[]).unwrap();
        rows.iter().map(|r| column(r, 0).unwrap()).collect()
    }

    /// Run `id` with its steps as JSON, with whether the times the store took (`now`) are
    /// there in place of them.
    fn run_json(store: &Store, id: i64) -> Value {
        let run = store.run_with_steps(id).unwrap().unwrap();
        let mut json = serde_json::to_value(&run).unwrap();
        let object = json.as_object_mut().unwrap();
        for time in ["queued_at", "finished_at"] {
            let there = object.get(time).is_some_and(|t| !t.is_null());
            object.insert(time.into(), json!(there));
        }
        json
    }

    #[test]
    fn a_batch_kept_and_flushed_reads_back_as_the_same_writes_made_at_once() {
        let Some((_db, fast)) =
            scratch_store("a_batch_kept_and_flushed_reads_back_as_the_same_writes_made_at_once")
        else {
            return;
        };
        let Some((_db2, slow)) = scratch_store(
            "a_batch_kept_and_flushed_reads_back_as_the_same_writes_made_at_once (at once)",
        ) else {
            return;
        };
        workflow_w(&fast);
        workflow_w(&slow);
        let written = write_a_batch(&fast, true);
        assert_eq!(write_a_batch(&slow, false), written);
        for &id in &written.1 {
            assert_eq!(run_json(&fast, id), run_json(&slow, id), "run {id}");
        }
        let run = |i: usize| fast.run(written.1[i]).unwrap().unwrap();
        let (r1, r2, r3, r4, r5) = (run(0), run(1), run(2), run(3), run(4));
        assert_eq!(
            (r1.status, r1.started_at, r1.output),
            (RunStatus::Succeeded, Some(Timestamp(5)), Some(json!([1])))
        );
        assert_eq!(
            (r2.status, r2.started_at, r2.error),
            (RunStatus::Succeeded, Some(Timestamp(9)), None)
        );
        assert_eq!(
            (r3.status, r3.started_at, r3.finished_at.is_some()),
            (RunStatus::Running, Some(Timestamp(3)), true),
            "a start after an end comes after it"
        );
        assert_eq!(
            (r4.status, r4.started_at, r4.error),
            (RunStatus::Cancelled, Some(Timestamp(20)), None),
            "the first start time given stays"
        );
        assert_eq!(
            (r5.status, r5.started_at, r5.finished_at),
            (RunStatus::Running, Some(Timestamp(5)), None)
        );
        let lease = texts(
            &fast,
            "SELECT concat_ws(' ', lease_owner, lease_expires) FROM runs ORDER BY id",
        );
        assert_eq!(lease, vec!["", "", "them 40", "", "you 70"]);
        for &id in &written.0 {
            let (a, b) = (
                fast.event(id).unwrap().unwrap(),
                slow.event(id).unwrap().unwrap(),
            );
            assert_eq!(
                (a.record.id, &a.record.params, a.chain, a.draft),
                (b.record.id, &b.record.params, b.chain, b.draft)
            );
        }
        // every column of every row, but the times taken when written
        for sql in [
            "SELECT (to_jsonb(e) - 'emitted_at')::text FROM events e ORDER BY id",
            "SELECT (to_jsonb(r) - 'queued_at' - 'finished_at')::text FROM runs r ORDER BY id",
            "SELECT to_jsonb(s)::text FROM steps s ORDER BY run_id, seq",
            "SELECT to_jsonb(v)::text FROM step_values v ORDER BY run_id, hash",
        ] {
            let rows = texts(&fast, sql);
            assert!(!rows.is_empty(), "{sql}");
            assert_eq!(rows, texts(&slow, sql), "{sql}");
        }
        let shared = texts(
            &fast,
            "SELECT run_id::text FROM step_values ORDER BY run_id",
        );
        assert_eq!(shared, vec!["1", "2"], "a value once per run");
    }

    #[test]
    fn a_read_in_the_middle_of_a_batch_sees_the_writes_kept_before_it() {
        let Some((_db, store)) =
            scratch_store("a_read_in_the_middle_of_a_batch_sees_the_writes_kept_before_it")
        else {
            return;
        };
        workflow_w(&store);
        let pg = store.postgres().unwrap();
        pg.set_pipelining(true);
        pg.set_ids_ahead(true);
        store.begin_write().unwrap();
        // the first event and run take blocks of ids (sending what is kept: a statement
        // waited for: the first event goes), the next ones are kept
        let first = event(&store, 0, None, false);
        store.insert_run(&new_run(Some(first))).unwrap();
        let e = event(&store, 1, None, false);
        let r = store.insert_run(&new_run(Some(e))).unwrap().0;
        store.insert_encoded_steps(r, &steps(1..=2)).unwrap();
        store
            .start_run_at(r, Timestamp(5), "me", Timestamp(50))
            .unwrap();
        let kept = pg.with_buffered(|b| {
            [
                b.events.len(),
                b.runs.len(),
                b.values.len(),
                b.steps.len(),
                b.starts.len(),
                b.finishes.len(),
            ]
        });
        assert_eq!(kept, [1, 2, 1, 2, 1, 0], "kept, not sent");
        let run = store.run_with_steps(r).unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Running);
        assert_eq!(run.started_at, Some(Timestamp(5)));
        assert_eq!(run.steps.unwrap().len(), 2);
        assert_eq!(store.event(e).unwrap().unwrap().record.id, e);
        assert_eq!(pg.with_buffered(|b| b.steps.len() + b.runs.len()), 0);
        // more writes after the read, then a read by a dynamic statement
        store
            .finish_run_started(r, None, RunStatus::Succeeded, Some("1"), None)
            .unwrap();
        store.insert_encoded_steps(r, &steps(3..=3)).unwrap();
        let rows = pg
            .query_dynamic(
                &format!("SELECT status, (SELECT count(*) FROM steps WHERE run_id = {r}) FROM runs WHERE id = {r}"),
                &[],
            )
            .unwrap();
        assert_eq!(column::<&str>(&rows[0], 0).unwrap(), "succeeded");
        assert_eq!(column::<i64>(&rows[0], 1).unwrap(), 3);
        store.commit_write().unwrap();
        pg.set_pipelining(false);
        let run = store.run_with_steps(r).unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Succeeded);
        assert_eq!(run.steps.unwrap().len(), 3);
    }

    #[test]
    fn a_failing_row_kept_for_the_flush_refuses_the_commit() {
        let Some((_db, store)) =
            scratch_store("a_failing_row_kept_for_the_flush_refuses_the_commit")
        else {
            return;
        };
        workflow_w(&store);
        let pg = store.postgres().unwrap();
        let count =
            |sql: &'static str| -> i64 { column(&pg.query_one(sql, &[]).unwrap(), 0).unwrap() };
        // a step's seq twice (in one statement), then a run of no definition
        let writes: [&dyn Fn(i64); 2] = [
            &|r| store.insert_encoded_steps(r, &steps(2..=3)).unwrap(),
            &|_| {
                store
                    .insert_run(&NewRun {
                        definition_id: 99,
                        ..new_run(None)
                    })
                    .unwrap();
            },
        ];
        for bad in writes {
            pg.set_pipelining(true);
            store.begin_write().unwrap();
            let e = event(&store, 1, None, false);
            let r = store.insert_run(&new_run(Some(e))).unwrap().0;
            store.insert_encoded_steps(r, &steps(1..=2)).unwrap();
            store
                .start_run_at(r, Timestamp(5), "me", Timestamp(50))
                .unwrap();
            bad(r);
            store
                .finish_run_started(r, None, RunStatus::Succeeded, None, None)
                .unwrap();
            assert!(store.commit_write().is_err());
            pg.set_pipelining(false);
            assert_eq!(pg.with_buffered(|b| b.events.len() + b.finishes.len()), 0);
            for sql in [
                "SELECT count(*) FROM events",
                "SELECT count(*) FROM runs",
                "SELECT count(*) FROM steps",
                "SELECT count(*) FROM step_values",
            ] {
                assert_eq!(count(sql), 0, "{sql}: nothing kept");
            }
        }
        // and the connection goes on
        pg.set_pipelining(true);
        store.begin_write().unwrap();
        event(&store, 1, None, false);
        store.commit_write().unwrap();
        pg.set_pipelining(false);
        assert_eq!(count("SELECT count(*) FROM events"), 1);
    }

    #[test]
    fn writes_sent_without_waiting_are_all_answered_at_the_commit() {
        let Some((_db, store)) =
            scratch_store("writes_sent_without_waiting_are_all_answered_at_the_commit")
        else {
            return;
        };
        let pg = store.postgres().unwrap();
        // many small writes: on loopback some are answered before their first poll ends,
        // and such a finished write must not be polled again
        pg.set_pipelining(true);
        store.begin_write().unwrap();
        for i in 0..2000i64 {
            pg.execute_deferred(
                "INSERT INTO ui_state (key, value, updated_at) VALUES ($1, '1', $2)",
                vec![Box::new(format!("k{i}")), Box::new(i)],
            )
            .unwrap();
        }
        store.commit_write().unwrap();
        pg.set_pipelining(false);
        let n: i64 = column(
            &pg.query_one("SELECT count(*) FROM ui_state", &[]).unwrap(),
            0,
        )
        .unwrap();
        assert_eq!(n, 2000);

        // one that fails refuses the commit, and nothing of the transaction is kept
        pg.set_pipelining(true);
        store.begin_write().unwrap();
        pg.execute_deferred(
            "INSERT INTO ui_state (key, value, updated_at) VALUES ($1, '1', $2)",
            vec![Box::new("new".to_string()), Box::new(0i64)],
        )
        .unwrap();
        let sent = pg.execute_deferred(
            "INSERT INTO ui_state (key, value, updated_at) VALUES ($1, '1', $2)",
            vec![Box::new("k1".to_string()), Box::new(0i64)],
        );
        match sent {
            // answered before its first poll ended (loopback, a thread descheduled between
            // sending and looking): the caller rolls back, as the writer does on a failed job
            Err(e) => {
                assert!(
                    matches!(e, crate::store::StoreError::Constraint(_)),
                    "{e:?}"
                );
                store.rollback_write();
            }
            Ok(()) => assert!(store.commit_write().is_err()),
        }
        pg.set_pipelining(false);
        let n: i64 = column(
            &pg.query_one("SELECT count(*) FROM ui_state", &[]).unwrap(),
            0,
        )
        .unwrap();
        assert_eq!(n, 2000);
    }
}
