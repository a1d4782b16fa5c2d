//! The ceiling of a benchmark on PostgreSQL: the same record rows written by a bare loop
//! into a scratch schema of the same database, on one connection, a thousand events per
//! transaction, each table's rows of a transaction in one `INSERT … SELECT * FROM unnest(…)`
//! (the cheapest way to write many rows with ids known to the writer), ids drawn from the
//! sequences in blocks. The scratch schema is dropped afterwards.

use super::ceiling::Ceiling;
use crate::store::postgres::PgStore;
use crate::store::{Result, StoreError};
use std::time::Instant;
use tokio_postgres::types::{ToSql, Type};

/// Events written per transaction.
const PER_TRANSACTION: usize = 1000;

/// The values of one column over many rows.
#[derive(Debug, Clone)]
enum Values {
    Int(Vec<Option<i64>>),
    Text(Vec<Option<String>>),
    Bytes(Vec<Option<Vec<u8>>>),
}

impl Values {
    fn empty(ty: &Type) -> Result<Values> {
        Ok(match *ty {
            Type::INT8 => Values::Int(Vec::new()),
            Type::TEXT => Values::Text(Vec::new()),
            Type::BYTEA => Values::Bytes(Vec::new()),
            _ => {
                return Err(StoreError::Postgres(format!(
                    "the ceiling cannot copy a column of type {ty}"
                )));
            }
        })
    }

    fn cast(&self) -> &'static str {
        match self {
            Values::Int(_) => "bigint[]",
            Values::Text(_) => "text[]",
            Values::Bytes(_) => "bytea[]",
        }
    }

    fn clear(&mut self) {
        match self {
            Values::Int(v) => v.clear(),
            Values::Text(v) => v.clear(),
            Values::Bytes(v) => v.clear(),
        }
    }

    fn as_param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Values::Int(v) => v,
            Values::Text(v) => v,
            Values::Bytes(v) => v,
        }
    }
}

/// One sampled row: its columns' values.
#[derive(Debug, Clone)]
enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

/// A table's sampled rows, and the arrays a transaction's copies of them go into.
struct Table {
    name: &'static str,
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
    arrays: Vec<Values>,
}

