//! The studio's debugger: breakpoints on steps, a debug run driven by keys, the live cursor,
//! watches, edits at a pause, and time travel through a recorded run. The `update` half:
//! pure state changes that ask for effects.

use super::commands::Cmd;
use super::data::StepLineKind;
use super::message::{DebugTarget, SessionAction as Action, UiEffect};
use super::state::{DebugView, InputMode, Prompt, PromptKind, State, Watch};
use crate::engine::debug::{Breakpoint, DebugEvent, EditScope, Resume, Snapshot};
use crate::expr::{Bindings, Expr, Global, Scope};
use serde_json::Value;
use std::time::Duration;

/// Run a debugger command.
pub(crate) fn run(state: &mut State, cmd: Cmd) -> Vec<UiEffect> {
    match cmd {
        Cmd::ToggleBreakpoint => toggle_breakpoint(state),
        Cmd::ConditionalBreakpoint => {
            let Some(step) = state.selected_step_id().map(String::from) else {
                state.warn("select a step (in the steps pane) to break at");
                return Vec::new();
            };
            let text = state
                .breakpoints
                .iter()
                .find_map(|b| match b {
                    Breakpoint::Step { step: s, condition } if *s == step => condition.clone(),
                    _ => None,
                })
                .unwrap_or_default();
            open_prompt(state, PromptKind::Condition { step }, text);
            Vec::new()
        }
        Cmd::StepOver => act(state, Action::Resume(Resume::StepOver)),
        Cmd::StepInto => act(state, Action::Resume(Resume::StepIn)),
        Cmd::StepOut => act(state, Action::Resume(Resume::StepOut)),
        Cmd::Continue => act(state, Action::Resume(Resume::Continue)),
        Cmd::Pause => act(state, Action::Pause),
        Cmd::Abort => act(state, Action::Abort),
        Cmd::TravelBack | Cmd::TravelForward => travel(state, cmd == Cmd::TravelBack),
        Cmd::AddWatch => {
            open_prompt(state, PromptKind::Watch, String::new());
            Vec::new()
        }
        Cmd::ClearWatches => {
            state.watches.clear();
            Vec::new()
        }
        Cmd::Evaluate => {
            open_prompt(state, PromptKind::Evaluate, String::new());
            Vec::new()
        }
        Cmd::EditVariable => {
            if state.debug.as_ref().is_none_or(|d| d.paused.is_none()) {
                let text = format!(
                    "variables can be changed while a debug run is paused ({} runs one; {} sets a breakpoint)",
                    state.key(Cmd::DebugRun),
                    state.key(Cmd::ToggleBreakpoint)
                );
                state.warn(text);
                return Vec::new();
            }
            open_prompt(state, PromptKind::EditVariable, "$var.".into());
            Vec::new()
        }
        _ => Vec::new(),
    }
}

fn open_prompt(state: &mut State, kind: PromptKind, text: String) {
    state.prompt = Some(Prompt {
        kind,
        text,
        error: None,
    });
    state.mode = InputMode::Prompting;
}

fn act(state: &mut State, action: Action) -> Vec<UiEffect> {
    let Some(debug) = &mut state.debug else {
        let text = format!(
            "no debug run: {} runs the selected draft under the debugger ({} sets a breakpoint on a step first)",
            state.key(Cmd::DebugRun),
            state.key(Cmd::ToggleBreakpoint)
        );
        state.warn(text);
        return Vec::new();
    };
    match action {
        Action::Resume(_) if debug.paused.is_none() => {
            let text = format!(
                "the debug run is running; {} pauses it",
                state.key(Cmd::Pause)
            );
            state.warn(text);
            return Vec::new();
        }
        Action::Resume(_) | Action::Abort => debug.paused = None,
        Action::Pause => {}
    }
    vec![UiEffect::Debug(action)]
}

fn toggle_breakpoint(state: &mut State) -> Vec<UiEffect> {
    let Some(definition) = state.selected().map(|d| d.row.name.clone()) else {
        state.warn("select a workflow or an endpoint, then a step, to set a breakpoint");
        return Vec::new();
    };
    let Some(step) = state.selected_step_id().map(String::from) else {
        state.warn("select a step (in the steps pane) to break at");
        return Vec::new();
    };
    let existing = state
        .breakpoints
        .iter()
        .position(|b| matches!(b, Breakpoint::Step { step: s, .. } if *s == step));
    let (breakpoint, on) = match existing {
        Some(i) => (state.breakpoints.remove(i), false),
        None => {
            let b = Breakpoint::step(step);
            state.breakpoints.push(b.clone());
            (b, true)
        }
    };
    vec![UiEffect::SetBreakpoint {
        definition,
        breakpoint,
        on,
    }]
}

