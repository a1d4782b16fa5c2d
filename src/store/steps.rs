//! Step records: one row per executed step (and attempt) of a run.

use super::prepared::Prepared;
use super::{Result, Store, json_column, json_column_opt};
use crate::model::{StepRecord, StepStatus, Timestamp, json_text};
use rusqlite::params;
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
    /// The run's output and error, when it ended (its end goes with its last records).
    end: [Span; 2],
}

/// Bytes reserved for the text of a run's records (three steps of the bench example take
/// about 400).
const INITIAL_TEXT: usize = 512;

/// A byte range of [`EncodedSteps::text`]; `None` stands for NULL.
type Span = Option<(u32, u32)>;

/// One record's columns: its text ones as spans of the shared buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EncodedRow {
    seq: u32,
    status: &'static str,
    attempt: u32,
    started_at: i64,
    duration_us: i64,
    /// step, path, action, input, output, error, vars, iteration
    text: [Span; 8],
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
        let input = self.put_json(&s.input);
        let output = self.put_json(&s.output);
        let error = s.error.as_deref().and_then(|e| self.put_str(e));
        let vars = s.vars.as_ref().and_then(|v| self.put_json(v));
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
        });
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
    fn str(&self, span: Span) -> Option<&str> {
        span.and_then(|(a, b)| std::str::from_utf8(&self.text[a as usize..b as usize]).ok())
    }

    /// The text of a span, bound as SQL text (NULL for `None`).
    fn sql(&self, span: Span) -> Option<SqlText<'_>> {
        span.map(|(a, b)| SqlText(&self.text[a as usize..b as usize]))
    }
}

/// Bytes bound as SQL text (they are UTF-8: they were written from strings and JSON).
struct SqlText<'a>(&'a [u8]);

impl rusqlite::ToSql for SqlText<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(
            rusqlite::types::ValueRef::Text(self.0),
        ))
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
    /// Record one step of run `run_id`.
    pub fn insert_step(&self, run_id: i64, s: &StepRecord) -> Result<()> {
        let mut encoded = EncodedSteps::default();
        encoded.push(s);
        insert_encoded_steps(self, run_id, &encoded)
    }

    /// Every step record of a run, in `seq` order.
    pub fn steps_of(&self, run_id: i64) -> Result<Vec<StepRecord>> {
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
                        input: serde_json::Value::Null,
                        output: serde_json::Value::Null,
                        error: r.get(7)?,
                        vars: None,
                        started_at: Timestamp(r.get(11)?),
                        duration_us: u64::try_from(r.get::<_, i64>(12)?).unwrap_or(0),
                        attempt: r.get(10)?,
                        iteration: Vec::new(),
                    },
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, Option<String>>(8)?,
                    r.get::<_, Option<String>>(9)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raw.into_iter()
            .map(|(mut s, input, output, vars, iteration)| {
                s.input = json_column(&input, "step input")?;
                s.output = json_column(&output, "step output")?;
                s.vars = json_column_opt(vars, "step vars")?;
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
                stmt.raw_bind_parameter(at + 7, steps.sql(input))?;
                stmt.raw_bind_parameter(at + 8, steps.sql(output))?;
                stmt.raw_bind_parameter(at + 9, steps.sql(error))?;
                stmt.raw_bind_parameter(at + 10, steps.sql(vars))?;
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

    #[test]
    fn many_steps_go_in_a_few_statements_and_read_back_the_same() {
        let (_d, store) = temp_store();
        workflow_w(&store);
        let (run, _) = store
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
            .unwrap();
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
