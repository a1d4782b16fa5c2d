//! Step records: one row per executed step (and attempt) of a run.

use super::prepared::Prepared;
use super::step_values::{Part, SHARED_FROM, SPLIT_LEVELS, SharedValues, hash_of};
use super::{Result, Store};
use crate::model::{StepRecord, StepStatus, Timestamp, json_text};
use rusqlite::params;
use serde_json::{Map, Value};
use std::sync::OnceLock;

/// Step records with their JSON already written out, ready to insert: encoding happens on
/// the run's thread, so the store's single writer only binds and inserts. The text of every
/// column of every record goes into one buffer: a run's records are one allocation, written
/// on the run's thread and read and freed by the writer's (each string apart was an
/// allocation made on one core and freed on the other).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncodedSteps {
    text: Vec<u8>,
    rows: Vec<EncodedRow>,
    /// Large values the records share, once each (see `store::step_values`): their hash
    /// and text.
    values: Vec<(i64, (u32, u32))>,
    /// The run's output and error, when it ended (its end goes with its last records).
    end: [Span; 2],
}

/// Bytes reserved for the text of a run's records (three steps of the bench example take
/// about 400).
const INITIAL_TEXT: usize = 512;

/// A byte range of [`EncodedSteps::text`]; `None` stands for NULL.
pub(crate) type Span = Option<(u32, u32)>;

/// One record's columns: its text ones as spans of the shared buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EncodedRow {
    pub(crate) seq: u32,
    pub(crate) status: &'static str,
    pub(crate) attempt: u32,
    pub(crate) started_at: i64,
    pub(crate) duration_us: i64,
    /// step, path, action, input, output, error, vars, iteration
    pub(crate) text: [Span; 8],
    /// Which of them hold a [`Part`] (bound as a BLOB): bit `i` for `text[i]`.
    shared: u8,
}

impl EncodedRow {
    /// Whether `text[i]` holds a [`Part`] rather than JSON text.
    pub(crate) fn is_part(&self, i: usize) -> bool {
        i < 8 && self.shared & (1 << i) != 0
    }
}

impl EncodedSteps {
    /// Encode one record and add it.
    pub fn push(&mut self, s: &StepRecord) {
        if self.rows.is_empty() {
            // a run's few records fit without growing
            self.text.reserve(INITIAL_TEXT);
            self.rows.reserve(4);
        }
        let step = self.put_str(&s.step);
        let path = self.put_str(&s.path);
        let action = self.put_str(&s.action);
        let (input, input_shared) = self.put_shared(&s.input);
        let (output, output_shared) = self.put_shared(&s.output);
        let error = s.error.as_deref().and_then(|e| self.put_str(e));
        let (vars, vars_shared) = match &s.vars {
            Some(v) => self.put_shared(v),
            None => (None, false),
        };
        let iteration = if s.iteration.is_empty() {
            None
        } else {
            self.put(|buf| serde_json::to_writer(buf, &s.iteration).is_ok())
        };
        self.rows.push(EncodedRow {
            seq: s.seq,
            status: s.status.as_str(),
            attempt: s.attempt,
            started_at: s.started_at.0,
            duration_us: i64::try_from(s.duration_us).unwrap_or(i64::MAX),
            text: [step, path, action, input, output, error, vars, iteration],
            shared: u8::from(input_shared) << 3
                | u8::from(output_shared) << 4
                | u8::from(vars_shared) << 6,
        });
    }

    /// Write `value` as JSON, its large parts kept apart once as shared values: the span
    /// written and whether it is a [`Part`] rather than the JSON.
    fn put_shared(&mut self, value: &Value) -> (Span, bool) {
        let span = self.put_json(value);
        let Some((start, end)) = span else {
            return (None, false);
        };
        if ((end - start) as usize) < SHARED_FROM {
            return (span, false);
        }
        self.text.truncate(start as usize);
        let Some(part) = self.part(value, 0) else {
            return (self.put_json(value), false);
        };
        let written = self.put(|buf| serde_json::to_writer(buf, &part).is_ok());
        (written, written.is_some())
    }

