//! Debug sessions: one run under a debugger. The run pauses before a step when a breakpoint
//! matches or a step command says so, answers questions while paused (evaluate a jq
//! expression, show the variables, change a variable), and goes on when told. Pausing holds
//! no lock: the store and other runs carry on.
//!
//! [`protocol`] is what a debugger and a session say to each other, `breakpoints` how a
//! session matches them, `runner` the stepping itself; the entry points (a workflow, an
//! endpoint, an event, a replay) are methods of the [`Engine`](super::Engine) here.

mod breakpoints;
pub mod protocol;
mod runner;

pub use protocol::{
    Breakpoint, DebugCommand, DebugEvent, DebugOptions, EditScope, Resume, Session, Snapshot,
    StackFrame, StopReason,
};
pub use runner::{start, start_positioned};

use super::context::{EventContext, Inputs};
use super::core::RunJob;
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
        Inputs::workflow(crate::model::LazyJson::shared(params), event),
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
        options: DebugOptions,
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
                crate::model::DefinitionKind::Workflow,
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
            kind: crate::model::DefinitionKind::Workflow,
            name: row.name.clone(),
            version,
            mode: crate::model::RunMode::Debug,
            inputs,
            event: Some(event),
            tracker: None,
            resumed: false,
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
        options: DebugOptions,
        events: mpsc::UnboundedSender<DebugEvent>,
    ) -> Result<Session, super::EngineError> {
        let Value::Object(parts) = request else {
            return Err(super::EngineError::BadInput(format!(
                "the request must be a JSON object like {{\"body\": {{}}, \"path\": {{}}}}, got {request}"
            )));
        };
        let row = self
            .store()
            .find_definition(crate::model::DefinitionKind::Endpoint, endpoint)?
            .ok_or_else(|| {
                super::EngineError::BadInput(format!("no endpoint named {endpoint:?}"))
            })?;
        self.core().program(row.id, version)?;
        let inputs = Inputs::request(&Value::Object(parts));
        let run_id = self
            .record_run(
                &row,
                crate::model::DefinitionKind::Endpoint,
                version,
                crate::model::RunMode::Debug,
                inputs.recorded(crate::model::DefinitionKind::Endpoint),
                true,
            )
            .await?;
        let job = RunJob {
            run_id,
            definition_id: row.id,
            kind: crate::model::DefinitionKind::Endpoint,
            name: row.name.clone(),
            version,
            mode: crate::model::RunMode::Debug,
            inputs,
            event: None,
            tracker: None,
            resumed: false,
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
        options: DebugOptions,
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
                kind: crate::model::DefinitionKind::Workflow,
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
                resumed: false,
            };
            sessions.push(
                start(self.core().clone(), job, options.clone(), events.clone())
                    .await
                    .map_err(super::EngineError::BadInput)?,
            );
        }
        Ok((dispatched.event.record, sessions))
    }
}
