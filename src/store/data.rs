//! The project's data database (`flowdeck.data.db`): the only database `db.*` steps reach.
//!
//! SQL is literal and values enter only as bound parameters. `ATTACH` is refused, so steps
//! can never reach the studio's own tables; `db.query` must be read-only. A `postgres://…`
//! data database has the same API and rules, in `store::postgres::data`.
//!
//! Over 600 lines only with its tests, which stay beside the code they pin down.

pub(crate) use super::data_writer::Once;
use super::data_writer::{DENIED_DONE_TABLE, DENIED_TRANSACTION, DONE_TABLE, DataWriter, Refusals};
use super::load::Load;
use super::postgres::data::{PgData, PgScratch};
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, OpenFlags};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// A `db.*` step that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    /// The database (SQLite or PostgreSQL) refused the SQL or its execution.
    #[error("{0}")]
    Sql(String),
    /// A write in `db.query`.
    #[error("db.query runs read-only SQL; use db.exec to change data")]
    NotReadOnly,
    /// The number of `args` does not match the `?` parameters.
    #[error("the SQL has {expected} parameter(s) but args gives {given}")]
    ArgCount {
        /// `?` in the SQL.
        expected: usize,
        /// Values in `args`.
        given: usize,
    },
}

impl From<rusqlite::Error> for DataError {
    fn from(e: rusqlite::Error) -> Self {
        let text = match &e {
            rusqlite::Error::SqliteFailure(_, Some(msg)) => msg.clone(),
            other => other.to_string(),
        };
        if text.contains("not authorized") {
            return DataError::Sql(
                "not authorized: steps cannot ATTACH other databases (the data database is the only one they reach)"
                    .into(),
            );
        }
        DataError::Sql(text)
    }
}

/// The result of `db.exec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecResult {
    /// Rows changed.
    pub changes: u64,
    /// Rowid of the last insert on this connection.
    pub last_id: i64,
}

/// The data database: a small pool of read connections (`db.query`, scripts) and, started
/// on the first `db.exec`, the writer thread that group-commits steps' writes. On
/// PostgreSQL (a `postgres://…` path) every operation goes to its room, `pg`.
#[derive(Debug)]
pub struct DataDb {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    writer: OnceLock<DataWriter>,
    pace: Option<Load>,
    pg: Option<PgData>,
}

const POOL_SIZE: usize = 8;
/// SQLite's authorizer action codes for ATTACH and DETACH.
const SQLITE_ATTACH: i32 = 24;
const SQLITE_DETACH: i32 = 25;

impl DataDb {
    /// Open (creating when missing) the data database at `path`: a file, or a
    /// `postgres://…` URL (its database made when the server has none of that name).
    pub fn open(path: &Path) -> Result<DataDb, DataError> {
        let pg = match path.to_str() {
            Some(url) if super::postgres::is_postgres_url(url) => Some(PgData::open(url)?),
            _ => None,
        };
        let db = DataDb {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
            writer: OnceLock::new(),
            pace: None,
            pg,
        };
        if db.pg.is_some() {
            return Ok(db);
        }
        let conn = connect(&db.path, None)?;
        db.give_back(conn);
        Ok(db)
    }

    /// Pace the data writer by the store writer's `load`: while the store writer is
    /// saturated, the data writer gathers bigger batches (see `DataWriter::spawn`).
    pub fn paced_by(mut self, load: Load) -> DataDb {
        self.pace = Some(load);
        self
    }

