//! The fast path: templates that are a variable and a chain of keys and indexes
//! (`$param.sku`, `$var.rows[0].stock`, `$headers["x-id"]`) are looked up directly,
//! without jq, with jq's semantics (`null` through missing keys, errors on wrong types).

use super::expression::Bindings;
use super::scope::Global;
use serde_json::Value;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// `.name` or `["name"]`
    Key(String),
    /// `[3]` or `[-1]`
    Index(i64),
}

/// A variable followed by segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathExpr {
    /// The variable.
    pub root: Global,
    /// Keys and indexes, in order.
    pub segments: Vec<Segment>,
}

impl PathExpr {
    /// Parse `code` as a simple path; `None` when it is anything else (then jq runs it).
    pub(crate) fn parse(code: &str) -> Option<PathExpr> {
        let code = code.trim();
        let rest = code.strip_prefix('$')?;
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let root = Global::from_name(&code[..=name_len])?;
        let mut rest = &rest[name_len..];
        let mut segments = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                if after.starts_with('[') {
                    rest = after; // `.[0]` is the same as `[0]`
                    continue;
                }
                let len = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                if len == 0 || after.starts_with(|c: char| c.is_ascii_digit()) {
                    return None;
                }
                segments.push(Segment::Key(after[..len].to_string()));
                rest = &after[len..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let close = after.find(']')?;
                let inner = after[..close].trim();
                if let Some(s) = inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                    if s.contains(['\\', '"']) {
                        return None;
                    }
                    segments.push(Segment::Key(s.to_string()));
                } else {
                    segments.push(Segment::Index(inner.parse().ok()?));
                }
                rest = &after[close + 1..];
            } else {
                return None;
            }
        }
        Some(PathExpr { root, segments })
    }

    /// Follow the path from its variable's value in `b`, building only the top-level field
    /// it starts with when the variable is bound lazily. `Err` holds jq's message for a
    /// wrong type.
    pub(crate) fn eval_in(&self, b: &Bindings<'_>) -> Result<Value, String> {
        if let Some(Segment::Key(key)) = self.segments.first()
            && let Some(field) = b.lazy_field(self.root, key)
        {
            return match field {
                Some(value) => follow(value, &self.segments[1..]),
                None => Ok(Value::Null),
            };
        }
        self.eval(b.get(self.root))
    }

    /// Follow the path from `root`'s value. `Err` holds jq's message for a wrong type.
    pub(crate) fn eval(&self, root: &Value) -> Result<Value, String> {
        follow(root, &self.segments)
    }
}

/// Follow `segments` from `root`. `Err` holds jq's message for a wrong type.
fn follow(root: &Value, segments: &[Segment]) -> Result<Value, String> {
    let mut current = root;
    for segment in segments {
        current = match (current, segment) {
            (Value::Null, _) => return Ok(Value::Null),
            (Value::Object(map), Segment::Key(k)) => match map.get(k) {
                Some(v) => v,
                None => return Ok(Value::Null),
            },
            // jaq indexes objects by any value: a number finds nothing
            (Value::Object(_), Segment::Index(_)) => return Ok(Value::Null),
            (Value::Array(items), Segment::Index(i)) => {
                let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
                let at = if *i < 0 { len + i } else { *i };
                match usize::try_from(at).ok().and_then(|at| items.get(at)) {
                    Some(v) => v,
                    None => return Ok(Value::Null),
                }
            }
            (other, Segment::Key(k)) => {
                return Err(format!(
                    "cannot index {other} with {}",
                    Value::from(k.as_str())
                ));
            }
            (other, Segment::Index(i)) => {
                return Err(format!("cannot index {other} with {i}"));
            }
        };
    }
    Ok(current.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_simple_paths_only() {
        let p = PathExpr::parse("$var.rows[0].stock").unwrap();
        assert_eq!(p.root, Global::Var);
        assert_eq!(
            p.segments,
            vec![
                Segment::Key("rows".into()),
                Segment::Index(0),
                Segment::Key("stock".into())
            ]
        );
        assert_eq!(
            PathExpr::parse(r#" $headers["x-id"] "#).unwrap().segments,
            vec![Segment::Key("x-id".into())]
        );
        assert!(PathExpr::parse("$param").unwrap().segments.is_empty());
        for code in [
            "$param.a + 1",
            "$nope.a",
            "$var.a[]",
            "$var.a?",
            ".a",
            "$var.0",
            "$var[\"a\\\"\"]",
        ] {
            assert!(PathExpr::parse(code).is_none(), "{code}");
        }
    }

    #[test]
    fn follows_jq_semantics() {
        let v = json!({"rows": [{"stock": 4}], "n": 1});
        let eval = |code: &str| PathExpr::parse(code).unwrap().eval(&v);
        assert_eq!(eval("$var.rows[0].stock"), Ok(json!(4)));
        assert_eq!(eval("$var.rows[-1].stock"), Ok(json!(4)));
        assert_eq!(eval("$var.rows[5].stock"), Ok(Value::Null));
        assert_eq!(eval("$var.missing.deeper"), Ok(Value::Null));
        assert!(eval("$var.n.x").is_err());
        assert!(eval("$var.rows.x").is_err());
    }
}
