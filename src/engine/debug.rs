//! Debug sessions: one run under a debugger. The run pauses before a step when a breakpoint
//! matches or a step command says so, answers questions while paused (evaluate a jq
//! expression, show the variables, change a variable), and goes on when told. Pausing holds
//! no lock: the store and other runs carry on.

use super::context::{EventContext, Inputs, RunContext};
use super::core::{Core, RunJob};
use super::interpreter::{Interpreter, NextStep};
use super::program::Op;
use super::secrets::MASK;
use crate::expr::{Expr, Scope};
use crate::model::{RunStatus, StepStatus};
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The error of a run the debugger aborted.
pub const ABORTED: &str = "aborted by the debugger";

pub use crate::model::breakpoint::Breakpoint;

/// How to go on from a pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Until a breakpoint or the end.
    Continue,
    /// Until the next step at the same depth or above (a compound step's body runs whole).
    StepOver,
    /// To the very next step (into `if`, `foreach` and `try` bodies).
    StepIn,
    /// Until the next step above the current depth.
    StepOut,
}

/// Which value a debugger edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditScope {
    /// `$var.<name>`
    Var,
    /// `$param.<name>`
    Param,
}

impl EditScope {
    fn as_str(self) -> &'static str {
        match self {
            EditScope::Var => "var",
            EditScope::Param => "param",
        }
    }
}

/// A request to a session.
#[derive(Debug)]
pub enum Command {
    /// Go on (only while paused).
    Resume(Resume),
    /// Stop at the next step.
    Pause,
    /// End the run now (cancelled).
    Abort,
    /// Replace the breakpoints.
    SetBreakpoints(Vec<Breakpoint>),
    /// Evaluate a jq expression against the run's variables.
    Evaluate {
        /// The expression.
        expr: String,
        /// The value, or why not.
        reply: oneshot::Sender<Result<Value, String>>,
    },
    /// Change `$var.<name>` or `$param.<name>` (recorded in the trace as an override).
    Set {
        /// Which.
        scope: EditScope,
        /// Name.
        name: String,
        /// New value.
        value: Value,
        /// Done, or why not.
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// The variables now.
    Inspect {
        /// The snapshot.
        reply: oneshot::Sender<Snapshot>,
    },
}

/// Why a run paused.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum StopReason {
    /// At the start (stop on entry).
    Entry,
    /// A breakpoint on the step.
    Breakpoint {
        /// The step.
        step: String,
    },
    /// A step breakpoint whose condition holds.
    Condition {
        /// The step.
        step: String,
        /// The condition.
        condition: String,
    },
    /// Before an emit of a watched event.
    Emit {
        /// The event.
        event: String,
    },
    /// A step failed.
    Failure {
        /// The step.
        step: String,
        /// Why.
        message: String,
    },
    /// A step command finished.
    Step,
    /// Paused on request.
    Pause,
}

/// One level of the debugger's stack: an enclosing compound step or the next step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Frame {
    /// Step id.
    pub step: String,
    /// JSON pointer in the definition.
    pub path: String,
    /// Action.
    pub action: String,
    /// Item indexes of the enclosing loops.
    pub iteration: Vec<usize>,
}

/// What a debugger shows at a pause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// The run.
    pub run_id: i64,
    /// The workflow.
    pub workflow: String,
    /// The step that runs next (`None`: the run is at its end).
    pub next: Option<String>,
    /// Outermost first, the next step last.
    pub stack: Vec<Frame>,
    /// `$param`.
    pub param: Value,
    /// `$var`.
    pub var: Value,
    /// `$env`, secrets masked.
    pub env: Value,
    /// `$event`.
    pub event: Value,
    /// The request of an endpoint's run: `{body, query, headers, path}` (`null` for a
    /// workflow's).
    pub request: Value,
    /// The next step's fields as they evaluate now.
    pub input: Value,
}

/// What a session tells its debugger.
#[derive(Debug, Clone, PartialEq)]
pub enum DebugEvent {
    /// The run paused.
    Stopped {
        /// Why.
        reason: StopReason,
        /// Where, and the variables.
        snapshot: Box<Snapshot>,
    },
    /// The run goes on.
    Resumed {
        /// The run.
        run_id: i64,
    },
    /// A `log` step wrote a line.
    Output {
        /// The run.
        run_id: i64,
        /// The line.
        text: String,
    },
    /// The run ended.
    Finished {
        /// The run.
        run_id: i64,
        /// How.
        status: RunStatus,
        /// Output.
        output: Option<Value>,
        /// Error.
        error: Option<String>,
    },
}

