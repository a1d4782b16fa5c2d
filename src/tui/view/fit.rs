//! Text that does not fit is shortened on purpose, never cut by a border: a line loses its
//! end to an ellipsis, prose wraps between words, and a line with keys keeps the keys whole
//! and shortens what comes before them.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

/// The ellipsis that marks shortened text.
pub const ELLIPSIS: &str = "…";

/// Columns a text takes on screen.
pub fn width(text: &str) -> usize {
    text.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// `text` in at most `max` columns, with `…` at the end when shortened.
pub fn shorten(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push_str(ELLIPSIS);
    out
}

/// The end of `text` in at most `max` columns (what was typed last stays in view).
pub fn tail(text: &str, max: usize) -> String {
    let mut used = 0;
    let mut start = text.len();
    for (i, c) in text.char_indices().rev() {
        let w = c.width().unwrap_or(0);
        if used + w > max {
            break;
        }
        used += w;
        start = i;
    }
    text[start..].to_string()
}

/// `line` in at most `max` columns: spans kept in order until the room runs out, the last
/// shortened with `…` (in its own style). The line's own style is kept.
pub fn line(line: Line<'_>, max: usize) -> Line<'_> {
    if line.width() <= max {
        return line;
    }
    let style = line.style;
    let alignment = line.alignment;
    let mut spans = Vec::new();
    let mut left = max;
    for span in line.spans {
        let w = width(&span.content);
        if w < left {
            left -= w;
            spans.push(span);
            continue;
        }
        spans.push(Span::styled(shorten(&span.content, left), span.style));
        break;
    }
    let mut out = Line::from(spans).style(style);
    out.alignment = alignment;
    out
}

/// Every line fitted to `max` columns.
pub fn lines(lines: Vec<Line<'_>>, max: usize) -> Vec<Line<'_>> {
    lines.into_iter().map(|l| line(l, max)).collect()
}

/// `text` then `keys` in at most `max` columns: the keys are kept whole and the text is
/// shortened to make room (the keys first when even they do not fit).
pub fn with_keys<'a>(
    text: &str,
    text_style: Style,
    keys: &str,
    keys_style: Style,
    max: usize,
) -> Line<'a> {
    let gap = "  ";
    let room = max.saturating_sub(width(keys) + width(gap));
    if room < 8 {
        return line(
            Line::from(vec![
                Span::styled(keys.to_string(), keys_style),
                Span::styled(format!("{gap}{text}"), text_style),
            ]),
            max,
        );
    }
    Line::from(vec![
        Span::styled(shorten(text, room), text_style),
        Span::styled(format!("{gap}{keys}"), keys_style),
    ])
}

/// Prose wrapped between words into lines of at most `max` columns (a word longer than a
/// line is shortened with `…`).
pub fn wrap(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let word = shorten(word, max);
        let needed = if current.is_empty() {
            width(&word)
        } else {
            width(&current) + 1 + width(&word)
        };
        if needed > max && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&word);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortened_text_ends_in_an_ellipsis_and_fits() {
        assert_eq!(shorten("reorder_supply", 20), "reorder_supply");
        assert_eq!(shorten("reorder_supply", 8), "reorder…");
        assert_eq!(width(&shorten("日本語のテキスト", 7)), 7);
        assert_eq!(shorten("abc", 0), "");
        assert_eq!(tail("$var.rows", 4), "rows");
        let l = line(Line::from(vec![Span::raw("abc "), Span::raw("defgh")]), 6);
        assert_eq!(l.to_string(), "abc d…");
        assert!(l.width() <= 6);
    }

    #[test]
    fn keys_are_kept_and_prose_wraps_between_words() {
        let l = with_keys(
            "run #1 paused at load at a breakpoint",
            Style::default(),
            "n step · c continue",
            Style::default(),
            40,
        );
        assert!(l.to_string().ends_with("n step · c continue"), "{l}");
        assert!(l.width() <= 40);
        assert_eq!(
            wrap("No run yet: x emits, r runs the draft", 16),
            ["No run yet: x", "emits, r runs", "the draft"]
        );
        assert_eq!(wrap("", 10), Vec::<String>::new());
    }
}
