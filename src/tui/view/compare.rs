//! Two runs side by side, and an event's cascade as a tree.

use super::activity::{clock, duration, short};
use super::panes::status_mark;
use super::{block, clear, fit};
use crate::engine::compare::Change;
use crate::model::{RunRecord, StepRecord};
use crate::tui::layout::scroll_offset;
use crate::tui::state::{CascadeLine, CascadeView, RunDiffView, State};
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// A run's title line: id, what, version, status.
fn run_title(run: &RunRecord, t: &crate::tui::theme::Theme) -> Line<'static> {
    let version = run.version.map_or("draft".to_string(), |v| format!("v{v}"));
    Line::from(vec![
        Span::styled(
            format!(" run #{} · {} {version} ", run.id, run.target.name()),
            t.accent(),
        ),
        status_mark(run.status, t),
        Span::raw(format!(" {}", run.status)),
    ])
}

/// What a step record did, in a few words.
fn did(s: &StepRecord) -> String {
    match &s.error {
        Some(e) => format!("✗ {e}"),
        None if s.output.is_null() => "✓".to_string(),
        None => format!("✓ {}", short(&s.output, 60)),
    }
}

/// The last record of the step at `path` and `iteration` in `run`.
fn record<'a>(run: &'a RunRecord, path: &str, iteration: &[usize]) -> Option<&'a StepRecord> {
    run.steps
        .as_deref()
        .unwrap_or_default()
        .iter()
        .rev()
        .find(|s| s.path == path && s.iteration == iteration && s.action != "override")
}

fn change_line(c: &Change, t: &crate::tui::theme::Theme) -> Line<'static> {
    Line::from(vec![
        Span::styled(
            format!(
                "   {} ",
                if c.pointer.is_empty() {
                    "/"
                } else {
                    &c.pointer
                }
            ),
            t.accent(),
        ),
        Span::styled(short(&c.a, 50), t.error()),
        Span::styled(" → ", t.muted()),
        Span::styled(short(&c.b, 50), t.ok()),
    ])
}

/// Two runs side by side: the steps of each, aligned, marked where they differ, and the
/// differences of the selected step (or of the params and output) below.
pub(super) fn run_diff(frame: &mut Frame<'_>, state: &State, area: Rect, view: &RunDiffView) {
    let t = &state.theme;
    clear(frame, area);
    let d = &view.diff;
    let title = if d.is_same() {
        format!(" Run #{} ↔ run #{}: the same ", d.a, d.b)
    } else {
        format!(" Run #{} ↔ run #{} ", d.a, d.b)
    };
    let outer = block(Span::styled(title, t.accent()), true, t);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(inner.height.saturating_mul(2) / 5),
        ])
        .split(inner);
    let cols = |r: Rect| {
        Layout::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Percentage(50), Constraint::Percentage(50)])
            .split(r)
    };
    let head = cols(rows[0]);
    let half = usize::from(head[0].width);
    frame.render_widget(
        Paragraph::new(fit::line(run_title(&view.a, t), half)),
        head[0],
    );
    frame.render_widget(
        Paragraph::new(fit::line(run_title(&view.b, t), half)),
        head[1],
    );
    // the steps, aligned
    let body = cols(rows[1]);
    let height = usize::from(rows[1].height);
    let offset = scroll_offset(view.selected, d.steps.len(), height);
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for (i, s) in d.steps.iter().enumerate().skip(offset).take(height) {
        let (mark, style) = match (s.only_in, s.changes.is_empty()) {
            (Some(_), _) if s.before_start => ("·", t.muted()),
            (Some("a"), _) => ("-", t.error()),
            (Some(_), _) => ("+", t.ok()),
            (None, true) => ("=", t.muted()),
            (None, false) => ("~", t.warn()),
        };
        let side = |run: &RunRecord| -> Line<'static> {
            match record(run, &s.path, &s.iteration) {
                Some(r) => Line::from(vec![
                    Span::styled(format!("{mark} "), style),
                    Span::raw(format!("{}  ", s.step)),
                    Span::styled(did(r), t.muted()),
                ]),
                None => Line::from(Span::styled(
                    format!("  ({} did not run)", s.step),
                    t.muted(),
                )),
            }
        };
        let (mut l, mut r) = (side(&view.a), side(&view.b));
        if i == view.selected {
            l = l.style(t.selected());
            r = r.style(t.selected());
        }
        left.push(fit::line(l, half));
        right.push(fit::line(r, usize::from(body[1].width)));
    }
    frame.render_widget(Paragraph::new(left), body[0]);
    frame.render_widget(Paragraph::new(right), body[1]);
    // what differs: the selected step's changes, then the run's
    let mut lines = Vec::new();
    if let Some(s) = d.steps.get(view.selected) {
        let what = match s.only_in {
            Some(side) if s.before_start => format!(
                " {}: before run #{} began (a rerun from a later step)",
                s.step,
                if side == "a" { d.b } else { d.a }
            ),
            Some("a") => format!(" {}: only in run #{}", s.step, d.a),
            Some(_) => format!(" {}: only in run #{}", s.step, d.b),
            None if s.changes.is_empty() => format!(" {}: the same in both", s.step),
            None => format!(" {}:", s.step),
        };
        lines.push(Line::from(Span::styled(what, t.accent())));
        lines.extend(s.changes.iter().map(|c| change_line(c, t)));
    }
    if d.status[0] != d.status[1] {
        lines.push(Line::from(Span::styled(
            format!(" status: {} → {}", d.status[0], d.status[1]),
            t.warn(),
        )));
    }
    for (what, list) in [("params", &d.params), ("output", &d.output)] {
        if !list.is_empty() {
            lines.push(Line::from(Span::styled(format!(" {what}:"), t.accent())));
            lines.extend(list.iter().map(|c| change_line(c, t)));
        }
    }
    frame.render_widget(
        Paragraph::new(fit::lines(lines, usize::from(rows[2].width))),
        rows[2],
    );
}

