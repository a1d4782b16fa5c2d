//! The Debug Adapter Protocol's messages as types: the requests the adapter answers with
//! their arguments, its responses and its events, with the serde shapes editors send and read.
//!
//! Our own structs rather than a crate of DAP types. The crates that offer them (`dap`,
//! `debug-adapter-protocol`, `dap-types`) are each an alpha or a lone early release, bring
//! their own dependencies (an older `thiserror`, `typed-builder`, `rand`), and model the
//! whole protocol as the specification words it: a `threadId` every `continue` must carry
//! (the adapter has always taken a `continue` without one as "the first run", and clients rely
//! on it), `i32` thread ids, and a request enum that fails as a whole on a command it does not
//! know, losing the `seq` the error response must echo. The adapter answers about twenty
//! requests and sends seven events; their types are short, read here in one place, and keep
//! what flowdeck accepts exactly as it was.
//!
//! Reading is in two stages so that every request gets an answer: first its `seq` and
//! `command` ([`parse`]), then its arguments by command. An unknown command, or arguments
//! of the wrong shape, is a [`RequestError`] whose message names the command or the field;
//! fields the adapter does not use are ignored, as the protocol allows clients to add them.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;

mod event;
mod response;

pub(crate) use event::*;
pub(crate) use response::*;

/// A request the adapter understood.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DapRequest {
    /// `initialize`: the client's first request; answered with the capabilities.
    Initialize(InitializeArguments),
    /// `launch`: what to debug.
    Launch(LaunchArguments),
    /// `attach`: refused, flowdeck starts the runs it debugs.
    Attach,
    /// `setBreakpoints`: the line breakpoints of one file.
    SetBreakpoints(SetBreakpointsArguments),
    /// `setFunctionBreakpoints`: breakpoints on step ids and `emit:EVENT`.
    SetFunctionBreakpoints(SetFunctionBreakpointsArguments),
    /// `setExceptionBreakpoints`: whether a step's failure stops the run.
    SetExceptionBreakpoints(SetExceptionBreakpointsArguments),
    /// `configurationDone`: the breakpoints are set; the run may start.
    ConfigurationDone,
    /// `threads`: the runs being debugged.
    Threads,
    /// `stackTrace`: a paused run's frames.
    StackTrace(StackTraceArguments),
    /// `scopes`: a frame's scopes.
    Scopes(ScopesArguments),
    /// `variables`: the children of a scope or a value.
    Variables(VariablesArguments),
    /// `setVariable`: change a top-level `$var` or `$param` entry.
    SetVariable(SetVariableArguments),
    /// `evaluate`: an expression in a paused run.
    Evaluate(EvaluateArguments),
    /// `continue`: run on to the next breakpoint.
    Continue(ThreadArguments),
    /// `next`: step over.
    Next(ThreadArguments),
    /// `stepIn`: step into a step's children.
    StepIn(ThreadArguments),
    /// `stepOut`: run to the end of the enclosing step.
    StepOut(ThreadArguments),
    /// `pause`: stop a running run.
    Pause(ThreadArguments),
    /// `source`: the workflow's text, when it has no file.
    Source,
    /// `disconnect`: end the runs and the session.
    Disconnect,
    /// `terminate`: end the runs; the session stays.
    Terminate,
}

/// Why a message is not a request the adapter can carry out. Its text is the error
/// response's message.
#[derive(Debug, thiserror::Error, PartialEq)]
pub(crate) enum RequestError {
    /// The message has no `command` string.
    #[error("a message without a \"command\" (a request needs one)")]
    NoCommand,
    /// The message has no integer `seq`.
    #[error("a {command:?} request without a numeric \"seq\"")]
    NoSeq {
        /// The request's command.
        command: String,
    },
    /// A command the adapter does not answer.
    #[error("flowdeck does not support the request {0:?}")]
    Unsupported(String),
    /// The arguments are not of the command's shape; `detail` names the field.
    #[error("{command}: {detail}")]
    Arguments {
        /// The request's command.
        command: String,
        /// Where in the arguments and what is wrong, as serde words it.
        detail: String,
    },
}

/// What every request carries, read first so that even a request that cannot be read
/// further is answered.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Header {
    /// The request's number, echoed as the response's `request_seq` (0 when it had none).
    pub(crate) seq: i64,
    /// The request's command, echoed as the response's `command` (empty when it had none).
    pub(crate) command: String,
}

/// Read a message as a request: its header always, the request when it is one the adapter
/// understands with arguments of the right shape.
pub(crate) fn parse(message: Value) -> (Header, Result<DapRequest, RequestError>) {
    let Value::Object(mut message) = message else {
        return (header(0, ""), Err(RequestError::NoCommand));
    };
    let command = match message.get("command") {
        Some(Value::String(c)) => c.clone(),
        _ => String::new(),
    };
    let seq = message.get("seq").and_then(Value::as_i64);
    let Some(seq) = seq else {
        let error = if command.is_empty() {
            RequestError::NoCommand
        } else {
            RequestError::NoSeq {
                command: command.clone(),
            }
        };
        return (header(0, &command), Err(error));
    };
    if command.is_empty() {
        return (header(seq, ""), Err(RequestError::NoCommand));
    }
    let arguments = message.remove("arguments").unwrap_or(Value::Null);
    let request = request(&command, arguments);
    (header(seq, &command), request)
}

fn header(seq: i64, command: &str) -> Header {
    Header {
        seq,
        command: command.to_string(),
    }
}

