//! The store as the writer thread sees it: the statements written for every event (the
//! event, its runs, their step records, start and end) are held prepared for the thread's
//! life.
//!
//! rusqlite's statement cache, on every use, hashes the SQL, copies it into a new key,
//! takes the statement out of its list and puts it back, and clears its bindings: work on
//! the writer thread, the busiest one, for every record. A held statement is found by the
//! address of its `static` SQL text and only reset.

use super::Store;
use super::prepared::Prepared;
use rusqlite::{PrepFlags, Statement};
use std::cell::RefCell;
use std::ops::Deref;

/// The writer thread's store: a [`Store`] (it derefs to one) whose hot writes run on
/// statements held for as long as it lives.
pub struct WriterStore<'c> {
    store: &'c Store,
    /// Statements by their SQL; a slot is empty while its statement is in use.
    held: RefCell<Vec<(&'static str, Option<Statement<'c>>)>>,
}

impl<'c> WriterStore<'c> {
    /// Hold statements of `store` (prepared on first use).
    pub fn new(store: &'c Store) -> WriterStore<'c> {
        WriterStore {
            store,
            held: RefCell::new(Vec::with_capacity(16)),
        }
    }

    fn take(&self, sql: &'static str) -> Option<Statement<'c>> {
        let mut held = self.held.borrow_mut();
        held.iter_mut()
            .find(|(key, _)| same_sql(key, sql))
            .and_then(|(_, stmt)| stmt.take())
    }

    fn give_back(&self, sql: &'static str, stmt: Statement<'c>) {
        let mut held = self.held.borrow_mut();
        match held.iter_mut().find(|(key, _)| same_sql(key, sql)) {
            Some((_, slot @ None)) => *slot = Some(stmt),
            // a nested use of the same SQL prepared a second one: let it go
            Some((_, Some(_))) => {}
            None => held.push((sql, Some(stmt))),
        }
    }
}

/// The same statement text: the same `static` (one compare), else the same characters.
fn same_sql(a: &str, b: &str) -> bool {
    std::ptr::eq(a, b) || a == b
}

impl Prepared for WriterStore<'_> {
    fn store(&self) -> &Store {
        self.store
    }

    fn with_statement<R>(
        &self,
        sql: &'static str,
        f: impl FnOnce(&mut Statement<'_>) -> rusqlite::Result<R>,
    ) -> rusqlite::Result<R> {
        let mut stmt = match self.take(sql) {
            Some(stmt) => stmt,
            None => self
                .store
                .conn()
                .prepare_with_flags(sql, PrepFlags::SQLITE_PREPARE_PERSISTENT)?,
        };
        let out = f(&mut stmt);
        self.give_back(sql, stmt);
        out
    }
}

impl Deref for WriterStore<'_> {
    type Target = Store;

    fn deref(&self) -> &Store {
        self.store
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::temp_store as store;

    static SQL: &str = "INSERT INTO ui_state (key, value, updated_at) VALUES (?1, ?2, 0)";

    fn rows(store: &Store) -> i64 {
        store
            .conn()
            .query_row("SELECT count(*) FROM ui_state", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_statement_is_prepared_once_and_reused() {
        let (_dir, store) = store();
        let held = WriterStore::new(&store);
        for key in ["a", "b", "c"] {
            held.with_statement(SQL, |s| s.execute([key, "1"])).unwrap();
        }
        assert_eq!(held.held.borrow().len(), 1, "one statement for one text");
        assert_eq!(rows(&store), 3);
    }

    #[test]
    fn a_nested_use_of_the_same_text_gets_its_own_statement() {
        let (_dir, store) = store();
        let held = WriterStore::new(&store);
        held.with_statement(SQL, |outer| {
            held.with_statement(SQL, |inner| inner.execute(["inner", "1"]))?;
            outer.execute(["outer", "1"])
        })
        .unwrap();
        held.with_statement(SQL, |s| s.execute(["after", "1"]))
            .unwrap();
        assert_eq!(rows(&store), 3);
    }

    #[test]
    fn a_failed_statement_is_reset_and_usable_again() {
        let (_dir, store) = store();
        let held = WriterStore::new(&store);
        held.with_statement(SQL, |s| s.execute(["k", "1"])).unwrap();
        let err = held.with_statement(SQL, |s| s.execute(["k", "2"]));
        assert!(err.is_err(), "the primary key refuses a second k");
        held.with_statement(SQL, |s| s.execute(["j", "1"])).unwrap();
    }
}