impl Table {
    /// The rows of `sql` (one parameter, `id`) as they are.
    fn sample(pg: &PgStore, name: &'static str, sql: &str, id: i64) -> Result<Table> {
        let statement =
            crate::store::postgres::wait(pg.client().prepare(sql)).map_err(|e| pg.error(e))?;
        let columns: Vec<String> = statement
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        let arrays = statement
            .columns()
            .iter()
            .map(|c| Values::empty(c.type_()))
            .collect::<Result<Vec<_>>>()?;
        let rows = crate::store::postgres::wait(pg.client().query(&statement, &[&id]))
            .map_err(|e| pg.error(e))?
            .iter()
            .map(|r| {
                arrays
                    .iter()
                    .enumerate()
                    .map(|(i, a)| match a {
                        Values::Int(_) => Value::Int(r.get(i)),
                        Values::Text(_) => Value::Text(r.get(i)),
                        Values::Bytes(_) => Value::Bytes(r.get(i)),
                    })
                    .collect()
            })
            .collect();
        Ok(Table {
            name,
            columns,
            rows,
            arrays,
        })
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// Add a copy of sampled row `row` with the integer columns `set` replaced.
    fn push(&mut self, row: usize, set: &[(Option<usize>, i64)]) {
        let Some(values) = self.rows.get(row) else {
            return;
        };
        for (i, (value, array)) in values.iter().zip(self.arrays.iter_mut()).enumerate() {
            let replaced = set.iter().find(|(c, _)| *c == Some(i)).map(|(_, v)| *v);
            match (value, array) {
                (Value::Int(v), Values::Int(a)) => a.push(replaced.or(*v)),
                (Value::Text(v), Values::Text(a)) => a.push(v.clone()),
                (Value::Bytes(v), Values::Bytes(a)) => a.push(v.clone()),
                _ => {}
            }
        }
    }

    /// Write the copies gathered (one statement); the rows written.
    fn write(&mut self, pg: &PgStore) -> Result<u64> {
        let casts: Vec<String> = self
            .arrays
            .iter()
            .enumerate()
            .map(|(i, a)| format!("${}::{}", i + 1, a.cast()))
            .collect();
        let sql = format!(
            "INSERT INTO {} ({}) SELECT * FROM unnest({})",
            self.name,
            self.columns.join(", "),
            casts.join(", ")
        );
        let params: Vec<&(dyn ToSql + Sync)> = self.arrays.iter().map(Values::as_param).collect();
        let n = pg.execute_dynamic(&sql, &params)?;
        for a in &mut self.arrays {
            a.clear();
        }
        Ok(n)
    }
}

/// `n` ids of `table`, drawn from its sequence.
fn ids(pg: &PgStore, table: &str, n: usize) -> Result<Vec<i64>> {
    let rows = pg.query_dynamic(
        &format!(
            "SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1::bigint, $1::bigint)"
        ),
        &[&(n as i64)],
    )?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Write `events` copies of the records of `event_id` (from the store at `url`) into a
/// scratch schema of the same database, timed.
pub(crate) fn measure(url: &str, event_id: i64, events: usize) -> Result<Ceiling> {
    let pg = PgStore::connect(url)?;
    let mut event = Table::sample(
        &pg,
        "events",
        "SELECT * FROM events WHERE id = $1",
        event_id,
    )?;
    // a sampled idempotency key would collide: the copies have none
    if let (Some(key), Some(row)) = (event.column("dedup_key"), event.rows.first_mut())
        && let Some(value) = row.get_mut(key)
    {
        *value = Value::Text(None);
    }
    let mut runs = Table::sample(
        &pg,
        "runs",
        "SELECT * FROM runs WHERE event_id = $1 ORDER BY id",
        event_id,
    )?;
    let mut steps = Table::sample(
        &pg,
        "steps",
        "SELECT s.* FROM steps s JOIN runs r ON r.id = s.run_id WHERE r.event_id = $1 ORDER BY s.run_id, s.seq",
        event_id,
    )?;
    let mut skips = Table::sample(
        &pg,
        "skips",
        "SELECT * FROM skips WHERE event_id = $1",
        event_id,
    )?;
    let mut definitions = Table::sample(
        &pg,
        "definitions",
        "SELECT * FROM definitions WHERE id IN (SELECT definition_id FROM runs WHERE event_id = $1
                                               UNION SELECT definition_id FROM skips WHERE event_id = $1)",
        event_id,
    )?;
    // which sampled steps belong to which sampled run
    let run_of_step: Vec<usize> = {
        let run_ids: Vec<Option<i64>> = runs
            .rows
            .iter()
            .map(|r| match runs.column("id").and_then(|i| r.get(i)) {
                Some(Value::Int(id)) => *id,
                _ => None,
            })
            .collect();
        let run_column = steps.column("run_id");
        steps
            .rows
            .iter()
            .map(|s| match run_column.and_then(|i| s.get(i)) {
                Some(Value::Int(id)) => run_ids.iter().position(|r| r == id).unwrap_or(0),
                _ => 0,
            })
            .collect()
    };
    let schema = format!("flowdeck_ceiling_{}", std::process::id());
    pg.batch(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; SET search_path TO {schema}"
    ))?;
    let result = (|| {
        crate::store::postgres::schema::migrate(&pg)?;
        for row in 0..definitions.rows.len() {
            definitions.push(row, &[]);
        }
        definitions.write(&pg)?;
        let event_id_col = event.column("id");
        let (run_id_col, run_event_col) = (runs.column("id"), runs.column("event_id"));
        let step_run_col = steps.column("run_id");
        let skip_event_col = skips.column("event_id");
        let mut written = 0u64;
        let start = Instant::now();
        for chunk_start in (0..events).step_by(PER_TRANSACTION) {
            let n = PER_TRANSACTION.min(events - chunk_start);
            pg.begin()?;
            let event_ids = ids(&pg, "events", n)?;
            let run_ids = ids(&pg, "runs", n * runs.rows.len())?;
            for (e, &eid) in event_ids.iter().enumerate() {
                event.push(0, &[(event_id_col, eid)]);
                let mine = &run_ids[e * runs.rows.len()..(e + 1) * runs.rows.len()];
                for (r, &rid) in mine.iter().enumerate() {
                    runs.push(r, &[(run_id_col, rid), (run_event_col, eid)]);
                }
                for (s, &r) in run_of_step.iter().enumerate() {
                    if let Some(&rid) = mine.get(r) {
                        steps.push(s, &[(step_run_col, rid)]);
                    }
                }
                for k in 0..skips.rows.len() {
                    skips.push(k, &[(skip_event_col, eid)]);
                }
            }
            written += event.write(&pg)?;
            written += runs.write(&pg)?;
            written += steps.write(&pg)?;
            if !skips.rows.is_empty() {
                written += skips.write(&pg)?;
            }
            pg.commit()?;
        }
        Ok(Ceiling {
            rows: written,
            elapsed: start.elapsed(),
        })
    })();
    if result.is_err() {
        pg.rollback();
    }
    pg.batch(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))?;
    result
}
