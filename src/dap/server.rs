//! The adapter: requests in, responses and events out; one thread per debugged run.
//!
//! Its rooms: this file holds the session's state, the loop that reads requests and debugger
//! events, and what each request does; `launch` loads what is debugged and starts it,
//! `breakpoints` sets them, `inspect` answers for the runs (threads, frames, scopes,
//! variables, evaluation, stepping), `events` turns the debugger's events into DAP events.

mod breakpoints;
mod events;
mod inspect;
mod launch;

use super::protocol::{
    self as dap, Body, Capabilities, ContinueBody, DapRequest, Empty, Event,
    ExceptionBreakpointsFilter, Message, Numbered, OutputBody, Response, SourceBody,
};
use super::wire;
use crate::engine::Engine;
use crate::engine::debug::{self, Breakpoint, DebugEvent, Resume, Session, Snapshot};
use launch::{LaunchTarget, Source};
use serde_json::Value;
use std::collections::BTreeMap;
use tokio::io::{AsyncBufRead, AsyncWrite};
use tokio::sync::mpsc;

/// A run being debugged, as a thread.
struct Thread {
    session: Session,
    /// Where it is paused (`None` while it runs).
    snapshot: Option<Snapshot>,
}

/// A DAP server writing to `W`.
pub struct Server<W> {
    writer: W,
    seq: i64,
    engine: Option<Engine>,
    target: Option<LaunchTarget>,
    stop_on_entry: bool,
    configured: bool,
    started: bool,
    source: Option<Source>,
    line_breakpoints: Vec<Breakpoint>,
    function_breakpoints: Vec<Breakpoint>,
    failure: bool,
    threads: BTreeMap<i64, Thread>,
    /// The values behind `variablesReference`s: reference N is `refs[N - 1]`.
    refs: Vec<Value>,
    events: (
        mpsc::UnboundedSender<DebugEvent>,
        mpsc::UnboundedReceiver<DebugEvent>,
    ),
    done: bool,
}

/// A request's outcome: its response's body, or the error message.
type Reply = Result<Body, String>;

fn empty() -> Body {
    Body::Empty(Empty {})
}

impl<W: AsyncWrite + Unpin> Server<W> {
    /// A server that writes to `writer`.
    pub fn new(writer: W) -> Self {
        Server {
            writer,
            seq: 0,
            engine: None,
            target: None,
            stop_on_entry: false,
            configured: false,
            started: false,
            source: None,
            line_breakpoints: Vec::new(),
            function_breakpoints: Vec::new(),
            failure: false,
            threads: BTreeMap::new(),
            refs: Vec::new(),
            events: mpsc::unbounded_channel(),
            done: false,
        }
    }

