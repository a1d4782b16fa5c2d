//! One compiled `{{ … }}` expression: a fast path lookup or a jq program.

use super::jq::{self, JqOutcome, JqProgram, Stop};
use super::path::PathExpr;
use super::scope::{Global, Scope, mentioned_variables};
use crate::model::LazyJson;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The values of the `$` variables for one evaluation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bindings<'a> {
    values: [Option<Bound<'a>>; Global::ALL.len()],
}

/// A variable's value: built, or built only as far as it is read.
#[derive(Debug, Clone, Copy)]
enum Bound<'a> {
    Value(&'a Value),
    Lazy(&'a LazyJson),
}

impl<'a> Bindings<'a> {
    /// No variables bound.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bind `g` to `value`.
    #[must_use]
    pub fn with(mut self, g: Global, value: &'a Value) -> Self {
        self.set(g, value);
        self
    }

    /// Bind `g` to `value`.
    pub fn set(&mut self, g: Global, value: &'a Value) {
        self.values[g.index()] = Some(Bound::Value(value));
    }

    /// Bind `g` to `value`, whose top-level fields are built one by one as paths read them
    /// (the whole value only when an expression needs it whole).
    #[must_use]
    pub fn with_lazy(mut self, g: Global, value: &'a LazyJson) -> Self {
        self.values[g.index()] = Some(Bound::Lazy(value));
        self
    }

    /// The value of `g` (`null` when unbound).
    pub fn get(&self, g: Global) -> &'a Value {
        static NULL: Value = Value::Null;
        match self.values[g.index()] {
            Some(Bound::Value(v)) => v,
            Some(Bound::Lazy(v)) => v.whole(),
            None => &NULL,
        }
    }

    /// The top-level field `key` of `g`, built alone when `g` is bound lazily to an object
    /// (`Some(None)`: it has no such field); `None` when `g` is to be read whole.
    pub(crate) fn lazy_field(&self, g: Global, key: &str) -> Option<Option<&'a Value>> {
        match self.values[g.index()] {
            Some(Bound::Lazy(v)) => v.object_field(key),
            _ => None,
        }
    }
}

/// A template expression that failed to evaluate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// jq raised an error, or a path met a wrong type.
    #[error("expression `{expr}` failed: {message}")]
    Failed {
        /// The expression.
        expr: String,
        /// jq's message.
        message: String,
    },
    /// No output where one value was needed.
    #[error("expression `{expr}` yields no value")]
    Empty {
        /// The expression.
        expr: String,
    },
    /// Several outputs where one value was needed.
    #[error(
        "expression `{expr}` yields {count} values where one is needed; wrap it in [ ] to collect them, or use first(…)"
    )]
    Many {
        /// The expression.
        expr: String,
        /// How many it yielded.
        count: usize,
    },
    /// It ran past the time limit.
    #[error("expression `{expr}` ran longer than its limit of {limit_ms} ms and was stopped")]
    TimedOut {
        /// The expression.
        expr: String,
        /// The limit.
        limit_ms: u128,
    },
    /// It recursed too deeply.
    #[error("expression `{expr}` recursed too deeply and was stopped")]
    TooDeep {
        /// The expression.
        expr: String,
    },
    /// It allocated more than an evaluation may.
    #[error(
        "expression `{expr}` used more than {limit_mb} MB of memory and was stopped; build smaller values"
    )]
    TooBig {
        /// The expression.
        expr: String,
        /// The limit.
        limit_mb: usize,
    },
}

#[derive(Debug, Clone)]
enum ExprKind {
    Path(PathExpr),
    Jq(Arc<JqProgram>, Vec<Global>),
}

/// A compiled expression (the text between `{{` and `}}`).
#[derive(Debug, Clone)]
pub struct Expr {
    source: Arc<str>,
    kind: ExprKind,
}

/// Compiled jq programs by source and globals, shared by every definition in the process.
type ProgramCache = HashMap<(String, Vec<Global>), Arc<JqProgram>>;

fn cache() -> &'static Mutex<ProgramCache> {
    static CACHE: OnceLock<Mutex<ProgramCache>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

const CACHE_LIMIT: usize = 4096;

