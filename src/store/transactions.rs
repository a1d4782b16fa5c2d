//! The write transaction, the same for both rooms: what the writer and
//! [`Store::transaction`] need of it (begin, commit, roll back, a savepoint around a job,
//! whether a failure cost the transaction).
//!
//! SQLite takes its one write lock at `BEGIN IMMEDIATE`; PostgreSQL lets any number of
//! processes write at once, announces a commit to those listening, and gives a transaction
//! up at its first failed statement (a savepoint rolled back to makes it usable again).

use super::{Result, Store, StoreError};

impl Store {
    /// Begin a write transaction.
    pub(crate) fn begin_write(&self) -> Result<()> {
        match self.postgres() {
            Some(pg) => pg.begin(),
            None => self.exec_sqlite("BEGIN IMMEDIATE"),
        }
    }

    /// Commit the open transaction (on failure it is rolled back).
    pub(crate) fn commit_write(&self) -> Result<()> {
        let committed = match self.postgres() {
            Some(pg) => pg.commit(),
            None => self.exec_sqlite("COMMIT"),
        };
        if committed.is_err() {
            self.rollback_write();
        }
        committed
    }

    /// Roll back whatever is open (nothing, when the database already did).
    pub(crate) fn rollback_write(&self) {
        match self.postgres() {
            Some(pg) => pg.rollback(),
            None => {
                if !self.conn().is_autocommit() {
                    let _ = self.conn().execute_batch("ROLLBACK");
                }
            }
        }
        self.forget_cached();
    }

    /// Whether the open transaction was lost to a failure (SQLite rolls back the whole of it
    /// on a full disk; on PostgreSQL a savepoint rolled back to always saves it).
    pub(crate) fn write_lost(&self) -> bool {
        match self.postgres() {
            Some(pg) => !pg.is_in_transaction(),
            None => self.conn().is_autocommit(),
        }
    }

    /// Let a PostgreSQL store send the writes whose answer nobody waits for without
    /// waiting, to be answered at the commit (the writer's fast path), or not (a job run
    /// alone or in a savepoint, whose failure must be its own). SQLite has nothing to wait
    /// for.
    /// `many`: the batch holds many jobs, and the ids of new events and runs may be drawn
    /// ahead in blocks (a process that writes one thing at a time leaves no gaps in them).
    pub(crate) fn pipeline_writes(&self, on: bool, many: bool) {
        if let Some(pg) = self.postgres() {
            pg.set_pipelining(on);
            pg.set_ids_ahead(on && many);
        }
    }

    /// Open a savepoint around one job.
    pub(crate) fn savepoint(&self) -> Result<()> {
        match self.postgres() {
            Some(pg) => pg.batch("SAVEPOINT job"),
            None => self.exec_sqlite("SAVEPOINT job"),
        }
    }

    /// Keep what the job since [`Store::savepoint`] wrote.
    pub(crate) fn release_savepoint(&self) -> Result<()> {
        match self.postgres() {
            Some(pg) => pg.batch("RELEASE job"),
            None => self.exec_sqlite("RELEASE job"),
        }
    }

    /// Undo what the job since [`Store::savepoint`] wrote (the transaction stays usable).
    pub(crate) fn rollback_to_savepoint(&self) -> Result<()> {
        match self.postgres() {
            Some(pg) => pg.rollback_to_job(),
            None => {
                self.exec_sqlite("ROLLBACK TO job")?;
                self.exec_sqlite("RELEASE job")
            }
        }
    }

    /// Run one SQLite statement without parameters, prepared once per connection.
    fn exec_sqlite(&self, sql: &str) -> Result<()> {
        self.conn()
            .prepare_cached(sql)?
            .execute([])
            .map(|_| ())
            .map_err(|e| StoreError::from(e).at(self.path()))
    }
}