    /// The file (or the PostgreSQL URL).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn take(&self) -> Result<Connection, DataError> {
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        match idle {
            Some(c) => Ok(c),
            None => connect(&self.path, None),
        }
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < POOL_SIZE
        {
            idle.push(conn);
        }
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T, DataError>) -> Result<T, DataError> {
        let conn = self.take()?;
        let out = f(&conn);
        if conn.is_autocommit() {
            self.give_back(conn);
        }
        out
    }

    /// Run a read-only statement; rows come back as objects keyed by column name.
    pub fn query(&self, sql: &str, args: &[Value]) -> Result<Vec<Value>, DataError> {
        if let Some(pg) = &self.pg {
            return pg.query(sql, args);
        }
        self.with(|conn| query_on(conn, sql, args))
    }

    /// A transaction of its own whose changes are never committed (see `Scratch`).
    pub fn scratch(&self) -> Result<Scratch, DataError> {
        let guard = Arc::new(Refusals::default());
        if let Some(pg) = &self.pg {
            return Ok(Scratch {
                conn: Mutex::new(Connection::open_in_memory()?),
                guard,
                pg: Some(pg.scratch()?),
            });
        }
        let conn = connect(&self.path, Some(guard.clone()))?;
        conn.execute_batch("BEGIN")?;
        Ok(Scratch {
            conn: Mutex::new(conn),
            guard,
            pg: None,
        })
    }

    /// Run a statement that changes data, in the next group commit of the data writer;
    /// answers once the change is on disk.
    pub async fn exec(&self, sql: &str, args: &[Value]) -> Result<ExecResult, DataError> {
        if let Some(pg) = &self.pg {
            return pg.exec(sql, args, None, self.pace.as_ref()).await;
        }
        let args = args.iter().map(to_sql).collect();
        self.writer()?.door.exec(sql, args, None).await
    }

    /// [`DataDb::exec`] at most once: the statement known by `once.key` is noted in the same
    /// transaction as its change, and when `once.check` says its run resumed, a statement
    /// noted before is not run again (its step gets the result it had).
    pub async fn exec_once(
        &self,
        sql: &str,
        args: &[Value],
        once: Once,
    ) -> Result<ExecResult, DataError> {
        if let Some(pg) = &self.pg {
            return pg.exec(sql, args, Some(once), self.pace.as_ref()).await;
        }
        let args = args.iter().map(to_sql).collect();
        self.writer()?.door.exec(sql, args, Some(once)).await
    }

    /// Forget the notes of [`DataDb::exec_once`] statements of runs whose id is below `run`
    /// (finished runs never resume). Nothing to do when no statement ran in this process.
    pub async fn forget_done_before(&self, run: i64) -> Result<u64, DataError> {
        if let Some(pg) = &self.pg {
            return pg.forget_done_before(run).await;
        }
        match self.writer.get() {
            Some(w) => w.door.forget_before(run).await,
            None => Ok(0),
        }
    }

    fn writer(&self) -> Result<&DataWriter, DataError> {
        if let Some(w) = self.writer.get() {
            return Ok(w);
        }
        // a writer started by a racing caller wins; this one ends when dropped
        let _ = self
            .writer
            .set(DataWriter::spawn(&self.path, self.pace.clone())?);
        self.writer
            .get()
            .ok_or_else(|| DataError::Sql("the data writer did not start".into()))
    }

    /// Run a script of statements (the project's `schema.sql`), all or nothing. The
    /// transaction takes the write lock first (waiting for it): a script that reads before
    /// it writes (`CREATE TABLE IF NOT EXISTS`, then its rows) would otherwise fail with
    /// "database is locked" when a `db.exec` of a running workflow commits in between.
    pub fn run_script(&self, sql: &str) -> Result<(), DataError> {
        if let Some(pg) = &self.pg {
            return pg.run_script(sql);
        }
        self.with(|conn| {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            match conn.execute_batch(sql) {
                Ok(()) => Ok(conn.execute_batch("COMMIT")?),
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    Err(e.into())
                }
            }
        })
    }
}

/// A transaction on the data database that is rolled back, never committed: a what-if
/// run's `db.exec` writes into it, its `db.query` reads through it (seeing those writes),
/// and nothing of it reaches the file. Steps' rules hold as everywhere: values bound, no
/// transaction control, no `ATTACH`. On PostgreSQL its operations go to `pg` (and `conn`
/// is an empty database in memory that nothing reaches).
#[derive(Debug)]
pub struct Scratch {
    conn: Mutex<Connection>,
    guard: Arc<Refusals>,
    pg: Option<PgScratch>,
}

impl Scratch {
    /// A data database of its own, in memory, that lives as long as the value: what a test
    /// of a workflow starts from (run `schema.sql` on it, then add the test's rows).
    pub fn in_memory() -> Result<Scratch, DataError> {
        let guard = Arc::new(Refusals::default());
        let conn = connect(Path::new(":memory:"), Some(guard.clone()))?;
        Ok(Scratch {
            conn: Mutex::new(conn),
            guard,
            pg: None,
        })
    }

