//! Runs: queued by the dispatcher, leased by a worker, finished once.

use super::prepared::Prepared;
use super::{Result, Store, json_column, json_column_opt};
use crate::model::{
    DefinitionKind, RunMode, RunRecord, RunStatus, RunTarget, SharedJson, Timestamp,
};
use rusqlite::{OptionalExtension, params};
use std::sync::Arc;

/// A run to queue.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    /// The workflow or endpoint.
    pub definition_id: i64,
    /// Its kind.
    pub kind: DefinitionKind,
    /// Its name or route.
    pub target: &'a str,
    /// The version to run (`None`: the draft).
    pub version: Option<i64>,
    /// The triggering event.
    pub event_id: Option<i64>,
    /// Live, debug or replay.
    pub mode: RunMode,
    /// Parameters as JSON text (encoded by the caller, off the writer thread), or
    /// [`EVENT_PARAMS`] for a run that takes its event's params as they are.
    pub params_json: &'a str,
    /// The process that will run it (`None`: any worker may take it).
    pub lease_owner: Option<&'a str>,
    /// Until when the owner holds it.
    pub lease_expires: Option<Timestamp>,
}

/// Which runs to list.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only runs of this definition.
    pub definition_id: Option<i64>,
    /// Only runs in this state.
    pub status: Option<RunStatus>,
    /// At most this many (newest first).
    pub limit: u32,
    /// Only runs with a smaller id (paging backwards).
    pub before: Option<i64>,
}

/// A run's `params_json` that says "its event's params": an event's runs do not copy what
/// the event's row holds (a payload is stored once), and reading a run back fills them in.
/// No params are ever empty text (they are a JSON object), so it cannot be taken for any.
pub const EVENT_PARAMS: &str = "";

/// The columns a run is read from (with its event's params when it has none of its own).
pub(crate) const RUN_COLUMNS: &str =
    "r.id, r.kind, r.target, r.version, r.event_id, r.mode, r.status,
    CASE r.params WHEN '' THEN (SELECT e.params FROM events e WHERE e.id = r.event_id) ELSE r.params END,
    r.output, r.error, r.queued_at, r.started_at, r.finished_at, r.attempt, r.rerun_of, r.from_step";

/// [`RUN_COLUMNS`] for reads that have the runs' events at hand already (a cascade, the
/// activity log): a run's params as its row holds them, [`EVENT_PARAMS`] where they are its
/// event's, for [`finish_raw_from`] to fill in from the event read once, instead of SQLite
/// copying (and the reader parsing) a large payload again for every run.
pub(crate) const RUN_COLUMNS_OWN_PARAMS: &str =
    "r.id, r.kind, r.target, r.version, r.event_id, r.mode, r.status, r.params,
    r.output, r.error, r.queued_at, r.started_at, r.finished_at, r.attempt, r.rerun_of, r.from_step";

/// A run row before its JSON is parsed: the record, its params' text and its output's.
pub(crate) type RawRun = (RunRecord, String, Option<String>);

pub(crate) fn raw_run(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRun> {
    let kind: String = r.get(1)?;
    let target: String = r.get(2)?;
    let mode: String = r.get(5)?;
    let status: String = r.get(6)?;
    Ok((
        RunRecord {
            id: r.get(0)?,
            target: match DefinitionKind::parse(&kind) {
                Some(DefinitionKind::Endpoint) => RunTarget::Endpoint(target),
                _ => RunTarget::Workflow(target),
            },
            version: r.get(3)?,
            event_id: r.get(4)?,
            mode: RunMode::parse(&mode).unwrap_or(RunMode::Live),
            status: RunStatus::parse(&status).unwrap_or(RunStatus::Failed),
            params: SharedJson::default(),
            output: None,
            error: r.get(9)?,
            queued_at: Timestamp(r.get(10)?),
            started_at: r.get::<_, Option<i64>>(11)?.map(Timestamp),
            finished_at: r.get::<_, Option<i64>>(12)?.map(Timestamp),
            attempt: r.get(13)?,
            rerun_of: r.get(14)?,
            from_step: r.get(15)?,
            steps: None,
        },
        r.get(7)?,
        r.get(8)?,
    ))
}

pub(crate) fn finish_raw(raw: RawRun) -> Result<RunRecord> {
    let (mut run, params, output) = raw;
    run.params = crate::model::LazyJson::shared(json_column(&params, "run params")?);
    run.output = json_column_opt(output, "run output")?;
    Ok(run)
}

/// [`finish_raw`] for a row read with [`RUN_COLUMNS_OWN_PARAMS`]: a run that takes its
/// event's params gets them from `event_params` (its event's, when it has one at hand).
pub(crate) fn finish_raw_from<'e>(
    raw: RawRun,
    event_params: impl Fn(i64) -> Option<&'e SharedJson>,
) -> Result<RunRecord> {
    let (mut run, params, output) = raw;
    run.params = if params == EVENT_PARAMS {
        match run.event_id.and_then(&event_params) {
            Some(p) => Arc::clone(p),
            None => SharedJson::default(),
        }
    } else {
        crate::model::LazyJson::shared(json_column(&params, "run params")?)
    };
    run.output = json_column_opt(output, "run output")?;
    Ok(run)
}

