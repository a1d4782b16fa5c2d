//! Listener skips, cascades and the activity log on PostgreSQL (the SQLite room's
//! `store::skips`, `store::cascade` and `store::activity`, the same records in the same
//! order). Text is ordered as SQLite orders it (by its bytes: `COLLATE "C"`), whatever the
//! database's collation.

use super::runs::{finished_runs, raw_run, run_columns, run_columns_own_params};
use super::{PgStore, column};
use crate::model::{EventRecord, RunRecord, SkipRecord};
use crate::store::Result;
use crate::store::activity::{Activity, by_id, grouped};
use crate::store::cascade::Cascade;
use crate::store::events::EventFilter;
use crate::store::runs::{finish_raw_from, params_in};
use tokio_postgres::Row;

/// A skip from a row of `event_id, workflow, reason`.
fn skip_row(r: &Row) -> Result<SkipRecord> {
    Ok(SkipRecord {
        event_id: column(r, 0)?,
        workflow: column(r, 1)?,
        reason: column(r, 2)?,
    })
}

/// Runs of rows selected with [`run_columns_own_params!`], their events' params taken from
/// `events`, in id order.
fn runs_of_events(rows: &[Row], events: &[EventRecord]) -> Result<Vec<RunRecord>> {
    let runs = rows
        .iter()
        .map(|r| raw_run(r).and_then(|raw| finish_raw_from(raw, params_in(events))))
        .collect::<Result<Vec<_>>>()?;
    Ok(by_id(runs))
}

/// The skips of `ids`' events, ordered by workflow.
fn skips_of(pg: &PgStore, ids: &[i64]) -> Result<Vec<SkipRecord>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = pg.query(
        "SELECT event_id, workflow, reason FROM skips WHERE event_id = ANY($1)
          ORDER BY workflow COLLATE \"C\"",
        &[&ids],
    )?;
    rows.iter().map(skip_row).collect()
}

/// The runs of `events`, their params taken from the events, in id order.
fn runs_of(pg: &PgStore, events: &[EventRecord]) -> Result<Vec<RunRecord>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    let rows = pg.query(
        concat!(
            "SELECT ",
            run_columns_own_params!(),
            " FROM runs r WHERE r.event_id = ANY($1)"
        ),
        &[&ids],
    )?;
    runs_of_events(&rows, events)
}

impl PgStore {
    /// Record that workflow `definition_id` did not run on an event (once: a skip recorded
    /// before, by this server or another, stays).
    pub(crate) fn insert_skip(&self, definition_id: i64, skip: &SkipRecord) -> Result<()> {
        self.execute(
            "INSERT INTO skips (event_id, definition_id, workflow, reason) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            &[&skip.event_id, &definition_id, &skip.workflow, &skip.reason],
        )?;
        Ok(())
    }

    /// The skips of one event, ordered by workflow.
    pub(crate) fn skips_of_event(&self, event_id: i64) -> Result<Vec<SkipRecord>> {
        let rows = self.query(
            "SELECT event_id, workflow, reason FROM skips WHERE event_id = $1
              ORDER BY workflow COLLATE \"C\"",
            &[&event_id],
        )?;
        rows.iter().map(skip_row).collect()
    }