    /// Run a script (`schema.sql`): statements separated by `;`.
    pub fn run_script(&self, sql: &str) -> Result<(), DataError> {
        if let Some(pg) = &self.pg {
            return pg.run_script(sql);
        }
        let conn = self.conn.lock().map_err(|_| poisoned())?;
        conn.execute_batch(sql)?;
        Ok(())
    }

    /// Add `rows` (objects, column → value) to `table`. A row that gives the table's whole
    /// primary key and finds it there updates the columns it gives (so that a test may set
    /// one column of a seeded row); the others are inserted.
    pub fn insert_rows(&self, table: &str, rows: &[Value]) -> Result<(), DataError> {
        if let Some(pg) = &self.pg {
            return pg.insert_rows(table, rows);
        }
        let conn = self.conn.lock().map_err(|_| poisoned())?;
        let key: Vec<String> = conn
            .prepare(&format!("PRAGMA table_info({})", quote_name(table)))?
            .query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, i64>(5)?)))?
            .filter_map(Result::ok)
            .filter(|(_, pk)| *pk > 0)
            .map(|(name, _)| name)
            .collect();
        for row in rows {
            let Some(row) = row.as_object().filter(|r| !r.is_empty()) else {
                continue;
            };
            if !key.is_empty() && key.iter().all(|k| row.contains_key(k)) {
                let (keys, rest): (Vec<_>, Vec<_>) = row.iter().partition(|(c, _)| key.contains(c));
                let exists = format!(
                    "SELECT count(*) FROM {} WHERE {}",
                    quote_name(table),
                    keys.iter()
                        .map(|(c, _)| format!("{} = ?", quote_name(c)))
                        .collect::<Vec<_>>()
                        .join(" AND ")
                );
                let key_args: Vec<SqlValue> = keys.iter().map(|(_, v)| to_sql(v)).collect();
                let found: i64 =
                    conn.query_row(&exists, rusqlite::params_from_iter(key_args.iter()), |r| {
                        r.get(0)
                    })?;
                if found > 0 {
                    if !rest.is_empty() {
                        let sql = format!(
                            "UPDATE {} SET {} WHERE {}",
                            quote_name(table),
                            rest.iter()
                                .map(|(c, _)| format!("{} = ?", quote_name(c)))
                                .collect::<Vec<_>>()
                                .join(", "),
                            keys.iter()
                                .map(|(c, _)| format!("{} = ?", quote_name(c)))
                                .collect::<Vec<_>>()
                                .join(" AND ")
                        );
                        let args: Vec<SqlValue> = rest
                            .iter()
                            .map(|(_, v)| to_sql(v))
                            .chain(key_args)
                            .collect();
                        conn.execute(&sql, rusqlite::params_from_iter(args))?;
                    }
                    continue;
                }
            }
            let columns: Vec<String> = row.keys().map(|c| quote_name(c)).collect();
            let marks = vec!["?"; columns.len()].join(", ");
            let sql = format!(
                "INSERT INTO {} ({}) VALUES ({marks})",
                quote_name(table),
                columns.join(", ")
            );
            let args: Vec<SqlValue> = row.values().map(to_sql).collect();
            conn.execute(&sql, rusqlite::params_from_iter(args))?;
        }
        Ok(())
    }

    /// Every row of `table`, in the order of its rowid (or as stored).
    pub fn table_rows(&self, table: &str) -> Result<Vec<Value>, DataError> {
        if let Some(pg) = &self.pg {
            return pg.table_rows(table);
        }
        let conn = self.conn.lock().map_err(|_| poisoned())?;
        query_on(&conn, &format!("SELECT * FROM {}", quote_name(table)), &[])
    }

    /// [`DataDb::query`], inside the transaction.
    pub fn query(&self, sql: &str, args: &[Value]) -> Result<Vec<Value>, DataError> {
        if let Some(pg) = &self.pg {
            return pg.query(sql, args);
        }
        let conn = self.conn.lock().map_err(|_| poisoned())?;
        query_on(&conn, sql, args)
    }

    /// [`DataDb::exec`], inside the transaction.
    pub fn exec(&self, sql: &str, args: &[Value]) -> Result<ExecResult, DataError> {
        if let Some(pg) = &self.pg {
            return pg.exec(sql, args);
        }
        let conn = self.conn.lock().map_err(|_| poisoned())?;
        let args: Vec<SqlValue> = args.iter().map(to_sql).collect();
        super::data_writer::run_statement(&conn, &self.guard, sql, &args)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // on PostgreSQL, `pg` rolls back when it drops
        if let Ok(conn) = self.conn.lock() {
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
}

/// An SQL identifier, quoted.
fn quote_name(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn poisoned() -> DataError {
    DataError::Sql("the scratch transaction was left broken by a panic".into())
}

/// Rows of a read-only statement on `conn`, as objects keyed by column name.
fn query_on(conn: &Connection, sql: &str, args: &[Value]) -> Result<Vec<Value>, DataError> {
    let mut stmt = conn.prepare_cached(sql)?;
    if !stmt.readonly() {
        return Err(DataError::NotReadOnly);
    }
    check_args(stmt.parameter_count(), args.len())?;
    let names: Vec<String> = stmt.column_names().map(String::from).collect();
    let params = args.iter().map(to_sql).collect::<Vec<_>>();
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut obj = Map::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            obj.insert(name.clone(), from_sql(row.get_ref(i)?));
        }
        out.push(Value::Object(obj));
    }
    Ok(out)
}

