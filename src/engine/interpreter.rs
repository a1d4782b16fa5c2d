//! The interpreter: an explicit stack machine that executes one step per call.
//!
//! Because the position of a run is data (a stack of frames, each a step list and a program
//! counter), a caller can look at the next step before it runs, stop there, inspect or change
//! variables, and go on: live runs call [`Interpreter::step`] in a loop, the debugger calls it
//! when the user says so. Compound steps (`if`, `foreach`, `try`) push a frame; their record
//! is written when their frame ends. Errors unwind frames to the nearest `try` (or to a
//! compound step with retries left); retries re-run the same step with the next attempt.

use super::actions::{self, Effect, LeafCx, foreach, if_, try_};
use super::context::{Inputs, RunContext};
use super::effects::Effects;
use super::program::{CStep, Op, Program, Steps};
use crate::expr::{Bindings, Global};
use crate::model::{Retry, StepRecord, StepStatus, Timestamp};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It ended well.
    Succeeded {
        /// The `return` value (`null` without one).
        output: Value,
        /// HTTP status from `return` (endpoints).
        status: Option<u16>,
    },
    /// A step failed and nothing caught it.
    Failed {
        /// Why.
        error: String,
        /// The step that failed.
        step: Option<String>,
    },
    /// It was stopped from outside (a debugger's abort) before its end.
    Cancelled {
        /// Who stopped it, in words.
        reason: String,
    },
}

/// The step that will run next, for debuggers and traces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextStep {
    /// Step id.
    pub id: String,
    /// JSON pointer in the definition.
    pub path: String,
    /// Action name.
    pub action: &'static str,
    /// Frames below it (0 at the top level).
    pub depth: usize,
    /// Attempt it will make.
    pub attempt: u32,
}

#[derive(Debug)]
enum OwnerKind {
    If { branch: &'static str },
    Foreach { items: Vec<Value>, index: usize },
    TrySteps,
    TryCatch { error: Value },
}

/// The compound step that owns a frame, with what its record needs.
#[derive(Debug)]
struct Owner {
    seq: u32,
    started: Instant,
    started_at: Timestamp,
    attempt: u32,
    input: Value,
    kind: OwnerKind,
}

#[derive(Debug)]
struct Frame {
    steps: Steps,
    pc: usize,
    owner: Option<Owner>,
}

/// One run's execution state.
#[derive(Debug)]
pub struct Interpreter {
    program: Arc<Program>,
    frames: Vec<Frame>,
    vars: Value,
    inputs: Inputs,
    env: Arc<Value>,
    limit: Duration,
    seq: u32,
    vars_version: u64,
    recorded_vars_version: u64,
    next_attempt: Option<u32>,
    backoff: Option<Duration>,
    outcome: Option<Outcome>,
}

/// Pause before attempt `attempt + 1`: `backoff_ms`, doubling each time.
fn backoff(retry: Option<Retry>, attempt: u32) -> Duration {
    let base = retry.map_or(0, |r| r.backoff_ms);
    let factor = 1u64 << attempt.saturating_sub(1).min(16);
    Duration::from_millis(base.saturating_mul(factor))
}

fn max_attempts(step: &CStep) -> u32 {
    step.retry.map_or(1, |r| r.max_attempts.max(1))
}

impl Interpreter {
    /// Start a run of `program` from `inputs`.
    pub fn new(program: Arc<Program>, inputs: Inputs, env: Arc<Value>, limit: Duration) -> Self {
        let root = Frame {
            steps: program.steps.clone(),
            pc: 0,
            owner: None,
        };
        let mut me = Self {
            program,
            frames: vec![root],
            vars: Value::Object(Map::new()),
            inputs,
            env,
            limit,
            seq: 0,
            vars_version: 0,
            recorded_vars_version: 0,
            next_attempt: None,
            backoff: None,
            outcome: None,
        };
        let mut records = Vec::new();
        me.settle(&mut records);
        me
    }

    /// The program being run.
    pub fn program(&self) -> &Arc<Program> {
        &self.program
    }

