//! Second goes: a recorded event emitted again (`replay`), and a recorded run run again
//! (`rerun`): with its params or new ones, its version or the draft, from its first step or
//! from one of its steps with the variables the record had just before it. Steps before that
//! one do not run again, so their side effects (a `db.exec`, an `http` call) are not
//! repeated. The new event or run names its origin (`replay_of`; `rerun_of`, `from_step`).

use super::context::{EventContext, Inputs, RunContext};
use super::core::event_value;
use super::debug::{self, DebugEvent, Session};
use super::error::EngineError;
use super::interpreter::Interpreter;
use super::run_end::RunEnd;
use super::{DebugReport, EmitReport, EmitRequest, Engine, Tracker};
use crate::model::record::vars_after;
use crate::model::{DefinitionKind, RunMode, RunRecord, RunTarget, StepRecord, Timestamp};
use crate::store::HotWrites;
use crate::store::definitions::DefinitionRow;
use crate::store::events::StoredEvent;
use crate::store::runs::NewRun;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Where a rerun starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RerunFrom {
    /// Its first step.
    Start,
    /// A step, by id: the last time the run came to it (for a failed run, the failure).
    Step(String),
    /// A step record, by its `seq` (the studio's time-travel cursor).
    Record(u32),
}

/// A run to run again, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Rerun {
    /// The recorded run.
    pub run_id: i64,
    /// Where to start.
    pub from: RerunFrom,
    /// Params (an endpoint's request) in place of the recorded ones.
    pub params: Option<Value>,
    /// Run the draft instead of the run's version.
    pub draft: bool,
}

impl Rerun {
    /// Run `run_id` again, as it was.
    pub fn of(run_id: i64) -> Rerun {
        Rerun {
            run_id,
            from: RerunFrom::Start,
            params: None,
            draft: false,
        }
    }
}

/// What a rerun starts from, read from the store.
struct Origin {
    run: RunRecord,
    row: DefinitionRow,
    event: Option<StoredEvent>,
}

impl Engine {
    /// Emit a recorded event again (to its listeners' live versions, or their drafts), and
    /// wait for its cascade. The new event names the one it replays (`replay_of`).
    pub async fn replay(&self, event_id: i64, draft: bool) -> Result<EmitReport, EngineError> {
        let Some(original) = self.store().event(event_id)? else {
            return Err(EngineError::BadInput(format!(
                "no event #{event_id} (see `flowdeck events`)"
            )));
        };
        let e = original.record;
        let mut request = EmitRequest::new(
            e.name,
            Arc::unwrap_or_clone(e.params).into_value(),
            "replay",
        );
        request.draft = draft;
        request.replay_of = Some(e.id);
        self.emit_and_wait(request).await
    }

    /// Run a recorded run again to its end, and wait for what it sets off.
    pub async fn rerun(&self, rerun: Rerun) -> Result<DebugReport, EngineError> {
        let tracker = Tracker::new();
        let (interpreter, context) = self.prepare_rerun(&rerun, Some(tracker.clone())).await?;
        let run_id = context.run_id;
        let (interpreter, log) = self.core().drive(interpreter, &context).await;
        let end = RunEnd::of(
            run_id,
            interpreter.outcome(),
            &self.core().settings().secrets,
        );
        self.core().end_run_and_wait(log, end).await;
        tracker.wait().await;
        let store = self.store();
        let run = store
            .run_with_steps(run_id)?
            .ok_or_else(|| EngineError::Setup(format!("run {run_id} vanished")))?;
        let cascade = store.cascade_of_run(run_id)?;
        Ok(DebugReport { run, cascade })
    }

    /// Run a recorded run again under a debugger.
    pub async fn rerun_session(
        &self,
        rerun: Rerun,
        options: debug::DebugOptions,
        events: mpsc::UnboundedSender<DebugEvent>,
    ) -> Result<Session, EngineError> {
        let (interpreter, context) = self.prepare_rerun(&rerun, options.cascade.clone()).await?;
        let core = self.core().clone();
        let (run_id, owner) = (context.run_id, core.owner().to_string());
        let lease = Timestamp(Timestamp::now().0 + core.lease().as_micros() as i64);
        core.writer()
            .submit("start rerun", move |s| s.start_run(run_id, &owner, lease))
            .await;
        debug::start_positioned(core, context, interpreter, options, events)
            .map_err(EngineError::BadInput)
    }

    /// Record the new run and position its interpreter.
    async fn prepare_rerun(
        &self,
        rerun: &Rerun,
        tracker: Option<Tracker>,
    ) -> Result<(Interpreter, RunContext), EngineError> {
        let Origin { run, row, event } = self.origin(rerun.run_id)?;
        let version = if rerun.draft { None } else { run.version };
        let program = self.core().program(row.id, version)?;
        let params = rerun
            .params
            .clone()
            .unwrap_or_else(|| run.params.whole().clone());
        let (inputs, event_context) = inputs(&row, &params, event.as_ref())?;
        let settings = self.core().settings();
        let steps = run.steps.as_deref().unwrap_or_default();
        let (interpreter, from_step) = match &rerun.from {
            RerunFrom::Start => (
                Interpreter::new(program, inputs, settings.env.clone(), settings.expr_limit()),
                None,
            ),
            from => {
                let at = record_at(&run, steps, from)?;
                let record = &steps[at];
                let interpreter = Interpreter::start_at(
                    program,
                    inputs,
                    settings.env.clone(),
                    settings.expr_limit(),
                    vars_after(&steps[..at]),
                    &record.path,
                    &record.iteration,
                )
                .map_err(|e| {
                    let which = if rerun.draft {
                        "the draft"
                    } else {
                        "its version"
                    };
                    EngineError::BadInput(format!(
                        "cannot start run #{} again at {}: {e} ({which})",
                        run.id, record.step
                    ))
                })?;
                (interpreter, Some(record.step.clone()))
            }
        };
        let run_id = self
            .record_rerun(&row, version, &params, run.id, from_step)
            .await?;
        let context = RunContext {
            run_id,
            version,
            kind: row.kind,
            name: row.name.clone(),
            mode: RunMode::Replay,
            event: event_context,
            tracker,
            resumed: false,
        };
        Ok((interpreter, context))
    }

