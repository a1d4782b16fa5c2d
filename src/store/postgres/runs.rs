//! Runs on PostgreSQL (the SQLite room's `store::runs`, the same record): queued once per
//! (event, workflow) even when several servers dispatch the same event, started, finished.

use super::pipeline::{Bulk, Ids, Param};
use super::{PgStore, column};
use crate::model::{
    DefinitionKind, RunMode, RunRecord, RunStatus, RunTarget, SharedJson, Timestamp,
};
use crate::store::runs::{NewRun, RawRun, RunFilter, finish_raw};
use crate::store::{Result, StoreError};
use std::collections::HashMap;
use tokio_postgres::Row;

/// The columns a run is read from, `r` being the run (with its event's params when it has
/// none of its own): the SQLite room's `RUN_COLUMNS`, for [`raw_run`].
macro_rules! run_columns {
    () => {
        "r.id, r.kind, r.target, r.version, r.event_id, r.mode, r.status,
        CASE r.params WHEN '' THEN (SELECT e.params FROM events e WHERE e.id = r.event_id) ELSE r.params END,
        r.output, r.error, r.queued_at, r.started_at, r.finished_at, r.attempt, r.rerun_of, r.from_step"
    };
}
pub(crate) use run_columns;

/// [`run_columns!`] with a run's params as its row holds them (`EVENT_PARAMS` where they
/// are its event's), for `finish_raw_from` to fill in from events read once: the SQLite
/// room's `RUN_COLUMNS_OWN_PARAMS`.
macro_rules! run_columns_own_params {
    () => {
        "r.id, r.kind, r.target, r.version, r.event_id, r.mode, r.status, r.params,
        r.output, r.error, r.queued_at, r.started_at, r.finished_at, r.attempt, r.rerun_of, r.from_step"
    };
}
pub(crate) use run_columns_own_params;

/// A run row (selected with [`run_columns!`] or [`run_columns_own_params!`]) before its
/// JSON is parsed: what the SQLite room's `raw_run` gives, for `finish_raw` and
/// `finish_raw_from`.
pub(crate) fn raw_run(r: &Row) -> Result<RawRun> {
    let kind: &str = column(r, 1)?;
    let target: String = column(r, 2)?;
    let mode: &str = column(r, 5)?;
    let status: &str = column(r, 6)?;
    let attempt: i64 = column(r, 13)?;
    Ok((
        RunRecord {
            id: column(r, 0)?,
            target: match DefinitionKind::parse(kind) {
                Some(DefinitionKind::Endpoint) => RunTarget::Endpoint(target),
                _ => RunTarget::Workflow(target),
            },
            version: column(r, 3)?,
            event_id: column(r, 4)?,
            mode: RunMode::parse(mode).unwrap_or(RunMode::Live),
            status: RunStatus::parse(status).unwrap_or(RunStatus::Failed),
            params: SharedJson::default(),
            output: None,
            error: column(r, 9)?,
            queued_at: Timestamp(column(r, 10)?),
            started_at: column::<Option<i64>>(r, 11)?.map(Timestamp),
            finished_at: column::<Option<i64>>(r, 12)?.map(Timestamp),
            attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
            rerun_of: column(r, 14)?,
            from_step: column(r, 15)?,
            steps: None,
        },
        column(r, 7)?,
        column(r, 8)?,
    ))
}

/// Runs of rows selected with [`run_columns!`], in the rows' order.
pub(crate) fn finished_runs(rows: &[Row]) -> Result<Vec<RunRecord>> {
    rows.iter()
        .map(|r| raw_run(r).and_then(finish_raw))
        .collect()
}

/// New runs kept for one statement (see [`super::pipeline`]), column by column: what the
/// single-row insert writes (status `'queued'`), the others left to their defaults.
#[derive(Default)]
pub(crate) struct RunRows {
    id: Vec<i64>,
    definition_id: Vec<i64>,
    kind: Vec<&'static str>,
    target: Vec<String>,
    version: Vec<Option<i64>>,
    event_id: Vec<Option<i64>>,
    mode: Vec<&'static str>,
    params: Vec<String>,
    lease_owner: Vec<Option<String>>,
    lease_expires: Vec<Option<i64>>,
    queued_at: Vec<i64>,
}

