//! Step records and the values they share on PostgreSQL (the SQLite room's `store::steps`
//! and `store::step_values`, the same record). A step's `input`, `output` and `vars` are
//! `BYTEA`: JSON text as its bytes, a [`Part`](crate::store::step_values::Part) as
//! [`PART_TAG`] followed by the Part's JSON.

use super::pipeline::{Bulk, Param};
use super::{PgStore, column};
use crate::model::{StepRecord, StepStatus, Timestamp};
use crate::store::Result;
use crate::store::step_values::{Column, PART_TAG, SharedValues};
use crate::store::steps::EncodedSteps;

/// Which of a record's text columns (`EncodedRow::text`) are `BYTEA`: input, output, vars.
const INPUT: usize = 3;
const OUTPUT: usize = 4;
const VARS: usize = 6;

/// A `BYTEA` column's bytes: JSON text as it is, a Part after its tag.
fn bytea(bytes: Option<&[u8]>, part: bool) -> Option<Vec<u8>> {
    bytes.map(|b| {
        if part {
            let mut tagged = Vec::with_capacity(b.len() + 1);
            tagged.push(PART_TAG);
            tagged.extend_from_slice(b);
            tagged
        } else {
            b.to_vec()
        }
    })
}

/// Step values (`step_values` rows) of any number of runs, column by column, for one
/// statement. A value a run has already is kept as it is (its hash names its text).
#[derive(Default)]
pub(crate) struct ValueRows {
    run_id: Vec<i64>,
    hash: Vec<i64>,
    body: Vec<String>,
}

impl Bulk for ValueRows {
    const SQL: &'static str = "INSERT INTO step_values (run_id, hash, body)
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[])
         ON CONFLICT (run_id, hash) DO NOTHING";

    fn len(&self) -> usize {
        self.run_id.len()
    }

    fn into_params(self) -> Vec<Param> {
        vec![
            Box::new(self.run_id),
            Box::new(self.hash),
            Box::new(self.body),
        ]
    }
}

impl ValueRows {
    /// Add the values `steps` of run `run_id` share.
    pub(crate) fn push(&mut self, run_id: i64, steps: &EncodedSteps) {
        for (hash, body) in steps.values() {
            self.run_id.push(run_id);
            self.hash.push(hash);
            self.body
                .push(std::str::from_utf8(body).unwrap_or_default().to_string());
        }
    }
}

/// Step records of any number of runs, column by column, for one statement. A record whose
/// `seq` its run has already is refused (and with it the statement), as on SQLite.
#[derive(Default)]
pub(crate) struct StepRows {
    run_id: Vec<i64>,
    seq: Vec<i64>,
    step: Vec<Option<String>>,
    path: Vec<Option<String>>,
    action: Vec<Option<String>>,
    status: Vec<&'static str>,
    input: Vec<Option<Vec<u8>>>,
    output: Vec<Option<Vec<u8>>>,
    error: Vec<Option<String>>,
    vars: Vec<Option<Vec<u8>>>,
    iteration: Vec<Option<String>>,
    attempt: Vec<i64>,
    started_at: Vec<i64>,
    duration_us: Vec<i64>,
}

impl Bulk for StepRows {
    const SQL: &'static str =
        "INSERT INTO steps (run_id, seq, step, path, action, status, input, output, error,
                            vars, iteration, attempt, started_at, duration_us)
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                $6::text[], $7::bytea[], $8::bytea[], $9::text[], $10::bytea[], $11::text[],
                $12::bigint[], $13::bigint[], $14::bigint[])";

    fn len(&self) -> usize {
        self.run_id.len()
    }

    fn into_params(self) -> Vec<Param> {
        vec![
            Box::new(self.run_id),
            Box::new(self.seq),
            Box::new(self.step),
            Box::new(self.path),
            Box::new(self.action),
            Box::new(self.status),
            Box::new(self.input),
            Box::new(self.output),
            Box::new(self.error),
            Box::new(self.vars),
            Box::new(self.iteration),
            Box::new(self.attempt),
            Box::new(self.started_at),
            Box::new(self.duration_us),
        ]
    }
}