    /// A large value as a [`Part`]: an object (up to [`SPLIT_LEVELS`] deep) split into its
    /// small members and its large ones, anything else one shared text.
    fn part(&mut self, value: &Value, level: usize) -> Option<Part> {
        if let Value::Object(map) = value
            && level < SPLIT_LEVELS
        {
            let mut rest = Map::new();
            let mut large = Vec::new();
            for (i, (key, member)) in map.iter().enumerate() {
                match self.put_json(member) {
                    Some((a, b)) if (b - a) as usize >= SHARED_FROM => {
                        self.text.truncate(a as usize);
                        match self.part(member, level + 1) {
                            Some(part) => large.push((i, key.clone(), part)),
                            None => {
                                rest.insert(key.clone(), member.clone());
                            }
                        }
                    }
                    Some((a, _)) => {
                        self.text.truncate(a as usize);
                        rest.insert(key.clone(), member.clone());
                    }
                    None => {
                        rest.insert(key.clone(), member.clone());
                    }
                }
            }
            if !large.is_empty() {
                return Some(Part::Split { rest, large });
            }
        }
        let span = self.put_json(value)?;
        Some(Part::Shared(self.keep_shared(span)))
    }

    /// Keep the text at `span` (the last thing written) as a shared value: its hash. Text
    /// already kept is not kept twice.
    fn keep_shared(&mut self, (a, b): (u32, u32)) -> i64 {
        let hash = hash_of(&self.text[a as usize..b as usize]);
        if self.values.iter().any(|(h, _)| *h == hash) {
            self.text.truncate(a as usize);
        } else {
            self.values.push((hash, (a, b)));
        }
        hash
    }

    /// Add the run's output (as JSON) and error, for the write that ends it.
    pub fn set_end(&mut self, output: Option<&serde_json::Value>, error: Option<&str>) {
        let output = output.and_then(|v| self.put_json(v));
        let error = error.and_then(|e| self.put_str(e));
        self.end = [output, error];
    }

    /// The run's output and error given to [`EncodedSteps::set_end`].
    pub fn end(&self) -> (Option<&str>, Option<&str>) {
        let [output, error] = self.end.map(|span| self.str(span));
        (output, error)
    }

    /// How many records.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn put_str(&mut self, text: &str) -> Span {
        self.put(|buf| {
            buf.extend_from_slice(text.as_bytes());
            true
        })
    }

    fn put_json(&mut self, value: &serde_json::Value) -> Span {
        // a Value always serializes (its map keys are strings) into a Vec
        self.put(|buf| serde_json::to_writer(buf, value).is_ok())
            .or_else(|| self.put_str(&json_text(value)))
    }

    /// Append with `write`; the span written, or `None` (and nothing kept) when it failed or
    /// the buffer would pass 4 GB.
    fn put(&mut self, write: impl FnOnce(&mut Vec<u8>) -> bool) -> Span {
        let start = self.text.len();
        let ok = write(&mut self.text);
        match (ok, u32::try_from(start), u32::try_from(self.text.len())) {
            (true, Ok(a), Ok(b)) => Some((a, b)),
            _ => {
                self.text.truncate(start);
                None
            }
        }
    }

    /// The text of a span as a string (it was written from strings and JSON: UTF-8).
    pub(crate) fn str(&self, span: Span) -> Option<&str> {
        span.and_then(|(a, b)| std::str::from_utf8(self.bytes_at(a, b)).ok())
    }

    /// The bytes of a span.
    pub(crate) fn bytes(&self, span: Span) -> Option<&[u8]> {
        span.map(|(a, b)| self.bytes_at(a, b))
    }

    fn bytes_at(&self, a: u32, b: u32) -> &[u8] {
        self.text.get(a as usize..b as usize).unwrap_or_default()
    }

    /// The records, as encoded.
    pub(crate) fn rows(&self) -> &[EncodedRow] {
        &self.rows
    }

    /// The large values the records share, once each: their hash and text.
    pub(crate) fn values(&self) -> impl Iterator<Item = (i64, &[u8])> {
        self.values
            .iter()
            .map(|(hash, (a, b))| (*hash, self.bytes_at(*a, *b)))
    }

    /// The text of a span, bound as SQL text (NULL for `None`).
    fn sql(&self, span: Span) -> Option<SqlText<'_>> {
        self.sql_as(span, false)
    }

    /// The text of a span, bound as a BLOB with `blob` (a [`Part`]).
    fn sql_as(&self, span: Span, blob: bool) -> Option<SqlText<'_>> {
        span.map(|(a, b)| SqlText {
            bytes: self.bytes_at(a, b),
            blob,
        })
    }
}

