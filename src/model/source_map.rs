//! Finding where things are in a definition's JSON text (for diagnostics and editors).

/// Line and column (1-based) of the `nth` (0-based) `"id": "<id>"` in `text`.
pub(crate) fn find_step(text: &str, id: &str, nth: usize) -> Option<(usize, usize)> {
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
pub(crate) fn find_key(text: &str, key: &str) -> Option<(usize, usize)> {
    let needle = format!("\"{}\"", escape(key));
    text.match_indices(&needle)
        .find(|(i, _)| text[i + needle.len()..].trim_start().starts_with(':'))
        .map(|(i, _)| line_col(text, i))
}

/// Byte offset of the first `"<key>": "<value>"` in `text` (a string value, compared as
/// JSON text).
pub(crate) fn find_key_value(text: &str, key: &str, value: &str) -> Option<usize> {
    let needle = format!("\"{}\"", escape(key));
    let value = serde_json::to_string(value).ok()?;
    text.match_indices(&needle)
        .find(|(i, _)| {
            text[i + needle.len()..]
                .trim_start()
                .strip_prefix(':')
                .is_some_and(|rest| rest.trim_start().starts_with(&value))
        })
        .map(|(i, _)| i)
}

/// Line and column (1-based) of the first `"<key>":` in `text` at or after byte `from`.
pub(crate) fn find_key_from(text: &str, key: &str, from: usize) -> Option<(usize, usize)> {
    let from = from.min(text.len());
    let rest = text.get(from..)?;
    let needle = format!("\"{}\"", escape(key));
    rest.match_indices(&needle)
        .find(|(i, _)| rest[i + needle.len()..].trim_start().starts_with(':'))
        .map(|(i, _)| line_col(text, from + i))
}

/// 1-based line and column of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// 1-based character column of a 1-based byte column on a 1-based line (serde_json counts
/// bytes); at least 1.
pub(crate) fn char_column(text: &str, line: usize, byte_column: usize) -> usize {
    let Some(l) = text.split('\n').nth(line.saturating_sub(1)) else {
        return byte_column.max(1);
    };
    let mut end = byte_column.min(l.len());
    while end > 0 && !l.is_char_boundary(end) {
        end -= 1;
    }
    l[..end].chars().count().max(1)
}

/// Byte offset of a 1-based line and byte column.
pub(crate) fn offset(text: &str, line: usize, byte_column: usize) -> usize {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (start + byte_column.saturating_sub(1)).min(text.len())
}

/// The `"id"` of the JSON object that encloses `offset`, if it has one before `offset`
/// (finds the step a fault inside it belongs to).
pub(crate) fn enclosing_id(text: &str, offset: usize) -> Option<String> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = offset.min(bytes.len());
    // walk back to the `{` that opens the object holding `offset` (strings are rare enough
    // in keys and values around here that braces inside them are not worth tracking)
    let start = loop {
        if i == 0 {
            return None;
        }
        i -= 1;
        match bytes[i] {
            b'}' => depth += 1,
            b'{' if depth == 0 => break i,
            b'{' => depth -= 1,
            _ => {}
        }
    };
    let object = &text[start..offset.min(text.len())];
    let key_at = object.find("\"id\"")?;
    let rest = object[key_at + 4..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    let value = rest.strip_prefix('"')?;
    let end = value.find('"')?;
    Some(value[..end].to_string())
}

/// Where a step's object is in a definition's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StepSpan {
    /// The step id.
    pub id: String,
    /// Line of its `{` (1-based).
    pub start: usize,
    /// Line of its `}`.
    pub end: usize,
    /// Line of its `"id"` key (what editors show as the step's line).
    pub id_line: usize,
}

