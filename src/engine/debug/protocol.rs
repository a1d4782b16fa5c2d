//! What a debugger and a debug session say to each other: commands in, events out, and the
//! snapshot of a paused run.

use crate::model::RunStatus;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

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
    pub(super) fn as_str(self) -> &'static str {
        match self {
            EditScope::Var => "var",
            EditScope::Param => "param",
        }
    }
}

/// A request to a session.
#[derive(Debug)]
pub enum DebugCommand {
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
        /// Whether it changes a variable or a param.
        scope: EditScope,
        /// The variable or param to change.
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
        /// What went wrong.
        message: String,
    },
    /// A step command finished.
    Step,
    /// Paused on request.
    Pause,
}

/// One level of the debugger's stack: an enclosing compound step or the next step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StackFrame {
    /// Step id.
    pub step: String,
    /// JSON pointer in the definition.
    pub path: String,
    /// The step's action (`db.exec`, `http`, …).
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
    pub stack: Vec<StackFrame>,
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
        /// Why it stopped.
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
        /// How the run ended.
        status: RunStatus,
        /// The run's output, when it succeeded.
        output: Option<Value>,
        /// The error, when it failed.
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
    pub(super) commands: mpsc::UnboundedSender<DebugCommand>,
}

impl Session {
    /// Send a command (ignored when the run has ended).
    pub fn send(&self, command: DebugCommand) {
        let _ = self.commands.send(command);
    }

    /// Go on.
    pub fn resume(&self, how: Resume) {
        self.send(DebugCommand::Resume(how));
    }

    /// Evaluate a jq expression against the run's variables.
    pub async fn evaluate(&self, expr: &str) -> Result<Value, String> {
        let (reply, rx) = oneshot::channel();
        self.send(DebugCommand::Evaluate {
            expr: expr.to_string(),
            reply,
        });
        rx.await.map_err(|_| "the run has ended".to_string())?
    }

    /// Change a variable.
    pub async fn set(&self, scope: EditScope, name: &str, value: Value) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        self.send(DebugCommand::Set {
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
        self.send(DebugCommand::Inspect { reply });
        rx.await.ok()
    }

    /// Whether the run has ended.
    pub fn is_closed(&self) -> bool {
        self.commands.is_closed()
    }
}

/// How to start a session.
#[derive(Debug, Clone, Default)]
pub struct DebugOptions {
    /// Where to stop.
    pub breakpoints: Vec<Breakpoint>,
    /// Stop before the first step.
    pub stop_on_entry: bool,
    /// Follows the runs that the debugged run's events set off, so that a debugger can
    /// wait for them (they run on their own, never paused).
    pub cascade: Option<crate::engine::Tracker>,
}