fn request(command: &str, arguments: Value) -> Result<DapRequest, RequestError> {
    let a = Arguments { command, arguments };
    Ok(match command {
        "initialize" => DapRequest::Initialize(a.read()?),
        "launch" => DapRequest::Launch(a.read()?),
        "attach" => DapRequest::Attach,
        "setBreakpoints" => DapRequest::SetBreakpoints(a.read()?),
        "setFunctionBreakpoints" => DapRequest::SetFunctionBreakpoints(a.read()?),
        "setExceptionBreakpoints" => DapRequest::SetExceptionBreakpoints(a.read()?),
        "configurationDone" => DapRequest::ConfigurationDone,
        "threads" => DapRequest::Threads,
        "stackTrace" => DapRequest::StackTrace(a.read()?),
        "scopes" => DapRequest::Scopes(a.read()?),
        "variables" => DapRequest::Variables(a.read()?),
        "setVariable" => DapRequest::SetVariable(a.read()?),
        "evaluate" => DapRequest::Evaluate(a.read()?),
        "continue" => DapRequest::Continue(a.read()?),
        "next" => DapRequest::Next(a.read()?),
        "stepIn" => DapRequest::StepIn(a.read()?),
        "stepOut" => DapRequest::StepOut(a.read()?),
        "pause" => DapRequest::Pause(a.read()?),
        "source" => DapRequest::Source,
        "disconnect" => DapRequest::Disconnect,
        "terminate" => DapRequest::Terminate,
        other => return Err(RequestError::Unsupported(other.to_string())),
    })
}

/// A request's arguments, read as the command's type.
struct Arguments<'a> {
    command: &'a str,
    arguments: Value,
}

impl Arguments<'_> {
    fn read<T: DeserializeOwned>(self) -> Result<T, RequestError> {
        // absent arguments are no arguments: every type here takes `{}` when its fields allow
        let arguments = match self.arguments {
            Value::Null => Value::Object(serde_json::Map::new()),
            other => other,
        };
        serde_path_to_error::deserialize(arguments).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            RequestError::Arguments {
                command: self.command.to_string(),
                detail: if path == "." {
                    inner.to_string()
                } else {
                    format!("{path}: {inner}")
                },
            }
        })
    }
}

/// `initialize`'s arguments: who the client is (the rest of what it says of itself is not
/// used).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InitializeArguments {
    /// The client's name, as it gives it.
    pub(crate) client_name: Option<String>,
    /// The adapter type the client chose.
    #[serde(rename = "adapterID")]
    pub(crate) adapter_id: Option<String>,
}

/// `launch`'s arguments: flowdeck's own (the protocol leaves them to the adapter).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LaunchArguments {
    /// A workflow file: its project is imported and the file's workflow debugged.
    pub(crate) program: Option<PathBuf>,
    /// The store (defaults: the program's project's, else `flowdeck.db`).
    pub(crate) db: Option<PathBuf>,
    /// A workflow of the store, by name.
    pub(crate) workflow: Option<String>,
    /// A version of that workflow (default: its draft).
    pub(crate) version: Option<i64>,
    /// An event: every workflow that listens to it is debugged.
    pub(crate) event: Option<String>,
    /// The run's params, a JSON object.
    pub(crate) params: Option<Value>,
    /// Stop before the first step.
    #[serde(default)]
    pub(crate) stop_on_entry: bool,
}

/// A source file as the protocol names one.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Source {
    /// The file's short name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    /// The file's path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) path: Option<String>,
    /// A handle for a source with no file, read with the `source` request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) source_reference: Option<i64>,
}

/// `setBreakpoints`'s arguments.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SetBreakpointsArguments {
    /// The file the breakpoints are in.
    pub(crate) source: Source,
    /// The breakpoints, replacing the file's earlier ones (none when absent).
    #[serde(default)]
    pub(crate) breakpoints: Vec<SourceBreakpoint>,
}

/// A line breakpoint as asked for.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SourceBreakpoint {
    /// The line, from 1.
    pub(crate) line: usize,
    /// A jq condition: the breakpoint stops only where it is true.
    pub(crate) condition: Option<String>,
}

/// `setFunctionBreakpoints`'s arguments.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SetFunctionBreakpointsArguments {
    /// The breakpoints, replacing the earlier ones.
    pub(crate) breakpoints: Vec<FunctionBreakpoint>,
}

/// A breakpoint by name: a step id, or `emit:EVENT`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FunctionBreakpoint {
    /// The step id, or `emit:EVENT`.
    pub(crate) name: String,
    /// A jq condition: the breakpoint stops only where it is true.
    pub(crate) condition: Option<String>,
}

/// `setExceptionBreakpoints`'s arguments.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SetExceptionBreakpointsArguments {
    /// The filters chosen; `failure` stops at a step's failure.
    pub(crate) filters: Vec<String>,
}

/// `stackTrace`'s arguments.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StackTraceArguments {
    /// The run.
    pub(crate) thread_id: i64,
}

/// `scopes`'s arguments.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScopesArguments {
    /// The frame, as `stackTrace` numbered it.
    pub(crate) frame_id: i64,
}

/// `variables`'s arguments.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VariablesArguments {
    /// The scope or value whose children are wanted.
    pub(crate) variables_reference: i64,
}

/// `setVariable`'s arguments.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SetVariableArguments {
    /// The scope the variable is in.
    pub(crate) variables_reference: i64,
    /// The variable's name.
    pub(crate) name: String,
    /// The new value: JSON, or else taken as a string.
    pub(crate) value: String,
}

/// `evaluate`'s arguments.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvaluateArguments {
    /// A jq expression.
    pub(crate) expression: String,
    /// The frame whose run evaluates it (default: the first run).
    pub(crate) frame_id: Option<i64>,
}

/// The arguments of `continue`, `next`, `stepIn`, `stepOut` and `pause`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThreadArguments {
    /// The run (default: the first run).
    pub(crate) thread_id: Option<i64>,
}

#[cfg(test)]
mod tests;
