//! The template compiler and evaluator on arbitrary text: `expr::Template::compile` (the
//! `{{ }}` splitter, the fast path for plain lookups, jq's lexer, parser and compiler over
//! jaq), then, when it compiles, `Template::eval` against a fixed set of bindings with a
//! 50 ms limit.
//!
//! Input: the first byte picks the scope (workflow, endpoint, workflow inside `catch`, every
//! variable) and whether the text is read as a JSON value of templates when it parses; the
//! rest is the text (as UTF-8, lossily).
#![no_main]

use flowdeck::expr::{Bindings, EvalError, Global, Scope, Template};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use std::sync::LazyLock;
use std::time::Duration;

const LIMIT: Duration = Duration::from_millis(50);

/// A value for every `$` variable, as a run might have them.
static VALUES: LazyLock<Vec<(Global, Value)>> = LazyLock::new(|| {
    Global::ALL
        .into_iter()
        .map(|g| {
            let v = match g {
                Global::Param => json!({"sku": 7, "qty": 3, "name": "Beans", "tags": ["a", "b"], "none": null}),
                Global::Body => json!({"sku": {"id": 1}, "quantity": 60, "items": [1, 2.5, "x", {"k": true}]}),
                Global::Query => json!({"page": "2", "q": "beans"}),
                Global::Headers => json!({"content-type": "application/json", "x-id": "abc"}),
                Global::Path => json!({"id": "42"}),
                Global::Var => json!({"rows": [{"id": 1, "stock": 10}], "po": {"status": 201, "body": {"id": "S-1"}}, "n": -1.5e3}),
                Global::Env => json!({"SUPPLIER_URL": "http://supplier.test"}),
                Global::Event => json!({"id": 9, "name": "sku_reorder", "source": "fuzz", "depth": 1, "emitted_at": "2026-01-01T00:00:00Z"}),
                Global::Error => json!({"message": "boom", "step": "order"}),
            };
            (g, v)
        })
        .collect()
});

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let scope = [
        Scope::WORKFLOW,
        Scope::ENDPOINT,
        Scope::WORKFLOW.with_error(),
        Scope::ALL,
    ][usize::from(first & 3)];
    let text = String::from_utf8_lossy(rest).into_owned();
    let value = if first & 4 != 0 {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    } else {
        Value::String(text)
    };
    let Ok(template) = Template::compile(&value, scope) else {
        return;
    };
    let mut bindings = Bindings::new();
    for (g, v) in VALUES.iter() {
        if scope.contains(*g) {
            bindings.set(*g, v);
        }
    }
    let result = template.eval(&bindings, LIMIT);
    match (&template, &result) {
        // no template: the value as it is
        (Template::Const(c), r) => {
            assert_eq!(c, &value);
            assert_eq!(r.as_ref(), Ok(&value));
        }
        // text around templates: always a string
        (Template::Interp(_), Ok(v)) => assert!(v.is_string(), "{v}"),
        (_, Err(EvalError::TimedOut { limit_ms, .. })) => assert_eq!(*limit_ms, 50),
        _ => {}
    }
});
