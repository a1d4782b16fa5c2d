//! The project's data database on PostgreSQL (the SQLite room's `store::data`): what
//! `db.query` and `db.exec` steps reach when the data database is a `postgres://…` URL.
//!
//! The same rules as on SQLite: values are bound, never spliced (`?` placeholders become
//! `$1, $2, …`, see `data_sql`; JSON in and out, see `data_values`); `db.query` runs in a
//! `READ ONLY` transaction; steps cannot control transactions, nor change flowdeck's record
//! of the statements that committed ([`DONE_TABLE`]); `db.exec` goes through a writer
//! thread that group-commits (`data_writer`); a [`PgScratch`] is a transaction that is
//! rolled back. SQLite's `ATTACH` has no PostgreSQL statement: a step reaches what the
//! database's role may reach, so give the data database a role of its own without rights
//! on the store's database (and no `dblink`/`postgres_fdw`).
//!
//! `last_id` is what `lastval()` gives on the connection (the last value a sequence, such
//! as an identity column's, handed out to it; 0 before any), the nearest PostgreSQL has to
//! SQLite's last inserted rowid: it is the new row's id after an insert into a table with
//! an identity or serial key, and, as on SQLite, the last one before after other statements.
//! The function `_flowdeck_lastval()` made on open answers it without failing the
//! transaction when no sequence was used yet.

use super::data_sql::scan;
use super::data_values::{Cell, params};
use super::data_writer::PgDataWriter;
use super::{PgStore, wait};
use crate::store::data::{DataError, ExecResult, Once};
use crate::store::data_writer::{DONE_TABLE, done_table_refused, transaction_refused};
use crate::store::load::Load;
use futures_util::future::join;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, OnceLock};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};

/// Idle read connections kept.
const POOL_SIZE: usize = 8;
/// Step statements kept prepared per connection.
const STATEMENTS: usize = 64;
/// What [`PgData::open`] makes: the record of `db.exec` statements that committed (the
/// SQLite table's columns), and the function that reads `lastval()` without failing; under
/// an advisory lock of its own (0x466C4444), for two processes opening a new database at
/// once.
const SETUP: &str = "BEGIN;
SELECT pg_advisory_xact_lock(1181500484);
CREATE TABLE IF NOT EXISTS _flowdeck_done (
    key     TEXT PRIMARY KEY,
    run     BIGINT NOT NULL,
    changes BIGINT NOT NULL,
    last_id BIGINT NOT NULL
);
DO $do$ BEGIN
    IF to_regprocedure('_flowdeck_lastval()') IS NULL THEN
        CREATE FUNCTION _flowdeck_lastval() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $f$
        BEGIN
            RETURN lastval();
        EXCEPTION WHEN OTHERS THEN
            RETURN 0;
        END $f$;
    END IF;
END $do$;
COMMIT";

/// The last value a sequence gave this connection (0 before any).
pub(crate) const LASTVAL: &str = "SELECT _flowdeck_lastval()";

/// A PostgreSQL error as a `db.*` step's error: the server's message with its detail and
/// hint. `reading`: a write refused by the read-only transaction is
/// [`DataError::NotReadOnly`].
pub(crate) fn data_error(e: &tokio_postgres::Error, reading: bool) -> DataError {
    use tokio_postgres::error::SqlState;
    let Some(db) = e.as_db_error() else {
        let mut text = format!("the data database: {e}");
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        return DataError::Sql(text);
    };
    if reading && *db.code() == SqlState::READ_ONLY_SQL_TRANSACTION {
        return DataError::NotReadOnly;
    }
    let mut text = db.message().to_string();
    if let Some(detail) = db.detail() {
        text.push_str(" (");
        text.push_str(detail);
        text.push(')');
    }
    if let Some(hint) = db.hint() {
        text.push_str("; hint: ");
        text.push_str(hint);
    }
    DataError::Sql(text)
}

/// A step's SQL made ready for PostgreSQL (`?` as `$n`), or why it is refused: transaction
/// control always, a statement that names [`DONE_TABLE`] when `writing`, and an evident
/// write when not (the read-only transaction refuses the rest).
pub(crate) fn step_sql(sql: &str, writing: bool) -> Result<String, DataError> {
    let scanned = scan(sql);
    if scanned.controls_transaction() {
        return Err(transaction_refused());
    }
    if writing {
        // anywhere, strings too: `EXECUTE 'DELETE FROM _flowdeck_done'` in a DO block
        if sql.to_ascii_lowercase().contains(DONE_TABLE) {
            return Err(done_table_refused());
        }
    } else if scanned.writes() {
        return Err(DataError::NotReadOnly);
    }
    Ok(scanned.text)
}

