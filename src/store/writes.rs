//! The hot writes (an event's row, its runs, their start and end, their step records),
//! defined once for both store handles: [`Store`] prepares their statements through
//! rusqlite's cache, the writer thread's [`WriterStore`] holds them prepared for its life.
//! Their SQL and bodies live with their tables (`events`, `runs`, `steps`).

use super::events::{Inserted, NewEvent};
use super::held::WriterStore;
use super::prepared::Prepared;
use super::runs::NewRun;
use super::steps::EncodedSteps;
use super::{Result, Store};
use crate::model::{RunStatus, Timestamp};

/// The writes made for every event and run, on whichever handle holds the statements.
pub trait HotWrites: Prepared + Sized {
    /// Insert an event's row (see [`Inserted`]); the caller builds its record.
    fn insert_event_row(&self, e: &NewEvent<'_>) -> Result<Inserted> {
        super::events::insert_event_row(self, e)
    }

    /// Queue a run. A live run of the same event and workflow that already exists is
    /// returned instead (exactly once in the record); the flag says whether it is new.
    fn insert_run(&self, r: &NewRun<'_>) -> Result<(i64, bool)> {
        super::runs::insert_run(self, r)
    }

    /// Mark a run as running under `owner`'s lease from `at`.
    fn start_run_at(
        &self,
        id: i64,
        at: Timestamp,
        owner: &str,
        lease_expires: Timestamp,
    ) -> Result<()> {
        super::runs::start_run_at(self, id, at, owner, lease_expires)
    }

    /// Record the end of a run. `started_at`: when it started, for a run whose start was
    /// not recorded separately (a fast run's whole life is one write); a start already
    /// recorded is kept.
    fn finish_run_started(
        &self,
        id: i64,
        started_at: Option<Timestamp>,
        status: RunStatus,
        output: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        super::runs::finish_run_started(self, id, started_at, status, output, error)
    }

    /// Record encoded steps of run `run_id`, several rows per statement (one statement's
    /// start and end cost as much as a row).
    fn insert_encoded_steps(&self, run_id: i64, steps: &EncodedSteps) -> Result<()> {
        super::steps::insert_encoded_steps(self, run_id, steps)
    }
}

impl HotWrites for Store {}

impl HotWrites for WriterStore<'_> {}
