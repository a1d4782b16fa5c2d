//! Group commit for `db.exec` on PostgreSQL (the SQLite room's `store::data_writer`): one
//! thread owns a connection to the data database and commits the statements of many runs'
//! steps in one transaction; a step's `db.exec` answers once its batch committed.
//!
//! PostgreSQL gives up a whole transaction when one statement fails, so each statement runs
//! in a savepoint of its own: one that fails is rolled back to it, alone, and the rest of
//! the batch commits. The round trips are pipelined: a prepared statement costs one (its
//! savepoint, the release of the one before, the statement and `lastval()` sent together),
//! and the notes of [`Once`] statements are written in one statement just before the
//! `COMMIT`, in the same transaction as their changes.
//!
//! Exactly once holds across processes: the notes are rows of the shared
//! `_flowdeck_done`, and a resumed run's statement looks its key up there first. A lost
//! connection fails its batch (nothing of it committed) and the next batch reconnects.

use super::data::{DataConn, LASTVAL, data_error, step_sql};
use super::data_values::params;
use super::wait;
use crate::store::background::Joined;
use crate::store::data::{DataError, ExecResult, Once};
use crate::store::data_writer::{Door, serve_batches};
use crate::store::load::Load;
use futures_util::future::{join, join3};
use serde_json::Value;
use std::collections::HashMap;
use tokio::sync::mpsc;
use tokio_postgres::types::ToSql;

/// The done statement's result, by key.
const FIND_DONE: &str = "SELECT changes, last_id FROM _flowdeck_done WHERE key = $1";
/// The batch's notes, at once (a key noted twice keeps its last result).
const NOTE_DONE: &str = "INSERT INTO _flowdeck_done (key, run, changes, last_id)
     SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[])
     ON CONFLICT (key) DO UPDATE
     SET run = excluded.run, changes = excluded.changes, last_id = excluded.last_id";
/// Forget the notes of finished runs.
const FORGET_DONE: &str = "DELETE FROM _flowdeck_done WHERE run < $1";

/// What the writer thread is asked to do.
type Work = crate::store::data_writer::Work<Value>;
/// A job on the writer's queue.
type Job = crate::store::data_writer::Job<Value>;

/// A handle to the data writer thread on PostgreSQL. Dropping it commits what is queued
/// and joins the thread.
#[derive(Debug)]
pub(crate) struct PgDataWriter {
    // fields drop in order: the channel closes, then the thread ends and is joined
    /// Where statements go in.
    pub(crate) door: Door<Value>,
    _thread: Joined,
}

impl PgDataWriter {
    /// Connect to the data database at `url` and start the thread. With `pace` (the store
    /// writer's load), batches wait longer to grow while the store writer is saturated.
    pub(crate) fn spawn(url: &str, pace: Option<Load>) -> Result<PgDataWriter, DataError> {
        let conn = DataConn::connect(url)?;
        let url = url.to_string();
        let (door, rx) = Door::open();
        let thread = std::thread::Builder::new()
            .name("flowdeck-data-pg".into())
            .spawn(move || run(&url, Some(conn), rx, pace.as_ref()))
            .map_err(|e| DataError::Sql(format!("cannot start the data writer thread: {e}")))?;
        Ok(PgDataWriter {
            door,
            _thread: Joined::new(thread),
        })
    }
}

/// The notes' columns (key, run, changes, last_id), as the parameters of [`NOTE_DONE`].
type NoteColumns = (Vec<String>, Vec<i64>, Vec<i64>, Vec<i64>);

/// The open batch on the writer's connection.
struct Batch<'c> {
    conn: &'c mut DataConn,
    /// Our own statements to send with the next ones (`BEGIN`, the release of the last
    /// statement's savepoint): they cost no round trip of their own.
    pending: String,
    /// Whether `BEGIN` was sent.
    begun: bool,
    /// Notes of the statements run at most once, written before the commit.
    notes: Vec<(String, i64, ExecResult)>,
    noted: HashMap<String, usize>,
}

/// The savepoint each statement runs in.
const SAVEPOINT: &str = "SAVEPOINT flowdeck_step";
const RELEASE: &str = "RELEASE SAVEPOINT flowdeck_step";
const UNDO: &str = "ROLLBACK TO SAVEPOINT flowdeck_step; RELEASE SAVEPOINT flowdeck_step";

/// Send `sql` (several statements) unless it is empty.
async fn maybe_batch(
    client: &tokio_postgres::Client,
    sql: &str,
) -> Result<(), tokio_postgres::Error> {
    if sql.is_empty() {
        Ok(())
    } else {
        client.batch_execute(sql).await
    }
}

