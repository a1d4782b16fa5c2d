//! Step records: one row per executed step (and attempt) of a run.

use super::held::Prepared;
use super::{Result, Store, json_column, json_column_opt};
use crate::model::{StepRecord, StepStatus, Timestamp, json_text};
use rusqlite::params;
use std::sync::OnceLock;

/// A step record with its JSON already written out, ready to insert: encoding happens on the
/// run's thread, so the store's single writer only binds and inserts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedStep {
    seq: u32,
    step: String,
    path: String,
    action: String,
    status: &'static str,
    input: String,
    output: String,
    error: Option<String>,
    vars: Option<String>,
    iteration: Option<String>,
    attempt: u32,
    started_at: i64,
    duration_us: i64,
}

impl EncodedStep {
    /// Encode a record (consumed: its strings move).
    pub fn new(s: StepRecord) -> EncodedStep {
        EncodedStep {
            iteration: (!s.iteration.is_empty())
                .then(|| serde_json::to_string(&s.iteration).unwrap_or_default()),
            input: json_text(&s.input),
            output: json_text(&s.output),
            vars: s.vars.as_ref().map(json_text),
            seq: s.seq,
            step: s.step,
            path: s.path,
            action: s.action,
            status: s.status.as_str(),
            error: s.error,
            attempt: s.attempt,
            started_at: s.started_at.0,
            duration_us: i64::try_from(s.duration_us).unwrap_or(i64::MAX),
        }
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
        self.insert_encoded_step(run_id, &EncodedStep::new(s.clone()))
    }

    /// Record one encoded step of run `run_id`.
    pub fn insert_encoded_step(&self, run_id: i64, s: &EncodedStep) -> Result<()> {
        self.insert_encoded_steps(run_id, std::slice::from_ref(s))
    }

    /// Record encoded steps of run `run_id`, several rows per statement (one statement's
    /// start and end cost as much as a row).
    pub fn insert_encoded_steps(&self, run_id: i64, steps: &[EncodedStep]) -> Result<()> {
        insert_encoded_steps(self, run_id, steps)
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
    steps: &[EncodedStep],
) -> Result<()> {
    for chunk in steps.chunks(ROWS_PER_INSERT) {
        db.with_statement(insert_sql(chunk.len()), |stmt| {
            for (i, s) in chunk.iter().enumerate() {
                let at = i * COLUMNS;
                stmt.raw_bind_parameter(at + 1, run_id)?;
                stmt.raw_bind_parameter(at + 2, s.seq)?;
                stmt.raw_bind_parameter(at + 3, &s.step)?;
                stmt.raw_bind_parameter(at + 4, &s.path)?;
                stmt.raw_bind_parameter(at + 5, &s.action)?;
                stmt.raw_bind_parameter(at + 6, s.status)?;
                stmt.raw_bind_parameter(at + 7, &s.input)?;
                stmt.raw_bind_parameter(at + 8, &s.output)?;
                stmt.raw_bind_parameter(at + 9, &s.error)?;
                stmt.raw_bind_parameter(at + 10, &s.vars)?;
                stmt.raw_bind_parameter(at + 11, &s.iteration)?;
                stmt.raw_bind_parameter(at + 12, s.attempt)?;
                stmt.raw_bind_parameter(at + 13, s.started_at)?;
                stmt.raw_bind_parameter(at + 14, s.duration_us)?;
            }
            stmt.raw_execute()
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, RunMode};
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
                kind: Kind::Workflow,
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
        let encoded: Vec<EncodedStep> = records.iter().cloned().map(EncodedStep::new).collect();
        store.insert_encoded_steps(run, &encoded[..18]).unwrap();
        store.insert_encoded_step(run, &encoded[18]).unwrap();
        assert_eq!(store.steps_of(run).unwrap(), records);
    }
}
