//! Scrolling the long texts (help, the variables pane, a trace's detail) and folding long
//! JSON; a text never scrolls past its last line (the view measures how far it can go).

use crate::tui::commands::Cmd;
use crate::tui::state::{Overlay, State};
use crate::tui::view::{Scrolled, max_scroll};

/// Lines `J`/`K` scroll.
const STEP: isize = 3;

/// `J`, `K` and `z`.
pub(super) fn run(state: &mut State, cmd: Cmd) {
    match cmd {
        Cmd::ExpandJson => {
            match &mut state.overlay {
                Some(Overlay::Trace(t)) => t.expanded = !t.expanded,
                _ => state.vars_expanded = !state.vars_expanded,
            }
            clamp_all(state);
        }
        Cmd::ScrollDown => by(state, STEP),
        Cmd::ScrollUp => by(state, -STEP),
        _ => {}
    }
}

/// Scroll what has the keys by `delta` lines: help, a trace's detail, or the variables.
pub(super) fn by(state: &mut State, delta: isize) {
    let which = match &state.overlay {
        Some(Overlay::Help { .. }) => Scrolled::Help,
        Some(Overlay::Trace(_)) => Scrolled::Trace,
        None => Scrolled::Variables,
        Some(_) => return,
    };
    let max = max_scroll(state, which);
    if let Some(scroll) = position(state, which) {
        let moved = usize::from(*scroll).saturating_add_signed(delta);
        *scroll = u16::try_from(moved).unwrap_or(u16::MAX).min(max);
    }
}

/// Keep every scrolled text within its lines (after a resize, or when the text got shorter).
pub(super) fn clamp_all(state: &mut State) {
    for which in [Scrolled::Help, Scrolled::Trace, Scrolled::Variables] {
        let max = max_scroll(state, which);
        if let Some(scroll) = position(state, which) {
            *scroll = (*scroll).min(max);
        }
    }
}

fn position(state: &mut State, which: Scrolled) -> Option<&mut u16> {
    match which {
        Scrolled::Variables => Some(&mut state.vars_scroll),
        Scrolled::Help => match &mut state.overlay {
            Some(Overlay::Help { scroll }) => Some(scroll),
            _ => None,
        },
        Scrolled::Trace => match &mut state.overlay {
            Some(Overlay::Trace(t)) => Some(&mut t.scroll),
            _ => None,
        },
    }
}
