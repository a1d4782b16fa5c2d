//! Compiled JSON values with `{{ }}` templates inside (docs/file-format.md).
//!
//! A string that is exactly one template yields the expression's typed value; a string with
//! text around templates yields a string (`null` prints as nothing); objects and arrays are
//! walked. Values produced at run time are never scanned for templates again.

use super::expression::{Bindings, EvalError, Expr};
use super::scope::Scope;
use super::value::to_text;
use crate::model::template::{self, Segment};
use serde_json::{Map, Value};
use std::time::Duration;

/// A piece of an interpolated string.
#[derive(Debug, Clone)]
pub enum Part {
    /// Literal text.
    Text(String),
    /// An expression, printed as text.
    Expr(Expr),
}

/// A JSON value with compiled templates inside.
#[derive(Debug, Clone)]
pub enum Template {
    /// No templates: the value as it is.
    Const(Value),
    /// A string that is one template: the typed value.
    Expr(Expr),
    /// Text with templates: a string.
    Interp(Vec<Part>),
    /// An array with templates inside.
    Array(Vec<Template>),
    /// An object with templates inside (keys are literal).
    Object(Vec<(String, Template)>),
}

/// A template that does not compile: where inside the value, the expression and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// Path inside the value (`""` for the value itself, `.sku`, `[0]`).
    pub at: String,
    /// The expression (or the whole string for syntax faults).
    pub expr: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "template `{}`: {}", self.expr, self.message)
    }
}

impl Template {
    /// Compile a JSON value from a definition for use under `scope`.
    pub fn compile(value: &Value, scope: Scope) -> Result<Template, CompileError> {
        compile_at(value, scope, "")
    }

    /// A template that always yields `value`.
    pub fn constant(value: Value) -> Template {
        Template::Const(value)
    }

    /// Evaluate with `bindings`, each expression under `limit`.
    pub fn eval(&self, bindings: &Bindings<'_>, limit: Duration) -> Result<Value, EvalError> {
        match self {
            Template::Const(v) => Ok(v.clone()),
            Template::Expr(e) => e.eval(bindings, limit),
            Template::Interp(parts) => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        Part::Text(t) => out.push_str(t),
                        Part::Expr(e) => to_text(&e.eval(bindings, limit)?, &mut out),
                    }
                }
                Ok(Value::String(out))
            }
            Template::Array(items) => items
                .iter()
                .map(|t| t.eval(bindings, limit))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Template::Object(fields) => {
                let mut map = Map::with_capacity(fields.len());
                for (k, t) in fields {
                    map.insert(k.clone(), t.eval(bindings, limit)?);
                }
                Ok(Value::Object(map))
            }
        }
    }
}

fn contains_template(value: &Value) -> bool {
    match value {
        Value::String(s) => template::has_template(s),
        Value::Array(items) => items.iter().any(contains_template),
        Value::Object(map) => map.values().any(contains_template),
        _ => false,
    }
}

fn compile_at(value: &Value, scope: Scope, at: &str) -> Result<Template, CompileError> {
    if !contains_template(value) {
        return Ok(Template::Const(value.clone()));
    }
    match value {
        Value::String(s) => compile_string(s, scope, at),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| compile_at(v, scope, &format!("{at}[{i}]")))
            .collect::<Result<Vec<_>, _>>()
            .map(Template::Array),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| Ok((k.clone(), compile_at(v, scope, &format!("{at}.{k}"))?)))
            .collect::<Result<Vec<_>, _>>()
            .map(Template::Object),
        other => Ok(Template::Const(other.clone())),
    }
}

fn compile_string(s: &str, scope: Scope, at: &str) -> Result<Template, CompileError> {
    let segments = template::split(s).map_err(|e| CompileError {
        at: at.to_string(),
        expr: s.to_string(),
        message: e.to_string(),
    })?;
    let compile = |code: &str| {
        Expr::compile(code, scope).map_err(|message| CompileError {
            at: at.to_string(),
            expr: code.to_string(),
            message,
        })
    };
    if let [Segment::Expr(code)] = segments.as_slice() {
        return compile(code).map(Template::Expr);
    }
    segments
        .into_iter()
        .map(|seg| match seg {
            Segment::Text(t) => Ok(Part::Text(t.to_string())),
            Segment::Expr(code) => compile(code).map(Part::Expr),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Template::Interp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Global;
    use serde_json::json;

    const LIMIT: Duration = Duration::from_secs(1);

    fn eval(t: Value, param: Value) -> Result<Value, EvalError> {
        let b = Bindings::new().with(Global::Param, &param);
        Template::compile(&t, Scope::WORKFLOW)
            .unwrap()
            .eval(&b, LIMIT)
    }

    #[test]
    fn whole_string_templates_are_typed() {
        let p = json!({"sku": 12, "o": {"a": [1]}, "s": "x"});
        assert_eq!(eval(json!("{{$param.sku}}"), p.clone()), Ok(json!(12)));
        assert_eq!(
            eval(json!("{{ $param.o }}"), p.clone()),
            Ok(json!({"a": [1]}))
        );
        assert_eq!(
            eval(json!("{{ $param.sku * 2 }}"), p.clone()),
            Ok(json!(24))
        );
        assert_eq!(eval(json!("{{ $param.sku < 50 }}"), p), Ok(json!(true)));
    }

    #[test]
    fn text_around_templates_makes_a_string() {
        let p = json!({"sku": 12, "none": null, "o": {"a": 1}});
        assert_eq!(
            eval(json!("sku {{$param.sku}}: {{$param.none}}|{{$param.o}}"), p),
            Ok(json!("sku 12: |{\"a\":1}"))
        );
    }

    #[test]
    fn objects_and_arrays_are_walked() {
        let p = json!({"sku": 3});
        assert_eq!(
            eval(
                json!({"sku": "{{$param.sku}}", "qty": 100, "tags": ["a", "{{$param.sku}}"]}),
                p
            ),
            Ok(json!({"sku": 3, "qty": 100, "tags": ["a", 3]}))
        );
    }

    #[test]
    fn data_is_never_evaluated_as_a_template() {
        let p = json!({"note": "{{ $param.secret }}", "secret": "s3cr3t"});
        assert_eq!(
            eval(json!("{{$param.note}}"), p.clone()),
            Ok(json!("{{ $param.secret }}"))
        );
        assert_eq!(
            eval(json!("note: {{$param.note}}"), p),
            Ok(json!("note: {{ $param.secret }}"))
        );
    }

    #[test]
    fn compile_errors_name_the_place_and_expression() {
        let e = Template::compile(&json!({"a": ["x", "{{ 1 + }}"]}), Scope::WORKFLOW).unwrap_err();
        assert_eq!(e.at, ".a[1]");
        assert_eq!(e.expr, "1 +");
        let e = Template::compile(&json!("{{ $body }}"), Scope::WORKFLOW).unwrap_err();
        assert!(e.message.contains("$body is not available"));
    }
}
