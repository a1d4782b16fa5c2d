//! Breakpoints as a session checks them: conditions compiled once, matched before each step.

use super::protocol::{Breakpoint, StopReason};
use crate::engine::interpreter::{Interpreter, NextStep};
use crate::engine::program::Op;
use crate::expr::{Expr, Scope};
use serde_json::Value;

/// Breakpoints with their conditions compiled.
pub(super) struct Compiled {
    pub(super) list: Vec<(Breakpoint, Option<Expr>)>,
}

impl Compiled {
    pub(super) fn new(list: Vec<Breakpoint>) -> Result<Compiled, String> {
        let list = list
            .into_iter()
            .map(|b| {
                let expr = match &b {
                    Breakpoint::Step {
                        step,
                        condition: Some(c),
                    } if !c.trim().is_empty() => Some(
                        Expr::compile(c, Scope::ALL)
                            .map_err(|e| format!("breakpoint on {step}: condition `{c}`: {e}"))?,
                    ),
                    _ => None,
                };
                Ok((b, expr))
            })
            .collect::<Result<_, String>>()?;
        Ok(Compiled { list })
    }

    pub(super) fn on_failure(&self) -> bool {
        self.list.iter().any(|(b, _)| *b == Breakpoint::Failure)
    }

    /// The breakpoint that stops before the next step, if any.
    pub(super) fn matches(&self, interpreter: &Interpreter, next: &NextStep) -> Option<StopReason> {
        let cstep = interpreter.next_cstep()?;
        for (b, expr) in &self.list {
            match b {
                Breakpoint::Step { step, condition } if *step == next.id => match (expr, condition)
                {
                    (Some(e), Some(c)) => {
                        let holds = e
                            .eval(&interpreter.bindings(), std::time::Duration::from_secs(1))
                            .map(|v| !matches!(v, Value::Null | Value::Bool(false)))
                            // a condition that fails to evaluate stops: better than a silent pass
                            .unwrap_or(true);
                        if holds {
                            return Some(StopReason::Condition {
                                step: step.clone(),
                                condition: c.clone(),
                            });
                        }
                    }
                    _ => return Some(StopReason::Breakpoint { step: step.clone() }),
                },
                Breakpoint::Emit { event } => {
                    if let Op::Emit { event: e, .. } = &cstep.op
                        && e == event
                    {
                        return Some(StopReason::Emit {
                            event: event.clone(),
                        });
                    }
                }
                _ => {}
            }
        }
        None
    }
}
