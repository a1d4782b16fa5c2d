//! Comparing what runs did: two JSON documents compared field by field (each difference at
//! its JSON pointer), and two runs aligned step by step (`flowdeck diff-runs`).

use crate::model::{RunRecord, RunStatus, StepRecord};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// One difference: where (a JSON pointer), and what each side has there (`null` where a
/// side has nothing).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// JSON pointer (RFC 6901) of the value that differs.
    pub pointer: String,
    /// The first side's value.
    pub a: Value,
    /// The second side's value.
    pub b: Value,
}

/// Every place where `a` and `b` differ, below `at`: objects by key (a key on one side only
/// is a difference), arrays by index, anything else by value.
pub(crate) fn changes(a: &Value, b: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    walk(a, b, &mut String::new(), &mut out);
    out
}

fn walk(a: &Value, b: &Value, at: &mut String, out: &mut Vec<Change>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().collect();
            keys.extend(y.keys().filter(|k| !x.contains_key(*k)));
            for k in keys {
                let len = at.len();
                at.push('/');
                at.push_str(&k.replace('~', "~0").replace('/', "~1"));
                walk(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    at,
                    out,
                );
                at.truncate(len);
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                let len = at.len();
                at.push('/');
                at.push_str(&i.to_string());
                walk(
                    x.get(i).unwrap_or(&Value::Null),
                    y.get(i).unwrap_or(&Value::Null),
                    at,
                    out,
                );
                at.truncate(len);
            }
        }
        _ if a == b => {}
        _ => out.push(Change {
            pointer: if at.is_empty() {
                String::new()
            } else {
                at.clone()
            },
            a: a.clone(),
            b: b.clone(),
        }),
    }
}

/// How one step compares across two runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepDiff {
    /// Step id.
    pub step: String,
    /// Its JSON pointer in the definition.
    pub path: String,
    /// Item indexes of the enclosing loops.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub iteration: Vec<usize>,
    /// `"a"` or `"b"` when the step ran in one run only (a different branch), else `null`.
    pub only_in: Option<&'static str>,
    /// The step ran in one run only because the other began after it (a rerun from a later
    /// step): not a difference in what they did.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub before_start: bool,
    /// Where its status, input, output or error differ.
    pub changes: Vec<Change>,
}

/// Two runs compared (`flowdeck diff-runs A B`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDiff {
    /// The first run.
    pub a: i64,
    /// The second run.
    pub b: i64,
    /// Their statuses.
    pub status: [RunStatus; 2],
    /// Where their params differ.
    pub params: Vec<Change>,
    /// Where their outputs (or errors) differ.
    pub output: Vec<Change>,
    /// Every step that ran in either, in order, with what differs.
    pub steps: Vec<StepDiff>,
}

impl RunDiff {
    /// Whether the two runs did the same.
    pub fn is_same(&self) -> bool {
        self.status[0] == self.status[1]
            && self.params.is_empty()
            && self.output.is_empty()
            && self
                .steps
                .iter()
                .all(|s| (s.only_in.is_none() || s.before_start) && s.changes.is_empty())
    }
}

/// Where a record sits: its step's path and loop indexes.
type Place = (String, Vec<usize>);

/// A run's step records by place, the last attempt of each, in the order the places came.
fn by_place(steps: &[StepRecord]) -> Vec<(Place, &StepRecord)> {
    let mut out: Vec<(Place, &StepRecord)> = Vec::new();
    for s in steps.iter().filter(|s| s.action != "override") {
        let place = (s.path.clone(), s.iteration.clone());
        match out.iter_mut().find(|(p, _)| *p == place) {
            Some(slot) => slot.1 = s,
            None => out.push((place, s)),
        }
    }
    out
}

/// What a record did, as compared.
fn did(s: &StepRecord) -> Value {
    json!({ "status": s.status, "input": s.input, "output": s.output, "error": s.error })
}

/// What a run ended with, as compared: its output, or its error.
fn ended(r: &RunRecord) -> Value {
    match (&r.output, &r.error) {
        (_, Some(error)) => json!({ "error": error }),
        (Some(output), None) => output.clone(),
        (None, None) => Value::Null,
    }
}

/// The places `run` recorded before the other run began, when the other is a rerun from a
/// step (`other.from_step`): those before `run`'s last record of that step.
fn before_start_of(run: &RunRecord, other: &RunRecord) -> Vec<Place> {
    let (Some(from), Some(steps)) = (other.from_step.as_deref(), run.steps.as_deref()) else {
        return Vec::new();
    };
    let Some(at) = steps.iter().rposition(|s| s.step == from) else {
        return Vec::new();
    };
    steps[..at]
        .iter()
        .map(|s| (s.path.clone(), s.iteration.clone()))
        .collect()
}

/// Compare two runs step by step: steps aligned by path and loop indexes (the last attempt
/// of each), so that a step that ran in one run only shows a different branch; a step the
/// other run never came to because it was a rerun from a later step is marked `before_start`.
pub(crate) fn diff_runs(a: &RunRecord, b: &RunRecord) -> RunDiff {
    let (sa, sb) = (
        by_place(a.steps.as_deref().unwrap_or_default()),
        by_place(b.steps.as_deref().unwrap_or_default()),
    );
    let (early_a, early_b) = (before_start_of(a, b), before_start_of(b, a));
    let mut steps = Vec::new();
    for ((path, iteration), ra) in &sa {
        let rb = sb
            .iter()
            .find(|(p, _)| p.0 == *path && p.1 == *iteration)
            .map(|(_, r)| *r);
        steps.push(StepDiff {
            step: ra.step.clone(),
            path: path.clone(),
            iteration: iteration.clone(),
            only_in: rb.is_none().then_some("a"),
            before_start: rb.is_none() && early_a.contains(&(path.clone(), iteration.clone())),
            changes: rb.map_or_else(Vec::new, |rb| changes(&did(ra), &did(rb))),
        });
    }
    for ((path, iteration), rb) in &sb {
        if !sa.iter().any(|(p, _)| p.0 == *path && p.1 == *iteration) {
            steps.push(StepDiff {
                step: rb.step.clone(),
                path: path.clone(),
                iteration: iteration.clone(),
                only_in: Some("b"),
                before_start: early_b.contains(&(path.clone(), iteration.clone())),
                changes: Vec::new(),
            });
        }
    }
    RunDiff {
        a: a.id,
        b: b.id,
        status: [a.status, b.status],
        params: changes(&a.params, &b.params),
        output: changes(&ended(a), &ended(b)),
        steps,
    }
}

/// A JSON object from pairs, for the documents compared.
pub(crate) fn object(pairs: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<Map<String, Value>>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_are_found_at_their_pointers() {
        let a = json!({"x": 1, "y": {"z": [1, 2], "a/b": "p"}, "gone": true});
        let b = json!({"x": 1, "y": {"z": [1, 3, 4], "a/b": "q"}, "new": null, "more": 2});
        let found: Vec<(String, Value, Value)> = changes(&a, &b)
            .into_iter()
            .map(|c| (c.pointer, c.a, c.b))
            .collect();
        assert_eq!(
            found,
            vec![
                ("/y/z/1".into(), json!(2), json!(3)),
                ("/y/z/2".into(), Value::Null, json!(4)),
                ("/y/a~1b".into(), json!("p"), json!("q")),
                ("/gone".into(), json!(true), Value::Null),
                ("/more".into(), Value::Null, json!(2)),
            ]
        );
        assert!(changes(&a, &a).is_empty());
        assert_eq!(changes(&json!(1), &json!("1"))[0].pointer, "");
    }
}