/// Every step object in `text` (objects with an `"id"` string and an `"action"` key), in
/// the order their objects close (inner steps first).
pub(crate) fn step_spans(text: &str) -> Vec<StepSpan> {
    struct Obj {
        start: usize,
        id: Option<(String, usize)>,
        has_action: bool,
        /// the last key read at this level, waiting for its value
        key: Option<String>,
    }
    let mut out = Vec::new();
    let mut stack: Vec<Obj> = Vec::new();
    let mut line = 1;
    let mut chars = text.chars().peekable();
    // true when the next string at the top object is a key
    let mut expect_key = false;
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            '{' => {
                stack.push(Obj {
                    start: line,
                    id: None,
                    has_action: false,
                    key: None,
                });
                expect_key = true;
            }
            '}' => {
                if let Some(o) = stack.pop()
                    && let (Some((id, id_line)), true) = (o.id, o.has_action)
                {
                    out.push(StepSpan {
                        id,
                        start: o.start,
                        end: line,
                        id_line,
                    });
                }
                expect_key = false;
            }
            ',' => expect_key = stack.last().is_some_and(|o| o.key.is_none()),
            '[' | ']' | ':' => expect_key = false,
            '"' => {
                let start_line = line;
                let mut s = String::new();
                while let Some(ch) = chars.next() {
                    match ch {
                        '\\' => {
                            if let Some(esc) = chars.next() {
                                s.push(esc);
                            }
                        }
                        '"' => break,
                        '\n' => {
                            line += 1;
                            s.push(ch);
                        }
                        _ => s.push(ch),
                    }
                }
                let Some(top) = stack.last_mut() else {
                    continue;
                };
                if expect_key {
                    if s == "action" {
                        top.has_action = true;
                    }
                    top.key = Some(s);
                    expect_key = false;
                } else if top.key.as_deref() == Some("id") && top.id.is_none() {
                    top.id = Some((s, start_line));
                }
            }
            _ => {}
        }
        // a value was read at the top level: the key is used up
        if matches!(c, ',' | '}') {
            if let Some(top) = stack.last_mut() {
                top.key = None;
            }
            if c == ',' {
                expect_key = stack.last().is_some();
            }
        }
    }
    out
}

/// The innermost step whose object holds `line`.
pub(crate) fn step_at_line(spans: &[StepSpan], line: usize) -> Option<&StepSpan> {
    spans
        .iter()
        .filter(|s| s.start <= line && line <= s.end)
        .min_by_key(|s| s.end - s.start)
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_spans_and_lines() {
        let text = r#"{
  "name": "w", "on": "e",
  "steps": [
    {"id": "a", "action": "log", "message": "{not an id}"},
    {"id": "b", "action": "if", "cond": true,
     "then": [
       {"id": "c", "action": "log",
        "message": "x"}
     ]},
    {"action": "set", "id": "d", "var": "v", "value": {"id": "nested-not-a-step"}}
  ]
}"#;
        let spans = step_spans(text);
        let ids: Vec<&str> = spans.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, vec!["a", "c", "b", "d"]);
        assert_eq!(step_at_line(&spans, 4).unwrap().id, "a");
        assert_eq!(step_at_line(&spans, 8).unwrap().id, "c");
        assert_eq!(step_at_line(&spans, 9).unwrap().id, "b");
        assert_eq!(step_at_line(&spans, 10).unwrap().id, "d");
        assert!(step_at_line(&spans, 2).is_none());
        let c = spans.iter().find(|s| s.id == "c").unwrap();
        assert_eq!((c.start, c.end, c.id_line), (7, 8, 7));
    }

    #[test]
    fn finds_steps_and_keys() {
        let text = "{\n  \"on\": \"x\",\n  \"steps\": [\n    {\"id\": \"a\"},\n    {\"id\" : \"b\"}, {\"id\": \"a\"}\n  ]\n}";
        assert_eq!(find_step(text, "a", 0), Some((4, 6)));
        assert_eq!(find_step(text, "b", 0), Some((5, 6)));
        assert_eq!(find_step(text, "a", 1), Some((5, 20)));
        assert_eq!(find_key(text, "steps"), Some((3, 3)));
        assert_eq!(find_step(text, "zz", 0), None);
        let at = text.find("\"b\"").unwrap();
        assert_eq!(enclosing_id(text, at + 3).as_deref(), Some("b"));
        assert_eq!(enclosing_id(text, 3), None);
        assert_eq!(offset(text, 2, 3), 4);
    }
}