/// The params of the event `id` among `events` (read once for all their runs).
pub(crate) fn params_in<'e>(
    events: &'e [crate::model::EventRecord],
) -> impl Fn(i64) -> Option<&'e SharedJson> + 'e {
    move |id| events.iter().find(|e| e.id == id).map(|e| &e.params)
}

impl Store {
    /// Mark a run as running under `owner`'s lease.
    pub fn start_run(&self, id: i64, owner: &str, lease_expires: Timestamp) -> Result<()> {
        if let Some(pg) = self.postgres() {
            return pg.start_run_at(id, Timestamp::now(), owner, lease_expires);
        }
        start_run_at(self, id, Timestamp::now(), owner, lease_expires)
    }

    /// Set a run's status (for pause and resume).
    pub fn set_run_status(&self, id: i64, status: RunStatus) -> Result<()> {
        if let Some(pg) = self.postgres() {
            return pg.set_run_status(id, status);
        }
        self.conn()
            .prepare_cached("UPDATE runs SET status = ?2 WHERE id = ?1")?
            .execute(params![id, status.as_str()])?;
        Ok(())
    }

    /// One run, without its steps.
    pub fn run(&self, id: i64) -> Result<Option<RunRecord>> {
        if let Some(pg) = self.postgres() {
            return pg.run(id);
        }
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs r WHERE r.id = ?1");
        self.conn()
            .prepare_cached(&sql)?
            .query_row(params![id], raw_run)
            .optional()?
            .map(finish_raw)
            .transpose()
    }

    /// Name the run a rerun runs again, and the step it started at.
    pub fn set_rerun_of(&self, id: i64, of: i64, from_step: Option<&str>) -> Result<()> {
        if let Some(pg) = self.postgres() {
            return pg.set_rerun_of(id, of, from_step);
        }
        self.conn()
            .prepare_cached("UPDATE runs SET rerun_of = ?2, from_step = ?3 WHERE id = ?1")?
            .execute(params![id, of, from_step])?;
        Ok(())
    }

    /// One run with every step record.
    pub fn run_with_steps(&self, id: i64) -> Result<Option<RunRecord>> {
        if let Some(pg) = self.postgres() {
            return pg.run_with_steps(id);
        }
        let Some(mut run) = self.run(id)? else {
            return Ok(None);
        };
        run.steps = Some(self.steps_of(id)?);
        Ok(Some(run))
    }

    /// The runs an event started (without steps), in id order.
    pub fn runs_of_event(&self, event_id: i64) -> Result<Vec<RunRecord>> {
        if let Some(pg) = self.postgres() {
            return pg.runs_of_event(event_id);
        }
        // sorted here: the event's index gives them by definition, and SQLite's sorter
        // would hold every whole row (params and all) at once
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs r WHERE r.event_id = ?1");
        let raw = self
            .conn()
            .prepare_cached(&sql)?
            .query_map(params![event_id], raw_run)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut runs = raw
            .into_iter()
            .map(finish_raw)
            .collect::<Result<Vec<_>>>()?;
        runs.sort_by_key(|r| r.id);
        Ok(runs)
    }

