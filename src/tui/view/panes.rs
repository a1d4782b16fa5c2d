//! The workflows list, the steps tree, the params editor and the variables pane.

use super::block;
use crate::model::{RunStatus, StepStatus};
use crate::tui::data::{self, StepLineKind};
use crate::tui::json_view;
use crate::tui::layout::{Areas, scroll_offset};
use crate::tui::state::{Focus, ListRow, Mode, ParamsCheck, State};
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// A status mark with its style.
pub(crate) fn status_mark(status: RunStatus, t: &Theme) -> Span<'static> {
    match status {
        RunStatus::Succeeded => Span::styled("✓", t.ok()),
        RunStatus::Failed => Span::styled("✗", t.error()),
        RunStatus::Cancelled => Span::styled("⊘", t.error()),
        RunStatus::Running => Span::styled("…", t.warn()),
        RunStatus::Paused => Span::styled("‖", t.warn()),
        RunStatus::Queued => Span::styled("○", t.muted()),
    }
}

fn row_style(selected: bool, focused: bool, t: &Theme) -> Style {
    match (selected, focused) {
        (true, true) => t.selected(),
        (true, false) => t.selected_unfocused(),
        _ => Style::default(),
    }
}

/// Draw `lines` in `area` inside `block`, scrolled to keep `selected` visible.
fn list(
    frame: &mut Frame<'_>,
    area: Rect,
    block: ratatui::widgets::Block<'_>,
    lines: Vec<Line<'_>>,
    selected: usize,
) {
    let inner = block.inner(area);
    let height = inner.height as usize;
    let offset = scroll_offset(selected, lines.len(), height);
    let visible: Vec<Line<'_>> = lines.into_iter().skip(offset).take(height).collect();
    frame.render_widget(Paragraph::new(visible).block(block), area);
}

/// The workflows list: grouped by event, `[x]` toggles, live version, draft changed, last run.
pub fn workflows(frame: &mut Frame<'_>, state: &State, areas: &Areas) {
    let t = &state.theme;
    let focused = state.focus == Focus::Workflows && state.mode == Mode::Normal;
    let rows = state.list_rows();
    let name_width = rows
        .iter()
        .filter_map(|r| match r {
            ListRow::Item(i) => {
                Some(i.row.name.chars().count() + if data::is_workflow(i) { 4 } else { 0 })
            }
            ListRow::Header(_) => None,
        })
        .max()
        .unwrap_or(0)
        .min(34);
    let mut selected_row = 0;
    let lines: Vec<Line<'_>> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| match row {
            ListRow::Header(name) => Line::from(Span::styled(format!(" {name}"), t.muted())),
            ListRow::Item(item) => {
                let selected = state.selected_def == Some(item.row.id);
                if selected {
                    selected_row = i;
                }
                let mut spans = Vec::new();
                let used = if data::is_workflow(item) {
                    let mark = if item.row.active { "[x] " } else { "[ ] " };
                    spans.push(Span::styled(
                        format!("  {mark}"),
                        if item.row.active { t.ok() } else { t.muted() },
                    ));
                    spans.push(Span::raw(item.row.name.clone()));
                    item.row.name.chars().count() + 4
                } else {
                    spans.push(Span::raw(format!("  {}", item.row.name)));
                    item.row.name.chars().count()
                };
                let version = item
                    .row
                    .live_version
                    .map_or("—".to_string(), |v| format!("v{v}"));
                let pad = " ".repeat(name_width.saturating_sub(used) + 2);
                spans.push(Span::styled(format!("{pad}{version}"), t.muted()));
                if item.row.draft_changed {
                    spans.push(Span::styled("*", t.warn()));
                }
                if let Some(status) = item.last_run {
                    spans.push(Span::raw(" "));
                    spans.push(status_mark(status, t));
                }
                Line::from(spans).style(row_style(selected, focused, t))
            }
        })
        .collect();
    let count = state.definitions.len();
    let title = if state.filter.is_empty() {
        format!(" Workflows ({count}) ")
    } else {
        format!(
            " Workflows ({} of {count}) ",
            state.visible_definitions().len()
        )
    };
    let b = block(Span::styled(title, t.accent()), focused, t);
    if lines.is_empty() {
        let empty = if count == 0 {
            " No workflows yet: flowdeck import DIR"
        } else {
            " Nothing matches the filter"
        };
        frame.render_widget(
            Paragraph::new(Span::styled(empty, t.muted())).block(b),
            areas.workflows,
        );
        return;
    }
    list(frame, areas.workflows, b, lines, selected_row);
}