    /// The cascade that starts at event `root`.
    pub(crate) fn cascade_of_event(&self, root: i64) -> Result<Cascade> {
        let rows = self.query(
            "WITH RECURSIVE ev(id) AS (
                SELECT $1::bigint
                UNION
                SELECT e.id FROM ev JOIN runs r ON r.event_id = ev.id JOIN events e ON e.parent_run = r.id
            )
            SELECT e.id FROM events e WHERE e.id IN (SELECT id FROM ev) ORDER BY e.id",
            &[&root],
        )?;
        self.cascade(&rows, None)
    }

    /// [`PgStore::cascade_of_event`] for an event the caller holds as it was recorded: its
    /// params are shared from `root`, not read and parsed again.
    pub(crate) fn cascade_of_recorded(&self, root: &EventRecord) -> Result<Cascade> {
        let rows = self.query(
            "WITH RECURSIVE ev(id) AS (
                SELECT $1::bigint
                UNION
                SELECT e.id FROM ev JOIN runs r ON r.event_id = ev.id JOIN events e ON e.parent_run = r.id
            )
            SELECT e.id FROM events e WHERE e.id IN (SELECT id FROM ev) ORDER BY e.id",
            &[&root.id],
        )?;
        self.cascade(&rows, Some(root))
    }

    /// The cascade of the events that run `run_id` emitted (for endpoint calls).
    pub(crate) fn cascade_of_run(&self, run_id: i64) -> Result<Cascade> {
        let rows = self.query(
            "WITH RECURSIVE ev(id) AS (
                SELECT id FROM events WHERE parent_run = $1
                UNION
                SELECT e.id FROM ev JOIN runs r ON r.event_id = ev.id JOIN events e ON e.parent_run = r.id
            )
            SELECT e.id FROM events e WHERE e.id IN (SELECT id FROM ev) ORDER BY e.id",
            &[&run_id],
        )?;
        self.cascade(&rows, None)
    }

    /// The cascade of the events whose ids are `rows` (in id order): the events (`known`
    /// as the caller holds it), their runs and their skips, each read with one statement.
    fn cascade(&self, rows: &[Row], known: Option<&EventRecord>) -> Result<Cascade> {
        let ids = rows
            .iter()
            .map(|r| column::<i64>(r, 0))
            .collect::<Result<Vec<_>>>()?;
        let others: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| known.is_none_or(|k| k.id != *id))
            .collect();
        let mut events = self.events_by_ids(&others)?;
        events.extend(known.filter(|k| ids.contains(&k.id)).cloned());
        events.sort_by_key(|e| e.id);
        // skips event by event (in id order), each event's by workflow, as SQLite gives them
        let mut skipped = skips_of(self, &ids)?;
        skipped.sort_by_key(|s| s.event_id);
        let runs = runs_of(self, &events)?;
        Ok(Cascade {
            events,
            runs,
            skipped,
        })
    }

    /// The newest `limit` events (with their runs and skips) and `limit` runs without an
    /// event.
    pub(crate) fn activity(&self, limit: u32) -> Result<Activity> {
        let events = self.list_events(&EventFilter {
            name: None,
            limit,
            before: None,
        })?;
        // the window's events are the newest ids: their runs and skips in one range each
        let (low, high) = match (events.last(), events.first()) {
            (Some(l), Some(h)) => (l.id, h.id),
            _ => (0, -1),
        };
        let rows = self.query(
            concat!(
                "SELECT ",
                run_columns_own_params!(),
                " FROM runs r WHERE r.event_id BETWEEN $1 AND $2"
            ),
            &[&low, &high],
        )?;
        let runs = runs_of_events(&rows, &events)?;
        let skips = self
            .query(
                "SELECT event_id, workflow, reason FROM skips WHERE event_id BETWEEN $1 AND $2
                  ORDER BY workflow COLLATE \"C\"",
                &[&low, &high],
            )?
            .iter()
            .map(skip_row)
            .collect::<Result<Vec<_>>>()?;
        let limit = i64::from(limit);
        let loose = self.query(
            concat!(
                "SELECT ",
                run_columns!(),
                " FROM runs r WHERE r.event_id IS NULL ORDER BY r.id DESC LIMIT $1"
            ),
            &[&limit],
        )?;
        Ok(Activity {
            events: grouped(events, runs, skips),
            loose_runs: finished_runs(&loose)?,
        })
    }

    /// The activity the studio's filter asks for, from the whole store: the newest `limit`
    /// events whose name contains `filter` or that started a run of a definition whose name
    /// contains it (case aside), each with its runs and skips, and the newest `limit` runs
    /// without an event of such definitions.
    pub(crate) fn activity_matching(&self, filter: &str, limit: u32) -> Result<Activity> {
        let wanted = filter.to_lowercase();
        let matches = |name: &str| name.to_lowercase().contains(&wanted);
        let max = i64::from(limit);
        let mut event_ids: Vec<i64> = Vec::new();
        for name in self.event_names()?.into_iter().filter(|n| matches(n)) {
            let rows = self.query(
                "SELECT id FROM events WHERE name = $1 ORDER BY id DESC LIMIT $2",
                &[&name, &max],
            )?;
            for row in &rows {
                event_ids.push(column(row, 0)?);
            }
        }
        let definitions = self.query("SELECT id, name FROM definitions", &[])?;
        let mut loose_ids: Vec<i64> = Vec::new();
        for row in &definitions {
            let name: &str = column(row, 1)?;
            if !matches(name) {
                continue;
            }
            let id: i64 = column(row, 0)?;
            let runs = self.query(
                "SELECT id, event_id FROM runs WHERE definition_id = $1 ORDER BY id DESC LIMIT $2",
                &[&id, &max],
            )?;
            for run in &runs {
                match column::<Option<i64>>(run, 1)? {
                    Some(e) => event_ids.push(e),
                    None => loose_ids.push(column(run, 0)?),
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
        let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
        let runs = runs_of(self, &events)?;
        let skips = skips_of(self, &ids)?;
        let mut out = Activity {
            events: grouped(events, runs, skips),
            loose_runs: Vec::new(),
        };
        let loose = newest(loose_ids);
        if !loose.is_empty() {
            let rows = self.query(
                concat!(
                    "SELECT ",
                    run_columns!(),
                    " FROM runs r WHERE r.id = ANY($1) ORDER BY r.id DESC"
                ),
                &[&loose],
            )?;
            out.loose_runs = finished_runs(&rows)?;
        }
        Ok(out)
    }

    /// The newest run of a definition (its status and times), if any.
    pub(crate) fn last_run_of(&self, definition_id: i64) -> Result<Option<RunRecord>> {
        let rows = self.query(
            concat!(
                "SELECT ",
                run_columns!(),
                " FROM runs r WHERE r.definition_id = $1 ORDER BY r.id DESC LIMIT 1"
            ),
            &[&definition_id],
        )?;
        Ok(finished_runs(&rows)?.into_iter().next())
    }
}

#[cfg(test)]
mod tests {
    use super::super::runs::tests::workflow_w;
    use super::super::scratch::scratch_store;
    use crate::model::SkipRecord;

    #[test]
    fn the_filter_finds_matches_beyond_the_newest_window() {
        let Some((_db, store)) = scratch_store("the_filter_finds_matches_beyond_the_newest_window")
        else {
            return;
        };
        workflow_w(&store);
        let pg = store.postgres().unwrap();
        // one old `sku_reorder` with its run of `w`, then 300 newer events of another name
        pg.batch(
            "INSERT INTO events (id, name, params, source, emitted_at) VALUES (1, 'sku_reorder', '{\"n\":1}', 'cli', 1);
             INSERT INTO runs (id, definition_id, kind, target, event_id, mode, status, params, queued_at, finished_at)
               VALUES (1, 1, 'workflow', 'w', 1, 'live', 'succeeded', '', 1, 1);
             INSERT INTO runs (id, definition_id, kind, target, mode, status, params, queued_at, finished_at)
               VALUES (2, 1, 'workflow', 'w', 'debug', 'succeeded', '{}', 2, 2);
             INSERT INTO events (id, name, params, source, emitted_at)
               SELECT i, 'hit', '{}', 'cli', i FROM generate_series(2, 301) i;",
        )
        .unwrap();
        let activity = store.activity(100).unwrap();
        assert!(activity.events.iter().all(|e| e.event.name == "hit"));
        assert_eq!(activity.events.len(), 100);
        assert_eq!(activity.events[0].event.id, 301, "newest first");
        assert_eq!(
            activity.loose_runs.iter().map(|r| r.id).collect::<Vec<_>>(),
            [2]
        );
        let found = store.activity_matching("REORDER", 100).unwrap();
        assert_eq!(found.events.len(), 1);
        assert_eq!(found.events[0].event.id, 1);
        assert_eq!(found.events[0].runs.len(), 1, "with its run");
        assert_eq!(
            *found.events[0].runs[0].params,
            serde_json::json!({"n": 1}),
            "its params are its event's"
        );
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
        assert_eq!(store.last_run_of(1).unwrap().unwrap().id, 2);
        assert!(store.last_run_of(2).unwrap().is_none());
    }

    #[test]
    fn skips_are_recorded_once_and_shown_with_their_events() {
        let Some((_db, store)) =
            scratch_store("skips_are_recorded_once_and_shown_with_their_events")
        else {
            return;
        };
        workflow_w(&store);
        let pg = store.postgres().unwrap();
        pg.batch(
            "INSERT INTO definitions (id, kind, name, on_event, draft, draft_source, created_at, updated_at)
               VALUES (2, 'workflow', 'B', 'e', '{}', '{}', 0, 0), (3, 'workflow', 'a', 'e', '{}', '{}', 0, 0);
             INSERT INTO events (id, name, params, source, emitted_at) VALUES (1, 'e', '{}', 'cli', 1);",
        )
        .unwrap();
        let skip = |workflow: &str, reason: &str| SkipRecord {
            event_id: 1,
            workflow: workflow.into(),
            reason: reason.into(),
        };
        store.insert_skip(3, &skip("a", "inactive")).unwrap();
        store.insert_skip(2, &skip("B", "not deployed")).unwrap();
        store.insert_skip(2, &skip("B", "again")).unwrap();
        // by their bytes, as SQLite orders them: upper case first
        assert_eq!(
            store.skips_of_event(1).unwrap(),
            vec![skip("B", "not deployed"), skip("a", "inactive")]
        );
        assert!(store.skips_of_event(2).unwrap().is_empty());
        let activity = store.activity(10).unwrap();
        assert_eq!(activity.events[0].skipped.len(), 2);
        assert_eq!(store.cascade_of_event(1).unwrap().skipped.len(), 2);
    }

    #[test]
    fn a_cascade_follows_the_events_its_runs_emitted() {
        let Some((_db, store)) = scratch_store("a_cascade_follows_the_events_its_runs_emitted")
        else {
            return;
        };
        workflow_w(&store);
        let pg = store.postgres().unwrap();
        // event 1 → run 1 → events 2 and 3 → run 2 (of event 3) → event 4; event 5 apart;
        // an endpoint run 3 emitted event 6 → run 4
        pg.batch(
            "INSERT INTO definitions (id, kind, name, method, path, draft, draft_source, created_at, updated_at)
               VALUES (2, 'endpoint', 'api', 'GET', '/x', '{}', '{}', 0, 0);
             INSERT INTO events (id, name, params, source, emitted_at) VALUES (1, 'e', '{\"root\":1}', 'cli', 1);
             INSERT INTO runs (id, definition_id, kind, target, event_id, mode, status, params, queued_at)
               VALUES (1, 1, 'workflow', 'w', 1, 'live', 'succeeded', '', 1);
             INSERT INTO events (id, name, params, source, parent_run, emitted_at) VALUES
               (2, 'f', '{}', 'run', 1, 2), (3, 'e', '{\"n\":3}', 'run', 1, 3);
             INSERT INTO runs (id, definition_id, kind, target, event_id, mode, status, params, queued_at)
               VALUES (2, 1, 'workflow', 'w', 3, 'live', 'succeeded', '{\"own\":true}', 3);
             INSERT INTO events (id, name, params, source, parent_run, emitted_at) VALUES
               (4, 'g', '{}', 'run', 2, 4), (5, 'e', '{}', 'cli', NULL, 5);
             INSERT INTO runs (id, definition_id, kind, target, mode, status, params, queued_at)
               VALUES (3, 2, 'endpoint', 'api', 'live', 'succeeded', '{}', 6);
             INSERT INTO events (id, name, params, source, parent_run, emitted_at) VALUES (6, 'e', '{}', 'run', 3, 6);
             INSERT INTO runs (id, definition_id, kind, target, event_id, mode, status, params, queued_at)
               VALUES (4, 1, 'workflow', 'w', 6, 'live', 'queued', '', 7);
             INSERT INTO skips (event_id, definition_id, workflow, reason) VALUES (3, 2, 'api', 'x'), (2, 1, 'w', 'y');",
        )
        .unwrap();
        let cascade = store.cascade_of_event(1).unwrap();
        let ids = |c: &crate::store::cascade::Cascade| {
            (
                c.events.iter().map(|e| e.id).collect::<Vec<_>>(),
                c.runs.iter().map(|r| r.id).collect::<Vec<_>>(),
                c.skipped.iter().map(|s| s.event_id).collect::<Vec<_>>(),
            )
        };
        assert_eq!(ids(&cascade), (vec![1, 2, 3, 4], vec![1, 2], vec![2, 3]));
        assert_eq!(*cascade.runs[0].params, serde_json::json!({"root": 1}));
        assert_eq!(*cascade.runs[1].params, serde_json::json!({"own": true}));
        let root = store.event(1).unwrap().unwrap().record;
        assert_eq!(store.cascade_of_recorded(&root).unwrap(), cascade);
        let endpoint = store.cascade_of_run(3).unwrap();
        assert_eq!(ids(&endpoint), (vec![6], vec![4], vec![]));
        assert_eq!(
            ids(&store.cascade_of_event(99).unwrap()),
            (vec![], vec![], vec![])
        );
    }
}
