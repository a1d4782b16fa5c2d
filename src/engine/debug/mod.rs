//! Debug sessions: one run under a debugger. The run pauses before a step when a breakpoint
//! matches or a step command says so, answers questions while paused (evaluate a jq
//! expression, show the variables, change a variable), and goes on when told. Pausing holds
//! no lock: the store and other runs carry on.
//!
//! [`protocol`] is what a debugger and a session say to each other, [`breakpoints`] how a
//! session matches them, [`runner`] the stepping itself; the entry points (a workflow, an
//! endpoint, an event, a replay) are methods of the [`Engine`](super::Engine) here.

mod breakpoints;
pub mod protocol;
mod runner;

pub use protocol::{
    Breakpoint, Command, DebugEvent, EditScope, Options, Resume, Session, Snapshot, StackFrame,
    StopReason,
};
pub use runner::{start, start_positioned};

use super::context::{EventContext, Inputs, RunContext};
use super::core::RunJob;
use super::interpreter::Interpreter;
use serde_json::{Value, json};
use tokio::sync::mpsc;

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
