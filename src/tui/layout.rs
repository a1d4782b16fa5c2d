//! Where each pane goes for a terminal size: one pure function, used by the view to draw
//! and by `update` to map mouse clicks to panes and rows.

use super::state::{Focus, InputMode};
use ratatui::layout::{Constraint, Direction, Layout, Rect};

/// Smallest terminal the studio draws in.
pub const MIN_SIZE: (u16, u16) = (60, 16);

/// The areas of the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Areas {
    /// The title line.
    pub title: Rect,
    /// The workflows list.
    pub workflows: Rect,
    /// The steps tree, when shown.
    pub steps: Option<Rect>,
    /// The params editor, when shown.
    pub params: Option<Rect>,
    /// The variables pane, when shown.
    pub variables: Option<Rect>,
    /// The activity log.
    pub activity: Rect,
    /// The hint line.
    pub hints: Rect,
    /// The area overlays cover.
    pub main: Rect,
}

impl Areas {
    /// The area of a pane, when shown.
    pub fn of(&self, focus: Focus) -> Option<Rect> {
        match focus {
            Focus::Workflows => Some(self.workflows),
            Focus::Steps => self.steps,
            Focus::Params => self.params,
            Focus::Variables => self.variables,
            Focus::Activity => Some(self.activity),
        }
    }

    /// The pane at a screen position.
    pub fn pane_at(&self, x: u16, y: u16) -> Option<Focus> {
        Focus::ALL.into_iter().find(|f| {
            self.of(*f)
                .is_some_and(|r| x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height)
        })
    }
}

/// Whether the terminal is too small to draw in.
pub fn too_small(size: (u16, u16)) -> bool {
    size.0 < MIN_SIZE.0 || size.1 < MIN_SIZE.1
}

/// Lay the screen out. Wide terminals show every pane; narrow ones show the workflows, the
/// activity, and one detail pane (the focused one of steps, params and variables).
pub fn layout(size: (u16, u16), focus: Focus, mode: InputMode, narrow: bool) -> Areas {
    let screen = Rect::new(0, 0, size.0, size.1);
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .split(screen);
    let (title, main, hints) = (rows[0], rows[1], rows[2]);
    let activity_height = if narrow {
        (main.height * 35 / 100).max(6)
    } else {
        (main.height * 30 / 100).max(8)
    };
    let body = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Min(5), Constraint::Length(activity_height)])
        .split(main);
    let (top, activity) = (body[0], body[1]);
    let mut areas = Areas {
        title,
        hints,
        activity,
        main,
        ..Areas::default()
    };
    if narrow {
        let cols = Layout::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Percentage(40), Constraint::Percentage(60)])
            .split(top);
        areas.workflows = cols[0];
        let detail = if mode == InputMode::Editing {
            Focus::Params
        } else {
            match focus {
                Focus::Params => Focus::Params,
                Focus::Variables => Focus::Variables,
                _ => Focus::Steps,
            }
        };
        match detail {
            Focus::Params => areas.params = Some(cols[1]),
            Focus::Variables => areas.variables = Some(cols[1]),
            _ => areas.steps = Some(cols[1]),
        }
    } else {
        let cols = Layout::default()
            .direction(Direction::Horizontal)
            .constraints([
                Constraint::Percentage(27),
                Constraint::Percentage(41),
                Constraint::Percentage(32),
            ])
            .split(top);
        let right = Layout::default()
            .direction(Direction::Vertical)
            .constraints([Constraint::Percentage(42), Constraint::Percentage(58)])
            .split(cols[2]);
        areas.workflows = cols[0];
        areas.steps = Some(cols[1]);
        areas.params = Some(right[0]);
        areas.variables = Some(right[1]);
    }
    areas
}

/// The first row shown of a list of `len` rows in `height` rows, keeping `selected` in
/// view (centred when the list scrolls).
pub fn scroll_offset(selected: usize, len: usize, height: usize) -> usize {
    if len <= height || height == 0 {
        return 0;
    }
    selected.saturating_sub(height / 2).min(len - height)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_shows_every_pane_and_narrow_one_detail() {
        let wide = layout((120, 40), Focus::Workflows, InputMode::Normal, false);
        assert!(wide.steps.is_some() && wide.params.is_some() && wide.variables.is_some());
        let narrow = layout((80, 24), Focus::Variables, InputMode::Normal, true);
        assert!(narrow.variables.is_some() && narrow.steps.is_none() && narrow.params.is_none());
        let editing = layout((80, 24), Focus::Workflows, InputMode::Editing, true);
        assert!(editing.params.is_some());
        assert_eq!(wide.pane_at(1, 2), Some(Focus::Workflows));
    }

    #[test]
    fn offsets_keep_the_selection_visible() {
        assert_eq!(scroll_offset(3, 5, 10), 0);
        assert_eq!(scroll_offset(50, 100, 10), 45);
        assert_eq!(scroll_offset(99, 100, 10), 90);
        for s in 0..100 {
            let o = scroll_offset(s, 100, 10);
            assert!(s >= o && s < o + 10);
        }
    }
}
