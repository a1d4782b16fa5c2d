//! Snapshots of a case's whole trace: every run with every step's input, output and status,
//! the events emitted, the listeners skipped, the endpoint's answer; without what differs
//! from one run to the next (ids of runs and events, times, durations). Kept as
//! `tests/__snapshots__/FILE.CASE.json`.

use super::case::CaseRun;
use super::matcher::Failure;
use crate::engine::compare::changes;
use crate::model::project::{SNAPSHOTS_DIR, TEST_SUFFIX};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The trace of a case as a snapshot keeps it.
pub(crate) fn trace_of(run: &CaseRun) -> Value {
    let runs: Vec<Value> = run
        .runs
        .iter()
        .map(|r| {
            let steps: Vec<Value> = r
                .steps
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(|s| {
                    let mut doc = json!({
                        "step": s.step,
                        "action": s.action,
                        "status": s.status,
                        "input": s.input,
                        "output": s.output,
                    });
                    if let Some(e) = &s.error {
                        doc["error"] = json!(e);
                    }
                    if s.attempt > 1 {
                        doc["attempt"] = json!(s.attempt);
                    }
                    if !s.iteration.is_empty() {
                        doc["iteration"] = json!(s.iteration);
                    }
                    doc
                })
                .collect();
            let event = r.event_id.and_then(|id| {
                run.happened
                    .events
                    .iter()
                    .find(|e| e.record.id == id)
                    .map(|e| e.record.name.clone())
            });
            let mut doc = json!({
                "target": r.target.name(),
                "version": r.version.map_or(json!("draft"), |v| json!(v)),
                "status": r.status,
                "params": r.params,
                "output": r.output,
                "error": r.error,
                "steps": steps,
            });
            if let Some(event) = event {
                doc["event"] = json!(event);
            }
            doc
        })
        .collect();
    let events: Vec<Value> = run
        .happened
        .events
        .iter()
        .filter(|e| e.record.parent_run.is_some())
        .map(|e| json!({ "name": e.record.name, "params": e.record.params, "from": e.record.source }))
        .collect();
    let skipped: Vec<Value> = run
        .skipped
        .iter()
        .map(|s| {
            let event = run
                .happened
                .events
                .iter()
                .find(|e| e.record.id == s.event_id)
                .map(|e| e.record.name.clone());
            json!({ "event": event, "workflow": s.workflow, "reason": s.reason })
        })
        .collect();
    let mut doc = json!({ "runs": runs, "events": events, "skipped": skipped });
    if let Some((status, body)) = &run.response {
        doc["response"] = json!({ "status": status, "body": body });
    }
    doc
}

/// Where the snapshot of case `case` of test file `file` (relative to the project) is kept.
pub(crate) fn path_of(file: &Path, case: &str) -> PathBuf {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(TEST_SUFFIX).unwrap_or(&name);
    let slug: String = case
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let mut slug = slug.trim_matches('_').to_string();
    while slug.contains("__") {
        slug = slug.replace("__", "_");
    }
    Path::new(SNAPSHOTS_DIR).join(format!("{stem}.{slug}.json"))
}

/// The snapshot's text for a trace: pretty JSON with a final newline.
pub(crate) fn text_of(trace: &Value) -> String {
    let mut text = serde_json::to_string_pretty(trace).unwrap_or_default();
    text.push('\n');
    text
}

/// How a trace compares with its kept snapshot.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Compared {
    /// The same.
    Same,
    /// No snapshot yet.
    Missing,
    /// It differs: where, as failures.
    Differs(Vec<Failure>),
}

/// Compare `trace` with the kept snapshot `kept` (its text, if any).
pub(crate) fn compare(trace: &Value, kept: Option<&str>) -> Compared {
    let Some(text) = kept else {
        return Compared::Missing;
    };
    let stored: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Compared::Differs(vec![Failure::plain(
                "/snapshot",
                Value::Null,
                format!("the snapshot is not JSON ({e}): run with --update to write it again"),
            )]);
        }
    };
    let diffs = changes(&stored, trace);
    if diffs.is_empty() {
        return Compared::Same;
    }
    Compared::Differs(
        diffs
            .into_iter()
            .map(|c| Failure {
                message: format!(
                    "differs from the snapshot: {} → {}",
                    short(&c.a),
                    short(&c.b)
                ),
                pointer: format!("/snapshot{}", c.pointer),
                expected: c.a,
                actual: c.b,
            })
            .collect(),
    )
}

fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 50 {
        let cut: String = text.chars().take(49).collect();
        format!("{cut}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_files_are_named_by_file_and_case() {
        assert_eq!(
            path_of(
                Path::new("tests/reorder_supply.test.json"),
                "Orders stock, below 50!"
            ),
            Path::new("tests/__snapshots__/reorder_supply.orders_stock_below_50.json")
        );
    }

    #[test]
    fn a_changed_trace_names_where() {
        let kept = text_of(&json!({"runs": [{"output": {"qty": 100}}]}));
        assert_eq!(
            compare(&json!({"runs": [{"output": {"qty": 100}}]}), Some(&kept)),
            Compared::Same
        );
        let Compared::Differs(f) =
            compare(&json!({"runs": [{"output": {"qty": 110}}]}), Some(&kept))
        else {
            panic!("differs");
        };
        assert_eq!(f[0].pointer, "/snapshot/runs/0/output/qty");
        assert_eq!(f[0].message, "differs from the snapshot: 100 → 110");
        assert_eq!(compare(&json!({}), None), Compared::Missing);
    }
}
