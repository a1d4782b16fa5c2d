//! The help overlay: every command of the registry with its keys, grouped by where it
//! applies, the ones that need a debug run in some state marked so.

use super::{block, centered, clear, fit};
use crate::tui::commands::{COMMANDS, CommandInfo, Context};
use crate::tui::state::State;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// The groups, in the order help shows them. A command is listed once, in the group of the
/// first place it applies.
const SECTIONS: [(Context, &str); 13] = [
    (Context::Global, "Everywhere"),
    (Context::Workflows, "Workflows and endpoints"),
    (Context::Steps, "Steps"),
    (Context::Params, "Params"),
    (Context::Editor, "Editing params"),
    (Context::Variables, "Variables"),
    (Context::Activity, "Activity"),
    (Context::Debug, "Debugger"),
    (Context::Trace, "Run trace"),
    (Context::Cascade, "Cascade tree"),
    (Context::Tests, "Test results"),
    (Context::Confirm, "Deploy confirm"),
    (Context::Overlay, "Overlays (help, palette, trace, confirm)"),
];

/// The group a command is listed in.
pub(super) fn section_of(c: &CommandInfo) -> Context {
    c.contexts.first().copied().unwrap_or(Context::Global)
}

/// Every help line, in order, fitted to `width` columns (also used to know how far help
/// scrolls).
pub(super) fn help_lines(state: &State, width: usize) -> Vec<Line<'static>> {
    let t = &state.theme;
    let key_width = COMMANDS
        .iter()
        .map(|c| fit::width(&state.keymap.describe(c.cmd)))
        .max()
        .unwrap_or(0)
        .clamp(6, 16);
    let mut lines = Vec::new();
    for (context, title) in SECTIONS {
        let commands: Vec<_> = COMMANDS
            .iter()
            .filter(|c| section_of(c) == context)
            .collect();
        if commands.is_empty() {
            continue;
        }
        lines.push(Line::from(Span::styled(format!(" {title}"), t.accent())));
        for c in commands {
            let keys = state.keymap.describe(c.cmd);
            let keys = if keys.is_empty() {
                format!(":{}", c.name)
            } else {
                keys
            };
            // the description wraps under itself, the mark after its last word
            let indent = 3 + key_width + 2;
            let mark = c.acts.mark();
            let text = if mark.is_empty() {
                c.description.to_string()
            } else {
                format!("{} ({mark})", c.description)
            };
            let wrapped = fit::wrap(&text, width.saturating_sub(indent + 1).max(10));
            for (i, part) in wrapped.into_iter().enumerate() {
                let lead = if i == 0 {
                    Span::styled(
                        format!("   {:<key_width$}  ", fit::shorten(&keys, key_width)),
                        t.accent(),
                    )
                } else {
                    Span::raw(" ".repeat(indent))
                };
                let body = match part.strip_suffix(&format!("({mark})")) {
                    Some(before) if !mark.is_empty() => vec![
                        Span::raw(before.to_string()),
                        Span::styled(format!("({mark})"), t.warn()),
                    ],
                    _ => vec![Span::raw(part)],
                };
                let mut spans = vec![lead];
                spans.extend(body);
                lines.push(Line::from(spans));
            }
        }
        lines.push(Line::from(""));
    }
    for text in [
        "‖ paused: acts while a debug run is paused; ▶ running: while it runs.",
        "Keys and colours can be changed in the config file: flowdeck config --print-default",
    ] {
        for l in fit::wrap(text, width.saturating_sub(1)) {
            lines.push(Line::from(Span::styled(format!(" {l}"), t.muted())));
        }
    }
    fit::lines(lines, width)
}

/// Where help is drawn in `area`.
pub(super) fn rect(area: Rect) -> Rect {
    centered(area, 80, 90)
}

/// Draw help.
pub(super) fn draw(frame: &mut Frame<'_>, state: &State, area: Rect, scroll: u16) {
    let rect = rect(area);
    clear(frame, rect);
    let b = block(
        Span::styled(
            format!(
                " Keys · {} closes ",
                state.keymap.describe(crate::tui::commands::Cmd::Back)
            ),
            state.theme.accent(),
        ),
        true,
        &state.theme,
    );
    let lines = help_lines(state, usize::from(rect.width.saturating_sub(2)));
    frame.render_widget(Paragraph::new(lines).block(b).scroll((scroll, 0)), rect);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::commands::Acts;
    use crate::tui::config::ThemeConfig;
    use crate::tui::keymap::Keymap;
    use crate::tui::theme::Theme;

    #[test]
    fn help_lists_every_command_once_with_its_keys_and_marks() {
        let state = State::new(
            Keymap::defaults(),
            Theme::new(&ThemeConfig::default(), true),
            false,
            "test".into(),
        );
        let lines: Vec<String> = help_lines(&state, 400)
            .iter()
            .map(ToString::to_string)
            .collect();
        for c in COMMANDS {
            let with: Vec<&String> = lines.iter().filter(|l| l.contains(c.description)).collect();
            assert_eq!(with.len(), 1, "{} is listed once: {lines:#?}", c.name);
            let keys = state.keymap.describe(c.cmd);
            assert!(with[0].trim_start().starts_with(&keys), "{}", with[0]);
            let marked = with[0].contains(&format!("({})", c.acts.mark()));
            assert_eq!(marked, c.acts != Acts::Always, "{}", with[0]);
        }
        for key in ["n ", "s ", "o ", "c ", "p ", "a ", "enter "] {
            assert!(
                lines.iter().any(|l| l.trim_start().starts_with(key)),
                "the debugger's {key:?} is in help"
            );
        }
    }
}