/// A key typed into the prompt.
pub(crate) fn prompt_key(state: &mut State, key: crossterm::event::KeyEvent) -> Vec<UiEffect> {
    use crossterm::event::KeyCode;
    let Some(prompt) = &mut state.prompt else {
        state.mode = InputMode::Normal;
        return Vec::new();
    };
    match key.code {
        KeyCode::Esc => {
            state.prompt = None;
            state.mode = InputMode::Normal;
        }
        KeyCode::Backspace => {
            prompt.text.pop();
            prompt.error = None;
        }
        KeyCode::Char(c) if !c.is_control() => {
            prompt.text.push(c);
            prompt.error = None;
        }
        KeyCode::Enter => return submit(state),
        _ => {}
    }
    Vec::new()
}

/// Paste into the prompt: one line, so line breaks become spaces.
pub(crate) fn prompt_paste(state: &mut State, text: &str) {
    if let Some(p) = &mut state.prompt {
        let line: String = text
            .trim_end_matches('\n')
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        p.text.push_str(&line);
        p.error = None;
    }
}

fn submit(state: &mut State) -> Vec<UiEffect> {
    let Some(Prompt { kind, text, .. }) = state.prompt.take() else {
        return Vec::new();
    };
    state.mode = InputMode::Normal;
    let text = text.trim().to_string();
    match kind {
        PromptKind::Condition { step } => {
            let Some(definition) = state.selected().map(|d| d.row.name.clone()) else {
                return Vec::new();
            };
            if !text.is_empty()
                && let Err(e) = Expr::compile(&text, Scope::ALL)
            {
                state.prompt = Some(Prompt {
                    kind: PromptKind::Condition { step },
                    error: Some(e),
                    text,
                });
                state.mode = InputMode::Prompting;
                return Vec::new();
            }
            let breakpoint = Breakpoint::Step {
                step: step.clone(),
                condition: (!text.is_empty()).then_some(text),
            };
            state
                .breakpoints
                .retain(|b| !matches!(b, Breakpoint::Step { step: s, .. } if *s == step));
            state.breakpoints.push(breakpoint.clone());
            vec![UiEffect::SetBreakpoint {
                definition,
                breakpoint,
                on: true,
            }]
        }
        PromptKind::Watch => {
            if !text.is_empty() {
                state.watches.push(Watch {
                    expr: text,
                    value: Ok(Value::Null),
                });
                refresh_watches(state);
            }
            Vec::new()
        }
        PromptKind::Evaluate => {
            if text.is_empty() {
                return Vec::new();
            }
            match evaluate(state, &text) {
                Ok(v) => state.notify(format!("{text} = {}", crate::text::short(&v, 200))),
                Err(e) => state.warn(e),
            }
            Vec::new()
        }
        PromptKind::EditVariable => match parse_edit(&text) {
            Ok((scope, name, value)) => vec![UiEffect::SetVariable { scope, name, value }],
            Err(e) => {
                state.prompt = Some(Prompt {
                    kind: PromptKind::EditVariable,
                    error: Some(e),
                    text,
                });
                state.mode = InputMode::Prompting;
                Vec::new()
            }
        },
    }
}

/// `$var.name = JSON` or `$param.name = JSON`.
pub(crate) fn parse_edit(text: &str) -> Result<(EditScope, String, Value), String> {
    let usage = "write $var.name = JSON (or $param.name = JSON), e.g. $var.n = 10";
    let (left, right) = text.split_once('=').ok_or(usage)?;
    let left = left.trim();
    let (scope, name) = if let Some(n) = left.strip_prefix("$var.") {
        (EditScope::Var, n)
    } else if let Some(n) = left.strip_prefix("$param.") {
        (EditScope::Param, n)
    } else {
        return Err(usage.into());
    };
    if !crate::model::names::is_identifier(name) {
        return Err(format!("{name:?} is not a variable name; {usage}"));
    }
    let value = serde_json::from_str::<Value>(right.trim())
        .map_err(|e| format!("the value is not JSON ({e}); strings need quotes: \"text\""))?;
    Ok((scope, name.to_string(), value))
}

/// The variables the panes show.
struct Shown {
    param: Value,
    var: Value,
    env: Value,
    event: Value,
    /// An endpoint's request: `{body, query, headers, path}`.
    request: Value,
}

