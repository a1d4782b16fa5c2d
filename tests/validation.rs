//! Validation of definition files: each fault names file, step, field (line/column for JSON); bad files never block good ones.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Sandbox, text};
use flowdeck::engine::import::{ImportReport, import_project};
use flowdeck::model::{DefinitionKind, Diagnostic, project};
use flowdeck::store::Store;
use serde_json::Value;
use std::path::Path;

/// Where a workflow file goes in a project.
const WF: &str = "workflows/w.json";
/// Where an endpoint file goes in a project.
const EP: &str = "endpoints/e.json";

/// A workflow file named `w` listening to `thing_happened`, one step per line:
/// step `i` is on line `step_line(i)`.
fn workflow(steps: &[&str]) -> String {
    format!(
        "{{\n  \"name\": \"w\",\n  \"on\": \"thing_happened\",\n  \"steps\": [\n    {}\n  ]\n}}\n",
        steps.join(",\n    ")
    )
}

/// An endpoint file `POST /things`, one step per line (same lines as [`workflow`]).
fn endpoint(steps: &[&str]) -> String {
    format!(
        "{{\n  \"method\": \"POST\",\n  \"path\": \"/things\",\n  \"steps\": [\n    {}\n  ]\n}}\n",
        steps.join(",\n    ")
    )
}

/// The line of step `i` in a file made by [`workflow`] or [`endpoint`].
fn step_line(i: usize) -> usize {
    5 + i
}

/// A project `p` in a fresh sandbox holding `files`, imported into the sandbox's store.
fn import_files(files: &[(&str, &str)]) -> (Sandbox, Store, ImportReport) {
    let sandbox = Sandbox::new();
    let root = sandbox.project("p", None, files);
    let loaded = project::load(&root).expect("load project");
    let mut store = Store::open(&sandbox.db()).expect("open store");
    let report = import_project(&mut store, &loaded).expect("import");
    (sandbox, store, report)
}

/// Names of the definitions in the store.
fn stored_names(store: &Store) -> Vec<String> {
    let mut names: Vec<String> = store
        .list_definitions()
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    names.sort();
    names
}

/// Import one file as a project and return its faults; checks that the file was refused
/// (nothing stored) and that every fault names it.
fn faults(rel: &str, text: &str) -> Vec<Diagnostic> {
    let (_sandbox, store, report) = import_files(&[(rel, text)]);
    assert!(
        !report.diagnostics.is_empty(),
        "expected faults for {rel}, got none; file:\n{text}"
    );
    for d in &report.diagnostics {
        // faults name the file as the user can open it: the project folder joined with it
        assert!(d.file.ends_with(rel), "fault names the wrong file: {d}");
        assert!(
            d.to_string().starts_with(&d.file.display().to_string()) && d.to_string().contains(rel),
            "display lacks the file: {d}"
        );
    }
    assert!(
        report.created.is_empty() && stored_names(&store).is_empty(),
        "a file with faults was imported: {:?}",
        report.created
    );
    report.diagnostics
}

/// Import one file that should have exactly one fault, and return it.
fn the_fault(rel: &str, text: &str) -> Diagnostic {
    let mut all = faults(rel, text);
    assert_eq!(all.len(), 1, "expected one fault, got {all:#?}");
    all.remove(0)
}

/// Import one file that should have no fault, and check that it was stored.
fn accepted(rel: &str, text: &str) {
    let (_sandbox, store, report) = import_files(&[(rel, text)]);
    assert!(
        report.is_clean(),
        "expected no faults, got {:#?}\nfile:\n{text}",
        report.diagnostics
    );
    assert_eq!(stored_names(&store).len(), 1, "the file was not stored");
}

/// The useful parts a fault must carry.
#[derive(Default)]
struct Want<'a> {
    /// The step id named (`None`: the fault must name no step).
    step: Option<&'a str>,
    /// The field named, exactly (`None`: not checked).
    field: Option<&'a str>,
    /// Words the message must contain.
    says: &'a [&'a str],
    /// Words the hint must contain (a hint must be there when this is not empty).
    hint: &'a [&'a str],
}

