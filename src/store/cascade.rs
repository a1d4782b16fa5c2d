//! A cascade: an event (or an endpoint run), the runs of its listeners, the events those
//! runs emitted, and so on, with every skip, read back from the record.

use super::runs::{RUN_COLUMNS_OWN_PARAMS, finish_raw_from, params_in, raw_run};
use super::{Result, Store};
use crate::model::{EventRecord, RunRecord, SkipRecord};
use rusqlite::params;

/// Everything one cascade recorded, in id order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cascade {
    /// Every event of the cascade, the root first.
    pub events: Vec<EventRecord>,
    /// Every run of the cascade (without steps).
    pub runs: Vec<RunRecord>,
    /// Every listener that did not run.
    pub skipped: Vec<SkipRecord>,
}

/// Event ids of the cascade, seeded by `?1` as an event id.
const FROM_EVENT: &str = "WITH RECURSIVE ev(id) AS (
        SELECT ?1
        UNION
        SELECT e.id FROM ev JOIN runs r ON r.event_id = ev.id JOIN events e ON e.parent_run = r.id
    )";

/// Event ids of the cascade, seeded by the events a run (`?1`) emitted.
const FROM_RUN: &str = "WITH RECURSIVE ev(id) AS (
        SELECT id FROM events WHERE parent_run = ?1
        UNION
        SELECT e.id FROM ev JOIN runs r ON r.event_id = ev.id JOIN events e ON e.parent_run = r.id
    )";

impl Store {
    /// The cascade that starts at event `root`.
    pub fn cascade_of_event(&self, root: i64) -> Result<Cascade> {
        if let Some(pg) = self.postgres() {
            return pg.cascade_of_event(root);
        }
        self.cascade(FROM_EVENT, root, None)
    }

    /// [`Store::cascade_of_event`] for an event the caller holds as it was recorded: its
    /// params are shared from `root`, not read and parsed again.
    pub fn cascade_of_recorded(&self, root: &EventRecord) -> Result<Cascade> {
        if let Some(pg) = self.postgres() {
            return pg.cascade_of_recorded(root);
        }
        self.cascade(FROM_EVENT, root.id, Some(root))
    }

    /// The cascade of the events that run `run_id` emitted (for endpoint calls).
    pub fn cascade_of_run(&self, run_id: i64) -> Result<Cascade> {
        if let Some(pg) = self.postgres() {
            return pg.cascade_of_run(run_id);
        }
        self.cascade(FROM_RUN, run_id, None)
    }

    fn cascade(&self, seed: &str, id: i64, known: Option<&EventRecord>) -> Result<Cascade> {
        let events_sql = format!(
            "{seed} SELECT e.id FROM events e WHERE e.id IN (SELECT id FROM ev) ORDER BY e.id"
        );
        let event_ids: Vec<i64> = self
            .conn()
            .prepare_cached(&events_sql)?
            .query_map(params![id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut events = Vec::with_capacity(event_ids.len());
        let mut skipped = Vec::new();
        for event_id in &event_ids {
            match known {
                Some(k) if k.id == *event_id => events.push(k.clone()),
                _ => events.extend(self.event(*event_id)?.map(|e| e.record)),
            }
            skipped.extend(self.skips_of_event(*event_id)?);
        }
        let runs_sql = format!(
            "{seed} SELECT {RUN_COLUMNS_OWN_PARAMS} FROM runs r WHERE r.event_id IN (SELECT id FROM ev)"
        );
        let raw = self
            .conn()
            .prepare_cached(&runs_sql)?
            .query_map(params![id], raw_run)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        // a run that takes its event's params gets them from the event read above
        let mut runs = raw
            .into_iter()
            .map(|r| finish_raw_from(r, params_in(&events)))
            .collect::<Result<Vec<_>>>()?;
        // sorted here, not by SQLite: its sorter would hold every whole row (params and
        // all) at once, and a large payload several times over
        runs.sort_by_key(|r| r.id);
        Ok(Cascade {
            events,
            runs,
            skipped,
        })
    }
}
