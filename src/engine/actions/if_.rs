//! `if`: evaluate the condition (jq truthiness: all but `false` and `null` are true) and
//! choose the branch the interpreter enters.

use crate::engine::program::Steps;
use crate::expr::{Bindings, Template};
use serde_json::{Value, json};
use std::time::Duration;

/// The branch taken: its name, its steps, and the step's recorded input.
pub(crate) struct Branch {
    /// `then` or `else`.
    pub name: &'static str,
    /// Its steps.
    pub steps: Steps,
    /// `{"cond": value}`.
    pub input: Value,
}

/// jq truthiness.
pub(crate) fn truthy(v: &Value) -> bool {
    !matches!(v, Value::Null | Value::Bool(false))
}

/// Evaluate `cond` and pick `then` or `otherwise`.
pub(crate) fn choose(
    cond: &Template,
    then: &Steps,
    otherwise: &Steps,
    bindings: &Bindings<'_>,
    limit: Duration,
) -> Result<Branch, String> {
    let v = cond
        .eval(bindings, limit)
        .map_err(|e| format!("cond: {e}"))?;
    let (name, steps) = if truthy(&v) {
        ("then", then.clone())
    } else {
        ("else", otherwise.clone())
    };
    Ok(Branch {
        name,
        steps,
        input: json!({ "cond": v }),
    })
}