/// The variables the panes show: the paused run's, or the selected run's as recorded at the
/// time-travel cursor (or at its end).
fn shown(state: &State) -> Option<Shown> {
    if let Some((_, s)) = state.debug.as_ref().and_then(|d| d.paused.as_ref()) {
        return Some(Shown {
            param: s.param.clone(),
            var: s.var.clone(),
            env: s.env.clone(),
            event: s.event.clone(),
            request: s.request.clone(),
        });
    }
    let run = state.run.as_ref()?;
    let steps = run.steps.as_deref().unwrap_or_default();
    // the records up to the cursor (all of them without one); a run cancelled or failed
    // before its first step has none
    let upto = state
        .cursor
        .map_or(steps.len(), |i| (i + 1).min(steps.len()));
    let var = crate::model::record::vars_after(&steps[..upto]);
    let (param, request) = match run.target {
        crate::model::RunTarget::Workflow(_) => (run.params.whole().clone(), Value::Null),
        crate::model::RunTarget::Endpoint(_) => (Value::Null, run.params.whole().clone()),
    };
    Some(Shown {
        param,
        var,
        env: Value::Null,
        event: Value::Null,
        request,
    })
}

/// Evaluate a jq expression against what the panes show.
pub(crate) fn evaluate(state: &State, expr: &str) -> Result<Value, String> {
    let shown = shown(state).ok_or_else(|| {
        format!(
            "no run to evaluate against: {} emits (or calls), {} runs the draft",
            state.key(Cmd::Emit),
            state.key(Cmd::DebugRun)
        )
    })?;
    let e = Expr::compile(expr, Scope::ALL)?;
    let part = |name: &str| shown.request.get(name).unwrap_or(&Value::Null);
    let b = Bindings::new()
        .with(Global::Param, &shown.param)
        .with(Global::Var, &shown.var)
        .with(Global::Env, &shown.env)
        .with(Global::Event, &shown.event)
        .with(Global::Body, part("body"))
        .with(Global::Query, part("query"))
        .with(Global::Headers, part("headers"))
        .with(Global::Path, part("path"));
    e.eval(&b, Duration::from_millis(500))
        .map_err(|e| e.to_string())
}

/// Re-evaluate every watch where the panes look now.
pub(crate) fn refresh_watches(state: &mut State) {
    let values: Vec<Result<Value, String>> = state
        .watches
        .iter()
        .map(|w| evaluate(state, &w.expr))
        .collect();
    for (w, v) in state.watches.iter_mut().zip(values) {
        w.value = v;
    }
}

/// Move the time-travel cursor through the selected run's records.
fn travel(state: &mut State, back: bool) -> Vec<UiEffect> {
    let Some(run) = &state.run else {
        let text = format!(
            "no run selected: {} emits (or calls), {} runs the draft, or pick a run in the activity log",
            state.key(Cmd::Emit),
            state.key(Cmd::DebugRun)
        );
        state.warn(text);
        return Vec::new();
    };
    let len = run.steps.as_ref().map_or(0, Vec::len);
    if len == 0 {
        return Vec::new();
    }
    let at = match (state.cursor, back) {
        (None, true) => len - 1,
        (None, false) => 0,
        (Some(i), true) => i.saturating_sub(1),
        (Some(i), false) => (i + 1).min(len - 1),
    };
    state.cursor = Some(at);
    let step = run
        .steps
        .as_ref()
        .and_then(|s| s.get(at))
        .map(|s| s.step.clone());
    if let Some(step) = step {
        select_step(state, &step);
    }
    state.vars_scroll = 0;
    refresh_watches(state);
    Vec::new()
}

/// Put the steps tree's selection on `step`, when it is there.
pub(crate) fn select_step(state: &mut State, step: &str) {
    if let Some(i) = state
        .steps
        .iter()
        .position(|l| matches!(&l.kind, StepLineKind::Step { id, .. } if id == step))
    {
        state.step_selected = i;
    }
}

/// Start a debug run of a workflow's or an endpoint's draft.
pub(crate) fn start(state: &mut State, target: DebugTarget) -> Vec<UiEffect> {
    state.cursor = None;
    state.notify(format!("debugging the draft of {}…", target.name()));
    vec![UiEffect::StartDebug {
        target,
        breakpoints: state.breakpoints.clone(),
    }]
}