/// Bytes bound as SQL text (they are UTF-8: they were written from strings and JSON), or as
/// a BLOB for a [`Part`].
struct SqlText<'a> {
    bytes: &'a [u8],
    blob: bool,
}

impl rusqlite::ToSql for SqlText<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(if self.blob {
            rusqlite::types::ValueRef::Blob(self.bytes)
        } else {
            rusqlite::types::ValueRef::Text(self.bytes)
        }))
    }
}

/// Step rows inserted by one statement at most.
const ROWS_PER_INSERT: usize = 8;
/// Columns of a step row.
const COLUMNS: usize = 14;

/// `INSERT … VALUES (…), (…)` for `rows` step rows (1 ..= [`ROWS_PER_INSERT`]), built once.
fn insert_sql(rows: usize) -> &'static str {
    static SQL: OnceLock<Vec<String>> = OnceLock::new();
    let all = SQL.get_or_init(|| {
        (0..=ROWS_PER_INSERT)
            .map(|n| {
                // plain `?` marks, numbered in order: the statement cache hashes the text
                // on every use, so it is kept short
                let row = format!("({})", vec!["?"; COLUMNS].join(","));
                format!(
                    "INSERT OR FAIL INTO steps (run_id,seq,step,path,action,status,input,output,\
                     error,vars,iteration,attempt,started_at,duration_us) VALUES {}",
                    vec![row; n].join(",")
                )
            })
            .collect()
    });
    &all[rows.min(ROWS_PER_INSERT)]
}

impl Store {
    /// Record one step of run `run_id` (in either room: `insert_encoded_steps` routes).
    pub fn insert_step(&self, run_id: i64, s: &StepRecord) -> Result<()> {
        let mut encoded = EncodedSteps::default();
        encoded.push(s);
        insert_encoded_steps(self, run_id, &encoded)
    }

