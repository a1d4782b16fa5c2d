//! Finding where things are in a definition's JSON text (for diagnostics and editors).

/// Line and column (1-based) of the `nth` (0-based) `"id": "<id>"` in `text`.
pub fn find_step(text: &str, id: &str, nth: usize) -> Option<(usize, usize)> {
    let needle = format!("\"{}\"", escape(id));
    let mut found = 0;
    for (key_at, _) in text.match_indices("\"id\"") {
        let rest = &text[key_at + 4..];
        let after_colon = rest.trim_start().strip_prefix(':')?;
        if after_colon.trim_start().starts_with(&needle) {
            if found == nth {
                return Some(line_col(text, key_at));
            }
            found += 1;
        }
    }
    None
}

/// Line and column (1-based) of the first `"<key>":` in `text`.
pub fn find_key(text: &str, key: &str) -> Option<(usize, usize)> {
    let needle = format!("\"{}\"", escape(key));
    text.match_indices(&needle)
        .find(|(i, _)| text[i + needle.len()..].trim_start().starts_with(':'))
        .map(|(i, _)| line_col(text, i))
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_steps_and_keys() {
        let text = "{\n  \"on\": \"x\",\n  \"steps\": [\n    {\"id\": \"a\"},\n    {\"id\" : \"b\"}, {\"id\": \"a\"}\n  ]\n}";
        assert_eq!(find_step(text, "a", 0), Some((4, 6)));
        assert_eq!(find_step(text, "b", 0), Some((5, 6)));
        assert_eq!(find_step(text, "a", 1), Some((5, 20)));
        assert_eq!(find_key(text, "steps"), Some((3, 3)));
        assert_eq!(find_step(text, "zz", 0), None);
    }
}
