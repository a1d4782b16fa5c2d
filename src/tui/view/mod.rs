//! Drawing: a pure function of the state. Nothing here changes anything. Every line is
//! fitted to the room it has (see [`fit`]): text is shortened on purpose, never cut by a
//! border.

mod activity;
mod compare;
pub mod fit;
mod help;
mod overlays;
mod panes;
mod tests;
mod trace;

use super::commands::{COMMANDS, Cmd, Context};
use super::layout::{self, Areas};
use super::state::{InputMode, Overlay, State};
use super::theme::Theme;
use crate::model::RunStatus;
use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

/// Draw the whole studio.
pub fn draw(frame: &mut Frame<'_>, state: &State) {
    let size = (frame.area().width, frame.area().height);
    if layout::too_small(size) {
        too_small(frame, state);
        return;
    }
    let areas = layout::layout(size, state.focus, state.mode, state.narrow());
    title(frame, state, areas.title);
    panes::workflows(frame, state, &areas);
    if let Some(a) = areas.steps {
        panes::steps(frame, state, a);
    }
    if let Some(a) = areas.params {
        panes::params(frame, state, a);
    }
    if let Some(a) = areas.variables {
        panes::variables(frame, state, a);
    }
    activity::draw(frame, state, areas.activity);
    hints(frame, state, &areas);
    match &state.overlay {
        None => {}
        Some(Overlay::Help { scroll }) => help::draw(frame, state, areas.main, *scroll),
        Some(Overlay::Palette { query, selected }) => {
            overlays::palette(frame, state, areas.main, query, *selected);
        }
        Some(Overlay::Trace(t)) => trace::draw(frame, state, areas.main, t),
        Some(Overlay::Confirm(c)) => overlays::confirm(frame, state, areas.main, c),
        Some(Overlay::RunDiff(d)) => compare::run_diff(frame, state, areas.main, d),
        Some(Overlay::Cascade(c)) => compare::cascade(frame, state, areas.main, c),
        Some(Overlay::Tests(v)) => tests::draw(frame, state, areas.main, v),
    }
}

/// A text that scrolls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scrolled {
    /// The help overlay.
    Help,
    /// The variables pane.
    Variables,
    /// The detail of a run's trace.
    Trace,
}

/// How far a text can scroll in the current layout: its lines less the rows it has, so
/// that its last line stays at the bottom.
pub fn max_scroll(state: &State, which: Scrolled) -> u16 {
    if layout::too_small(state.size) {
        return 0;
    }
    let areas = layout::layout(state.size, state.focus, state.mode, state.narrow());
    let (lines, rows) = match which {
        Scrolled::Help => {
            let rect = help::rect(areas.main);
            (
                help::help_lines(state, inner_width(rect)).len(),
                rect.height.saturating_sub(2),
            )
        }
        Scrolled::Variables => match areas.variables {
            Some(rect) => (
                panes::variables_lines(state, inner_width(rect)).len(),
                rect.height.saturating_sub(2),
            ),
            None => (0, 0),
        },
        Scrolled::Trace => match &state.overlay {
            Some(Overlay::Trace(t)) => {
                let rect = trace::detail_rect(areas.main);
                (
                    trace::detail_lines(state, t, usize::from(rect.width)).len(),
                    rect.height,
                )
            }
            _ => (0, 0),
        },
    };
    u16::try_from(lines.saturating_sub(usize::from(rows))).unwrap_or(u16::MAX)
}

/// Columns inside a bordered rectangle.
fn inner_width(rect: Rect) -> usize {
    usize::from(rect.width.saturating_sub(2))
}

/// A pane's frame: a border that shows focus, and a title.
pub(crate) fn block<'a>(title: impl Into<Line<'a>>, focused: bool, theme: &Theme) -> Block<'a> {
    let border = if focused {
        theme.border_focused()
    } else {
        theme.border()
    };
    Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .border_type(if focused {
            ratatui::widgets::BorderType::Thick
        } else {
            ratatui::widgets::BorderType::Plain
        })
        .title(title)
}

/// A pane's frame whose title (and, on the right, a note) fit along its top border: the
/// note is kept and the title shortened.
pub(crate) fn titled_block<'a>(
    title: Line<'a>,
    note: Option<Line<'a>>,
    focused: bool,
    theme: &Theme,
    width: u16,
) -> Block<'a> {
    // the corners and a column between the two
    let room = usize::from(width).saturating_sub(3);
    let note_width = note.as_ref().map_or(0, Line::width);
    let (title, note) = if note_width + 8 > room {
        (fit::line(title, room), None)
    } else {
        (fit::line(title, room - note_width), note)
    };
    let mut b = block(title, focused, theme);
    if let Some(n) = note {
        b = b.title_top(n.right_aligned());
    }
    b
}

