//! The studio's debugger: breakpoints on steps, a debug run driven by keys, the live cursor,
//! watches, edits at a pause, and time travel through a recorded run. The `update` half:
//! pure state changes that ask for effects.

use super::commands::Cmd;
use super::data::StepLineKind;
use super::state::{DebugView, Mode, ParamsCheck, Prompt, PromptKind, State, Watch};
use super::update::Effect;
use crate::engine::debug::{Breakpoint, EditScope, Event, Resume, Snapshot};
use crate::expr::{Bindings, Expr, Global, Scope};
use crate::model::Kind;
use serde_json::Value;
use std::time::Duration;

/// What the debugger asks of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Go on.
    Resume(Resume),
    /// Stop at the next step.
    Pause,
    /// End the run.
    Abort,
}

/// Run a debugger command.
pub fn run(state: &mut State, cmd: Cmd) -> Vec<Effect> {
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
        Cmd::ReplayFrom => {
            let target = state.run.as_ref().and_then(|run| {
                let steps = run.steps.as_ref()?;
                let i = state.cursor?;
                steps.get(i).map(|s| (run.id, s.seq, s.step.clone()))
            });
            match target {
                Some((run_id, seq, step)) => {
                    state.notify(format!("running run #{run_id} again from {step}…"));
                    state.cursor = None;
                    vec![Effect::Replay { run_id, seq }]
                }
                None => {
                    state
                        .warn("walk a run with [ and ] first, then R runs it again from that step");
                    Vec::new()
                }
            }
        }
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
                state.warn("variables can be changed while a debug run is paused (r runs one; b sets breakpoints)");
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
    state.mode = Mode::Prompting;
}

fn act(state: &mut State, action: Action) -> Vec<Effect> {
    let Some(debug) = &mut state.debug else {
        return Vec::new();
    };
    match action {
        Action::Resume(_) if debug.paused.is_none() => {
            state.warn("the debug run is running; p pauses it");
            return Vec::new();
        }
        Action::Resume(_) | Action::Abort => debug.paused = None,
        Action::Pause => {}
    }
    vec![Effect::Debug(action)]
}

