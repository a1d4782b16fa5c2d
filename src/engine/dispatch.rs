//! The dispatcher: record an event, then decide for every listener whether it runs (a queued
//! run) or not (a skip with its reason), all in one transaction.

use crate::model::{DefinitionKind, LazyJson, SkipRecord, Timestamp};
use crate::store::HotWrites;
use crate::store::Result;
use crate::store::definitions::cached_listeners;
use crate::store::events::{Inserted, NewEvent, StoredEvent};
use crate::store::held::WriterStore;
use crate::store::runs::{EVENT_PARAMS, NewRun};
use std::sync::Arc;

use super::effects::EmitRequest;

/// A run the dispatcher queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRun {
    /// Store id.
    pub run_id: i64,
    /// The workflow.
    pub definition_id: i64,
    /// Its name (the listener cache's).
    pub name: Arc<str>,
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

impl Dispatched {
    /// Whether no workflow listens to the event (none ran, none was skipped): it is
    /// recorded all the same, for a listener to come.
    pub fn unheard(&self) -> bool {
        self.new && self.runs.is_empty() && self.skipped.is_empty()
    }
}

/// The loop described as a chain: `a → b → a`.
fn loop_reason(chain: &[String], listener: &str) -> Option<String> {
    let first = chain.iter().position(|w| w == listener)?;
    let mut path: Vec<&str> = chain[first..].iter().map(String::as_str).collect();
    path.push(listener);
    Some(format!("loop: {}", path.join(" → ")))
}

/// What decides whether a listener runs an event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ListenerFacts<'a> {
    /// The workflow.
    pub name: &'a str,
    /// Switched on.
    pub active: bool,
    /// Has the version the event asks for (a live version, for a live event).
    pub deployed: bool,
    /// May run again for an event its own run led to.
    pub allow_self_trigger: bool,
}

impl ListenerFacts<'_> {
    /// Why the listener does not run an event of `depth` that `chain` led to (`inactive`,
    /// `not deployed`, `loop: a → b → a`, `max depth`), or `None`: it runs. The one rule,
    /// for the engine and for tests of workflows.
    pub(crate) fn skip_reason(
        &self,
        chain: &[String],
        depth: u32,
        max_depth: u32,
    ) -> Option<String> {
        if !self.active {
            Some("inactive".to_string())
        } else if !self.deployed {
            Some("not deployed".to_string())
        } else if let Some(r) = (!self.allow_self_trigger)
            .then(|| loop_reason(chain, self.name))
            .flatten()
        {
            Some(r)
        } else if depth > max_depth {
            Some("max depth".to_string())
        } else {
            None
        }
    }
}

/// What the writer did for an event: its row (or the one recorded before under its key),
/// the runs it queued and the listeners it skipped. Only ids and shared names: the event's
/// record is built by [`Recorded::dispatched`] on the caller's side, which has the event
/// (what the writer allocates for a caller is freed on another core).
#[derive(Debug)]
pub(crate) struct Recorded {
    event: Inserted,
    runs: Vec<QueuedRun>,
    skipped: Vec<SkipRecord>,
}

impl Recorded {
    /// What dispatching `req` did; `params` are its params (kept when the event is new).
    pub(crate) fn dispatched(self, req: &EmitRequest, params: LazyJson) -> Dispatched {
        let (event, new) = match self.event {
            Inserted::New { id, emitted_at } => {
                // the request's params were taken out of it (they are `params`)
                let mut event = new_event(req, "").stored(id, emitted_at);
                event.record.params = Arc::new(params);
                event.record.replay_of = req.replay_of;
                (event, true)
            }
            // a duplicate keeps the params it was first recorded with
            Inserted::Existing(event) => (event, false),
        };
        Dispatched {
            event,
            runs: self.runs,
            skipped: self.skipped,
            new,
        }
    }
}

/// The event `req` asks for, with its params as `params_json`.
fn new_event<'a>(req: &'a EmitRequest, params_json: &'a str) -> NewEvent<'a> {
    let (chain, depth, parent_run) = match &req.parent {
        Some(p) => (p.chain.as_slice(), p.depth, Some(p.run_id)),
        None => (&[][..], 0, None),
    };
    NewEvent {
        name: &req.name,
        params: &req.params,
        params_json,
        source: &req.source,
        parent_run,
        depth,
        chain,
        draft: req.draft,
        dedup_key: req.dedup_key.as_deref(),
    }
}

/// Record the event and queue or skip each listener. Runs on the store's writer.
pub(crate) fn dispatch(
    store: &WriterStore<'_>,
    req: &EmitRequest,
    params_json: &str,
    owner: Option<&str>,
    lease_expires: Timestamp,
    max_depth: u32,
) -> Result<Recorded> {
    let new = new_event(req, params_json);
    let (chain, depth) = (new.chain, new.depth);
    // a capped store that is nearly full keeps its last pages for the runs under way
    store.check_room()?;
    let event = store.insert_event_row(&new)?;
    let Inserted::New { id: event_id, .. } = event else {
        return Ok(Recorded {
            event,
            runs: Vec::new(),
            skipped: Vec::new(),
        });
    };
    if let Some(original) = req.replay_of {
        store.set_replay_of(event_id, original)?;
    }
    let mode = req.run_mode();
    let listeners = cached_listeners(store, &req.name, req.draft)?;
    let mut out = Recorded {
        event,
        runs: Vec::with_capacity(listeners.len()),
        skipped: Vec::new(),
    };
    for l in listeners.iter() {
        let facts = ListenerFacts {
            name: &l.name,
            active: l.active,
            deployed: l.deployed,
            allow_self_trigger: l.allow_self_trigger,
        };
        match facts.skip_reason(chain, depth, max_depth) {
            Some(reason) => {
                let skip = SkipRecord {
                    event_id,
                    workflow: l.name.to_string(),
                    reason,
                };
                store.insert_skip(l.id, &skip)?;
                out.skipped.push(skip);
            }
            None => {
                let (run_id, _) = store.insert_run(&NewRun {
                    definition_id: l.id,
                    kind: DefinitionKind::Workflow,
                    target: &l.name,
                    version: l.version,
                    event_id: Some(event_id),
                    mode,
                    // the event's row holds them: a payload is stored once
                    params_json: EVENT_PARAMS,
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
