//! Compiling a definition into a [`Program`]: every template compiled once, nested step lists
//! shared (`Arc`) so the interpreter's frames can hold them across awaits.

use crate::expr::{Scope, Template};
use crate::model::source_map;
use crate::model::{Action, Definition, DefinitionKind, Diagnostic, Retry, Step};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

/// A compiled step.
#[derive(Debug)]
pub struct CStep {
    /// The step id.
    pub id: String,
    /// JSON pointer of the step in its definition.
    pub path: String,
    /// The retry policy in force (the step's, or the definition's for `http`, `db.*`, `emit`).
    pub retry: Option<Retry>,
    /// What it does.
    pub op: Op,
}

/// A shared list of compiled steps.
pub type Steps = Arc<[CStep]>;

/// A compiled action.
#[derive(Debug)]
pub enum Op {
    /// `set`
    Set {
        /// Variable name.
        var: String,
        /// The value to bind.
        value: Template,
    },
    /// `if`
    If {
        /// The condition that picks the branch.
        cond: Template,
        /// Steps when true.
        then: Steps,
        /// Steps when false.
        otherwise: Steps,
    },
    /// `foreach`
    Foreach {
        /// The array.
        items: Template,
        /// Item variable.
        item: String,
        /// The steps run for each item.
        steps: Steps,
    },
    /// `emit`
    Emit {
        /// Event name.
        event: String,
        /// Params (an object).
        params: Template,
        /// Result variable.
        result: Option<String>,
    },
    /// `db.query`
    DbQuery {
        /// SQL text.
        sql: String,
        /// Bound values.
        args: Vec<Template>,
        /// Result variable.
        result: Option<String>,
    },
    /// `db.exec`
    DbExec {
        /// SQL text.
        sql: String,
        /// Bound values.
        args: Vec<Template>,
        /// Result variable.
        result: Option<String>,
    },
    /// `http`
    Http {
        /// The HTTP method.
        method: String,
        /// The URL to call.
        url: Template,
        /// Headers to send, each value a template.
        headers: Vec<(String, Template)>,
        /// The body to send, when there is one.
        body: Option<Template>,
        /// Timeout in ms.
        timeout_ms: Option<Template>,
        /// Result variable.
        result: Option<String>,
    },
    /// `log`
    Log {
        /// What to write to the log.
        message: Template,
    },
    /// `sleep`
    Sleep {
        /// How long to sleep, in milliseconds.
        ms: Template,
    },
    /// `try`
    Try {
        /// Steps tried.
        steps: Steps,
        /// Steps on error.
        catch: Steps,
    },
    /// `fail`
    Fail {
        /// The error message to fail with.
        message: Template,
    },
    /// `return`
    Return {
        /// The value the run returns.
        value: Template,
        /// HTTP status (endpoints).
        status: Option<Template>,
    },
}

impl Op {
    /// The action name.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Set { .. } => "set",
            Op::If { .. } => "if",
            Op::Foreach { .. } => "foreach",
            Op::Emit { .. } => "emit",
            Op::DbQuery { .. } => "db.query",
            Op::DbExec { .. } => "db.exec",
            Op::Http { .. } => "http",
            Op::Log { .. } => "log",
            Op::Sleep { .. } => "sleep",
            Op::Try { .. } => "try",
            Op::Fail { .. } => "fail",
            Op::Return { .. } => "return",
        }
    }
}

/// A definition ready to run.
#[derive(Debug)]
pub struct Program {
    /// Store id of the definition (0 when compiled outside a store).
    pub definition_id: i64,
    /// The version (`None`: the draft).
    pub version: Option<i64>,
    /// Workflow or endpoint.
    pub kind: DefinitionKind,
    /// Workflow name or `METHOD /path`.
    pub name: String,
    /// Max parallel runs (workflows).
    pub concurrency: Option<u32>,
    /// The steps.
    pub steps: Steps,
}

impl Program {
    /// Find a step by id anywhere in the program.
    pub fn find(&self, id: &str) -> Option<&CStep> {
        fn find_in<'a>(steps: &'a [CStep], id: &str) -> Option<&'a CStep> {
            steps.iter().find_map(|s| {
                if s.id == id {
                    return Some(s);
                }
                match &s.op {
                    Op::If {
                        then, otherwise, ..
                    } => find_in(then, id).or_else(|| find_in(otherwise, id)),
                    Op::Foreach { steps, .. } => find_in(steps, id),
                    Op::Try { steps, catch } => find_in(steps, id).or_else(|| find_in(catch, id)),
                    _ => None,
                }
            })
        }
        find_in(&self.steps, id)
    }
}

/// Where a definition came from, for diagnostics.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// File to name in diagnostics.
    pub file: &'a Path,
    /// The file's text, to find lines in (optional).
    pub text: Option<&'a str>,
}

