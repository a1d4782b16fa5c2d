//! `update(state, message) → effects`: every change to the studio's state happens here.
//! Keys are resolved to commands through the keymap, commands change the state and ask for
//! effects (load this, emit that); the runtime performs the effects and feeds their results
//! back as messages. Nothing here does I/O. One file per group of commands.

mod compare;
mod editor;
mod mouse;
mod navigation;
mod runs;
mod scroll;
mod tests;

pub use super::message::{DebugTarget, Msg, SessionAction, UiEffect};

use super::commands::{Cmd, palette_matches};
use super::keymap::Key;
use super::state::{InputMode, Overlay, State, Trace};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Apply a message; returns the effects to perform.
pub fn update(state: &mut State, msg: Msg) -> Vec<UiEffect> {
    match msg {
        Msg::Input(Event::Key(key)) => on_key(state, key),
        Msg::Input(Event::Mouse(m)) => mouse::on_mouse(state, m),
        Msg::Input(Event::Paste(text)) => editor::on_paste(state, &text),
        Msg::Input(Event::Resize(w, h)) => {
            state.size = (w, h);
            scroll::clamp_all(state);
            Vec::new()
        }
        Msg::Input(_) => Vec::new(),
        Msg::StoreChanged => navigation::on_store_changed(state),
        Msg::Definitions(items) => navigation::on_definitions(state, items),
        Msg::Activity(rows) => {
            super::follow::on_rows(state, rows);
            Vec::new()
        }
        Msg::Steps { def_id, result } => {
            navigation::on_steps(state, def_id, result);
            Vec::new()
        }
        Msg::Run(run) => {
            if run.as_ref().map(|r| r.id) != state.run.as_ref().map(|r| r.id) {
                state.cursor = None;
                state.vars_scroll = 0;
            }
            state.run = run;
            super::debugging::refresh_watches(state);
            scroll::clamp_all(state);
            Vec::new()
        }
        Msg::Debug(event) => super::debugging::on_event(state, event),
        Msg::Snapshot(snapshot) => {
            super::debugging::on_snapshot(state, *snapshot);
            Vec::new()
        }
        Msg::Breakpoints { definition, list } => {
            if state.selected().is_some_and(|d| d.row.name == definition) {
                state.breakpoints = list;
            }
            Vec::new()
        }
        Msg::Trace(Ok(run)) => {
            let (selected, expanded) = match &state.overlay {
                Some(Overlay::Trace(t)) if t.run.id == run.id => (t.selected, t.expanded),
                _ => (0, false),
            };
            let selected = selected.min(run.steps.as_ref().map_or(0, Vec::len).saturating_sub(1));
            state.overlay = Some(Overlay::Trace(Box::new(Trace {
                run,
                selected,
                expanded,
                scroll: 0,
                case: None,
                back: None,
            })));
            Vec::new()
        }
        Msg::RunDiff(Ok(view)) => {
            state.overlay = Some(Overlay::RunDiff(view));
            Vec::new()
        }
        Msg::Cascade(Ok(tree)) => {
            state.overlay = Some(Overlay::Cascade(Box::new(super::state::CascadeView::of(
                &tree,
            ))));
            Vec::new()
        }
        Msg::Trace(Err(e)) | Msg::RunDiff(Err(e)) | Msg::Cascade(Err(e)) | Msg::Failure(e) => {
            state.warn(e);
            Vec::new()
        }
        Msg::Params { definition, text } => editor::on_loaded(state, &definition, &text),
        Msg::WhatIf { def_id, result } => {
            if let Some(Overlay::Confirm(c)) = &mut state.overlay
                && c.def_id == def_id
            {
                c.what_if = super::state::WhatIfState::Done(result);
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
        Msg::Toggled {
            def_id,
            name,
            active,
        } => {
            let text = format!("{name} is now {}", if active { "on" } else { "off" });
            state.say(text, false, Some((def_id, active)));
            Vec::new()
        }
        Msg::NoticeExpired(id) => {
            if state.notice.as_ref().is_some_and(|n| n.id == id) {
                state.notice = None;
            }
            Vec::new()
        }
        Msg::Changed { what, scope } => vec![UiEffect::RunTests {
            of: what,
            scope,
            show: false,
        }],
        Msg::Tests { of, result, show } => {
            tests::on_tests(state, of, result, show);
            Vec::new()
        }
        Msg::Notice(text) => {
            state.notify(text);
            Vec::new()
        }
    }
}

fn on_key(state: &mut State, key: KeyEvent) -> Vec<UiEffect> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    state.notice = None;
    if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
        return run(state, Cmd::ForceQuit);
    }
    match state.mode {
        InputMode::Prompting => return super::debugging::prompt_key(state, key),
        InputMode::Filtering => return navigation::filter_key(state, key),
        InputMode::Normal | InputMode::Editing => {}
    }
    if let Some(Overlay::Palette { .. }) = state.overlay {
        return palette_key(state, key);
    }
    if let Some(cmd) = state
        .keymap
        .resolve(Key::from_event(&key), &state.contexts())
    {
        return run(state, cmd);
    }
    if state.mode == InputMode::Editing {
        editor::type_key(state, key);
    }
    Vec::new()
}