impl Expr {
    /// Compile `code` for use where `scope` applies. The error says what is wrong and what
    /// the variables of the scope are.
    pub fn compile(code: &str, scope: Scope) -> Result<Expr, String> {
        let code = code.trim();
        if let Some(path) = PathExpr::parse(code) {
            if !scope.contains(path.root) {
                return Err(out_of_scope(path.root, scope));
            }
            return Ok(Expr {
                source: code.into(),
                kind: ExprKind::Path(path),
            });
        }
        let globals: Vec<Global> = mentioned_variables(code)
            .into_iter()
            .filter_map(Global::from_name)
            .filter(|g| scope.contains(*g))
            .collect();
        let key = (code.to_string(), globals.clone());
        let cached = cache().lock().ok().and_then(|c| c.get(&key).cloned());
        let program = match cached {
            Some(p) => p,
            None => {
                let names: Vec<&str> = globals.iter().map(|g| g.name()).collect();
                let program = Arc::new(jq::compile(code, &names).map_err(|e| explain(e, scope))?);
                if let Ok(mut c) = cache().lock() {
                    if c.len() >= CACHE_LIMIT {
                        c.clear();
                    }
                    c.insert(key, program.clone());
                }
                program
            }
        };
        Ok(Expr {
            source: code.into(),
            kind: ExprKind::Jq(program, globals),
        })
    }

    /// The expression as written (trimmed).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether this expression skips jq (a plain variable path).
    pub fn is_fast_path(&self) -> bool {
        matches!(self.kind, ExprKind::Path(_))
    }

    /// Every value the expression yields.
    pub fn eval_all(&self, b: &Bindings<'_>, limit: Duration) -> Result<Vec<Value>, EvalError> {
        match &self.kind {
            ExprKind::Path(p) => p
                .eval_in(b)
                .map(|v| vec![v])
                .map_err(|message| self.failed(message)),
            ExprKind::Jq(program, globals) => {
                let values: Vec<&Value> = globals.iter().map(|g| b.get(*g)).collect();
                match program.run(&Value::Null, &values, limit) {
                    JqOutcome::Values(v) => Ok(v),
                    JqOutcome::Error(message) => Err(self.failed(message)),
                    JqOutcome::Stopped(Stop::TimedOut) => Err(EvalError::TimedOut {
                        expr: self.source.to_string(),
                        limit_ms: limit.as_millis(),
                    }),
                    JqOutcome::Stopped(Stop::TooDeep) => Err(EvalError::TooDeep {
                        expr: self.source.to_string(),
                    }),
                    JqOutcome::Stopped(Stop::TooBig) => Err(EvalError::TooBig {
                        expr: self.source.to_string(),
                        limit_mb: super::jq::MEMORY_BUDGET >> 20,
                    }),
                }
            }
        }
    }

    /// The one value the expression yields (none or several is an error).
    pub fn eval(&self, b: &Bindings<'_>, limit: Duration) -> Result<Value, EvalError> {
        if let ExprKind::Path(p) = &self.kind {
            return p.eval_in(b).map_err(|m| self.failed(m));
        }
        let mut values = self.eval_all(b, limit)?;
        match values.len() {
            1 => Ok(values.pop().unwrap_or(Value::Null)),
            0 => Err(EvalError::Empty {
                expr: self.source.to_string(),
            }),
            count => Err(EvalError::Many {
                expr: self.source.to_string(),
                count,
            }),
        }
    }

    fn failed(&self, message: String) -> EvalError {
        EvalError::Failed {
            expr: self.source.to_string(),
            message,
        }
    }
}

fn out_of_scope(g: Global, scope: Scope) -> String {
    if g == Global::Error {
        return "$error is only available inside a `catch`".to_string();
    }
    format!(
        "{} is not available here; use {}",
        g.name(),
        scope.describe()
    )
}

