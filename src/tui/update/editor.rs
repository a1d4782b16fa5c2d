//! The params pane's editor: typing, pasting, pretty-printing, and remembering what it holds
//! (a workflow's params or an endpoint's request) in the store.

use super::UiEffect;
use crate::tui::commands::Cmd;
use crate::tui::input::ParamsCheck;
use crate::tui::state::{Focus, InputMode, State};
use crossterm::event::{KeyCode, KeyEvent};

/// Edit, leave the editor, or pretty-print.
pub(super) fn run(state: &mut State, cmd: Cmd) -> Vec<UiEffect> {
    match cmd {
        Cmd::EditParams => {
            if state.params.definition.is_none() {
                state.warn("select a workflow or an endpoint to edit what it runs with");
            } else if !state.params.loaded {
                state.params.pending = Some(cmd);
            } else {
                state.mode = InputMode::Editing;
                state.focus = Focus::Params;
            }
            Vec::new()
        }
        Cmd::LeaveEditor => {
            state.mode = InputMode::Normal;
            save(state)
        }
        Cmd::FormatParams => {
            match &state.params.check {
                ParamsCheck::Valid(v) => {
                    let text = serde_json::to_string_pretty(v).unwrap_or_default();
                    state.params = state.params.replaced(&text);
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
        _ => Vec::new(),
    }
}

/// A key the keymap does not take, typed into the editor (control characters are not text).
pub(super) fn type_key(state: &mut State, key: KeyEvent) {
    if matches!(key.code, KeyCode::Char(c) if c.is_control()) {
        return;
    }
    if state.params.editor.input(key) {
        state.params.changed();
    }
}

/// Pasted text as the editor keeps it: line breaks as `\n` (a terminal may send `\r\n` or
/// `\r`), and no control characters but tabs.
fn clean(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

/// Pasted text: into the editor, the filter or the prompt, whichever takes the keys (and
/// into the editor when the params pane is focused).
pub(super) fn on_paste(state: &mut State, text: &str) -> Vec<UiEffect> {
    let text = clean(text);
    match state.mode {
        InputMode::Editing => {
            state.params.editor.insert_str(&text);
            state.params.changed();
            Vec::new()
        }
        InputMode::Filtering => {
            let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
            state.filter.push_str(&line);
            super::navigation::after_filter(state)
        }
        InputMode::Prompting => {
            crate::tui::debugging::prompt_paste(state, &text);
            Vec::new()
        }
        InputMode::Normal => {
            if state.overlay.is_none()
                && state.focus == Focus::Params
                && state.params.definition.is_some()
                && state.params.loaded
            {
                state.mode = InputMode::Editing;
                state.params.editor.insert_str(&text);
                state.params.changed();
            }
            Vec::new()
        }
    }
}

/// The saved params (or request) of a definition arrived: show them, unless the user has
/// already typed, and run what was waiting for them.
pub(super) fn on_loaded(state: &mut State, definition: &str, text: &str) -> Vec<UiEffect> {
    if state.params.definition.as_deref() != Some(definition) || state.params.dirty {
        return Vec::new();
    }
    let pending = state.params.pending.take();
    state.params = state.params.replaced(text);
    match pending {
        Some(cmd) => super::run(state, cmd),
        None => Vec::new(),
    }
}

/// Remember the pane's text for its definition, when it changed.
pub(super) fn save(state: &mut State) -> Vec<UiEffect> {
    match state.params.definition.clone() {
        Some(definition) if state.params.dirty => {
            state.params.dirty = false;
            vec![UiEffect::SaveParams {
                definition,
                text: state.params.text(),
            }]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn pasted_line_breaks_are_kept_whatever_their_kind() {
        assert_eq!(clean("{\r\n\"a\": 1\r\n}"), "{\n\"a\": 1\n}");
        assert_eq!(clean("{\r\"a\": 1\r}"), "{\n\"a\": 1\n}");
        assert_eq!(clean("a\tb\u{1b}[31m\u{7}"), "a\tb[31m");
    }
}