    /// Serve requests from `reader` until the client disconnects or the input ends.
    pub async fn serve<R: AsyncBufRead + Unpin + Send + 'static>(
        mut self,
        reader: R,
    ) -> anyhow::Result<()> {
        // messages are read on a task of their own: reading one is not cancel-safe (a half-read
        // message would be lost if a debugger event won the `select!` meanwhile), a channel is
        let mut messages = read_messages(reader);
        while !self.done {
            tokio::select! {
                message = messages.recv() => match message {
                    Some(m) => self.request(m?).await?,
                    None => break,
                },
                Some(event) = self.events.1.recv() => self.event(event).await?,
            }
        }
        for t in self.threads.values() {
            t.session.send(debug::DebugCommand::Abort);
        }
        Ok(())
    }

    async fn send(&mut self, message: Message) -> std::io::Result<()> {
        self.seq += 1;
        let numbered = Numbered {
            seq: self.seq,
            message: &message,
        };
        wire::write(&mut self.writer, &numbered).await
    }

    async fn emit(&mut self, event: Event) -> std::io::Result<()> {
        self.send(Message::Event(event)).await
    }

    async fn output(&mut self, text: &str) -> std::io::Result<()> {
        self.emit(Event::Output(OutputBody {
            category: "console".into(),
            output: format!("{text}\n"),
        }))
        .await
    }

    /// Answer one message: a response always (an error response for what is not a request
    /// the adapter can carry out), then the events the request leads to.
    async fn request(&mut self, message: Value) -> std::io::Result<()> {
        let (header, request) = dap::parse(message);
        let reply = match &request {
            Ok(request) => self.dispatch(request).await,
            Err(e) => Err(e.to_string()),
        };
        self.send(Message::Response(Response::to(&header, reply)))
            .await?;
        match request {
            Ok(DapRequest::Initialize(_)) => self.emit(Event::Initialized(Empty {})).await?,
            Ok(DapRequest::Launch(_) | DapRequest::ConfigurationDone) => {
                self.start_when_ready().await?
            }
            Ok(DapRequest::Terminate) => self.emit(Event::Terminated(Empty {})).await?,
            _ => {}
        }
        Ok(())
    }

    async fn dispatch(&mut self, request: &DapRequest) -> Reply {
        match request {
            DapRequest::Initialize(args) => {
                tracing::debug!(client = ?args.client_name, adapter = ?args.adapter_id, "initialize");
                Ok(Body::Capabilities(capabilities()))
            }
            DapRequest::Launch(args) => self.launch(args).await,
            DapRequest::Attach => {
                Err("attach is not supported: use launch with {\"db\", \"workflow\"}".into())
            }
            DapRequest::SetBreakpoints(args) => Ok(self.set_breakpoints(args)),
            DapRequest::SetFunctionBreakpoints(args) => Ok(self.set_function_breakpoints(args)),
            DapRequest::SetExceptionBreakpoints(args) => {
                self.failure = args.filters.iter().any(|f| f == "failure");
                self.push_breakpoints();
                Ok(empty())
            }
            DapRequest::ConfigurationDone => {
                self.configured = true;
                Ok(empty())
            }
            DapRequest::Threads => Ok(self.threads()),
            DapRequest::StackTrace(args) => self.stack_trace(args),
            DapRequest::Scopes(args) => self.scopes(args),
            DapRequest::Variables(args) => self.variables(args),
            DapRequest::SetVariable(args) => self.set_variable(args).await,
            DapRequest::Evaluate(args) => self.evaluate(args).await,
            DapRequest::Continue(args) => self.resume(args, Resume::Continue).map(|_| {
                Body::Continue(ContinueBody {
                    all_threads_continued: false,
                })
            }),
            DapRequest::Next(args) => self.resume(args, Resume::StepOver),
            DapRequest::StepIn(args) => self.resume(args, Resume::StepIn),
            DapRequest::StepOut(args) => self.resume(args, Resume::StepOut),
            DapRequest::Pause(args) => self.thread(args).map(|t| {
                t.session.send(debug::DebugCommand::Pause);
                empty()
            }),
            DapRequest::Source => self
                .source
                .as_ref()
                .map(|s| {
                    Body::Source(SourceBody {
                        content: s.text.clone(),
                        mime_type: "application/json".into(),
                    })
                })
                .ok_or_else(|| "no source".to_string()),
            DapRequest::Disconnect | DapRequest::Terminate => {
                for t in self.threads.values() {
                    t.session.send(debug::DebugCommand::Abort);
                }
                self.done = matches!(request, DapRequest::Disconnect);
                Ok(empty())
            }
        }
    }
}

fn capabilities() -> Capabilities {
    Capabilities {
        supports_configuration_done_request: true,
        supports_function_breakpoints: true,
        supports_conditional_breakpoints: true,
        supports_evaluate_for_hovers: true,
        supports_set_variable: true,
        supports_terminate_request: true,
        exception_breakpoint_filters: vec![ExceptionBreakpointsFilter {
            filter: "failure".into(),
            label: "Step failures".into(),
            default: false,
        }],
    }
}