    /// Every step record of a run, in `seq` order.
    pub fn steps_of(&self, run_id: i64) -> Result<Vec<StepRecord>> {
        if let Some(pg) = self.postgres() {
            return pg.steps_of(run_id);
        }
        let mut stmt = self.conn().prepare_cached(
            "SELECT seq, step, path, action, status, input, output, error, vars, iteration, attempt,
                    started_at, duration_us
               FROM steps WHERE run_id = ?1 ORDER BY seq",
        )?;
        let raw = stmt
            .query_map(params![run_id], |r| {
                let status: String = r.get(4)?;
                Ok((
                    StepRecord {
                        seq: r.get(0)?,
                        step: r.get(1)?,
                        path: r.get(2)?,
                        action: r.get(3)?,
                        status: if status == "failed" {
                            StepStatus::Failed
                        } else {
                            StepStatus::Succeeded
                        },
                        input: Value::Null,
                        output: Value::Null,
                        error: r.get(7)?,
                        vars: None,
                        started_at: Timestamp(r.get(11)?),
                        duration_us: u64::try_from(r.get::<_, i64>(12)?).unwrap_or(0),
                        attempt: r.get(10)?,
                        iteration: Vec::new(),
                    },
                    r.get::<_, rusqlite::types::Value>(5)?,
                    r.get::<_, rusqlite::types::Value>(6)?,
                    r.get::<_, rusqlite::types::Value>(8)?,
                    r.get::<_, Option<String>>(9)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut values = SharedValues::new(self, run_id);
        raw.into_iter()
            .map(|(mut s, input, output, vars, iteration)| {
                s.input = values.value(input, "step input")?;
                s.output = values.value(output, "step output")?;
                s.vars = values.value_opt(vars, "step vars")?;
                s.iteration = iteration
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or_default();
                Ok(s)
            })
            .collect()
    }
}

/// [`Store::insert_encoded_steps`] with statements from `db`.
pub(crate) fn insert_encoded_steps(
    db: &impl Prepared,
    run_id: i64,
    steps: &EncodedSteps,
) -> Result<()> {
    if let Some(pg) = db.store().postgres() {
        return pg.insert_encoded_steps(run_id, steps);
    }
    for (hash, span) in &steps.values {
        db.with_statement(
            "INSERT OR IGNORE INTO step_values (run_id, hash, body) VALUES (?1, ?2, ?3)",
            |stmt| {
                stmt.raw_bind_parameter(1, run_id)?;
                stmt.raw_bind_parameter(2, *hash)?;
                stmt.raw_bind_parameter(3, steps.sql(Some(*span)))?;
                stmt.raw_execute()
            },
        )?;
    }
    for chunk in steps.rows.chunks(ROWS_PER_INSERT) {
        db.with_statement(insert_sql(chunk.len()), |stmt| {
            for (i, row) in chunk.iter().enumerate() {
                let at = i * COLUMNS;
                let [step, path, action, input, output, error, vars, iteration] = row.text;
                stmt.raw_bind_parameter(at + 1, run_id)?;
                stmt.raw_bind_parameter(at + 2, row.seq)?;
                stmt.raw_bind_parameter(at + 3, steps.sql(step))?;
                stmt.raw_bind_parameter(at + 4, steps.sql(path))?;
                stmt.raw_bind_parameter(at + 5, steps.sql(action))?;
                stmt.raw_bind_parameter(at + 6, row.status)?;
                let shared = |i: u8| row.shared & (1 << i) != 0;
                stmt.raw_bind_parameter(at + 7, steps.sql_as(input, shared(3)))?;
                stmt.raw_bind_parameter(at + 8, steps.sql_as(output, shared(4)))?;
                stmt.raw_bind_parameter(at + 9, steps.sql(error))?;
                stmt.raw_bind_parameter(at + 10, steps.sql_as(vars, shared(6)))?;
                stmt.raw_bind_parameter(at + 11, steps.sql(iteration))?;
                stmt.raw_bind_parameter(at + 12, row.attempt)?;
                stmt.raw_bind_parameter(at + 13, row.started_at)?;
                stmt.raw_bind_parameter(at + 14, row.duration_us)?;
            }
            stmt.raw_execute()
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DefinitionKind, RunMode};
    use crate::store::HotWrites;
    use crate::store::runs::NewRun;
    use crate::store::testing::{temp_store, workflow_w};
    use serde_json::json;

    fn record(seq: u32) -> StepRecord {
        StepRecord {
            seq,
            step: format!("s{seq}"),
            path: format!("/steps/{}", seq - 1),
            action: "set".into(),
            status: StepStatus::Succeeded,
            input: json!({"value": seq}),
            output: json!(seq),
            error: (seq == 5).then(|| "five".to_string()),
            vars: seq.is_multiple_of(2).then(|| json!({"n": seq})),
            started_at: Timestamp(1_000 + i64::from(seq)),
            duration_us: u64::from(seq),
            attempt: 1,
            iteration: if seq == 3 { vec![0, 2] } else { Vec::new() },
        }
    }

    fn new_run(store: &Store) -> i64 {
        store
            .insert_run(&NewRun {
                definition_id: 1,
                kind: DefinitionKind::Workflow,
                target: "w",
                version: None,
                event_id: None,
                mode: RunMode::Debug,
                params_json: "{}",
                lease_owner: None,
                lease_expires: None,
            })
            .unwrap()
            .0
    }

    fn count(store: &Store, sql: &str) -> i64 {
        store.conn().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// A large response that later steps mention and that every `$var` snapshot after it
    /// holds is stored once; the records read back as they were written, key order and all.
    #[test]
    fn large_values_are_stored_once_per_run_and_read_back_the_same() {
        let (_d, store) = temp_store();
        workflow_w(&store);
        let run = new_run(&store);
        let body: Value = (0..200)
            .map(|i| json!({"sku": i, "name": format!("item {i}")}))
            .collect();
        let big_string = "x".repeat(5_000);
        let mut records = Vec::new();
        let mut fetch = record(1);
        fetch.output = json!({"status": 200, "body": body});
        fetch.vars = Some(json!({"a": 1, "resp": {"status": 200, "body": body}, "z": 2}));
        records.push(fetch);
        for seq in 2..=6 {
            let mut r = record(seq);
            // the body mentioned in the input, among small keys on both sides
            r.input = json!({"first": seq, "body": body, "last": "l"});
            r.vars = Some(json!({"a": seq, "resp": {"status": 200, "body": body}, "z": 2}));
            records.push(r);
        }
        let mut whole = record(7);
        whole.output = json!(big_string);
        records.push(whole);
        // written in two flushes, as a run's records are
        for part in [&records[..3], &records[3..]] {
            let mut encoded = EncodedSteps::default();
            for r in part {
                encoded.push(r);
            }
            store.insert_encoded_steps(run, &encoded).unwrap();
        }
        assert_eq!(store.steps_of(run).unwrap(), records);
        let body_text = serde_json::to_string(&body).unwrap();
        assert!(body_text.len() > SHARED_FROM);
        // the body (in outputs, inputs and within `resp` in every snapshot) and the big
        // string: once each
        assert_eq!(count(&store, "SELECT count(*) FROM step_values"), 2);
        let stored = count(
            &store,
            "SELECT sum(length(input) + length(output) + coalesce(length(vars), 0)) FROM steps",
        );
        let written: usize = records
            .iter()
            .map(|r| {
                r.input.to_string().len()
                    + r.output.to_string().len()
                    + r.vars.as_ref().map_or(0, |v| v.to_string().len())
            })
            .sum();
        assert!(
            (stored as usize) * 10 < written,
            "records hold {stored} bytes of {written}"
        );
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM steps WHERE typeof(input) = 'blob'"
            ),
            5
        );
        // a small run's records stay plain JSON text
        let small = new_run(&store);
        store.insert_step(small, &record(1)).unwrap();
        assert_eq!(
            count(
                &store,
                &format!(
                    "SELECT count(*) FROM steps WHERE run_id = {small} AND typeof(input) = 'text'"
                )
            ),
            1
        );
    }

    /// A record that refers to a shared value the store lost says so; it does not panic or
    /// come back as something else.
    #[test]
    fn a_missing_shared_value_is_a_clear_error() {
        let (_d, store) = temp_store();
        workflow_w(&store);
        let run = new_run(&store);
        let mut r = record(1);
        r.output = json!("y".repeat(SHARED_FROM * 2));
        store.insert_step(run, &r).unwrap();
        store
            .conn()
            .execute_batch("DELETE FROM step_values")
            .unwrap();
        let e = store.steps_of(run).unwrap_err().to_string();
        assert!(e.contains("step output") && e.contains("missing"), "{e}");
    }

    #[test]
    fn many_steps_go_in_a_few_statements_and_read_back_the_same() {
        let (_d, store) = temp_store();
        workflow_w(&store);
        let run = new_run(&store);
        // more than one statement's worth, and a partial last one
        let records: Vec<StepRecord> = (1..=19).map(record).collect();
        let mut encoded = EncodedSteps::default();
        for r in &records[..18] {
            encoded.push(r);
        }
        assert_eq!(encoded.len(), 18);
        store.insert_encoded_steps(run, &encoded).unwrap();
        store.insert_step(run, &records[18]).unwrap();
        assert_eq!(store.steps_of(run).unwrap(), records);
    }

    #[test]
    fn a_runs_end_shares_the_records_buffer() {
        let mut encoded = EncodedSteps::default();
        assert_eq!(encoded.end(), (None, None));
        encoded.push(&record(1));
        encoded.set_end(Some(&json!({"n": "é"})), Some("boom"));
        assert_eq!(encoded.end(), (Some(r#"{"n":"é"}"#), Some("boom")));
        assert_eq!(encoded.len(), 1, "the end is not a record");
        encoded.set_end(None, None);
        assert_eq!(encoded.end(), (None, None));
    }
}
