//! The runner: one run stepped under a debugger, pausing where breakpoints or step
//! commands say, answering questions while paused, recording every step and its end.

use super::breakpoints::Compiled;
use super::protocol::{
    DebugCommand, DebugEvent, DebugOptions, EditScope, Resume, Session, Snapshot, StackFrame,
    StopReason,
};
use crate::engine::context::RunContext;
use crate::engine::core::{Core, RunJob};
use crate::engine::interpreter::{Interpreter, NextStep};
use crate::engine::run_end::RunEnd;
use crate::engine::runlog::RunLog;
use crate::engine::secrets::MASK;
use crate::expr::{Expr, Scope};
use crate::model::{RunStatus, StepStatus};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::mpsc;

/// What a run aborted by its debugger says.
const ABORTED: &str = "aborted by the debugger";

/// Where step commands stop.
#[derive(Debug, Clone, PartialEq)]
enum StepMode {
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
    commands: mpsc::UnboundedReceiver<DebugCommand>,
    events: mpsc::UnboundedSender<DebugEvent>,
    mode: StepMode,
}

/// Start a session for `job` and return its handle; `events` receives what happens.
pub async fn start(
    core: Arc<Core>,
    mut job: RunJob,
    options: DebugOptions,
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
    options: DebugOptions,
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
    commands: mpsc::UnboundedReceiver<DebugCommand>,
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
            StepMode::Next(StopReason::Entry)
        } else {
            StepMode::Continue
        },
    };
    tokio::spawn(runner.run());
}

impl Runner {
    async fn run(mut self) {
        let run_id = self.context.run_id;
        loop {
            if !self.take_commands() {
                self.interpreter.cancel(ABORTED);
            }
            let Some(next) = self.interpreter.next_step() else {
                break;
            };
            let reason = self
                .breakpoints
                .matches(&self.interpreter, &next)
                .or(match &self.mode {
                    StepMode::Next(reason) => Some(reason.clone()),
                    StepMode::Over(d) if next.depth <= *d => Some(StopReason::Step),
                    StepMode::Out(d) if next.depth < *d => Some(StopReason::Step),
                    _ => None,
                });
            if let Some(reason) = reason
                && !self.pause(reason, Some(&next)).await
            {
                continue;
            }
            let mut records = self.interpreter.step(&*self.core, &self.context).await;
            // masked before anything of them is told: a log line, a failure's message
            self.core.mask_records(&mut records);
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
        let end = RunEnd::of(
            run_id,
            self.interpreter.outcome(),
            &self.core.settings().secrets,
        );
        let end = self
            .core
            .end_run_and_wait(RunLog::recorded(run_id), end)
            .await;
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
                Ok(DebugCommand::Pause) => self.mode = StepMode::Next(StopReason::Pause),
                Ok(DebugCommand::Abort) => return false,
                Ok(DebugCommand::Resume(_)) => {}
                Ok(other) => self.answer(other),
                Err(mpsc::error::TryRecvError::Empty) => return true,
                // every handle is gone: nobody can resume a pause, so run on without stopping
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.mode = StepMode::Continue;
                    self.breakpoints = Compiled { list: Vec::new() };
                    return true;
                }
            }
        }
    }

    /// Answer a question (evaluate, set, inspect, breakpoints), paused or not.
    fn answer(&mut self, command: DebugCommand) {
        match command {
            DebugCommand::Evaluate { expr, reply } => {
                let result = Expr::compile(&expr, Scope::ALL).and_then(|e| {
                    e.eval(
                        &self.interpreter.bindings(),
                        std::time::Duration::from_secs(2),
                    )
                    .map_err(|err| err.to_string())
                });
                let secrets = &self.core.settings().secrets;
                let result = result
                    .map(|mut v| {
                        secrets.mask(&mut v);
                        v
                    })
                    .map_err(|e| secrets.mask_text(&e));
                let _ = reply.send(result);
            }
            DebugCommand::Set {
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
            DebugCommand::Inspect { reply } => {
                let _ = reply.send(self.snapshot());
            }
            DebugCommand::SetBreakpoints(list) => match Compiled::new(list) {
                Ok(c) => self.breakpoints = c,
                Err(e) => {
                    let _ = self.events.send(DebugEvent::Output {
                        run_id: self.context.run_id,
                        text: e,
                    });
                }
            },
            DebugCommand::Resume(_) | DebugCommand::Pause | DebugCommand::Abort => {}
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
            .map(|(s, iteration)| StackFrame {
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
                crate::model::DefinitionKind::Endpoint => json!({
                    "body": b.get(crate::expr::Global::Body),
                    "query": b.get(crate::expr::Global::Query),
                    "headers": b.get(crate::expr::Global::Headers),
                    "path": b.get(crate::expr::Global::Path),
                }),
                crate::model::DefinitionKind::Workflow => Value::Null,
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
                self.mode = StepMode::Continue;
                self.breakpoints = Compiled { list: Vec::new() };
                break;
            };
            match command {
                DebugCommand::Resume(how) => {
                    self.mode = match how {
                        Resume::Continue => StepMode::Continue,
                        Resume::StepIn => StepMode::Next(StopReason::Step),
                        Resume::StepOver => StepMode::Over(depth),
                        Resume::StepOut => StepMode::Out(depth),
                    };
                    break;
                }
                DebugCommand::Abort => {
                    self.interpreter.cancel(ABORTED);
                    self.resumed().await;
                    return false;
                }
                DebugCommand::Pause => {}
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