/// Check a fault for the useful parts, and that its display (what the CLI prints) names the
/// step and the field too.
fn check(d: &Diagnostic, want: &Want<'_>) {
    assert_eq!(d.step.as_deref(), want.step, "wrong step in {d:#?}");
    if let Some(field) = want.field {
        assert_eq!(d.field.as_deref(), Some(field), "wrong field in {d:#?}");
    }
    for word in want.says {
        assert!(d.message.contains(word), "message lacks {word:?}: {d:#?}");
    }
    if !want.hint.is_empty() {
        let hint = d
            .hint
            .as_deref()
            .unwrap_or_else(|| panic!("no hint: {d:#?}"));
        for word in want.hint {
            assert!(hint.contains(word), "hint lacks {word:?}: {d:#?}");
        }
    }
    let shown = d.to_string();
    if let Some(step) = want.step {
        assert!(
            shown.contains(&format!("\"{step}\"")),
            "display lacks the step: {shown}"
        );
    }
    if let Some(field) = want.field {
        assert!(shown.contains(field), "display lacks the field: {shown}");
    }
}

// ---------------------------------------------------------------- JSON syntax

#[test]
fn json_syntax_error_gives_line_and_column() {
    // A missing comma after `"on"`: the parser stops at the `"` of `"steps"`, line 4 column 3.
    let text = "{\n  \"name\": \"w\",\n  \"on\": \"thing_happened\"\n  \"steps\": []\n}\n";
    let d = the_fault(WF, text);
    check(
        &d,
        &Want {
            says: &["JSON"],
            ..Want::default()
        },
    );
    assert_eq!((d.line, d.column), (Some(4), Some(3)), "{d}");
    assert!(d.to_string().contains("workflows/w.json:4:3:"), "{d}");
}

#[test]
fn json_syntax_error_inside_a_step_gives_its_line_and_column() {
    // An unquoted value on the second step's line: the parser stops at `oops`.
    let text = workflow(&[
        r#"{"id": "a", "action": "log", "message": "fine"}"#,
        r#"{"id": "b", "action": "log", "message": oops}"#,
    ]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            says: &["JSON"],
            ..Want::default()
        },
    );
    let column = text
        .lines()
        .nth(step_line(1) - 1)
        .unwrap()
        .find("oops")
        .unwrap()
        + 1;
    assert_eq!(
        (d.line, d.column),
        (Some(step_line(1)), Some(column)),
        "{d}"
    );
}

#[test]
fn json_syntax_error_at_end_of_file_has_a_one_based_column() {
    // Truncated after a newline: the end of the file is line 3, column 1.
    let d = the_fault(WF, "{\n  \"name\": \"w\",\n");
    assert_eq!((d.line, d.column), (Some(3), Some(1)), "{d}");
    // An empty file: line 1, column 1.
    let d = the_fault(WF, "");
    assert_eq!((d.line, d.column), (Some(1), Some(1)), "{d}");
}

#[test]
fn json_syntax_error_column_counts_characters() {
    // The missing comma is before `"steps"`, the 37th character (but the 40th byte).
    let text = r#"{"description": "café ☕", "on": "x" "steps": []}"#;
    let d = the_fault(WF, text);
    assert_eq!((d.line, d.column), (Some(1), Some(37)), "{d}");
}

#[test]
fn definition_that_is_not_an_object_is_refused() {
    let d = the_fault(WF, "[1, 2]");
    check(
        &d,
        &Want {
            says: &["object"],
            ..Want::default()
        },
    );
}

// ---------------------------------------------------------------- unknown names

#[test]
fn unknown_top_level_field_is_named_and_on_suggested() {
    let text = r#"{"name": "w", "onn": "thing_happened", "steps": []}"#;
    let d = the_fault(WF, text);
    check(
        &d,
        &Want {
            step: None,
            field: Some("onn"),
            says: &["onn"],
            hint: &["`on`"],
        },
    );
    assert_eq!(
        (d.line, d.column),
        (Some(1), Some(15)),
        "points at the key: {d}"
    );
}

#[test]
fn unknown_endpoint_field_is_named() {
    let text = r#"{"method": "GET", "path": "/a", "on": "x", "steps": []}"#;
    let d = the_fault(EP, text);
    check(
        &d,
        &Want {
            field: Some("on"),
            says: &["on"],
            ..Want::default()
        },
    );
}

#[test]
fn unknown_step_field_names_step_and_field_and_suggests_sql() {
    let text = workflow(&[
        r#"{"id": "hello", "action": "log", "message": "hi"}"#,
        r#"{"id": "load", "action": "db.query", "sqll": "SELECT 1", "as": "rows"}"#,
    ]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("load"),
            field: Some("sqll"),
            says: &["sqll"],
            hint: &["`sql`"],
        },
    );
    assert_eq!(d.line, Some(step_line(1)), "points at the step: {d}");
}

