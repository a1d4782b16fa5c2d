//! What a case did, as its expectations read it, and the failures: each `expect` field
//! against the same field of the case's actual document (docs/testing-workflows.md lists
//! them), plus what fails a case whatever it expects (a request no mock answered, a case
//! that could not run).

use super::case::CaseRun;
use super::matcher::{Failure, check};
use crate::model::test_suite::TestCase;
use crate::model::{RunRecord, StepRecord};
use serde_json::{Map, Value, json};

/// The failures of a case that ran as `run`.
pub(crate) fn verdict(case: &TestCase, run: &CaseRun) -> Vec<Failure> {
    let mut out = Vec::new();
    if let Some(e) = &run.setup_error {
        out.push(Failure::plain("/", Value::Null, e.clone()));
        return out;
    }
    for request in &run.happened.unmatched {
        out.push(Failure::plain(
            "/http",
            request.clone(),
            format!(
                "no mock answered {} {}: a test sends no request out; add it to mocks.http",
                request["method"].as_str().unwrap_or_default(),
                request["url"].as_str().unwrap_or_default()
            ),
        ));
    }
    let root = root_run(run);
    for (key, expected) in &case.expect {
        let pointer = format!("/{key}");
        match key.as_str() {
            "steps" => match (expected.as_object(), root) {
                (Some(by_id), Some(root)) => check_steps(by_id, root, &pointer, &mut out),
                _ => check(expected, None, &pointer, &mut out),
            },
            "runs" => check_runs(expected, run, &pointer, &mut out),
            "data" => check_data(expected, run, &pointer, &mut out),
            _ => {
                let actual = field(key, run, root);
                check(expected, actual.as_ref(), &pointer, &mut out);
            }
        }
    }
    out
}

/// The case's own run (workflow and endpoint suites).
fn root_run(run: &CaseRun) -> Option<&RunRecord> {
    run.runs.first().filter(|_| run.has_root)
}

/// The actual value of a top-level field other than `steps`, `runs` and `data`.
fn field(key: &str, run: &CaseRun, root: Option<&RunRecord>) -> Option<Value> {
    match key {
        "status" => root.map(|r| json!(r.status)),
        "output" => root.map(|r| r.output.clone().unwrap_or(Value::Null)),
        "error" => root.map(|r| r.error.clone().map_or(Value::Null, Value::String)),
        "emits" => Some(emits(run)),
        "http" => Some(Value::Array(run.happened.requests.clone())),
        "response" => run
            .response
            .as_ref()
            .map(|(status, body)| json!({ "status": status, "body": body })),
        "logs" => Some(Value::Array(
            run.runs
                .iter()
                .flat_map(|r| r.steps.as_deref().unwrap_or_default())
                .filter(|s| s.action == "log" && s.error.is_none())
                .map(|s| s.input.get("message").cloned().unwrap_or(Value::Null))
                .collect(),
        )),
        _ => None,
    }
}

/// Every event the case's runs emitted, in order: `{event, params}`.
pub(crate) fn emits(run: &CaseRun) -> Value {
    Value::Array(
        run.happened
            .events
            .iter()
            .filter(|e| e.record.parent_run.is_some())
            .map(|e| json!({ "event": e.record.name, "params": e.record.params }))
            .collect(),
    )
}

/// A step record as expectations read it.
pub(crate) fn step_doc(s: &StepRecord) -> Value {
    let mut doc = json!({
        "status": s.status,
        "input": s.input,
        "output": s.output,
        "error": s.error,
        "attempt": s.attempt,
    });
    if !s.iteration.is_empty() {
        doc["iteration"] = json!(s.iteration);
    }
    doc
}

/// `expect.steps`: by step id, its last record, or every record when an array is expected.
fn check_steps(
    by_id: &Map<String, Value>,
    root: &RunRecord,
    pointer: &str,
    out: &mut Vec<Failure>,
) {
    let steps = root.steps.as_deref().unwrap_or_default();
    for (id, expected) in by_id {
        let at = format!("{pointer}/{id}");
        let records: Vec<&StepRecord> = steps.iter().filter(|s| s.step == *id).collect();
        if records.is_empty() {
            out.push(Failure {
                pointer: at,
                expected: expected.clone(),
                actual: Value::Null,
                message: format!("step {id} did not run"),
            });
            continue;
        }
        let actual = if expected.is_array() {
            Value::Array(records.iter().map(|s| step_doc(s)).collect())
        } else {
            step_doc(records[records.len() - 1])
        };
        check(expected, Some(&actual), &at, out);
    }
}

/// `expect.runs`: by workflow, its run (the last, when it ran more than once) or why it
/// was skipped; a status alone may be given as text.
fn check_runs(expected: &Value, run: &CaseRun, pointer: &str, out: &mut Vec<Failure>) {
    let Some(by_name) = expected.as_object() else {
        check(expected, Some(&runs_doc(run)), pointer, out);
        return;
    };
    let actual = runs_doc(run);
    for (name, want) in by_name {
        let at = format!("{pointer}/{name}");
        let got = actual.get(name);
        match (want, got) {
            (Value::String(_), Some(got)) => {
                check(want, got.get("status"), &format!("{at}/status"), out)
            }
            (_, None) => out.push(Failure {
                pointer: at,
                expected: want.clone(),
                actual: Value::Null,
                message: format!("{name} neither ran nor was skipped"),
            }),
            (_, Some(got)) => {
                let Some(fields) = want.as_object() else {
                    check(want, Some(got), &at, out);
                    continue;
                };
                for (k, v) in fields {
                    let pointer = format!("{at}/{k}");
                    match (k.as_str(), v.as_object()) {
                        ("steps", Some(by_id)) => {
                            if let Some(r) = run.runs.iter().rev().find(|r| r.target.name() == name)
                            {
                                check_steps(by_id, r, &pointer, out);
                            } else {
                                check(v, None, &pointer, out);
                            }
                        }
                        _ => check(v, got.get(k), &pointer, out),
                    }
                }
            }
        }
    }
}

/// The case's runs by workflow name (the last of each), and its skips.
pub(crate) fn runs_doc(run: &CaseRun) -> Value {
    let mut by_name = Map::new();
    for s in &run.skipped {
        by_name.insert(
            s.workflow.clone(),
            json!({ "status": "skipped", "reason": s.reason }),
        );
    }
    for r in &run.runs {
        by_name.insert(
            r.target.name().to_string(),
            json!({ "status": r.status, "output": r.output, "error": r.error }),
        );
    }
    Value::Object(by_name)
}

/// `expect.data`: by table, its rows after the runs.
fn check_data(expected: &Value, run: &CaseRun, pointer: &str, out: &mut Vec<Failure>) {
    let Some(tables) = expected.as_object() else {
        check(expected, None, pointer, out);
        return;
    };
    for (table, want) in tables {
        let at = format!("{pointer}/{table}");
        match run.tables.get(table) {
            Some(Ok(rows)) => check(want, Some(&Value::Array(rows.clone())), &at, out),
            Some(Err(e)) => out.push(Failure::plain(
                at,
                Value::Null,
                format!("cannot read {table}: {e}"),
            )),
            None => out.push(Failure::plain(
                at,
                Value::Null,
                format!("{table} was not read"),
            )),
        }
    }
}
