//! What the adapter tells unasked: events and their bodies.

use super::response::Empty;
use serde::Serialize;

/// An event: its name and its body.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", content = "body", rename_all = "camelCase")]
pub(crate) enum Event {
    /// The adapter is ready for breakpoints.
    Initialized(Empty),
    /// A run paused.
    Stopped(StoppedBody),
    /// A run went on.
    Continued(ContinuedBody),
    /// A run started or ended.
    Thread(ThreadBody),
    /// Text for the debug console.
    Output(OutputBody),
    /// The last run ended.
    Exited(ExitedBody),
    /// The session is over.
    Terminated(Empty),
}

/// Why a run paused, in the protocol's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum StoppedReason {
    /// Before the first step.
    Entry,
    /// At a breakpoint.
    Breakpoint,
    /// At a step's failure.
    Exception,
    /// After a step.
    Step,
    /// Asked to.
    Pause,
}

/// A run paused.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoppedBody {
    /// Why the thread stopped (a step, a breakpoint, a pause, a failure).
    pub(crate) reason: StoppedReason,
    /// The run.
    pub(crate) thread_id: i64,
    /// Always false: one run pauses.
    pub(crate) all_threads_stopped: bool,
    /// More on why, for the stopped frame's label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    /// More on why, for the editor's exception widget.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) text: Option<String>,
}

/// A run went on.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContinuedBody {
    /// The run.
    pub(crate) thread_id: i64,
    /// Always false: one run continues.
    pub(crate) all_threads_continued: bool,
}

/// Whether a run started or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ThreadReason {
    /// The run started.
    Started,
    /// The run ended.
    Exited,
}

/// A run started or ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThreadBody {
    /// Whether the thread started or exited.
    pub(crate) reason: ThreadReason,
    /// The run.
    pub(crate) thread_id: i64,
}

/// Text for the debug console.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct OutputBody {
    /// Always `console`.
    pub(crate) category: String,
    /// The text, with its newline.
    pub(crate) output: String,
}

/// The last run ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExitedBody {
    /// 1 when the run failed, else 0.
    pub(crate) exit_code: i32,
}
