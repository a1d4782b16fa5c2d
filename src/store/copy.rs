//! Copying a store from a SQLite file into PostgreSQL (`flowdeck migrate`): the definitions
//! with their drafts and versions, the project, its kept files, breakpoints and the studio's
//! state; with the history, events, runs, step records, shared step values, skips and pins.
//!
//! The two rooms have the same tables and columns, so each table is copied row for row, ids
//! and all (what refers to a row still finds it), in one transaction with PostgreSQL's
//! `COPY … BINARY`; the references are checked at its commit. Ids handed out afterwards
//! continue after the copied ones.

use super::{Result, Store, StoreError};
use rusqlite::types::ValueRef;
use serde::Serialize;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

/// Tables of the definitions, in an order their references allow.
const DEFINITION_TABLES: &[&str] = &[
    "project",
    "definitions",
    "versions",
    "project_files",
    "breakpoints",
    "ui_state",
];

/// Tables of the history.
const HISTORY_TABLES: &[&str] = &["events", "runs", "steps", "step_values", "skips", "pins"];

/// Tables whose ids continue after the copy.
const WITH_IDS: &[&str] = &["definitions", "events", "runs"];

/// What a copy did: rows per table, in the order copied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CopyReport {
    /// `(table, rows)`.
    pub tables: Vec<(String, u64)>,
    /// Whether the history was copied.
    pub history: bool,
}

/// Copy `from` (a SQLite store) into `to` (an empty PostgreSQL store); with `history`, its
/// events and runs too. Nothing is written unless all of it is.
pub fn copy_store(from: &Store, to: &Store, history: bool) -> Result<CopyReport> {
    if from.is_postgres() {
        return Err(StoreError::Postgres(
            "migrate copies from a SQLite file (--from flowdeck.db) into PostgreSQL".into(),
        ));
    }
    let Some(pg) = to.postgres() else {
        return Err(StoreError::Postgres(
            "migrate copies into a PostgreSQL store: give --to postgres://…".into(),
        ));
    };
    let held: i64 = pg
        .query_dynamic(
            "SELECT (SELECT count(*) FROM definitions) + (SELECT count(*) FROM events)",
            &[],
        )?
        .first()
        .map(|r| r.get(0))
        .unwrap_or(0);
    if held > 0 {
        return Err(StoreError::Postgres(format!(
            "{} already holds definitions or events; migrate copies into an empty store (give another database)",
            pg.shown()
        )));
    }
    let tables: Vec<&str> = DEFINITION_TABLES
        .iter()
        .chain(if history { HISTORY_TABLES } else { &[] })
        .copied()
        .collect();
    pg.begin()?;
    let copied = (|| {
        pg.batch("SET CONSTRAINTS ALL DEFERRED")?;
        let mut report = CopyReport {
            tables: Vec::new(),
            history,
        };
        for table in &tables {
            let rows = copy_table(from, to, table)?;
            report.tables.push(((*table).to_string(), rows));
        }
        let token: String =
            from.conn()
                .query_row("SELECT token FROM store_identity WHERE id = 1", [], |r| {
                    r.get(0)
                })?;
        pg.execute_dynamic(
            "UPDATE store_identity SET token = $1 WHERE id = 1",
            &[&token],
        )?;
        for table in WITH_IDS {
            pg.batch(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                               greatest((SELECT max(id) FROM {table}), 1),
                               (SELECT max(id) FROM {table}) IS NOT NULL)"
            ))?;
        }
        Ok(report)
    })();
    match copied {
        Ok(report) => {
            pg.commit()?;
            Ok(report)
        }
        Err(e) => {
            pg.rollback();
            Err(e)
        }
    }
}