/// A handle on a running session. Cheap to clone; dropping every handle aborts the run.
#[derive(Debug, Clone)]
pub struct Session {
    /// The run.
    pub run_id: i64,
    /// The workflow.
    pub workflow: String,
    commands: mpsc::UnboundedSender<Command>,
}

impl Session {
    /// Send a command (ignored when the run has ended).
    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    /// Go on.
    pub fn resume(&self, how: Resume) {
        self.send(Command::Resume(how));
    }

    /// Evaluate a jq expression against the run's variables.
    pub async fn evaluate(&self, expr: &str) -> Result<Value, String> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Evaluate {
            expr: expr.to_string(),
            reply,
        });
        rx.await.map_err(|_| "the run has ended".to_string())?
    }

    /// Change a variable.
    pub async fn set(&self, scope: EditScope, name: &str, value: Value) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Set {
            scope,
            name: name.to_string(),
            value,
            reply,
        });
        rx.await.map_err(|_| "the run has ended".to_string())?
    }

    /// The variables now.
    pub async fn inspect(&self) -> Option<Snapshot> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Inspect { reply });
        rx.await.ok()
    }

    /// Whether the run has ended.
    pub fn is_closed(&self) -> bool {
        self.commands.is_closed()
    }
}

/// How to start a session.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Where to stop.
    pub breakpoints: Vec<Breakpoint>,
    /// Stop before the first step.
    pub stop_on_entry: bool,
    /// Follows the runs that the debugged run's events set off, so that a debugger can
    /// wait for them (they run on their own, never paused).
    pub cascade: Option<super::Tracker>,
}

/// Breakpoints with their conditions compiled.
struct Compiled {
    list: Vec<(Breakpoint, Option<Expr>)>,
}