/// An SQL identifier, quoted.
fn quote_name(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The rows of `statement` as objects keyed by column name.
fn rows_json(statement: &Statement, rows: &[Row]) -> Result<Vec<Value>, DataError> {
    let columns = statement.columns();
    rows.iter()
        .map(|row| {
            let mut object = Map::with_capacity(columns.len());
            for (i, column) in columns.iter().enumerate() {
                let Cell(v) = row.try_get::<_, Cell>(i).map_err(|e| {
                    let why = std::error::Error::source(&e).map_or(e.to_string(), |s| s.to_string());
                    DataError::Sql(format!(
                        "column {} of type {} cannot be read as JSON: {why}; cast it in the SQL (e.g. {}::text)",
                        column.name(),
                        column.type_().name(),
                        quote_name(column.name())
                    ))
                })?;
                object.insert(column.name().to_string(), v);
            }
            Ok(Value::Object(object))
        })
        .collect()
}

/// One connection to the data database, with the steps' statements prepared on it.
pub(crate) struct DataConn {
    pg: PgStore,
    statements: HashMap<String, Statement>,
    /// A statement of our own failed on it (it may be left in a transaction): not reused.
    broken: bool,
}

impl std::fmt::Debug for DataConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataConn")
            .field("url", &self.pg.shown())
            .finish_non_exhaustive()
    }
}

impl DataConn {
    /// Connect to the data database at `url`.
    pub(crate) fn connect(url: &str) -> Result<DataConn, DataError> {
        let pg = PgStore::connect_unmigrated(url).map_err(|e| DataError::Sql(e.to_string()))?;
        Ok(DataConn {
            pg,
            statements: HashMap::new(),
            broken: false,
        })
    }

    /// The client, for pipelined calls.
    pub(crate) fn client(&self) -> &Client {
        self.pg.client()
    }

    /// Whether the connection is gone or was left unusable.
    pub(crate) fn is_closed(&self) -> bool {
        self.broken || self.client().is_closed()
    }

    /// Run statements of our own without parameters (a failure marks the connection
    /// broken).
    pub(crate) fn batch(&mut self, sql: &str) -> Result<(), DataError> {
        wait(self.pg.client().batch_execute(sql)).map_err(|e| {
            self.broken = true;
            data_error(&e, false)
        })
    }

    /// An own statement, prepared once on this connection.
    pub(crate) fn own(&self, sql: &'static str) -> Result<Statement, DataError> {
        self.pg
            .statement(sql)
            .map_err(|e| DataError::Sql(e.to_string()))
    }

    /// The step statement `sql` if it is prepared here.
    pub(crate) fn cached(&self, sql: &str) -> Option<Statement> {
        self.statements.get(sql).cloned()
    }

    /// Keep `statement`, prepared for `sql`.
    pub(crate) fn remember(&mut self, sql: &str, statement: Statement) {
        if self.statements.len() >= STATEMENTS
            && let Some(old) = self.statements.keys().next().cloned()
        {
            self.statements.remove(&old);
        }
        self.statements.insert(sql.to_string(), statement);
    }

    /// Drop the statement for `sql` (it failed: the table under it may have changed).
    pub(crate) fn forget(&mut self, sql: &str) {
        self.statements.remove(sql);
    }

    /// The statement for `sql`, prepared when it is not yet.
    fn prepare(&mut self, sql: &str) -> Result<Statement, DataError> {
        if let Some(s) = self.cached(sql) {
            return Ok(s);
        }
        let statement = wait(self.client().prepare(sql)).map_err(|e| data_error(&e, false))?;
        self.remember(sql, statement.clone());
        Ok(statement)
    }

