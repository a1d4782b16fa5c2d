//! The cascade of an event as a tree (its listeners, their runs or why they did not run, the
//! events those runs emitted, to any depth), and why an event did or did not run a workflow,
//! in one sentence.

use super::error::EngineError;
use super::{Engine, unknown_hint};
use crate::model::{DefinitionKind, EventRecord, RunRecord, RunStatus, SkipRecord};
use crate::store::cascade::Cascade;
use serde::Serialize;

/// An event and what it caused.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceNode {
    /// The event.
    pub event: EventRecord,
    /// Each listener: its run, or why it did not run.
    pub listeners: Vec<Listener>,
}

/// One listener of an event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listener {
    /// The workflow.
    pub workflow: String,
    /// Its run of the event (without steps), if it ran.
    pub run: Option<RunRecord>,
    /// Why it did not run, if it did not.
    pub skipped: Option<String>,
    /// The loop guard stopped it (`skipped` says the loop).
    #[serde(rename = "loop", skip_serializing_if = "std::ops::Not::not")]
    pub is_loop: bool,
    /// The events its run emitted, each with what it caused.
    pub emitted: Vec<TraceNode>,
}

/// Whether a workflow ran for an event, and why (not).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Why {
    /// The event.
    pub event_id: i64,
    /// The workflow.
    pub workflow: String,
    /// Whether it ran.
    pub ran: bool,
    /// Its run, when it ran.
    pub run_id: Option<i64>,
    /// Why, in one sentence.
    pub reason: String,
}

/// The tree of `cascade` from event `root`.
pub(crate) fn tree(cascade: &Cascade, root: i64) -> Option<TraceNode> {
    let event = cascade.events.iter().find(|e| e.id == root)?.clone();
    let mut listeners: Vec<Listener> = cascade
        .runs
        .iter()
        .filter(|r| r.event_id == Some(root))
        .map(|run| Listener {
            workflow: run.target.name().to_string(),
            emitted: cascade
                .events
                .iter()
                .filter(|e| e.parent_run == Some(run.id))
                .filter_map(|e| tree(cascade, e.id))
                .collect(),
            run: Some(run.clone()),
            skipped: None,
            is_loop: false,
        })
        .collect();
    listeners.extend(
        cascade
            .skipped
            .iter()
            .filter(|s| s.event_id == root)
            .map(|s| Listener {
                workflow: s.workflow.clone(),
                run: None,
                skipped: Some(s.reason.clone()),
                is_loop: s.reason.starts_with("loop:"),
                emitted: Vec::new(),
            }),
    );
    Some(TraceNode { event, listeners })
}

impl Engine {
    /// The cascade of event `id` as a tree.
    pub fn trace(&self, id: i64) -> Result<TraceNode, EngineError> {
        let cascade = self.store().cascade_of_event(id)?;
        tree(&cascade, id)
            .ok_or_else(|| EngineError::BadInput(format!("no event #{id} (see `flowdeck events`)")))
    }

    /// Whether event `id` ran `workflow`, and why (not), in one sentence.
    pub fn why(&self, id: i64, workflow: &str) -> Result<Why, EngineError> {
        let store = self.store();
        let Some(event) = store.event(id)? else {
            return Err(EngineError::BadInput(format!(
                "no event #{id} (see `flowdeck events`)"
            )));
        };
        let e = &event.record;
        let answer = |ran: bool, run_id: Option<i64>, reason: String| Why {
            event_id: id,
            workflow: workflow.to_string(),
            ran,
            run_id,
            reason,
        };
        if let Some(run) = store
            .runs_of_event(id)?
            .into_iter()
            .find(|r| r.target.name() == workflow)
        {
            return Ok(answer(true, Some(run.id), ran(e, &run)));
        }
        if let Some(skip) = store
            .skips_of_event(id)?
            .into_iter()
            .find(|s| s.workflow == workflow)
        {
            return Ok(answer(false, None, skipped(e, &skip)));
        }
        let Some(row) = store.find_definition(DefinitionKind::Workflow, workflow)? else {
            let names: Vec<String> = store
                .list_definitions()?
                .into_iter()
                .filter(|r| r.kind == DefinitionKind::Workflow)
                .map(|r| r.name)
                .collect();
            return Ok(answer(
                false,
                None,
                format!(
                    "there is no workflow named {workflow:?}{}",
                    unknown_hint(workflow, &names)
                ),
            ));
        };
        let reason = match row.on_event.as_deref() {
            Some(on) if on != e.name => format!(
                "{workflow} does not listen to {}: it listens to {on}",
                e.name
            ),
            _ => format!(
                "{workflow} listens to {} now, but had no part in event #{id}: it was added, \
                 or made to listen to it, after the event came",
                e.name
            ),
        };
        Ok(answer(false, None, reason))
    }
}

/// The sentence for a workflow that ran.
fn ran(e: &EventRecord, run: &RunRecord) -> String {
    let version = run
        .version
        .map_or("its draft".to_string(), |v| format!("v{v}"));
    let how = match run.status {
        RunStatus::Succeeded => "succeeded".to_string(),
        RunStatus::Failed => format!(
            "failed: {}",
            run.error.as_deref().unwrap_or("no error was recorded")
        ),
        other => other.to_string(),
    };
    format!(
        "{} ran for event #{} ({}): run #{} of {version}, which {how}",
        run.target.name(),
        e.id,
        e.name,
        run.id
    )
}

/// The sentence for a workflow that was skipped.
fn skipped(e: &EventRecord, skip: &SkipRecord) -> String {
    let w = &skip.workflow;
    let why = match skip.reason.as_str() {
        "inactive" => format!("it was switched off (`flowdeck toggle {w} on` switches it on)"),
        "not deployed" => format!("it had no live version (`flowdeck deploy {w}` makes one)"),
        "max depth" => "the cascade was deeper than [engine] max_depth allows".to_string(),
        r if r.starts_with("loop:") => format!(
            "it would have triggered itself ({r}); set \"allow_self_trigger\": true to let it"
        ),
        other => other.to_string(),
    };
    format!("{w} did not run for event #{} ({}): {why}", e.id, e.name)
}
