//! The command palette and the deploy confirm.

use super::{block, centered, clear};
use crate::tui::commands::palette_matches;
use crate::tui::state::{Confirm, State};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

/// The palette: what was typed, and the matching commands with their keys.
pub fn palette(frame: &mut Frame<'_>, state: &State, area: Rect, query: &str, selected: usize) {
    let t = &state.theme;
    let rect = centered(area, 70, 70);
    clear(frame, rect);
    let b = block(
        Span::styled(" Commands · enter runs · esc closes ", t.accent()),
        true,
        t,
    );
    let mut lines = vec![
        Line::from(vec![
            Span::styled(" > ", t.accent()),
            Span::raw(query.to_string()),
            Span::styled("▏", t.accent()),
        ]),
        Line::from(""),
    ];
    let matches = palette_matches(query);
    if matches.is_empty() {
        lines.push(Line::from(Span::styled(" no command matches", t.muted())));
    }
    for (i, c) in matches.iter().enumerate() {
        let line = Line::from(vec![
            Span::raw(format!(" {:<14}", c.name)),
            Span::styled(format!("{:<12}", state.keymap.describe(c.cmd)), t.accent()),
            Span::styled(c.description, t.muted()),
        ]);
        lines.push(if i == selected {
            line.style(t.selected())
        } else {
            line
        });
    }
    frame.render_widget(Paragraph::new(lines).block(b), rect);
}

/// The deploy confirm: what changed since the live version.
pub fn confirm(frame: &mut Frame<'_>, state: &State, area: Rect, c: &Confirm) {
    let t = &state.theme;
    let rect = centered(area, 70, 60);
    clear(frame, rect);
    let next = c.live_version.map_or(1, |v| v + 1);
    let from = c
        .live_version
        .map_or("nothing live".to_string(), |v| format!("v{v}"));
    let b = block(
        Span::styled(format!(" Deploy {}? ", c.name), t.accent()),
        true,
        t,
    );
    let mut lines = vec![
        Line::from(Span::styled(format!(" {from} → v{next}"), t.muted())),
        Line::from(""),
    ];
    match &c.changes {
        None => lines.push(Line::from(Span::styled(
            " comparing with the live version…",
            t.muted(),
        ))),
        Some(Err(e)) => lines.push(Line::from(Span::styled(format!(" {e}"), t.error()))),
        Some(Ok(changes)) if changes.is_empty() => lines.push(Line::from(Span::styled(
            " The draft equals the live version: nothing to deploy.",
            t.muted(),
        ))),
        Some(Ok(changes)) => {
            for ch in changes {
                let style = match ch.chars().next() {
                    Some('+') => t.ok(),
                    Some('-') => t.error(),
                    _ => t.warn(),
                };
                lines.push(Line::from(Span::styled(format!(" {ch}"), style)));
            }
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::from(vec![
        Span::styled(
            format!(
                " {}",
                state.keymap.describe(crate::tui::commands::Cmd::Confirm)
            ),
            t.accent(),
        ),
        Span::raw(" deploy   "),
        Span::styled(
            state.keymap.describe(crate::tui::commands::Cmd::Back),
            t.accent(),
        ),
        Span::raw(" cancel"),
    ]));
    frame.render_widget(
        Paragraph::new(lines).block(b).wrap(Wrap { trim: false }),
        rect,
    );
}
