//! What changed between two versions of a definition, step by step (shown before a deploy).

use crate::model::step::walk_steps;
use crate::model::{Definition, Step};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// One difference.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub(crate) enum Change {
    /// A definition-level field changed (`on`, `retry`, …).
    Field {
        /// Field name.
        name: String,
        /// Before (`null`: absent).
        old: Value,
        /// After (`null`: absent).
        new: Value,
    },
    /// A step is new.
    Added {
        /// Step id.
        id: String,
        /// Its action.
        action: String,
        /// The JSON pointer of what changed.
        path: String,
    },
    /// A step is gone.
    Removed {
        /// Step id.
        id: String,
        /// Its action.
        action: String,
        /// Where it was.
        path: String,
    },
    /// A step's fields changed.
    Changed {
        /// Step id.
        id: String,
        /// Its action (the new one).
        action: String,
        /// The fields that differ.
        fields: Vec<String>,
    },
    /// A step moved, unchanged.
    Moved {
        /// Step id.
        id: String,
        /// Where it was.
        from: String,
        /// Where it is.
        to: String,
    },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Field { name, old, new } => write!(f, "~ {name}: {old} → {new}"),
            Change::Added { id, action, path } => write!(f, "+ step {id} ({action}) at {path}"),
            Change::Removed { id, action, path } => write!(f, "- step {id} ({action}) from {path}"),
            Change::Changed { id, action, fields } => {
                write!(f, "~ step {id} ({action}): {}", fields.join(", "))
            }
            Change::Moved { id, from, to } => write!(f, "↕ step {id}: {from} → {to}"),
        }
    }
}

/// A step's own fields (children left out: they are steps of their own).
fn own_fields(step: &Step) -> Map<String, Value> {
    let mut map = match step.to_json() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    for (name, _) in step.action.children() {
        map.remove(name);
    }
    map
}

/// Each step's path and own fields, by id.
type StepsById = BTreeMap<String, (String, Map<String, Value>)>;

fn steps_by_id(def: &Definition) -> StepsById {
    let mut out = BTreeMap::new();
    walk_steps(def.steps(), "/steps", &mut |s, path| {
        out.insert(s.id.clone(), (path.to_string(), own_fields(s)));
    });
    out
}

fn head(def: &Definition) -> Map<String, Value> {
    match def.canonical_json() {
        Value::Object(mut m) => {
            m.remove("steps");
            m
        }
        _ => Map::new(),
    }
}

/// The before and after values of the given fields of step `id`.
pub(crate) fn field_values(
    old: &Definition,
    new: &Definition,
    id: &str,
    fields: &[String],
) -> Vec<(String, Value, Value)> {
    let (a, b) = (steps_by_id(old), steps_by_id(new));
    let (Some((_, a)), Some((_, b))) = (a.get(id), b.get(id)) else {
        return Vec::new();
    };
    fields
        .iter()
        .map(|f| {
            (
                f.clone(),
                a.get(f).cloned().unwrap_or(Value::Null),
                b.get(f).cloned().unwrap_or(Value::Null),
            )
        })
        .collect()
}

/// The changes from `old` to `new` as lines to read: each change, and under a changed step
/// (indented by four spaces) each field with its value before and after, shortened to
/// `width` characters a side.
pub(crate) fn describe(old: Option<&Definition>, new: &Definition, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    for change in diff(old, new) {
        out.push(change.to_string());
        if let (Change::Changed { id, fields, .. }, Some(old)) = (&change, old) {
            for (field, before, after) in field_values(old, new, id, fields) {
                out.push(format!(
                    "    {field}: {} → {}",
                    crate::text::short(&before, width),
                    crate::text::short(&after, width)
                ));
            }
        }
    }
    out
}

/// The id of the step whose branch holds a step (empty at the top) and the branch.
type Parent = (String, String);

/// Where a step sits.
fn parent_of(path: &str, ids_at: &BTreeMap<&str, &str>) -> Parent {
    let list = path.rsplit_once('/').map_or("", |(l, _)| l);
    match list.rsplit_once('/') {
        Some((parent, branch)) if !parent.is_empty() => (
            ids_at.get(parent).copied().unwrap_or(parent).to_string(),
            branch.to_string(),
        ),
        _ => (String::new(), list.to_string()),
    }
}

/// Each step's parent and its index in that list, keyed by id.
fn placements(steps: &StepsById) -> BTreeMap<&str, (Parent, usize)> {
    let ids_at: BTreeMap<&str, &str> = steps
        .iter()
        .map(|(id, (path, _))| (path.as_str(), id.as_str()))
        .collect();
    steps
        .iter()
        .map(|(id, (path, _))| {
            let index = path
                .rsplit_once('/')
                .and_then(|(_, i)| i.parse().ok())
                .unwrap_or(0);
            (id.as_str(), (parent_of(path, &ids_at), index))
        })
        .collect()
}

/// The steps that really moved: to another parent, or out of order among the siblings
/// that both versions share. A step merely shifted by an insertion above it has not moved.
fn moved_steps<'a>(before: &'a StepsById, after: &StepsById) -> Vec<&'a str> {
    let (old, new) = (placements(before), placements(after));
    let mut moved = Vec::new();
    // siblings kept under the same parent, in old order and in new order
    let mut groups: BTreeMap<&Parent, Vec<(&str, usize, usize)>> = BTreeMap::new();
    for (id, (old_parent, old_index)) in &old {
        let Some((new_parent, new_index)) = new.get(id) else {
            continue;
        };
        if old_parent == new_parent {
            groups
                .entry(old_parent)
                .or_default()
                .push((id, *old_index, *new_index));
        } else {
            moved.push(*id);
        }
    }
    for siblings in groups.values_mut() {
        siblings.sort_by_key(|s| s.1);
        let order: Vec<usize> = siblings.iter().map(|s| s.2).collect();
        let keep = longest_increasing(&order);
        moved.extend(
            siblings
                .iter()
                .enumerate()
                .filter(|(i, _)| !keep.contains(i))
                .map(|(_, s)| s.0),
        );
    }
    moved
}