fn toggle_breakpoint(state: &mut State) -> Vec<Effect> {
    let Some(workflow) = state
        .selected()
        .filter(|d| d.row.kind == Kind::Workflow)
        .map(|d| d.row.name.clone())
    else {
        state.warn("select a workflow, then a step, to set a breakpoint");
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
    vec![Effect::SetBreakpoint {
        workflow,
        breakpoint,
        on,
    }]
}

/// A key typed into the prompt.
pub fn prompt_key(state: &mut State, key: crossterm::event::KeyEvent) -> Vec<Effect> {
    use crossterm::event::KeyCode;
    let Some(prompt) = &mut state.prompt else {
        state.mode = Mode::Normal;
        return Vec::new();
    };
    match key.code {
        KeyCode::Esc => {
            state.prompt = None;
            state.mode = Mode::Normal;
        }
        KeyCode::Backspace => {
            prompt.text.pop();
            prompt.error = None;
        }
        KeyCode::Char(c) => {
            prompt.text.push(c);
            prompt.error = None;
        }
        KeyCode::Enter => return submit(state),
        _ => {}
    }
    Vec::new()
}

/// Paste into the prompt.
pub fn prompt_paste(state: &mut State, text: &str) {
    if let Some(p) = &mut state.prompt {
        p.text.push_str(text.trim_end_matches('\n'));
    }
}

fn submit(state: &mut State) -> Vec<Effect> {
    let Some(Prompt { kind, text, .. }) = state.prompt.take() else {
        return Vec::new();
    };
    state.mode = Mode::Normal;
    let text = text.trim().to_string();
    match kind {
        PromptKind::Condition { step } => {
            let Some(workflow) = state.selected().map(|d| d.row.name.clone()) else {
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
                state.mode = Mode::Prompting;
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
            vec![Effect::SetBreakpoint {
                workflow,
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
            Ok((scope, name, value)) => vec![Effect::SetVariable { scope, name, value }],
            Err(e) => {
                state.prompt = Some(Prompt {
                    kind: PromptKind::EditVariable,
                    error: Some(e),
                    text,
                });
                state.mode = Mode::Prompting;
                Vec::new()
            }
        },
    }
}

/// `$var.name = JSON` or `$param.name = JSON`.
pub fn parse_edit(text: &str) -> Result<(EditScope, String, Value), String> {
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

/// The variables the panes show: the paused run's, or the selected run's as recorded at the
/// time-travel cursor (or at its end).
fn shown(state: &State) -> Option<(Value, Value, Value, Value)> {
    if let Some((_, s)) = state.debug.as_ref().and_then(|d| d.paused.as_ref()) {
        return Some((
            s.param.clone(),
            s.var.clone(),
            s.env.clone(),
            s.event.clone(),
        ));
    }
    let run = state.run.as_ref()?;
    let steps = run.steps.as_deref().unwrap_or_default();
    // the records up to the cursor (all of them without one); a run cancelled or failed
    // before its first step has none
    let upto = state
        .cursor
        .map_or(steps.len(), |i| (i + 1).min(steps.len()));
    let vars = crate::model::record::vars_after(&steps[..upto]);
    Some((run.params.clone(), vars, Value::Null, Value::Null))
}

/// Evaluate a jq expression against what the panes show.
pub fn evaluate(state: &State, expr: &str) -> Result<Value, String> {
    let (param, var, env, event) =
        shown(state).ok_or("no run to evaluate against: emit (x) or run (r) first")?;
    let e = Expr::compile(expr, Scope::ALL)?;
    let b = Bindings::new()
        .with(Global::Param, &param)
        .with(Global::Var, &var)
        .with(Global::Env, &env)
        .with(Global::Event, &event);
    e.eval(&b, Duration::from_millis(500))
        .map_err(|e| e.to_string())
}

/// Re-evaluate every watch where the panes look now.
pub fn refresh_watches(state: &mut State) {
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
fn travel(state: &mut State, back: bool) -> Vec<Effect> {
    let Some(run) = &state.run else {
        state.warn("no run selected: emit (x), run (r), or pick one in the activity log");
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
pub fn select_step(state: &mut State, step: &str) {
    if let Some(i) = state
        .steps
        .iter()
        .position(|l| matches!(&l.kind, StepLineKind::Step { id, .. } if id == step))
    {
        state.step_selected = i;
    }
}

/// Start a debug run of the selected workflow's draft with the params.
pub fn start(state: &mut State, workflow: String, params: Value) -> Vec<Effect> {
    state.cursor = None;
    state.notify(format!("debugging the draft of {workflow}…"));
    vec![Effect::StartDebug {
        workflow,
        params,
        breakpoints: state.breakpoints.clone(),
    }]
}

/// What the debug session said.
pub fn on_event(state: &mut State, event: Event) -> Vec<Effect> {
    match event {
        Event::Stopped { reason, snapshot } => {
            let run_id = snapshot.run_id;
            if let Some(next) = snapshot.next.clone() {
                select_step(state, &next);
            }
            let text = describe_stop(&reason, &snapshot);
            state.debug = Some(DebugView {
                run_id,
                workflow: snapshot.workflow.clone(),
                paused: Some((reason, *snapshot)),
            });
            state.cursor = None;
            state.vars_scroll = 0;
            refresh_watches(state);
            state.notify(text);
            vec![Effect::LoadRun(run_id)]
        }
        Event::Resumed { run_id } => {
            if let Some(d) = &mut state.debug
                && d.run_id == run_id
            {
                d.paused = None;
            }
            Vec::new()
        }
        Event::Output { text, .. } => {
            state.notify(format!("log: {text}"));
            Vec::new()
        }
        Event::Finished {
            run_id,
            status,
            error,
            ..
        } => {
            if state.debug.as_ref().is_some_and(|d| d.run_id == run_id) {
                state.debug = None;
            }
            match error {
                Some(e) => state.warn(format!("debug run #{run_id} {status}: {e}")),
                None => state.notify(format!("debug run #{run_id} {status}")),
            }
            vec![Effect::LoadRun(run_id), Effect::ReloadAll]
        }
    }
}

/// A fresh snapshot after an edit.
pub fn on_snapshot(state: &mut State, snapshot: Snapshot) {
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
    format!(
        "run #{} paused at {at} {why} · n step · s into · o out · c continue · a abort",
        s.run_id
    )
}

/// The params for a debug run, if they are valid.
pub fn params(state: &mut State) -> Option<Value> {
    match &state.params.check {
        ParamsCheck::Valid(v) => Some(v.clone()),
        ParamsCheck::Invalid {
            line,
            column,
            message,
        } => {
            let text = format!(
                "the params are not valid JSON ({line}:{column} {message}); press e to fix them"
            );
            state.warn(text);
            None
        }
    }
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