/// An event's cascade as a tree: events, each listener's run (status, time) or why it did
/// not run (a loop marked ↻), the events the runs emitted below them.
pub(super) fn cascade(frame: &mut Frame<'_>, state: &State, area: Rect, view: &CascadeView) {
    let t = &state.theme;
    clear(frame, area);
    let title = format!(
        " Cascade of event #{} · enter opens a run's trace · {} closes ",
        view.root,
        state.keymap.describe(crate::tui::commands::Cmd::Back)
    );
    let width = usize::from(area.width.saturating_sub(2));
    let outer = block(
        fit::line(Line::from(Span::styled(title, t.accent())), width),
        true,
        t,
    );
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let height = usize::from(inner.height);
    let offset = scroll_offset(view.selected, view.lines.len(), height);
    let lines: Vec<Line<'_>> = view
        .lines
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, (depth, line))| {
            let pad = "  ".repeat(*depth);
            let line = match line {
                CascadeLine::Event(e) => Line::from(vec![
                    Span::raw(format!(" {pad}")),
                    Span::styled(
                        format!("{} event #{} ", clock(e.emitted_at), e.id),
                        t.muted(),
                    ),
                    Span::styled(e.name.clone(), t.accent()),
                    Span::raw(format!(" {}", short(&e.params, 60))),
                    Span::styled(format!("  from {}", e.source), t.muted()),
                ]),
                CascadeLine::Run(run) => {
                    let version = run.version.map_or("draft".to_string(), |v| format!("v{v}"));
                    let mut spans = vec![
                        Span::raw(format!(" {pad}")),
                        status_mark(run.status, t),
                        Span::raw(format!(" {}", run.target.name())),
                        Span::styled(
                            format!("  run #{} {version}  {}", run.id, run.status),
                            t.muted(),
                        ),
                    ];
                    if let Some(d) = run.duration() {
                        spans.push(Span::styled(format!("  {}", duration(d)), t.muted()));
                    }
                    if let Some(e) = &run.error {
                        spans.push(Span::styled(format!("  {e}"), t.error()));
                    }
                    Line::from(spans)
                }
                CascadeLine::Skip {
                    workflow,
                    reason,
                    is_loop,
                } => Line::from(vec![
                    Span::raw(format!(" {pad}")),
                    Span::styled(if *is_loop { "↻" } else { "·" }, t.warn()),
                    Span::raw(format!(" {workflow}")),
                    Span::styled(format!("  skipped: {reason}"), t.warn()),
                ]),
            };
            let line = if i == view.selected {
                line.style(t.selected())
            } else {
                line
            };
            fit::line(line, usize::from(inner.width))
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}
