//! The command palette and the deploy confirm.

use super::{block, centered, clear, fit};
use crate::tui::commands::{Cmd, palette_matches};
use crate::tui::layout::scroll_offset;
use crate::tui::state::{Confirm, State, WhatIfState};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// The palette: what was typed, and the matching commands with their keys, in columns.
pub(super) fn palette(
    frame: &mut Frame<'_>,
    state: &State,
    area: Rect,
    query: &str,
    selected: usize,
) {
    let t = &state.theme;
    let rect = centered(area, 70, 70);
    clear(frame, rect);
    let width = usize::from(rect.width.saturating_sub(2));
    let title = format!(
        " Commands · enter runs · {} closes ",
        state.keymap.describe(Cmd::Back)
    );
    let b = block(
        fit::line(Line::from(Span::styled(title, t.accent())), width),
        true,
        t,
    );
    let mut lines = vec![
        Line::from(vec![
            Span::styled(" > ", t.accent()),
            Span::raw(fit::tail(query, width.saturating_sub(5))),
            Span::styled("▏", t.accent()),
        ]),
        Line::from(""),
    ];
    let matches = palette_matches(query);
    if matches.is_empty() {
        lines.push(Line::from(Span::styled(" no command matches", t.muted())));
    }
    // columns as wide as their widest entry, two spaces apart
    let name_width = matches.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let key_width = matches
        .iter()
        .map(|c| fit::width(&state.keymap.describe(c.cmd)))
        .max()
        .unwrap_or(0)
        .min(16);
    let rows = usize::from(rect.height.saturating_sub(4));
    let offset = scroll_offset(selected, matches.len(), rows);
    for (i, c) in matches.iter().enumerate().skip(offset).take(rows) {
        let keys = fit::shorten(&state.keymap.describe(c.cmd), key_width);
        let line = Line::from(vec![
            Span::raw(format!(" {:<name_width$}  ", c.name)),
            Span::styled(format!("{keys:<key_width$}  "), t.accent()),
            Span::styled(c.description, t.muted()),
        ]);
        let line = if i == selected {
            line.style(t.selected())
        } else {
            line
        };
        lines.push(fit::line(line, width));
    }
    frame.render_widget(Paragraph::new(lines).block(b), rect);
}

/// The deploy confirm: what changed since the live version, each changed field with its
/// value before and after; a deploy is offered only once there is something to deploy.
pub(super) fn confirm(frame: &mut Frame<'_>, state: &State, area: Rect, c: &Confirm) {
    let t = &state.theme;
    let rect = centered(area, 70, 60);
    clear(frame, rect);
    let width = usize::from(rect.width.saturating_sub(2));
    let live = c
        .live_version
        .map_or("nothing live".to_string(), |v| format!("v{v}"));
    let next = c.live_version.map_or(1, |v| v + 1);
    let changed = matches!(&c.changes, Some(Ok(ch)) if !ch.is_empty());
    let title = if changed {
        format!(" Deploy {}? ", c.name)
    } else {
        format!(" {} ", c.name)
    };
    let b = block(
        fit::line(Line::from(Span::styled(title, t.accent())), width),
        true,
        t,
    );
    let mut lines = Vec::new();
    match &c.changes {
        None => lines.push(Line::from(Span::styled(
            " comparing the draft with the live version…",
            t.muted(),
        ))),
        Some(Err(e)) => {
            for l in fit::wrap(e, width.saturating_sub(1)) {
                lines.push(Line::from(Span::styled(format!(" {l}"), t.error())));
            }
        }
        Some(Ok(changes)) if changes.is_empty() => {
            let text = format!("The draft equals the live version ({live}): nothing to deploy.");
            for l in fit::wrap(&text, width.saturating_sub(1)) {
                lines.push(Line::from(Span::styled(format!(" {l}"), t.muted())));
            }
        }
        Some(Ok(changes)) => {
            lines.push(Line::from(Span::styled(
                format!(" {live} → v{next}"),
                t.muted(),
            )));
            lines.push(Line::from(""));
            for ch in changes {
                let style = match ch.trim_start().chars().next() {
                    Some('+') => t.ok(),
                    Some('-') => t.error(),
                    _ if ch.starts_with("    ") => t.muted(),
                    _ => t.warn(),
                };
                lines.push(Line::from(Span::styled(format!(" {ch}"), style)));
            }
        }
    }
    what_if_lines(&mut lines, state, c, width);
    lines.push(Line::from(""));
    let mut keys = Vec::new();
    if changed && c.what_if == WhatIfState::NotAsked {
        keys.push(Span::styled(
            format!(" {}", state.keymap.describe(Cmd::WhatIf)),
            t.accent(),
        ));
        keys.push(Span::raw(" what-if first  "));
    }
    if changed {
        keys.push(Span::styled(
            format!(" {}", state.keymap.describe(Cmd::Confirm)),
            t.accent(),
        ));
        keys.push(Span::raw(" deploy   "));
    }
    keys.push(Span::styled(
        format!(" {}", state.keymap.describe(Cmd::Back)),
        t.accent(),
    ));
    keys.push(Span::raw(if changed { " cancel" } else { " close" }));
    // the keys stay on the last row however long the list of changes
    let rows = usize::from(rect.height.saturating_sub(2));
    if lines.len() + 1 > rows {
        lines.truncate(rows.saturating_sub(2));
        lines.push(Line::from(Span::styled(" …", t.muted())));
    }
    lines.push(Line::from(keys));
    frame.render_widget(Paragraph::new(fit::lines(lines, width)).block(b), rect);
}

/// What the draft would have done with the events that came in, when asked: the summary and
/// the first differences.
fn what_if_lines(lines: &mut Vec<Line<'static>>, state: &State, c: &Confirm, width: usize) {
    let t = &state.theme;
    match &c.what_if {
        WhatIfState::NotAsked => {}
        WhatIfState::Running => {
            lines.push(Line::from(""));
            lines.push(Line::from(Span::styled(
                " what-if: running the draft against the events that came in…",
                t.muted(),
            )));
        }
        WhatIfState::Done(Err(e)) => {
            lines.push(Line::from(""));
            for l in fit::wrap(&format!("what-if: {e}"), width.saturating_sub(1)) {
                lines.push(Line::from(Span::styled(format!(" {l}"), t.error())));
            }
        }
        WhatIfState::Done(Ok(r)) => {
            lines.push(Line::from(""));
            let summary = if r.events.is_empty() {
                " what-if: no event has come in to try the draft on".to_string()
            } else {
                format!(
                    " what-if on the last {} event(s): {} the same, {} different",
                    r.events.len(),
                    r.same,
                    r.different
                )
            };
            let style = if r.different == 0 { t.ok() } else { t.warn() };
            lines.push(Line::from(Span::styled(summary, style)));
            let shown = r
                .events
                .iter()
                .filter(|e| !e.same)
                .flat_map(|e| e.differences.iter().map(move |d| (e.event_id, d)))
                .take(5);
            for (event, d) in shown {
                lines.push(Line::from(vec![
                    Span::styled(format!("   event #{event} {} ", d.pointer), t.muted()),
                    Span::styled(crate::text::short(&d.live, 30), t.error()),
                    Span::styled(" → ", t.muted()),
                    Span::styled(crate::text::short(&d.draft, 30), t.ok()),
                ]));
            }
        }
    }
}
