//! Where a write gets its prepared statements: the one thing the store's writes need of the
//! handle they run on (a leaf: it knows the store and rusqlite, nothing of what is written).

use super::Store;
use rusqlite::Statement;

/// Where a write gets its prepared statements: [`Store`] from rusqlite's cache,
/// [`WriterStore`] from the ones it holds.
pub trait Prepared {
    /// The store (for `last_insert_rowid`, and for statements not worth holding).
    fn store(&self) -> &Store;

    /// Run `f` with the statement for `sql`. `f` executes it to its end (rusqlite resets a
    /// statement when an execution ends) and binds every parameter: a held statement keeps
    /// its last bindings until the next use.
    fn with_statement<R>(
        &self,
        sql: &'static str,
        f: impl FnOnce(&mut Statement<'_>) -> rusqlite::Result<R>,
    ) -> rusqlite::Result<R>;
}

impl Prepared for Store {
    fn store(&self) -> &Store {
        self
    }

    fn with_statement<R>(
        &self,
        sql: &'static str,
        f: impl FnOnce(&mut Statement<'_>) -> rusqlite::Result<R>,
    ) -> rusqlite::Result<R> {
        let mut stmt = self.conn().prepare_cached(sql)?;
        f(&mut stmt)
    }
}
