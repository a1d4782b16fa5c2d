//! `update(state, message) → effects`: every change to the studio's state happens here.
//! Keys are resolved to commands through the keymap, commands change the state and ask for
//! effects (load this, emit that); the runtime performs the effects and feeds their results
//! back as messages. Nothing here does I/O.

use super::commands::{Cmd, palette_matches};
use super::data::{ActivityRow, DefinitionItem, StepLine, StepLineKind};
use super::keymap::Key;
use super::layout::{self, scroll_offset};
use super::state::{Confirm, Focus, ListRow, Mode, Overlay, Params, ParamsCheck, State, Trace};
use crate::model::{Kind, RunRecord};
use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use serde_json::Value;

/// Something that happened.
#[derive(Debug, Clone)]
pub enum Msg {
    /// Terminal input.
    Input(Event),
    /// Another connection committed to the store.
    StoreChanged,
    /// Workflows and endpoints loaded.
    Definitions(Vec<DefinitionItem>),
    /// The activity log loaded.
    Activity(Vec<ActivityRow>),
    /// A steps tree loaded.
    Steps {
        /// Whose.
        def_id: i64,
        /// The lines, or why not.
        result: Result<Vec<StepLine>, String>,
    },
    /// The selected run loaded (with its steps).
    Run(Option<RunRecord>),
    /// A trace to open.
    Trace(Result<RunRecord, String>),
    /// Params to start from.
    Params {
        /// Whose.
        workflow: String,
        /// The JSON text.
        text: String,
    },
    /// What a deploy would change.
    Diff {
        /// Whose.
        def_id: i64,
        /// The change lines, or why not.
        result: Result<Vec<String>, String>,
    },
    /// The debug session said something.
    Debug(crate::engine::debug::Event),
    /// A paused run's variables after an edit.
    Snapshot(Box<crate::engine::debug::Snapshot>),
    /// A workflow's breakpoints.
    Breakpoints {
        /// Whose.
        workflow: String,
        /// The breakpoints.
        list: Vec<crate::model::breakpoint::Breakpoint>,
    },
    /// Something went well.
    Notice(String),
    /// Something went wrong.
    Failure(String),
}

/// Something for the runtime to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Reload the workflows and the activity log.
    ReloadAll,
    /// Read older events into the activity log (when there are any).
    LoadOlder,
    /// Load a definition's steps.
    LoadSteps(i64),
    /// Load a run (with steps) as the selected run.
    LoadRun(i64),
    /// Load a definition's newest run as the selected run.
    LoadLastRun(i64),
    /// Load the params to start from for a workflow.
    LoadParams {
        /// The workflow.
        workflow: String,
        /// The event it listens to.
        event: Option<String>,
    },
    /// Remember a workflow's params.
    SaveParams {
        /// The workflow.
        workflow: String,
        /// The JSON text.
        text: String,
    },
    /// Switch a workflow on or off.
    Toggle {
        /// Its id.
        def_id: i64,
        /// Its name.
        name: String,
        /// The new state.
        active: bool,
    },
    /// Emit an event.
    Emit {
        /// The workflow whose event it is.
        workflow: String,
        /// The event.
        event: String,
        /// Params.
        params: Value,
    },
    /// Run a workflow's draft under the debugger.
    StartDebug {
        /// The workflow.
        workflow: String,
        /// Params.
        params: Value,
        /// Where to stop (the breakpoints the studio shows).
        breakpoints: Vec<crate::model::breakpoint::Breakpoint>,
    },
    /// Tell the debug session to go on, pause or abort.
    Debug(super::debugging::Action),
    /// Set or clear a breakpoint (in the store, and in a running session).
    SetBreakpoint {
        /// The workflow.
        workflow: String,
        /// The breakpoint.
        breakpoint: crate::model::breakpoint::Breakpoint,
        /// Set (true) or clear.
        on: bool,
    },
    /// Load a workflow's breakpoints.
    LoadBreakpoints(String),
    /// Change a variable of the paused run.
    SetVariable {
        /// `$var` or `$param`.
        scope: crate::engine::debug::EditScope,
        /// Name.
        name: String,
        /// Value.
        value: Value,
    },
    /// Run again from a recorded step, under the debugger.
    Replay {
        /// The recorded run.
        run_id: i64,
        /// The step record to start at.
        seq: u32,
    },
    /// Compute what a deploy would change.
    LoadDiff(i64),
    /// Deploy a definition.
    Deploy {
        /// Its id.
        def_id: i64,
        /// Its name.
        name: String,
    },
    /// Open a run's trace.
    OpenTrace(i64),
    /// Switch mouse capture.
    SetMouse(bool),
}