#[test]
fn unknown_step_field_nested_in_an_if_names_the_nested_step() {
    let text = workflow(&[
        r#"{"id": "check", "action": "if", "cond": true, "then": [{"id": "say", "action": "log", "mesage": "x"}]}"#,
    ]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("say"),
            field: Some("mesage"),
            says: &["mesage"],
            hint: &["`message`"],
        },
    );
}

#[test]
fn unknown_action_names_the_step_and_suggests_db_query() {
    let text = workflow(&[r#"{"id": "load", "action": "db.qeury", "sql": "SELECT 1"}"#]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("load"),
            field: Some("action"),
            says: &["db.qeury"],
            hint: &["`db.query`"],
        },
    );
    assert_eq!(d.line, Some(step_line(0)), "{d}");
}

#[test]
fn unknown_action_far_from_any_lists_the_actions() {
    let text = workflow(&[r#"{"id": "x", "action": "teleport"}"#]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("x"),
            field: Some("action"),
            says: &["teleport"],
            hint: &["db.query", "emit", "return"],
        },
    );
}

// ---------------------------------------------------------------- step ids

#[test]
fn duplicate_step_id_is_named() {
    let text = workflow(&[
        r#"{"id": "load", "action": "log", "message": "a"}"#,
        r#"{"id": "again", "action": "log", "message": "b"}"#,
        r#"{"id": "load", "action": "log", "message": "c"}"#,
    ]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("load"),
            says: &["duplicate"],
            ..Want::default()
        },
    );
    assert_eq!(d.line, Some(step_line(2)), "points at the second use: {d}");
}

#[test]
fn duplicate_step_id_nested_in_then_is_named() {
    let text = workflow(&[
        r#"{"id": "tell", "action": "log", "message": "a"}"#,
        r#"{"id": "low", "action": "if", "cond": true, "then": [{"id": "tell", "action": "log", "message": "b"}]}"#,
    ]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("tell"),
            says: &["duplicate"],
            ..Want::default()
        },
    );
    assert_eq!(d.line, Some(step_line(1)), "points at the nested use: {d}");
}

#[test]
fn third_use_of_a_step_id_is_reported_on_its_own_line() {
    let text = workflow(&[
        r#"{"id": "a", "action": "log", "message": "1"}"#,
        r#"{"id": "a", "action": "log", "message": "2"}"#,
        r#"{"id": "a", "action": "log", "message": "3"}"#,
    ]);
    let all = faults(WF, &text);
    assert_eq!(all.len(), 2, "{all:#?}");
    let lines: Vec<_> = all.iter().map(|d| d.line).collect();
    assert_eq!(lines, [Some(step_line(1)), Some(step_line(2))], "{all:#?}");
}

#[test]
fn fault_in_a_step_with_a_duplicated_id_points_at_that_step() {
    let text = workflow(&[
        r#"{"id": "a", "action": "log", "message": "1"}"#,
        r#"{"id": "a", "action": "log", "mesage": "2"}"#,
    ]);
    let all = faults(WF, &text);
    let typo = all
        .iter()
        .find(|d| d.field.as_deref() == Some("mesage"))
        .unwrap_or_else(|| panic!("no fault for `mesage`: {all:#?}"));
    assert_eq!(typo.line, Some(step_line(1)), "{typo}");
}

#[test]
fn invalid_step_id_is_named() {
    let text = workflow(&[r#"{"id": "load it", "action": "log", "message": "x"}"#]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("load it"),
            says: &["step id"],
            hint: &["letters"],
            ..Want::default()
        },
    );
}

// ---------------------------------------------------------------- missing fields