    /// Runs, newest first. A workflow's runs are read through its index (`?1 IS NULL OR
    /// definition_id = ?1` in one statement for both cases would read the whole table
    /// backwards instead, for a workflow with few runs).
    pub fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>> {
        if let Some(pg) = self.postgres() {
            return pg.list_runs(filter);
        }
        let status = filter.status.map(RunStatus::as_str);
        let before = filter.before.unwrap_or(i64::MAX);
        let mut stmt = self
            .conn()
            .prepare_cached(&list_runs_sql(filter.definition_id.is_some()))?;
        let raw = match filter.definition_id {
            Some(id) => stmt.query_map(params![id, status, before, filter.limit], raw_run)?,
            None => stmt.query_map(params![status, before, filter.limit], raw_run)?,
        }
        .collect::<rusqlite::Result<Vec<_>>>()?;
        raw.into_iter().map(finish_raw).collect()
    }
}

/// [`Store::list_runs`]' SQL: with a workflow (`?1`) or without; then the status, the id
/// bound and the limit.
fn list_runs_sql(of_workflow: bool) -> String {
    if of_workflow {
        format!(
            "SELECT {RUN_COLUMNS} FROM runs r
              WHERE r.definition_id = ?1 AND r.id < ?3 AND (?2 IS NULL OR r.status = ?2)
              ORDER BY r.id DESC LIMIT ?4"
        )
    } else {
        format!(
            "SELECT {RUN_COLUMNS} FROM runs r WHERE r.id < ?2 AND (?1 IS NULL OR r.status = ?1)
              ORDER BY r.id DESC LIMIT ?3"
        )
    }
}
/// The SQL of [`insert_run`] (`static`s: held statements are found by their address).
static INSERT_RUN: &str =
    "INSERT INTO runs (definition_id, kind, target, version, event_id, mode, status, params,
        lease_owner, lease_expires, queued_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?8, ?9, ?10)";
static START_RUN: &str =
    "UPDATE runs SET status = 'running', started_at = coalesce(started_at, ?2),
        lease_owner = ?3, lease_expires = ?4 WHERE id = ?1";
static FINISH_RUN: &str = "UPDATE runs SET status = ?2, output = ?3, error = ?4, finished_at = ?5,
        started_at = coalesce(started_at, ?6), lease_owner = NULL, lease_expires = NULL
      WHERE id = ?1";

