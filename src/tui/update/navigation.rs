//! Moving around: what the store says changed, selecting a definition, the filter, focus,
//! and moving the selection of whatever has the keys.

use super::UiEffect;
use super::editor;
use crate::tui::commands::palette_matches;
use crate::tui::data::{ActivityRow, DefinitionItem, StepLine, StepLineKind};
use crate::tui::layout;
use crate::tui::state::{Focus, InputMode, Overlay, Params, State};
use crossterm::event::{KeyCode, KeyEvent};

/// Another connection (or this process's writer) committed: reload what may have changed.
pub(super) fn on_store_changed(state: &State) -> Vec<UiEffect> {
    let mut fx = vec![UiEffect::ReloadAll];
    if let Some(run) = &state.run
        && !run.status.is_finished()
    {
        fx.push(UiEffect::LoadRun(run.id));
    } else if let Some(def) = state.selected_def {
        // a run of the selected workflow may have started or ended
        if state
            .run
            .as_ref()
            .is_none_or(|r| Some(r.id) != last_known_run(state, def))
        {
            fx.push(UiEffect::LoadLastRun(def));
        }
    }
    if let Some(Overlay::Trace(t)) = &state.overlay
        && !t.run.status.is_finished()
    {
        fx.push(UiEffect::OpenTrace(t.run.id));
    }
    fx
}

fn last_known_run(state: &State, def: i64) -> Option<i64> {
    let name = &state.definitions.iter().find(|d| d.row.id == def)?.row.name;
    state
        .activity
        .iter()
        .filter_map(ActivityRow::run)
        .filter(|r| r.target.name() == name)
        .map(|r| r.id)
        .max()
}

/// The workflows and endpoints loaded.
pub(super) fn on_definitions(state: &mut State, items: Vec<DefinitionItem>) -> Vec<UiEffect> {
    let before = state.selected().map(|d| d.row.updated_at);
    state.definitions = items;
    // a notice that a workflow is on (or off) goes when the store says otherwise
    if let Some((def_id, active)) = state.notice.as_ref().and_then(|n| n.about)
        && state
            .definitions
            .iter()
            .any(|d| d.row.id == def_id && d.row.active != active)
    {
        state.notice = None;
    }
    if state.selected().is_none() {
        let first = state.visible_definitions().first().map(|d| d.row.id);
        state.selected_def = None;
        return first.map_or_else(Vec::new, |id| select(state, id));
    }
    // the selected draft changed (another process imported it): reload its steps
    if state.selected().map(|d| d.row.updated_at) != before
        && let Some(id) = state.selected_def
    {
        return vec![UiEffect::LoadSteps(id)];
    }
    Vec::new()
}

/// A steps tree loaded.
pub(super) fn on_steps(state: &mut State, def_id: i64, result: Result<Vec<StepLine>, String>) {
    if state.selected_def != Some(def_id) {
        return;
    }
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
            state
                .steps
                .iter()
                .position(|l| matches!(&l.kind, StepLineKind::Step { id: i, .. } if *i == id))
        })
        .or_else(|| {
            state
                .steps
                .iter()
                .position(|l| matches!(l.kind, StepLineKind::Step { .. }))
        })
        .unwrap_or(0);
}

/// Select a definition, asking for its steps, its params (or request), its breakpoints and
/// its newest run.
pub(super) fn select(state: &mut State, id: i64) -> Vec<UiEffect> {
    if state.selected_def == Some(id) {
        return Vec::new();
    }
    let mut fx = editor::save(state);
    state.selected_def = Some(id);
    state.step_selected = 0;
    state.cursor = None;
    state.vars_scroll = 0;
    state.breakpoints.clear();
    let Some(item) = state.selected().cloned() else {
        return fx;
    };
    let row = item.row;
    fx.push(UiEffect::LoadSteps(id));
    fx.push(UiEffect::LoadLastRun(id));
    fx.push(UiEffect::LoadBreakpoints(row.name.clone()));
    state.params = Params::new(Some(row.name.clone()), row.kind, row.path.clone(), "{}");
    state.params.loaded = false;
    fx.push(UiEffect::LoadParams {
        definition: row.name,
        event: row.on_event,
        route: row.path,
    });
    fx
}