    /// How the run ended, once it has.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// Whether the run has ended.
    pub fn is_finished(&self) -> bool {
        self.outcome.is_some()
    }

    /// `$var` now.
    pub fn vars(&self) -> &Value {
        &self.vars
    }

    /// The inputs of the run.
    pub fn inputs(&self) -> &Inputs {
        &self.inputs
    }

    /// Step records written so far (the last `seq` used).
    pub fn last_seq(&self) -> u32 {
        self.seq
    }

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
            .with(Global::Param, &self.inputs.param)
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
        let param = Arc::make_mut(&mut self.inputs.param);
        if let Value::Object(map) = param {
            map.insert(name.to_string(), value);
        } else {
            let mut map = Map::new();
            map.insert(name.to_string(), value);
            *param = Value::Object(map);
        }
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

    /// Indexes of the enclosing `foreach` loops, outermost first.
    fn iteration(&self) -> Vec<usize> {
        self.frames
            .iter()
            .filter_map(|f| match &f.owner {
                Some(Owner {
                    kind: OwnerKind::Foreach { index, .. },
                    ..
                }) => Some(*index),
                _ => None,
            })
            .collect()
    }

    /// Attempts of the compound steps that own the frames, outermost first.
    fn rounds(&self) -> Vec<u32> {
        self.frames
            .iter()
            .filter_map(|f| f.owner.as_ref().map(|o| o.attempt))
            .collect()
    }

    fn vars_if_changed(&mut self) -> Option<Value> {
        if self.vars_version == self.recorded_vars_version {
            return None;
        }
        self.recorded_vars_version = self.vars_version;
        Some(self.vars.clone())
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        step: &CStep,
        seq: u32,
        attempt: u32,
        started: (Instant, Timestamp),
        status: StepStatus,
        input: Value,
        output: Value,
        error: Option<String>,
    ) -> StepRecord {
        let iteration = self.iteration();
        StepRecord {
            seq,
            step: step.id.clone(),
            path: step.path.clone(),
            action: step.op.name().to_string(),
            status,
            input,
            output,
            error,
            vars: self.vars_if_changed(),
            started_at: started.1,
            duration_us: u64::try_from(started.0.elapsed().as_micros()).unwrap_or(u64::MAX),
            attempt,
            iteration,
        }
    }

    /// Stop the run from outside before its end: it ends cancelled, saying `reason`.
    pub fn cancel(&mut self, reason: impl Into<String>) {
        self.frames.clear();
        self.outcome = Some(Outcome::Cancelled {
            reason: reason.into(),
        });
    }