/// Open a connection to the data database at `path`. `guard` (the writer's) also refuses
/// transaction control in steps' SQL.
pub(crate) fn connect(path: &Path, guard: Option<Arc<Refusals>>) -> Result<Connection, DataError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags)?;
    super::busy::wait_finely(&mut conn, Duration::from_secs(10))?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))?;
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
    conn.set_prepared_statement_cache_capacity(64);
    conn.authorizer(Some(move |ctx: AuthContext<'_>| match ctx.action {
        AuthAction::Attach { .. } | AuthAction::Detach { .. } => Authorization::Deny,
        // ATTACH with a bound file name arrives without its argument
        AuthAction::Unknown { code, .. } if code == SQLITE_ATTACH || code == SQLITE_DETACH => {
            Authorization::Deny
        }
        AuthAction::Insert { table_name }
        | AuthAction::Delete { table_name }
        | AuthAction::Update { table_name, .. }
        | AuthAction::DropTable { table_name }
        | AuthAction::AlterTable { table_name, .. }
            if table_name.eq_ignore_ascii_case(DONE_TABLE) =>
        {
            match &guard {
                Some(g) if g.steps_sql.load(Ordering::Relaxed) => {
                    g.denied.store(DENIED_DONE_TABLE, Ordering::Relaxed);
                    Authorization::Deny
                }
                _ => Authorization::Allow,
            }
        }
        AuthAction::Transaction { .. } | AuthAction::Savepoint { .. } => match &guard {
            Some(g) if g.steps_sql.load(Ordering::Relaxed) => {
                g.denied.store(DENIED_TRANSACTION, Ordering::Relaxed);
                Authorization::Deny
            }
            _ => Authorization::Allow,
        },
        _ => Authorization::Allow,
    }))?;
    Ok(conn)
}

fn check_args(expected: usize, given: usize) -> Result<(), DataError> {
    if expected == given {
        Ok(())
    } else {
        Err(DataError::ArgCount { expected, given })
    }
}

/// A JSON value as an SQL parameter: objects and arrays as JSON text, booleans as 0/1.
fn to_sql(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => SqlValue::Integer(i),
            None => SqlValue::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => SqlValue::Text(s.clone()),
        other => SqlValue::Text(other.to_string()),
    }
}