#[test]
fn workflow_without_on_is_refused() {
    let d = the_fault(WF, r#"{"name": "w", "steps": []}"#);
    check(
        &d,
        &Want {
            step: None,
            field: Some("on"),
            says: &["missing", "on"],
            ..Want::default()
        },
    );
}

#[test]
fn workflow_without_steps_is_refused() {
    let d = the_fault(WF, r#"{"name": "w", "on": "thing_happened"}"#);
    check(
        &d,
        &Want {
            step: None,
            field: Some("steps"),
            says: &["steps"],
            ..Want::default()
        },
    );
}

#[test]
fn step_without_id_is_refused_with_its_place() {
    let text = workflow(&[
        r#"{"id": "first", "action": "log", "message": "x"}"#,
        r#"{"action": "log", "message": "y"}"#,
    ]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: None,
            says: &["id"],
            ..Want::default()
        },
    );
    let field = d.field.as_deref().unwrap_or_default();
    assert!(field.contains("steps[1]"), "names the step's place: {d}");
}

#[test]
fn step_without_action_is_refused() {
    let text = workflow(&[r#"{"id": "say", "message": "x"}"#]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("say"),
            field: Some("action"),
            says: &["action"],
            hint: &["db.query"],
        },
    );
}

#[test]
fn db_query_without_sql_is_refused() {
    let text = workflow(&[r#"{"id": "load", "action": "db.query", "as": "rows"}"#]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("load"),
            field: Some("sql"),
            says: &["missing", "sql"],
            ..Want::default()
        },
    );
}

#[test]
fn if_without_then_is_refused() {
    let text = workflow(&[r#"{"id": "low", "action": "if", "cond": true}"#]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("low"),
            field: Some("then"),
            says: &["missing", "then"],
            ..Want::default()
        },
    );
}

#[test]
fn try_without_catch_is_refused() {
    let text = workflow(&[r#"{"id": "attempt", "action": "try", "steps": []}"#]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("attempt"),
            field: Some("catch"),
            says: &["catch"],
            ..Want::default()
        },
    );
}

// ---------------------------------------------------------------- wrong types

#[test]
fn wrong_type_of_set_var_is_named() {
    let text = workflow(&[r#"{"id": "keep", "action": "set", "var": 3, "value": 1}"#]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("keep"),
            field: Some("var"),
            says: &["string"],
            ..Want::default()
        },
    );
}

#[test]
fn wrong_type_of_workflow_active_is_named() {
    let text = r#"{"name": "w", "on": "x", "active": "yes", "steps": []}"#;
    let d = the_fault(WF, text);
    check(
        &d,
        &Want {
            step: None,
            field: Some("active"),
            says: &["bool"],
            ..Want::default()
        },
    );
}

#[test]
fn steps_that_are_not_an_array_are_refused() {
    let d = the_fault(WF, r#"{"name": "w", "on": "x", "steps": {"id": "a"}}"#);
    check(
        &d,
        &Want {
            field: Some("steps"),
            says: &["array"],
            ..Want::default()
        },
    );
}

#[test]
fn step_that_is_not_an_object_is_refused() {
    let text = workflow(&[
        r#"{"id": "a", "action": "log", "message": "x"}"#,
        r#""log""#,
    ]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            says: &["object"],
            ..Want::default()
        },
    );
    assert!(
        d.field.as_deref().unwrap_or_default().contains("steps[1]"),
        "{d}"
    );
}

#[test]
fn then_that_is_not_an_array_names_the_if_step() {
    let text = workflow(&[
        r#"{"id": "low", "action": "if", "cond": true, "then": {"id": "x", "action": "log", "message": "y"}}"#,
    ]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("low"),
            says: &["array"],
            ..Want::default()
        },
    );
    assert!(
        d.field.as_deref().unwrap_or_default().ends_with("then"),
        "{d}"
    );
    assert_eq!(d.line, Some(step_line(0)), "{d}");
}

#[test]
fn key_written_twice_in_a_step_is_a_fault() {
    let text = workflow(&[
        r#"{"id": "load", "action": "db.query", "sql": "SELECT 1", "sql": "SELECT 2"}"#,
    ]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("load"),
            field: Some("sql"),
            says: &["sql"],
            ..Want::default()
        },
    );
}

// ---------------------------------------------------------------- templates

#[test]
fn unclosed_template_names_step_and_field() {
    let text = workflow(&[r#"{"id": "say", "action": "log", "message": "stock {{ $param.sku"}"#]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("say"),
            field: Some("message"),
            says: &["{{"],
            hint: &["}}"],
        },
    );
    assert_eq!(d.line, Some(step_line(0)), "{d}");
}

#[test]
fn unclosed_template_deep_in_a_body_names_the_path() {
    let text = workflow(&[
        r#"{"id": "order", "action": "http", "method": "POST", "url": "http://x", "body": {"items": [{"sku": "{{ $param.sku"}]}}"#,
    ]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("order"),
            field: Some("body.items[0].sku"),
            says: &["{{"],
            ..Want::default()
        },
    );
}

#[test]
fn empty_template_is_refused() {
    let text = workflow(&[r#"{"id": "say", "action": "log", "message": "a {{ }} b"}"#]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("say"),
            field: Some("message"),
            says: &["empty"],
            ..Want::default()
        },
    );
}

