//! What the studio's activity log shows: the newest events with their listeners (runs and
//! skips), and runs without an event (endpoint calls, debug runs), a window at a time.

use super::runs::{
    RUN_COLUMNS, RUN_COLUMNS_OWN_PARAMS, finish_raw, finish_raw_from, params_in, raw_run,
};
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
        if let Some(pg) = self.postgres() {
            return pg.activity(limit);
        }
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
            "SELECT {RUN_COLUMNS_OWN_PARAMS} FROM runs r WHERE r.event_id BETWEEN ?1 AND ?2"
        );
        let raw = self
            .conn()
            .prepare_cached(&runs_sql)?
            .query_map(params![low, high], raw_run)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let runs = by_id(
            raw.into_iter()
                .map(|r| finish_raw_from(r, params_in(&events)))
                .collect::<Result<_>>()?,
        );
        let skips = self
            .conn()
            .prepare_cached(
                "SELECT event_id, workflow, reason FROM skips WHERE event_id BETWEEN ?1 AND ?2 ORDER BY workflow",
            )?
            .query_map(params![low, high], super::skips::skip_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        out.events = grouped(events, runs, skips);
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

    /// The activity the studio's filter asks for, from the whole store: the newest `limit`
    /// events whose name contains `filter` or that started a run of a workflow or endpoint
    /// whose name contains it (case aside), each with its runs and skips, and the newest
    /// `limit` runs without an event of such definitions. Each lookup goes through an index
    /// (event names, runs by definition), so the store's size does not matter.
    pub fn activity_matching(&self, filter: &str, limit: u32) -> Result<Activity> {
        if let Some(pg) = self.postgres() {
            return pg.activity_matching(filter, limit);
        }
        let wanted = filter.to_lowercase();
        let matches = |name: &str| name.to_lowercase().contains(&wanted);
        let mut event_ids: Vec<i64> = Vec::new();
        for name in self.event_names()?.into_iter().filter(|n| matches(n)) {
            let ids = self
                .conn()
                .prepare_cached("SELECT id FROM events WHERE name = ?1 ORDER BY id DESC LIMIT ?2")?
                .query_map(params![name, limit], |r| r.get::<_, i64>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            event_ids.extend(ids);
        }
        let definitions = self
            .conn()
            .prepare_cached("SELECT id, name FROM definitions")?
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut loose_ids: Vec<i64> = Vec::new();
        for (id, _) in definitions.iter().filter(|(_, name)| matches(name)) {
            let runs = self
                .conn()
                .prepare_cached(
                    "SELECT id, event_id FROM runs WHERE definition_id = ?1 ORDER BY id DESC LIMIT ?2",
                )?
                .query_map(params![id, limit], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for (run, event) in runs {
                match event {
                    Some(e) => event_ids.push(e),
                    None => loose_ids.push(run),
                }
            }
        }
        let newest = |mut ids: Vec<i64>| {
            ids.sort_unstable_by(|a, b| b.cmp(a));
            ids.dedup();
            ids.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            ids
        };
        let events = self.events_by_ids(&newest(event_ids))?;
        let ids: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
        let list = ids.join(",");
        // integers only, so written into the statements
        let runs: Vec<RunRecord> = if events.is_empty() {
            Vec::new()
        } else {
            let sql =
                format!("SELECT {RUN_COLUMNS_OWN_PARAMS} FROM runs r WHERE r.event_id IN ({list})");
            let raw = self
                .conn()
                .prepare(&sql)?
                .query_map([], raw_run)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            by_id(
                raw.into_iter()
                    .map(|r| finish_raw_from(r, params_in(&events)))
                    .collect::<Result<_>>()?,
            )
        };
        let skips = if events.is_empty() {
            Vec::new()
        } else {
            self.conn()
                .prepare(&format!(
                    "SELECT event_id, workflow, reason FROM skips WHERE event_id IN ({list}) ORDER BY workflow"
                ))?
                .query_map([], super::skips::skip_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut out = Activity {
            events: grouped(events, runs, skips),
            loose_runs: Vec::new(),
        };
        let loose = newest(loose_ids);
        if !loose.is_empty() {
            let list = loose
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let sql = format!("SELECT {RUN_COLUMNS} FROM runs r WHERE r.id IN ({list})");
            let raw = self
                .conn()
                .prepare(&sql)?
                .query_map([], raw_run)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut loose: Vec<RunRecord> =
                by_id(raw.into_iter().map(finish_raw).collect::<Result<_>>()?);
            loose.reverse();
            out.loose_runs = loose;
        }
        Ok(out)
    }

    /// The newest run of a definition (its status and times), if any.
    pub fn last_run_of(&self, definition_id: i64) -> Result<Option<RunRecord>> {
        if let Some(pg) = self.postgres() {
            return pg.last_run_of(definition_id);
        }
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

/// Each of `events` (newest first) with its runs and skips, taken from those given.
pub(crate) fn grouped(
    events: Vec<EventRecord>,
    mut runs: Vec<RunRecord>,
    mut skips: Vec<SkipRecord>,
) -> Vec<EventActivity> {
    let mut out = Vec::with_capacity(events.len());
    for event in events {
        let id = event.id;
        let (mine, rest): (Vec<_>, Vec<_>) = runs.into_iter().partition(|r| r.event_id == Some(id));
        runs = rest;
        let (skipped, rest): (Vec<_>, Vec<_>) = skips.into_iter().partition(|s| s.event_id == id);
        skips = rest;
        out.push(EventActivity {
            event,
            runs: mine,
            skipped,
        });
    }
    out
}

/// Runs in the order of their ids. Sorted here rather than with `ORDER BY` where the
/// query's index does not give that order: SQLite's sorter would hold every whole row
/// (params and all) at once.
pub(crate) fn by_id(mut runs: Vec<RunRecord>) -> Vec<RunRecord> {
    runs.sort_by_key(|r| r.id);
    runs
}

#[cfg(test)]
mod tests {
    use crate::store::testing::{temp_store, workflow_w};

    #[test]
    fn the_filter_finds_matches_beyond_the_newest_window() {
        let (_dir, store) = temp_store();
        workflow_w(&store);
        // one old `sku_reorder` with its run of `w`, then 300 newer events of another name
        store
            .conn()
            .execute_batch(
                "INSERT INTO events (id, name, params, source, emitted_at) VALUES (1, 'sku_reorder', '{}', 'cli', 1);
                 INSERT INTO runs (id, definition_id, kind, target, event_id, mode, status, params, queued_at, finished_at)
                   VALUES (1, 1, 'workflow', 'w', 1, 'live', 'succeeded', '', 1, 1);
                 INSERT INTO runs (id, definition_id, kind, target, mode, status, params, queued_at, finished_at)
                   VALUES (2, 1, 'workflow', 'w', 'debug', 'succeeded', '{}', 2, 2);",
            )
            .unwrap();
        for i in 2..=301 {
            store
                .conn()
                .execute(
                    "INSERT INTO events (id, name, params, source, emitted_at) VALUES (?1, 'hit', '{}', 'cli', ?1)",
                    [i],
                )
                .unwrap();
        }
        assert!(
            store
                .activity(100)
                .unwrap()
                .events
                .iter()
                .all(|e| e.event.name == "hit")
        );
        let found = store.activity_matching("REORDER", 100).unwrap();
        assert_eq!(found.events.len(), 1);
        assert_eq!(found.events[0].event.id, 1);
        assert_eq!(found.events[0].runs.len(), 1, "with its run");
        // by the workflow's name: its runs' events, and its runs without one
        let by_workflow = store.activity_matching("w", 100).unwrap();
        assert_eq!(by_workflow.events.len(), 1);
        assert_eq!(by_workflow.loose_runs.len(), 1);
        assert_eq!(by_workflow.loose_runs[0].id, 2);
        assert!(
            store
                .activity_matching("nothing like it", 100)
                .unwrap()
                .events
                .is_empty()
        );
        assert_eq!(store.event_names().unwrap(), vec!["hit", "sku_reorder"]);
    }
}
