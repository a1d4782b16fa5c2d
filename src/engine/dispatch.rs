//! The dispatcher: record an event, then decide for every listener whether it runs (a queued
//! run) or not (a skip with its reason), all in one transaction.

use crate::model::{Kind, RunMode, SkipRecord, Timestamp};
use crate::store::Result;
use crate::store::definitions::cached_listeners;
use crate::store::events::{NewEvent, StoredEvent};
use crate::store::held::WriterStore;
use crate::store::runs::NewRun;
use serde_json::Value;

/// The run whose `emit` step creates an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Parent {
    /// The emitting run.
    pub run_id: i64,
    /// Workflows that led to the new event, the emitting one last.
    pub chain: Vec<String>,
    /// Depth of the new event.
    pub depth: u32,
}

/// An event to emit.
#[derive(Debug, Clone, PartialEq)]
pub struct EmitRequest {
    /// Event name.
    pub name: String,
    /// Params (an object).
    pub params: Value,
    /// Who emits it (`cli`, `studio`, `workflow:<name>`, …).
    pub source: String,
    /// The emitting run, for events from `emit` steps.
    pub parent: Option<Parent>,
    /// Run listeners' drafts (active ones, deployed or not) instead of live versions.
    pub draft: bool,
    /// Idempotency key.
    pub dedup_key: Option<String>,
    /// Only record and queue: a worker (serve, the studio) takes the runs up.
    pub queue_only: bool,
}

impl EmitRequest {
    /// An event from outside (the command line, the studio, a test).
    pub fn new(name: impl Into<String>, params: Value, source: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            params,
            source: source.into(),
            parent: None,
            draft: false,
            dedup_key: None,
            queue_only: false,
        }
    }
}

/// A run the dispatcher queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRun {
    /// Store id.
    pub run_id: i64,
    /// The workflow.
    pub definition_id: i64,
    /// Its name.
    pub name: String,
    /// The version to run (`None`: the draft).
    pub version: Option<i64>,
}

/// What dispatching an event did.
#[derive(Debug, Clone, PartialEq)]
pub struct Dispatched {
    /// The recorded event.
    pub event: StoredEvent,
    /// Runs queued for it.
    pub runs: Vec<QueuedRun>,
    /// Listeners that did not run.
    pub skipped: Vec<SkipRecord>,
    /// False when the event already existed (same idempotency key): nothing new was queued.
    pub new: bool,
}

/// The loop described as a chain: `a → b → a`.
fn loop_reason(chain: &[String], listener: &str) -> Option<String> {
    let first = chain.iter().position(|w| w == listener)?;
    let mut path: Vec<&str> = chain[first..].iter().map(String::as_str).collect();
    path.push(listener);
    Some(format!("loop: {}", path.join(" → ")))
}

/// Record the event and queue or skip each listener. Runs on the store's writer.
pub(crate) fn dispatch(
    store: &WriterStore<'_>,
    req: &EmitRequest,
    params_json: &str,
    owner: Option<&str>,
    lease_expires: Timestamp,
    max_depth: u32,
) -> Result<Dispatched> {
    let (chain, depth, parent_run) = match &req.parent {
        Some(p) => (p.chain.as_slice(), p.depth, Some(p.run_id)),
        None => (&[][..], 0, None),
    };
    let (event, new) = store.insert_event(&NewEvent {
        name: &req.name,
        params: &req.params,
        params_json,
        source: &req.source,
        parent_run,
        depth,
        chain,
        draft: req.draft,
        dedup_key: req.dedup_key.as_deref(),
    })?;
    let mut out = Dispatched {
        event,
        runs: Vec::new(),
        skipped: Vec::new(),
        new,
    };
    if !new {
        return Ok(out);
    }
    let listeners = cached_listeners(store, &req.name, req.draft)?;
    let event_id = out.event.record.id;
    for l in listeners.iter() {
        let reason = if !l.active {
            Some("inactive".to_string())
        } else if !l.deployed {
            Some("not deployed".to_string())
        } else if let Some(r) = (!l.allow_self_trigger)
            .then(|| loop_reason(chain, &l.name))
            .flatten()
        {
            Some(r)
        } else if depth > max_depth {
            Some("max depth".to_string())
        } else {
            None
        };
        match reason {
            Some(reason) => {
                let skip = SkipRecord {
                    event_id,
                    workflow: l.name.clone(),
                    reason,
                };
                store.insert_skip(l.id, &skip)?;
                out.skipped.push(skip);
            }
            None => {
                let (run_id, _) = store.insert_run(&NewRun {
                    definition_id: l.id,
                    kind: Kind::Workflow,
                    target: &l.name,
                    version: l.version,
                    event_id: Some(event_id),
                    mode: if req.draft {
                        RunMode::Debug
                    } else {
                        RunMode::Live
                    },
                    params_json,
                    lease_owner: owner,
                    lease_expires: owner.map(|_| lease_expires),
                })?;
                out.runs.push(QueuedRun {
                    run_id,
                    definition_id: l.id,
                    name: l.name.clone(),
                    version: l.version,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::loop_reason;

    #[test]
    fn loops_are_described_from_the_first_visit() {
        let chain = vec!["x".to_string(), "a".to_string(), "b".to_string()];
        assert_eq!(loop_reason(&chain, "a").as_deref(), Some("loop: a → b → a"));
        assert_eq!(loop_reason(&chain, "b").as_deref(), Some("loop: b → b"));
        assert_eq!(loop_reason(&chain, "c"), None);
    }
}
