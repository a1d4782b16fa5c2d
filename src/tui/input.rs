//! What a run in the studio is given, as the params pane holds it: a workflow's params (a
//! JSON object), or an endpoint's request (`{body, query, headers, path}`), checked as the
//! user types with the line and column of the first fault.

use crate::engine::routes::route_params;
use crate::model::DefinitionKind;
use crate::model::diagnostic::suggest;
use serde_json::{Map, Value, json};

/// The parts of an endpoint's request in the params pane.
pub(crate) const REQUEST_PARTS: [&str; 4] = ["body", "query", "headers", "path"];

/// Whether the pane's text is usable, and if not where it is wrong.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamsCheck {
    /// Usable: a workflow's params, or an endpoint's request.
    Valid(Value),
    /// Not usable: line, column, message.
    Invalid {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

impl ParamsCheck {
    /// A fault that belongs to the whole text, not to one place in it.
    fn whole(message: String) -> ParamsCheck {
        ParamsCheck::Invalid {
            line: 1,
            column: 1,
            message,
        }
    }
}

/// Check the pane's text for a workflow (`route`: `None`) or an endpoint (its route).
pub(crate) fn check(kind: DefinitionKind, route: Option<&str>, text: &str) -> ParamsCheck {
    match kind {
        DefinitionKind::Workflow => check_params(text),
        DefinitionKind::Endpoint => check_request(text, route.unwrap_or("/")),
    }
}

/// A workflow's params: a JSON object.
pub(crate) fn check_params(text: &str) -> ParamsCheck {
    match parse(text) {
        Ok(v @ Value::Object(_)) => ParamsCheck::Valid(v),
        Ok(other) => ParamsCheck::whole(format!(
            "params must be a JSON object, not {}",
            crate::expr::value::type_name(&other)
        )),
        Err(fault) => fault,
    }
}

/// An endpoint's request: an object of `body` (any JSON), `query` and `headers` (objects of
/// strings) and `path` (an object with every `{name}` segment of `route`).
pub(crate) fn check_request(text: &str, route: &str) -> ParamsCheck {
    let value = match parse(text) {
        Ok(v) => v,
        Err(fault) => return fault,
    };
    let Value::Object(parts) = &value else {
        return ParamsCheck::whole(format!(
            "the request must be a JSON object of {}",
            REQUEST_PARTS.join(", ")
        ));
    };
    for key in parts.keys() {
        if !REQUEST_PARTS.contains(&key.as_str()) {
            // the suggestion first: the pane's border has room for a few words
            return ParamsCheck::whole(match suggest(key, REQUEST_PARTS) {
                Some(s) => format!("{key:?}: did you mean {s:?}?"),
                None => format!(
                    "{key:?} is not a part of a request ({})",
                    REQUEST_PARTS.join(", ")
                ),
            });
        }
    }
    for name in ["query", "headers", "path"] {
        match parts.get(name) {
            None | Some(Value::Object(_)) => {}
            Some(other) => {
                return ParamsCheck::whole(format!(
                    "{name} must be an object, not {}",
                    crate::expr::value::type_name(other)
                ));
            }
        }
    }
    let empty = Map::new();
    let path = parts
        .get("path")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let missing: Vec<&str> = route_params(route)
        .into_iter()
        .filter(|name| {
            path.get(*name)
                .is_none_or(|v| v.is_null() || v.as_str() == Some(""))
        })
        .collect();
    if !missing.is_empty() {
        return ParamsCheck::whole(format!(
            "path needs {} (route {route})",
            missing
                .iter()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    ParamsCheck::Valid(value)
}

/// A request to start from for a route: every part, with the route's `{name}` segments
/// waiting for values.
pub(crate) fn request_template(route: &str) -> String {
    let path: Map<String, Value> = route_params(route)
        .into_iter()
        .map(|n| (n.to_string(), Value::String(String::new())))
        .collect();
    let value = json!({ "body": {}, "query": {}, "headers": {}, "path": path });
    serde_json::to_string_pretty(&value).unwrap_or_else(|_| "{}".into())
}

/// JSON, or where it is wrong.
fn parse(text: &str) -> Result<Value, ParamsCheck> {
    serde_json::from_str::<Value>(text).map_err(|e| {
        let message = e.to_string();
        let message = message
            .rfind(" at line ")
            .map_or(message.clone(), |i| message[..i].to_string());
        ParamsCheck::Invalid {
            line: e.line().max(1),
            column: e.column().max(1),
            message,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_checked_with_line_and_column() {
        assert!(matches!(
            check_params("{\"sku\": 1}"),
            ParamsCheck::Valid(_)
        ));
        match check_params("{\n  \"sku\": 1,\n}") {
            ParamsCheck::Invalid { line, column, .. } => assert_eq!((line, column), (3, 1)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(check_params("[1]"), ParamsCheck::Invalid { .. }));
    }

    #[test]
    fn requests_are_checked_part_by_part() {
        let route = "/skus/{id}";
        let fault = |text: &str| match check_request(text, route) {
            ParamsCheck::Invalid { message, .. } => message,
            ParamsCheck::Valid(v) => panic!("{text} was taken: {v}"),
        };
        assert!(matches!(
            check_request(r#"{"path": {"id": "1"}}"#, route),
            ParamsCheck::Valid(_)
        ));
        assert!(matches!(
            check_request(r#"{"body": [1], "path": {"id": 7}}"#, route),
            ParamsCheck::Valid(_)
        ));
        assert!(fault(r#"{"bdy": {}, "path": {"id": "1"}}"#).contains("did you mean \"body\""));
        assert!(fault(r#"{"query": [], "path": {"id": "1"}}"#).contains("query must be an object"));
        assert!(fault(r#"{"path": {"id": ""}}"#).contains("path needs \"id\""));
        assert!(fault("[]").contains("must be a JSON object"));
        let template = request_template(route);
        assert!(fault(&template).contains("path needs \"id\""), "{template}");
        assert!(matches!(
            check_request(&request_template("/orders"), "/orders"),
            ParamsCheck::Valid(_)
        ));
    }
}
