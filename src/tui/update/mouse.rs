//! The mouse (when captured): a click focuses a pane and selects its row, the wheel moves
//! the selection or scrolls.

use super::UiEffect;
use super::navigation::{select, step};
use crate::tui::data::{ActivityRow, StepLineKind};
use crate::tui::layout::{self, scroll_offset};
use crate::tui::state::{Focus, InputMode, ListRow, Overlay, State};
use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};

/// A mouse event.
pub(super) fn on_mouse(state: &mut State, m: MouseEvent) -> Vec<UiEffect> {
    let wheel = match m.kind {
        MouseEventKind::ScrollUp => Some(-1),
        MouseEventKind::ScrollDown => Some(1),
        _ => None,
    };
    if !state.mouse || state.overlay.is_some() || state.mode == InputMode::Filtering {
        return match (&state.overlay, wheel) {
            (Some(Overlay::Trace(_) | Overlay::Help { .. }), Some(delta)) => step(state, delta),
            _ => Vec::new(),
        };
    }
    if layout::too_small(state.size) {
        return Vec::new();
    }
    let areas = layout::layout(state.size, state.focus, state.mode, state.narrow());
    let Some(pane) = areas.pane_at(m.column, m.row) else {
        return Vec::new();
    };
    if let Some(delta) = wheel {
        if state.mode == InputMode::Editing {
            return Vec::new();
        }
        state.focus = pane;
        return step(state, delta);
    }
    if m.kind != MouseEventKind::Down(MouseButton::Left) {
        return Vec::new();
    }
    if state.mode == InputMode::Editing && pane != Focus::Params {
        state.mode = InputMode::Normal;
    }
    state.focus = pane;
    let Some(rect) = areas.of(pane) else {
        return Vec::new();
    };
    // inside the border
    let top = rect.y.saturating_add(1);
    let bottom = rect.y.saturating_add(rect.height).saturating_sub(1);
    if m.row < top || m.row >= bottom {
        return Vec::new();
    }
    let line = usize::from(m.row - top);
    let height = usize::from(rect.height.saturating_sub(2));
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
            if offset + line >= len {
                return Vec::new();
            }
            state.activity_selected = offset + line;
            crate::tui::follow::on_moved(state);
            match state.visible_activity().get(offset + line) {
                Some(ActivityRow::Run { run, .. }) => vec![UiEffect::LoadRun(run.id)],
                _ => Vec::new(),
            }
        }
        Focus::Params => {
            if state.params.definition.is_some() && state.params.loaded {
                state.mode = InputMode::Editing;
            }
            Vec::new()
        }
        Focus::Variables => Vec::new(),
    }
}