/// A centred rectangle of `percent_x` by `percent_y` of `area`.
pub(crate) fn centered(area: Rect, percent_x: u16, percent_y: u16) -> Rect {
    let w = (area.width * percent_x / 100).max(20).min(area.width);
    let h = (area.height * percent_y / 100).max(6).min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// Clear an area for an overlay.
pub(crate) fn clear(frame: &mut Frame<'_>, area: Rect) {
    frame.render_widget(Clear, area);
}

fn title(frame: &mut Frame<'_>, state: &State, area: Rect) {
    let t = &state.theme;
    let running = state
        .activity
        .iter()
        .filter_map(|r| r.run())
        .filter(|r| matches!(r.status, RunStatus::Running | RunStatus::Queued))
        .count();
    // what matters most first: the debug run, then what is running, the filter, the store
    let mut spans = vec![Span::styled(" flowdeck ", t.accent())];
    if let Some(d) = &state.debug {
        let what = match &d.paused {
            Some((_, s)) => format!(
                "‖ debugging run #{} of {}: paused at {}  ",
                d.run_id,
                d.definition,
                s.next.as_deref().unwrap_or("the end")
            ),
            None => format!(
                "▶ debugging run #{} of {}: running  ",
                d.run_id, d.definition
            ),
        };
        spans.push(Span::styled(what, t.warn()));
    }
    if running > 0 {
        spans.push(Span::styled(format!("… {running} running  "), t.warn()));
    }
    if !state.filter.is_empty() {
        spans.push(Span::styled(
            format!("filter: {}  ", state.filter),
            t.warn(),
        ));
    }
    if !state.mouse {
        spans.push(Span::styled("mouse off  ", t.muted()));
    }
    spans.push(Span::styled(format!("· {}", state.store_label), t.muted()));
    let line = fit::line(Line::from(spans), usize::from(area.width));
    frame.render_widget(Paragraph::new(line), area);
}

fn hints(frame: &mut Frame<'_>, state: &State, areas: &Areas) {
    let t = &state.theme;
    let width = usize::from(areas.hints.width);
    let line = if let (InputMode::Prompting, Some(p)) = (state.mode, &state.prompt) {
        let answer = match &p.error {
            Some(e) => Span::styled(format!("   ✗ {e}"), t.error()),
            None => Span::styled("   enter ok · esc cancel", t.muted()),
        };
        // the end of what is typed stays in view
        let label = format!(" {}: ", p.kind.label());
        let room = width.saturating_sub(fit::width(&label) + answer.width() + 1);
        let typed = fit::tail(&p.text, room.max(1));
        Line::from(vec![
            Span::styled(label, t.accent()),
            Span::raw(typed),
            Span::styled("▏", t.accent()),
            answer,
        ])
    } else if state.mode == InputMode::Filtering {
        Line::from(vec![
            Span::styled(" / ", t.accent()),
            Span::raw(state.filter.clone()),
            Span::styled("▏", t.accent()),
            Span::styled("   enter keep · esc clear", t.muted()),
        ])
    } else if let Some(n) = &state.notice {
        let style = if n.error { t.error() } else { t.ok() };
        let text = format!(" {}{}", if n.error { "✗ " } else { "✓ " }, n.text);
        match &n.keys {
            Some(keys) => fit::with_keys(&text, style, keys, t.accent(), width),
            None => Line::from(Span::styled(text, style)),
        }
    } else {
        command_hints(state, width)
    };
    frame.render_widget(Paragraph::new(fit::line(line, width)), areas.hints);
}

/// The hint line: help first, then the commands of where the keys go, as the user has them,
/// as many as fit whole in `width` columns.
fn command_hints(state: &State, width: usize) -> Line<'static> {
    let t = &state.theme;
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    let mut seen = Vec::new();
    // help first, so that it shows however narrow the terminal
    if state.overlay.is_none() && state.mode == InputMode::Normal {
        let help = super::commands::info(Cmd::Help);
        let keys = state.keymap.describe(help.cmd);
        used += fit::width(&keys) + help.title.len() + 3;
        spans.push(Span::styled(keys, t.accent()));
        spans.push(Span::styled(format!(" {}  ", help.title), t.muted()));
        seen.push(help.cmd);
    }
    for context in state.contexts() {
        // the debugger's keys are hinted while there is a debug run
        if context == Context::Debug && state.debug.is_none() {
            continue;
        }
        for info in COMMANDS
            .iter()
            .filter(|c| c.hint && c.contexts.contains(&context))
        {
            if seen.contains(&info.cmd) {
                continue;
            }
            seen.push(info.cmd);
            let keys = state.keymap.describe(info.cmd);
            if keys.is_empty() {
                continue;
            }
            let title = format!(" {}  ", info.title);
            let needed = fit::width(&keys) + fit::width(title.trim_end());
            if used + needed > width {
                return Line::from(spans);
            }
            used += needed + 2;
            spans.push(Span::styled(keys, t.accent()));
            spans.push(Span::styled(title, t.muted()));
        }
    }
    Line::from(spans)
}

fn too_small(frame: &mut Frame<'_>, state: &State) {
    let area = frame.area();
    let text = vec![
        Line::from(Span::styled(
            "The terminal is too small for the studio.",
            state.theme.error(),
        )),
        Line::from(format!(
            "It is {}×{}; make it at least {}×{}.",
            area.width,
            area.height,
            layout::MIN_SIZE.0,
            layout::MIN_SIZE.1
        )),
        Line::from(Span::styled(
            format!("{} quits", state.key(Cmd::Quit)),
            Style::default(),
        )),
    ];
    let y = area.height.saturating_sub(3) / 2;
    let rect = Rect::new(
        area.x,
        area.y + y,
        area.width,
        area.height.saturating_sub(y).min(3),
    );
    frame.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        rect,
    );
}
