//! JSON as lines for the panes: pretty-printed, with long arrays, objects and strings folded
//! unless expanded.

use serde_json::Value;

/// Arrays longer than this are folded (below the top level).
const FOLD_ITEMS: usize = 4;
/// Objects with more keys than this are folded (below the top level).
const FOLD_KEYS: usize = 8;
/// Strings longer than this are cut.
const FOLD_STRING: usize = 80;

/// Pretty lines of `value`; folded unless `expanded`.
pub(crate) fn lines(value: &Value, expanded: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut last = String::new();
    // `write` pushes finished lines and leaves the last one open
    write(value, 0, expanded, &mut last, &mut out);
    out.push(last);
    out
}

fn scalar(v: &Value, expanded: bool) -> String {
    match v {
        Value::String(s) if !expanded && s.chars().count() > FOLD_STRING => {
            let cut: String = s.chars().take(FOLD_STRING).collect();
            format!("{:?}… ({} chars)", cut, s.chars().count())
        }
        other => other.to_string(),
    }
}

fn write(v: &Value, depth: usize, expanded: bool, line: &mut String, out: &mut Vec<String>) {
    let pad = |d: usize| "  ".repeat(d);
    match v {
        Value::Array(items) if items.is_empty() => line.push_str("[]"),
        Value::Object(map) if map.is_empty() => line.push_str("{}"),
        Value::Array(items) if !expanded && depth > 0 && items.len() > FOLD_ITEMS => {
            line.push_str(&format!("[… {} items]", items.len()));
        }
        Value::Object(map) if !expanded && depth > 0 && map.len() > FOLD_KEYS => {
            line.push_str(&format!("{{… {} keys}}", map.len()));
        }
        Value::Array(items) => {
            line.push('[');
            out.push(std::mem::take(line));
            for (i, item) in items.iter().enumerate() {
                line.push_str(&pad(depth + 1));
                write(item, depth + 1, expanded, line, out);
                if i + 1 < items.len() {
                    line.push(',');
                }
                out.push(std::mem::take(line));
            }
            line.push_str(&pad(depth));
            line.push(']');
        }
        Value::Object(map) => {
            line.push('{');
            out.push(std::mem::take(line));
            let n = map.len();
            for (i, (k, item)) in map.iter().enumerate() {
                line.push_str(&pad(depth + 1));
                line.push_str(&format!("{}: ", Value::String(k.clone())));
                write(item, depth + 1, expanded, line, out);
                if i + 1 < n {
                    line.push(',');
                }
                out.push(std::mem::take(line));
            }
            line.push_str(&pad(depth));
            line.push('}');
        }
        other => line.push_str(&scalar(other, expanded)),
    }
}

/// Whether anything in `value` would be folded.
#[cfg(test)]
fn foldable(value: &Value) -> bool {
    lines(value, false) != lines(value, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pretty_and_folded() {
        assert_eq!(lines(&json!(1), false), vec!["1"]);
        assert_eq!(
            lines(&json!({"a": [1, 2]}), false),
            vec!["{", "  \"a\": [", "    1,", "    2", "  ]", "}"]
        );
        let big = json!({"rows": (0..10).collect::<Vec<_>>()});
        assert_eq!(
            lines(&big, false),
            vec!["{", "  \"rows\": [… 10 items]", "}"]
        );
        assert!(lines(&big, true).len() > 10);
        assert!(foldable(&big));
        let long = json!({"s": "x".repeat(200)});
        assert!(lines(&long, false)[1].contains("(200 chars)"));
    }
}