impl StepRows {
    /// Add the records of `steps`, of run `run_id`.
    pub(crate) fn push(&mut self, run_id: i64, steps: &EncodedSteps) {
        for row in steps.rows() {
            let [s, p, a, i, o, e, v, it] = row.text;
            self.run_id.push(run_id);
            self.seq.push(i64::from(row.seq));
            self.step.push(steps.str(s).map(str::to_string));
            self.path.push(steps.str(p).map(str::to_string));
            self.action.push(steps.str(a).map(str::to_string));
            self.status.push(row.status);
            self.input.push(bytea(steps.bytes(i), row.is_part(INPUT)));
            self.output.push(bytea(steps.bytes(o), row.is_part(OUTPUT)));
            self.error.push(steps.str(e).map(str::to_string));
            self.vars.push(bytea(steps.bytes(v), row.is_part(VARS)));
            self.iteration.push(steps.str(it).map(str::to_string));
            self.attempt.push(i64::from(row.attempt));
            self.started_at.push(row.started_at);
            self.duration_us.push(row.duration_us);
        }
    }
}

impl PgStore {
    /// Record encoded steps of run `run_id`: the shared values in one statement, every
    /// record of the batch in one more (arrays, one per column, unnested), whatever their
    /// number; while writes are deferred, kept for the flush's statements, which write those
    /// of every run at once (see [`super::pipeline`]). A record whose `seq` the run has
    /// already is refused, as on SQLite.
    pub(crate) fn insert_encoded_steps(&self, run_id: i64, steps: &EncodedSteps) -> Result<()> {
        if self.defers_writes() {
            self.with_buffered(|b| {
                b.values.push(run_id, steps);
                b.steps.push(run_id, steps);
            });
            return Ok(());
        }
        let mut values = ValueRows::default();
        values.push(run_id, steps);
        self.write_now(values)?;
        let mut rows = StepRows::default();
        rows.push(run_id, steps);
        self.write_now(rows)
    }

    /// Every step record of a run, in `seq` order, its shared values put back.
    pub(crate) fn steps_of(&self, run_id: i64) -> Result<Vec<StepRecord>> {
        let rows = self.query(
            "SELECT seq, step, path, action, status, input, output, error, vars, iteration,
                    attempt, started_at, duration_us
               FROM steps WHERE run_id = $1 ORDER BY seq",
            &[&run_id],
        )?;
        let mut values = SharedValues::on_postgres(self, run_id);
        rows.iter()
            .map(|r| {
                let status: &str = column(r, 4)?;
                let iteration: Option<&str> = column(r, 9)?;
                Ok(StepRecord {
                    seq: u32::try_from(column::<i64>(r, 0)?).unwrap_or(u32::MAX),
                    step: column(r, 1)?,
                    path: column(r, 2)?,
                    action: column(r, 3)?,
                    status: if status == "failed" {
                        StepStatus::Failed
                    } else {
                        StepStatus::Succeeded
                    },
                    input: values.column(Column::from_bytea(column(r, 5)?), "step input")?,
                    output: values.column(Column::from_bytea(column(r, 6)?), "step output")?,
                    error: column(r, 7)?,
                    vars: values.column_opt(Column::from_bytea(column(r, 8)?), "step vars")?,
                    started_at: Timestamp(column(r, 11)?),
                    duration_us: u64::try_from(column::<i64>(r, 12)?).unwrap_or(0),
                    attempt: u32::try_from(column::<i64>(r, 10)?).unwrap_or(u32::MAX),
                    iteration: iteration
                        .and_then(|t| serde_json::from_str(t).ok())
                        .unwrap_or_default(),
                })
            })
            .collect()
    }

