//! What flows through the studio's one queue: messages in (input, results of effects, store
//! changes) and effects out (what `update` asks the runtime to do). A leaf: it names the
//! data, and nothing here acts.

use super::data::{ActivityRow, DefinitionItem, StepLine};
use crate::engine::debug::{DebugEvent, EditScope, Snapshot};
use crate::model::RunRecord;
use crate::model::breakpoint::Breakpoint;
use crossterm::event::Event;
use serde_json::Value;

/// Something that happened.
#[derive(Debug, Clone)]
pub enum Msg {
    /// Terminal input.
    Input(Event),
    /// Another connection committed to the store.
    StoreChanged,
    /// Workflows and endpoints loaded.
    Definitions(Vec<DefinitionItem>),
    /// The activity log loaded.
    Activity(Vec<ActivityRow>),
    /// A steps tree loaded.
    Steps {
        /// The definition the tree belongs to.
        def_id: i64,
        /// The lines, or why not.
        result: Result<Vec<StepLine>, String>,
    },
    /// The selected run loaded (with its steps).
    Run(Option<RunRecord>),
    /// A trace to open.
    Trace(Result<RunRecord, String>),
    /// Two runs compared, to show side by side.
    RunDiff(Result<Box<super::state::RunDiffView>, String>),
    /// An event's cascade, to show as a tree.
    Cascade(Result<Box<crate::engine::trace::TraceNode>, String>),
    /// The params (or an endpoint's request) to start from.
    Params {
        /// The workflow or endpoint they belong to.
        definition: String,
        /// The JSON text.
        text: String,
    },
    /// A what-if's answer, for the deploy confirm.
    WhatIf {
        /// The workflow's id.
        def_id: i64,
        /// The answer, or why there is none.
        result: Result<crate::engine::what_if::WhatIfReport, String>,
    },
    /// What a deploy would change.
    Diff {
        /// The definition.
        def_id: i64,
        /// The change lines, or why not.
        result: Result<Vec<String>, String>,
    },
    /// The dev loop re-imported changed files: run the tests they concern.
    Changed {
        /// What changed, in words.
        what: String,
        /// Which tests.
        scope: crate::suite::load::Scope,
    },
    /// Tests ran.
    Tests {
        /// Whose tests (a workflow's name or an endpoint's `METHOD /path`).
        of: String,
        /// What they found, or why they could not run.
        result: Result<super::state::TestResults, String>,
        /// Show them (the user asked); else only say how they went (the dev loop ran them).
        show: bool,
    },
    /// The debug session said something.
    Debug(DebugEvent),
    /// A paused run's variables after an edit.
    Snapshot(Box<Snapshot>),
    /// A definition's breakpoints.
    Breakpoints {
        /// The workflow or endpoint.
        definition: String,
        /// The breakpoints.
        list: Vec<Breakpoint>,
    },
    /// A workflow was switched on or off.
    Toggled {
        /// The definition.
        def_id: i64,
        /// Its name.
        name: String,
        /// Its state now.
        active: bool,
    },
    /// A notice has been on screen long enough (its id).
    NoticeExpired(u64),
    /// Something went well.
    Notice(String),
    /// Something went wrong.
    Failure(String),
}

/// What a debug run runs: a workflow with params, or an endpoint with a request.
#[derive(Debug, Clone, PartialEq)]
pub enum DebugTarget {
    /// A workflow's draft with `$param`.
    Workflow {
        /// The workflow.
        name: String,
        /// `$param`.
        params: Value,
    },
    /// An endpoint's draft with `{body, query, headers, path}`.
    Endpoint {
        /// The endpoint (`METHOD /path`).
        name: String,
        /// The request.
        request: Value,
    },
}

impl DebugTarget {
    /// The workflow or endpoint.
    pub fn name(&self) -> &str {
        match self {
            DebugTarget::Workflow { name, .. } | DebugTarget::Endpoint { name, .. } => name,
        }
    }
}

/// What the debugger asks of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionAction {
    /// Go on.
    Resume(crate::engine::debug::Resume),
    /// Stop at the next step.
    Pause,
    /// End the run.
    Abort,
}