/// Apply a message; returns the effects to perform.
pub fn update(state: &mut State, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Input(Event::Key(key)) => on_key(state, key),
        Msg::Input(Event::Mouse(m)) => on_mouse(state, m),
        Msg::Input(Event::Paste(text)) => on_paste(state, &text),
        Msg::Input(Event::Resize(w, h)) => {
            state.size = (w, h);
            Vec::new()
        }
        Msg::Input(_) => Vec::new(),
        Msg::StoreChanged => {
            let mut fx = vec![Effect::ReloadAll];
            if let Some(run) = &state.run
                && !run.status.is_finished()
            {
                fx.push(Effect::LoadRun(run.id));
            } else if let Some(def) = state.selected_def {
                // a run of the selected workflow may have started or ended
                if state
                    .run
                    .as_ref()
                    .is_none_or(|r| Some(r.id) != last_known_run(state, def))
                {
                    fx.push(Effect::LoadLastRun(def));
                }
            }
            if let Some(Overlay::Trace(t)) = &state.overlay
                && !t.run.status.is_finished()
            {
                fx.push(Effect::OpenTrace(t.run.id));
            }
            fx
        }
        Msg::Definitions(items) => on_definitions(state, items),
        Msg::Activity(rows) => {
            let key = state
                .visible_activity()
                .get(state.activity_selected)
                .map(|r| row_key(r));
            state.activity = rows;
            let visible = state.visible_activity();
            state.activity_selected = key
                .and_then(|k| visible.iter().position(|r| row_key(r) == k))
                .unwrap_or(0)
                .min(visible.len().saturating_sub(1));
            Vec::new()
        }
        Msg::Steps { def_id, result } => {
            if state.selected_def == Some(def_id) {
                let keep = state.selected_step_id().map(String::from);
                match result {
                    Ok(lines) => {
                        state.steps = lines;
                        state.steps_error = None;
                    }
                    Err(e) => {
                        state.steps = Vec::new();
                        state.steps_error = Some(e);
                    }
                }
                state.steps_of = Some(def_id);
                state.step_selected = keep
                    .and_then(|id| {
                        state.steps.iter().position(
                            |l| matches!(&l.kind, StepLineKind::Step { id: i, .. } if *i == id),
                        )
                    })
                    .unwrap_or(0);
            }
            Vec::new()
        }
        Msg::Run(run) => {
            if run.as_ref().map(|r| r.id) != state.run.as_ref().map(|r| r.id) {
                state.cursor = None;
            }
            state.run = run;
            super::debugging::refresh_watches(state);
            Vec::new()
        }
        Msg::Debug(event) => super::debugging::on_event(state, event),
        Msg::Snapshot(snapshot) => {
            super::debugging::on_snapshot(state, *snapshot);
            Vec::new()
        }
        Msg::Breakpoints { workflow, list } => {
            if state.selected().is_some_and(|d| d.row.name == workflow) {
                state.breakpoints = list;
            }
            Vec::new()
        }
        Msg::Trace(Ok(run)) => {
            let (selected, expanded) = match &state.overlay {
                Some(Overlay::Trace(t)) if t.run.id == run.id => (t.selected, t.expanded),
                _ => (0, false),
            };
            state.overlay = Some(Overlay::Trace(Box::new(Trace {
                run,
                selected,
                expanded,
                scroll: 0,
            })));
            Vec::new()
        }
        Msg::Trace(Err(e)) | Msg::Failure(e) => {
            state.warn(e);
            Vec::new()
        }
        Msg::Params { workflow, text } => {
            if state.params.workflow.as_deref() == Some(workflow.as_str()) && !state.params.dirty {
                let pending = state.params.pending.take();
                state.params = Params::new(Some(workflow), &text);
                if let Some(cmd) = pending {
                    return run(state, cmd);
                }
            }
            Vec::new()
        }
        Msg::Diff { def_id, result } => {
            if let Some(Overlay::Confirm(c)) = &mut state.overlay
                && c.def_id == def_id
            {
                c.changes = Some(result);
            }
            Vec::new()
        }
        Msg::Notice(text) => {
            state.notify(text);
            Vec::new()
        }
    }
}