/// Positions of one longest strictly increasing subsequence of `xs` (the siblings that stayed).
fn longest_increasing(xs: &[usize]) -> Vec<usize> {
    let n = xs.len();
    let (mut len, mut prev) = (vec![1usize; n], vec![usize::MAX; n]);
    for i in 0..n {
        for j in 0..i {
            if xs[j] < xs[i] && len[j] + 1 > len[i] {
                len[i] = len[j] + 1;
                prev[i] = j;
            }
        }
    }
    let mut at = (0..n).max_by_key(|&i| (len[i], std::cmp::Reverse(i)));
    let mut out = Vec::new();
    while let Some(i) = at {
        out.push(i);
        at = (prev[i] != usize::MAX).then_some(prev[i]);
    }
    out
}

/// The changes from `old` (`None`: nothing deployed yet) to `new`.
pub(crate) fn diff(old: Option<&Definition>, new: &Definition) -> Vec<Change> {
    let Some(old) = old else {
        let mut out = Vec::new();
        walk_steps(new.steps(), "/steps", &mut |s, path| {
            out.push(Change::Added {
                id: s.id.clone(),
                action: s.action.name().to_string(),
                path: path.to_string(),
            });
        });
        return out;
    };
    let mut out = Vec::new();
    let (old_head, new_head) = (head(old), head(new));
    let mut names: Vec<&String> = old_head.keys().chain(new_head.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        let (a, b) = (old_head.get(name), new_head.get(name));
        if a != b {
            out.push(Change::Field {
                name: name.clone(),
                old: a.cloned().unwrap_or(Value::Null),
                new: b.cloned().unwrap_or(Value::Null),
            });
        }
    }
    let (before, after) = (steps_by_id(old), steps_by_id(new));
    let moved = moved_steps(&before, &after);
    for (id, (path, fields)) in &before {
        if !after.contains_key(id) {
            out.push(Change::Removed {
                id: id.clone(),
                action: fields
                    .get("action")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                path: path.clone(),
            });
        }
    }
    for (id, (path, fields)) in &after {
        let action = fields
            .get("action")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        match before.get(id) {
            None => out.push(Change::Added {
                id: id.clone(),
                action,
                path: path.clone(),
            }),
            Some((old_path, old_fields)) => {
                let mut keys: Vec<&String> = old_fields.keys().chain(fields.keys()).collect();
                keys.sort();
                keys.dedup();
                let changed: Vec<String> = keys
                    .into_iter()
                    .filter(|k| old_fields.get(*k) != fields.get(*k))
                    .cloned()
                    .collect();
                if !changed.is_empty() {
                    out.push(Change::Changed {
                        id: id.clone(),
                        action,
                        fields: changed,
                    });
                } else if moved.contains(&id.as_str()) {
                    out.push(Change::Moved {
                        id: id.clone(),
                        from: old_path.clone(),
                        to: path.clone(),
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DefinitionKind, parse_definition};
    use std::path::Path;

    fn wf(text: &str) -> Definition {
        parse_definition(text, Path::new("w.json"), Some(DefinitionKind::Workflow))
            .definition
            .unwrap()
    }

    #[test]
    fn finds_added_removed_changed_and_moved_steps() {
        let old = wf(r#"{"name": "w", "on": "e", "steps": [
            {"id": "a", "action": "log", "message": "x"},
            {"id": "b", "action": "set", "var": "v", "value": 1},
            {"id": "c", "action": "if", "cond": true, "then": [{"id": "d", "action": "log", "message": "y"}]}]}"#);
        let new = wf(r#"{"name": "w", "on": "f", "steps": [
            {"id": "c", "action": "if", "cond": true, "then": [{"id": "d", "action": "log", "message": "y"}]},
            {"id": "b", "action": "set", "var": "v", "value": 2},
            {"id": "e", "action": "log", "message": "new"}]}"#);
        let text: Vec<String> = diff(Some(&old), &new)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            text,
            vec![
                "~ on: \"e\" → \"f\"",
                "- step a (log) from /steps/0",
                "~ step b (set): value",
                "↕ step c: /steps/2 → /steps/0",
                "+ step e (log) at /steps/2",
            ]
        );
        assert!(diff(Some(&new), &new).is_empty());
        assert_eq!(diff(None, &new).len(), 4);
    }

    #[test]
    fn an_insertion_above_a_step_does_not_move_it() {
        let old = wf(r#"{"name": "w", "on": "e", "steps": [
            {"id": "a", "action": "log", "message": "x"},
            {"id": "b", "action": "log", "message": "y"},
            {"id": "c", "action": "log", "message": "z"}]}"#);
        let new = wf(r#"{"name": "w", "on": "e", "steps": [
            {"id": "n", "action": "log", "message": "new"},
            {"id": "c", "action": "log", "message": "z"},
            {"id": "a", "action": "log", "message": "x"},
            {"id": "b", "action": "log", "message": "y"}]}"#);
        let text: Vec<String> = diff(Some(&old), &new)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            text,
            vec![
                "↕ step c: /steps/2 → /steps/1",
                "+ step n (log) at /steps/0"
            ]
        );
    }
}