/// Read `reader`'s messages on a task of their own, in order, until the input ends or fails
/// (the failure is the last item).
fn read_messages<R: AsyncBufRead + Unpin + Send + 'static>(
    mut reader: R,
) -> mpsc::Receiver<std::io::Result<Value>> {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let message = wire::read(&mut reader).await.transpose();
            let Some(message) = message else { break };
            let failed = message.is_err();
            if tx.send(message).await.is_err() || failed {
                break;
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::{Server, read_messages, wire};
    use serde_json::{Value, json};
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    /// Requests the adapter cannot carry out are answered with an error that says why, and
    /// the session goes on: an unknown command, a missing `threadId`, a mistyped one, a
    /// message with no command.
    #[tokio::test]
    async fn bad_requests_get_error_responses_and_the_session_goes_on() {
        let mut input = Vec::new();
        for message in [
            json!({ "seq": 1, "type": "request", "command": "stepBack", "arguments": {} }),
            json!({ "seq": 2, "type": "request", "command": "stackTrace", "arguments": {} }),
            json!({ "seq": 3, "type": "request", "command": "continue", "arguments": { "threadId": "one" } }),
            json!({ "seq": 4, "type": "request" }),
            json!({ "seq": 5, "type": "request", "command": "threads" }),
            json!({ "seq": 6, "type": "request", "command": "disconnect" }),
        ] {
            wire::write(&mut input, &message).await.unwrap();
        }
        let (writer, mut output) = tokio::io::duplex(1 << 20);
        Server::new(writer)
            .serve(tokio::io::BufReader::new(std::io::Cursor::new(input)))
            .await
            .unwrap();
        let mut reader = tokio::io::BufReader::new(&mut output);
        let mut responses = Vec::new();
        for _ in 0..6 {
            responses.push(wire::read(&mut reader).await.unwrap().unwrap());
        }
        let fields = |r: &Value| {
            (
                r["seq"].as_i64(),
                r["type"].clone(),
                r["request_seq"].clone(),
                r["success"].clone(),
                r["command"].clone(),
            )
        };
        assert_eq!(
            responses.iter().map(fields).collect::<Vec<_>>(),
            [
                (
                    Some(1),
                    json!("response"),
                    json!(1),
                    json!(false),
                    json!("stepBack")
                ),
                (
                    Some(2),
                    json!("response"),
                    json!(2),
                    json!(false),
                    json!("stackTrace")
                ),
                (
                    Some(3),
                    json!("response"),
                    json!(3),
                    json!(false),
                    json!("continue")
                ),
                (
                    Some(4),
                    json!("response"),
                    json!(4),
                    json!(false),
                    json!("")
                ),
                (
                    Some(5),
                    json!("response"),
                    json!(5),
                    json!(true),
                    json!("threads")
                ),
                (
                    Some(6),
                    json!("response"),
                    json!(6),
                    json!(true),
                    json!("disconnect")
                ),
            ]
        );
        let messages: Vec<&str> = responses[..4]
            .iter()
            .map(|r| r["message"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            messages,
            [
                "flowdeck does not support the request \"stepBack\"",
                "stackTrace: missing field `threadId`",
                "continue: threadId: invalid type: string \"one\", expected i64",
                "a message without a \"command\" (a request needs one)",
            ]
        );
        assert_eq!(
            responses[1]["body"]["error"]["format"],
            responses[1]["message"]
        );
        assert_eq!(responses[4]["body"], json!({ "threads": [] }));
    }

    /// A message that arrives in pieces while something else wins the `select!` is read whole
    /// (a read inside the `select!` itself would drop the half it had read).
    #[tokio::test]
    async fn a_message_read_in_pieces_survives_other_events() {
        let (mut client, adapter) = tokio::io::duplex(1024);
        let mut messages = read_messages(tokio::io::BufReader::new(adapter));
        let body = r#"{"seq":1,"type":"request","command":"threads"}"#;
        let framed = format!("Content-Length: {}\r\n\r\n{body}", body.len());
        let (first, rest) = framed.split_at(framed.len() / 2);
        client.write_all(first.as_bytes()).await.unwrap();
        for _ in 0..3 {
            tokio::select! {
                m = messages.recv() => panic!("half a message was taken for one: {m:?}"),
                () = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
        client.write_all(rest.as_bytes()).await.unwrap();
        let message = messages.recv().await.unwrap().unwrap();
        assert_eq!(message["command"], "threads");
        drop(client);
        assert!(messages.recv().await.is_none());
    }
}
