//! Expected against actual: objects match as subsets (the keys given), arrays by length and
//! item by item, scalars exactly (numbers by value); `{"$jq": "EXPR"}` passes when the jq
//! expression is true of the actual value. Every difference is a [`Failure`] at a JSON
//! pointer.

use crate::expr::jq::{self, JqOutcome};
use crate::model::test_parse::is_jq;
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

/// How long one `$jq` predicate may run.
const JQ_LIMIT: Duration = Duration::from_secs(1);

/// One difference between what a case expected and what happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    /// Where, as a JSON pointer into the case's actual document (`/output/qty`).
    pub pointer: String,
    /// What was expected (`null` when nothing in particular, such as an unmatched request).
    pub expected: Value,
    /// What happened.
    pub actual: Value,
    /// In words.
    pub message: String,
}

impl Failure {
    /// A failure that is not a value compared (a request no mock answered, a setup fault).
    pub fn plain(pointer: impl Into<String>, actual: Value, message: impl Into<String>) -> Self {
        Failure {
            pointer: pointer.into(),
            expected: Value::Null,
            actual,
            message: message.into(),
        }
    }
}

/// Compare `expected` with `actual` at `pointer`, adding what differs to `out`.
pub(crate) fn check(
    expected: &Value,
    actual: Option<&Value>,
    pointer: &str,
    out: &mut Vec<Failure>,
) {
    if is_jq(expected) {
        let code = expected["$jq"].as_str().unwrap_or_default();
        if let Some(message) = predicate_fails(code, actual.unwrap_or(&Value::Null)) {
            out.push(failure(pointer, expected, actual, message));
        }
        return;
    }
    let Some(actual) = actual else {
        if !expected.is_null() {
            out.push(failure(pointer, expected, None, "missing".to_string()));
        }
        return;
    };
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, ev) in e {
                check(ev, a.get(key), &format!("{pointer}/{}", escape(key)), out);
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                out.push(failure(
                    pointer,
                    expected,
                    Some(actual),
                    format!("expected {} item(s), got {}", e.len(), a.len()),
                ));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                check(ev, Some(av), &format!("{pointer}/{i}"), out);
            }
        }
        (Value::Number(e), Value::Number(a)) => {
            if e.as_f64() != a.as_f64() {
                out.push(failure(
                    pointer,
                    expected,
                    Some(actual),
                    format!("expected {e}, got {a}"),
                ));
            }
        }
        _ if expected == actual => {}
        _ => {
            let message = if std::mem::discriminant(expected) == std::mem::discriminant(actual) {
                format!("expected {}, got {}", short(expected), short(actual))
            } else {
                format!(
                    "expected {} {}, got {} {}",
                    kind(expected),
                    short(expected),
                    kind(actual),
                    short(actual)
                )
            };
            out.push(failure(pointer, expected, Some(actual), message));
        }
    }
}

/// Why a `$jq` predicate does not pass on `actual`, or `None` when it does.
pub(crate) fn predicate_fails(code: &str, actual: &Value) -> Option<String> {
    let program = match jq::compile(code, &[]) {
        Ok(p) => p,
        Err(e) => return Some(format!("$jq {code:?} does not compile: {e}")),
    };
    match program.run(actual, &[], JQ_LIMIT) {
        JqOutcome::Values(values) if values.first() == Some(&Value::Bool(true)) => None,
        JqOutcome::Values(values) => Some(format!(
            "$jq {code:?} is {} of {}",
            values.first().map_or("empty".to_string(), short),
            short(actual)
        )),
        JqOutcome::Error(e) => Some(format!("$jq {code:?} failed: {e}")),
        JqOutcome::Stopped(s) => Some(format!("$jq {code:?} stopped: {s:?}")),
    }
}

/// Whether `code` compiles as a `$jq` predicate; why not, when it does not.
pub(crate) fn compiles(code: &str) -> Result<(), String> {
    jq::compile(code, &[]).map(|_| ())
}

fn failure(pointer: &str, expected: &Value, actual: Option<&Value>, message: String) -> Failure {
    Failure {
        pointer: if pointer.is_empty() {
            "/".into()
        } else {
            pointer.into()
        },
        expected: expected.clone(),
        actual: actual.cloned().unwrap_or(Value::Null),
        message,
    }
}

fn kind(v: &Value) -> &'static str {
    crate::expr::value::type_name(v)
}

/// A value as short JSON text.
fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 60 {
        let cut: String = text.chars().take(59).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// A key as a JSON pointer token.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn failures(expected: Value, actual: Value) -> Vec<Failure> {
        let mut out = Vec::new();
        check(&expected, Some(&actual), "", &mut out);
        out
    }

    #[test]
    fn objects_are_subsets_arrays_exact_numbers_by_value() {
        assert!(failures(json!({"a": 1}), json!({"a": 1.0, "b": 2})).is_empty());
        let f = failures(json!({"a": {"b": [1, 2]}}), json!({"a": {"b": [1, 3, 4]}}));
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(f[0].pointer, "/a/b");
        assert_eq!(f[0].message, "expected 2 item(s), got 3");
        assert_eq!(f[1].pointer, "/a/b/1");
        assert_eq!(f[1].message, "expected 2, got 3");
        let f = failures(json!({"x": "1"}), json!({"x": 1}));
        assert_eq!(f[0].message, "expected a string \"1\", got a number 1");
        let f = failures(json!({"gone": 1}), json!({}));
        assert_eq!(
            (f[0].pointer.as_str(), f[0].message.as_str()),
            ("/gone", "missing")
        );
        assert!(failures(json!({"error": null}), json!({})).is_empty());
    }

    #[test]
    fn jq_predicates_pass_when_true() {
        assert!(failures(json!({"qty": {"$jq": ". >= 100"}}), json!({"qty": 110})).is_empty());
        let f = failures(json!({"qty": {"$jq": ". >= 100"}}), json!({"qty": 90}));
        assert_eq!(f[0].message, "$jq \". >= 100\" is false of 90");
        let f = failures(json!({"$jq": "length =="}), json!([]));
        assert!(f[0].message.contains("does not compile"), "{f:?}");
    }

    #[test]
    fn pointers_escape_keys() {
        let f = failures(json!({"a/b": 1}), json!({"a/b": 2}));
        assert_eq!(f[0].pointer, "/a~1b");
    }
}
