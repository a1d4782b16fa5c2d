//! The interpreter: an explicit stack machine that executes one step per call.
//!
//! Because the position of a run is data (a stack of frames, each a step list and a program
//! counter), a caller can look at the next step before it runs, stop there, inspect or change
//! variables, and go on: live runs call [`Interpreter::step`] in a loop, the debugger calls it
//! when the user says so. Compound steps (`if`, `foreach`, `try`) push a frame; their record
//! is written when their frame ends. Errors unwind frames to the nearest `try` (or to a
//! compound step with retries left); retries re-run the same step with the next attempt.

//!
//! The room is cut by concern: this file holds the machine and its step loop; `inspect`
//! what the debugger reads and changes between steps (the next step, bindings, the stack,
//! edits, a start in the middle); `unwind` how a failure, a retry or a `return` ends frames.

mod inspect;
mod unwind;

use super::actions::{self, Effect, LeafCx, foreach, if_};
use super::context::{Inputs, RunContext};
use super::effects::Effects;
use super::program::{CStep, Op, Program, Steps};
use crate::model::{Retry, StepRecord, StepStatus, Timestamp};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    /// It ended well.
    Succeeded {
        /// The `return` value (`null` without one).
        output: Value,
        /// HTTP status from `return` (endpoints).
        status: Option<u16>,
    },
    /// A step failed and nothing caught it.
    Failed {
        /// The error that ended it.
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
    outcome: Option<RunOutcome>,
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
    pub fn outcome(&self) -> Option<&RunOutcome> {
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
        self.outcome = Some(RunOutcome::Cancelled {
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
}