/// An SQL value as JSON: blobs as lower-case hex text.
fn from_sql(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::String(b.iter().map(|x| format!("{x:02x}")).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn db() -> (tempfile::TempDir, DataDb) {
        let dir = tempfile::tempdir().unwrap();
        let db = DataDb::open(&dir.path().join("flowdeck.data.db")).unwrap();
        db.run_script("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n REAL, meta TEXT);")
            .unwrap();
        (dir, db)
    }

    #[test]
    fn a_script_waits_for_a_writer_in_another_connection() {
        let (dir, db) = db();
        let path = dir.path().join("flowdeck.data.db");
        // another connection (a running workflow's db.exec) holds the write lock
        let other = connect(&path, None).unwrap();
        other
            .execute_batch("BEGIN IMMEDIATE; INSERT INTO t (name) VALUES ('other');")
            .unwrap();
        let script = std::thread::spawn(move || {
            let r = db.run_script(
                "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, name TEXT, n REAL, meta TEXT);
                 INSERT INTO t (name) VALUES ('seed');",
            );
            (r, db)
        });
        std::thread::sleep(std::time::Duration::from_millis(150));
        other.execute_batch("COMMIT").unwrap();
        let (r, db) = script.join().unwrap();
        r.expect("the script waited for the lock and ran");
        let rows = db.query("SELECT name FROM t ORDER BY id", &[]).unwrap();
        assert_eq!(
            rows,
            vec![json!({"name": "other"}), json!({"name": "seed"})]
        );
    }

    #[tokio::test]
    async fn values_are_bound_never_spliced() {
        let (_d, db) = db();
        let evil = "x'); DROP TABLE t; --";
        let r = db
            .exec(
                "INSERT INTO t (name, n, meta) VALUES (?, ?, ?)",
                &[json!(evil), json!(1.5), json!({"a": [1]})],
            )
            .await
            .unwrap();
        assert_eq!(
            r,
            ExecResult {
                changes: 1,
                last_id: 1
            }
        );
        let rows = db
            .query("SELECT name, n, meta FROM t WHERE id = ?", &[json!(1)])
            .unwrap();
        assert_eq!(
            rows,
            vec![json!({"name": evil, "n": 1.5, "meta": "{\"a\":[1]}"})]
        );
    }

    #[tokio::test]
    async fn a_statement_noted_as_done_is_not_run_again_when_its_run_resumes() {
        let (_d, db) = db();
        let insert = "INSERT INTO t (name) VALUES (?)";
        let once = |key: &str, check: bool| Once {
            key: key.into(),
            run: 7,
            check,
        };
        let first = db
            .exec_once(insert, &[json!("a")], once("7/steps/0", false))
            .await
            .unwrap();
        // the run resumes after a crash: the same step is not done again, and gets its result
        let again = db
            .exec_once(insert, &[json!("a")], once("7/steps/0", true))
            .await
            .unwrap();
        assert_eq!(again, first);
        // a step it did not reach before the crash runs
        let later = db
            .exec_once(insert, &[json!("b")], once("7/steps/1", true))
            .await
            .unwrap();
        assert_eq!(later.changes, 1);
        let names = db.query("SELECT name FROM t ORDER BY id", &[]).unwrap();
        assert_eq!(names, vec![json!({"name": "a"}), json!({"name": "b"})]);
        // a statement that failed left no note: its retry runs
        let failing = "INSERT INTO t (id, name) VALUES (1, ?)";
        assert!(
            db.exec_once(failing, &[json!("dup")], once("7/steps/2", false))
                .await
                .is_err()
        );
        let retried = db
            .exec_once(
                "INSERT INTO t (name) VALUES (?)",
                &[json!("c")],
                once("7/steps/2", true),
            )
            .await
            .unwrap();
        assert_eq!(retried.changes, 1, "the failed attempt was not noted");
        // notes of finished runs are forgotten
        assert_eq!(db.forget_done_before(8).await.unwrap(), 3);
        assert_eq!(
            db.query("SELECT count(*) AS n FROM _flowdeck_done", &[])
                .unwrap(),
            vec![json!({"n": 0})]
        );
    }

    #[tokio::test]
    async fn steps_cannot_change_the_notes_of_done_statements() {
        let (_d, db) = db();
        db.exec("INSERT INTO t (name) VALUES ('x')", &[])
            .await
            .unwrap();
        for sql in [
            "DELETE FROM _flowdeck_done",
            "INSERT INTO _flowdeck_done VALUES ('k', 1, 1, 1)",
            "UPDATE _flowdeck_done SET changes = 0",
            "DROP TABLE _flowdeck_done",
        ] {
            let e = db.exec(sql, &[]).await.unwrap_err().to_string();
            assert!(
                e.contains("_flowdeck_done is flowdeck's own record"),
                "{sql}: {e}"
            );
        }
    }

    #[tokio::test]
    async fn query_is_read_only_and_args_must_match() {
        let (_d, db) = db();
        assert_eq!(db.query("DELETE FROM t", &[]), Err(DataError::NotReadOnly));
        assert_eq!(
            db.exec("INSERT INTO t (name) VALUES (?)", &[]).await,
            Err(DataError::ArgCount {
                expected: 1,
                given: 0
            })
        );
        assert!(
            db.query("SELECT nope FROM t", &[])
                .unwrap_err()
                .to_string()
                .contains("no such column")
        );
    }

    #[tokio::test]
    async fn a_scratch_transaction_sees_its_writes_and_leaves_nothing() {
        let (_d, db) = db();
        {
            let scratch = db.scratch().unwrap();
            let r = scratch
                .exec("INSERT INTO t (name) VALUES (?)", &[json!("held")])
                .unwrap();
            assert_eq!(r.changes, 1);
            assert_eq!(
                scratch.query("SELECT name FROM t", &[]).unwrap(),
                vec![json!({"name": "held"})]
            );
            assert!(
                scratch
                    .exec("COMMIT", &[])
                    .unwrap_err()
                    .to_string()
                    .contains("cannot control transactions")
            );
        }
        assert_eq!(
            db.query("SELECT count(*) AS n FROM t", &[]).unwrap(),
            vec![json!({"n": 0})]
        );
    }

    #[tokio::test]
    async fn attach_is_refused() {
        let (d, db) = db();
        let other = d.path().join("flowdeck.db");
        let e = db
            .exec(
                "ATTACH DATABASE ? AS store",
                &[json!(other.to_string_lossy())],
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("cannot ATTACH"), "{e}");
    }

    #[tokio::test]
    async fn steps_cannot_control_the_transaction() {
        let (_d, db) = db();
        for sql in ["BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT s", "RELEASE s"] {
            let e = db.exec(sql, &[]).await.unwrap_err();
            assert!(
                e.to_string().contains("cannot control transactions"),
                "{sql}: {e}"
            );
        }
        // and the writer still works afterwards
        db.exec("INSERT INTO t (name) VALUES ('after')", &[])
            .await
            .unwrap();
        assert_eq!(
            db.query("SELECT count(*) AS n FROM t", &[]).unwrap(),
            vec![json!({"n": 1})]
        );
    }

    #[tokio::test]
    async fn a_failing_statement_is_undone_alone_in_a_shared_commit() {
        let (_d, db) = db();
        let db = std::sync::Arc::new(db);
        db.run_script(
            "CREATE TABLE u (k TEXT PRIMARY KEY);
             CREATE TRIGGER no_x BEFORE INSERT ON u WHEN new.k = 'x' BEGIN SELECT RAISE(ROLLBACK, 'x is not allowed'); END;",
        )
        .unwrap();
        let mut tasks = Vec::new();
        for i in 0..300 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                let k = match i % 3 {
                    0 => "dup".to_string(), // one insert wins, the others fail on the key
                    1 if i == 100 => "x".to_string(), // ends the whole transaction
                    _ => format!("k{i}"),
                };
                db.exec("INSERT INTO u (k) VALUES (?)", &[json!(k)]).await
            }));
        }
        let mut ok = 0;
        let mut errors = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(e) => errors.push(e.to_string()),
            }
        }
        let rows = db.query("SELECT count(*) AS n FROM u", &[]).unwrap();
        assert_eq!(
            rows,
            vec![json!({"n": ok})],
            "every acknowledged insert is there"
        );
        assert_eq!(ok, 300 - 99 - 1, "{errors:?}");
        assert!(
            errors.iter().any(|e| e.contains("x is not allowed")),
            "{errors:?}"
        );
        assert!(errors.iter().any(|e| e.contains("UNIQUE")), "{errors:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn paced_by_a_saturated_store_writer_every_statement_still_commits() {
        let load = Load::default();
        let mut meter = crate::store::load::LoadMeter::new(load.clone());
        meter.work();
        std::thread::sleep(Duration::from_millis(25));
        meter.idle();
        assert!(load.is_saturated());
        let (_d, db) = db();
        let db = Arc::new(db.paced_by(load));
        // rounds of a few statements at once: small batches after a busy one, which wait
        for round in 0..40 {
            let tasks: Vec<_> = (0..3)
                .map(|i| {
                    let db = db.clone();
                    tokio::spawn(async move {
                        let name = json!(format!("r{round}-{i}"));
                        db.exec("INSERT INTO t (name) VALUES (?)", &[name]).await
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap().unwrap();
            }
        }
        let rows = db.query("SELECT count(*) AS n FROM t", &[]).unwrap();
        assert_eq!(rows, vec![json!({"n": 120})]);
    }
}