/// The selected workflow's steps as a tree; marks from the selected run.
pub fn steps(frame: &mut Frame<'_>, state: &State, area: Rect) {
    let t = &state.theme;
    let focused = state.focus == Focus::Steps && state.mode == Mode::Normal;
    let mut title = vec![Span::styled(" Steps", t.accent())];
    if let Some(item) = state.selected() {
        title.push(Span::styled(format!(" · {} ", item.row.name), t.accent()));
        if item.row.draft_changed {
            title.push(Span::styled("(draft changed) ", t.warn()));
        }
    } else {
        title.push(Span::raw(" "));
    }
    let b = block(Line::from(title), focused, t);
    if let Some(e) = &state.steps_error {
        frame.render_widget(
            Paragraph::new(Span::styled(format!(" {e}"), t.error())).block(b),
            area,
        );
        return;
    }
    if state.steps.is_empty() {
        let text = if state.selected().is_some() {
            " No steps"
        } else {
            " Select a workflow"
        };
        frame.render_widget(Paragraph::new(Span::styled(text, t.muted())).block(b), area);
        return;
    }
    let id_width = state
        .steps
        .iter()
        .filter_map(|l| match &l.kind {
            StepLineKind::Step { id, .. } => Some(l.depth * 2 + id.chars().count()),
            StepLineKind::Label(_) => None,
        })
        .max()
        .unwrap_or(0)
        .min(28);
    let run = state.run.as_ref().filter(|r| {
        state.selected_def.is_some()
            && r.target.name() == state.selected().map_or("", |d| d.row.name.as_str())
    });
    let lines: Vec<Line<'_>> = state
        .steps
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let pad = "  ".repeat(line.depth);
            match &line.kind {
                StepLineKind::Label(l) => {
                    Line::from(Span::styled(format!(" {pad}{l}:"), t.muted()))
                }
                StepLineKind::Step {
                    id,
                    action,
                    key,
                    result,
                } => {
                    let mark = run
                        .and_then(|r| r.steps.as_ref())
                        .and_then(|steps| steps.iter().rev().find(|s| &s.step == id))
                        .map_or(Span::raw("  "), |s| match s.status {
                            StepStatus::Succeeded => Span::styled("✓ ", t.ok()),
                            StepStatus::Failed => Span::styled("✗ ", t.error()),
                        });
                    let used = line.depth * 2 + id.chars().count();
                    let gap = " ".repeat(id_width.saturating_sub(used) + 2);
                    let mut spans = vec![Span::raw(format!(" {pad}")), mark, Span::raw(id.clone())];
                    spans.push(Span::styled(format!("{gap}{action:<8}"), t.accent()));
                    if !key.is_empty() {
                        spans.push(Span::styled(format!(" {key}"), t.muted()));
                    }
                    if let Some(r) = result {
                        spans.push(Span::styled(format!("  → {r}"), t.warn()));
                    }
                    Line::from(spans).style(row_style(i == state.step_selected, focused, t))
                }
            }
        })
        .collect();
    list(frame, area, b, lines, state.step_selected);
}

