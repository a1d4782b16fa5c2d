//! The activity log: events with their listeners (ran, with status and time, or skipped,
//! with why), and endpoint calls and debug runs.

use super::panes::status_mark;
use super::{fit, titled_block};
use crate::tui::commands::Cmd;
use crate::tui::data::ActivityRow;
use crate::tui::layout::scroll_offset;
use crate::tui::state::{Focus, InputMode, State};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// `12:01:02` of a timestamp (UTC).
pub(crate) fn clock(t: crate::model::Timestamp) -> String {
    let text = t.to_string();
    text.get(11..19).unwrap_or(&text).to_string()
}

pub(crate) use crate::text::{duration, short};

/// Draw the activity log.
pub(super) fn draw(frame: &mut Frame<'_>, state: &State, area: Rect) {
    let t = &state.theme;
    let focused = state.focus == Focus::Activity && state.mode == InputMode::Normal;
    let rows = state.visible_activity();
    // where the user left the newest entries: how many arrived since, and how to get there
    let note = (state.activity_new > 0).then(|| {
        Line::from(Span::styled(
            format!(" ↑ {} new · {} ", state.activity_new, state.key(Cmd::Top)),
            t.warn(),
        ))
    });
    let b = titled_block(
        Line::from(Span::styled(" Activity ", t.accent())),
        note,
        focused,
        t,
        area.width,
    );
    if rows.is_empty() {
        let text = if state.activity.is_empty() {
            format!(
                "Nothing yet: select a workflow and press {} to emit its event",
                state.key(Cmd::Emit)
            )
        } else {
            "Nothing matches the filter".to_string()
        };
        let lines: Vec<Line<'_>> = fit::wrap(&text, usize::from(area.width.saturating_sub(3)))
            .into_iter()
            .map(|l| Line::from(Span::styled(format!(" {l}"), t.muted())))
            .collect();
        frame.render_widget(Paragraph::new(lines).block(b), area);
        return;
    }
    let lines: Vec<Line<'_>> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let line = match row {
                ActivityRow::Event(e) => Line::from(vec![
                    Span::styled(format!(" {} ", clock(e.emitted_at)), t.muted()),
                    Span::styled(format!("event #{} ", e.id), t.muted()),
                    Span::styled(e.name.clone(), t.accent()),
                    Span::raw(format!(" {}", short(&e.params, 60))),
                    Span::styled(
                        match e.replay_of {
                            Some(of) => format!("  replays #{of}"),
                            None => format!("  from {}", e.source),
                        },
                        t.muted(),
                    ),
                ]),
                ActivityRow::Run { run, nested } => {
                    let mut spans = if *nested {
                        vec![Span::raw("            ")]
                    } else {
                        vec![Span::styled(
                            format!(" {} ", clock(run.queued_at)),
                            t.muted(),
                        )]
                    };
                    spans.push(status_mark(run.status, t));
                    spans.push(Span::raw(format!(" {}", run.target.name())));
                    let version = run.version.map_or("draft".to_string(), |v| format!("v{v}"));
                    spans.push(Span::styled(
                        format!("  run #{} {version}", run.id),
                        t.muted(),
                    ));
                    spans.push(Span::raw(format!("  {}", run.status)));
                    if let Some(of) = run.rerun_of {
                        spans.push(Span::styled(format!("  rerun of #{of}"), t.muted()));
                    }
                    if let Some(d) = run.duration() {
                        spans.push(Span::styled(format!("  {}", duration(d)), t.muted()));
                    }
                    if let Some(e) = &run.error {
                        spans.push(Span::styled(format!("  {e}"), t.error()));
                    }
                    Line::from(spans)
                }
                ActivityRow::Skip(s) => Line::from(vec![
                    Span::raw("            "),
                    Span::styled("·", t.muted()),
                    Span::raw(format!(" {}", s.workflow)),
                    Span::styled(format!("  skipped: {}", s.reason), t.warn()),
                ]),
            };
            if i == state.activity_selected {
                line.style(if focused {
                    t.selected()
                } else {
                    t.selected_unfocused()
                })
            } else {
                line
            }
        })
        .collect();
    let inner = b.inner(area);
    let offset = scroll_offset(state.activity_selected, lines.len(), inner.height as usize);
    let visible: Vec<Line<'_>> = lines
        .into_iter()
        .skip(offset)
        .take(inner.height as usize)
        .map(|l| fit::line(l, usize::from(inner.width)))
        .collect();
    frame.render_widget(Paragraph::new(visible).block(b), area);
}