    /// Rows of the read-only `sql` (ready for PostgreSQL), in a `READ ONLY` transaction of
    /// its own (one round trip once prepared).
    fn read(&mut self, sql: &str, args: &[Value]) -> Result<Vec<Value>, DataError> {
        let statement = self.prepare(sql)?;
        let params = params(statement.params(), args)?;
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let client = self.client();
        let (begin, rows, end) = wait(futures_util::future::join3(
            client.batch_execute("BEGIN READ ONLY"),
            client.query(&statement, &refs),
            client.batch_execute("ROLLBACK"),
        ));
        if let Err(e) = begin.and(end) {
            self.broken = true;
            return Err(data_error(&e, true));
        }
        match rows {
            Ok(rows) => rows_json(&statement, &rows),
            Err(e) => {
                self.forget(sql);
                Err(data_error(&e, true))
            }
        }
    }

    /// Rows of `sql` (ready for PostgreSQL) in the open transaction.
    fn rows(&mut self, sql: &str, args: &[Value]) -> Result<Vec<Value>, DataError> {
        let statement = self.prepare(sql)?;
        let params = params(statement.params(), args)?;
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        match wait(self.client().query(&statement, &refs)) {
            Ok(rows) => rows_json(&statement, &rows),
            Err(e) => {
                self.forget(sql);
                Err(data_error(&e, true))
            }
        }
    }

    /// Run `sql` (ready for PostgreSQL) in the open transaction: the rows it changed and
    /// [`LASTVAL`] after it.
    fn run(&mut self, sql: &str, args: &[Value]) -> Result<ExecResult, DataError> {
        let statement = self.prepare(sql)?;
        let lastval = self.own(LASTVAL)?;
        let params = params(statement.params(), args)?;
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let client = self.client();
        let (changes, last) = wait(join(
            client.execute(&statement, &refs),
            client.query_one(&lastval, &[]),
        ));
        let changes = changes.map_err(|e| {
            self.forget(sql);
            data_error(&e, false)
        })?;
        let last_id = last
            .and_then(|r| r.try_get::<_, i64>(0))
            .map_err(|e| data_error(&e, false))?;
        Ok(ExecResult { changes, last_id })
    }

    /// Run `f` in a savepoint of the open transaction: undone when it fails (the
    /// transaction goes on), and always when `read_only` (which it also enforces).
    fn savepoint<T>(
        &mut self,
        read_only: bool,
        f: impl FnOnce(&mut DataConn) -> Result<T, DataError>,
    ) -> Result<T, DataError> {
        self.batch(if read_only {
            "SAVEPOINT flowdeck_step; SET LOCAL transaction_read_only = on"
        } else {
            "SAVEPOINT flowdeck_step"
        })?;
        let out = f(self);
        let undo = "ROLLBACK TO SAVEPOINT flowdeck_step; RELEASE SAVEPOINT flowdeck_step";
        match out {
            Ok(v) if !read_only => match self.batch("RELEASE SAVEPOINT flowdeck_step") {
                Ok(()) => Ok(v),
                Err(e) => {
                    let _ = self.batch(undo);
                    Err(e)
                }
            },
            out => {
                self.batch(undo)?;
                out
            }
        }
    }

    /// The columns of `table`'s primary key, in the key's order (none when it has none
    /// or is not a table).
    fn primary_key(&mut self, table: &str) -> Result<Vec<String>, DataError> {
        let rows = self.rows(
            "SELECT a.attname::text AS name
             FROM pg_index i
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
             WHERE i.indrelid = to_regclass($1) AND i.indisprimary
             ORDER BY array_position(i.indkey::int2[], a.attnum)",
            &[Value::String(quote_name(table))],
        )?;
        Ok(rows
            .iter()
            .filter_map(|r| r["name"].as_str().map(String::from))
            .collect())
    }
}

/// Open a connection to `url`, making its database first when the server has none of that
/// name (as SQLite makes the file): with the rights of the URL's role, from the server's
/// `postgres` database.
fn connect_creating(url: &str) -> Result<DataConn, DataError> {
    let e = match DataConn::connect(url) {
        Ok(conn) => return Ok(conn),
        Err(e) => e,
    };
    let Some(name) = url
        .parse::<tokio_postgres::Config>()
        .ok()
        .and_then(|c| c.get_dbname().map(String::from))
    else {
        return Err(e);
    };
    let Ok(mut server) = url::Url::parse(url) else {
        return Err(e);
    };
    server.set_path("/postgres");
    // the server is there, and has no such database: make it
    let Ok(mut admin) = DataConn::connect(server.as_str()) else {
        return Err(e);
    };
    let exists = wait(
        admin
            .client()
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name]),
    );
    if !matches!(exists, Ok(None)) {
        return Err(e);
    }
    match admin.batch(&format!("CREATE DATABASE {}", quote_name(&name))) {
        Ok(()) => tracing::info!(database = name, "made the data database"),
        // made by another process meanwhile
        Err(made) if made.to_string().contains("already exists") => {}
        Err(made) => return Err(made),
    }
    DataConn::connect(url)
}

