//! What the adapter answers: responses and their bodies, by request.

use super::{Event, Header, Source};
use serde::Serialize;

/// A message the adapter sends.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub(crate) enum Message {
    /// The answer to a request.
    Response(Response),
    /// Something that happened.
    Event(Event),
}

/// A message numbered as it is sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Numbered<'a> {
    /// The adapter's count of messages sent, from 1.
    pub(crate) seq: i64,
    /// The message.
    #[serde(flatten)]
    pub(crate) message: &'a Message,
}

/// The answer to a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Response {
    /// The request's `seq`.
    pub(crate) request_seq: i64,
    /// The request's command.
    pub(crate) command: String,
    /// Whether the request was carried out.
    pub(crate) success: bool,
    /// Why not, when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) message: Option<String>,
    /// What the request returns; for a failure, the error again.
    pub(crate) body: Body,
}

impl Response {
    /// The response to the request `header` for `reply`.
    pub(crate) fn to(header: &Header, reply: Result<Body, String>) -> Response {
        let (success, message, body) = match reply {
            Ok(body) => (true, None, body),
            Err(e) => (
                false,
                Some(e.clone()),
                Body::Error(ErrorBody {
                    error: ErrorMessage { id: 1, format: e },
                }),
            ),
        };
        Response {
            request_seq: header.seq,
            command: header.command.clone(),
            success,
            message,
            body,
        }
    }
}

/// A response's body, by request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub(crate) enum Body {
    /// `{}`, for requests that return nothing.
    Empty(Empty),
    /// `initialize`'s.
    Capabilities(Capabilities),
    /// `setBreakpoints`'s and `setFunctionBreakpoints`'s.
    Breakpoints(BreakpointsBody),
    /// `threads`'s.
    Threads(ThreadsBody),
    /// `stackTrace`'s.
    StackTrace(StackTraceBody),
    /// `scopes`'s.
    Scopes(ScopesBody),
    /// `variables`'s.
    Variables(VariablesBody),
    /// `setVariable`'s.
    SetVariable(SetVariableBody),
    /// `evaluate`'s.
    Evaluate(EvaluateBody),
    /// `continue`'s.
    Continue(ContinueBody),
    /// `source`'s.
    Source(SourceBody),
    /// A failed request's.
    Error(ErrorBody),
}

/// Nothing: `{}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Empty {}

/// What the adapter can do, as `initialize` tells it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Capabilities {
    /// It waits for `configurationDone`.
    pub(crate) supports_configuration_done_request: bool,
    /// Breakpoints by step id.
    pub(crate) supports_function_breakpoints: bool,
    /// Breakpoints with a jq condition.
    pub(crate) supports_conditional_breakpoints: bool,
    /// `evaluate` for hovers.
    pub(crate) supports_evaluate_for_hovers: bool,
    /// `setVariable`.
    pub(crate) supports_set_variable: bool,
    /// `terminate`.
    pub(crate) supports_terminate_request: bool,
    /// The exception filters: step failures.
    pub(crate) exception_breakpoint_filters: Vec<ExceptionBreakpointsFilter>,
}

/// An exception filter the client offers as a checkbox.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ExceptionBreakpointsFilter {
    /// Its id, as `setExceptionBreakpoints` gives it back.
    pub(crate) filter: String,
    /// What the checkbox says.
    pub(crate) label: String,
    /// Whether it starts checked.
    pub(crate) default: bool,
}

/// The breakpoints as set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct BreakpointsBody {
    /// One per breakpoint asked for, in order.
    pub(crate) breakpoints: Vec<Breakpoint>,
}

/// A breakpoint as set.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Breakpoint {
    /// Its number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<i64>,
    /// Whether it can stop a run.
    pub(crate) verified: bool,
    /// The line it stops at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) line: Option<usize>,
    /// Why it cannot, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) message: Option<String>,
}

/// The runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ThreadsBody {
    /// One per run being debugged.
    pub(crate) threads: Vec<Thread>,
}

/// A run, as a thread.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Thread {
    /// The run's id.
    pub(crate) id: i64,
    /// `run #ID WORKFLOW`.
    pub(crate) name: String,
}

/// A paused run's frames.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StackTraceBody {
    /// Innermost first.
    pub(crate) stack_frames: Vec<StackFrame>,
    /// How many there are.
    pub(crate) total_frames: usize,
}

/// A frame: a step being carried out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct StackFrame {
    /// The run's id × 1000 + the frame's depth.
    pub(crate) id: i64,
    /// `STEP (ACTION)`, with the loop's iteration.
    pub(crate) name: String,
    /// The file the step is in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) source: Option<Source>,
    /// The line of the step's id (0: unknown).
    pub(crate) line: usize,
    /// Always 1.
    pub(crate) column: usize,
}

/// A frame's scopes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ScopesBody {
    /// `$var`, `$param`, the next step's input, `$env`, `$event`.
    pub(crate) scopes: Vec<Scope>,
}

/// A scope of a frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Scope {
    /// Its name.
    pub(crate) name: String,
    /// How the client shows it.
    pub(crate) presentation_hint: String,
    /// Its handle for `variables` (0: nothing inside).
    pub(crate) variables_reference: i64,
    /// Always false.
    pub(crate) expensive: bool,
}

/// A scope's or a value's children.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct VariablesBody {
    /// In order.
    pub(crate) variables: Vec<Variable>,
}

/// A value in the variables view.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Variable {
    /// The key or index.
    pub(crate) name: String,
    /// The value, shortened.
    pub(crate) value: String,
    /// Its jq type.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    /// Its handle for `variables` (0: nothing inside).
    pub(crate) variables_reference: i64,
    /// What `evaluate` takes for it.
    pub(crate) evaluate_name: String,
}

/// A variable as changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SetVariableBody {
    /// The new value, shortened.
    pub(crate) value: String,
    /// Its handle for `variables` (0: nothing inside).
    pub(crate) variables_reference: i64,
}

/// An expression's value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvaluateBody {
    /// The value, shortened.
    pub(crate) result: String,
    /// Its jq type.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    /// Its handle for `variables` (0: nothing inside).
    pub(crate) variables_reference: i64,
}

/// `continue`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContinueBody {
    /// Always false: one run continues.
    pub(crate) all_threads_continued: bool,
}

/// The workflow's text.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SourceBody {
    /// The text.
    pub(crate) content: String,
    /// `application/json`.
    pub(crate) mime_type: String,
}

/// A failed request's body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ErrorBody {
    /// The failure.
    pub(crate) error: ErrorMessage,
}

/// A failure as the protocol words one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ErrorMessage {
    /// Always 1.
    pub(crate) id: i64,
    /// What went wrong.
    pub(crate) format: String,
}