impl<'c> Batch<'c> {
    fn new(conn: &'c mut DataConn) -> Batch<'c> {
        Batch {
            conn,
            pending: "BEGIN".into(),
            begun: false,
            notes: Vec::new(),
            noted: HashMap::new(),
        }
    }

    /// What is pending, taken (it is about to be sent).
    fn take_pending(&mut self) -> String {
        if self.pending.starts_with("BEGIN") {
            self.begun = true;
        }
        std::mem::take(&mut self.pending)
    }

    /// What is pending, then the statement's savepoint.
    fn opening(&mut self) -> String {
        let pending = self.take_pending();
        if pending.is_empty() {
            SAVEPOINT.into()
        } else {
            format!("{pending}; {SAVEPOINT}")
        }
    }

    /// Roll back to the statement's savepoint (the transaction goes on).
    fn undo(&mut self) -> Result<(), DataError> {
        self.conn.batch(UNDO)
    }

    /// The result of the statement known by `key`: noted in this batch, or committed
    /// before (by this process or another).
    fn done(&mut self, key: &str) -> Result<Option<ExecResult>, DataError> {
        if let Some(&i) = self.noted.get(key) {
            return Ok(self.notes.get(i).map(|n| n.2));
        }
        let find = self.conn.own(FIND_DONE)?;
        let pending = self.take_pending();
        let client = self.conn.client();
        let (sent, found) = wait(join(
            maybe_batch(client, &pending),
            client.query_opt(&find, &[&key]),
        ));
        sent.map_err(|e| data_error(&e, false))?;
        let Some(row) = found.map_err(|e| data_error(&e, false))? else {
            return Ok(None);
        };
        let changes: i64 = row.try_get(0).map_err(|e| data_error(&e, false))?;
        let last_id: i64 = row.try_get(1).map_err(|e| data_error(&e, false))?;
        Ok(Some(ExecResult {
            changes: u64::try_from(changes).unwrap_or(0),
            last_id,
        }))
    }

    fn note(&mut self, once: &Once, result: ExecResult) {
        match self.noted.get(&once.key) {
            Some(&i) => {
                if let Some(n) = self.notes.get_mut(i) {
                    *n = (once.key.clone(), once.run, result);
                }
            }
            None => {
                self.noted.insert(once.key.clone(), self.notes.len());
                self.notes.push((once.key.clone(), once.run, result));
            }
        }
    }

    /// The notes' parameters, and the notes forgotten (they are about to be written).
    fn take_notes(&mut self) -> Option<NoteColumns> {
        if self.notes.is_empty() {
            return None;
        }
        self.noted.clear();
        let notes = std::mem::take(&mut self.notes);
        let mut columns = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (key, run, r) in notes {
            columns.0.push(key);
            columns.1.push(run);
            columns.2.push(i64::try_from(r.changes).unwrap_or(i64::MAX));
            columns.3.push(r.last_id);
        }
        Some(columns)
    }

    /// Do a job's work inside the batch's transaction. `Err` from the outer result: the
    /// batch cannot commit (our own statement failed).
    fn job(&mut self, work: &Work) -> Result<Result<ExecResult, DataError>, DataError> {
        match work {
            Work::Forget(run) => self.forget(*run).map(Ok),
            Work::Step { sql, args, once } => self.step(sql, args, once.as_ref()),
        }
    }

    fn forget(&mut self, run: i64) -> Result<ExecResult, DataError> {
        let note = self.conn.own(NOTE_DONE)?;
        let forget = self.conn.own(FORGET_DONE)?;
        let notes = self.take_notes();
        let pending = self.take_pending();
        let client = self.conn.client();
        let (sent, noted, forgotten) = wait(join3(
            maybe_batch(client, &pending),
            async {
                match &notes {
                    Some((k, r, c, l)) => client.execute(&note, &[k, r, c, l]).await.map(|_| ()),
                    None => Ok(()),
                }
            },
            client.execute(&forget, &[&run]),
        ));
        let changes = sent
            .and(noted)
            .and(forgotten)
            .map_err(|e| data_error(&e, false))?;
        Ok(ExecResult {
            changes,
            last_id: 0,
        })
    }

    fn step(
        &mut self,
        sql: &str,
        args: &[Value],
        once: Option<&Once>,
    ) -> Result<Result<ExecResult, DataError>, DataError> {
        let text = match step_sql(sql, true) {
            Ok(text) => text,
            Err(e) => return Ok(Err(e)),
        };
        if let Some(once) = once.filter(|o| o.check)
            && let Some(done) = self.done(&once.key)?
        {
            tracing::info!(
                key = once.key,
                "db.exec committed before its process died; not run again"
            );
            return Ok(Ok(done));
        }
        let lastval = self.conn.own(LASTVAL)?;
        // the savepoint is opened with the statement when it is prepared already, else with
        // its preparation
        let (statement, opening) = match self.conn.cached(&text) {
            Some(statement) => (statement, None),
            None => {
                let opening = self.opening();
                let client = self.conn.client();
                let (opened, prepared) =
                    wait(join(client.batch_execute(&opening), client.prepare(&text)));
                opened.map_err(|e| data_error(&e, false))?;
                match prepared {
                    Ok(statement) => {
                        self.conn.remember(&text, statement.clone());
                        (statement, Some(()))
                    }
                    Err(e) => {
                        self.undo()?;
                        return Ok(Err(data_error(&e, false)));
                    }
                }
            }
        };
        let params = match params(statement.params(), args) {
            Ok(params) => params,
            Err(e) => {
                if opening.is_some() {
                    // the savepoint is open and nothing ran in it
                    self.pending = RELEASE.into();
                }
                return Ok(Err(e));
            }
        };
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let opening = match opening {
            Some(()) => String::new(),
            None => self.opening(),
        };
        let client = self.conn.client();
        let (opened, changes, last) = wait(join3(
            maybe_batch(client, &opening),
            client.execute(&statement, &refs),
            client.query_one(&lastval, &[]),
        ));
        opened.map_err(|e| data_error(&e, false))?;
        let result = changes.and_then(|changes| {
            let last_id = last?.try_get::<_, i64>(0)?;
            Ok(ExecResult { changes, last_id })
        });
        match result {
            Ok(result) => {
                self.pending = RELEASE.into();
                if let Some(once) = once {
                    self.note(once, result);
                }
                Ok(Ok(result))
            }
            Err(e) => {
                self.conn.forget(&text);
                self.undo()?;
                Ok(Err(data_error(&e, false)))
            }
        }
    }

    /// Write the notes and commit (one round trip).
    fn commit(&mut self) -> Result<(), DataError> {
        if !self.begun && self.pending.starts_with("BEGIN") && self.notes.is_empty() {
            // nothing was sent
            return Ok(());
        }
        let note = self.conn.own(NOTE_DONE)?;
        let notes = self.take_notes();
        let pending = self.take_pending();
        let client = self.conn.client();
        let (sent, noted, committed) = wait(join3(
            maybe_batch(client, &pending),
            async {
                match &notes {
                    Some((k, r, c, l)) => client.execute(&note, &[k, r, c, l]).await.map(|_| ()),
                    None => Ok(()),
                }
            },
            client.batch_execute("COMMIT"),
        ));
        // a failure before the COMMIT turned it into a rollback
        sent.and(noted)
            .and(committed)
            .map_err(|e| data_error(&e, false))
    }

    /// Give the transaction up.
    fn rollback(&mut self) {
        if self.begun
            && let Err(e) = self.conn.batch("ROLLBACK")
        {
            tracing::warn!(error = %e, "data rollback failed");
        }
    }
}

/// Run the batch in one transaction and commit it; the commit's error, if any.
fn run_batch(conn: &mut DataConn, batch: &mut [Job]) -> Option<DataError> {
    let mut tx = Batch::new(conn);
    for job in batch.iter_mut() {
        match tx.job(&job.work) {
            Ok(result) => job.result = Some(result),
            Err(e) => {
                tx.rollback();
                return Some(e);
            }
        }
    }
    match tx.commit() {
        Ok(()) => None,
        Err(e) => {
            tx.rollback();
            Some(e)
        }
    }
}

/// The writer's connection, connected again when it was lost.
fn connection<'c>(
    url: &str,
    conn: &'c mut Option<DataConn>,
) -> Result<&'c mut DataConn, DataError> {
    if conn.as_ref().is_none_or(DataConn::is_closed) {
        *conn = None;
        *conn = Some(DataConn::connect(url)?);
    }
    conn.as_mut()
        .ok_or_else(|| DataError::Sql("the data writer has no connection".into()))
}