#[test]
fn jq_syntax_error_names_step_field_and_expression() {
    let text = workflow(&[
        r#"{"id": "ok", "action": "log", "message": "{{ $param.sku }}"}"#,
        r#"{"id": "sum", "action": "set", "var": "total", "value": "{{ 1 + }}"}"#,
    ]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("sum"),
            field: Some("value"),
            says: &["1 +"],
            ..Want::default()
        },
    );
    assert_eq!(d.line, Some(step_line(1)), "{d}");
}

#[test]
fn jq_syntax_error_inside_emit_params_names_the_param() {
    let text = workflow(&[
        r#"{"id": "tell", "action": "emit", "event": "po_created", "params": {"sku": "{{ $param.sku | }}"}}"#,
    ]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("tell"),
            field: Some("params.sku"),
            says: &["$param.sku |"],
            ..Want::default()
        },
    );
}

#[test]
fn every_template_fault_of_a_file_is_reported() {
    let text = workflow(&[
        r#"{"id": "one", "action": "log", "message": "{{ 1 + }}"}"#,
        r#"{"id": "two", "action": "log", "message": "{{ $nope }}"}"#,
    ]);
    let all = faults(WF, &text);
    let steps: Vec<_> = all.iter().map(|d| d.step.as_deref()).collect();
    assert_eq!(steps, [Some("one"), Some("two")], "{all:#?}");
}

#[test]
fn unknown_function_in_a_template_is_refused() {
    let text = workflow(&[r#"{"id": "say", "action": "log", "message": "{{ frobnicate(1) }}"}"#]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("say"),
            field: Some("message"),
            says: &["frobnicate"],
            ..Want::default()
        },
    );
}

// ---------------------------------------------------------------- `$` variables

#[test]
fn unknown_variable_in_a_workflow_is_named() {
    let text = workflow(&[r#"{"id": "say", "action": "log", "message": "x = {{ $nope }}"}"#]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("say"),
            field: Some("message"),
            says: &["$nope", "$param"],
            ..Want::default()
        },
    );
}

#[test]
fn body_in_a_workflow_is_refused_and_param_offered() {
    for code in ["$body.sku", "$body.sku + 1"] {
        let message = format!("{{{{ {code} }}}}");
        let step = format!(r#"{{"id": "say", "action": "log", "message": "{message}"}}"#);
        let d = the_fault(WF, &workflow(&[&step]));
        check(
            &d,
            &Want {
                step: Some("say"),
                field: Some("message"),
                says: &["$body", "$param"],
                ..Want::default()
            },
        );
    }
}

#[test]
fn param_in_an_endpoint_is_refused_and_body_offered() {
    let text = endpoint(&[
        r#"{"id": "answer", "action": "return", "value": {"sku": "{{ $param.sku }}"}}"#,
    ]);
    let d = the_fault(EP, &text);
    check(
        &d,
        &Want {
            step: Some("answer"),
            field: Some("value.sku"),
            says: &["$param", "$body"],
            ..Want::default()
        },
    );
}

#[test]
fn unknown_variable_in_db_args_names_the_arg() {
    let text = workflow(&[
        r#"{"id": "load", "action": "db.query", "sql": "SELECT ?, ?", "args": [1, "{{ $sku }}"]}"#,
    ]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("load"),
            field: Some("args[1]"),
            says: &["$sku"],
            ..Want::default()
        },
    );
}

#[test]
fn error_outside_catch_is_refused() {
    // At the top level, and inside a `try`'s own steps (not its `catch`).
    for steps in [
        r#"{"id": "say", "action": "log", "message": "{{ $error.message }}"}"#,
        r#"{"id": "t", "action": "try", "steps": [{"id": "say", "action": "log", "message": "{{ $error.message }}"}], "catch": []}"#,
    ] {
        let d = the_fault(WF, &workflow(&[steps]));
        check(
            &d,
            &Want {
                step: Some("say"),
                field: Some("message"),
                says: &["$error"],
                ..Want::default()
            },
        );
    }
}