/// The params editor with live validation.
pub fn params(frame: &mut Frame<'_>, state: &State, area: Rect) {
    let t = &state.theme;
    let editing = state.mode == Mode::Editing;
    let focused = editing || (state.focus == Focus::Params && state.mode == Mode::Normal);
    let title = match &state.params.workflow {
        Some(w) => format!(" Params · {w} "),
        None => " Params ".to_string(),
    };
    let status = match &state.params.check {
        ParamsCheck::Valid(_) => Span::styled(" ✓ valid JSON ", t.ok()),
        ParamsCheck::Invalid {
            line,
            column,
            message,
        } => Span::styled(format!(" ✗ {line}:{column} {message} "), t.error()),
    };
    let mut b = block(Span::styled(title, t.accent()), focused, t).title_bottom(Line::from(status));
    if editing {
        b = b.title_top(Line::from(Span::styled(" editing · esc done ", t.warn())).right_aligned());
    }
    let mut editor = state.params.editor.clone();
    editor.set_block(b);
    editor.set_cursor_line_style(Style::default());
    if !editing {
        editor.set_cursor_style(Style::default());
    } else {
        editor.set_cursor_style(Style::default().add_modifier(ratatui::style::Modifier::REVERSED));
    }
    frame.render_widget(&editor, area);
}

/// `$var` after the selected step of the selected run, with the step's input and output.
pub fn variables(frame: &mut Frame<'_>, state: &State, area: Rect) {
    let t = &state.theme;
    let focused = state.focus == Focus::Variables && state.mode == Mode::Normal;
    let Some(run) = &state.run else {
        let b = block(Span::styled(" Variables ", t.accent()), focused, t);
        let text = " No run yet: x emits, r runs the draft";
        frame.render_widget(Paragraph::new(Span::styled(text, t.muted())).block(b), area);
        return;
    };
    let step_id = state.selected_step_id();
    let mut title = vec![Span::styled(
        format!(" Variables · run #{} ", run.id),
        t.accent(),
    )];
    title.push(status_mark(run.status, t));
    title.push(Span::raw(" "));
    let b = block(Line::from(title), focused, t);
    let mut lines: Vec<Line<'_>> = Vec::new();
    let header = format!(
        " {} {}",
        run.target.name(),
        run.version.map_or("(draft)".into(), |v| format!("v{v}"))
    );
    lines.push(Line::from(Span::styled(header, t.muted())));
    let at = step_id.and_then(|id| data::vars_at(run, id));
    match (step_id, at) {
        (Some(id), Some((vars, record))) => {
            lines.push(Line::from(vec![
                Span::styled(" after ", t.muted()),
                Span::styled(id.to_string(), t.accent()),
                Span::styled(format!(" ({})", record.action), t.muted()),
            ]));
            section(&mut lines, "$var", &vars, state.vars_expanded, t);
            section(&mut lines, "input", &record.input, state.vars_expanded, t);
            if let Some(e) = &record.error {
                lines.push(Line::from(Span::styled(format!(" error: {e}"), t.error())));
            } else {
                section(&mut lines, "output", &record.output, state.vars_expanded, t);
            }
        }
        (Some(id), None) => {
            lines.push(Line::from(Span::styled(
                format!(" step {id} did not run in this run"),
                t.muted(),
            )));
            section(&mut lines, "$param", &run.params, state.vars_expanded, t);
        }
        (None, _) => {
            section(&mut lines, "$param", &run.params, state.vars_expanded, t);
            if let Some(o) = &run.output {
                section(&mut lines, "output", o, state.vars_expanded, t);
            }
        }
    }
    if let Some(e) = &run.error {
        lines.push(Line::from(Span::styled(
            format!(" run error: {e}"),
            t.error(),
        )));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .block(b)
            .scroll((state.vars_scroll, 0)),
        area,
    );
}

fn section(
    lines: &mut Vec<Line<'_>>,
    name: &str,
    value: &serde_json::Value,
    expanded: bool,
    t: &Theme,
) {
    lines.push(Line::from(Span::styled(format!(" {name}"), t.accent())));
    for l in json_view::lines(value, expanded) {
        lines.push(Line::from(format!("   {l}")));
    }
}
