//! Group commit for `db.exec`: one thread owns the data database's write connection and
//! commits the statements of many runs' steps in one transaction.
//!
//! A step's statement runs in the next batch and the step waits for the batch's commit, so
//! a `db.exec` step is done only once its change is on disk, as with a transaction of its
//! own. A statement that fails is undone alone (SQLite rolls back the failing statement and
//! keeps the transaction); one that ends the whole transaction (`OR ROLLBACK`, a trigger's
//! `RAISE(ROLLBACK)`) fails, and the rest of its batch runs again. Transaction control
//! (`BEGIN`, `COMMIT`, `SAVEPOINT`, …) is refused in steps: each step commits on its own.
//!
//! Exactly once: a statement given a [`Once`] is noted in [`DONE_TABLE`] in the same
//! transaction as its change, so the note and the change commit together or not at all.
//! When a run resumes after its process died, its statements are looked up there first: a
//! statement that committed is not run again, and its step gets the result it had.
//!
//! On PostgreSQL the same, with a savepoint per statement: `store::postgres::data_writer`.

use super::background::{Joined, drain};
use super::checkpointer::{self, Checkpointer};
use super::data::{DataError, ExecResult, connect};
use super::load::Load;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Statement};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Statements queued before steps wait (back-pressure).
pub(crate) const QUEUE: usize = 4096;
/// Statements committed in one transaction at most.
pub(crate) const BATCH: usize = 1024;

/// How long a batch waits for more statements before it commits, and below what size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Linger {
    below: usize,
    wait: Duration,
}

/// When steps keep coming but few are waiting: a short wait, well under a step's usual
/// duration and far less CPU than the commits it saves.
const LINGER: Linger = Linger {
    below: 4,
    wait: Duration::from_micros(100),
};

/// While the store writer is saturated (the engine at full load, the store writer the
/// bottleneck): every commit here takes CPU from it, so batches wait longer to grow. At a
/// moderate load the wait would only lengthen each run, so it applies only while
/// saturated (figures in docs/performance.md).
const LINGER_SATURATED: Linger = Linger {
    below: 16,
    wait: Duration::from_micros(300),
};

/// How long the next batch, now `batch` statements, waits for more: `busy` when the last
/// batch held more than one statement (a lone statement commits at once), `saturated` when
/// the store writer is.
pub(crate) fn linger(batch: usize, busy: bool, saturated: bool) -> Option<Duration> {
    let rule = if saturated { LINGER_SATURATED } else { LINGER };
    (busy && batch < rule.below).then_some(rule.wait)
}

/// What the connection's authorizer refused last (read after a failed statement).
#[derive(Debug, Default)]
pub(crate) struct Refusals {
    /// Set while a step's SQL is prepared or run: transaction control is refused then.
    pub(crate) steps_sql: AtomicBool,
    /// [`DENIED_NOTHING`] or [`DENIED_TRANSACTION`].
    pub(crate) denied: AtomicU8,
}

/// Nothing was refused.
pub(crate) const DENIED_NOTHING: u8 = 0;
/// A step's SQL tried to control the transaction.
pub(crate) const DENIED_TRANSACTION: u8 = 1;
/// A step's SQL tried to change [`DONE_TABLE`].
pub(crate) const DENIED_DONE_TABLE: u8 = 2;

/// flowdeck's own table in the data database: the `db.exec` statements of unfinished runs
/// that committed, by their identity.
pub(crate) const DONE_TABLE: &str = "_flowdeck_done";

/// A statement to run at most once: what identifies it (a step of a run, see
/// `engine::effects::StepRef::identity`), and whether to look for it first (its run
/// resumed after a crash, so it may have committed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Once {
    /// The statement's identity.
    pub key: String,
    /// Its run, for forgetting the notes of finished runs.
    pub run: i64,
    /// Look the key up before running the statement.
    pub check: bool,
}

/// What a data writer thread is asked to do; `A` is a statement's argument (SQLite's value
/// here, JSON on PostgreSQL).
pub(crate) enum Work<A> {
    /// A step's statement, at most once when it says so.
    Step {
        sql: String,
        args: Vec<A>,
        once: Option<Once>,
    },
    /// Forget the notes of runs before this id (they are finished).
    Forget(i64),
}