    /// Execute the next step. Returns the records completed by it, in completion order:
    /// the step's own (for leaves and failed entries), and those of compound steps whose
    /// bodies it finished.
    pub async fn step<E: Effects>(&mut self, effects: &E, run: &RunContext) -> Vec<StepRecord> {
        let mut records = Vec::new();
        let Some(frame) = self.frames.last() else {
            return records;
        };
        let steps = frame.steps.clone();
        let pc = frame.pc;
        let Some(step) = steps.get(pc) else {
            self.settle(&mut records);
            return records;
        };
        if let Some(pause) = self.backoff.take() {
            effects.sleep(pause).await;
        }
        let attempt = self.next_attempt.take().unwrap_or(1);
        self.seq += 1;
        let seq = self.seq;
        let started = (Instant::now(), effects.now());
        match &step.op {
            Op::If {
                cond,
                then,
                otherwise,
            } => match if_::choose(cond, then, otherwise, &self.bindings(), self.limit) {
                Ok(branch) => self.push(
                    branch.steps,
                    seq,
                    started,
                    attempt,
                    branch.input,
                    OwnerKind::If {
                        branch: branch.name,
                    },
                ),
                Err(message) => self.step_failed(
                    step,
                    seq,
                    attempt,
                    started,
                    Value::Null,
                    message,
                    &mut records,
                ),
            },
            Op::Foreach {
                items,
                item,
                steps: body,
            } => match foreach::items(items, &self.bindings(), self.limit) {
                Ok(list) if list.is_empty() => {
                    let r = self.record(
                        step,
                        seq,
                        attempt,
                        started,
                        StepStatus::Succeeded,
                        json!({ "count": 0 }),
                        json!({ "count": 0 }),
                        None,
                    );
                    records.push(r);
                    self.advance();
                }
                Ok(list) => {
                    self.bind_item(item, &list[0], 0);
                    let input = json!({ "count": list.len() });
                    self.push(
                        body.clone(),
                        seq,
                        started,
                        attempt,
                        input,
                        OwnerKind::Foreach {
                            items: list,
                            index: 0,
                        },
                    );
                }
                Err(f) => self.step_failed(
                    step,
                    seq,
                    attempt,
                    started,
                    f.input,
                    f.message,
                    &mut records,
                ),
            },
            Op::Try { steps: body, .. } => {
                self.push(
                    body.clone(),
                    seq,
                    started,
                    attempt,
                    Value::Null,
                    OwnerKind::TrySteps,
                );
            }
            _ => {
                let iteration = self.iteration();
                let rounds = self.rounds();
                let result = {
                    let cx = LeafCx {
                        bindings: self.bindings(),
                        limit: self.limit,
                        effects,
                        run,
                        step,
                        iteration: &iteration,
                        attempt,
                        rounds: &rounds,
                    };
                    actions::run(&cx).await
                };
                match result {
                    Ok(done) => {
                        let ret = match done.effect {
                            Effect::None => None,
                            Effect::Set(name, value) => {
                                self.set_var(&name, value);
                                None
                            }
                            Effect::Return { value, status } => Some((value, status)),
                        };
                        let r = self.record(
                            step,
                            seq,
                            attempt,
                            started,
                            StepStatus::Succeeded,
                            done.input,
                            done.output,
                            None,
                        );
                        records.push(r);
                        match ret {
                            Some((output, status)) => {
                                self.finish_with_return(output, status, &mut records)
                            }
                            None => self.advance(),
                        }
                    }
                    Err(f) => self.step_failed(
                        step,
                        seq,
                        attempt,
                        started,
                        f.input,
                        f.message,
                        &mut records,
                    ),
                }
            }
        }
        self.settle(&mut records);
        records
    }

    fn push(
        &mut self,
        steps: Steps,
        seq: u32,
        started: (Instant, Timestamp),
        attempt: u32,
        input: Value,
        kind: OwnerKind,
    ) {
        self.frames.push(Frame {
            steps,
            pc: 0,
            owner: Some(Owner {
                seq,
                started: started.0,
                started_at: started.1,
                attempt,
                input,
                kind,
            }),
        });
    }

    fn bind_item(&mut self, item: &str, value: &Value, index: usize) {
        self.set_var(item, value.clone());
        self.set_var(&foreach::index_var(item), Value::from(index));
    }

    fn advance(&mut self) {
        if let Some(f) = self.frames.last_mut() {
            f.pc += 1;
        }
    }

    /// The step at the top frame's pc failed (attempt `attempt`): record it, then retry it
    /// or unwind.
    #[allow(clippy::too_many_arguments)]
    fn step_failed(
        &mut self,
        step: &CStep,
        seq: u32,
        attempt: u32,
        started: (Instant, Timestamp),
        input: Value,
        message: String,
        records: &mut Vec<StepRecord>,
    ) {
        let r = self.record(
            step,
            seq,
            attempt,
            started,
            StepStatus::Failed,
            input,
            Value::Null,
            Some(message.clone()),
        );
        records.push(r);
        if attempt < max_attempts(step) {
            self.next_attempt = Some(attempt + 1);
            self.backoff = Some(backoff(step.retry, attempt));
            return;
        }
        self.unwind(message, step.id.clone(), records);
    }

