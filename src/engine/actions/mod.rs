//! Actions, one file each. A leaf action evaluates its fields, does its work and says what it
//! did: the evaluated input (for the record), the output, and its effect on the run. The
//! compound actions (`if`, `foreach`, `try`) evaluate what they need here; the interpreter
//! turns that into frames.

mod db;
mod emit;
mod fail;
pub(crate) mod foreach;
mod http;
pub(crate) mod if_;
mod log;
mod return_;
mod set;
mod sleep;
pub(crate) mod try_;

use super::context::RunContext;
use super::effects::{Effects, StepRef};
use super::program::{CStep, Op};
use crate::expr::{Bindings, EvalError, Template};
use serde_json::Value;
use std::time::Duration;

/// What a leaf action sees.
pub(crate) struct LeafCx<'a, E> {
    /// The `$` variables.
    pub bindings: Bindings<'a>,
    /// Time limit of one expression.
    pub limit: Duration,
    /// Where the step's side effects go.
    pub effects: &'a E,
    /// The run.
    pub run: &'a RunContext,
    /// The step.
    pub step: &'a CStep,
    /// Indexes of the enclosing `foreach` loops.
    pub iteration: &'a [usize],
    /// Which attempt of the step this is.
    pub attempt: u32,
    /// Attempts of the enclosing compound steps.
    pub rounds: &'a [u32],
}

impl<E> LeafCx<'_, E> {
    /// Evaluate a template, naming the field on failure.
    pub(crate) fn eval(&self, field: &str, t: &Template) -> Result<Value, String> {
        t.eval(&self.bindings, self.limit)
            .map_err(|e| describe(field, &e))
    }

    /// This step of this run, as its effects are asked for.
    pub(crate) fn at(&self) -> StepRef<'_> {
        StepRef {
            run: self.run,
            step: &self.step.id,
            path: &self.step.path,
            iteration: self.iteration,
            attempt: self.attempt,
            rounds: self.rounds,
        }
    }
}

fn describe(field: &str, e: &EvalError) -> String {
    format!("{field}: {e}")
}

/// What a leaf did to the run beyond its output.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Effect {
    /// The step changes nothing beyond its record.
    None,
    /// Bind `$var.<name>`.
    Set(String, Value),
    /// End the run with this output (and HTTP status, for endpoints).
    Return {
        /// The run's output.
        value: Value,
        /// The HTTP status an endpoint answers with.
        status: Option<u16>,
    },
}

/// A leaf that did its work.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Done {
    /// The evaluated fields.
    pub input: Value,
    /// What it produced.
    pub output: Value,
    /// Its effect.
    pub effect: Effect,
}

/// A leaf that failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    /// The fields evaluated so far.
    pub input: Value,
    /// What went wrong, for the step record.
    pub message: String,
}

impl Failure {
    /// A failure before any field was evaluated.
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            input: Value::Null,
            message: message.into(),
        }
    }

    /// A failure with the fields evaluated so far.
    pub(crate) fn with_input(input: Value, message: impl Into<String>) -> Self {
        Self {
            input,
            message: message.into(),
        }
    }
}

/// Bind the result under `as` when given.
fn store_as(result: Option<&String>, output: &Value) -> Effect {
    match result {
        Some(name) => Effect::Set(name.clone(), output.clone()),
        None => Effect::None,
    }
}

/// Run a leaf action.
pub(crate) async fn run<E: Effects>(cx: &LeafCx<'_, E>) -> Result<Done, Failure> {
    match &cx.step.op {
        Op::Set { var, value } => set::run(cx, var, value),
        Op::Emit {
            event,
            params,
            result,
        } => emit::run(cx, event, params, result.as_ref()).await,
        Op::DbQuery { sql, args, result } => db::query(cx, sql, args, result.as_ref()).await,
        Op::DbExec { sql, args, result } => db::exec(cx, sql, args, result.as_ref()).await,
        Op::Http {
            method,
            url,
            headers,
            body,
            timeout_ms,
            result,
        } => {
            http::run(
                cx,
                http::Fields {
                    method,
                    url,
                    headers,
                    body: body.as_ref(),
                    timeout_ms: timeout_ms.as_ref(),
                },
                result.as_ref(),
            )
            .await
        }
        Op::Log { message } => log::run(cx, message),
        Op::Sleep { ms } => sleep::run(cx, ms).await,
        Op::Fail { message } => fail::run(cx, message),
        Op::Return { value, status } => return_::run(cx, value, status.as_ref()),
        Op::If { .. } | Op::Foreach { .. } | Op::Try { .. } => Err(Failure::new(format!(
            "internal: `{}` is not a leaf action",
            cx.step.op.name()
        ))),
    }
}