/// A job on a data writer's queue: the work, its result once run, and whom to answer.
pub(crate) struct Job<A> {
    pub(crate) work: Work<A>,
    pub(crate) result: Option<Result<ExecResult, DataError>>,
    answer: oneshot::Sender<(Result<ExecResult, DataError>, Work<A>)>,
}

impl<A> Job<A> {
    /// A job whose answer nobody waits for (tests of a writer's batches).
    #[cfg(test)]
    pub(crate) fn unanswered(work: Work<A>) -> Job<A> {
        let (answer, _) = oneshot::channel();
        Job {
            work,
            result: None,
            answer,
        }
    }

    /// Answer the caller, handing back its work: the statement and arguments were allocated
    /// on the caller's core and are freed there (a free from another thread costs both
    /// cores).
    pub(crate) fn reply(self, result: Result<ExecResult, DataError>) {
        let _ = self.answer.send((result, self.work));
    }
}

/// The front door of a data writer thread (either room's): statements in, answers out once
/// their batch committed.
#[derive(Debug)]
pub(crate) struct Door<A> {
    tx: mpsc::Sender<Job<A>>,
}

impl<A> Door<A> {
    /// A door and the queue its thread takes jobs from.
    pub(crate) fn open() -> (Door<A>, mpsc::Receiver<Job<A>>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (Door { tx }, rx)
    }

    /// Run `sql` with `args` in the next group commit (at most once, with `once`); answers
    /// once it is committed.
    pub(crate) async fn exec(
        &self,
        sql: &str,
        args: Vec<A>,
        once: Option<Once>,
    ) -> Result<ExecResult, DataError> {
        self.send(Work::Step {
            sql: sql.to_owned(),
            args,
            once,
        })
        .await
    }

    /// Forget the notes of statements of runs whose id is below `run` (they are finished and
    /// never resume).
    pub(crate) async fn forget_before(&self, run: i64) -> Result<u64, DataError> {
        self.send(Work::Forget(run)).await.map(|r| r.changes)
    }

    async fn send(&self, work: Work<A>) -> Result<ExecResult, DataError> {
        let gone = || DataError::Sql("the data writer has stopped".into());
        let (answer, rx) = oneshot::channel();
        let job = Job {
            work,
            result: None,
            answer,
        };
        self.tx.send(job).await.map_err(|_| gone())?;
        let (result, spent) = rx.await.map_err(|_| gone())?;
        drop(spent);
        result
    }
}

/// A data writer thread's loop (either room's): take the jobs waiting, let a batch linger
/// while steps keep coming ([`linger`]), have `commit` run them in one transaction (it sets
/// each job's result and returns the commit's error), and answer each job.
pub(crate) fn serve_batches<A>(
    rx: &mut mpsc::Receiver<Job<A>>,
    pace: Option<&Load>,
    mut commit: impl FnMut(&mut [Job<A>]) -> Option<DataError>,
) {
    let mut batch: Vec<Job<A>> = Vec::with_capacity(BATCH);
    let mut busy = false;
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        drain(rx, &mut batch, BATCH);
        // a commit costs far more than a statement: give the steps running now a moment to
        // join this commit
        let saturated = pace.is_some_and(Load::is_saturated);
        if let Some(wait) = linger(batch.len(), busy, saturated) {
            std::thread::sleep(wait);
            drain(rx, &mut batch, BATCH);
        }
        busy = batch.len() > 1;
        tracing::trace!(statements = batch.len(), "data group commit");
        let commit_error = commit(&mut batch);
        if let Some(e) = &commit_error {
            tracing::error!(error = %e, "data group commit failed");
        }
        for mut job in batch.drain(..) {
            let answer = match (job.result.take(), &commit_error) {
                (Some(Err(e)), _) => Err(e),
                (_, Some(e)) => Err(DataError::Sql(format!("not committed: {e}"))),
                (Some(Ok(r)), None) => Ok(r),
                (None, None) => Err(DataError::Sql("the statement did not run".into())),
            };
            job.reply(answer);
        }
    }
}

/// A handle to the data writer thread. Dropping it commits what is queued and joins the
/// thread.
#[derive(Debug)]
pub(crate) struct DataWriter {
    // fields drop in order: the channel closes, the thread ends and is joined, then the
    // checkpointer stops
    /// Where statements go in.
    pub(crate) door: Door<SqlValue>,
    _thread: Joined,
    _checkpointer: Option<Checkpointer>,
}