/// Copy one table's rows, column by column by name; the rows copied.
fn copy_table(from: &Store, to: &Store, table: &str) -> Result<u64> {
    let Some(pg) = to.postgres() else {
        return Ok(0);
    };
    let columns: Vec<String> = from
        .conn()
        .prepare(&format!(
            "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
        ))?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let list = columns.join(", ");
    let types: Vec<Type> = {
        let probe = super::postgres::wait(
            pg.client()
                .prepare(&format!("SELECT {list} FROM {table} LIMIT 0")),
        )
        .map_err(|e| pg.error(e))?;
        probe.columns().iter().map(|c| c.type_().clone()).collect()
    };
    let mut select = from
        .conn()
        .prepare(&format!("SELECT {list} FROM {table}"))?;
    let mut rows = select.query([])?;
    let copy = format!("COPY {table} ({list}) FROM STDIN BINARY");
    super::postgres::wait(async {
        let sink = pg.client().copy_in(&copy).await.map_err(|e| pg.error(e))?;
        let writer = BinaryCopyInWriter::new(sink, &types);
        let mut writer = std::pin::pin!(writer);
        while let Some(row) = rows.next()? {
            let values = types
                .iter()
                .enumerate()
                .map(|(i, ty)| value_for(row.get_ref(i)?, ty, table, &columns[i]))
                .collect::<Result<Vec<Value>>>()?;
            let refs: Vec<&(dyn ToSql + Sync)> =
                values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
            writer
                .as_mut()
                .write(&refs)
                .await
                .map_err(|e| pg.error(e))?;
        }
        writer.finish().await.map_err(|e| pg.error(e))
    })
}

/// One value on its way from a SQLite column to a PostgreSQL one.
#[derive(Debug)]
enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
    Real(Option<f64>),
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>
    {
        match self {
            Value::Int(v) => v.to_sql(ty, out),
            Value::Text(v) => v.to_sql(ty, out),
            Value::Bytes(v) => v.to_sql(ty, out),
            Value::Real(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        [Type::INT8, Type::TEXT, Type::BYTEA, Type::FLOAT8].contains(ty)
    }

    tokio_postgres::types::to_sql_checked!();
}

/// `v` as the PostgreSQL column of type `ty` takes it: integers as `BIGINT`, text as `TEXT`,
/// and a step record's value as `BYTEA` (JSON text as its bytes, a shared-value part as the
/// byte 1 and its JSON).
fn value_for(v: ValueRef<'_>, ty: &Type, table: &str, column: &str) -> Result<Value> {
    let mismatch = |found: &str| StoreError::Damaged {
        what: "a copied column",
        why: format!("{table}.{column} holds {found} where PostgreSQL's column is {ty}"),
    };
    Ok(
        match (*ty == Type::INT8, *ty == Type::TEXT, *ty == Type::BYTEA) {
            (true, _, _) => Value::Int(match v {
                ValueRef::Null => None,
                ValueRef::Integer(i) => Some(i),
                ValueRef::Real(f) => Some(f as i64),
                _ => return Err(mismatch("text")),
            }),
            (_, true, _) => Value::Text(match v {
                ValueRef::Null => None,
                ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Integer(i) => Some(i.to_string()),
                ValueRef::Real(f) => Some(f.to_string()),
                ValueRef::Blob(_) => return Err(mismatch("bytes")),
            }),
            (_, _, true) => Value::Bytes(match v {
                ValueRef::Null => None,
                ValueRef::Text(t) => Some(t.to_vec()),
                ValueRef::Blob(b) => {
                    let mut part = Vec::with_capacity(b.len() + 1);
                    part.push(1u8);
                    part.extend_from_slice(b);
                    Some(part)
                }
                _ => return Err(mismatch("a number")),
            }),
            _ if *ty == Type::FLOAT8 => Value::Real(match v {
                ValueRef::Null => None,
                ValueRef::Real(f) => Some(f),
                ValueRef::Integer(i) => Some(i as f64),
                _ => return Err(mismatch("text")),
            }),
            _ => return Err(mismatch("a value")),
        },
    )
}
