//! Test results in the studio: each case with ✓ ✗ or ·, the selected case's failures (where,
//! what was expected, what happened), the faults of test files that could not run.

use super::{block, clear, fit};
use crate::suite::{CaseResult, CaseStatus};
use crate::tui::commands::Cmd;
use crate::tui::layout::scroll_offset;
use crate::tui::state::{State, TestsView};
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// The results overlay.
pub(super) fn draw(frame: &mut Frame<'_>, state: &State, area: Rect, view: &TestsView) {
    let t = &state.theme;
    clear(frame, area);
    let summary = match &view.result {
        None => "running…".to_string(),
        Some(Err(_)) => "could not run".to_string(),
        Some(Ok(r)) => {
            let mut parts = vec![format!("{} passed", r.report.passed)];
            if r.report.failed > 0 {
                parts.push(format!("{} failed", r.report.failed));
            }
            if r.report.skipped > 0 {
                parts.push(format!("{} skipped", r.report.skipped));
            }
            format!("{} in {:.0} ms", parts.join(", "), r.report.duration_ms)
        }
    };
    let title = format!(
        " Tests of {} · {summary} · enter opens a case's trace · {} again · {} closes ",
        view.of,
        state.keymap.describe(Cmd::RunTests),
        state.keymap.describe(Cmd::Back)
    );
    let width = usize::from(area.width.saturating_sub(2));
    let outer = block(
        fit::line(Line::from(Span::styled(title, t.accent())), width),
        true,
        t,
    );
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let result = match &view.result {
        None => {
            frame.render_widget(
                Paragraph::new(Line::from(Span::styled(" running the tests…", t.muted()))),
                inner,
            );
            return;
        }
        Some(Err(e)) => {
            let lines = fit::wrap(&format!(" {e}"), usize::from(inner.width));
            frame.render_widget(
                Paragraph::new(
                    lines
                        .into_iter()
                        .map(|l| Line::from(Span::styled(l, t.error())))
                        .collect::<Vec<_>>(),
                ),
                inner,
            );
            return;
        }
        Some(Ok(r)) => r,
    };
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Percentage(55), Constraint::Min(3)])
        .split(inner);
    let cases = &result.report.cases;
    let mut list: Vec<Line<'_>> = Vec::new();
    if cases.is_empty() && result.invalid.is_empty() {
        let key = state.key(Cmd::RecordTest);
        list.push(Line::from(Span::styled(
            format!(
                " no tests of {}: write tests/NAME.test.json, or {key} on a run writes one from it",
                view.of
            ),
            t.muted(),
        )));
    }
    let height = usize::from(rows[0].height);
    let offset = scroll_offset(view.selected, cases.len(), height);
    for (i, c) in cases.iter().enumerate().skip(offset).take(height) {
        let mut spans = vec![mark(c.status, t), Span::raw(format!(" {}", c.name))];
        spans.push(Span::styled(
            format!("  {} · {:.1} ms", c.file, c.duration_ms),
            t.muted(),
        ));
        if let Some(s) = c.snapshot {
            spans.push(Span::styled(format!("  snapshot {s}"), t.muted()));
        }
        let mut line = Line::from(spans);
        if i == view.selected {
            line = line.style(t.selected());
        }
        list.push(fit::line(line, usize::from(rows[0].width)));
    }
    frame.render_widget(Paragraph::new(list), rows[0]);
    let detail_width = usize::from(rows[1].width);
    let mut detail: Vec<Line<'_>> = Vec::new();
    for d in &result.invalid {
        for l in fit::wrap(&format!(" {d}"), detail_width) {
            detail.push(Line::from(Span::styled(l, t.error())));
        }
    }
    if let Some(c) = cases.get(view.selected) {
        detail.extend(failures(c, t, detail_width));
    }
    frame.render_widget(Paragraph::new(detail), rows[1]);
}

fn mark(status: CaseStatus, t: &Theme) -> Span<'static> {
    match status {
        CaseStatus::Passed => Span::styled(" ✓", t.ok()),
        CaseStatus::Failed => Span::styled(" ✗", t.error()),
        CaseStatus::Skipped => Span::styled(" ·", t.muted()),
    }
}

/// A case's failures: where, in words, then what was expected and what happened.
fn failures(c: &CaseResult, t: &Theme, width: usize) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let head = match c.status {
        CaseStatus::Passed => format!(" {}: every expectation held", c.name),
        CaseStatus::Skipped => format!(" {}: skipped (\"skip\": true)", c.name),
        CaseStatus::Failed => format!(" {}:", c.name),
    };
    out.push(fit::line(Line::from(Span::styled(head, t.accent())), width));
    for f in &c.failures {
        out.push(fit::line(
            Line::from(vec![
                Span::styled(format!("   {}  ", f.pointer), t.warn()),
                Span::raw(f.message.clone()),
            ]),
            width,
        ));
        if !f.expected.is_null() {
            out.push(fit::line(
                Line::from(vec![
                    Span::styled("     expected ", t.muted()),
                    Span::raw(crate::text::short(&f.expected, width)),
                ]),
                width,
            ));
        }
        if !f.actual.is_null() {
            out.push(fit::line(
                Line::from(vec![
                    Span::styled("     actual   ", t.muted()),
                    Span::raw(crate::text::short(&f.actual, width)),
                ]),
                width,
            ));
        }
    }
    out
}