    /// The text of a shared value of run `run_id`, if the store has it.
    pub(crate) fn step_value(&self, run_id: i64, hash: i64) -> Result<Option<String>> {
        self.query_opt(
            "SELECT body FROM step_values WHERE run_id = $1 AND hash = $2",
            &[&run_id, &hash],
        )?
        .map(|r| column(&r, 0))
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::super::scratch::scratch_store;
    use super::*;
    use crate::store::step_values::SHARED_FROM;
    use crate::store::{HotWrites, Store};
    use serde_json::{Value, json};

    /// A value's JSON length, for comparing what was stored with what was written.
    fn json_len(v: &Value) -> usize {
        v.to_string().len()
    }

    fn record(seq: u32) -> StepRecord {
        StepRecord {
            seq,
            step: format!("s{seq}"),
            path: format!("/steps/{}", seq - 1),
            action: "set".into(),
            status: if seq == 5 {
                StepStatus::Failed
            } else {
                StepStatus::Succeeded
            },
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

    /// Definition 1 (`w`) and runs `ids` of it, written by hand.
    fn runs(store: &Store, ids: &[i64]) {
        let pg = store.postgres().unwrap();
        pg.batch(
            "INSERT INTO definitions (id, kind, name, on_event, draft, draft_source, created_at, updated_at)
               VALUES (1, 'workflow', 'w', 'e', '{}', '{}', 0, 0)",
        )
        .unwrap();
        for id in ids {
            pg.batch(&format!(
                "INSERT INTO runs (id, definition_id, kind, target, mode, status, params, queued_at)
                   VALUES ({id}, 1, 'workflow', 'w', 'debug', 'running', '{{}}', 0)"
            ))
            .unwrap();
        }
    }

    fn count(store: &Store, sql: &'static str) -> i64 {
        let row = store.postgres().unwrap().query_one(sql, &[]).unwrap();
        column(&row, 0).unwrap()
    }

    /// A large response that later steps mention and that every `$var` snapshot after it
    /// holds is stored once; the records read back as they were written, key order and all.
    #[test]
    fn large_values_are_stored_once_per_run_and_read_back_the_same() {
        let Some((_db, store)) =
            scratch_store("large_values_are_stored_once_per_run_and_read_back_the_same")
        else {
            return;
        };
        runs(&store, &[1, 2]);
        let body: Value = (0..200)
            .map(|i| json!({"sku": i, "name": format!("item {i} é")}))
            .collect();
        let big_string = "x".repeat(5_000);
        let mut records = Vec::new();
        let mut fetch = record(1);
        fetch.output = json!({"status": 200, "body": body});
        fetch.vars = Some(json!({"a": 1, "resp": {"status": 200, "body": body}, "z": 2}));
        records.push(fetch);
        for seq in 2..=6 {
            let mut r = record(seq);
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
            store.insert_encoded_steps(1, &encoded).unwrap();
        }
        assert_eq!(store.steps_of(1).unwrap(), records);
        assert!(serde_json::to_string(&body).unwrap().len() > SHARED_FROM);
        // the body (in outputs, inputs and within `resp` in every snapshot) and the big
        // string: once each
        assert_eq!(count(&store, "SELECT count(*) FROM step_values"), 2);
        let stored = count(
            &store,
            "SELECT sum(octet_length(input) + octet_length(output)
                        + coalesce(octet_length(vars), 0))::bigint FROM steps",
        );
        let written: usize = records
            .iter()
            .map(|r| json_len(&r.input) + json_len(&r.output) + r.vars.as_ref().map_or(0, json_len))
            .sum();
        assert!(
            (stored as usize) * 10 < written,
            "records hold {stored} bytes of {written}"
        );
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM steps WHERE get_byte(input, 0) = 1"
            ),
            5
        );
        // a small run's records stay plain JSON text, read back as they were written
        store.insert_step(2, &record(1)).unwrap();
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM steps
                  WHERE run_id = 2 AND convert_from(input, 'UTF8') = '{\"value\":1}'"
            ),
            1
        );
        assert_eq!(store.steps_of(2).unwrap(), vec![record(1)]);
    }

    /// A record that refers to a shared value the store lost says so.
    #[test]
    fn a_missing_shared_value_is_a_clear_error() {
        let Some((_db, store)) = scratch_store("a_missing_shared_value_is_a_clear_error") else {
            return;
        };
        runs(&store, &[1]);
        let mut r = record(1);
        r.output = json!("y".repeat(SHARED_FROM * 2));
        store.insert_step(1, &r).unwrap();
        store
            .postgres()
            .unwrap()
            .batch("DELETE FROM step_values")
            .unwrap();
        let e = store.steps_of(1).unwrap_err().to_string();
        assert!(e.contains("step output") && e.contains("missing"), "{e}");
    }

    /// Many records go in one statement, and a `seq` written twice is refused whole.
    #[test]
    fn many_steps_go_in_one_statement_and_read_back_the_same() {
        let Some((_db, store)) =
            scratch_store("many_steps_go_in_one_statement_and_read_back_the_same")
        else {
            return;
        };
        runs(&store, &[1]);
        let records: Vec<StepRecord> = (1..=19).map(record).collect();
        let mut encoded = EncodedSteps::default();
        for r in &records[..18] {
            encoded.push(r);
        }
        store.insert_encoded_steps(1, &encoded).unwrap();
        store.insert_step(1, &records[18]).unwrap();
        assert_eq!(store.steps_of(1).unwrap(), records);
        assert!(store.steps_of(99).unwrap().is_empty());
        // seq 19 again, with a new one: neither is recorded
        let mut again = EncodedSteps::default();
        again.push(&record(20));
        again.push(&record(19));
        assert!(
            store
                .postgres()
                .unwrap()
                .insert_encoded_steps(1, &again)
                .is_err()
        );
        assert_eq!(count(&store, "SELECT count(*) FROM steps"), 19);
    }
}
