//! The runs as the client sees them: threads, a paused run's frames, scopes and variables,
//! evaluation, edits of `$var` and `$param`, and stepping.

use super::{Body, Reply, Server, Thread, empty};
use crate::dap::protocol::Thread as DapThread;
use crate::dap::protocol::{
    EvaluateArguments, EvaluateBody, Scope, ScopesArguments, ScopesBody, SetVariableArguments,
    SetVariableBody, Source, StackFrame, StackTraceArguments, StackTraceBody, ThreadArguments,
    ThreadsBody, Variable, VariablesArguments, VariablesBody,
};
use crate::engine::debug::{EditScope, Resume, Snapshot};
use crate::expr::value::type_name;
use serde_json::Value;
use tokio::io::AsyncWrite;

/// Frame ids are a run's id times this, plus the frame's depth: a frame id names its run.
const FRAMES_PER_RUN: i64 = 1000;

impl<W: AsyncWrite + Unpin> Server<W> {
    /// `threads`: one per run being debugged.
    pub(super) fn threads(&self) -> Body {
        let threads = self
            .threads
            .iter()
            .map(|(id, t)| DapThread {
                id: *id,
                name: format!("run #{id} {}", t.session.workflow),
            })
            .collect();
        Body::Threads(ThreadsBody { threads })
    }

    /// The run a request names, or the first run when it names none.
    pub(super) fn thread(&self, args: &ThreadArguments) -> Result<&Thread, String> {
        match args.thread_id {
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

    /// `stackTrace`: the paused run's frames, innermost first.
    pub(super) fn stack_trace(&self, args: &StackTraceArguments) -> Reply {
        let thread = args.thread_id;
        let snap = self.paused(thread)?;
        let source = self.source.as_ref().map(|s| match &s.path {
            Some(p) => Source {
                name: Some(
                    p.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                ),
                path: Some(p.to_string_lossy().into_owned()),
                source_reference: None,
            },
            None => Source {
                name: Some(format!("{}.json", snap.workflow)),
                path: None,
                source_reference: Some(1),
            },
        });
        let frames: Vec<StackFrame> = snap
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
                    let at: Vec<String> = f.iteration.iter().map(ToString::to_string).collect();
                    name.push_str(&format!(" [{}]", at.join(",")));
                }
                StackFrame {
                    id: thread * FRAMES_PER_RUN + level as i64,
                    name,
                    source: source.clone(),
                    line,
                    column: 1,
                }
            })
            .collect();
        if frames.is_empty() {
            return Ok(Body::StackTrace(StackTraceBody {
                stack_frames: vec![StackFrame {
                    id: thread * FRAMES_PER_RUN,
                    name: "(end of the run)".into(),
                    source: None,
                    line: 0,
                    column: 1,
                }],
                total_frames: 1,
            }));
        }
        let total_frames = frames.len();
        Ok(Body::StackTrace(StackTraceBody {
            stack_frames: frames,
            total_frames,
        }))
    }

    /// A `variablesReference` for `value`: 0 for a scalar, which has no children.
    fn reference(&mut self, value: &Value) -> i64 {
        if value.is_object() || value.is_array() {
            self.refs.push(value.clone());
            self.refs.len() as i64
        } else {
            0
        }
    }

    /// `scopes`: the paused run's `$var`, `$param`, next step's input, `$env` and `$event`.
    pub(super) fn scopes(&mut self, args: &ScopesArguments) -> Reply {
        let thread = args.frame_id / FRAMES_PER_RUN;
        let snap = self.paused(thread)?.clone();
        let mut scopes = Vec::new();
        for (name, value, hint) in [
            ("$var", &snap.var, "locals"),
            ("$param", &snap.param, "arguments"),
            ("next step's input", &snap.input, "locals"),
            ("$env", &snap.env, "registers"),
            ("$event", &snap.event, "registers"),
        ] {
            scopes.push(Scope {
                name: name.into(),
                presentation_hint: hint.into(),
                variables_reference: self.reference(value),
                expensive: false,
            });
        }
        Ok(Body::Scopes(ScopesBody { scopes }))
    }

    /// `variables`: the keys of an object or the items of an array.
    pub(super) fn variables(&mut self, args: &VariablesArguments) -> Reply {
        let value = usize::try_from(args.variables_reference - 1)
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
        let variables = children
            .into_iter()
            .map(|(name, v)| Variable {
                value: display(&v),
                kind: type_name(&v).into(),
                variables_reference: self.reference(&v),
                evaluate_name: name.clone(),
                name,
            })
            .collect();
        Ok(Body::Variables(VariablesBody { variables }))
    }

    /// `setVariable`: only the top level of `$var` and `$param` can change; the value is
    /// JSON, or else a string.
    pub(super) async fn set_variable(&mut self, args: &SetVariableArguments) -> Reply {
        let reference = args.variables_reference;
        let text = &args.value;
        let value: Value =
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()));
        // find which run's scope `reference` is
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
        session.set(scope, &args.name, value.clone()).await?;
        if let Some(snap) = session.inspect().await
            && let Some(t) = self.threads.get_mut(&thread)
        {
            t.snapshot = Some(snap);
        }
        Ok(Body::SetVariable(SetVariableBody {
            value: display(&value),
            variables_reference: self.reference(&value),
        }))
    }

    /// `evaluate`: a jq expression in the frame's run (the first run without a frame).
    pub(super) async fn evaluate(&mut self, args: &EvaluateArguments) -> Reply {
        let thread = args.frame_id.map(|f| f / FRAMES_PER_RUN);
        let session = match thread {
            Some(t) => self.threads.get(&t),
            None => self.threads.values().next(),
        }
        .map(|t| t.session.clone())
        .ok_or("no run to evaluate in")?;
        let value = session.evaluate(&args.expression).await?;
        Ok(Body::Evaluate(EvaluateBody {
            result: display(&value),
            kind: type_name(&value).into(),
            variables_reference: self.reference(&value),
        }))
    }

    /// `continue`, `next`, `stepIn`, `stepOut`.
    pub(super) fn resume(&mut self, args: &ThreadArguments, how: Resume) -> Reply {
        let thread = self.thread(args)?;
        thread.session.resume(how);
        Ok(empty())
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