impl Bulk for RunRows {
    const SQL: &'static str = "INSERT INTO runs (id, definition_id, kind, target, version, event_id, mode, status, params,
            lease_owner, lease_expires, queued_at)
         SELECT u.id, u.definition_id, u.kind, u.target, u.version, u.event_id, u.mode, 'queued',
                u.params, u.lease_owner, u.lease_expires, u.queued_at
           FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],
                       $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[])
                AS u(id, definition_id, kind, target, version, event_id, mode, params,
                     lease_owner, lease_expires, queued_at)";

    fn len(&self) -> usize {
        self.id.len()
    }

    fn into_params(self) -> Vec<Param> {
        vec![
            Box::new(self.id),
            Box::new(self.definition_id),
            Box::new(self.kind),
            Box::new(self.target),
            Box::new(self.version),
            Box::new(self.event_id),
            Box::new(self.mode),
            Box::new(self.params),
            Box::new(self.lease_owner),
            Box::new(self.lease_expires),
            Box::new(self.queued_at),
        ]
    }
}

impl RunRows {
    /// Keep run `r` under `id`, queued at `queued_at`.
    fn push(&mut self, id: i64, r: &NewRun<'_>, queued_at: Timestamp) {
        self.id.push(id);
        self.definition_id.push(r.definition_id);
        self.kind.push(r.kind.as_str());
        self.target.push(r.target.to_string());
        self.version.push(r.version);
        self.event_id.push(r.event_id);
        self.mode.push(r.mode.as_str());
        self.params.push(r.params_json.to_string());
        self.lease_owner.push(r.lease_owner.map(str::to_string));
        self.lease_expires.push(r.lease_expires.map(|t| t.0));
        self.queued_at.push(queued_at.0);
    }
}

/// Run starts kept for one `UPDATE` (see [`super::pipeline`]): one row per run, so that
/// the statement never meets a run twice. Two starts of a run make one that does what the
/// two did one after the other: the first's time (a start recorded is kept), the last's
/// lease.
#[derive(Default)]
pub(crate) struct StartRows {
    /// Where each run's row is.
    at_row: HashMap<i64, usize>,
    id: Vec<i64>,
    at: Vec<i64>,
    owner: Vec<String>,
    lease_expires: Vec<i64>,
}

impl Bulk for StartRows {
    const SQL: &'static str =
        "UPDATE runs SET status = 'running', started_at = coalesce(runs.started_at, u.at),
            lease_owner = u.owner, lease_expires = u.lease_expires
           FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[])
                AS u(id, at, owner, lease_expires)
          WHERE runs.id = u.id";

    fn len(&self) -> usize {
        self.id.len()
    }

    fn into_params(self) -> Vec<Param> {
        vec![
            Box::new(self.id),
            Box::new(self.at),
            Box::new(self.owner),
            Box::new(self.lease_expires),
        ]
    }
}

impl StartRows {
    /// Keep the start of run `id` at `at` under `owner`'s lease until `lease_expires`.
    fn push(&mut self, id: i64, at: Timestamp, owner: &str, lease_expires: Timestamp) {
        if let Some(&i) = self.at_row.get(&id)
            && let (Some(o), Some(l)) = (self.owner.get_mut(i), self.lease_expires.get_mut(i))
        {
            // the earlier start's time stays (coalesce), the lease is the later one's
            owner.clone_into(o);
            *l = lease_expires.0;
            return;
        }
        self.at_row.insert(id, self.id.len());
        self.id.push(id);
        self.at.push(at.0);
        self.owner.push(owner.to_string());
        self.lease_expires.push(lease_expires.0);
    }
}

/// Run ends kept for one `UPDATE` (see [`super::pipeline`]): one row per run. Two ends of
/// a run make one that does what the two did one after the other: the last's status,
/// output, error and time, the first start time given (a start recorded is kept).
#[derive(Default)]
pub(crate) struct FinishRows {
    /// Where each run's row is.
    at_row: HashMap<i64, usize>,
    id: Vec<i64>,
    status: Vec<&'static str>,
    output: Vec<Option<String>>,
    error: Vec<Option<String>>,
    finished_at: Vec<i64>,
    started_at: Vec<Option<i64>>,
}