    /// The run to start from, its definition and its event.
    fn origin(&self, run_id: i64) -> Result<Origin, EngineError> {
        let store = self.store();
        let Some(run) = store.run_with_steps(run_id)? else {
            return Err(EngineError::BadInput(format!(
                "no run #{run_id} (see `flowdeck runs`)"
            )));
        };
        let kind = match run.target {
            RunTarget::Workflow(_) => DefinitionKind::Workflow,
            RunTarget::Endpoint(_) => DefinitionKind::Endpoint,
        };
        let row = store
            .find_definition(kind, run.target.name())?
            .ok_or_else(|| {
                EngineError::BadInput(format!("{} is no longer in the store", run.target.name()))
            })?;
        let event = match run.event_id {
            Some(id) => store.event(id)?,
            None => None,
        };
        Ok(Origin { run, row, event })
    }

    /// Record the new run (leased by this process), naming its origin.
    async fn record_rerun(
        &self,
        row: &DefinitionRow,
        version: Option<i64>,
        params: &Value,
        of: i64,
        from_step: Option<String>,
    ) -> Result<i64, EngineError> {
        let (definition_id, kind, target) = (row.id, row.kind, row.name.clone());
        let owner = self.core().owner().to_string();
        let mut params = params.clone();
        self.core().settings().secrets.mask(&mut params);
        let params_json = crate::model::json_text(&params);
        Ok(self
            .core()
            .writer()
            .call(move |s| {
                s.check_room()?;
                let (id, _) = s.insert_run(&NewRun {
                    definition_id,
                    kind,
                    target: &target,
                    version,
                    event_id: None,
                    mode: RunMode::Replay,
                    params_json: &params_json,
                    lease_owner: Some(&owner),
                    lease_expires: None,
                })?;
                s.set_rerun_of(id, of, from_step.as_deref())?;
                Ok(id)
            })
            .await?)
    }
}

/// The inputs of a rerun: a workflow's params with its event's `$event` (a stand-in when
/// it had none), an endpoint's request.
fn inputs(
    row: &DefinitionRow,
    params: &Value,
    event: Option<&StoredEvent>,
) -> Result<(Inputs, Option<EventContext>), EngineError> {
    match row.kind {
        DefinitionKind::Endpoint => {
            if !params.is_object() {
                return Err(EngineError::BadInput(format!(
                    "an endpoint's request must be a JSON object of body, query, headers and path, got {params}"
                )));
            }
            Ok((Inputs::request(params), None))
        }
        DefinitionKind::Workflow => {
            if !params.is_object() {
                return Err(EngineError::BadInput(format!(
                    "params must be a JSON object, got {params}"
                )));
            }
            Ok(match event {
                Some(e) => (
                    Inputs::workflow(
                        crate::model::LazyJson::shared(params.clone()),
                        event_value(&e.record),
                    ),
                    Some(EventContext {
                        id: Some(e.record.id),
                        chain: e.chain.clone(),
                        depth: e.record.depth,
                    }),
                ),
                None => {
                    let (inputs, context) =
                        debug::debug_inputs(params.clone(), row.on_event.as_deref());
                    (inputs, Some(context))
                }
            })
        }
    }
}

/// The index of the record a rerun starts at.
fn record_at(
    run: &RunRecord,
    steps: &[StepRecord],
    from: &RerunFrom,
) -> Result<usize, EngineError> {
    let found = match from {
        RerunFrom::Start => Some(0),
        RerunFrom::Record(seq) => steps.iter().position(|s| s.seq == *seq),
        // the last time the run came to the step: for a failed run, its failure; the
        // debugger's edits (overrides) are not steps
        RerunFrom::Step(id) => steps
            .iter()
            .rposition(|s| s.step == *id && s.action != "override"),
    };
    found.ok_or_else(|| {
        let ran: Vec<&str> = {
            let mut ids: Vec<&str> = Vec::new();
            for s in steps.iter().filter(|s| s.action != "override") {
                if !ids.contains(&s.step.as_str()) {
                    ids.push(&s.step);
                }
            }
            ids
        };
        let what = match from {
            RerunFrom::Record(seq) => format!("no step record {seq}"),
            RerunFrom::Step(id) => format!("no step {id:?} that ran"),
            RerunFrom::Start => "no steps".into(),
        };
        EngineError::BadInput(if ran.is_empty() {
            format!("run #{} has {what}: no step of it ran", run.id)
        } else {
            format!(
                "run #{} has {what} (its steps that ran: {})",
                run.id,
                ran.join(", ")
            )
        })
    })
}