fn last_known_run(state: &State, def: i64) -> Option<i64> {
    let name = state
        .definitions
        .iter()
        .find(|d| d.row.id == def)?
        .row
        .name
        .clone();
    state
        .activity
        .iter()
        .filter_map(ActivityRow::run)
        .filter(|r| r.target.name() == name)
        .map(|r| r.id)
        .max()
}

fn row_key(row: &ActivityRow) -> (u8, i64, String) {
    match row {
        ActivityRow::Event(e) => (0, e.id, String::new()),
        ActivityRow::Run { run, .. } => (1, run.id, String::new()),
        ActivityRow::Skip(s) => (2, s.event_id, s.workflow.clone()),
    }
}

fn on_definitions(state: &mut State, items: Vec<DefinitionItem>) -> Vec<Effect> {
    let before = state.selected().map(|d| d.row.updated_at);
    state.definitions = items;
    let still_there = state.selected().is_some();
    if !still_there {
        let first = state.visible_definitions().first().map(|d| d.row.id);
        state.selected_def = None;
        if let Some(id) = first {
            return select(state, id);
        }
        return Vec::new();
    }
    // the selected draft changed (another process imported it): reload its steps
    if state.selected().map(|d| d.row.updated_at) != before
        && let Some(id) = state.selected_def
    {
        return vec![Effect::LoadSteps(id)];
    }
    Vec::new()
}

/// Select a definition, asking for its steps, params and newest run.
fn select(state: &mut State, id: i64) -> Vec<Effect> {
    if state.selected_def == Some(id) {
        return Vec::new();
    }
    let mut fx = save_params(state);
    state.selected_def = Some(id);
    state.step_selected = 0;
    state.cursor = None;
    state.breakpoints.clear();
    let Some(item) = state.selected().cloned() else {
        return fx;
    };
    fx.push(Effect::LoadSteps(id));
    fx.push(Effect::LoadLastRun(id));
    if item.row.kind == Kind::Workflow {
        fx.push(Effect::LoadBreakpoints(item.row.name.clone()));
        state.params = Params::new(Some(item.row.name.clone()), "{}");
        state.params.loaded = false;
        fx.push(Effect::LoadParams {
            workflow: item.row.name.clone(),
            event: item.row.on_event.clone(),
        });
    } else {
        state.params = Params::new(None, "{}");
    }
    fx
}