/// A key typed into the filter.
pub(super) fn filter_key(state: &mut State, key: KeyEvent) -> Vec<UiEffect> {
    match key.code {
        KeyCode::Esc => {
            state.filter.clear();
            state.mode = InputMode::Normal;
        }
        KeyCode::Enter => state.mode = InputMode::Normal,
        KeyCode::Backspace => {
            state.filter.pop();
        }
        KeyCode::Char(c) if !c.is_control() => state.filter.push(c),
        _ => {}
    }
    after_filter(state)
}

/// The filter changed: read the activity for it, and keep the selections within what it
/// lets through.
pub(super) fn after_filter(state: &mut State) -> Vec<UiEffect> {
    let mut effects = vec![UiEffect::Filter(state.filter.clone())];
    effects.extend(keep_selections(state));
    effects
}

fn keep_selections(state: &mut State) -> Vec<UiEffect> {
    state.activity_selected = state
        .activity_selected
        .min(state.visible_activity().len().saturating_sub(1));
    crate::tui::follow::on_moved(state);
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

/// Focus the next (or previous) pane.
pub(super) fn cycle_focus(state: &mut State, forward: bool) {
    let n = Focus::ALL.len();
    let i = Focus::ALL
        .iter()
        .position(|f| *f == state.focus)
        .unwrap_or(0);
    let next = if forward {
        (i + 1) % n
    } else {
        (i + n - 1) % n
    };
    state.focus = Focus::ALL[next];
}

/// The rows a page moves in the focused pane.
pub(super) fn page(state: &State) -> isize {
    let areas = layout::layout(state.size, state.focus, state.mode, state.narrow());
    let rows = areas
        .of(state.focus)
        .map_or(10, |r| usize::from(r.height.saturating_sub(3)).max(1));
    isize::try_from(rows).unwrap_or(10)
}

/// `i` moved by `delta` within `0..len`.
fn moved(i: usize, len: usize, delta: isize) -> usize {
    if len == 0 {
        return 0;
    }
    i.saturating_add_signed(delta).min(len - 1)
}

/// Move the selection of whatever has the keys by `delta` rows.
pub(super) fn step(state: &mut State, delta: isize) -> Vec<UiEffect> {
    match &mut state.overlay {
        Some(Overlay::Trace(t)) => {
            let len = t.run.steps.as_ref().map_or(0, Vec::len);
            t.selected = moved(t.selected, len, delta);
            t.scroll = 0;
            return Vec::new();
        }
        Some(Overlay::Help { .. }) => {
            super::scroll::by(state, delta);
            return Vec::new();
        }
        Some(Overlay::Palette { query, selected }) => {
            *selected = moved(*selected, palette_matches(query).len(), delta);
            return Vec::new();
        }
        Some(Overlay::Confirm(_)) => return Vec::new(),
        Some(Overlay::RunDiff(d)) => {
            d.selected = moved(d.selected, d.diff.steps.len(), delta);
            return Vec::new();
        }
        Some(Overlay::Cascade(c)) => {
            c.selected = moved(c.selected, c.lines.len(), delta);
            return Vec::new();
        }
        Some(Overlay::Tests(t)) => {
            let count = match &t.result {
                Some(Ok(r)) => r.report.cases.len(),
                _ => 0,
            };
            t.selected = moved(t.selected, count, delta);
            return Vec::new();
        }
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
            match ids.get(moved(at, ids.len(), delta)) {
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
            if let Some(i) = steps.get(moved(at, steps.len(), delta)) {
                state.step_selected = *i;
            }
            Vec::new()
        }
        Focus::Activity => {
            let len = state.visible_activity().len();
            state.activity_selected = moved(state.activity_selected, len, delta);
            crate::tui::follow::on_moved(state);
            let mut fx = match state.visible_activity().get(state.activity_selected) {
                Some(ActivityRow::Run { run, .. }) => vec![UiEffect::LoadRun(run.id)],
                _ => Vec::new(),
            };
            if len > 0 && state.activity_selected + 1 == len {
                // at the end of what is loaded: page older events in
                fx.push(UiEffect::LoadOlder);
            }
            fx
        }
        Focus::Variables => {
            super::scroll::by(state, delta);
            Vec::new()
        }
        Focus::Params => Vec::new(),
    }
}