/// Turn jq's "unknown variable $x" into advice about the scope.
fn explain(message: String, scope: Scope) -> String {
    if let Some(name) = message.strip_prefix("unknown variable ") {
        return match Global::from_name(name) {
            Some(Global::Error) => "$error is only available inside a `catch`".to_string(),
            Some(g) => out_of_scope(g, scope),
            None => format!("unknown variable {name}; use {}", scope.describe()),
        };
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LIMIT: Duration = Duration::from_secs(1);

    #[test]
    fn fast_path_and_jq_agree() {
        let param = json!({"sku": {"id": 7}, "list": [1, 2, {"x": null}], "n": 3});
        let b = Bindings::new().with(Global::Param, &param);
        for code in [
            "$param.sku",
            "$param.sku.id",
            "$param.list[2].x",
            "$param.list[-1]",
            "$param.list[9]",
            "$param.nope.deeper",
            "$param[\"sku\"]",
            "$param.n.x",
            "$param.list.x",
            "$param.sku[0]",
        ] {
            let fast = Expr::compile(code, Scope::WORKFLOW).unwrap();
            assert!(fast.is_fast_path(), "{code}");
            let slow = Arc::new(jq::compile(code, &["$param"]).unwrap());
            let slow = Expr {
                source: code.into(),
                kind: ExprKind::Jq(slow, vec![Global::Param]),
            };
            let (f, s) = (fast.eval(&b, LIMIT), slow.eval(&b, LIMIT));
            assert_eq!(f.is_ok(), s.is_ok(), "{code}: {f:?} vs {s:?}");
            if let (Ok(f), Ok(s)) = (f, s) {
                assert_eq!(f, s, "{code}");
            }
        }
    }

    /// A variable bound lazily (from text) reads as the built value does, by the fast path
    /// and by jq, and the fast path builds only the field it starts with.
    #[test]
    fn a_lazily_bound_variable_reads_as_the_built_one() {
        let text = r#"{"sku": {"id": 7}, "list": [1, 2, {"x": null}], "n": 3, "s": "x"}"#;
        let built: Value = serde_json::from_str(text).unwrap();
        let whole = Bindings::new().with(Global::Param, &built);
        for code in [
            "$param",
            "$param.sku",
            "$param.sku.id",
            "$param.list[2].x",
            "$param.list[-1]",
            "$param.nope.deeper",
            "$param[\"sku\"]",
            "$param[0]",
            "$param.n.x",
            "$param.s[0]",
            "$param.list | length",
            "[$param.n, $param.sku.id] | add",
            "\"sku-\" + ($param.sku.id | tostring)",
        ] {
            let lazy = LazyJson::from_text(text).unwrap();
            let bound = Bindings::new().with_lazy(Global::Param, &lazy);
            let e = Expr::compile(code, Scope::WORKFLOW).unwrap();
            assert_eq!(e.eval(&bound, LIMIT), e.eval(&whole, LIMIT), "{code}");
        }
        let lazy = LazyJson::from_text(text).unwrap();
        let bound = Bindings::new().with_lazy(Global::Param, &lazy);
        let e = Expr::compile("$param.sku.id", Scope::WORKFLOW).unwrap();
        assert_eq!(e.eval(&bound, LIMIT), Ok(json!(7)));
        assert_eq!(lazy.text(), Some(text), "not built whole");
        assert_eq!(
            format!("{lazy}"),
            text,
            "shown from its text while not built"
        );
    }

    #[test]
    fn scope_is_checked_at_compile() {
        assert_eq!(
            Expr::compile("$body.x", Scope::WORKFLOW).unwrap_err(),
            "$body is not available here; use $param, $var, $env, $event"
        );
        assert_eq!(
            Expr::compile("$error.message + \"!\"", Scope::WORKFLOW).unwrap_err(),
            "$error is only available inside a `catch`"
        );
        assert!(Expr::compile("$error.message", Scope::WORKFLOW.with_error()).is_ok());
        assert!(
            Expr::compile("$nope + 1", Scope::ENDPOINT)
                .unwrap_err()
                .starts_with("unknown variable $nope; use $body")
        );
        assert!(Expr::compile(". as $x | $x", Scope::WORKFLOW).is_ok());
    }

    #[test]
    fn one_value_is_required() {
        let b = Bindings::new();
        let e = Expr::compile("empty", Scope::WORKFLOW).unwrap();
        assert!(matches!(e.eval(&b, LIMIT), Err(EvalError::Empty { .. })));
        let e = Expr::compile("1, 2", Scope::WORKFLOW).unwrap();
        assert!(matches!(
            e.eval(&b, LIMIT),
            Err(EvalError::Many { count: 2, .. })
        ));
        let e = Expr::compile("last(range(1e12))", Scope::WORKFLOW).unwrap();
        let err = e.eval(&b, Duration::from_millis(50)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "expression `last(range(1e12))` ran longer than its limit of 50 ms and was stopped"
        );
    }
}