fn on_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    state.notice = None;
    let k = Key::from_event(&key);
    if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
        state.quit = true;
        return Vec::new();
    }
    if state.mode == Mode::Prompting {
        return super::debugging::prompt_key(state, key);
    }
    if state.mode == Mode::Filtering {
        match key.code {
            KeyCode::Esc => {
                state.filter.clear();
                state.mode = Mode::Normal;
            }
            KeyCode::Enter => state.mode = Mode::Normal,
            KeyCode::Backspace => {
                state.filter.pop();
            }
            KeyCode::Char(c) => state.filter.push(c),
            _ => {}
        }
        return after_filter(state);
    }
    if let Some(Overlay::Palette { query, selected }) = &mut state.overlay {
        match key.code {
            KeyCode::Esc => state.overlay = None,
            KeyCode::Up => *selected = selected.saturating_sub(1),
            KeyCode::Down => {
                *selected = (*selected + 1).min(palette_matches(query).len().saturating_sub(1))
            }
            KeyCode::Backspace => {
                query.pop();
                *selected = 0;
            }
            KeyCode::Enter => {
                let cmd = palette_matches(query).get(*selected).map(|c| c.cmd);
                state.overlay = None;
                if let Some(cmd) = cmd {
                    return run(state, cmd);
                }
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                query.push(c);
                *selected = 0;
            }
            _ => {}
        }
        return Vec::new();
    }
    let contexts = state.contexts();
    if let Some(cmd) = state.keymap.resolve(k, &contexts) {
        return run(state, cmd);
    }
    if state.mode == Mode::Editing {
        if state.params.editor.input(key) {
            state.params.changed();
        }
        return Vec::new();
    }
    Vec::new()
}

fn after_filter(state: &mut State) -> Vec<Effect> {
    state.activity_selected = state
        .activity_selected
        .min(state.visible_activity().len().saturating_sub(1));
    let visible: Vec<i64> = state
        .visible_definitions()
        .iter()
        .map(|d| d.row.id)
        .collect();
    match (state.selected_def, visible.first()) {
        (Some(id), _) if visible.contains(&id) => Vec::new(),
        (_, Some(first)) => select(state, *first),
        _ => Vec::new(),
    }
}

fn on_paste(state: &mut State, text: &str) -> Vec<Effect> {
    match state.mode {
        Mode::Editing => {
            state.params.editor.insert_str(text);
            state.params.changed();
            Vec::new()
        }
        Mode::Filtering => {
            state.filter.push_str(text.trim());
            after_filter(state)
        }
        Mode::Prompting => {
            super::debugging::prompt_paste(state, text);
            Vec::new()
        }
        Mode::Normal => {
            if state.focus == Focus::Params && state.params.workflow.is_some() {
                state.mode = Mode::Editing;
                state.params.editor.insert_str(text);
                state.params.changed();
            }
            Vec::new()
        }
    }
}

