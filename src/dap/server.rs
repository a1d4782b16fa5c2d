//! The adapter: requests in, responses and events out; one thread per debugged run.

use super::wire;
use crate::engine::debug::{
    self, Breakpoint, DebugEvent, EditScope, Resume, Session, Snapshot, StopReason,
};
use crate::engine::{DEFAULT_WORKERS, Engine, import::import_project};
use crate::model::source_map::{StepSpan, step_at_line, step_spans};
use crate::model::{Kind, project};
use crate::store::Store;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufRead, AsyncWrite};
use tokio::sync::mpsc;

/// What `launch` asked for.
#[derive(Debug, Clone)]
enum Target {
    /// A workflow in a store (its draft, or a version).
    Workflow {
        name: String,
        params: Value,
        version: Option<i64>,
    },
    /// Every listener of an event, emitted with these params.
    Event { name: String, params: Value },
}

/// The workflow file breakpoints are set in.
#[derive(Debug, Clone)]
struct Source {
    path: Option<PathBuf>,
    text: String,
    spans: Vec<StepSpan>,
}

struct Thread {
    session: Session,
    snapshot: Option<Snapshot>,
}

/// A DAP server writing to `W`.
pub struct Server<W> {
    writer: W,
    seq: i64,
    engine: Option<Engine>,
    target: Option<Target>,
    stop_on_entry: bool,
    configured: bool,
    started: bool,
    source: Option<Source>,
    line_breakpoints: Vec<Breakpoint>,
    function_breakpoints: Vec<Breakpoint>,
    failure: bool,
    threads: BTreeMap<i64, Thread>,
    refs: Vec<Value>,
    events: (
        mpsc::UnboundedSender<DebugEvent>,
        mpsc::UnboundedReceiver<DebugEvent>,
    ),
    done: bool,
}

type Reply = Result<Value, String>;

