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
    let selected_name = state.selected().map(|d| d.row.name.clone());
    let paused_at = state
        .debug
        .as_ref()
        .filter(|d| Some(&d.workflow) == selected_name.as_ref())
        .and_then(|d| d.paused.as_ref())
        .and_then(|(_, s)| s.next.clone());
    let cursor_at = state.cursor.and_then(|i| {
        let run = state.run.as_ref()?;
        (Some(run.target.name()) == selected_name.as_deref())
            .then(|| run.steps.as_ref()?.get(i).map(|s| s.step.clone()))
            .flatten()
    });
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
                    let bp = match state.breakpoints.iter().find(|b| matches!(b, crate::model::breakpoint::Breakpoint::Step { step, .. } if step == id)) {
                        Some(crate::model::breakpoint::Breakpoint::Step { condition: Some(_), .. }) => Span::styled("◆", t.error()),
                        Some(_) => Span::styled("●", t.error()),
                        None => Span::raw(" "),
                    };
                    let here = paused_at.as_deref() == Some(id.as_str()) || cursor_at.as_deref() == Some(id.as_str());
                    let cur = if here { Span::styled("▶", t.warn()) } else { Span::raw(" ") };
                    let mut spans = vec![bp, cur, Span::raw(pad.clone()), mark, Span::raw(id.clone())];
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
    let expanded = state.vars_expanded;
    let mut lines: Vec<Line<'_>> = Vec::new();
    watches(&mut lines, state);
    // a paused debug run: its live variables and the next step's input
    if let Some((reason, snap)) = state.debug.as_ref().and_then(|d| d.paused.as_ref()) {
        let title = Line::from(vec![
            Span::styled(format!(" Variables · run #{} ", snap.run_id), t.accent()),
            Span::styled("‖ paused ", t.warn()),
        ]);
        let b = block(title, focused, t);
        let at = snap.next.clone().unwrap_or_else(|| "the end".into());
        lines.insert(
            0,
            Line::from(vec![
                Span::styled(" at ", t.muted()),
                Span::styled(at, t.accent()),
                Span::styled(format!(" · {}", reason_text(reason)), t.muted()),
            ]),
        );
        section(&mut lines, "$var", &snap.var, expanded, t);
        section(&mut lines, "$param", &snap.param, expanded, t);
        if snap.next.is_some() {
            section(&mut lines, "next step's input", &snap.input, expanded, t);
        }
        section(&mut lines, "$env", &snap.env, expanded, t);
        lines.push(Line::from(Span::styled(
            " enter edits a variable · w watch · = evaluate",
            t.muted(),
        )));
        frame.render_widget(
            Paragraph::new(lines)
                .block(b)
                .scroll((state.vars_scroll, 0)),
            area,
        );
        return;
    }
    let Some(run) = &state.run else {
        let b = block(Span::styled(" Variables ", t.accent()), focused, t);
        lines.insert(
            0,
            Line::from(Span::styled(
                " No run yet: x emits, r runs the draft",
                t.muted(),
            )),
        );
        frame.render_widget(Paragraph::new(lines).block(b), area);
        return;
    };
    let mut title = vec![Span::styled(
        format!(" Variables · run #{} ", run.id),
        t.accent(),
    )];
    title.push(status_mark(run.status, t));
    title.push(Span::raw(" "));
    let b = block(Line::from(title), focused, t);
    let header = format!(
        " {} {}",
        run.target.name(),
        run.version.map_or("(draft)".into(), |v| format!("v{v}"))
    );
    lines.insert(0, Line::from(Span::styled(header, t.muted())));
    let steps = run.steps.as_deref().unwrap_or_default();
    // time travel: the record under the cursor, the variables as they were after it
    let chosen = match state.cursor {
        Some(i) => steps.get(i).map(|r| (i, r)),
        None => state
            .selected_step_id()
            .and_then(|id| steps.iter().rposition(|s| s.step == id))
            .map(|i| (i, &steps[i])),
    };
    match chosen {
        Some((i, record)) => {
            let vars = crate::model::record::vars_after(&steps[..=i]);
            if state.cursor.is_some() {
                lines.push(Line::from(Span::styled(
                    format!(
                        " record {} of {} · [ ] walk · R run from here",
                        i + 1,
                        steps.len()
                    ),
                    t.warn(),
                )));
            }
            lines.push(Line::from(vec![
                Span::styled(" after ", t.muted()),
                Span::styled(record.step.clone(), t.accent()),
                Span::styled(format!(" ({})", record.action), t.muted()),
            ]));
            section(&mut lines, "$var", &vars, expanded, t);
            section(&mut lines, "input", &record.input, expanded, t);
            if let Some(e) = &record.error {
                lines.push(Line::from(Span::styled(format!(" error: {e}"), t.error())));
            } else {
                section(&mut lines, "output", &record.output, expanded, t);
            }
        }
        None => {
            if let Some(id) = state.selected_step_id() {
                lines.push(Line::from(Span::styled(
                    format!(" step {id} did not run in this run"),
                    t.muted(),
                )));
            }
            section(&mut lines, "$param", &run.params, expanded, t);
            if let Some(o) = &run.output {
                section(&mut lines, "output", o, expanded, t);
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

fn watches(lines: &mut Vec<Line<'_>>, state: &State) {
    if state.watches.is_empty() {
        return;
    }
    let t = &state.theme;
    lines.push(Line::from(Span::styled(" watch", t.accent())));
    for w in &state.watches {
        let value = match &w.value {
            Ok(v) => Span::raw(crate::text::short(v, 60)),
            Err(e) => Span::styled(e.clone(), t.error()),
        };
        lines.push(Line::from(vec![
            Span::styled(format!("   {} = ", w.expr), t.muted()),
            value,
        ]));
    }
}

fn reason_text(reason: &crate::engine::debug::StopReason) -> String {
    use crate::engine::debug::StopReason as R;
    match reason {
        R::Entry => "start".into(),
        R::Breakpoint { .. } => "breakpoint".into(),
        R::Condition { condition, .. } => format!("when {condition}"),
        R::Emit { event } => format!("before emitting {event}"),
        R::Failure { step, .. } => format!("{step} failed"),
        R::Step => "step".into(),
        R::Pause => "paused".into(),
    }
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
