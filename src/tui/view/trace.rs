//! A run's trace: its step records on the left, the selected one's input, output, error and
//! variables on the right, JSON folded where long.

use super::activity::duration;
use super::panes::status_mark;
use super::{block, clear};
use crate::model::StepStatus;
use crate::tui::json_view;
use crate::tui::layout::scroll_offset;
use crate::tui::state::{State, Trace};
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use std::time::Duration;

fn depth(path: &str) -> usize {
    (path.split('/').filter(|s| !s.is_empty()).count() / 2).saturating_sub(1)
}

/// Draw the trace over the panes.
pub fn draw(frame: &mut Frame<'_>, state: &State, area: Rect, trace: &Trace) {
    let t = &state.theme;
    clear(frame, area);
    let run = &trace.run;
    let version = run.version.map_or("draft".to_string(), |v| format!("v{v}"));
    let mut title = vec![
        Span::styled(
            format!(
                " Run #{} · {} {version} · {} ",
                run.id,
                run.target.name(),
                run.mode.as_str()
            ),
            t.accent(),
        ),
        status_mark(run.status, t),
        Span::raw(format!(" {} ", run.status)),
    ];
    if let Some(d) = run.duration() {
        title.push(Span::styled(format!("{} ", duration(d)), t.muted()));
    }
    let outer = block(Line::from(title), true, t);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let cols = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(38), Constraint::Percentage(62)])
        .split(inner);
    let steps = run.steps.as_deref().unwrap_or_default();
    let lines: Vec<Line<'_>> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mark = match s.status {
                StepStatus::Succeeded => Span::styled("✓", t.ok()),
                StepStatus::Failed => Span::styled("✗", t.error()),
            };
            let mut spans = vec![
                Span::styled(format!("{:>3} ", s.seq), t.muted()),
                Span::styled(
                    format!("{:>8} ", duration(Duration::from_micros(s.duration_us))),
                    t.muted(),
                ),
                Span::raw("  ".repeat(depth(&s.path))),
                mark,
                Span::raw(format!(" {}", s.step)),
                Span::styled(format!("  {}", s.action), t.accent()),
            ];
            if s.attempt > 1 {
                spans.push(Span::styled(format!("  attempt {}", s.attempt), t.warn()));
            }
            if !s.iteration.is_empty() {
                let idx: Vec<String> = s.iteration.iter().map(ToString::to_string).collect();
                spans.push(Span::styled(format!("  [{}]", idx.join(",")), t.muted()));
            }
            let line = Line::from(spans);
            if i == trace.selected {
                line.style(t.selected())
            } else {
                line
            }
        })
        .collect();
    let height = cols[0].height as usize;
    let offset = scroll_offset(trace.selected, lines.len(), height);
    let visible: Vec<Line<'_>> = lines.into_iter().skip(offset).take(height).collect();
    if visible.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled(" no steps recorded", t.muted())),
            cols[0],
        );
    } else {
        frame.render_widget(Paragraph::new(visible), cols[0]);
    }
    let mut detail: Vec<Line<'_>> = Vec::new();
    if let Some(s) = steps.get(trace.selected) {
        detail.push(Line::from(vec![
            Span::styled(format!(" {} ", s.step), t.accent()),
            Span::styled(
                format!("{} · {} · {}", s.action, s.path, s.started_at),
                t.muted(),
            ),
        ]));
        section(&mut detail, "input", &s.input, trace.expanded, state);
        if let Some(e) = &s.error {
            detail.push(Line::from(Span::styled(format!(" error: {e}"), t.error())));
        } else {
            section(&mut detail, "output", &s.output, trace.expanded, state);
        }
        if let Some(vars) = &s.vars {
            section(&mut detail, "$var after", vars, trace.expanded, state);
        }
    } else if let Some(e) = &run.error {
        detail.push(Line::from(Span::styled(format!(" {e}"), t.error())));
    }
    if let Some(e) = &run.error {
        detail.push(Line::from(""));
        detail.push(Line::from(Span::styled(
            format!(" run error: {e}"),
            t.error(),
        )));
    }
    if let Some(o) = &run.output {
        detail.push(Line::from(""));
        detail.push(Line::from(Span::styled(" run output", t.accent())));
        for l in json_view::lines(o, trace.expanded) {
            detail.push(Line::from(format!("   {l}")));
        }
    }
    frame.render_widget(Paragraph::new(detail).scroll((trace.scroll, 0)), cols[1]);
}

fn section(
    lines: &mut Vec<Line<'_>>,
    name: &str,
    v: &serde_json::Value,
    expanded: bool,
    state: &State,
) {
    lines.push(Line::from(Span::styled(
        format!(" {name}"),
        state.theme.accent(),
    )));
    for l in json_view::lines(v, expanded) {
        lines.push(Line::from(format!("   {l}")));
    }
}