/// Compile a definition; every template fault is reported, with its file, step, field and line.
pub fn compile(
    def: &Definition,
    origin: Origin<'_>,
    definition_id: i64,
    version: Option<i64>,
) -> Result<Program, Vec<Diagnostic>> {
    let scope = match def.kind() {
        DefinitionKind::Workflow => Scope::WORKFLOW,
        DefinitionKind::Endpoint => Scope::ENDPOINT,
    };
    let mut cx = CompileCx {
        origin,
        diagnostics: Vec::new(),
        retry: def.retry(),
    };
    let steps = cx.steps(def.steps(), "/steps", scope);
    if !cx.diagnostics.is_empty() {
        return Err(cx.diagnostics);
    }
    Ok(Program {
        definition_id,
        version,
        kind: def.kind(),
        name: def.key(),
        concurrency: match def {
            Definition::Workflow(w) => w.concurrency,
            Definition::Endpoint(_) => None,
        },
        steps,
    })
}

struct CompileCx<'a> {
    origin: Origin<'a>,
    diagnostics: Vec<Diagnostic>,
    retry: Option<Retry>,
}

impl CompileCx<'_> {
    fn steps(&mut self, steps: &[Step], base: &str, scope: Scope) -> Steps {
        steps
            .iter()
            .enumerate()
            .map(|(i, s)| self.step(s, &format!("{base}/{i}"), scope))
            .collect::<Vec<_>>()
            .into()
    }

    fn template(&mut self, step: &Step, field: &str, value: &Value, scope: Scope) -> Template {
        match Template::compile(value, scope) {
            Ok(t) => t,
            Err(e) => {
                let at = self
                    .origin
                    .text
                    .and_then(|t| source_map::find_step(t, &step.id, 0));
                self.diagnostics.push(
                    Diagnostic::new(self.origin.file, e.to_string())
                        .at_opt(at)
                        .step(&step.id)
                        .field(format!("{field}{}", e.at)),
                );
                Template::constant(Value::Null)
            }
        }
    }

    fn step(&mut self, step: &Step, path: &str, scope: Scope) -> CStep {
        let op = match &step.action {
            Action::Set(s) => Op::Set {
                var: s.var.clone(),
                value: self.template(step, "value", &s.value, scope),
            },
            Action::If(s) => Op::If {
                cond: self.template(step, "cond", &s.cond, scope),
                then: self.steps(&s.then, &format!("{path}/then"), scope),
                otherwise: self.steps(&s.otherwise, &format!("{path}/else"), scope),
            },
            Action::Foreach(s) => Op::Foreach {
                items: self.template(step, "in", &s.items, scope),
                item: s.item.clone(),
                steps: self.steps(&s.steps, &format!("{path}/steps"), scope),
            },
            Action::Emit(s) => Op::Emit {
                event: s.event.clone(),
                params: self.template(step, "params", &s.params, scope),
                result: s.result.clone(),
            },
            Action::DbQuery(s) | Action::DbExec(s) => {
                let args = s
                    .args
                    .iter()
                    .enumerate()
                    .map(|(i, a)| self.template(step, &format!("args[{i}]"), a, scope))
                    .collect();
                if matches!(step.action, Action::DbQuery(_)) {
                    Op::DbQuery {
                        sql: s.sql.clone(),
                        args,
                        result: s.result.clone(),
                    }
                } else {
                    Op::DbExec {
                        sql: s.sql.clone(),
                        args,
                        result: s.result.clone(),
                    }
                }
            }
            Action::Http(s) => Op::Http {
                method: s.method.to_ascii_uppercase(),
                url: self.template(step, "url", &s.url, scope),
                headers: s
                    .headers
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            self.template(step, &format!("headers.{k}"), v, scope),
                        )
                    })
                    .collect(),
                body: s
                    .body
                    .as_ref()
                    .map(|b| self.template(step, "body", b, scope)),
                timeout_ms: s
                    .timeout_ms
                    .as_ref()
                    .map(|t| self.template(step, "timeout_ms", t, scope)),
                result: s.result.clone(),
            },
            Action::Log(s) => Op::Log {
                message: self.template(step, "message", &s.message, scope),
            },
            Action::Sleep(s) => Op::Sleep {
                ms: self.template(step, "ms", &s.ms, scope),
            },
            Action::Try(s) => Op::Try {
                steps: self.steps(&s.steps, &format!("{path}/steps"), scope),
                catch: self.steps(&s.catch, &format!("{path}/catch"), scope.with_error()),
            },
            Action::Fail(s) => Op::Fail {
                message: self.template(step, "message", &s.message, scope),
            },
            Action::Return(s) => Op::Return {
                value: self.template(step, "value", &s.value, scope),
                status: s
                    .status
                    .as_ref()
                    .map(|t| self.template(step, "status", t, scope)),
            },
        };
        let inherits = matches!(
            op,
            Op::Http { .. } | Op::DbQuery { .. } | Op::DbExec { .. } | Op::Emit { .. }
        );
        CStep {
            id: step.id.clone(),
            path: path.to_string(),
            retry: step.retry.or(if inherits { self.retry } else { None }),
            op,
        }
    }
}