/// Something for the runtime to do.
#[derive(Debug, Clone, PartialEq)]
pub enum UiEffect {
    /// Reload the workflows and the activity log.
    ReloadAll,
    /// The activity filter changed: read the activity log for it.
    Filter(String),
    /// Read older events into the activity log (when there are any).
    LoadOlder,
    /// Load a definition's steps.
    LoadSteps(i64),
    /// Load a run (with steps) as the selected run.
    LoadRun(i64),
    /// Load a definition's newest run as the selected run.
    LoadLastRun(i64),
    /// Load the params (a workflow's) or the request (an endpoint's) to start from.
    LoadParams {
        /// The workflow or endpoint.
        definition: String,
        /// The event a workflow listens to.
        event: Option<String>,
        /// An endpoint's route (`/skus/{id}`), for a request to start from.
        route: Option<String>,
    },
    /// Remember a definition's params (or request).
    SaveParams {
        /// The workflow or endpoint.
        definition: String,
        /// The JSON text.
        text: String,
    },
    /// Switch a workflow on or off.
    Toggle {
        /// Its id.
        def_id: i64,
        /// Its name.
        name: String,
        /// The new state.
        active: bool,
    },
    /// Emit an event.
    Emit {
        /// The event.
        event: String,
        /// The params to run with.
        params: Value,
    },
    /// Call an endpoint's live version, as a request would.
    Call {
        /// The endpoint (`METHOD /route`).
        endpoint: String,
        /// The request: `{body, query, headers, path}`.
        request: Value,
    },
    /// Run a workflow's or an endpoint's draft under the debugger.
    StartDebug {
        /// What to run.
        target: DebugTarget,
        /// Where to stop (the breakpoints the studio shows).
        breakpoints: Vec<Breakpoint>,
    },
    /// Say how a debug run ended, and what it set off.
    DescribeEnd {
        /// The run.
        run_id: i64,
    },
    /// Tell the debug session to go on, pause or abort.
    Debug(SessionAction),
    /// Set or clear a breakpoint (in the store, and in a running session).
    SetBreakpoint {
        /// The workflow or endpoint.
        definition: String,
        /// The breakpoint.
        breakpoint: Breakpoint,
        /// Set (true) or clear.
        on: bool,
    },
    /// Load a definition's breakpoints.
    LoadBreakpoints(String),
    /// Change a variable of the paused run.
    SetVariable {
        /// `$var` or `$param`.
        scope: EditScope,
        /// The variable to change.
        name: String,
        /// Its new value.
        value: Value,
    },
    /// Run a recorded run again, under the debugger.
    Rerun {
        /// The recorded run.
        run_id: i64,
        /// Where it starts.
        from: crate::engine::rerun::RerunFrom,
        /// Params (an endpoint's request) in place of the recorded ones.
        params: Option<Value>,
        /// Stop before its first step.
        stop_on_entry: bool,
        /// Where to stop (the breakpoints of its definition, when the studio shows them).
        breakpoints: Vec<Breakpoint>,
    },
    /// Pin a run, or unpin it when it is pinned.
    TogglePin {
        /// The run.
        run_id: i64,
    },
    /// Compare two runs (with their steps).
    CompareRuns {
        /// The marked run.
        a: i64,
        /// The run compared with it.
        b: i64,
    },
    /// Open an event's cascade as a tree.
    OpenCascade(i64),
    /// What a workflow's draft would have done with the events that came in.
    WhatIf {
        /// The workflow's id.
        def_id: i64,
        /// Its name.
        name: String,
    },
    /// Compute what a deploy would change.
    LoadDiff(i64),
    /// Deploy a definition.
    Deploy {
        /// Its id.
        def_id: i64,
        /// Its name.
        name: String,
    },
    /// Open a run's trace.
    OpenTrace(i64),
    /// Run tests.
    RunTests {
        /// Whose, in words (a workflow's name, `METHOD /path`, the files changed).
        of: String,
        /// Which test files.
        scope: crate::suite::load::Scope,
        /// Show the results (else only a notice).
        show: bool,
    },
    /// Write a test case from a recorded run.
    RecordTest(i64),
    /// Switch mouse capture.
    SetMouse(bool),
}