impl DataWriter {
    /// Open a write connection to the data database at `path` on a new thread. With `pace`
    /// (the store writer's load), batches wait longer to grow while the store writer is
    /// saturated.
    pub(crate) fn spawn(path: &Path, pace: Option<Load>) -> Result<DataWriter, DataError> {
        let guard = Arc::new(Refusals::default());
        let conn = connect(path, Some(guard.clone()))?;
        let checkpointer = checkpointer::hand_off(&conn, path);
        let (door, rx) = Door::open();
        let thread = std::thread::Builder::new()
            .name("flowdeck-data".into())
            .spawn(move || run(&conn, &guard, rx, pace.as_ref()))
            .map_err(|e| DataError::Sql(format!("cannot start the data writer thread: {e}")))?;
        Ok(DataWriter {
            door,
            _thread: Joined::new(thread),
            _checkpointer: checkpointer,
        })
    }
}

/// Our own statements, prepared once outside the statement cache (a step's SQL of the
/// same text must not find them there: it would skip the authorizer).
struct Controls<'c> {
    begin: Statement<'c>,
    commit: Statement<'c>,
    rollback: Statement<'c>,
    find_done: Statement<'c>,
    note_done: Statement<'c>,
    forget_done: Statement<'c>,
}

impl<'c> Controls<'c> {
    fn prepare(conn: &'c Connection) -> rusqlite::Result<Controls<'c>> {
        conn.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {DONE_TABLE} (
                 key     TEXT PRIMARY KEY,
                 run     INTEGER NOT NULL,
                 changes INTEGER NOT NULL,
                 last_id INTEGER NOT NULL
             ) WITHOUT ROWID"
        ))?;
        Ok(Controls {
            begin: conn.prepare("BEGIN IMMEDIATE")?,
            commit: conn.prepare("COMMIT")?,
            rollback: conn.prepare("ROLLBACK")?,
            find_done: conn.prepare(&format!(
                "SELECT changes, last_id FROM {DONE_TABLE} WHERE key = ?1"
            ))?,
            note_done: conn.prepare(&format!(
                "INSERT OR REPLACE INTO {DONE_TABLE} (key, run, changes, last_id) VALUES (?1, ?2, ?3, ?4)"
            ))?,
            forget_done: conn.prepare(&format!("DELETE FROM {DONE_TABLE} WHERE run < ?1"))?,
        })
    }

    /// What the statement known by `key` did, when it committed before.
    fn done(&mut self, key: &str) -> rusqlite::Result<Option<ExecResult>> {
        use rusqlite::OptionalExtension;
        self.find_done
            .query_row([key], |r| {
                Ok(ExecResult {
                    changes: r.get::<_, i64>(0)?.try_into().unwrap_or(0),
                    last_id: r.get(1)?,
                })
            })
            .optional()
    }
}

/// Do a job's work inside the batch's transaction. `Err` from the outer result: the batch
/// cannot commit as it is (a note could not be written).
fn run_job(
    conn: &Connection,
    controls: &mut Controls<'_>,
    guard: &Refusals,
    work: &Work<SqlValue>,
) -> Result<Result<ExecResult, DataError>, DataError> {
    match work {
        Work::Forget(run) => Ok(controls
            .forget_done
            .execute([run])
            .map(|n| ExecResult {
                changes: n as u64,
                last_id: 0,
            })
            .map_err(DataError::from)),
        Work::Step { sql, args, once } => {
            if let Some(once) = once.as_ref().filter(|o| o.check)
                && let Some(done) = controls.done(&once.key)?
            {
                tracing::info!(
                    key = once.key,
                    "db.exec committed before its process died; not run again"
                );
                return Ok(Ok(done));
            }
            let result = run_statement(conn, guard, sql, args);
            if let (Ok(r), Some(once)) = (&result, once)
                && !conn.is_autocommit()
            {
                controls.note_done.execute(rusqlite::params![
                    once.key,
                    once.run,
                    i64::try_from(r.changes).unwrap_or(i64::MAX),
                    r.last_id
                ])?;
            }
            Ok(result)
        }
    }
}

