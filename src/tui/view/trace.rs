//! A run's trace: its step records on the left, the selected one's input, output, error and
//! variables on the right, JSON folded where long; an endpoint's response at the end.

use super::activity::duration;
use super::panes::status_mark;
use super::{block, clear, fit};
use crate::model::StepStatus;
use crate::tui::json_view;
use crate::tui::layout::scroll_offset;
use crate::tui::state::{State, Trace};
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use std::rc::Rc;
use std::time::Duration;

fn depth(path: &str) -> usize {
    (path.split('/').filter(|s| !s.is_empty()).count() / 2).saturating_sub(1)
}

/// The trace's two columns inside its frame over `area`: the records and the detail.
fn columns(area: Rect) -> Rc<[Rect]> {
    // inside the border
    let inner = Rect::new(
        area.x.saturating_add(1),
        area.y.saturating_add(1),
        area.width.saturating_sub(2),
        area.height.saturating_sub(2),
    );
    Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(38), Constraint::Percentage(62)])
        .split(inner)
}

/// Where the detail column is drawn when the trace covers `area`.
pub(super) fn detail_rect(area: Rect) -> Rect {
    columns(area)[1]
}

/// Every line of the detail column, fitted to `width` columns.
pub(super) fn detail_lines(state: &State, trace: &Trace, width: usize) -> Vec<Line<'static>> {
    let t = &state.theme;
    let run = &trace.run;
    let steps = run.steps.as_deref().unwrap_or_default();
    let mut detail: Vec<Line<'static>> = Vec::new();
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
            wrapped(&mut detail, &format!("error: {e}"), width, t.error());
        } else {
            section(&mut detail, "output", &s.output, trace.expanded, state);
        }
        if let Some(vars) = &s.vars {
            section(&mut detail, "$var after", vars, trace.expanded, state);
        }
    }
    if let Some((status, body)) = run.response() {
        detail.push(Line::from(""));
        section(
            &mut detail,
            &format!("response {status}"),
            &body,
            trace.expanded,
            state,
        );
    } else {
        if let Some(e) = &run.error {
            detail.push(Line::from(""));
            wrapped(&mut detail, &format!("run error: {e}"), width, t.error());
        }
        if let Some(o) = &run.output {
            detail.push(Line::from(""));
            section(&mut detail, "run output", o, trace.expanded, state);
        }
    }
    fit::lines(detail, width)
}

/// Draw the trace over the panes.
pub(super) fn draw(frame: &mut Frame<'_>, state: &State, area: Rect, trace: &Trace) {
    let t = &state.theme;
    clear(frame, area);
    let run = &trace.run;
    let version = run.version.map_or("draft".to_string(), |v| format!("v{v}"));
    let head = match &trace.case {
        Some(case) => format!(" Test case {case:?} · {} {version} ", run.target.name()),
        None => format!(
            " Run #{} · {} {version} · {} ",
            run.id,
            run.target.name(),
            run.mode.as_str()
        ),
    };
    let mut title = vec![
        Span::styled(head, t.accent()),
        status_mark(run.status, t),
        Span::raw(format!(" {} ", run.status)),
    ];
    // a test case's run is timed by its virtual clock: no duration worth showing
    if let Some(d) = run.duration().filter(|_| trace.case.is_none()) {
        title.push(Span::styled(format!("{} ", duration(d)), t.muted()));
    }
    if let Some(of) = run.rerun_of {
        let from = run
            .from_step
            .as_deref()
            .map_or(String::new(), |s| format!(" from {s}"));
        title.push(Span::styled(format!("· rerun of #{of}{from} "), t.muted()));
    }
    let room = usize::from(area.width.saturating_sub(2));
    let outer = block(fit::line(Line::from(title), room), true, t);
    frame.render_widget(outer, area);
    let cols = columns(area);
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
    let height = usize::from(cols[0].height);
    let offset = scroll_offset(trace.selected, lines.len(), height);
    let visible: Vec<Line<'_>> = lines
        .into_iter()
        .skip(offset)
        .take(height)
        .map(|l| fit::line(l, usize::from(cols[0].width)))
        .collect();
    if visible.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled(" no steps recorded", t.muted())),
            cols[0],
        );
    } else {
        frame.render_widget(Paragraph::new(visible), cols[0]);
    }
    let detail = detail_lines(state, trace, usize::from(cols[1].width));
    let max = detail.len().saturating_sub(usize::from(cols[1].height));
    let scroll = trace.scroll.min(u16::try_from(max).unwrap_or(u16::MAX));
    frame.render_widget(Paragraph::new(detail).scroll((scroll, 0)), cols[1]);
}

fn wrapped(lines: &mut Vec<Line<'static>>, text: &str, width: usize, style: ratatui::style::Style) {
    for l in fit::wrap(text, width.saturating_sub(1)) {
        lines.push(Line::from(Span::styled(format!(" {l}"), style)));
    }
}

fn section(
    lines: &mut Vec<Line<'static>>,
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