impl Compiled {
    fn new(list: Vec<Breakpoint>) -> Result<Compiled, String> {
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

    fn on_failure(&self) -> bool {
        self.list.iter().any(|(b, _)| *b == Breakpoint::Failure)
    }

    /// The breakpoint that stops before the next step, if any.
    fn matches(&self, interpreter: &Interpreter, next: &NextStep) -> Option<StopReason> {
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

/// Where step commands stop.
#[derive(Debug, Clone, PartialEq)]
enum Mode {
    Continue,
    /// Stop before the next step, with this reason.
    Next(StopReason),
    Over(usize),
    Out(usize),
}

struct Runner {
    core: Arc<Core>,
    context: RunContext,
    interpreter: Interpreter,
    breakpoints: Compiled,
    commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<DebugEvent>,
    mode: Mode,
}

/// Start a session for `job` and return its handle; `events` receives what happens.
pub async fn start(
    core: Arc<Core>,
    mut job: RunJob,
    options: Options,
    events: mpsc::UnboundedSender<DebugEvent>,
) -> Result<Session, String> {
    let breakpoints = Compiled::new(options.breakpoints)?;
    if job.tracker.is_none() {
        job.tracker = options.cascade;
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let session = Session {
        run_id: job.run_id,
        workflow: job.name.clone(),
        commands: tx,
    };
    let (interpreter, context) = match core.begin(job).await {
        Ok(started) => started,
        Err(end) => {
            let _ = events.send(DebugEvent::Finished {
                run_id: end.run_id,
                status: end.status,
                output: end.output,
                error: end.error,
            });
            return Ok(session);
        }
    };
    spawn(
        core,
        context,
        interpreter,
        breakpoints,
        rx,
        events,
        options.stop_on_entry,
    );
    Ok(session)
}

/// Start a session on an interpreter that is already positioned (a replay).
pub fn start_positioned(
    core: Arc<Core>,
    context: RunContext,
    interpreter: Interpreter,
    options: Options,
    events: mpsc::UnboundedSender<DebugEvent>,
) -> Result<Session, String> {
    let breakpoints = Compiled::new(options.breakpoints)?;
    let (tx, rx) = mpsc::unbounded_channel();
    let session = Session {
        run_id: context.run_id,
        workflow: context.name.clone(),
        commands: tx,
    };
    spawn(
        core,
        context,
        interpreter,
        breakpoints,
        rx,
        events,
        options.stop_on_entry,
    );
    Ok(session)
}

fn spawn(
    core: Arc<Core>,
    context: RunContext,
    interpreter: Interpreter,
    breakpoints: Compiled,
    commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<DebugEvent>,
    stop_on_entry: bool,
) {
    let runner = Runner {
        core,
        context,
        interpreter,
        breakpoints,
        commands,
        events,
        mode: if stop_on_entry {
            Mode::Next(StopReason::Entry)
        } else {
            Mode::Continue
        },
    };
    tokio::spawn(runner.run());
}

impl Runner {
    async fn run(mut self) {
        let run_id = self.context.run_id;
        loop {
            if !self.take_commands() {
                self.interpreter.abort(ABORTED);
            }
            let Some(next) = self.interpreter.next_step() else {
                break;
            };
            let reason = self
                .breakpoints
                .matches(&self.interpreter, &next)
                .or(match &self.mode {
                    Mode::Next(reason) => Some(reason.clone()),
                    Mode::Over(d) if next.depth <= *d => Some(StopReason::Step),
                    Mode::Out(d) if next.depth < *d => Some(StopReason::Step),
                    _ => None,
                });
            if let Some(reason) = reason
                && !self.pause(reason, Some(&next)).await
            {
                continue;
            }
            let records = self.interpreter.step(&self.core, &self.context).await;
            let failed = records
                .iter()
                .find(|r| r.status == StepStatus::Failed)
                .map(|r| (r.step.clone(), r.error.clone().unwrap_or_default()));
            for r in records.iter().filter(|r| r.action == "log") {
                let text = match &r.output {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let _ = self.events.send(DebugEvent::Output { run_id, text });
            }
            self.core.record_steps(run_id, records).await;
            if let Some((step, message)) = failed
                && self.breakpoints.on_failure()
            {
                let next = self.interpreter.next_step();
                self.pause(StopReason::Failure { step, message }, next.as_ref())
                    .await;
            }
        }
        let end = self.core.conclude(run_id, &self.interpreter).await;
        let _ = self.events.send(DebugEvent::Finished {
            run_id,
            status: end.status,
            output: end.output,
            error: end.error,
        });
    }

    /// Handle the commands that arrived while running; false when the run must end.
    fn take_commands(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(Command::Pause) => self.mode = Mode::Next(StopReason::Pause),
                Ok(Command::Abort) => return false,
                Ok(Command::Resume(_)) => {}
                Ok(other) => self.answer(other),
                Err(mpsc::error::TryRecvError::Empty) => return true,
                // every handle is gone: nobody can resume a pause, so run on without stopping
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.mode = Mode::Continue;
                    self.breakpoints = Compiled { list: Vec::new() };
                    return true;
                }
            }
        }
    }

    /// Answer a question (evaluate, set, inspect, breakpoints), paused or not.
    fn answer(&mut self, command: Command) {
        match command {
            Command::Evaluate { expr, reply } => {
                let result = Expr::compile(&expr, Scope::ALL).and_then(|e| {
                    e.eval(
                        &self.interpreter.bindings(),
                        std::time::Duration::from_secs(2),
                    )
                    .map_err(|err| err.to_string())
                });
                let result = result.map(|mut v| {
                    self.core.settings().secrets.mask(&mut v);
                    v
                });
                let _ = reply.send(result);
            }
            Command::Set {
                scope,
                name,
                value,
                reply,
            } => {
                if !crate::model::names::is_identifier(&name) {
                    let _ = reply.send(Err(format!("{name:?} is not a variable name")));
                    return;
                }
                match scope {
                    EditScope::Var => self.interpreter.set_var(&name, value.clone()),
                    EditScope::Param => self.interpreter.set_param(&name, value.clone()),
                }
                let record = self
                    .interpreter
                    .override_record(scope.as_str(), &name, &value);
                let core = self.core.clone();
                let run_id = self.context.run_id;
                tokio::spawn(async move { core.record_steps(run_id, vec![record]).await });
                let _ = reply.send(Ok(()));
            }
            Command::Inspect { reply } => {
                let _ = reply.send(self.snapshot());
            }
            Command::SetBreakpoints(list) => match Compiled::new(list) {
                Ok(c) => self.breakpoints = c,
                Err(e) => {
                    let _ = self.events.send(DebugEvent::Output {
                        run_id: self.context.run_id,
                        text: e,
                    });
                }
            },
            Command::Resume(_) | Command::Pause | Command::Abort => {}
        }
    }

    fn snapshot(&self) -> Snapshot {
        let b = self.interpreter.bindings();
        let mut env = b.get(crate::expr::Global::Env).clone();
        if let Value::Object(map) = &mut env {
            let secrets = &self.core.settings().secrets;
            for v in map.values_mut() {
                if let Value::String(s) = v
                    && secrets.mask_text(s) != *s
                {
                    *v = Value::String(MASK.into());
                }
            }
        }
        let stack = self
            .interpreter
            .stack()
            .into_iter()
            .map(|(s, iteration)| Frame {
                step: s.id.clone(),
                path: s.path.clone(),
                action: s.op.name().to_string(),
                iteration,
            })
            .collect();
        let mut snapshot = Snapshot {
            run_id: self.context.run_id,
            workflow: self.context.name.clone(),
            next: self.interpreter.next_step().map(|n| n.id),
            stack,
            param: b.get(crate::expr::Global::Param).clone(),
            var: b.get(crate::expr::Global::Var).clone(),
            env,
            event: b.get(crate::expr::Global::Event).clone(),
            request: match self.context.kind {
                crate::model::Kind::Endpoint => json!({
                    "body": b.get(crate::expr::Global::Body),
                    "query": b.get(crate::expr::Global::Query),
                    "headers": b.get(crate::expr::Global::Headers),
                    "path": b.get(crate::expr::Global::Path),
                }),
                crate::model::Kind::Workflow => Value::Null,
            },
            input: self.interpreter.preview_input(),
        };
        let secrets = &self.core.settings().secrets;
        secrets.mask(&mut snapshot.var);
        secrets.mask(&mut snapshot.param);
        secrets.mask(&mut snapshot.input);
        secrets.mask(&mut snapshot.request);
        snapshot
    }

    /// Stay paused until told to go on. Returns false when the run was aborted.
    async fn pause(&mut self, reason: StopReason, next: Option<&NextStep>) -> bool {
        let run_id = self.context.run_id;
        // committed before the debugger hears of the stop: whoever looks sees `paused`
        if let Err(e) = self
            .core
            .writer()
            .call(move |s| s.set_run_status(run_id, RunStatus::Paused))
            .await
        {
            tracing::warn!(run_id, error = %e, "cannot record the pause");
        }
        let _ = self.events.send(DebugEvent::Stopped {
            reason,
            snapshot: Box::new(self.snapshot()),
        });
        let depth = next.map_or(0, |n| n.depth);
        loop {
            let Some(command) = self.commands.recv().await else {
                // the debugger is gone: let the run finish on its own
                self.mode = Mode::Continue;
                self.breakpoints = Compiled { list: Vec::new() };
                break;
            };
            match command {
                Command::Resume(how) => {
                    self.mode = match how {
                        Resume::Continue => Mode::Continue,
                        Resume::StepIn => Mode::Next(StopReason::Step),
                        Resume::StepOver => Mode::Over(depth),
                        Resume::StepOut => Mode::Out(depth),
                    };
                    break;
                }
                Command::Abort => {
                    self.interpreter.abort(ABORTED);
                    self.resumed().await;
                    return false;
                }
                Command::Pause => {}
                other => self.answer(other),
            }
        }
        self.resumed().await;
        true
    }

    async fn resumed(&self) {
        let run_id = self.context.run_id;
        self.core
            .writer()
            .submit("resume", move |s| {
                s.set_run_status(run_id, RunStatus::Running)
            })
            .await;
        let _ = self.events.send(DebugEvent::Resumed { run_id });
    }
}

/// Inputs of a debug run of a workflow, with `$event` standing in for the event.
pub fn debug_inputs(params: Value, on: Option<&str>) -> (Inputs, EventContext) {
    let event = json!({
        "id": null,
        "name": on,
        "source": "debug",
        "depth": 0,
        "emitted_at": crate::model::Timestamp::now(),
    });
    (
        Inputs::workflow(params, event),
        EventContext {
            id: None,
            chain: Vec::new(),
            depth: 0,
        },
    )
}

impl super::Engine {
    /// Run a workflow's draft (or a deployed `version`) under a debugger.
    pub async fn debug_session(
        &self,
        workflow: &str,
        params: Value,
        version: Option<i64>,
        options: Options,
        events: mpsc::UnboundedSender<DebugEvent>,
    ) -> Result<Session, super::EngineError> {
        if !params.is_object() {
            return Err(super::EngineError::BadInput(format!(
                "params must be a JSON object, got {params}"
            )));
        }
        let row = self.workflow(workflow)?;
        if let Some(v) = version
            && row.live_version.is_none_or(|live| v > live || v < 1)
        {
            return Err(super::EngineError::BadInput(format!(
                "{workflow} has no version {v} (live: {})",
                row.live_version.map_or("none".into(), |l| format!("v{l}"))
            )));
        }
        self.core().program(row.id, version)?;
        let run_id = self
            .record_run(
                &row,
                crate::model::Kind::Workflow,
                version,
                crate::model::RunMode::Debug,
                params.clone(),
                true,
            )
            .await?;
        let (inputs, event) = debug_inputs(params, row.on_event.as_deref());
        let job = RunJob {
            run_id,
            definition_id: row.id,
            kind: crate::model::Kind::Workflow,
            name: row.name.clone(),
            version,
            mode: crate::model::RunMode::Debug,
            inputs,
            event: Some(event),
            tracker: None,
        };
        start(self.core().clone(), job, options, events)
            .await
            .map_err(super::EngineError::BadInput)
    }

    /// Run an endpoint's draft (or a deployed `version`) under a debugger, for a request:
    /// `request` holds `body`, `query`, `headers` and `path` (the route's `{name}` segments),
    /// each optional.
    pub async fn debug_endpoint(
        &self,
        endpoint: &str,
        request: Value,
        version: Option<i64>,
        options: Options,
        events: mpsc::UnboundedSender<DebugEvent>,
    ) -> Result<Session, super::EngineError> {
        let Value::Object(parts) = request else {
            return Err(super::EngineError::BadInput(format!(
                "the request must be a JSON object like {{\"body\": {{}}, \"path\": {{}}}}, got {request}"
            )));
        };
        let row = self
            .store()
            .find_definition(crate::model::Kind::Endpoint, endpoint)?
            .ok_or_else(|| {
                super::EngineError::BadInput(format!("no endpoint named {endpoint:?}"))
            })?;
        self.core().program(row.id, version)?;
        let part = |name: &str, empty: Value| parts.get(name).cloned().unwrap_or(empty);
        let inputs = Inputs {
            body: part("body", Value::Null),
            query: part("query", json!({})),
            headers: part("headers", json!({})),
            path: part("path", json!({})),
            ..Inputs::default()
        };
        let run_id = self
            .record_run(
                &row,
                crate::model::Kind::Endpoint,
                version,
                crate::model::RunMode::Debug,
                inputs.recorded(crate::model::Kind::Endpoint),
                true,
            )
            .await?;
        let job = RunJob {
            run_id,
            definition_id: row.id,
            kind: crate::model::Kind::Endpoint,
            name: row.name.clone(),
            version,
            mode: crate::model::RunMode::Debug,
            inputs,
            event: None,
            tracker: None,
        };
        start(self.core().clone(), job, options, events)
            .await
            .map_err(super::EngineError::BadInput)
    }

    /// Emit an event (to drafts) whose listeners each run under the debugger.
    pub async fn debug_event(
        &self,
        event: &str,
        params: Value,
        options: Options,
        events: mpsc::UnboundedSender<DebugEvent>,
    ) -> Result<(crate::model::EventRecord, Vec<Session>), super::EngineError> {
        let mut request = super::EmitRequest::new(event, params, "debug");
        request.draft = true;
        let dispatched = self.core().dispatch_only(request).await?;
        let e = &dispatched.event;
        let event_value = super::core::event_value(&e.record);
        let mut sessions = Vec::new();
        for run in &dispatched.runs {
            let job = RunJob {
                run_id: run.run_id,
                definition_id: run.definition_id,
                kind: crate::model::Kind::Workflow,
                name: run.name.to_string(),
                version: run.version,
                mode: crate::model::RunMode::Debug,
                inputs: Inputs::workflow(e.record.params.clone(), event_value.clone()),
                event: Some(EventContext {
                    id: Some(e.record.id),
                    chain: e.chain.clone(),
                    depth: e.record.depth,
                }),
                tracker: None,
            };
            sessions.push(
                start(self.core().clone(), job, options.clone(), events.clone())
                    .await
                    .map_err(super::EngineError::BadInput)?,
            );
        }
        Ok((dispatched.event.record, sessions))
    }

    /// Run again from a recorded step: a new run (mode replay) of the same version, with the
    /// params and the variables the record had just before that step.
    pub async fn replay_from(
        &self,
        run_id: i64,
        seq: u32,
        options: Options,
        events: mpsc::UnboundedSender<DebugEvent>,
    ) -> Result<Session, super::EngineError> {
        let (run, row, event) = {
            let store = self.store();
            let run = store
                .run_with_steps(run_id)?
                .ok_or_else(|| super::EngineError::BadInput(format!("no run #{run_id}")))?;
            let kind = match run.target {
                crate::model::Target::Workflow(_) => crate::model::Kind::Workflow,
                crate::model::Target::Endpoint(_) => crate::model::Kind::Endpoint,
            };
            let row = store
                .find_definition(kind, run.target.name())?
                .ok_or_else(|| {
                    super::EngineError::BadInput(format!(
                        "{} is no longer in the store",
                        run.target.name()
                    ))
                })?;
            let event = match run.event_id {
                Some(id) => store.event(id)?,
                None => None,
            };
            (run, row, event)
        };
        let steps = run.steps.clone().unwrap_or_default();
        let Some(at) = steps.iter().position(|s| s.seq == seq) else {
            return Err(super::EngineError::BadInput(format!(
                "run #{run_id} has no step record {seq}"
            )));
        };
        let record = &steps[at];
        let vars = crate::model::record::vars_after(&steps[..at]);
        let program = self.core().program(row.id, run.version)?;
        let (inputs, event_context) = match &event {
            Some(e) => (
                Inputs::workflow(run.params.clone(), super::core::event_value(&e.record)),
                EventContext {
                    id: Some(e.record.id),
                    chain: e.chain.clone(),
                    depth: e.record.depth,
                },
            ),
            None if row.kind == crate::model::Kind::Workflow => {
                debug_inputs(run.params.clone(), row.on_event.as_deref())
            }
            None => {
                let p = &run.params;
                (
                    Inputs {
                        body: p.get("body").cloned().unwrap_or(Value::Null),
                        query: p.get("query").cloned().unwrap_or(Value::Null),
                        headers: p.get("headers").cloned().unwrap_or(Value::Null),
                        path: p.get("path").cloned().unwrap_or(Value::Null),
                        ..Inputs::default()
                    },
                    EventContext {
                        id: None,
                        chain: Vec::new(),
                        depth: 0,
                    },
                )
            }
        };
        let settings = self.core().settings();
        let interpreter = Interpreter::start_at(
            program,
            inputs.clone(),
            settings.env.clone(),
            settings.expr_limit(),
            vars,
            &record.path,
            &record.iteration,
        )
        .map_err(super::EngineError::BadInput)?;
        let new_id = self
            .record_run(
                &row,
                row.kind,
                run.version,
                crate::model::RunMode::Replay,
                run.params.clone(),
                true,
            )
            .await?;
        let context = RunContext {
            run_id: new_id,
            version: run.version,
            kind: row.kind,
            name: row.name.clone(),
            mode: crate::model::RunMode::Replay,
            event: (row.kind == crate::model::Kind::Workflow).then_some(event_context),
            tracker: options.cascade.clone(),
        };
        let core = self.core().clone();
        let owner = core.owner().to_string();
        core.writer()
            .submit("start replay", move |s| {
                s.start_run(
                    new_id,
                    &owner,
                    crate::model::Timestamp(
                        crate::model::Timestamp::now().0 + super::core::LEASE.as_micros() as i64,
                    ),
                )
            })
            .await;
        start_positioned(core, context, interpreter, options, events)
            .map_err(super::EngineError::BadInput)
    }
}