/// The data database on PostgreSQL: a small pool of read connections (`db.query`) and,
/// started on the first `db.exec`, the writer thread that group-commits steps' writes.
#[derive(Debug)]
pub(crate) struct PgData {
    url: String,
    idle: Mutex<Vec<DataConn>>,
    writer: OnceLock<PgDataWriter>,
}

impl PgData {
    /// Open the data database at `url` (made when missing), with flowdeck's own objects
    /// in it.
    pub(crate) fn open(url: &str) -> Result<PgData, DataError> {
        let mut conn = connect_creating(url)?;
        conn.batch(SETUP).map_err(|e| {
            DataError::Sql(format!(
                "cannot make flowdeck's own table {DONE_TABLE} in the data database {}: {e}",
                super::shown_url(url)
            ))
        })?;
        conn.batch("SET default_transaction_read_only = on")?;
        let data = PgData {
            url: url.to_string(),
            idle: Mutex::new(Vec::new()),
            writer: OnceLock::new(),
        };
        data.give_back(conn);
        Ok(data)
    }

    /// An idle read connection, or a new one (read-only by default, as a second guard).
    fn take(&self) -> Result<DataConn, DataError> {
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        match idle {
            Some(conn) => Ok(conn),
            None => {
                let mut conn = DataConn::connect(&self.url)?;
                conn.batch("SET default_transaction_read_only = on")?;
                Ok(conn)
            }
        }
    }

    fn give_back(&self, conn: DataConn) {
        if conn.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < POOL_SIZE
        {
            idle.push(conn);
        }
    }

    /// `DataDb::query` on PostgreSQL: a read-only statement's rows as objects keyed by
    /// column name.
    pub(crate) fn query(&self, sql: &str, args: &[Value]) -> Result<Vec<Value>, DataError> {
        let sql = step_sql(sql, false)?;
        let mut conn = self.take()?;
        let out = conn.read(&sql, args);
        self.give_back(conn);
        out
    }

    /// `DataDb::scratch` on PostgreSQL: a transaction on a connection of its own, rolled
    /// back when dropped.
    pub(crate) fn scratch(&self) -> Result<PgScratch, DataError> {
        PgScratch::begin(&self.url)
    }

    /// `DataDb::exec` and `DataDb::exec_once` on PostgreSQL: in the writer's next group
    /// commit. `pace` (the store writer's load) is read when the writer starts.
    pub(crate) async fn exec(
        &self,
        sql: &str,
        args: &[Value],
        once: Option<Once>,
        pace: Option<&Load>,
    ) -> Result<ExecResult, DataError> {
        self.writer(pace)?.door.exec(sql, args.to_vec(), once).await
    }

    /// `DataDb::forget_done_before` on PostgreSQL (nothing to do when no statement ran in
    /// this process, as on SQLite).
    pub(crate) async fn forget_done_before(&self, run: i64) -> Result<u64, DataError> {
        match self.writer.get() {
            Some(w) => w.door.forget_before(run).await,
            None => Ok(0),
        }
    }

    fn writer(&self, pace: Option<&Load>) -> Result<&PgDataWriter, DataError> {
        if let Some(w) = self.writer.get() {
            return Ok(w);
        }
        // a writer started by a racing caller wins; this one ends when dropped
        let _ = self
            .writer
            .set(PgDataWriter::spawn(&self.url, pace.cloned())?);
        self.writer
            .get()
            .ok_or_else(|| DataError::Sql("the data writer did not start".into()))
    }

    /// `DataDb::run_script` on PostgreSQL: the script's statements in one transaction, all
    /// or nothing (on a connection of its own, which may write).
    pub(crate) fn run_script(&self, sql: &str) -> Result<(), DataError> {
        let mut conn = DataConn::connect(&self.url)?;
        let client = conn.client();
        let (begin, script) = wait(join(
            client.batch_execute("BEGIN"),
            client.batch_execute(sql),
        ));
        match begin.and(script) {
            Ok(()) => conn.batch("COMMIT"),
            Err(e) => {
                let _ = conn.batch("ROLLBACK");
                Err(data_error(&e, false))
            }
        }
    }
}