/// Run a command.
pub fn run(state: &mut State, cmd: Cmd) -> Vec<Effect> {
    match cmd {
        Cmd::Quit | Cmd::ForceQuit => {
            state.quit = true;
            save_params(state)
        }
        Cmd::FocusNext | Cmd::FocusPrev => {
            let i = Focus::ALL
                .iter()
                .position(|f| *f == state.focus)
                .unwrap_or(0);
            let n = Focus::ALL.len();
            let next = if cmd == Cmd::FocusNext {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            state.focus = Focus::ALL[next];
            Vec::new()
        }
        Cmd::Up => step(state, -1),
        Cmd::Down => step(state, 1),
        Cmd::PageUp => step(state, -(page(state) as isize)),
        Cmd::PageDown => step(state, page(state) as isize),
        Cmd::Top => step(state, isize::MIN / 2),
        Cmd::Bottom => step(state, isize::MAX / 2),
        Cmd::Toggle => match state.selected() {
            Some(item) if item.row.kind == Kind::Workflow => vec![Effect::Toggle {
                def_id: item.row.id,
                name: item.row.name.clone(),
                active: !item.row.active,
            }],
            Some(item) => {
                let name = item.row.name.clone();
                state.warn(format!(
                    "{name} is an endpoint: only workflows have an active toggle"
                ));
                Vec::new()
            }
            None => Vec::new(),
        },
        Cmd::EditParams => {
            if state.params.workflow.is_none() {
                state.warn("select a workflow to edit its params");
            } else if !state.params.loaded {
                state.params.pending = Some(cmd);
            } else {
                state.mode = Mode::Editing;
                state.focus = Focus::Params;
            }
            Vec::new()
        }
        Cmd::LeaveEditor => {
            state.mode = Mode::Normal;
            save_params(state)
        }
        Cmd::FormatParams => {
            match &state.params.check {
                ParamsCheck::Valid(v) => {
                    let text = serde_json::to_string_pretty(v).unwrap_or_default();
                    let workflow = state.params.workflow.clone();
                    state.params = Params::new(workflow, &text);
                    state.params.dirty = true;
                }
                ParamsCheck::Invalid {
                    line,
                    column,
                    message,
                } => {
                    let text = format!("cannot pretty-print: {line}:{column} {message}");
                    state.warn(text);
                }
            }
            Vec::new()
        }
        Cmd::Emit | Cmd::DebugRun => {
            let Some(item) = state.selected().cloned() else {
                state.warn("select a workflow first");
                return Vec::new();
            };
            if item.row.kind != Kind::Workflow {
                state.warn(format!(
                    "{} is an endpoint: call it with `flowdeck call` or `serve`",
                    item.row.name
                ));
                return Vec::new();
            }
            if !state.params.loaded {
                // the params are on their way: run when they arrive
                state.params.pending = Some(cmd);
                return Vec::new();
            }
            let params = match &state.params.check {
                ParamsCheck::Valid(v) => v.clone(),
                ParamsCheck::Invalid {
                    line,
                    column,
                    message,
                } => {
                    let text = format!(
                        "the params are not valid JSON ({line}:{column} {message}); press e to fix them"
                    );
                    state.warn(text);
                    return Vec::new();
                }
            };
            let mut fx = save_params(state);
            if cmd == Cmd::Emit {
                let event = item.row.on_event.clone().unwrap_or_default();
                state.notify(format!("emitting {event}…"));
                fx.push(Effect::Emit {
                    workflow: item.row.name.clone(),
                    event,
                    params,
                });
            } else {
                fx.extend(super::debugging::start(
                    state,
                    item.row.name.clone(),
                    params,
                ));
            }
            fx
        }
        Cmd::Deploy => match state.selected().cloned() {
            Some(item) => {
                state.overlay = Some(Overlay::Confirm(Confirm {
                    def_id: item.row.id,
                    name: item.row.name.clone(),
                    live_version: item.row.live_version,
                    changes: None,
                }));
                vec![Effect::LoadDiff(item.row.id)]
            }
            None => {
                state.warn("select a workflow to deploy");
                Vec::new()
            }
        },
        Cmd::Confirm => match state.overlay.take() {
            Some(Overlay::Confirm(c)) => {
                if matches!(&c.changes, Some(Ok(ch)) if ch.is_empty()) {
                    state.notify(format!("{} is already live", c.name));
                    return Vec::new();
                }
                vec![Effect::Deploy {
                    def_id: c.def_id,
                    name: c.name,
                }]
            }
            other => {
                state.overlay = other;
                Vec::new()
            }
        },
        Cmd::Open => match state.focus {
            Focus::Workflows => {
                state.focus = Focus::Steps;
                Vec::new()
            }
            Focus::Activity => match state.visible_activity().get(state.activity_selected) {
                Some(ActivityRow::Run { run, .. }) => vec![Effect::OpenTrace(run.id)],
                Some(_) => {
                    state.warn("select a run (the lines under an event) to open its trace");
                    Vec::new()
                }
                None => Vec::new(),
            },
            _ => Vec::new(),
        },
        Cmd::Back => {
            if state.overlay.is_some() {
                state.overlay = None;
            } else if state.mode != Mode::Normal {
                state.mode = Mode::Normal;
            }
            Vec::new()
        }
        Cmd::Filter => {
            state.mode = Mode::Filtering;
            Vec::new()
        }
        Cmd::Help => {
            state.overlay = Some(Overlay::Help { scroll: 0 });
            Vec::new()
        }
        Cmd::Palette => {
            state.overlay = Some(Overlay::Palette {
                query: String::new(),
                selected: 0,
            });
            Vec::new()
        }
        Cmd::ToggleMouse => {
            state.mouse = !state.mouse;
            state.notify(if state.mouse {
                "mouse on"
            } else {
                "mouse off: the terminal can select text"
            });
            vec![Effect::SetMouse(state.mouse)]
        }
        Cmd::ScrollDown | Cmd::ScrollUp => {
            let delta: i32 = if cmd == Cmd::ScrollDown { 3 } else { -3 };
            let scroll = match &mut state.overlay {
                Some(Overlay::Trace(t)) => &mut t.scroll,
                _ => &mut state.vars_scroll,
            };
            *scroll = (i32::from(*scroll) + delta).clamp(0, i32::from(u16::MAX)) as u16;
            Vec::new()
        }
        Cmd::ToggleBreakpoint
        | Cmd::ConditionalBreakpoint
        | Cmd::StepOver
        | Cmd::StepInto
        | Cmd::StepOut
        | Cmd::Continue
        | Cmd::Pause
        | Cmd::Abort
        | Cmd::TravelBack
        | Cmd::TravelForward
        | Cmd::ReplayFrom
        | Cmd::AddWatch
        | Cmd::ClearWatches
        | Cmd::Evaluate
        | Cmd::EditVariable => super::debugging::run(state, cmd),
        Cmd::ExpandJson => {
            match &mut state.overlay {
                Some(Overlay::Trace(t)) => t.expanded = !t.expanded,
                _ => state.vars_expanded = !state.vars_expanded,
            }
            Vec::new()
        }
    }
}

fn save_params(state: &mut State) -> Vec<Effect> {
    match state.params.workflow.clone() {
        Some(workflow) if state.params.dirty => {
            state.params.dirty = false;
            vec![Effect::SaveParams {
                workflow,
                text: state.params.text(),
            }]
        }
        _ => Vec::new(),
    }
}

fn page(state: &State) -> usize {
    let areas = layout::layout(state.size, state.focus, state.mode, state.narrow());
    areas
        .of(state.focus)
        .map_or(10, |r| usize::from(r.height.saturating_sub(3)).max(1))
}

/// Move the selection of whatever has the keys by `delta` rows.
fn step(state: &mut State, delta: isize) -> Vec<Effect> {
    let moved = |i: usize, len: usize| -> usize {
        if len == 0 {
            return 0;
        }
        (i as isize + delta).clamp(0, len as isize - 1) as usize
    };
    match &mut state.overlay {
        Some(Overlay::Trace(t)) => {
            let len = t.run.steps.as_ref().map_or(0, Vec::len);
            t.selected = moved(t.selected, len);
            t.scroll = 0;
            return Vec::new();
        }
        Some(Overlay::Help { scroll }) => {
            *scroll = (i64::from(*scroll) + delta as i64).clamp(0, 200) as u16;
            return Vec::new();
        }
        Some(Overlay::Palette { query, selected }) => {
            *selected = moved(*selected, palette_matches(query).len());
            return Vec::new();
        }
        Some(Overlay::Confirm(_)) => return Vec::new(),
        None => {}
    }
    match state.focus {
        Focus::Workflows => {
            let ids: Vec<i64> = state
                .visible_definitions()
                .iter()
                .map(|d| d.row.id)
                .collect();
            let at = state
                .selected_def
                .and_then(|id| ids.iter().position(|i| *i == id))
                .unwrap_or(0);
            match ids.get(moved(at, ids.len())) {
                Some(id) => select(state, *id),
                None => Vec::new(),
            }
        }
        Focus::Steps => {
            state.vars_scroll = 0;
            let steps: Vec<usize> = state
                .steps
                .iter()
                .enumerate()
                .filter(|(_, l)| matches!(l.kind, StepLineKind::Step { .. }))
                .map(|(i, _)| i)
                .collect();
            let at = steps
                .iter()
                .position(|i| *i == state.step_selected)
                .unwrap_or(0);
            if let Some(i) = steps.get(moved(at, steps.len())) {
                state.step_selected = *i;
            }
            Vec::new()
        }
        Focus::Activity => {
            let len = state.visible_activity().len();
            state.activity_selected = moved(state.activity_selected, len);
            let mut fx = match state.visible_activity().get(state.activity_selected) {
                Some(ActivityRow::Run { run, .. }) => vec![Effect::LoadRun(run.id)],
                _ => Vec::new(),
            };
            if len > 0 && state.activity_selected + 1 == len {
                // at the end of what is loaded: page older events in
                fx.push(Effect::LoadOlder);
            }
            fx
        }
        Focus::Params | Focus::Variables => Vec::new(),
    }
}

fn on_mouse(state: &mut State, m: MouseEvent) -> Vec<Effect> {
    if !state.mouse || state.overlay.is_some() || state.mode == Mode::Filtering {
        if let Some(Overlay::Trace(_) | Overlay::Help { .. }) = state.overlay {
            return match m.kind {
                MouseEventKind::ScrollUp => step(state, -1),
                MouseEventKind::ScrollDown => step(state, 1),
                _ => Vec::new(),
            };
        }
        return Vec::new();
    }
    let areas = layout::layout(state.size, state.focus, state.mode, state.narrow());
    let Some(pane) = areas.pane_at(m.column, m.row) else {
        return Vec::new();
    };
    match m.kind {
        MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
            if state.mode == Mode::Editing {
                return Vec::new();
            }
            state.focus = pane;
            step(
                state,
                if m.kind == MouseEventKind::ScrollUp {
                    -1
                } else {
                    1
                },
            )
        }
        MouseEventKind::Down(MouseButton::Left) => {
            if state.mode == Mode::Editing && pane != Focus::Params {
                state.mode = Mode::Normal;
            }
            state.focus = pane;
            let Some(rect) = areas.of(pane) else {
                return Vec::new();
            };
            let height = usize::from(rect.height.saturating_sub(2));
            if m.row <= rect.y || m.row >= rect.y + rect.height - 1 {
                return Vec::new();
            }
            let line = usize::from(m.row - rect.y - 1);
            match pane {
                Focus::Workflows => {
                    let rows = state.list_rows();
                    let selected_row = rows
                        .iter()
                        .position(|r| matches!(r, ListRow::Item(i) if Some(i.row.id) == state.selected_def))
                        .unwrap_or(0);
                    let offset = scroll_offset(selected_row, rows.len(), height);
                    match rows.get(offset + line) {
                        Some(ListRow::Item(item)) => {
                            let id = item.row.id;
                            select(state, id)
                        }
                        _ => Vec::new(),
                    }
                }
                Focus::Steps => {
                    let offset = scroll_offset(state.step_selected, state.steps.len(), height);
                    if let Some(l) = state.steps.get(offset + line)
                        && matches!(l.kind, StepLineKind::Step { .. })
                    {
                        state.step_selected = offset + line;
                    }
                    Vec::new()
                }
                Focus::Activity => {
                    let len = state.visible_activity().len();
                    let offset = scroll_offset(state.activity_selected, len, height);
                    if offset + line < len {
                        state.activity_selected = offset + line;
                        if let Some(ActivityRow::Run { run, .. }) =
                            state.visible_activity().get(offset + line)
                        {
                            return vec![Effect::LoadRun(run.id)];
                        }
                    }
                    Vec::new()
                }
                Focus::Params => {
                    if state.params.workflow.is_some() {
                        state.mode = Mode::Editing;
                    }
                    Vec::new()
                }
                Focus::Variables => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}