fn arg<'a>(args: &'a Value, name: &str) -> Option<&'a Value> {
    args.get(name).filter(|v| !v.is_null())
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
            t.session.send(debug::Command::Abort);
        }
        Ok(())
    }

    async fn send(&mut self, mut message: Value) -> std::io::Result<()> {
        self.seq += 1;
        message["seq"] = json!(self.seq);
        wire::write(&mut self.writer, &message).await
    }

    async fn emit(&mut self, event: &str, body: Value) -> std::io::Result<()> {
        self.send(json!({ "type": "event", "event": event, "body": body }))
            .await
    }

    async fn output(&mut self, text: &str) -> std::io::Result<()> {
        self.emit(
            "output",
            json!({ "category": "console", "output": format!("{text}\n") }),
        )
        .await
    }

    async fn request(&mut self, message: Value) -> std::io::Result<()> {
        let command = message["command"].as_str().unwrap_or_default().to_string();
        let args = message.get("arguments").cloned().unwrap_or(Value::Null);
        let reply = match command.as_str() {
            "initialize" => Ok(capabilities()),
            "launch" => self.launch(&args).await,
            "attach" => {
                Err("attach is not supported: use launch with {\"db\", \"workflow\"}".into())
            }
            "setBreakpoints" => self.set_breakpoints(&args),
            "setFunctionBreakpoints" => self.set_function_breakpoints(&args),
            "setExceptionBreakpoints" => {
                self.failure = args["filters"]
                    .as_array()
                    .is_some_and(|f| f.iter().any(|x| x == "failure"));
                self.push_breakpoints();
                Ok(json!({}))
            }
            "configurationDone" => {
                self.configured = true;
                Ok(json!({}))
            }
            "threads" => Ok(self.threads()),
            "stackTrace" => self.stack_trace(&args),
            "scopes" => self.scopes(&args),
            "variables" => self.variables(&args),
            "setVariable" => self.set_variable(&args).await,
            "evaluate" => self.evaluate(&args).await,
            "continue" => self
                .resume(&args, Resume::Continue)
                .map(|_| json!({ "allThreadsContinued": false })),
            "next" => self.resume(&args, Resume::StepOver),
            "stepIn" => self.resume(&args, Resume::StepIn),
            "stepOut" => self.resume(&args, Resume::StepOut),
            "pause" => self.thread(&args).map(|t| {
                t.session.send(debug::Command::Pause);
                json!({})
            }),
            "source" => self
                .source
                .as_ref()
                .map(|s| json!({ "content": s.text, "mimeType": "application/json" }))
                .ok_or_else(|| "no source".to_string()),
            "disconnect" | "terminate" => {
                for t in self.threads.values() {
                    t.session.send(debug::Command::Abort);
                }
                self.done = command == "disconnect";
                Ok(json!({}))
            }
            other => Err(format!("flowdeck does not support the request {other:?}")),
        };
        let mut response = json!({
            "type": "response",
            "request_seq": message["seq"],
            "command": command,
            "success": reply.is_ok(),
        });
        match reply {
            Ok(body) => response["body"] = body,
            Err(e) => {
                response["message"] = json!(e);
                response["body"] = json!({ "error": { "id": 1, "format": e } });
            }
        }
        self.send(response).await?;
        match command.as_str() {
            "initialize" => self.emit("initialized", json!({})).await?,
            "launch" | "configurationDone" => self.start_when_ready().await?,
            "terminate" => {
                self.emit("terminated", json!({})).await?;
            }
            _ => {}
        }
        Ok(())
    }

    async fn launch(&mut self, args: &Value) -> Reply {
        self.stop_on_entry = args["stopOnEntry"].as_bool().unwrap_or(false);
        let params = arg(args, "params").cloned().unwrap_or(json!({}));
        if !params.is_object() {
            return Err(format!(
                "launch: params must be a JSON object, got {params}"
            ));
        }
        if let Some(program) = arg(args, "program").and_then(Value::as_str) {
            return self.launch_program(Path::new(program), args, params).await;
        }
        let db = arg(args, "db")
            .and_then(Value::as_str)
            .map_or_else(|| PathBuf::from("flowdeck.db"), PathBuf::from);
        if !db.exists() {
            return Err(format!(
                "launch: the store {} does not exist (give \"db\")",
                db.display()
            ));
        }
        let engine = Engine::open(&db, DEFAULT_WORKERS).map_err(|e| format!("launch: {e}"))?;
        if let Some(name) = arg(args, "workflow").and_then(Value::as_str) {
            let row = engine.workflow(name).map_err(|e| format!("launch: {e}"))?;
            let version = arg(args, "version").and_then(Value::as_i64);
            let store = engine.store();
            let text = store
                .definition_source(row.id, version)
                .map_err(|e| e.to_string())?;
            let root = store.project().ok().and_then(|p| p.root);
            let path = match (root, &row.source_file) {
                (Some(root), Some(file)) => Some(Path::new(&root).join(file)),
                _ => None,
            };
            drop(store);
            self.source = Some(Source {
                path: path.map(|p| std::fs::canonicalize(&p).unwrap_or(p)),
                spans: step_spans(&text),
                text,
            });
            self.target = Some(Target::Workflow {
                name: name.to_string(),
                params,
                version,
            });
        } else if let Some(event) = arg(args, "event").and_then(Value::as_str) {
            self.target = Some(Target::Event {
                name: event.to_string(),
                params,
            });
        } else {
            return Err("launch: give \"workflow\" (with \"db\"), \"program\" (a workflow file) or \"event\"".into());
        }
        self.engine = Some(engine);
        Ok(json!({}))
    }

    /// `launch {"program": FILE}`: the file's whole project is imported as `flowdeck import`
    /// would (its schema, `[env]` and other definitions), into the project's store unless
    /// `db` says otherwise, and the file's workflow is debugged as the draft. Faults of the
    /// project's other files are told, not in the way.
    async fn launch_program(&mut self, path: &Path, args: &Value, params: Value) -> Reply {
        let root = project::project_of(path);
        let db = match (arg(args, "db").and_then(Value::as_str), &root) {
            (Some(db), _) => PathBuf::from(db),
            (None, Some(root)) => root.join("flowdeck.db"),
            (None, None) => path.with_file_name("flowdeck.db"),
        };
        let loaded = match &root {
            Some(root) => project::load(root),
            None => project::load_file(path),
        }
        .map_err(|e| format!("launch: {e}"))?;
        let wanted = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let base = loaded.root.clone().unwrap_or_default();
        let Some(file) = loaded.files.iter().find(|f| {
            let full = base.join(&f.path);
            std::fs::canonicalize(&full).unwrap_or(full) == wanted
        }) else {
            return Err(format!(
                "launch: {} is not a definition file of its project (workflows/*.json)",
                path.display()
            ));
        };
        if !file.diagnostics.is_empty() {
            return Err(format!(
                "launch: {} cannot be debugged: {}",
                path.display(),
                file.diagnostics
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        let Some(def) = file.definition.clone() else {
            return Err(format!("launch: {} holds no definition", path.display()));
        };
        if def.kind() != Kind::Workflow {
            return Err("launch: only workflows can be debugged (this file is an endpoint)".into());
        }
        let (text, source_path) = (file.text.clone(), wanted.clone());
        let mut store = Store::open(&db).map_err(|e| format!("launch: {e}"))?;
        let report = import_project(&mut store, &loaded).map_err(|e| format!("launch: {e}"))?;
        drop(store);
        for fault in &report.diagnostics {
            self.output(&format!("not imported: {fault}"))
                .await
                .map_err(|e| e.to_string())?;
        }
        self.source = Some(Source {
            path: Some(source_path),
            spans: step_spans(&text),
            text,
        });
        self.target = Some(Target::Workflow {
            name: def.key(),
            params,
            version: None,
        });
        self.engine = Some(Engine::open(&db, DEFAULT_WORKERS).map_err(|e| format!("launch: {e}"))?);
        Ok(json!({}))
    }

    async fn start_when_ready(&mut self) -> std::io::Result<()> {
        if self.started || !self.configured {
            return Ok(());
        }
        let (Some(engine), Some(target)) = (self.engine.clone(), self.target.clone()) else {
            return Ok(());
        };
        self.started = true;
        let options = debug::Options {
            breakpoints: self.all_breakpoints(),
            stop_on_entry: self.stop_on_entry,
            cascade: None,
        };
        let tx = self.events.0.clone();
        let sessions = match target {
            Target::Workflow {
                name,
                params,
                version,
            } => engine
                .debug_session(&name, params, version, options, tx)
                .await
                .map(|s| vec![s]),
            Target::Event { name, params } => engine
                .debug_event(&name, params, options, tx)
                .await
                .map(|(_, s)| s),
        };
        match sessions {
            Ok(sessions) if sessions.is_empty() => {
                self.output("no workflow listens to that event").await?;
                self.emit("terminated", json!({})).await?;
            }
            Ok(sessions) => {
                for s in sessions {
                    let id = s.run_id;
                    self.output(&format!("run #{id}: {}", s.workflow)).await?;
                    self.threads.insert(
                        id,
                        Thread {
                            session: s,
                            snapshot: None,
                        },
                    );
                    self.emit("thread", json!({ "reason": "started", "threadId": id }))
                        .await?;
                }
            }
            Err(e) => {
                self.output(&format!("cannot start: {e}")).await?;
                self.emit("terminated", json!({})).await?;
            }
        }
        Ok(())
    }

    async fn event(&mut self, event: DebugEvent) -> std::io::Result<()> {
        match event {
            DebugEvent::Stopped { reason, snapshot } => {
                let thread = snapshot.run_id;
                let (dap_reason, text) = match &reason {
                    StopReason::Entry => ("entry", None),
                    StopReason::Breakpoint { .. } | StopReason::Condition { .. } => {
                        ("breakpoint", None)
                    }
                    StopReason::Emit { event } => {
                        ("breakpoint", Some(format!("before emitting {event}")))
                    }
                    StopReason::Failure { step, message } => {
                        ("exception", Some(format!("{step} failed: {message}")))
                    }
                    StopReason::Step => ("step", None),
                    StopReason::Pause => ("pause", None),
                };
                if let Some(t) = self.threads.get_mut(&thread) {
                    t.snapshot = Some(*snapshot);
                }
                self.refs.clear();
                let mut body =
                    json!({ "reason": dap_reason, "threadId": thread, "allThreadsStopped": false });
                if let Some(text) = text {
                    body["description"] = json!(text);
                    body["text"] = json!(text);
                }
                self.emit("stopped", body).await
            }
            DebugEvent::Resumed { run_id } => {
                self.refs.clear();
                if let Some(t) = self.threads.get_mut(&run_id) {
                    t.snapshot = None;
                }
                self.emit(
                    "continued",
                    json!({ "threadId": run_id, "allThreadsContinued": false }),
                )
                .await
            }
            DebugEvent::Output { text, .. } => self.output(&text).await,
            DebugEvent::Finished {
                run_id,
                status,
                output,
                error,
            } => {
                let result = match (&error, &output) {
                    (Some(e), _) => format!("run #{run_id} {status}: {e}"),
                    (None, Some(o)) => format!("run #{run_id} {status}: {o}"),
                    (None, None) => format!("run #{run_id} {status}"),
                };
                self.output(&result).await?;
                self.threads.remove(&run_id);
                self.emit("thread", json!({ "reason": "exited", "threadId": run_id }))
                    .await?;
                if self.threads.is_empty() {
                    self.emit("exited", json!({ "exitCode": i32::from(error.is_some()) }))
                        .await?;
                    self.emit("terminated", json!({})).await?;
                }
                Ok(())
            }
        }
    }

    fn all_breakpoints(&self) -> Vec<Breakpoint> {
        let mut all = self.line_breakpoints.clone();
        all.extend(self.function_breakpoints.iter().cloned());
        if self.failure {
            all.push(Breakpoint::Failure);
        }
        all
    }

    fn push_breakpoints(&self) {
        let all = self.all_breakpoints();
        for t in self.threads.values() {
            t.session.send(debug::Command::SetBreakpoints(all.clone()));
        }
    }

    fn set_breakpoints(&mut self, args: &Value) -> Reply {
        let path = args["source"]["path"].as_str().map(PathBuf::from);
        let wanted = args["breakpoints"].as_array().cloned().unwrap_or_default();
        let ours = match (&self.source, &path) {
            (Some(s), Some(p)) => same_file(s.path.as_deref(), p),
            (Some(_), None) => true,
            _ => false,
        };
        let mut verified = Vec::new();
        let mut list = Vec::new();
        for (i, b) in wanted.iter().enumerate() {
            let line = b["line"].as_u64().unwrap_or(0) as usize;
            let condition = b["condition"]
                .as_str()
                .map(String::from)
                .filter(|c| !c.trim().is_empty());
            let step = ours
                .then(|| {
                    self.source
                        .as_ref()
                        .and_then(|s| step_at_line(&s.spans, line).cloned())
                })
                .flatten();
            match step {
                Some(span) => {
                    if let Some(c) = &condition
                        && let Err(e) = crate::expr::Expr::compile(c, crate::expr::Scope::ALL)
                    {
                        verified.push(json!({ "id": i + 1, "verified": false, "line": line, "message": e }));
                        continue;
                    }
                    list.push(Breakpoint::Step { step: span.id.clone(), condition });
                    verified.push(json!({ "id": i + 1, "verified": true, "line": span.id_line }));
                }
                None => verified.push(json!({
                    "id": i + 1,
                    "verified": false,
                    "line": line,
                    "message": if ours { "no step on this line" } else { "not the workflow being debugged" },
                })),
            }
        }
        if ours {
            self.line_breakpoints = list;
            self.push_breakpoints();
        }
        Ok(json!({ "breakpoints": verified }))
    }

    fn set_function_breakpoints(&mut self, args: &Value) -> Reply {
        let wanted = args["breakpoints"].as_array().cloned().unwrap_or_default();
        let mut verified = Vec::new();
        let mut list = Vec::new();
        for b in wanted {
            let name = b["name"].as_str().unwrap_or_default().to_string();
            let condition = b["condition"]
                .as_str()
                .map(String::from)
                .filter(|c| !c.trim().is_empty());
            // `emit:NAME` stops before emitting NAME; anything else is a step id
            if let Some(event) = name.strip_prefix("emit:") {
                list.push(Breakpoint::Emit {
                    event: event.to_string(),
                });
                verified.push(json!({ "verified": true }));
                continue;
            }
            let span = self
                .source
                .as_ref()
                .and_then(|s| s.spans.iter().find(|sp| sp.id == name));
            let known = self.source.is_none() || span.is_some();
            if known {
                list.push(Breakpoint::Step {
                    step: name.clone(),
                    condition,
                });
            }
            let mut v = json!({ "verified": known });
            if let Some(sp) = span {
                v["line"] = json!(sp.id_line);
            }
            if !known {
                v["message"] = json!(format!("no step {name:?} in this workflow"));
            }
            verified.push(v);
        }
        self.function_breakpoints = list;
        self.push_breakpoints();
        Ok(json!({ "breakpoints": verified }))
    }

    fn threads(&self) -> Value {
        let threads: Vec<Value> = self
            .threads
            .iter()
            .map(|(id, t)| json!({ "id": id, "name": format!("run #{id} {}", t.session.workflow) }))
            .collect();
        json!({ "threads": threads })
    }

    fn thread(&self, args: &Value) -> Result<&Thread, String> {
        let id = args["threadId"].as_i64();
        match id {
            Some(id) => self.threads.get(&id),
            None => self.threads.values().next(),
        }
        .ok_or_else(|| "no such thread (the run may have ended)".to_string())
    }

    fn paused(&self, thread: i64) -> Result<&Snapshot, String> {
        self.threads
            .get(&thread)
            .and_then(|t| t.snapshot.as_ref())
            .ok_or_else(|| format!("run #{thread} is not paused"))
    }

    fn stack_trace(&self, args: &Value) -> Reply {
        let thread = args["threadId"].as_i64().unwrap_or(0);
        let snap = self.paused(thread)?;
        let source = self.source.as_ref().map(|s| match &s.path {
            Some(p) => json!({
                "name": p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                "path": p,
            }),
            None => json!({ "name": format!("{}.json", snap.workflow), "sourceReference": 1 }),
        });
        let frames: Vec<Value> = snap
            .stack
            .iter()
            .enumerate()
            .rev()
            .map(|(level, f)| {
                let line = self
                    .source
                    .as_ref()
                    .and_then(|s| s.spans.iter().find(|sp| sp.id == f.step))
                    .map_or(0, |sp| sp.id_line);
                let mut name = format!("{} ({})", f.step, f.action);
                if !f.iteration.is_empty() {
                    name.push_str(&format!(" [{}]", f.iteration.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")));
                }
                let mut frame = json!({ "id": thread * 1000 + level as i64, "name": name, "line": line, "column": 1 });
                if let Some(src) = &source {
                    frame["source"] = src.clone();
                }
                frame
            })
            .collect();
        let total = frames.len();
        if frames.is_empty() {
            return Ok(json!({
                "stackFrames": [{ "id": thread * 1000, "name": "(end of the run)", "line": 0, "column": 1 }],
                "totalFrames": 1,
            }));
        }
        Ok(json!({ "stackFrames": frames, "totalFrames": total }))
    }

    fn reference(&mut self, value: &Value) -> i64 {
        if value.is_object() || value.is_array() {
            self.refs.push(value.clone());
            self.refs.len() as i64
        } else {
            0
        }
    }

    fn scopes(&mut self, args: &Value) -> Reply {
        let thread = args["frameId"].as_i64().unwrap_or(0) / 1000;
        let snap = self.paused(thread)?.clone();
        let mut scopes = Vec::new();
        for (name, value, hint) in [
            ("$var", &snap.var, "locals"),
            ("$param", &snap.param, "arguments"),
            ("next step's input", &snap.input, "locals"),
            ("$env", &snap.env, "registers"),
            ("$event", &snap.event, "registers"),
        ] {
            let reference = self.reference(value);
            scopes.push(json!({
                "name": name,
                "presentationHint": hint,
                "variablesReference": reference,
                "expensive": false,
            }));
        }
        Ok(json!({ "scopes": scopes }))
    }

    fn variables(&mut self, args: &Value) -> Reply {
        let reference = args["variablesReference"].as_i64().unwrap_or(0);
        let value = usize::try_from(reference - 1)
            .ok()
            .and_then(|i| self.refs.get(i).cloned())
            .ok_or("that variable is gone (the run moved on)")?;
        let children: Vec<(String, Value)> = match value {
            Value::Object(map) => map.into_iter().collect(),
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
            _ => Vec::new(),
        };
        let variables: Vec<Value> = children
            .into_iter()
            .map(|(name, v)| {
                let r = self.reference(&v);
                json!({
                    "name": name,
                    "value": display(&v),
                    "type": crate::expr::value::type_name(&v),
                    "variablesReference": r,
                    "evaluateName": name,
                })
            })
            .collect();
        Ok(json!({ "variables": variables }))
    }

    async fn set_variable(&mut self, args: &Value) -> Reply {
        let reference = args["variablesReference"].as_i64().unwrap_or(0);
        let name = args["name"].as_str().unwrap_or_default().to_string();
        let text = args["value"].as_str().unwrap_or_default();
        let value: Value =
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()));
        // only the top level of $var and $param can change: find which scope `reference` is
        let target = self.threads.iter().find_map(|(id, t)| {
            let snap = t.snapshot.as_ref()?;
            let root = self.refs.get(usize::try_from(reference - 1).ok()?)?;
            if *root == snap.var {
                Some((*id, EditScope::Var))
            } else if *root == snap.param {
                Some((*id, EditScope::Param))
            } else {
                None
            }
        });
        let (thread, scope) =
            target.ok_or("only the top level of $var and $param can be changed")?;
        let session = self
            .threads
            .get(&thread)
            .map(|t| t.session.clone())
            .ok_or("the run has ended")?;
        session.set(scope, &name, value.clone()).await?;
        if let Some(snap) = session.inspect().await
            && let Some(t) = self.threads.get_mut(&thread)
        {
            t.snapshot = Some(snap);
        }
        let r = self.reference(&value);
        Ok(json!({ "value": display(&value), "variablesReference": r }))
    }

    async fn evaluate(&mut self, args: &Value) -> Reply {
        let expr = args["expression"].as_str().unwrap_or_default();
        let thread = args["frameId"].as_i64().map(|f| f / 1000);
        let session = match thread {
            Some(t) => self.threads.get(&t),
            None => self.threads.values().next(),
        }
        .map(|t| t.session.clone())
        .ok_or("no run to evaluate in")?;
        let value = session.evaluate(expr).await?;
        let r = self.reference(&value);
        Ok(
            json!({ "result": display(&value), "type": crate::expr::value::type_name(&value), "variablesReference": r }),
        )
    }

    fn resume(&mut self, args: &Value, how: Resume) -> Reply {
        let thread = self.thread(args)?;
        thread.session.resume(how);
        Ok(json!({}))
    }
}

/// How a value reads in the variables view: strings as they are, the rest as JSON.
fn display(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Array(a) => format!("array[{}]", a.len()),
        Value::Object(m) => {
            let keys: Vec<&str> = m.keys().map(String::as_str).take(4).collect();
            let more = if m.len() > 4 { ", …" } else { "" };
            format!("{{{}{more}}}", keys.join(", "))
        }
        other => other.to_string(),
    }
}

fn same_file(ours: Option<&Path>, theirs: &Path) -> bool {
    match ours {
        Some(ours) => {
            let theirs = std::fs::canonicalize(theirs).unwrap_or_else(|_| theirs.to_path_buf());
            ours == theirs || ours.file_name() == theirs.file_name()
        }
        None => true,
    }
}

fn capabilities() -> Value {
    let mut c = Map::new();
    for flag in [
        "supportsConfigurationDoneRequest",
        "supportsFunctionBreakpoints",
        "supportsConditionalBreakpoints",
        "supportsEvaluateForHovers",
        "supportsSetVariable",
        "supportsTerminateRequest",
    ] {
        c.insert(flag.into(), json!(true));
    }
    c.insert(
        "exceptionBreakpointFilters".into(),
        json!([{ "filter": "failure", "label": "Step failures", "default": false }]),
    );
    Value::Object(c)
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
    use super::read_messages;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

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
