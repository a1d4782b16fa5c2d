//! What a test file can only be checked against with the project at hand: does the workflow,
//! event or endpoint exist, are the steps its mocks and expectations name there (and can a
//! mocked one be mocked), are the workflows under `expect.runs` real, do its `$jq`
//! predicates compile. Faults name the file, line, case and field, with a suggestion.

use super::catalog::Catalog;
use super::matcher;
use crate::model::diagnostic::suggest;
use crate::model::source_map;
use crate::model::test_parse::is_jq;
use crate::model::test_suite::{Mocks, SuiteTarget, TestSuite};
use crate::model::{DefinitionKind, Diagnostic};
use serde_json::Value;
use std::path::Path;

/// Actions whose effect a step mock may replace.
const MOCKABLE: [&str; 4] = ["db.query", "db.exec", "http", "emit"];

/// Faults of `suite` (read from `file`, whose text is `text`) against `catalog`.
pub(crate) fn check_suite(
    suite: &TestSuite,
    file: &Path,
    text: &str,
    catalog: &Catalog,
) -> Vec<Diagnostic> {
    let mut cx = CheckCx {
        file,
        text,
        out: Vec::new(),
    };
    let steps = cx.target(suite, catalog);
    if let Some(steps) = &steps {
        cx.mocks(&suite.mocks, steps, None, "mocks");
    }
    for (i, case) in suite.cases.iter().enumerate() {
        let field = format!("cases[{i}]");
        if let Some(steps) = &steps {
            cx.mocks(
                &case.mocks,
                steps,
                Some(&case.name),
                &format!("{field}.mocks"),
            );
            if let Some(by_id) = case.expect.get("steps").and_then(Value::as_object) {
                for id in by_id.keys() {
                    if !steps.iter().any(|(s, _)| s == id) {
                        cx.unknown_step(
                            id,
                            steps,
                            Some(&case.name),
                            &format!("{field}.expect.steps.{id}"),
                        );
                    }
                }
            }
        }
        if let Some(runs) = case.expect.get("runs").and_then(Value::as_object) {
            for name in runs.keys() {
                if !catalog.keys(DefinitionKind::Workflow).any(|w| w == name) {
                    let hint = suggest(name, catalog.keys(DefinitionKind::Workflow))
                        .map(|s| format!("did you mean `{s}`?"));
                    cx.fault(
                        Some(&case.name),
                        &format!("{field}.expect.runs.{name}"),
                        name,
                        format!("no workflow {name:?} in the project"),
                        hint,
                    );
                }
            }
        }
        let mut jq = Vec::new();
        predicates(
            &Value::Object(case.expect.clone()),
            &format!("{field}.expect"),
            &mut jq,
        );
        for (at, code) in jq {
            if let Err(e) = matcher::compiles(&code) {
                cx.fault(
                    Some(&case.name),
                    &at,
                    "$jq",
                    format!("$jq {code:?} does not compile: {e}"),
                    None,
                );
            }
        }
    }
    cx.out
}

struct CheckCx<'a> {
    file: &'a Path,
    text: &'a str,
    out: Vec<Diagnostic>,
}

impl CheckCx<'_> {
    fn fault(
        &mut self,
        case: Option<&str>,
        field: &str,
        key: &str,
        message: String,
        hint: Option<String>,
    ) {
        let from = case
            .and_then(|c| source_map::find_key_value(self.text, "name", c))
            .unwrap_or(0);
        let at = source_map::find_key_from(self.text, key, from);
        let mut d = Diagnostic::new(self.file, message).at_opt(at).field(field);
        if let Some(c) = case {
            d = d.case(c);
        }
        d.hint = hint;
        self.out.push(d);
    }

    /// The target's steps (every listener's, for an event), or `None` when it is not there.
    fn target(
        &mut self,
        suite: &TestSuite,
        catalog: &Catalog,
    ) -> Option<Vec<(String, &'static str)>> {
        match &suite.target {
            SuiteTarget::Workflow(name) => match catalog.entries.get(name) {
                Some(e) if e.kind == DefinitionKind::Workflow => Some(e.steps.clone()),
                _ => {
                    let hint = suggest(name, catalog.keys(DefinitionKind::Workflow))
                        .map(|s| format!("did you mean `{s}`?"));
                    self.fault(
                        None,
                        "workflow",
                        "workflow",
                        format!("no workflow {name:?} in the project"),
                        hint,
                    );
                    None
                }
            },
            SuiteTarget::Event(name) => {
                let steps: Vec<_> = catalog
                    .listeners(name)
                    .flat_map(|e| e.steps.clone())
                    .collect();
                if catalog.listeners(name).next().is_none() {
                    let hint =
                        suggest(name, catalog.events()).map(|s| format!("did you mean `{s}`?"));
                    self.fault(
                        None,
                        "event",
                        "event",
                        format!("no workflow listens to {name:?}"),
                        hint,
                    );
                    return None;
                }
                Some(steps)
            }
            SuiteTarget::Endpoint { method, path } => {
                let key = crate::model::endpoint_key(method, path);
                match catalog.entries.get(&key) {
                    Some(e) => Some(e.steps.clone()),
                    None => {
                        let hint = suggest(&key, catalog.keys(DefinitionKind::Endpoint))
                            .map(|s| format!("did you mean `{s}`?"));
                        self.fault(
                            None,
                            "endpoint",
                            "endpoint",
                            format!("no endpoint {key:?} in the project"),
                            hint,
                        );
                        None
                    }
                }
            }
        }
    }

    fn unknown_step(
        &mut self,
        id: &str,
        steps: &[(String, &'static str)],
        case: Option<&str>,
        field: &str,
    ) {
        let hint = suggest(id, steps.iter().map(|(s, _)| s.as_str()))
            .map(|s| format!("did you mean `{s}`?"));
        self.fault(
            case,
            field,
            id,
            format!("no step {id:?} in what this file tests"),
            hint,
        );
    }

    fn mocks(
        &mut self,
        mocks: &Mocks,
        steps: &[(String, &'static str)],
        case: Option<&str>,
        field: &str,
    ) {
        for id in mocks.steps.keys() {
            let at = format!("{field}.steps.{id}");
            match steps.iter().find(|(s, _)| s == id) {
                None => self.unknown_step(id, steps, case, &at),
                Some((_, action)) if !MOCKABLE.contains(action) => {
                    self.fault(
                        case,
                        &at,
                        id,
                        format!("step {id:?} is a `{action}`: only steps with side effects can be mocked ({})", MOCKABLE.join(", ")),
                        Some("give the params or data that lead where you want instead".into()),
                    );
                }
                Some(_) => {}
            }
        }
    }
}

/// Every `$jq` predicate in `v`, with its field.
fn predicates(v: &Value, field: &str, out: &mut Vec<(String, String)>) {
    if is_jq(v) {
        out.push((
            field.to_string(),
            v["$jq"].as_str().unwrap_or_default().to_string(),
        ));
        return;
    }
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                predicates(v, &format!("{field}.{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                predicates(v, &format!("{field}[{i}]"), out);
            }
        }
        _ => {}
    }
}