/// Run a step's statement on `conn`, refusing transaction control (the transaction is the
/// caller's).
pub(crate) fn run_statement(
    conn: &Connection,
    guard: &Refusals,
    sql: &str,
    args: &[rusqlite::types::Value],
) -> Result<ExecResult, DataError> {
    guard.denied.store(DENIED_NOTHING, Ordering::Relaxed);
    guard.steps_sql.store(true, Ordering::Relaxed);
    let result = (|| {
        let mut stmt = conn.prepare_cached(sql)?;
        let expected = stmt.parameter_count();
        if expected != args.len() {
            return Err(DataError::ArgCount {
                expected,
                given: args.len(),
            });
        }
        let changes = stmt.execute(rusqlite::params_from_iter(args.iter()))?;
        Ok(ExecResult {
            changes: changes as u64,
            last_id: conn.last_insert_rowid(),
        })
    })();
    guard.steps_sql.store(false, Ordering::Relaxed);
    result.map_err(|e| match guard.denied.load(Ordering::Relaxed) {
        DENIED_TRANSACTION => transaction_refused(),
        DENIED_DONE_TABLE => done_table_refused(),
        _ => e,
    })
}

/// The error of a step's statement that controls the transaction (both rooms).
pub(crate) fn transaction_refused() -> DataError {
    DataError::Sql(
        "db.exec cannot control transactions (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE): \
         each db.exec step is committed on its own; remove the statement from the step"
            .into(),
    )
}

/// The error of a step's statement that changes [`DONE_TABLE`] (both rooms).
pub(crate) fn done_table_refused() -> DataError {
    DataError::Sql(format!(
        "{DONE_TABLE} is flowdeck's own record of the db.exec steps that committed (so that \
         none runs twice after a crash); steps cannot change it"
    ))
}

/// Run the batch in one transaction and commit it; the commit's error, if any.
fn run_batch(
    conn: &Connection,
    controls: &mut Controls<'_>,
    guard: &Refusals,
    batch: &mut [Job<SqlValue>],
) -> Option<DataError> {
    loop {
        if let Err(e) = controls.begin.execute([]) {
            return Some(e.into());
        }
        let mut restart = false;
        for job in batch.iter_mut() {
            if matches!(job.result, Some(Err(_))) {
                continue;
            }
            let result = match run_job(conn, controls, guard, &job.work) {
                Ok(result) => result,
                Err(e) => {
                    // a note of a statement that ran could not be written: nothing of the
                    // batch may commit
                    if !conn.is_autocommit() {
                        let _ = controls.rollback.execute([]);
                    }
                    return Some(e);
                }
            };
            if conn.is_autocommit() {
                // the statement ended the transaction: it fails, and what ran before it in
                // this batch was undone and runs again
                job.result = Some(Err(result.err().unwrap_or_else(|| {
                    DataError::Sql("the statement rolled back its transaction".into())
                })));
                restart = true;
                break;
            }
            job.result = Some(result);
        }
        if restart {
            continue;
        }
        return controls.commit.execute([]).err().map(|e| {
            if !conn.is_autocommit() {
                let _ = controls.rollback.execute([]);
            }
            e.into()
        });
    }
}

fn run(
    conn: &Connection,
    guard: &Refusals,
    mut rx: mpsc::Receiver<Job<SqlValue>>,
    pace: Option<&Load>,
) {
    let mut controls = match Controls::prepare(conn) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "the data writer cannot prepare its statements");
            while let Some(job) = rx.blocking_recv() {
                job.reply(Err(DataError::Sql(format!(
                    "the data writer cannot start: {e}"
                ))));
            }
            return;
        }
    };
    serve_batches(&mut rx, pace, |batch| {
        run_batch(conn, &mut controls, guard, batch)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_statement_commits_at_once_and_small_batches_wait_longer_while_saturated() {
        // the last batch was a lone statement: no wait, saturated or not
        assert_eq!(linger(1, false, false), None);
        assert_eq!(linger(1, false, true), None);
        // steps keep coming
        assert_eq!(linger(2, true, false), Some(Duration::from_micros(100)));
        assert_eq!(linger(4, true, false), None, "enough to commit");
        assert_eq!(linger(4, true, true), Some(Duration::from_micros(300)));
        assert_eq!(linger(15, true, true), Some(Duration::from_micros(300)));
        assert_eq!(linger(16, true, true), None, "enough to commit");
    }
}