    /// An error leaves the top frame: find a `try` to catch it or a compound step to retry;
    /// otherwise the run fails.
    fn unwind(&mut self, message: String, failed_step: String, records: &mut Vec<StepRecord>) {
        loop {
            let Some(frame) = self.frames.pop() else {
                break;
            };
            let Some(owner) = frame.owner else {
                // the top-level list failed: so does the run
                self.frames.clear();
                self.outcome = Some(Outcome::Failed {
                    error: message,
                    step: Some(failed_step),
                });
                return;
            };
            let Some(parent) = self.frames.last() else {
                break;
            };
            let steps = parent.steps.clone();
            let step = &steps[parent.pc];
            if let (OwnerKind::TrySteps, Op::Try { catch, .. }) = (&owner.kind, &step.op) {
                let error = try_::error_value(&message, &failed_step);
                self.frames.push(Frame {
                    steps: catch.clone(),
                    pc: 0,
                    owner: Some(Owner {
                        kind: OwnerKind::TryCatch { error },
                        ..owner
                    }),
                });
                return;
            }
            let attempt = owner.attempt;
            let r = self.close(step, owner, Some(message.clone()));
            records.push(r);
            if attempt < max_attempts(step) {
                self.next_attempt = Some(attempt + 1);
                self.backoff = Some(backoff(step.retry, attempt));
                return;
            }
        }
        self.outcome = Some(Outcome::Failed {
            error: message,
            step: Some(failed_step),
        });
    }

    /// `return`: close every open compound step (succeeded) and end the run.
    fn finish_with_return(
        &mut self,
        output: Value,
        status: Option<u16>,
        records: &mut Vec<StepRecord>,
    ) {
        while let Some(frame) = self.frames.pop() {
            if let Some(owner) = frame.owner
                && let Some(parent) = self.frames.last()
            {
                let steps = parent.steps.clone();
                let r = self.close(&steps[parent.pc], owner, None);
                records.push(r);
            }
        }
        self.outcome = Some(Outcome::Succeeded { output, status });
    }

    /// Close frames whose steps are done (writing their owners' records), start the next
    /// `foreach` iteration, and end the run when the top level is done.
    fn settle(&mut self, records: &mut Vec<StepRecord>) {
        loop {
            if self.outcome.is_some() {
                return;
            }
            let Some(top) = self.frames.last() else {
                self.outcome = Some(Outcome::Succeeded {
                    output: Value::Null,
                    status: None,
                });
                return;
            };
            if top.pc < top.steps.len() {
                return;
            }
            let Some(frame) = self.frames.pop() else {
                return;
            };
            let Some(mut owner) = frame.owner else {
                self.outcome = Some(Outcome::Succeeded {
                    output: Value::Null,
                    status: None,
                });
                return;
            };
            let Some(parent) = self.frames.last() else {
                return;
            };
            let steps = parent.steps.clone();
            let step = &steps[parent.pc];
            if let (
                OwnerKind::Foreach { items, index },
                Op::Foreach {
                    item, steps: body, ..
                },
            ) = (&mut owner.kind, &step.op)
                && *index + 1 < items.len()
            {
                *index += 1;
                let (i, value) = (*index, items[*index].clone());
                self.bind_item(item, &value, i);
                self.frames.push(Frame {
                    steps: body.clone(),
                    pc: 0,
                    owner: Some(owner),
                });
                continue;
            }
            let r = self.close(step, owner, None);
            records.push(r);
            self.advance();
        }
    }
}

impl Interpreter {
    /// The record of a compound step whose frame ended: succeeded, or failed with `error`.
    fn close(&mut self, step: &CStep, owner: Owner, error: Option<String>) -> StepRecord {
        let (status, output) = match &error {
            None => (StepStatus::Succeeded, owner_output(&owner.kind)),
            Some(_) => (StepStatus::Failed, Value::Null),
        };
        self.record(
            step,
            owner.seq,
            owner.attempt,
            (owner.started, owner.started_at),
            status,
            owner.input,
            output,
            error,
        )
    }
}

fn owner_output(kind: &OwnerKind) -> Value {
    match kind {
        OwnerKind::If { branch } => json!({ "branch": branch }),
        OwnerKind::Foreach { items, .. } => json!({ "count": items.len() }),
        OwnerKind::TrySteps => json!({ "caught": null }),
        OwnerKind::TryCatch { error } => json!({ "caught": error }),
    }
}
