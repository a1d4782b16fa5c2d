//! Drawing: a pure function of the state. Nothing here changes anything.

mod activity;
mod help;
mod overlays;
mod panes;
mod trace;

use super::layout::{self, Areas};
use super::state::{Overlay, State};
use super::theme::Theme;
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
            overlays::palette(frame, state, areas.main, query, *selected)
        }
        Some(Overlay::Trace(t)) => trace::draw(frame, state, areas.main, t),
        Some(Overlay::Confirm(c)) => overlays::confirm(frame, state, areas.main, c),
    }
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
        .filter(|r| !r.status.is_finished())
        .count();
    let mut spans = vec![
        Span::styled(" flowdeck ", t.accent()),
        Span::styled(format!("· {}", state.store_label), t.muted()),
    ];
    if running > 0 {
        spans.push(Span::styled(format!("  … {running} running"), t.warn()));
    }
    if !state.filter.is_empty() {
        spans.push(Span::styled(
            format!("  filter: {}", state.filter),
            t.warn(),
        ));
    }
    if let Some(d) = &state.debug {
        let what = match &d.paused {
            Some((_, s)) => format!(
                "  ‖ debugging run #{} of {}: paused at {}",
                d.run_id,
                d.workflow,
                s.next.as_deref().unwrap_or("the end")
            ),
            None => format!("  ▶ debugging run #{} of {}: running", d.run_id, d.workflow),
        };
        spans.push(Span::styled(what, t.warn()));
    }
    if !state.mouse {
        spans.push(Span::styled("  mouse off", t.muted()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn hints(frame: &mut Frame<'_>, state: &State, areas: &Areas) {
    let t = &state.theme;
    if let (super::state::Mode::Prompting, Some(p)) = (state.mode, &state.prompt) {
        let line = Line::from(vec![
            Span::styled(format!(" {}: ", p.kind.label()), t.accent()),
            Span::raw(p.text.clone()),
            Span::styled("▏", t.accent()),
            match &p.error {
                Some(e) => Span::styled(format!("   ✗ {e}"), t.error()),
                None => Span::styled("   enter ok · esc cancel", t.muted()),
            },
        ]);
        frame.render_widget(Paragraph::new(line), areas.hints);
        return;
    }
    if state.mode == super::state::Mode::Filtering {
        let line = Line::from(vec![
            Span::styled(" / ", t.accent()),
            Span::raw(state.filter.clone()),
            Span::styled("▏", t.accent()),
            Span::styled("   enter keep · esc clear", t.muted()),
        ]);
        frame.render_widget(Paragraph::new(line), areas.hints);
        return;
    }
    if let Some(n) = &state.notice {
        let style = if n.error { t.error() } else { t.ok() };
        let mark = if n.error { "✗ " } else { "✓ " };
        frame.render_widget(
            Paragraph::new(Line::from(vec![Span::styled(
                format!(" {mark}{}", n.text),
                style,
            )])),
            areas.hints,
        );
        return;
    }
    let mut spans = vec![Span::raw(" ")];
    let mut seen = Vec::new();
    // help first, so that it shows however narrow the terminal
    let help = super::commands::info(super::commands::Cmd::Help);
    if state.overlay.is_none() && state.mode == super::state::Mode::Normal {
        spans.push(Span::styled(state.keymap.describe(help.cmd), t.accent()));
        spans.push(Span::styled(format!(" {}  ", help.title), t.muted()));
        seen.push(help.cmd);
    }
    for context in state.contexts() {
        for info in super::commands::COMMANDS
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
            spans.push(Span::styled(keys, t.accent()));
            spans.push(Span::styled(format!(" {}  ", info.title), t.muted()));
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), areas.hints);
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
        Line::from(Span::styled("q quits", Style::default())),
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
