//! Styles. With colour (configurable) or, under `NO_COLOR`, none at all: meaning is then
//! carried by bold, reverse, dim and the symbols (✓ ✗ … · `[x]`).

use super::config::ThemeConfig;
use ratatui::style::{Color, Modifier, Style};
use std::str::FromStr;

/// The studio's styles.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    /// Whether colours are used.
    pub color: bool,
    accent: Color,
    ok: Color,
    error: Color,
    warn: Color,
    muted: Color,
    selection: Color,
}

fn color(name: &str, fallback: Color) -> Color {
    Color::from_str(name).unwrap_or(fallback)
}

impl Theme {
    /// From the config; `no_color` drops every colour.
    pub fn new(config: &ThemeConfig, no_color: bool) -> Theme {
        Theme {
            color: !no_color,
            accent: color(&config.accent, Color::Cyan),
            ok: color(&config.ok, Color::Green),
            error: color(&config.error, Color::LightRed),
            warn: color(&config.warn, Color::Yellow),
            muted: color(&config.muted, Color::DarkGray),
            selection: color(&config.selection, Color::Blue),
        }
    }

    /// Whether `NO_COLOR` is set (to anything but the empty string).
    pub fn no_color_from_env() -> bool {
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    /// Plain text.
    pub fn text(&self) -> Style {
        Style::default()
    }

    /// Titles and keys.
    pub fn accent(&self) -> Style {
        self.fg(self.accent).add_modifier(Modifier::BOLD)
    }

    /// Good news.
    pub fn ok(&self) -> Style {
        self.fg(self.ok)
    }

    /// Bad news (bold without colour).
    pub fn error(&self) -> Style {
        let s = self.fg(self.error);
        if self.color {
            s
        } else {
            s.add_modifier(Modifier::BOLD)
        }
    }

    /// In progress, changed.
    pub fn warn(&self) -> Style {
        self.fg(self.warn)
    }

    /// Secondary text.
    pub fn muted(&self) -> Style {
        if self.color {
            self.fg(self.muted)
        } else {
            Style::default().add_modifier(Modifier::DIM)
        }
    }

    /// The selected row of the focused pane.
    pub fn selected(&self) -> Style {
        if self.color {
            Style::default()
                .bg(self.selection)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }
    }

    /// The selected row of a pane without focus.
    pub fn selected_unfocused(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }

    /// The border of the focused pane.
    pub fn border_focused(&self) -> Style {
        self.fg(self.accent).add_modifier(Modifier::BOLD)
    }

    /// Other borders.
    pub fn border(&self) -> Style {
        if self.color {
            self.fg(self.muted)
        } else {
            Style::default()
        }
    }
}
