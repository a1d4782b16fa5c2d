//! Step records: one row per executed step (and attempt) of a run.

use super::{Result, Store, json_column, json_column_opt};
use crate::model::{StepRecord, StepStatus, Timestamp};
use rusqlite::params;

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
            input: s.input.to_string(),
            output: s.output.to_string(),
            vars: s.vars.as_ref().map(ToString::to_string),
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

impl Store {
    /// Record one step of run `run_id`.
    pub fn insert_step(&self, run_id: i64, s: &StepRecord) -> Result<()> {
        self.insert_encoded_step(run_id, &EncodedStep::new(s.clone()))
    }

    /// Record one encoded step of run `run_id`.
    pub fn insert_encoded_step(&self, run_id: i64, s: &EncodedStep) -> Result<()> {
        self.conn()
            .prepare_cached(
                "INSERT OR REPLACE INTO steps (run_id, seq, step, path, action, status, input, output, error, vars,
                    iteration, attempt, started_at, duration_us)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?
            .execute(params![
                run_id,
                s.seq,
                s.step,
                s.path,
                s.action,
                s.status,
                s.input,
                s.output,
                s.error,
                s.vars,
                s.iteration,
                s.attempt,
                s.started_at,
                s.duration_us
            ])?;
        Ok(())
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