impl Bulk for FinishRows {
    const SQL: &'static str =
        "UPDATE runs SET status = u.status, output = u.output, error = u.error,
            finished_at = u.finished_at, started_at = coalesce(runs.started_at, u.started_at),
            lease_owner = NULL, lease_expires = NULL
           FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])
                AS u(id, status, output, error, finished_at, started_at)
          WHERE runs.id = u.id";

    fn len(&self) -> usize {
        self.id.len()
    }

    fn into_params(self) -> Vec<Param> {
        vec![
            Box::new(self.id),
            Box::new(self.status),
            Box::new(self.output),
            Box::new(self.error),
            Box::new(self.finished_at),
            Box::new(self.started_at),
        ]
    }
}

impl FinishRows {
    /// Whether an end of run `id` is kept.
    pub(crate) fn has(&self, id: i64) -> bool {
        self.at_row.contains_key(&id)
    }

    /// Keep the end of run `id` (see [`PgStore::finish_run_started`]), at `finished_at`.
    fn push(
        &mut self,
        id: i64,
        started_at: Option<Timestamp>,
        status: RunStatus,
        output: Option<&str>,
        error: Option<&str>,
        finished_at: Timestamp,
    ) {
        let started_at = started_at.map(|t| t.0);
        if let Some(&i) = self.at_row.get(&id)
            && i < self.id.len()
        {
            self.status[i] = status.as_str();
            self.output[i] = output.map(str::to_string);
            self.error[i] = error.map(str::to_string);
            self.finished_at[i] = finished_at.0;
            // coalesce(coalesce(started_at, first), second): the first given
            self.started_at[i] = self.started_at[i].or(started_at);
            return;
        }
        self.at_row.insert(id, self.id.len());
        self.id.push(id);
        self.status.push(status.as_str());
        self.output.push(output.map(str::to_string));
        self.error.push(error.map(str::to_string));
        self.finished_at.push(finished_at.0);
        self.started_at.push(started_at);
    }
}

