//! What the debugger reads and changes between steps: the next step and its bindings, the
//! stack, variable and param edits, a record of an edit, and a start in the middle of a run.

use super::{Frame, Interpreter, NextStep, Owner, OwnerKind};
use crate::engine::actions::try_;
use crate::engine::context::Inputs;
use crate::engine::program::{CStep, Op, Program};
use crate::expr::{Bindings, Global};
use crate::model::{StepRecord, StepStatus, Timestamp};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

impl Interpreter {
    /// The step that runs next, if the run has not ended.
    pub fn next_step(&self) -> Option<NextStep> {
        if self.outcome.is_some() {
            return None;
        }
        let frame = self.frames.last()?;
        let step = frame.steps.get(frame.pc)?;
        Some(NextStep {
            id: step.id.clone(),
            path: step.path.clone(),
            action: step.op.name(),
            depth: self.frames.len() - 1,
            attempt: self.next_attempt.unwrap_or(1),
        })
    }

    /// The `$` variables at this point of the run.
    pub fn bindings(&self) -> Bindings<'_> {
        let mut b = Bindings::new()
            .with_lazy(Global::Param, &self.inputs.param)
            .with(Global::Body, &self.inputs.body)
            .with(Global::Query, &self.inputs.query)
            .with(Global::Headers, &self.inputs.headers)
            .with(Global::Path, &self.inputs.path)
            .with(Global::Var, &self.vars)
            .with(Global::Env, &self.env)
            .with(Global::Event, &self.inputs.event);
        if let Some(error) = self.frames.iter().rev().find_map(|f| match &f.owner {
            Some(Owner {
                kind: OwnerKind::TryCatch { error },
                ..
            }) => Some(error),
            _ => None,
        }) {
            b.set(Global::Error, error);
        }
        b
    }

    /// Set `$var.<name>` (the debugger's edit, or a step's result).
    pub fn set_var(&mut self, name: &str, value: Value) {
        if let Value::Object(map) = &mut self.vars {
            map.insert(name.to_string(), value);
            self.vars_version += 1;
        }
    }

    /// Whether the next step may wait a while (`http`, `sleep`, a retry's backoff): its
    /// run's records are sent before it, so the wait shows.
    pub fn may_wait(&self) -> bool {
        self.backoff.is_some()
            || self
                .next_cstep()
                .is_some_and(|s| matches!(s.op, Op::Http { .. } | Op::Sleep { .. }))
    }

    /// Whether the next step waits for a commit of the data database (`db.exec`).
    pub fn next_commits(&self) -> bool {
        self.next_cstep()
            .is_some_and(|s| matches!(s.op, Op::DbExec { .. }))
    }

    /// The compiled step that runs next.
    pub fn next_cstep(&self) -> Option<&CStep> {
        if self.outcome.is_some() {
            return None;
        }
        let frame = self.frames.last()?;
        frame.steps.get(frame.pc)
    }

    /// The steps that enclose the next one, outermost first (the compound steps whose
    /// bodies are being run), then the next step itself: the debugger's stack.
    pub fn stack(&self) -> Vec<(&CStep, Vec<usize>)> {
        let mut out = Vec::new();
        let mut iteration = Vec::new();
        for (i, frame) in self.frames.iter().enumerate() {
            if let Some(Owner {
                kind: OwnerKind::Foreach { index, .. },
                ..
            }) = &frame.owner
            {
                iteration.push(*index);
            }
            let is_last = i + 1 == self.frames.len();
            if let Some(step) = frame.steps.get(frame.pc)
                && (!is_last || self.outcome.is_none())
            {
                out.push((step, iteration.clone()));
            }
        }
        out
    }

    /// Change the run's `$param.<name>` (the debugger's edit).
    pub fn set_param(&mut self, name: &str, value: Value) {
        Arc::make_mut(&mut self.inputs.param).change(|param| {
            if let Value::Object(map) = param {
                map.insert(name.to_string(), value);
            } else {
                let mut map = Map::new();
                map.insert(name.to_string(), value);
                *param = Value::Object(map);
            }
        });
    }

    /// A record of a debugger's edit, placed in the trace where it happened.
    pub fn override_record(&mut self, scope: &str, name: &str, value: &Value) -> StepRecord {
        self.seq += 1;
        let (step, path) = self
            .next_cstep()
            .map_or(("(end)".to_string(), String::new()), |s| {
                (s.id.clone(), s.path.clone())
            });
        StepRecord {
            seq: self.seq,
            step,
            path,
            action: "override".to_string(),
            status: StepStatus::Succeeded,
            input: json!({ "scope": scope, "name": name, "value": value }),
            output: value.clone(),
            error: None,
            vars: self.vars_if_changed(),
            started_at: Timestamp::now(),
            duration_us: 0,
            attempt: 1,
            iteration: self.iteration(),
        }
    }

    /// The next step's fields as they would be evaluated now (templates are pure, so this
    /// changes nothing); a field that fails shows its error.
    pub fn preview_input(&self) -> Value {
        let Some(step) = self.next_cstep() else {
            return Value::Null;
        };
        let b = self.bindings();
        let eval = |t: &crate::expr::Template| match t.eval(&b, self.limit) {
            Ok(v) => v,
            Err(e) => json!({ "error": e.to_string() }),
        };
        match &step.op {
            Op::Set { var, value } => json!({ "var": var, "value": eval(value) }),
            Op::If { cond, .. } => json!({ "cond": eval(cond) }),
            Op::Foreach { items, item, .. } => json!({ "in": eval(items), "as": item }),
            Op::Emit { event, params, .. } => json!({ "event": event, "params": eval(params) }),
            Op::DbQuery { sql, args, .. } | Op::DbExec { sql, args, .. } => {
                json!({ "sql": sql, "args": args.iter().map(eval).collect::<Vec<_>>() })
            }
            Op::Http {
                method,
                url,
                headers,
                body,
                ..
            } => json!({
                "method": method,
                "url": eval(url),
                "headers": headers.iter().map(|(k, v)| (k.clone(), eval(v))).collect::<Map<String, Value>>(),
                "body": body.as_ref().map(eval),
            }),
            Op::Log { message } => json!({ "message": eval(message) }),
            Op::Sleep { ms } => json!({ "ms": eval(ms) }),
            Op::Try { .. } => json!({}),
            Op::Fail { message } => json!({ "message": eval(message) }),
            Op::Return { value, status } => {
                json!({ "value": eval(value), "status": status.as_ref().map(eval) })
            }
        }
    }

    /// Start a run at the step at `path` (a JSON pointer such as `/steps/2/then/0`), with
    /// `vars` as `$var` and `iteration` giving the item index of each enclosing `foreach`
    /// (their arrays are evaluated again from `vars`): "run again from this step".
    pub fn start_at(
        program: Arc<Program>,
        inputs: Inputs,
        env: Arc<Value>,
        limit: Duration,
        vars: Value,
        path: &str,
        iteration: &[usize],
    ) -> Result<Self, String> {
        let mut me = Self::new(program.clone(), inputs, env, limit);
        me.outcome = None;
        me.frames = vec![Frame {
            steps: program.steps.clone(),
            pc: 0,
            owner: None,
        }];
        me.vars = if vars.is_object() {
            vars
        } else {
            Value::Object(Map::new())
        };
        me.vars_version += 1;
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        if parts.len() < 2 || !parts.len().is_multiple_of(2) || parts[0] != "steps" {
            return Err(format!("{path:?} is not a step path like /steps/2/then/0"));
        }
        let mut loops = iteration.iter();
        let now = (Instant::now(), Timestamp::now());
        for (level, pair) in parts.chunks(2).enumerate() {
            let index: usize = pair[1]
                .parse()
                .map_err(|_| format!("bad index in {path:?}"))?;
            let frame = me.frames.last_mut().ok_or("no frame")?;
            if index >= frame.steps.len() {
                return Err(format!("{path:?} is not in this version of the workflow"));
            }
            frame.pc = index;
            let Some(next) = parts.get((level + 1) * 2) else {
                break;
            };
            let steps = frame.steps.clone();
            let step = &steps[index];
            let (body, kind) = match (&step.op, *next) {
                (Op::If { then, .. }, "then") => (then.clone(), OwnerKind::If { branch: "then" }),
                (Op::If { otherwise, .. }, "else") => {
                    (otherwise.clone(), OwnerKind::If { branch: "else" })
                }
                (Op::Try { steps, .. }, "steps") => (steps.clone(), OwnerKind::TrySteps),
                (Op::Try { catch, .. }, "catch") => (
                    catch.clone(),
                    OwnerKind::TryCatch {
                        error: try_::error_value("(replayed from a recorded run)", &step.id),
                    },
                ),
                (
                    Op::Foreach {
                        items,
                        item,
                        steps: body,
                    },
                    "steps",
                ) => {
                    let list = match items.eval(&me.bindings(), limit) {
                        Ok(Value::Array(list)) => list,
                        Ok(_) => {
                            return Err(format!(
                                "step {}: `in` no longer yields an array",
                                step.id
                            ));
                        }
                        Err(e) => return Err(format!("step {}: {e}", step.id)),
                    };
                    let at = *loops.next().unwrap_or(&0);
                    let Some(value) = list.get(at).cloned() else {
                        return Err(format!("step {}: item {at} is no longer there", step.id));
                    };
                    me.bind_item(item, &value, at);
                    (
                        body.clone(),
                        OwnerKind::Foreach {
                            items: list,
                            index: at,
                        },
                    )
                }
                _ => return Err(format!("{path:?} does not match the steps of this version")),
            };
            me.seq += 1;
            let seq = me.seq;
            me.push(body, seq, now, 1, json!({ "replayed_from": path }), kind);
        }
        Ok(me)
    }
}
