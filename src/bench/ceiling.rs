//! The ceiling a benchmark is compared with: the same record rows written by a bare loop of
//! prepared inserts, many events per transaction, into a fresh store on the same disk.

use crate::store::{Result, Store};
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, params_from_iter};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Events written per transaction.
const PER_TRANSACTION: usize = 1000;

/// What the bare loop reached.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Ceiling {
    /// Rows written (events, runs, step records, skips).
    pub rows: u64,
    /// How long it took.
    pub elapsed: Duration,
}

impl Ceiling {
    /// Rows per second.
    pub(crate) fn rows_per_s(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// A row as column names and values.
#[derive(Clone)]
struct Row {
    columns: Vec<String>,
    values: Vec<Sql>,
}

impl Row {
    fn set(&mut self, column: &str, value: Sql) {
        if let Some(i) = self.columns.iter().position(|c| c == column) {
            self.values[i] = value;
        }
    }

    fn without(mut self, column: &str) -> Row {
        if let Some(i) = self.columns.iter().position(|c| c == column) {
            self.columns.remove(i);
            self.values.remove(i);
        }
        self
    }

    fn insert_sql(&self, table: &str) -> String {
        let marks = vec!["?"; self.columns.len()].join(", ");
        format!(
            "INSERT INTO {table} ({}) VALUES ({marks})",
            self.columns.join(", ")
        )
    }
}

fn rows(conn: &Connection, sql: &str, arg: i64) -> rusqlite::Result<Vec<Row>> {
    let mut stmt = conn.prepare(sql)?;
    let columns: Vec<String> = stmt.column_names().map(str::to_string).collect();
    let n = columns.len();
    stmt.query_map([arg], |r| {
        Ok(Row {
            columns: columns.clone(),
            values: (0..n)
                .map(|i| r.get::<_, Sql>(i))
                .collect::<rusqlite::Result<_>>()?,
        })
    })?
    .collect()
}

/// One event's records as the benchmark wrote them: the event, its runs (each with its step
/// records) and its skips.
struct Sample {
    event: Row,
    runs: Vec<(Row, Vec<Row>)>,
    skips: Vec<Row>,
    definitions: Vec<Row>,
}

fn sample(store: &Store, event_id: i64) -> Result<Sample> {
    let conn = store.conn();
    let event = rows(conn, "SELECT * FROM events WHERE id = ?", event_id)?
        .pop()
        .ok_or_else(|| crate::store::StoreError::Commit(format!("event {event_id} is gone")))?
        .without("id");
    let mut runs = Vec::new();
    for run in rows(conn, "SELECT * FROM runs WHERE event_id = ?", event_id)? {
        let id = match run.values.first() {
            Some(Sql::Integer(id)) => *id,
            _ => continue,
        };
        let steps = rows(conn, "SELECT * FROM steps WHERE run_id = ?", id)?;
        runs.push((run.without("id"), steps));
    }
    let skips = rows(conn, "SELECT * FROM skips WHERE event_id = ?", event_id)?;
    let definitions = rows(
        conn,
        "SELECT * FROM definitions WHERE id IN (SELECT definition_id FROM runs WHERE event_id = ?1
                                                UNION SELECT definition_id FROM skips WHERE event_id = ?1)",
        event_id,
    )?;
    Ok(Sample {
        event,
        runs,
        skips,
        definitions,
    })
}

fn remove(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// Write `events` copies of the records of `event_id` (from the store at `store_path`) into a
/// fresh store beside it, timed; the fresh store is removed afterwards.
pub(crate) fn measure(store_path: &Path, event_id: i64, events: usize) -> Result<Ceiling> {
    let store = Store::open(store_path)?;
    let sample = sample(&store, event_id)?;
    let page_size: i64 = store
        .conn()
        .query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let folder = store_path.parent().unwrap_or(Path::new("."));
    let path = folder.join(format!(".flowdeck-ceiling-{}.db", std::process::id()));
    remove(&path);
    let result = write(&path, page_size, &sample, events);
    remove(&path);
    result
}

fn write(path: &Path, page_size: i64, sample: &Sample, events: usize) -> Result<Ceiling> {
    // the same page size as the measured store (a store made with 8 KB pages keeps them),
    // set before the store is opened: once in WAL mode, it would stay
    Connection::open(path)?.execute_batch(&format!(
        "PRAGMA page_size = {page_size}; PRAGMA journal_mode = WAL;"
    ))?;
    let store = Store::open(path)?;
    let conn = store.conn();
    for d in &sample.definitions {
        conn.execute(&d.insert_sql("definitions"), params_from_iter(&d.values))?;
    }
    let mut event_stmt = conn.prepare(&sample.event.insert_sql("events"))?;
    let mut run_stmts = Vec::new();
    for (run, steps) in &sample.runs {
        let step_sql = steps.first().map(|s| s.insert_sql("steps"));
        run_stmts.push((
            conn.prepare(&run.insert_sql("runs"))?,
            match step_sql {
                Some(sql) => Some(conn.prepare(&sql)?),
                None => None,
            },
        ));
    }
    let mut skip_stmt = match sample.skips.first() {
        Some(s) => Some(conn.prepare(&s.insert_sql("skips"))?),
        None => None,
    };
    let mut event = sample.event.clone();
    let mut run_rows = sample.runs.clone();
    let mut skip_rows = sample.skips.clone();
    let mut written = 0u64;
    let start = Instant::now();
    for chunk_start in (0..events).step_by(PER_TRANSACTION) {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        for _ in chunk_start..(chunk_start + PER_TRANSACTION).min(events) {
            // a fresh dedup key would be needed if the sample had one
            event.set("dedup_key", Sql::Null);
            event_stmt.execute(params_from_iter(&event.values))?;
            let event_id = conn.last_insert_rowid();
            written += 1;
            for ((run, steps), (run_stmt, step_stmt)) in run_rows.iter_mut().zip(&mut run_stmts) {
                run.set("event_id", Sql::Integer(event_id));
                run_stmt.execute(params_from_iter(&run.values))?;
                let run_id = conn.last_insert_rowid();
                written += 1;
                if let Some(step_stmt) = step_stmt {
                    for step in steps.iter_mut() {
                        step.set("run_id", Sql::Integer(run_id));
                        step_stmt.execute(params_from_iter(&step.values))?;
                        written += 1;
                    }
                }
            }
            if let Some(skip_stmt) = &mut skip_stmt {
                for skip in &mut skip_rows {
                    skip.set("event_id", Sql::Integer(event_id));
                    skip_stmt.execute(params_from_iter(&skip.values))?;
                    written += 1;
                }
            }
        }
        conn.execute_batch("COMMIT")?;
    }
    Ok(Ceiling {
        rows: written,
        elapsed: start.elapsed(),
    })
}
