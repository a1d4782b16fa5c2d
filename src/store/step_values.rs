//! Values a run's step records share. A step's input, output or `$var` snapshot whose JSON is
//! large is not written into its record whole: an object is split into its small members,
//! kept in the record, and its large ones, split the same way in turn (a few levels deep);
//! what is large and not split (a string, an array, an object of many small members) goes
//! once per run into `step_values`, keyed by a hash of its text. The record's column holds
//! the [`Part`] as a BLOB (JSON text is always bound as TEXT, so the two never meet). A value
//! that ten steps mention, wherever it sits in their inputs, or a `$var` member that every
//! snapshot after it repeats, is stored once. Reading a run puts the values back: its JSON is
//! the same as if they had been written whole, key order and all.
//!
//! On PostgreSQL the three columns are `BYTEA`: JSON text as its bytes, a [`Part`] as the
//! byte [`PART_TAG`] followed by the Part's JSON (JSON text never starts with it).

use super::postgres::PgStore;
use super::{Result, Store, StoreError};
use rusqlite::OptionalExtension;
use rusqlite::types::Value as Sql;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::hash::Hasher;

/// JSON text from this size on is shared (a value, or a member of an object).
pub(crate) const SHARED_FROM: usize = 1024;

/// Objects are split this many levels deep at most.
pub(crate) const SPLIT_LEVELS: usize = 4;

/// The first byte of a PostgreSQL column that holds a [`Part`] (JSON text never starts
/// with it).
pub(crate) const PART_TAG: u8 = 0x01;

/// What a record's column holds for a large value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Part {
    /// A shared text, by its hash.
    Shared(i64),
    /// An object: its small members as they are, its large ones by their place and key.
    Split {
        /// The small members.
        rest: serde_json::Map<String, Value>,
        /// The large ones: place in the object, key, and the part that holds the value.
        large: Vec<(usize, String, Part)>,
    },
}

/// The key of a shared text in its run.
pub(crate) fn hash_of(text: &[u8]) -> i64 {
    let mut h = std::hash::DefaultHasher::new();
    h.write(text);
    // stored as SQLite's 64-bit integer
    h.finish().cast_signed()
}

fn damaged(what: &'static str, why: String) -> StoreError {
    StoreError::Damaged { what, why }
}

/// A record's column as either room stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Column<'a> {
    /// NULL.
    Null,
    /// JSON text.
    Json(&'a [u8]),
    /// A [`Part`]'s JSON.
    Part(&'a [u8]),
}

impl<'a> Column<'a> {
    /// A PostgreSQL `BYTEA` column: a [`Part`] after [`PART_TAG`], else JSON text.
    pub(crate) fn from_bytea(bytes: Option<&'a [u8]>) -> Column<'a> {
        match bytes {
            None => Column::Null,
            Some([PART_TAG, part @ ..]) => Column::Part(part),
            Some(json) => Column::Json(json),
        }
    }
}

/// Where the shared values are read from.
enum Room<'s> {
    Sqlite(&'s Store),
    Postgres(&'s PgStore),
}

/// Puts the shared values of one run's records back, reading each once.
pub(crate) struct SharedValues<'s> {
    room: Room<'s>,
    run_id: i64,
    read: HashMap<i64, Value>,
}

impl<'s> SharedValues<'s> {
    /// For the records of run `run_id` (in whichever room `store` is).
    pub(crate) fn new(store: &'s Store, run_id: i64) -> Self {
        let room = match store.postgres() {
            Some(pg) => Room::Postgres(pg),
            None => Room::Sqlite(store),
        };
        SharedValues {
            room,
            run_id,
            read: HashMap::new(),
        }
    }

    /// For the records of run `run_id` on PostgreSQL.
    pub(crate) fn on_postgres(pg: &'s PgStore, run_id: i64) -> Self {
        SharedValues {
            room: Room::Postgres(pg),
            run_id,
            read: HashMap::new(),
        }
    }

    /// A record's SQLite column as its value: JSON text as it is, a [`Part`] (a BLOB) with
    /// its shared parts put back.
    pub(crate) fn value(&mut self, column: Sql, what: &'static str) -> Result<Value> {
        match column {
            Sql::Null => self.column(Column::Null, what),
            Sql::Text(text) => self.column(Column::Json(text.as_bytes()), what),
            Sql::Blob(bytes) => self.column(Column::Part(&bytes), what),
            other => Err(damaged(
                what,
                format!("not JSON text but {}", other.data_type()),
            )),
        }
    }

    /// [`SharedValues::value`] for a column that may be NULL.
    pub(crate) fn value_opt(&mut self, column: Sql, what: &'static str) -> Result<Option<Value>> {
        match column {
            Sql::Null => Ok(None),
            other => self.value(other, what).map(Some),
        }
    }

    /// A record's column (of either room) as its value.
    pub(crate) fn column(&mut self, column: Column<'_>, what: &'static str) -> Result<Value> {
        match column {
            Column::Null => Ok(Value::Null),
            Column::Json(text) => {
                serde_json::from_slice(text).map_err(|source| StoreError::Corrupt { what, source })
            }
            Column::Part(bytes) => {
                let part: Part = serde_json::from_slice(bytes)
                    .map_err(|source| StoreError::Corrupt { what, source })?;
                self.put_back(part, what)
            }
        }
    }

    /// [`SharedValues::column`] for a column that may be NULL.
    pub(crate) fn column_opt(
        &mut self,
        column: Column<'_>,
        what: &'static str,
    ) -> Result<Option<Value>> {
        match column {
            Column::Null => Ok(None),
            other => self.column(other, what).map(Some),
        }
    }

    fn put_back(&mut self, part: Part, what: &'static str) -> Result<Value> {
        match part {
            Part::Shared(hash) => self.shared(hash, what),
            Part::Split { mut rest, large } => {
                for (index, key, part) in large {
                    let value = self.put_back(part, what)?;
                    rest.shift_insert(index.min(rest.len()), key, value);
                }
                Ok(Value::Object(rest))
            }
        }
    }

    fn shared(&mut self, hash: i64, what: &'static str) -> Result<Value> {
        if let Some(v) = self.read.get(&hash) {
            return Ok(v.clone());
        }
        let text = match self.room {
            Room::Postgres(pg) => pg.step_value(self.run_id, hash)?,
            Room::Sqlite(store) => store
                .conn()
                .prepare_cached("SELECT body FROM step_values WHERE run_id = ?1 AND hash = ?2")?
                .query_row(rusqlite::params![self.run_id, hash], |r| r.get(0))
                .optional()?,
        };
        let Some(text) = text else {
            return Err(damaged(
                what,
                format!("shared value {hash} of run {} is missing", self.run_id),
            ));
        };
        let value = super::json_column(&text, what)?;
        self.read.insert(hash, value.clone());
        Ok(value)
    }
}