fn run(url: &str, mut conn: Option<DataConn>, mut rx: mpsc::Receiver<Job>, pace: Option<&Load>) {
    serve_batches(&mut rx, pace, |batch| match connection(url, &mut conn) {
        Ok(c) => run_batch(c, batch),
        Err(e) => Some(e),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::data_writer::DONE_TABLE;
    use crate::store::postgres::data::PgData;
    use crate::store::postgres::scratch::ScratchDatabase;
    use serde_json::json;

    fn jobs(works: Vec<Work>) -> Vec<Job> {
        works.into_iter().map(Job::unanswered).collect()
    }

    fn step(sql: &str, args: Vec<Value>, once: Option<&str>) -> Work {
        Work::Step {
            sql: sql.into(),
            args,
            once: once.map(|key| Once {
                key: key.into(),
                run: 1,
                check: true,
            }),
        }
    }

    #[test]
    fn one_batch_commits_what_succeeded_and_undoes_each_failure_alone() {
        let Some(scratch) = ScratchDatabase::for_test(
            "one_batch_commits_what_succeeded_and_undoes_each_failure_alone",
        ) else {
            return;
        };
        let data = PgData::open(scratch.url()).unwrap();
        data.run_script("CREATE TABLE u (k TEXT PRIMARY KEY, n BIGINT)")
            .unwrap();
        let mut conn = DataConn::connect(scratch.url()).unwrap();
        let insert = "INSERT INTO u (k) VALUES (?)";
        let insert_n = "INSERT INTO u (k, n) VALUES (?, ?)";
        let mut batch = jobs(vec![
            step(insert, vec![json!("a")], Some("1/a")),
            // fails on the key, its statement prepared already
            step(insert, vec![json!("a")], Some("1/dup")),
            // fails before it is sent, its statement prepared in its savepoint
            step(insert_n, vec![json!("b"), json!(1.5)], None),
            step(insert_n, vec![json!("b"), json!(2)], Some("1/b")),
            // fails to prepare
            step("INSERT INTO nope VALUES (1)", vec![], None),
            step("COMMIT", vec![], None),
            step(insert, vec![], None),
            // noted earlier in this batch: not run again (it would fail on the key)
            step(insert, vec![json!("a")], Some("1/a")),
            step("UPDATE u SET n = 3 WHERE k = ?", vec![json!("b")], None),
        ]);
        assert_eq!(run_batch(&mut conn, &mut batch), None);
        let results: Vec<Option<u64>> = batch
            .iter()
            .map(|j| j.result.clone().and_then(Result::ok).map(|r| r.changes))
            .collect();
        assert_eq!(
            results,
            vec![
                Some(1),
                None,
                None,
                Some(1),
                None,
                None,
                None,
                Some(1),
                Some(1)
            ]
        );
        let error = |i: usize| match &batch[i].result {
            Some(Err(e)) => e.to_string(),
            other => format!("{other:?}"),
        };
        assert!(error(1).contains("duplicate key"), "{}", error(1));
        assert!(error(2).contains("not an integer"), "{}", error(2));
        assert!(error(4).contains("\"nope\" does not exist"), "{}", error(4));
        assert!(
            error(5).contains("cannot control transactions"),
            "{}",
            error(5)
        );
        assert!(
            error(6).contains("1 parameter(s) but args gives 0"),
            "{}",
            error(6)
        );
        let rows = data.query("SELECT k, n FROM u ORDER BY k", &[]).unwrap();
        assert_eq!(
            rows,
            vec![json!({"k": "a", "n": null}), json!({"k": "b", "n": 3})]
        );
        let notes = data
            .query("SELECT key, run FROM _flowdeck_done ORDER BY key", &[])
            .unwrap();
        assert_eq!(
            notes,
            vec![
                json!({"key": "1/a", "run": 1}),
                json!({"key": "1/b", "run": 1})
            ]
        );

        // a resumed run's statement is found committed; the notes of finished runs go
        let mut batch = jobs(vec![
            step(insert_n, vec![json!("b"), json!(2)], Some("1/b")),
            Work::Forget(2),
        ]);
        assert_eq!(run_batch(&mut conn, &mut batch), None);
        assert_eq!(
            batch[0].result.clone().unwrap().unwrap().changes,
            1,
            "the recorded result"
        );
        assert_eq!(batch[1].result.clone().unwrap().unwrap().changes, 2);
        assert_eq!(
            data.query("SELECT count(*) AS n FROM u", &[]).unwrap(),
            vec![json!({"n": 2})]
        );
    }

    #[test]
    fn our_statements_name_the_done_table() {
        for sql in [FIND_DONE, NOTE_DONE, FORGET_DONE] {
            assert!(sql.contains(DONE_TABLE), "{sql}");
        }
    }
}