fn palette_key(state: &mut State, key: KeyEvent) -> Vec<UiEffect> {
    let Some(Overlay::Palette { query, selected }) = &mut state.overlay else {
        return Vec::new();
    };
    match key.code {
        KeyCode::Esc => state.overlay = None,
        KeyCode::Up => *selected = selected.saturating_sub(1),
        KeyCode::Down => {
            *selected = (*selected + 1).min(palette_matches(query).len().saturating_sub(1));
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
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) && !c.is_control() => {
            query.push(c);
            *selected = 0;
        }
        _ => {}
    }
    Vec::new()
}

/// Run a command.
pub fn run(state: &mut State, cmd: Cmd) -> Vec<UiEffect> {
    match cmd {
        Cmd::Quit | Cmd::ForceQuit => {
            state.quit = true;
            editor::save(state)
        }
        Cmd::FocusNext | Cmd::FocusPrev => {
            navigation::cycle_focus(state, cmd == Cmd::FocusNext);
            Vec::new()
        }
        Cmd::Up => navigation::step(state, -1),
        Cmd::Down => navigation::step(state, 1),
        Cmd::PageUp => navigation::step(state, -navigation::page(state)),
        Cmd::PageDown => navigation::step(state, navigation::page(state)),
        Cmd::Top => navigation::step(state, isize::MIN / 2),
        Cmd::Bottom => navigation::step(state, isize::MAX / 2),
        Cmd::Toggle => runs::toggle(state),
        Cmd::EditParams | Cmd::LeaveEditor | Cmd::FormatParams => editor::run(state, cmd),
        Cmd::Emit | Cmd::DebugRun => runs::start(state, cmd),
        Cmd::Deploy | Cmd::Confirm => runs::deploy(state, cmd),
        Cmd::WhatIf => runs::what_if(state),
        Cmd::Open => runs::open(state),
        Cmd::Rerun | Cmd::MarkRun | Cmd::CompareRuns | Cmd::PinRun => compare::run(state, cmd),
        Cmd::RunTests | Cmd::RecordTest => tests::run(state, cmd),
        Cmd::Back => {
            if let Some(Overlay::Trace(t)) = &mut state.overlay
                && let Some(back) = t.back.take()
            {
                state.overlay = Some(*back);
            } else if state.overlay.is_some() {
                state.overlay = None;
            } else if state.mode != InputMode::Normal {
                state.mode = InputMode::Normal;
            }
            Vec::new()
        }
        Cmd::Filter => {
            state.mode = InputMode::Filtering;
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
            vec![UiEffect::SetMouse(state.mouse)]
        }
        Cmd::ScrollDown | Cmd::ScrollUp | Cmd::ExpandJson => {
            scroll::run(state, cmd);
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
        | Cmd::AddWatch
        | Cmd::ClearWatches
        | Cmd::Evaluate
        | Cmd::EditVariable => super::debugging::run(state, cmd),
    }
}