/// [`Store::insert_run`] with statements from `db`.
pub(crate) fn insert_run(db: &impl Prepared, r: &NewRun<'_>) -> Result<(i64, bool)> {
    if let Some(pg) = db.store().postgres() {
        return pg.insert_run(r);
    }
    // a plain INSERT (an upsert clause costs more on every run); the rare second run of an
    // (event, workflow) pair fails the unique index and finds the first
    let inserted = db.with_statement(INSERT_RUN, |stmt| {
        stmt.execute(params![
            r.definition_id,
            r.kind.as_str(),
            r.target,
            r.version,
            r.event_id,
            r.mode.as_str(),
            r.params_json,
            r.lease_owner,
            r.lease_expires.map(|t| t.0),
            Timestamp::now().0
        ])
    });
    let conn = db.store().conn();
    match inserted {
        Ok(_) => Ok((conn.last_insert_rowid(), true)),
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) => {
            let existing: Option<i64> = conn
                .prepare_cached("SELECT id FROM runs WHERE event_id = ?1 AND definition_id = ?2")?
                .query_row(params![r.event_id, r.definition_id], |row| row.get(0))
                .optional()?;
            match existing {
                Some(id) if r.event_id.is_some() => Ok((id, false)),
                _ => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// [`Store::start_run_at`] with statements from `db`.
pub(crate) fn start_run_at(
    db: &impl Prepared,
    id: i64,
    at: Timestamp,
    owner: &str,
    lease_expires: Timestamp,
) -> Result<()> {
    if let Some(pg) = db.store().postgres() {
        return pg.start_run_at(id, at, owner, lease_expires);
    }
    db.with_statement(START_RUN, |stmt| {
        stmt.execute(params![id, at.0, owner, lease_expires.0])
    })?;
    Ok(())
}

/// [`Store::finish_run_started`] with statements from `db`.
pub(crate) fn finish_run_started(
    db: &impl Prepared,
    id: i64,
    started_at: Option<Timestamp>,
    status: RunStatus,
    output: Option<&str>,
    error: Option<&str>,
) -> Result<()> {
    if let Some(pg) = db.store().postgres() {
        return pg.finish_run_started(id, started_at, status, output, error);
    }
    db.with_statement(FINISH_RUN, |stmt| {
        stmt.execute(params![
            id,
            status.as_str(),
            output,
            error,
            Timestamp::now().0,
            started_at.map(|t| t.0)
        ])
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::HotWrites;
    use crate::store::events::NewEvent;
    use crate::store::testing::{temp_store, workflow_w};
    use serde_json::json;

    /// An event's runs hold no copy of its params, and every way of reading a run back
    /// (by id, by event, a list, a claim) fills them in from the event.
    #[test]
    fn an_events_runs_read_its_params_from_the_event_row() {
        let (_d, store) = temp_store();
        workflow_w(&store);
        let params = json!({"sku": 7, "note": "once"});
        let params_json = crate::model::json_text(&params);
        let (event, _) = store
            .insert_event(&NewEvent {
                name: "e",
                params: &params,
                params_json: &params_json,
                source: "test",
                parent_run: None,
                depth: 0,
                chain: &[],
                draft: false,
                dedup_key: None,
            })
            .unwrap();
        let new_run = |params_json| NewRun {
            definition_id: 1,
            kind: DefinitionKind::Workflow,
            target: "w",
            version: None,
            event_id: Some(event.record.id),
            mode: RunMode::Live,
            params_json,
            lease_owner: None,
            lease_expires: None,
        };
        let (shared, _) = store.insert_run(&new_run(EVENT_PARAMS)).unwrap();
        let stored: String = store
            .conn()
            .query_row("SELECT params FROM runs WHERE id = ?1", [shared], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(stored, EVENT_PARAMS, "the run's row copies nothing");
        assert_eq!(*store.run(shared).unwrap().unwrap().params, params);
        assert_eq!(
            *store.runs_of_event(event.record.id).unwrap()[0].params,
            params
        );
        let listed = store
            .list_runs(&RunFilter {
                limit: 10,
                ..RunFilter::default()
            })
            .unwrap();
        assert_eq!(*listed[0].params, params);
        let claimed = store
            .claim_runs("me", Timestamp(1), Timestamp(2), 10)
            .unwrap();
        assert_eq!(*claimed[0].params, params);
    }

    #[test]
    fn runs_are_listed_newest_first_by_workflow_status_and_page() {
        let (_d, store) = temp_store();
        workflow_w(&store);
        store
            .conn()
            .execute_batch(
                "INSERT INTO definitions (id, kind, name, on_event, draft, draft_source, created_at, updated_at)
                   VALUES (2, 'workflow', 'v', 'e', '{}', '{}', 0, 0);
                 INSERT INTO runs (id, definition_id, kind, target, mode, status, params, queued_at) VALUES
                   (1, 1, 'workflow', 'w', 'debug', 'succeeded', '{}', 0),
                   (2, 2, 'workflow', 'v', 'debug', 'failed', '{}', 0),
                   (3, 1, 'workflow', 'w', 'debug', 'failed', '{}', 0),
                   (4, 2, 'workflow', 'v', 'debug', 'succeeded', '{}', 0),
                   (5, 1, 'workflow', 'w', 'debug', 'succeeded', '{}', 0);",
            )
            .unwrap();
        let list = |definition_id: Option<i64>,
                    status: Option<RunStatus>,
                    before: Option<i64>,
                    limit: u32| {
            store
                .list_runs(&RunFilter {
                    definition_id,
                    status,
                    limit,
                    before,
                })
                .unwrap()
                .iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(list(None, None, None, 10), vec![5, 4, 3, 2, 1]);
        assert_eq!(list(None, None, Some(4), 2), vec![3, 2]);
        assert_eq!(list(None, Some(RunStatus::Failed), None, 10), vec![3, 2]);
        assert_eq!(list(Some(1), None, None, 10), vec![5, 3, 1]);
        assert_eq!(list(Some(1), None, Some(5), 1), vec![3]);
        assert_eq!(
            list(Some(1), Some(RunStatus::Succeeded), None, 10),
            vec![5, 1]
        );
        assert_eq!(
            list(Some(2), Some(RunStatus::Failed), Some(2), 10),
            Vec::<i64>::new()
        );
        // a workflow's runs come from its index, not from the whole table read backwards
        let plan: String = store
            .conn()
            .query_row(
                &format!("EXPLAIN QUERY PLAN {}", list_runs_sql(true)),
                params![1, None::<String>, i64::MAX, 10],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("runs_definition"), "{plan}");
    }
}