impl PgStore {
    /// Queue a run. A run of the same event and workflow that exists already (another
    /// server dispatched the event too) is returned instead: the unique index decides, and
    /// the flag says whether the run is new.
    pub(crate) fn insert_run(&self, r: &NewRun<'_>) -> Result<(i64, bool)> {
        if r.lease_owner.is_none() {
            // a run nobody holds: idle servers hear of it at the commit
            self.note_queued();
        }
        let lease_expires = r.lease_expires.map(|t| t.0);
        let fresh = r.event_id.is_none_or(|e| self.is_fresh_event(e));
        if fresh && self.defers_writes() {
            // a run of an event this transaction inserted (or of none) cannot exist yet:
            // kept with an id of its own, for the flush
            let id = self.next_id(Ids::Runs)?;
            self.with_buffered(|b| {
                b.runs.push(id, r, Timestamp::now());
                b.run_ids.insert(id);
            });
            return Ok((id, true));
        }
        // the existing run is read after the insert gave way to it; one removed in between
        // (a prune) lets the next try insert
        for _ in 0..3 {
            let inserted = self.query_opt(
                "INSERT INTO runs (definition_id, kind, target, version, event_id, mode, status, params,
                    lease_owner, lease_expires, queued_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9, $10)
                 ON CONFLICT (event_id, definition_id) WHERE event_id IS NOT NULL DO NOTHING
                 RETURNING id",
                &[
                    &r.definition_id,
                    &r.kind.as_str(),
                    &r.target,
                    &r.version,
                    &r.event_id,
                    &r.mode.as_str(),
                    &r.params_json,
                    &r.lease_owner,
                    &lease_expires,
                    &Timestamp::now().0,
                ],
            )?;
            if let Some(row) = inserted {
                return Ok((column(&row, 0)?, true));
            }
            let existing = self.query_opt(
                "SELECT id FROM runs WHERE event_id = $1 AND definition_id = $2",
                &[&r.event_id, &r.definition_id],
            )?;
            if let Some(row) = existing {
                return Ok((column(&row, 0)?, false));
            }
        }
        Err(StoreError::Commit(format!(
            "the run of event {:?} by definition {} was removed each time it was being queued; try again",
            r.event_id, r.definition_id
        )))
    }

    /// Mark a run as running under `owner`'s lease from `at` (a start recorded before is
    /// kept).
    pub(crate) fn start_run_at(
        &self,
        id: i64,
        at: Timestamp,
        owner: &str,
        lease_expires: Timestamp,
    ) -> Result<()> {
        if self.defers_writes() {
            // an end kept before it is written first: this start comes after it
            if self.with_buffered(|b| b.finishes.has(id)) {
                self.flush()?;
            }
            self.with_buffered(|b| b.starts.push(id, at, owner, lease_expires));
            return Ok(());
        }
        self.execute(
            "UPDATE runs SET status = 'running', started_at = coalesce(started_at, $2),
                lease_owner = $3, lease_expires = $4 WHERE id = $1",
            &[&id, &at.0, &owner, &lease_expires.0],
        )?;
        Ok(())
    }

    /// Record the end of a run (its lease goes); `started_at` for a run whose start was
    /// not recorded separately.
    pub(crate) fn finish_run_started(
        &self,
        id: i64,
        started_at: Option<Timestamp>,
        status: RunStatus,
        output: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        let finished_at = Timestamp::now();
        if self.defers_writes() {
            self.with_buffered(|b| {
                b.finishes
                    .push(id, started_at, status, output, error, finished_at);
            });
            return Ok(());
        }
        self.execute(
            "UPDATE runs SET status = $2, output = $3, error = $4, finished_at = $5,
                started_at = coalesce(started_at, $6), lease_owner = NULL, lease_expires = NULL
              WHERE id = $1",
            &[
                &id,
                &status.as_str(),
                &output,
                &error,
                &finished_at.0,
                &started_at.map(|t| t.0),
            ],
        )?;
        Ok(())
    }

    /// Set a run's status (for pause and resume).
    pub(crate) fn set_run_status(&self, id: i64, status: RunStatus) -> Result<()> {
        self.execute(
            "UPDATE runs SET status = $2 WHERE id = $1",
            &[&id, &status.as_str()],
        )?;
        Ok(())
    }

    /// One run, without its steps.
    pub(crate) fn run(&self, id: i64) -> Result<Option<RunRecord>> {
        self.query_opt(
            concat!("SELECT ", run_columns!(), " FROM runs r WHERE r.id = $1"),
            &[&id],
        )?
        .as_ref()
        .map(|r| raw_run(r).and_then(finish_raw))
        .transpose()
    }

    /// One run with every step record (read by the steps' room, `postgres::steps`).
    pub(crate) fn run_with_steps(&self, id: i64) -> Result<Option<RunRecord>> {
        let Some(mut run) = self.run(id)? else {
            return Ok(None);
        };
        run.steps = Some(self.steps_of(id)?);
        Ok(Some(run))
    }

    /// Name the run a rerun runs again, and the step it started at.
    pub(crate) fn set_rerun_of(&self, id: i64, of: i64, from_step: Option<&str>) -> Result<()> {
        self.execute(
            "UPDATE runs SET rerun_of = $2, from_step = $3 WHERE id = $1",
            &[&id, &of, &from_step],
        )?;
        Ok(())
    }

    /// The runs an event started (without steps), in id order.
    pub(crate) fn runs_of_event(&self, event_id: i64) -> Result<Vec<RunRecord>> {
        let rows = self.query(
            concat!(
                "SELECT ",
                run_columns!(),
                " FROM runs r WHERE r.event_id = $1 ORDER BY r.id"
            ),
            &[&event_id],
        )?;
        finished_runs(&rows)
    }

    /// Runs, newest first; a workflow's through its index.
    pub(crate) fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>> {
        let status = filter.status.map(RunStatus::as_str);
        let before = filter.before.unwrap_or(i64::MAX);
        let limit = i64::from(filter.limit);
        let rows = match filter.definition_id {
            Some(id) => self.query(
                concat!(
                    "SELECT ",
                    run_columns!(),
                    " FROM runs r
                      WHERE r.definition_id = $1 AND r.id < $3 AND ($2::text IS NULL OR r.status = $2)
                      ORDER BY r.id DESC LIMIT $4"
                ),
                &[&id, &status, &before, &limit],
            )?,
            None => self.query(
                concat!(
                    "SELECT ",
                    run_columns!(),
                    " FROM runs r WHERE r.id < $2 AND ($1::text IS NULL OR r.status = $1)
                      ORDER BY r.id DESC LIMIT $3"
                ),
                &[&status, &before, &limit],
            )?,
        };
        finished_runs(&rows)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::column;
    use super::super::scratch::scratch_store;
    use crate::model::{DefinitionKind, RunMode, RunStatus, Timestamp};
    use crate::store::events::NewEvent;
    use crate::store::runs::{EVENT_PARAMS, NewRun, RunFilter};
    use crate::store::{HotWrites, Store};
    use serde_json::json;
    use std::path::Path;

    /// Definition 1: workflow `w`, listening to `e` (a parent for runs written by hand).
    pub(crate) fn workflow_w(store: &Store) {
        store
            .postgres()
            .unwrap()
            .batch(
                "INSERT INTO definitions (id, kind, name, on_event, draft, draft_source, created_at, updated_at)
                   VALUES (1, 'workflow', 'w', 'e', '{}', '{}', 0, 0)",
            )
            .unwrap();
    }

    /// An event named `e` with `params`; its id.
    pub(crate) fn event(store: &Store, params: &serde_json::Value) -> i64 {
        let params_json = crate::model::json_text(params);
        store
            .insert_event(&NewEvent {
                name: "e",
                params,
                params_json: &params_json,
                source: "test",
                parent_run: None,
                depth: 0,
                chain: &[],
                draft: false,
                dedup_key: None,
            })
            .unwrap()
            .0
            .record
            .id
    }

    /// A live run of workflow 1 on `event_id` that takes its event's params.
    pub(crate) fn new_run(event_id: Option<i64>) -> NewRun<'static> {
        NewRun {
            definition_id: 1,
            kind: DefinitionKind::Workflow,
            target: "w",
            version: None,
            event_id,
            mode: RunMode::Live,
            params_json: if event_id.is_some() {
                EVENT_PARAMS
            } else {
                "{}"
            },
            lease_owner: None,
            lease_expires: None,
        }
    }

    #[test]
    fn an_events_runs_read_its_params_from_the_event_row() {
        let Some((_db, store)) = scratch_store("an_events_runs_read_its_params_from_the_event_row")
        else {
            return;
        };
        workflow_w(&store);
        let params = json!({"sku": 7, "note": "once"});
        let event = event(&store, &params);
        let (shared, new) = store.insert_run(&new_run(Some(event))).unwrap();
        assert!(new);
        let stored: String = column(
            &store
                .postgres()
                .unwrap()
                .query_one("SELECT params FROM runs WHERE id = $1", &[&shared])
                .unwrap(),
            0,
        )
        .unwrap();
        assert_eq!(stored, EVENT_PARAMS, "the run's row copies nothing");
        let run = store.run(shared).unwrap().unwrap();
        assert_eq!(*run.params, params);
        assert_eq!(run.status, RunStatus::Queued);
        assert_eq!(run.attempt, 1);
        assert_eq!(*store.runs_of_event(event).unwrap()[0].params, params);
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
        assert!(store.run(shared + 100).unwrap().is_none());
    }

    #[test]
    fn a_run_is_started_finished_paused_and_named_a_rerun() {
        let Some((_db, store)) =
            scratch_store("a_run_is_started_finished_paused_and_named_a_rerun")
        else {
            return;
        };
        workflow_w(&store);
        let (first, _) = store.insert_run(&new_run(None)).unwrap();
        let (id, new) = store.insert_run(&new_run(None)).unwrap();
        assert!(new, "runs without an event are never the same run");
        assert_ne!(first, id);
        store
            .start_run_at(id, Timestamp(5), "me", Timestamp(50))
            .unwrap();
        let run = store.run(id).unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Running);
        assert_eq!(run.started_at, Some(Timestamp(5)));
        store.set_run_status(id, RunStatus::Paused).unwrap();
        assert_eq!(store.run(id).unwrap().unwrap().status, RunStatus::Paused);
        store
            .finish_run_started(
                id,
                Some(Timestamp(1)),
                RunStatus::Succeeded,
                Some(r#"{"ok":true}"#),
                None,
            )
            .unwrap();
        let run = store.run(id).unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Succeeded);
        assert_eq!(
            run.started_at,
            Some(Timestamp(5)),
            "the recorded start stays"
        );
        assert_eq!(run.output, Some(json!({"ok": true})));
        assert!(run.finished_at.is_some());
        let owners: (Option<String>, Option<i64>) = {
            let row = store
                .postgres()
                .unwrap()
                .query_one(
                    "SELECT lease_owner, lease_expires FROM runs WHERE id = $1",
                    &[&id],
                )
                .unwrap();
            (column(&row, 0).unwrap(), column(&row, 1).unwrap())
        };
        assert_eq!(owners, (None, None), "its lease went with its end");
        // a fast run whose start goes with its end
        store
            .finish_run_started(
                first,
                Some(Timestamp(3)),
                RunStatus::Failed,
                None,
                Some("no"),
            )
            .unwrap();
        let run = store.run(first).unwrap().unwrap();
        assert_eq!(run.started_at, Some(Timestamp(3)));
        assert_eq!(run.error.as_deref(), Some("no"));
        store.set_rerun_of(id, first, Some("b")).unwrap();
        let rerun = store.run(id).unwrap().unwrap();
        assert_eq!(
            (rerun.rerun_of, rerun.from_step.as_deref()),
            (Some(first), Some("b"))
        );
        let with_steps = store.run_with_steps(id).unwrap().unwrap();
        assert_eq!(with_steps.steps, Some(Vec::new()));
        assert!(store.run_with_steps(id + 100).unwrap().is_none());
    }

    #[test]
    fn runs_are_listed_newest_first_by_workflow_status_and_page() {
        let Some((_db, store)) =
            scratch_store("runs_are_listed_newest_first_by_workflow_status_and_page")
        else {
            return;
        };
        workflow_w(&store);
        store
            .postgres()
            .unwrap()
            .batch(
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
    }

    #[test]
    fn one_run_per_event_and_workflow_from_two_connections() {
        let Some((db, store)) =
            scratch_store("one_run_per_event_and_workflow_from_two_connections")
        else {
            return;
        };
        workflow_w(&store);
        let event = event(&store, &json!({}));
        // the same run queued again on one connection is the first
        let (first, new) = store.insert_run(&new_run(Some(event))).unwrap();
        assert!(new);
        assert_eq!(
            store.insert_run(&new_run(Some(event))).unwrap(),
            (first, false)
        );
        // two servers dispatching one event at once: each in a transaction, the second
        // waits on the first's row and finds it, never an error
        let other_event = self::event(&store, &json!({}));
        let barrier = std::sync::Barrier::new(2);
        let got: Vec<(i64, bool)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    let barrier = &barrier;
                    let url = db.url().to_string();
                    s.spawn(move || {
                        let mut store = Store::open(Path::new(&url)).unwrap();
                        store
                            .transaction(|s| {
                                barrier.wait();
                                let got = s.insert_run(&new_run(Some(other_event)))?;
                                std::thread::sleep(std::time::Duration::from_millis(50));
                                Ok(got)
                            })
                            .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(got[0].0, got[1].0, "one run: {got:?}");
        assert_eq!(
            got.iter().filter(|(_, new)| *new).count(),
            1,
            "one of them made it: {got:?}"
        );
        assert_eq!(store.runs_of_event(other_event).unwrap().len(), 1);
    }
}
