//! Splitting a string into literal text and `{{ … }}` template parts.
//!
//! This is the syntax layer only: the expressions inside are compiled by `expr`.
//! The scanner understands jq string literals (with escapes and `\( … )`
//! interpolation) and braces, so `{{ {a: {b: 1}} }}` and `{{ "}}" }}` split as a user means.

use std::fmt;

/// One piece of a template string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment<'a> {
    /// Text taken as it is.
    Text(&'a str),
    /// The jq expression between `{{` and `}}`, trimmed.
    Expr(&'a str),
}

/// A template string whose braces do not close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SplitError {
    /// Byte offset of the `{{` that does not close.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.offset + 1)
    }
}

/// Whether `s` holds a template at all (cheap check before splitting).
pub(crate) fn has_template(s: &str) -> bool {
    s.contains("{{")
}

/// Split `s` into text and expression segments.
pub(crate) fn split(s: &str) -> Result<Vec<Segment<'_>>, SplitError> {
    let mut out = Vec::new();
    let mut rest_start = 0;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'{' && bytes[i + 1] == b'{' {
            if i > rest_start {
                out.push(Segment::Text(&s[rest_start..i]));
            }
            let open = i;
            let body_start = i + 2;
            let end = find_close(s, body_start).ok_or_else(|| SplitError {
                offset: open,
                message: "`{{` is not closed by `}}`".to_string(),
            })?;
            let expr = s[body_start..end].trim();
            if expr.is_empty() {
                return Err(SplitError {
                    offset: open,
                    message: "empty template `{{ }}`".to_string(),
                });
            }
            out.push(Segment::Expr(expr));
            i = end + 2;
            rest_start = i;
        } else {
            i += 1;
        }
    }
    if rest_start < s.len() {
        out.push(Segment::Text(&s[rest_start..]));
    }
    Ok(out)
}

/// Find the `}}` that closes a template whose body starts at `start`.
fn find_close(s: &str, start: usize) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut depth: usize = 0;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = skip_string(bytes, i + 1)?,
            b'{' | b'(' | b'[' => depth += 1,
            b'}' if depth == 0 => {
                return (bytes.get(i + 1) == Some(&b'}')).then_some(i);
            }
            b'}' | b')' | b']' => depth = depth.saturating_sub(1),
            b'#' => {
                // a jq comment runs to the end of the line
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Skip a jq string literal whose body starts at `i`; return the index of the closing quote.
fn skip_string(bytes: &[u8], mut i: usize) -> Option<usize> {
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return Some(i),
            b'\\' if bytes.get(i + 1) == Some(&b'(') => {
                // interpolation: skip a balanced parenthesised jq term
                let mut depth = 1;
                i += 2;
                while i < bytes.len() && depth > 0 {
                    match bytes[i] {
                        b'"' => i = skip_string(bytes, i + 1)?,
                        b'(' => depth += 1,
                        b')' => depth -= 1,
                        _ => {}
                    }
                    i += 1;
                }
                continue;
            }
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use Segment::{Expr, Text};

    #[test]
    fn splits_text_and_expressions() {
        assert_eq!(
            split("stock is {{ $var.rows[0].stock }} units").unwrap(),
            vec![
                Text("stock is "),
                Expr("$var.rows[0].stock"),
                Text(" units")
            ]
        );
        assert_eq!(split("{{$param.sku}}").unwrap(), vec![Expr("$param.sku")]);
        assert_eq!(split("plain").unwrap(), vec![Text("plain")]);
    }

    #[test]
    fn braces_and_strings_inside_expressions() {
        assert_eq!(
            split("{{ {a: {b: 1}} }}").unwrap(),
            vec![Expr("{a: {b: 1}}")]
        );
        assert_eq!(split(r#"{{ "}}" }}"#).unwrap(), vec![Expr(r#""}}""#)]);
        assert_eq!(
            split(r#"{{ "x\(1 + (2))}}" }}!"#).unwrap(),
            vec![Expr(r#""x\(1 + (2))}}""#), Text("!")]
        );
    }

    #[test]
    fn unclosed_and_empty_templates_are_errors() {
        let e = split("a {{ $param.sku").unwrap_err();
        assert_eq!(e.offset, 2);
        assert!(split("{{ }}").is_err());
        assert!(split(r#"{{ "open }}"#).is_err());
    }
}