#[test]
fn error_outside_catch_says_where_it_is_available() {
    for code in ["$error.message", "$error.message + \\\"!\\\""] {
        let step = format!(r#"{{"id": "say", "action": "log", "message": "{{{{ {code} }}}}"}}"#);
        let d = the_fault(WF, &workflow(&[&step]));
        let all = format!("{} {}", d.message, d.hint.as_deref().unwrap_or_default());
        assert!(all.contains("catch"), "{code}: {d}");
    }
}

#[test]
fn error_inside_catch_is_fine() {
    let text = workflow(&[
        r#"{"id": "t", "action": "try", "steps": [{"id": "boom", "action": "fail", "message": "no"}], "catch": [{"id": "why", "action": "log", "message": "{{ $error.message }} at {{ $error.step }}"}, {"id": "deep", "action": "if", "cond": "{{ $error.step == \"boom\" }}", "then": [{"id": "out", "action": "return", "value": "{{ $error }}"}]}]}"#,
    ]);
    accepted(WF, &text);
    let text = endpoint(&[
        r#"{"id": "t", "action": "try", "steps": [], "catch": [{"id": "out", "action": "return", "value": {"error": "{{ $error.message }}"}, "status": 500}]}"#,
    ]);
    accepted(EP, &text);
}

// ---------------------------------------------------------------- SQL

#[test]
fn template_inside_sql_is_refused_with_a_hint_about_args() {
    for action in ["db.query", "db.exec"] {
        let step = format!(
            r#"{{"id": "load", "action": "{action}", "sql": "SELECT * FROM skus WHERE id = {{{{$param.sku}}}}"}}"#
        );
        let d = the_fault(WF, &workflow(&[&step]));
        check(
            &d,
            &Want {
                step: Some("load"),
                field: Some("sql"),
                says: &["{{"],
                hint: &["args", "?"],
            },
        );
    }
}

#[test]
fn sql_with_args_is_fine() {
    let text = workflow(&[
        r#"{"id": "load", "action": "db.query", "sql": "SELECT * FROM skus WHERE id = ?", "args": ["{{$param.sku}}"], "as": "rows"}"#,
    ]);
    accepted(WF, &text);
}

// ---------------------------------------------------------------- return status

#[test]
fn status_in_a_workflow_return_is_refused() {
    let text = workflow(&[r#"{"id": "done", "action": "return", "value": 1, "status": 201}"#]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("done"),
            field: Some("status"),
            says: &["status", "endpoint"],
            ..Want::default()
        },
    );
}

#[test]
fn status_in_an_endpoint_return_is_fine() {
    let text =
        endpoint(&[r#"{"id": "done", "action": "return", "value": {"ok": true}, "status": 201}"#]);
    accepted(EP, &text);
}

// ---------------------------------------------------------------- names

#[test]
fn invalid_variable_name_in_as_is_refused() {
    let text =
        workflow(&[r#"{"id": "load", "action": "db.query", "sql": "SELECT 1", "as": "2rows"}"#]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("load"),
            field: Some("as"),
            says: &["2rows"],
            hint: &["letters"],
        },
    );
}

#[test]
fn invalid_item_name_in_foreach_as_is_refused() {
    let text = workflow(&[
        r#"{"id": "each", "action": "foreach", "in": [1, 2], "as": "an-item", "steps": []}"#,
    ]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("each"),
            field: Some("as"),
            says: &["an-item"],
            ..Want::default()
        },
    );
}

#[test]
fn invalid_variable_name_in_set_is_refused() {
    let text = workflow(&[r#"{"id": "keep", "action": "set", "var": "my total", "value": 1}"#]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("keep"),
            field: Some("var"),
            says: &["my total"],
            ..Want::default()
        },
    );
}

#[test]
fn invalid_event_name_in_emit_is_refused() {
    let text =
        workflow(&[r#"{"id": "tell", "action": "emit", "event": "po created!", "params": {}}"#]);
    let d = the_fault(WF, &text);
    check(
        &d,
        &Want {
            step: Some("tell"),
            field: Some("event"),
            says: &["po created!"],
            hint: &["letters"],
        },
    );
}

#[test]
fn invalid_event_name_in_on_is_refused() {
    let d = the_fault(WF, r#"{"name": "w", "on": "thing happened", "steps": []}"#);
    check(
        &d,
        &Want {
            step: None,
            field: Some("on"),
            says: &["thing happened"],
            ..Want::default()
        },
    );
}

#[test]
fn bad_endpoint_method_and_path_are_refused() {
    let d = the_fault(EP, r#"{"method": "FETCH", "path": "/a", "steps": []}"#);
    check(
        &d,
        &Want {
            field: Some("method"),
            says: &["FETCH"],
            hint: &["GET"],
            ..Want::default()
        },
    );
    let d = the_fault(EP, r#"{"method": "GET", "path": "orders", "steps": []}"#);
    check(
        &d,
        &Want {
            field: Some("path"),
            says: &["orders"],
            ..Want::default()
        },
    );
}

// ---------------------------------------------------------------- across files

#[test]
fn second_file_with_the_same_workflow_name_is_refused_naming_the_first() {
    let one = workflow(&[r#"{"id": "a", "action": "log", "message": "one"}"#]);
    let two = workflow(&[r#"{"id": "b", "action": "log", "message": "two"}"#]);
    let (_sandbox, store, report) =
        import_files(&[("workflows/a.json", &one), ("workflows/b.json", &two)]);
    assert_eq!(report.diagnostics.len(), 1, "{:#?}", report.diagnostics);
    let d = &report.diagnostics[0];
    assert_eq!(d.file, Path::new("workflows/b.json"), "{d}");
    assert!(
        d.message.contains("workflows/a.json"),
        "names the first file: {d}"
    );
    assert!(d.message.contains("\"w\""), "names the workflow: {d}");
    assert_eq!(report.created, ["w"]);
    let row = store
        .find_definition(DefinitionKind::Workflow, "w")
        .unwrap()
        .unwrap();
    assert_eq!(row.source_file.as_deref(), Some("workflows/a.json"));
}

#[test]
fn second_file_with_the_same_endpoint_route_is_refused_naming_the_first() {
    let text = endpoint(&[r#"{"id": "a", "action": "return", "value": 1}"#]);
    let (_sandbox, _store, report) =
        import_files(&[("endpoints/a.json", &text), ("endpoints/b.json", &text)]);
    assert_eq!(report.diagnostics.len(), 1, "{:#?}", report.diagnostics);
    let d = &report.diagnostics[0];
    assert_eq!(d.file, Path::new("endpoints/b.json"), "{d}");
    assert!(
        d.message.contains("endpoints/a.json"),
        "names the first file: {d}"
    );
    assert!(d.message.contains("/things"), "names the route: {d}");
}

/// A project with three good definitions and one bad workflow (`workflows/b_broken.json`,
/// whose fault is in step `deep`, nested in an `if`).
fn mixed_project(bad: &str) -> Vec<(&'static str, String)> {
    let reorder = r#"{"name": "reorder", "on": "sku_low", "steps": [
  {"id": "load", "action": "db.query", "sql": "SELECT 1 AS n WHERE ? IS NOT NULL", "args": ["{{$param.sku}}"], "as": "rows"},
  {"id": "done", "action": "return", "value": {"n": "{{ $var.rows[0].n }}"}}
]}"#;
    let notify = r#"{"name": "notify", "on": "po_created", "steps": [
  {"id": "say", "action": "log", "message": "po {{ $param.po }}"}
]}"#;
    let orders = r#"{"method": "POST", "path": "/orders/{id}", "steps": [
  {"id": "tell", "action": "emit", "event": "sku_low", "params": {"sku": "{{ $path.id }}"}},
  {"id": "done", "action": "return", "value": {"ok": true}, "status": 202}
]}"#;
    vec![
        ("workflows/a_reorder.json", reorder.to_string()),
        ("workflows/b_broken.json", bad.to_string()),
        ("workflows/c_notify.json", notify.to_string()),
        ("endpoints/orders.json", orders.to_string()),
    ]
}

/// A bad workflow whose fault shows when its templates compile (step `deep`, field `message`).
const BROKEN_TEMPLATE: &str = r#"{"name": "broken", "on": "sku_low", "steps": [
  {"id": "check", "action": "if", "cond": true, "then": [
    {"id": "deep", "action": "log", "message": "{{ $body.sku }}"}
  ]}
]}"#;

/// A bad workflow whose fault shows when it is read (step `deep`, field `sqll`).
const BROKEN_FIELD: &str = r#"{"name": "broken", "on": "sku_low", "steps": [
  {"id": "check", "action": "if", "cond": true, "then": [
    {"id": "deep", "action": "db.query", "sqll": "SELECT 1"}
  ]}
]}"#;

/// The stored names of the good definitions of [`mixed_project`], sorted.
fn good_names() -> Vec<String> {
    ["POST /orders/{id}", "notify", "reorder"]
        .map(String::from)
        .to_vec()
}

fn check_mixed_import(bad: &str, field: &str) {
    let files = mixed_project(bad);
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    let (_sandbox, store, report) = import_files(&files);
    assert!(
        !report.diagnostics.is_empty(),
        "the bad file was not reported"
    );
    for d in &report.diagnostics {
        assert!(d.file.ends_with("workflows/b_broken.json"), "{d}");
        check(
            d,
            &Want {
                step: Some("deep"),
                field: Some(field),
                ..Want::default()
            },
        );
    }
    let mut created = report.created.clone();
    created.sort();
    assert_eq!(created, good_names());
    assert_eq!(
        stored_names(&store),
        good_names(),
        "the store holds the good ones only"
    );
    for row in store.list_definitions().unwrap() {
        assert_eq!(
            row.live_version, None,
            "{} is a draft, not deployed",
            row.name
        );
        let source = store.definition_source(row.id, None).unwrap();
        assert!(
            !source.contains("broken"),
            "{} holds the bad file",
            row.name
        );
    }
    assert!(
        store
            .find_definition(DefinitionKind::Workflow, "broken")
            .unwrap()
            .is_none()
    );
}

#[test]
fn import_project_stores_good_files_when_one_has_a_template_fault() {
    check_mixed_import(BROKEN_TEMPLATE, "message");
}

#[test]
fn import_project_stores_good_files_when_one_has_a_field_fault() {
    check_mixed_import(BROKEN_FIELD, "sqll");
}

#[test]
fn import_project_stores_good_files_when_one_is_not_json() {
    let files = mixed_project("{\"name\": \"broken\",\n  \"on\": \"sku_low\",,\n}");
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    let (_sandbox, store, report) = import_files(&files);
    assert_eq!(report.diagnostics.len(), 1, "{:#?}", report.diagnostics);
    let d = &report.diagnostics[0];
    assert!(d.file.ends_with("workflows/b_broken.json"), "{d}");
    assert_eq!(d.line, Some(2), "{d}");
    assert_eq!(stored_names(&store), good_names());
}

#[test]
fn broken_edit_of_an_imported_file_leaves_its_draft_untouched() {
    let sandbox = Sandbox::new();
    let good = workflow(&[r#"{"id": "say", "action": "log", "message": "v1"}"#]);
    let root = sandbox.project("p", None, &[(WF, &good)]);
    let mut store = Store::open(&sandbox.db()).unwrap();
    let report = import_project(&mut store, &project::load(&root).unwrap()).unwrap();
    assert!(report.is_clean(), "{:#?}", report.diagnostics);
    let row = store
        .find_definition(DefinitionKind::Workflow, "w")
        .unwrap()
        .unwrap();
    let before = store.definition_source(row.id, None).unwrap();

    let bad = workflow(&[r#"{"id": "say", "action": "log", "message": "{{ 1 + }}"}"#]);
    std::fs::write(root.join(WF), bad).unwrap();
    let report = import_project(&mut store, &project::load(&root).unwrap()).unwrap();
    assert_eq!(report.diagnostics.len(), 1, "{:#?}", report.diagnostics);
    assert!(report.changed.is_empty() && report.created.is_empty());
    assert_eq!(store.definition_source(row.id, None).unwrap(), before);
}

// ---------------------------------------------------------------- the binary

#[test]
fn cli_import_reports_faults_exits_1_and_keeps_the_good_files() {
    let sandbox = Sandbox::new();
    let files = mixed_project(BROKEN_TEMPLATE);
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    let root = sandbox.project("shop", None, &files);

    let out = sandbox.cli(&["import", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let fault = stderr
        .lines()
        .find(|l| l.contains("b_broken.json"))
        .unwrap_or_else(|| panic!("no fault naming the file: {}", text(&out)));
    assert!(fault.contains("\"deep\""), "names the step: {fault}");
    assert!(fault.contains("message"), "names the field: {fault}");
    assert!(fault.contains("$body"), "says what is wrong: {fault}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("b_broken"),
        "faults go to stderr: {}",
        text(&out)
    );

    let (code, list) = sandbox.cli_json(&["list"]);
    assert_eq!(code, 0, "{list}");
    let mut workflows: Vec<&str> = list["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    workflows.sort_unstable();
    assert_eq!(workflows, ["notify", "reorder"], "{list}");
    let endpoints: Vec<(&Value, &Value)> = list["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (&e["method"], &e["path"]))
        .collect();
    assert_eq!(endpoints.len(), 1, "{list}");
    assert_eq!(endpoints[0].0, "POST", "{list}");
    assert_eq!(endpoints[0].1, "/orders/{id}", "{list}");
}

#[test]
fn cli_import_of_a_clean_project_exits_0() {
    let sandbox = Sandbox::new();
    let files = mixed_project(
        r#"{"name": "broken", "on": "sku_low", "steps": [{"id": "deep", "action": "log", "message": "fixed"}]}"#,
    );
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    let root = sandbox.project("shop", None, &files);
    let out = sandbox.cli(&["import", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("fault"),
        "{}",
        text(&out)
    );
}