/// `data::Scratch` on PostgreSQL: one transaction, rolled back when dropped. Each of its
/// operations runs in a savepoint, so that one that fails is undone alone and the
/// transaction goes on (as a failed statement on SQLite); its `query` in a read-only one.
#[derive(Debug)]
pub(crate) struct PgScratch {
    conn: Mutex<DataConn>,
}

impl PgScratch {
    /// Begin the transaction on a new connection to `url`.
    pub(crate) fn begin(url: &str) -> Result<PgScratch, DataError> {
        let mut conn = DataConn::connect(url)?;
        conn.batch("BEGIN")?;
        Ok(PgScratch {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, DataConn>, DataError> {
        self.conn.lock().map_err(|_| {
            DataError::Sql("the scratch transaction was left broken by a panic".into())
        })
    }

    /// `Scratch::query`.
    pub(crate) fn query(&self, sql: &str, args: &[Value]) -> Result<Vec<Value>, DataError> {
        let sql = step_sql(sql, false)?;
        self.lock()?.savepoint(true, |c| c.rows(&sql, args))
    }

    /// `Scratch::exec`.
    pub(crate) fn exec(&self, sql: &str, args: &[Value]) -> Result<ExecResult, DataError> {
        let sql = step_sql(sql, true)?;
        self.lock()?.savepoint(false, |c| c.run(&sql, args))
    }

    /// `Scratch::run_script`: the script's statements, all or nothing (transaction control
    /// refused: it would end the scratch transaction).
    pub(crate) fn run_script(&self, sql: &str) -> Result<(), DataError> {
        if scan(sql).controls_transaction() {
            return Err(transaction_refused());
        }
        self.lock()?.savepoint(false, |c| {
            wait(c.client().batch_execute(sql)).map_err(|e| data_error(&e, false))
        })
    }

    /// `Scratch::table_rows`: in the order of the table's primary key (SQLite's rowid
    /// order for an integer key), as stored when it has none.
    pub(crate) fn table_rows(&self, table: &str) -> Result<Vec<Value>, DataError> {
        self.lock()?.savepoint(true, |c| {
            let key = c.primary_key(table)?;
            let mut sql = format!("SELECT * FROM {}", quote_name(table));
            if !key.is_empty() {
                let key: Vec<String> = key.iter().map(|k| quote_name(k)).collect();
                sql.push_str(" ORDER BY ");
                sql.push_str(&key.join(", "));
            }
            c.rows(&sql, &[])
        })
    }

    /// `Scratch::insert_rows`: a row that gives the table's whole primary key and finds it
    /// there updates the columns it gives; the others are inserted (all or nothing).
    pub(crate) fn insert_rows(&self, table: &str, rows: &[Value]) -> Result<(), DataError> {
        self.lock()?.savepoint(false, |c| {
            let key = c.primary_key(table)?;
            let table = quote_name(table);
            let placeholders = |columns: &[&String], from: usize, join: &str| {
                columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("{} = ${}", quote_name(c), from + i))
                    .collect::<Vec<_>>()
                    .join(join)
            };
            for row in rows {
                let Some(row) = row.as_object().filter(|r| !r.is_empty()) else {
                    continue;
                };
                if !key.is_empty() && key.iter().all(|k| row.contains_key(k)) {
                    let (keys, rest): (Vec<_>, Vec<_>) =
                        row.iter().partition(|(c, _)| key.contains(c));
                    let key_names: Vec<&String> = keys.iter().map(|(c, _)| *c).collect();
                    let key_args: Vec<Value> = keys.iter().map(|(_, v)| (*v).clone()).collect();
                    let exists = format!(
                        "SELECT count(*) AS n FROM {table} WHERE {}",
                        placeholders(&key_names, 1, " AND ")
                    );
                    let found = c.rows(&exists, &key_args)?;
                    if found.first().and_then(|r| r["n"].as_i64()).unwrap_or(0) > 0 {
                        if !rest.is_empty() {
                            let rest_names: Vec<&String> = rest.iter().map(|(c, _)| *c).collect();
                            let sql = format!(
                                "UPDATE {table} SET {} WHERE {}",
                                placeholders(&rest_names, 1, ", "),
                                placeholders(&key_names, rest.len() + 1, " AND ")
                            );
                            let args: Vec<Value> = rest
                                .iter()
                                .map(|(_, v)| (*v).clone())
                                .chain(key_args)
                                .collect();
                            c.run(&sql, &args)?;
                        }
                        continue;
                    }
                }
                let columns: Vec<String> = row.keys().map(|c| quote_name(c)).collect();
                let marks: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
                let sql = format!(
                    "INSERT INTO {table} ({}) VALUES ({})",
                    columns.join(", "),
                    marks.join(", ")
                );
                let args: Vec<Value> = row.values().cloned().collect();
                c.run(&sql, &args)?;
            }
            Ok(())
        })
    }
}

impl Drop for PgScratch {
    fn drop(&mut self) {
        if let Ok(mut conn) = self.conn.lock() {
            let _ = conn.batch("ROLLBACK");
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::store::data::{DataDb, DataError, ExecResult, Once};
    use crate::store::postgres::scratch::ScratchDatabase;
    use serde_json::json;
    use std::path::Path;
    use std::sync::Arc;

    fn db(test: &str) -> Option<(ScratchDatabase, DataDb)> {
        let scratch = ScratchDatabase::for_test(test)?;
        let db = DataDb::open(Path::new(scratch.url())).unwrap();
        db.run_script(
            "CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name TEXT, n DOUBLE PRECISION, meta TEXT);",
        )
        .unwrap();
        Some((scratch, db))
    }

    #[tokio::test]
    async fn values_are_bound_never_spliced() {
        let Some((_s, db)) = db("values_are_bound_never_spliced") else {
            return;
        };
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
        // a placeholder in a literal is text
        let rows = db
            .query("SELECT '?' AS q, ? AS a, $$ ? $$ AS d -- ?", &[json!("x")])
            .unwrap();
        assert_eq!(rows, vec![json!({"q": "?", "a": "x", "d": " ? "})]);
    }

    #[tokio::test]
    async fn columns_come_back_with_natural_json_types() {
        let Some((_s, db)) = db("columns_come_back_with_natural_json_types") else {
            return;
        };
        let rows = db
            .query(
                "SELECT 1::int2 AS a, 2::int4 AS b, 3::int8 AS c, 1.5::float4 AS d, 2.25::float8 AS e,
                        12.50::numeric AS f, 123456789012345678901234567890::numeric AS g,
                        true AS h, 'x'::text AS i, 'y'::varchar AS j, '{\"k\": [1]}'::jsonb AS k,
                        '[1,2]'::json AS l, '2024-02-03'::date AS m,
                        '2024-02-03 04:05:06.5'::timestamp AS n,
                        '2024-02-03 04:05:06+02'::timestamptz AS o,
                        'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS p,
                        '\\x0aff'::bytea AS q, ARRAY[1, 2] AS r, NULL::text AS s,
                        '192.168.0.1'::inet AS t, interval '1 day 02:00:00' AS u,
                        (SELECT count(*) FROM t) AS v, avg(x) AS w
                 FROM (VALUES (2), (3)) AS v(x)",
                &[],
            )
            .unwrap();
        assert_eq!(
            rows,
            vec![json!({
                "a": 1, "b": 2, "c": 3, "d": 1.5, "e": 2.25, "f": 12.5,
                "g": "123456789012345678901234567890", "h": true, "i": "x", "j": "y",
                "k": {"k": [1]}, "l": [1, 2], "m": "2024-02-03", "n": "2024-02-03 04:05:06.5",
                "o": "2024-02-03 02:05:06+00", "p": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                "q": "0aff", "r": [1, 2], "s": null, "t": "192.168.0.1", "u": "1 day 02:00:00",
                "v": 0, "w": 2.5
            })]
        );
        // args take the types the server infers
        let rows = db
            .query(
                "SELECT ?::int4 + 1 AS a, ?::numeric AS b, ?::uuid AS c, ?::date AS d, ?::jsonb AS e,
                        ?::bool AS f, 3 = ANY(?::int8[]) AS g, ?::text AS h",
                &[
                    json!(41),
                    json!(1.25),
                    json!("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                    json!("2024-02-03"),
                    json!({"x": null}),
                    json!(true),
                    json!([1, 2, 3]),
                    json!(null),
                ],
            )
            .unwrap();
        assert_eq!(
            rows,
            vec![json!({
                "a": 42, "b": 1.25, "c": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                "d": "2024-02-03", "e": {"x": null}, "f": true, "g": true, "h": null
            })]
        );
        let e = db
            .query("SELECT ?::int2 AS a", &[json!(70000)])
            .unwrap_err();
        assert!(
            e.to_string().contains("does not fit") || e.to_string().contains("not an integer"),
            "{e}"
        );
        let e = db.query("SELECT point(1, 2) AS p", &[]).unwrap_err();
        assert!(e.to_string().contains("column p of type point"), "{e}");
    }

    #[tokio::test]
    async fn a_statement_noted_as_done_is_not_run_again_when_its_run_resumes() {
        let Some((_s, db)) = db("a_statement_noted_as_done_is_not_run_again_when_its_run_resumes")
        else {
            return;
        };
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
        let again = db
            .exec_once(insert, &[json!("a")], once("7/steps/0", true))
            .await
            .unwrap();
        assert_eq!(again, first);
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
            .exec_once(insert, &[json!("c")], once("7/steps/2", true))
            .await
            .unwrap();
        assert_eq!(retried.changes, 1, "the failed attempt was not noted");
        // the note is in the database, for a process that resumes the run after this one
        let other = DataDb::open(db.path()).unwrap();
        let resumed = other
            .exec_once(insert, &[json!("a")], once("7/steps/0", true))
            .await
            .unwrap();
        assert_eq!(resumed, first);
        assert_eq!(db.forget_done_before(8).await.unwrap(), 3);
        assert_eq!(
            db.query("SELECT count(*) AS n FROM _flowdeck_done", &[])
                .unwrap(),
            vec![json!({"n": 0})]
        );
    }

    #[tokio::test]
    async fn steps_cannot_change_the_notes_of_done_statements() {
        let Some((_s, db)) = db("steps_cannot_change_the_notes_of_done_statements") else {
            return;
        };
        db.exec("INSERT INTO t (name) VALUES ('x')", &[])
            .await
            .unwrap();
        for sql in [
            "DELETE FROM _flowdeck_done",
            "INSERT INTO _flowdeck_done VALUES ('k', 1, 1, 1)",
            "UPDATE \"_flowdeck_done\" SET changes = 0",
            "DROP TABLE _FLOWDECK_DONE",
            "DO $$ BEGIN EXECUTE 'TRUNCATE _flowdeck_done'; END $$",
        ] {
            let e = db.exec(sql, &[]).await.unwrap_err().to_string();
            assert!(
                e.contains("_flowdeck_done is flowdeck's own record"),
                "{sql}: {e}"
            );
        }
        let scratch = db.scratch().unwrap();
        assert!(scratch.exec("DELETE FROM _flowdeck_done", &[]).is_err());
    }

    #[tokio::test]
    async fn query_is_read_only_and_args_must_match() {
        let Some((_s, db)) = db("query_is_read_only_and_args_must_match") else {
            return;
        };
        assert_eq!(db.query("DELETE FROM t", &[]), Err(DataError::NotReadOnly));
        // a write the first word does not tell: the read-only transaction refuses it
        assert_eq!(
            db.query(
                "WITH d AS (DELETE FROM t RETURNING id) SELECT count(*) FROM d",
                &[]
            ),
            Err(DataError::NotReadOnly)
        );
        assert_eq!(
            db.exec("INSERT INTO t (name) VALUES (?)", &[]).await,
            Err(DataError::ArgCount {
                expected: 1,
                given: 0
            })
        );
        assert_eq!(
            db.query("SELECT * FROM t WHERE id = ? AND name = ?", &[json!(1)]),
            Err(DataError::ArgCount {
                expected: 2,
                given: 1
            })
        );
        let e = db.query("SELECT nope FROM t", &[]).unwrap_err().to_string();
        assert!(e.contains("column \"nope\" does not exist"), "{e}");
        // the pooled connections still work, and are read-only
        assert_eq!(
            db.query("SELECT count(*) AS n FROM t", &[]).unwrap(),
            vec![json!({"n": 0})]
        );
    }

    #[tokio::test]
    async fn a_scratch_transaction_sees_its_writes_and_leaves_nothing() {
        let Some((_s, db)) = db("a_scratch_transaction_sees_its_writes_and_leaves_nothing") else {
            return;
        };
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
            // a write through query is refused, and the transaction goes on
            assert_eq!(
                scratch.query(
                    "WITH d AS (DELETE FROM t RETURNING id) SELECT * FROM d",
                    &[]
                ),
                Err(DataError::NotReadOnly)
            );
            // a failing statement is undone alone
            assert!(scratch.exec("INSERT INTO nope VALUES (1)", &[]).is_err());
            scratch
                .run_script(
                    "CREATE TABLE s (k TEXT PRIMARY KEY, v BIGINT); INSERT INTO s VALUES ('a', 1);",
                )
                .unwrap();
            assert!(
                scratch
                    .run_script("INSERT INTO s VALUES ('b', 2); COMMIT;")
                    .is_err()
            );
            scratch
                .insert_rows("s", &[json!({"k": "b", "v": 2}), json!({"k": "a", "v": 5})])
                .unwrap();
            assert_eq!(
                scratch.table_rows("s").unwrap(),
                vec![json!({"k": "a", "v": 5}), json!({"k": "b", "v": 2})]
            );
            assert_eq!(
                scratch.query("SELECT count(*) AS n FROM t", &[]).unwrap(),
                vec![json!({"n": 1})]
            );
        }
        assert_eq!(
            db.query("SELECT count(*) AS n FROM t", &[]).unwrap(),
            vec![json!({"n": 0})]
        );
        assert!(
            db.query("SELECT * FROM s", &[]).is_err(),
            "the scratch's table went with it"
        );
    }

    #[tokio::test]
    async fn steps_cannot_control_the_transaction() {
        let Some((_s, db)) = db("steps_cannot_control_the_transaction") else {
            return;
        };
        for sql in [
            "BEGIN",
            "COMMIT",
            "ROLLBACK",
            "SAVEPOINT s",
            "RELEASE s",
            "START TRANSACTION",
            "END",
            "ABORT",
            "PREPARE TRANSACTION 'x'",
            "SET TRANSACTION READ WRITE",
        ] {
            let e = db.exec(sql, &[]).await.unwrap_err();
            assert!(
                e.to_string().contains("cannot control transactions"),
                "{sql}: {e}"
            );
            let e = db.query(sql, &[]).unwrap_err();
            assert!(
                e.to_string().contains("cannot control transactions"),
                "{sql}: {e}"
            );
        }
        // nor from a block of code (PostgreSQL refuses it inside a transaction)
        assert!(db.exec("DO $$ BEGIN COMMIT; END $$", &[]).await.is_err());
        db.exec("INSERT INTO t (name) VALUES ('after')", &[])
            .await
            .unwrap();
        assert_eq!(
            db.query("SELECT count(*) AS n FROM t", &[]).unwrap(),
            vec![json!({"n": 1})]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_statement_is_undone_alone_in_a_shared_commit() {
        let Some((_s, db)) = db("a_failing_statement_is_undone_alone_in_a_shared_commit") else {
            return;
        };
        let db = Arc::new(db);
        db.run_script(
            "CREATE TABLE u (k TEXT PRIMARY KEY);
             CREATE FUNCTION no_x() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF new.k = 'x' THEN RAISE EXCEPTION 'x is not allowed'; END IF; RETURN new; END $$;
             CREATE TRIGGER no_x BEFORE INSERT ON u FOR EACH ROW EXECUTE FUNCTION no_x();",
        )
        .unwrap();
        let mut tasks = Vec::new();
        for i in 0..300 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                let k = match i % 3 {
                    0 => "dup".to_string(),
                    1 if i == 100 => "x".to_string(),
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
        assert!(
            errors.iter().any(|e| e.contains("duplicate key")),
            "{errors:?}"
        );
    }

    #[test]
    fn a_missing_data_database_is_made() {
        let Some(scratch) = ScratchDatabase::for_test("a_missing_data_database_is_made") else {
            return;
        };
        let mut url = url::Url::parse(scratch.url()).unwrap();
        let name = format!("{}_data", url.path().trim_start_matches('/'));
        url.set_path(&format!("/{name}"));
        let made =
            DataDb::open(Path::new(url.as_str())).and_then(|db| db.query("SELECT 1 AS one", &[]));
        // drop it before asserting
        let mut admin = super::DataConn::connect(scratch.url()).unwrap();
        admin
            .batch(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .unwrap();
        assert_eq!(made.unwrap(), vec![json!({"one": 1})]);
    }
}
