//! Tests in the studio: run the selected workflow's or endpoint's tests and show them (each
//! case, a failure's differences, its trace), write a case from the selected run.

use super::UiEffect;
use crate::suite::CaseStatus;
use crate::tui::commands::Cmd;
use crate::tui::state::{Overlay, State, TestResults, TestsView, Trace};

/// `T` and `ctrl-t`.
pub(super) fn run(state: &mut State, cmd: Cmd) -> Vec<UiEffect> {
    match cmd {
        Cmd::RunTests => run_tests(state),
        Cmd::RecordTest => record(state),
        _ => Vec::new(),
    }
}

/// Whose tests `T` runs: those in the open results, else the selected definition's.
fn run_tests(state: &mut State) -> Vec<UiEffect> {
    let of = match &state.overlay {
        Some(Overlay::Tests(t)) => Some(t.of.clone()),
        _ => state.selected().map(|d| d.row.name.clone()),
    };
    let Some(of) = of else {
        state.warn("select a workflow or endpoint to run its tests");
        return Vec::new();
    };
    let selected = match &state.overlay {
        Some(Overlay::Tests(t)) => t.selected,
        _ => 0,
    };
    state.overlay = Some(Overlay::Tests(Box::new(TestsView {
        of: of.clone(),
        result: None,
        selected,
    })));
    vec![UiEffect::RunTests {
        scope: crate::suite::load::Scope::Concerning(of.clone()),
        of,
        show: true,
    }]
}

/// Tests have run: into the open results, or a notice.
pub(super) fn on_tests(
    state: &mut State,
    of: String,
    result: Result<TestResults, String>,
    show: bool,
) {
    if let Some(Overlay::Tests(t)) = &mut state.overlay
        && t.of == of
    {
        if let Ok(r) = &result {
            t.selected = t.selected.min(r.report.cases.len().saturating_sub(1));
        }
        t.result = Some(result);
        return;
    }
    if show {
        return;
    }
    // the dev loop's: `of` says what was re-imported
    match result {
        Err(e) => state.warn(format!("{of} · tests: {e}")),
        Ok(r) if r.report.cases.is_empty() && r.invalid.is_empty() => state.notify(of),
        Ok(r) => {
            let key = state.key(Cmd::RunTests);
            if let Some(first) = r.invalid.first() {
                state.warn(format!("{of} · a test file is invalid: {first}"));
            } else if r.report.failed > 0 {
                let failed: Vec<&str> = r
                    .report
                    .cases
                    .iter()
                    .filter(|c| c.status == CaseStatus::Failed)
                    .map(|c| c.name.as_str())
                    .collect();
                state.warn(format!(
                    "{of} · tests: {} failed ({}) · {key} shows them",
                    r.report.failed,
                    failed.join(", ")
                ));
            } else {
                state.notify(format!("{of} · tests: {} passed", r.report.passed));
            }
        }
    }
}

/// `enter` in the results: the selected case's trace (back to the results when it closes).
pub(super) fn open_case(state: &mut State) -> Vec<UiEffect> {
    let Some(Overlay::Tests(view)) = state.overlay.take() else {
        return Vec::new();
    };
    let case = match &view.result {
        Some(Ok(r)) => r.report.cases.get(view.selected).cloned(),
        _ => None,
    };
    let Some(case) = case else {
        state.overlay = Some(Overlay::Tests(view));
        return Vec::new();
    };
    let Some(run) = case.runs.first().cloned() else {
        let why = if case.status == CaseStatus::Skipped {
            "it was skipped"
        } else {
            "it could not start (its failure says why)"
        };
        state.overlay = Some(Overlay::Tests(view));
        state.notify(format!("{} has no run: {why}", case.name));
        return Vec::new();
    };
    state.overlay = Some(Overlay::Trace(Box::new(Trace {
        run,
        selected: 0,
        expanded: false,
        scroll: 0,
        case: Some(case.name),
        back: Some(Box::new(Overlay::Tests(view))),
    })));
    Vec::new()
}

/// `ctrl-t`: a case from the run the user looks at.
fn record(state: &mut State) -> Vec<UiEffect> {
    if let Some(Overlay::Trace(t)) = &state.overlay
        && t.case.is_some()
    {
        state.warn("this run is a test case's own: record a run from the activity log");
        return Vec::new();
    }
    let run = super::compare::looked_at(state).map(|r| (r.id, r.status.is_finished()));
    match run {
        None => {
            super::compare::no_run(state);
            Vec::new()
        }
        Some((id, false)) => {
            state.warn(format!("run #{id} has not ended: record it when it has"));
            Vec::new()
        }
        Some((id, true)) => vec![UiEffect::RecordTest(id)],
    }
}
