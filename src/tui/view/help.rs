//! The help overlay: every command with its keys, by where it applies, from the registry.

use super::{block, centered, clear};
use crate::tui::commands::{COMMANDS, Context};
use crate::tui::state::State;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

const SECTIONS: [(Context, &str); 7] = [
    (Context::Global, "Everywhere"),
    (Context::Workflows, "Workflows"),
    (Context::Activity, "Activity"),
    (Context::Params, "Params"),
    (Context::Editor, "Editing params"),
    (Context::Trace, "Run trace"),
    (Context::Overlay, "Overlays (help, palette, trace, confirm)"),
];

/// Every help line, in order (also used to know how far help scrolls).
pub fn help_lines(state: &State) -> Vec<Line<'static>> {
    let t = &state.theme;
    let mut lines = Vec::new();
    for (context, title) in SECTIONS {
        let commands: Vec<_> = COMMANDS
            .iter()
            .filter(|c| c.contexts.contains(&context))
            .collect();
        if commands.is_empty() {
            continue;
        }
        lines.push(Line::from(Span::styled(format!(" {title}"), t.accent())));
        for c in commands {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("   {:<16}", state.keymap.describe(c.cmd)),
                    t.accent(),
                ),
                Span::raw(c.description),
            ]));
        }
        lines.push(Line::from(""));
    }
    lines.push(Line::from(Span::styled(
        " Keys and colours can be changed in the config file: flowdeck config --print-default",
        t.muted(),
    )));
    lines
}

/// Draw help.
pub fn draw(frame: &mut Frame<'_>, state: &State, area: Rect, scroll: u16) {
    let rect = centered(area, 80, 90);
    clear(frame, rect);
    let b = block(
        Span::styled(" Keys · esc closes ", state.theme.accent()),
        true,
        &state.theme,
    );
    frame.render_widget(
        Paragraph::new(help_lines(state))
            .block(b)
            .scroll((scroll, 0)),
        rect,
    );
}
