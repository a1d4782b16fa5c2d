//! The workflows list, the steps tree, the params editor and the variables pane.

use super::{fit, titled_block};
use crate::model::breakpoint::Breakpoint;
use crate::model::{DefinitionKind, RunRecord, RunStatus, StepStatus};
use crate::tui::commands::Cmd;
use crate::tui::data::{self, StepLineKind};
use crate::tui::input::ParamsCheck;
use crate::tui::json_view;
use crate::tui::layout::{Areas, scroll_offset};
use crate::tui::state::{Focus, InputMode, ListRow, State};
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use serde_json::Value;

/// A status mark with its style.
pub(crate) fn status_mark(status: RunStatus, t: &Theme) -> Span<'static> {
    let style = match status {
        RunStatus::Succeeded => t.ok(),
        RunStatus::Failed | RunStatus::Cancelled => t.error(),
        RunStatus::Running | RunStatus::Paused => t.warn(),
        RunStatus::Queued => t.muted(),
    };
    Span::styled(crate::text::status_mark(status), style)
}

fn row_style(selected: bool, focused: bool, t: &Theme) -> Style {
    match (selected, focused) {
        (true, true) => t.selected(),
        (true, false) => t.selected_unfocused(),
        _ => Style::default(),
    }
}

/// Draw `lines` in `area` inside `block`, scrolled to keep `selected` visible, each line
/// fitted to the pane.
fn list(
    frame: &mut Frame<'_>,
    area: Rect,
    block: ratatui::widgets::Block<'_>,
    lines: Vec<Line<'_>>,
    selected: usize,
) {
    let inner = block.inner(area);
    let height = usize::from(inner.height);
    let offset = scroll_offset(selected, lines.len(), height);
    let visible: Vec<Line<'_>> = lines
        .into_iter()
        .skip(offset)
        .take(height)
        .map(|l| fit::line(l, usize::from(inner.width)))
        .collect();
    frame.render_widget(Paragraph::new(visible).block(block), area);
}

/// Prose in a pane, wrapped between words, in one style.
fn prose(text: &str, width: u16, style: Style) -> Vec<Line<'static>> {
    fit::wrap(text, usize::from(width.saturating_sub(3)))
        .into_iter()
        .map(|l| Line::from(Span::styled(format!(" {l}"), style)))
        .collect()
}

/// The workflows list: grouped by event, `[x]` toggles, live version, draft changed, last run.
pub(super) fn workflows(frame: &mut Frame<'_>, state: &State, areas: &Areas) {
    let t = &state.theme;
    let area = areas.workflows;
    let focused = state.focus == Focus::Workflows && state.mode == InputMode::Normal;
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
    let b = titled_block(
        Line::from(Span::styled(list_title(state), t.accent())),
        None,
        focused,
        t,
        area.width,
    );
    if lines.is_empty() {
        let empty = if state.definitions.is_empty() {
            "No workflows yet: flowdeck import DIR"
        } else {
            "Nothing matches the filter"
        };
        frame.render_widget(
            Paragraph::new(prose(empty, area.width, t.muted())).block(b),
            area,
        );
        return;
    }
    list(frame, area, b, lines, selected_row);
}

/// `Workflows 4 · endpoints 2`, or with a filter `Workflows 1/4`.
fn list_title(state: &State) -> String {
    let count = |kind: DefinitionKind, of: &mut dyn Iterator<Item = DefinitionKind>| {
        of.filter(|k| *k == kind).count()
    };
    let visible = state.visible_definitions();
    let parts: Vec<String> = [
        (DefinitionKind::Workflow, "Workflows"),
        (DefinitionKind::Endpoint, "endpoints"),
    ]
    .into_iter()
    .filter_map(|(kind, name)| {
        let all = count(kind, &mut state.definitions.iter().map(|d| d.row.kind));
        let shown = count(kind, &mut visible.iter().map(|d| d.row.kind));
        if state.filter.is_empty() {
            Some(format!("{name} {all}"))
        } else {
            // filtered: the kinds that have matches
            (shown > 0).then(|| format!("{name} {shown}/{all}"))
        }
    })
    .collect();
    if parts.is_empty() {
        return " Workflows: none match ".to_string();
    }
    format!(" {} ", parts.join(" · "))
}

