//! What the studio's activity log shows: the newest events with their listeners (runs and
//! skips), and runs without an event (endpoint calls, debug runs), a window at a time.

use super::runs::{RUN_COLUMNS, finish_raw, raw_run};
use super::{Result, Store};
use crate::model::{EventRecord, RunRecord, SkipRecord};
use crate::store::events::EventFilter;
use rusqlite::params;

/// One event with what its listeners did.
#[derive(Debug, Clone, PartialEq)]
pub struct EventActivity {
    /// The event.
    pub event: EventRecord,
    /// Runs of its listeners (without steps).
    pub runs: Vec<RunRecord>,
    /// Listeners that did not run.
    pub skipped: Vec<SkipRecord>,
}

/// The newest activity.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Activity {
    /// Newest events first.
    pub events: Vec<EventActivity>,
    /// Newest runs without an event first.
    pub loose_runs: Vec<RunRecord>,
}

impl Store {
    /// The newest `limit` events (with their runs and skips) and `limit` runs without an
    /// event. Every query is bounded by `limit` and uses an index.
    pub fn activity(&self, limit: u32) -> Result<Activity> {
        let events = self.list_events(&EventFilter {
            name: None,
            limit,
            before: None,
        })?;
        let mut out = Activity::default();
        // the window's events are the newest ids: fetch their runs and skips with one range
        // query each (both use the event_id index) and group them here
        let (low, high) = match (events.last(), events.first()) {
            (Some(l), Some(h)) => (l.id, h.id),
            _ => (0, -1),
        };
        let runs_sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs r WHERE r.event_id BETWEEN ?1 AND ?2 ORDER BY r.id"
        );
        let raw = self
            .conn()
            .prepare_cached(&runs_sql)?
            .query_map(params![low, high], raw_run)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut runs: Vec<RunRecord> = raw.into_iter().map(finish_raw).collect::<Result<_>>()?;
        let mut skips = self
            .conn()
            .prepare_cached(
                "SELECT event_id, workflow, reason FROM skips WHERE event_id BETWEEN ?1 AND ?2 ORDER BY workflow",
            )?
            .query_map(params![low, high], super::skips::skip_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for event in events {
            let id = event.id;
            let (mine, rest): (Vec<_>, Vec<_>) =
                runs.into_iter().partition(|r| r.event_id == Some(id));
            runs = rest;
            let (skipped, rest): (Vec<_>, Vec<_>) =
                skips.into_iter().partition(|s| s.event_id == id);
            skips = rest;
            out.events.push(EventActivity {
                event,
                runs: mine,
                skipped,
            });
        }
        let loose_sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs r WHERE r.event_id IS NULL ORDER BY r.id DESC LIMIT ?1"
        );
        let raw = self
            .conn()
            .prepare_cached(&loose_sql)?
            .query_map(params![limit], raw_run)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        out.loose_runs = raw
            .into_iter()
            .map(finish_raw)
            .collect::<Result<Vec<_>>>()?;
        Ok(out)
    }

    /// The newest run of a definition (its status and times), if any.
    pub fn last_run_of(&self, definition_id: i64) -> Result<Option<RunRecord>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs r WHERE r.definition_id = ?1 ORDER BY r.id DESC LIMIT 1"
        );
        let raw = self
            .conn()
            .prepare_cached(&sql)?
            .query_map(params![definition_id], raw_run)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raw.into_iter().next().map(finish_raw).transpose()
    }
}