/// What the debug session said.
pub(crate) fn on_event(state: &mut State, event: DebugEvent) -> Vec<UiEffect> {
    match event {
        DebugEvent::Stopped { reason, snapshot } => {
            let run_id = snapshot.run_id;
            if let Some(next) = snapshot.next.clone() {
                select_step(state, &next);
            }
            let text = describe_stop(&reason, &snapshot);
            let keys = state.hint(&[
                Cmd::StepOver,
                Cmd::StepInto,
                Cmd::StepOut,
                Cmd::Continue,
                Cmd::Abort,
            ]);
            state.debug = Some(DebugView {
                run_id,
                definition: snapshot.workflow.clone(),
                paused: Some((reason, *snapshot)),
            });
            state.cursor = None;
            state.vars_scroll = 0;
            refresh_watches(state);
            state.notify_with_keys(text, keys);
            vec![UiEffect::LoadRun(run_id)]
        }
        DebugEvent::Resumed { run_id } => {
            if let Some(d) = &mut state.debug
                && d.run_id == run_id
            {
                d.paused = None;
            }
            Vec::new()
        }
        DebugEvent::Output { text, .. } => {
            state.notify(format!("log: {text}"));
            Vec::new()
        }
        DebugEvent::Finished {
            run_id,
            status,
            error,
            ..
        } => {
            if state.debug.as_ref().is_some_and(|d| d.run_id == run_id) {
                state.debug = None;
            }
            // said at once; what the run set off follows when it is read
            match error {
                Some(e) => state.warn(format!("debug run #{run_id} {status}: {e}")),
                None => state.notify(format!("debug run #{run_id} {status}")),
            }
            vec![
                UiEffect::LoadRun(run_id),
                UiEffect::ReloadAll,
                UiEffect::DescribeEnd { run_id },
            ]
        }
    }
}

/// How a debug run ended, in a line: its status (and an endpoint's answer), then what its
/// events set off. The second value says whether anything failed.
pub(crate) fn describe_end(
    run: &crate::model::RunRecord,
    cascade: &crate::store::cascade::Cascade,
) -> (String, bool) {
    use crate::model::RunStatus;
    let mut text = format!("debug run #{} {}", run.id, run.status);
    if let Some((status, body)) = run.response() {
        text.push_str(&format!(" → {status} {}", crate::text::short(&body, 40)));
    } else if let Some(e) = &run.error {
        text.push_str(&format!(": {e}"));
    }
    let mut failed = run.status != RunStatus::Succeeded;
    if !cascade.events.is_empty() {
        let runs: Vec<String> = cascade
            .runs
            .iter()
            .map(|r| {
                let version = r.version.map_or("draft".to_string(), |v| format!("v{v}"));
                format!(
                    "{} {} {}",
                    crate::text::status_mark(r.status),
                    r.target.name(),
                    version
                )
            })
            .collect();
        failed |= cascade.runs.iter().any(|r| r.status == RunStatus::Failed);
        let events: Vec<&str> = cascade.events.iter().map(|e| e.name.as_str()).collect();
        text.push_str(&format!(" · set off {}", events.join(", ")));
        if runs.is_empty() {
            text.push_str(" (no listener ran)");
        } else {
            text.push_str(&format!(" → {}", runs.join(", ")));
        }
        if !cascade.skipped.is_empty() {
            text.push_str(&format!(", {} skipped", cascade.skipped.len()));
        }
    }
    (text, failed)
}

/// A fresh snapshot after an edit.
pub(crate) fn on_snapshot(state: &mut State, snapshot: Snapshot) {
    if let Some(d) = &mut state.debug
        && d.run_id == snapshot.run_id
        && let Some((reason, _)) = d.paused.take()
    {
        d.paused = Some((reason, snapshot));
    }
    refresh_watches(state);
}

fn describe_stop(reason: &crate::engine::debug::StopReason, s: &Snapshot) -> String {
    use crate::engine::debug::StopReason as R;
    let at = s.next.as_deref().unwrap_or("the end");
    let why = match reason {
        R::Entry => "at the start".to_string(),
        R::Breakpoint { .. } => "at a breakpoint".to_string(),
        R::Condition { condition, .. } => format!("because {condition}"),
        R::Emit { event } => format!("before emitting {event}"),
        R::Failure { step, message } => format!("after {step} failed: {message}"),
        R::Step => "after a step".to_string(),
        R::Pause => "on request".to_string(),
    };
    format!("run #{} paused at {at} {why}", s.run_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn edits_are_parsed_with_clear_errors() {
        assert_eq!(
            parse_edit("$var.n = 10").unwrap(),
            (EditScope::Var, "n".into(), json!(10))
        );
        assert_eq!(
            parse_edit("$param.sku = {\"id\": 2}").unwrap(),
            (EditScope::Param, "sku".into(), json!({"id": 2}))
        );
        assert!(parse_edit("$var.n = ten").unwrap_err().contains("not JSON"));
        assert!(parse_edit("n = 1").unwrap_err().contains("$var.name"));
        assert!(
            parse_edit("$var.a-b = 1")
                .unwrap_err()
                .contains("not a variable name")
        );
    }
}