/// The selected definition's steps as a tree; marks from the selected run.
pub(super) fn steps(frame: &mut Frame<'_>, state: &State, area: Rect) {
    let t = &state.theme;
    let focused = state.focus == Focus::Steps && state.mode == InputMode::Normal;
    let mut title = vec![Span::styled(" Steps", t.accent())];
    let mut note = None;
    if let Some(item) = state.selected() {
        title.push(Span::styled(format!(" · {} ", item.row.name), t.accent()));
        if item.row.draft_changed {
            note = Some(Line::from(Span::styled(" draft changed ", t.warn())));
        }
    } else {
        title.push(Span::raw(" "));
    }
    let b = titled_block(Line::from(title), note, focused, t, area.width);
    if let Some(e) = &state.steps_error {
        frame.render_widget(
            Paragraph::new(prose(e, area.width, t.error())).block(b),
            area,
        );
        return;
    }
    if state.steps.is_empty() {
        let text = if state.selected().is_some() {
            "No steps"
        } else {
            "Select a workflow"
        };
        frame.render_widget(
            Paragraph::new(prose(text, area.width, t.muted())).block(b),
            area,
        );
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
    let selected_name = state.selected().map(|d| d.row.name.as_str());
    let paused_at = state
        .debug
        .as_ref()
        .filter(|d| Some(d.definition.as_str()) == selected_name)
        .and_then(|d| d.paused.as_ref())
        .and_then(|(_, s)| s.next.clone());
    let run = state
        .run
        .as_ref()
        .filter(|r| selected_name == Some(r.target.name()));
    let cursor_at = state.cursor.and_then(|i| {
        run.and_then(|r| r.steps.as_ref())
            .and_then(|s| s.get(i))
            .map(|s| s.step.clone())
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
                    let bp = match state
                        .breakpoints
                        .iter()
                        .find(|b| matches!(b, Breakpoint::Step { step, .. } if step == id))
                    {
                        Some(Breakpoint::Step {
                            condition: Some(_), ..
                        }) => Span::styled("◆", t.error()),
                        Some(_) => Span::styled("●", t.error()),
                        None => Span::raw(" "),
                    };
                    let here = paused_at.as_deref() == Some(id.as_str())
                        || cursor_at.as_deref() == Some(id.as_str());
                    let cur = if here {
                        Span::styled("▶", t.warn())
                    } else {
                        Span::raw(" ")
                    };
                    let mut spans =
                        vec![bp, cur, Span::raw(pad.clone()), mark, Span::raw(id.clone())];
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

/// The params editor (an endpoint's request) with live validation.
pub(super) fn params(frame: &mut Frame<'_>, state: &State, area: Rect) {
    let t = &state.theme;
    let editing = state.mode == InputMode::Editing;
    let focused = editing || (state.focus == Focus::Params && state.mode == InputMode::Normal);
    let noun = match state.params.kind {
        DefinitionKind::Workflow => "Params",
        DefinitionKind::Endpoint => "Request",
    };
    let title = match &state.params.definition {
        Some(d) => format!(" {noun} · {d} "),
        None => format!(" {noun} "),
    };
    // "editing" when the title keeps its room, the key in any case
    let done = format!(" {} done ", state.key(Cmd::LeaveEditor));
    let long = format!(" editing ·{done}");
    let room = usize::from(area.width.saturating_sub(3));
    let note = editing.then(|| {
        let text = if fit::width(&title) + fit::width(&long) <= room {
            long
        } else {
            done
        };
        Line::from(Span::styled(text, t.warn()))
    });
    let room = usize::from(area.width.saturating_sub(2));
    let status = match &state.params.check {
        ParamsCheck::Valid(_) => Line::from(Span::styled(" ✓ valid JSON ", t.ok())),
        ParamsCheck::Invalid {
            line,
            column,
            message,
        } => Line::from(Span::styled(
            format!(" ✗ {line}:{column} {message} "),
            t.error(),
        )),
    };
    let b = titled_block(
        Line::from(Span::styled(title, t.accent())),
        note,
        focused,
        t,
        area.width,
    )
    .title_bottom(fit::line(status, room));
    let mut editor = state.params.editor.clone();
    editor.set_block(b);
    editor.set_cursor_line_style(Style::default());
    if editing {
        editor.set_cursor_style(Style::default().add_modifier(ratatui::style::Modifier::REVERSED));
    } else {
        editor.set_cursor_style(Style::default());
    }
    frame.render_widget(&editor, area);
}

/// The variables pane's title.
fn variables_title(state: &State) -> Line<'static> {
    let t = &state.theme;
    if let Some((_, snap)) = state.debug.as_ref().and_then(|d| d.paused.as_ref()) {
        return Line::from(vec![
            Span::styled(format!(" Variables · run #{} ", snap.run_id), t.accent()),
            Span::styled("‖ paused ", t.warn()),
        ]);
    }
    match &state.run {
        Some(run) => Line::from(vec![
            Span::styled(format!(" Variables · run #{} ", run.id), t.accent()),
            status_mark(run.status, t),
            Span::raw(" "),
        ]),
        None => Line::from(Span::styled(" Variables ", t.accent())),
    }
}

/// Every line of the variables pane, fitted to `width` columns: the paused run's variables
/// and its next step's input, or the selected run's variables after the selected step (or
/// the record under the time-travel cursor), with an endpoint's request and response.
pub(super) fn variables_lines(state: &State, width: usize) -> Vec<Line<'static>> {
    let t = &state.theme;
    let expanded = state.vars_expanded;
    let mut lines: Vec<Line<'static>> = Vec::new();
    watches(&mut lines, state);
    if let Some((reason, snap)) = state.debug.as_ref().and_then(|d| d.paused.as_ref()) {
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
        if snap.request.is_null() {
            section(&mut lines, "$param", &snap.param, expanded, t);
        } else {
            request(&mut lines, &snap.request, expanded, t);
        }
        if snap.next.is_some() {
            section(&mut lines, "next step's input", &snap.input, expanded, t);
        }
        section(&mut lines, "$env", &snap.env, expanded, t);
        let keys = state.hint(&[Cmd::EditVariable, Cmd::AddWatch, Cmd::Evaluate]);
        lines.push(Line::from(Span::styled(format!(" {keys}"), t.muted())));
        return fit::lines(lines, width);
    }
    let Some(run) = &state.run else {
        let text = format!(
            "No run yet: {} emits (an endpoint: calls it), {} runs the draft under the debugger.",
            state.key(Cmd::Emit),
            state.key(Cmd::DebugRun)
        );
        let mut out: Vec<Line<'static>> = fit::wrap(&text, width.saturating_sub(1))
            .into_iter()
            .map(|l| Line::from(Span::styled(format!(" {l}"), t.muted())))
            .collect();
        out.extend(lines);
        return fit::lines(out, width);
    };
    lines.insert(0, Line::from(Span::styled(run_header(run), t.muted())));
    // an endpoint's answer first: it is what the run was for
    let response = run.response();
    if let Some((status, body)) = &response {
        section(&mut lines, &format!("response {status}"), body, expanded, t);
    }
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
            if state.cursor.is_some() {
                // the keys first: they are what the line is for
                let keys = format!(
                    "{} {} walk · {} run from here",
                    state.key(Cmd::TravelBack),
                    state.key(Cmd::TravelForward),
                    state.key(Cmd::Rerun)
                );
                lines.push(Line::from(Span::styled(format!(" {keys}"), t.accent())));
                lines.push(Line::from(Span::styled(
                    format!(" record {} of {}", i + 1, steps.len()),
                    t.warn(),
                )));
            }
            lines.push(Line::from(vec![
                Span::styled(" after ", t.muted()),
                Span::styled(record.step.clone(), t.accent()),
                Span::styled(format!(" ({})", record.action), t.muted()),
            ]));
            let vars = crate::model::record::vars_after(&steps[..=i]);
            section(&mut lines, "$var", &vars, expanded, t);
            section(&mut lines, "input", &record.input, expanded, t);
            if let Some(e) = &record.error {
                error(&mut lines, "error", e, width, t);
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
            match run.target {
                crate::model::RunTarget::Workflow(_) => {
                    section(&mut lines, "$param", &run.params, expanded, t);
                    if let Some(o) = &run.output {
                        section(&mut lines, "output", o, expanded, t);
                    }
                }
                crate::model::RunTarget::Endpoint(_) => {
                    request(&mut lines, &run.params, expanded, t);
                }
            }
        }
    }
    if let Some((status, body)) = run.response() {
        section(
            &mut lines,
            &format!("response {status}"),
            &body,
            expanded,
            t,
        );
    } else if let Some(e) = &run.error {
        error(&mut lines, "run error", e, width, t);
    }
    fit::lines(lines, width)
}

/// `reorder_supply v1`, `POST /orders (draft)`.
fn run_header(run: &RunRecord) -> String {
    format!(
        " {} {}",
        run.target.name(),
        run.version.map_or("(draft)".into(), |v| format!("v{v}"))
    )
}

/// `$var` after the selected step of the selected run, with the step's input and output.
pub(super) fn variables(frame: &mut Frame<'_>, state: &State, area: Rect) {
    let focused = state.focus == Focus::Variables && state.mode == InputMode::Normal;
    let b = titled_block(
        variables_title(state),
        None,
        focused,
        &state.theme,
        area.width,
    );
    let lines = variables_lines(state, usize::from(area.width.saturating_sub(2)));
    let max = lines
        .len()
        .saturating_sub(usize::from(area.height.saturating_sub(2)));
    let scroll = state
        .vars_scroll
        .min(u16::try_from(max).unwrap_or(u16::MAX));
    frame.render_widget(Paragraph::new(lines).block(b).scroll((scroll, 0)), area);
}

fn watches(lines: &mut Vec<Line<'static>>, state: &State) {
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

/// An endpoint's request, as the variables its steps read.
fn request(lines: &mut Vec<Line<'static>>, request: &Value, expanded: bool, t: &Theme) {
    for part in crate::tui::input::REQUEST_PARTS {
        let value = request.get(part).unwrap_or(&Value::Null);
        section(lines, &format!("${part}"), value, expanded, t);
    }
}

fn section(lines: &mut Vec<Line<'static>>, name: &str, value: &Value, expanded: bool, t: &Theme) {
    lines.push(Line::from(Span::styled(format!(" {name}"), t.accent())));
    for l in json_view::lines(value, expanded) {
        lines.push(Line::from(format!("   {l}")));
    }
}

/// An error, wrapped: it is read whole.
fn error(lines: &mut Vec<Line<'static>>, label: &str, text: &str, width: usize, t: &Theme) {
    let text = format!("{label}: {text}");
    for l in fit::wrap(&text, width.saturating_sub(1)) {
        lines.push(Line::from(Span::styled(format!(" {l}"), t.error())));
    }
}
