//! Group commit on PostgreSQL: writes whose answer nobody waits for are sent at once and
//! answered at the commit, so that a batch of events costs a few round trips, not one per
//! row. A write's statement goes out on the connection as it is made (tokio-postgres sends
//! a request on its first poll, and answers come back in order), and the transaction's
//! commit first collects every answer: one failure refuses the commit, as a failed
//! statement would have.
//!
//! The ids of new events and runs come from blocks taken from their sequences ahead of
//! time, so that inserting one needs no answer either. Ids stay unique; across servers they
//! are no longer in the order of insertion (each server draws from its own block).

use super::{PgStore, wait};
use crate::store::{Result, StoreError};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use tokio_postgres::types::ToSql;

/// A value a deferred write binds (owned: the write outlives its caller's borrows).
pub(crate) type Param = Box<dyn ToSql + Sync + Send>;

/// A write sent and not yet answered.
pub(crate) type Pending =
    Pin<Box<dyn Future<Output = std::result::Result<u64, tokio_postgres::Error>> + Send>>;

/// Ids taken from a sequence at once.
const ID_BLOCK: i64 = 64;

/// Ids taken ahead of time, per table.
#[derive(Debug, Default)]
pub(crate) struct IdBlocks {
    events: VecDeque<i64>,
    runs: VecDeque<i64>,
}

/// A table whose ids come from blocks.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ids {
    /// `events.id`
    Events,
    /// `runs.id`
    Runs,
}

impl PgStore {
    /// Send `sql` with `params` now; its answer is collected at the commit (or by
    /// [`PgStore::settle`]). Outside a transaction it runs at once.
    pub(crate) fn execute_deferred(&self, sql: &'static str, params: Vec<Param>) -> Result<()> {
        let statement = self.statement(sql)?;
        if !self.defers_writes() {
            let refs: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            wait(self.client.execute(&statement, &refs)).map_err(|e| self.error(e))?;
            return Ok(());
        }
        let client = Arc::clone(&self.client);
        let mut pending: Pending = Box::pin(async move {
            let refs: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            client.execute(&statement, &refs).await
        });
        // the first poll sends the request; its answer waits in the connection's queue (or
        // is already there: a finished write is not kept, a finished future never polled
        // again)
        let mut cx = Context::from_waker(Waker::noop());
        match pending.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(_)) => Ok(()),
            Poll::Ready(Err(e)) => Err(self.error(e)),
            Poll::Pending => {
                self.lock_pending().push(pending);
                Ok(())
            }
        }
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Collect the answers of every write sent and not yet answered: the first failure.
    pub(crate) fn settle(&self) -> Result<()> {
        let pending = std::mem::take(&mut *self.lock_pending());
        if pending.is_empty() {
            return Ok(());
        }
        let mut first: Option<tokio_postgres::Error> = None;
        wait(async {
            for p in pending {
                if let Err(e) = p.await
                    && first.is_none()
                {
                    first = Some(e);
                }
            }
        });
        match first {
            Some(e) => Err(self.error(e)),
            None => Ok(()),
        }
    }

    /// Forget the writes not yet answered (their transaction is rolled back).
    pub(crate) fn drop_pending(&self) {
        self.lock_pending().clear();
        self.fresh_events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// Whether event `id` was inserted by the open transaction (no run of it exists
    /// elsewhere, so its runs need no check for one).
    pub(crate) fn is_fresh_event(&self, id: i64) -> bool {
        self.fresh_events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&id)
    }

    /// Note event `id` as inserted by the open transaction.
    pub(crate) fn note_fresh_event(&self, id: i64) {
        if self.is_in_transaction() {
            self.fresh_events
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(id);
        }
    }

    /// The next id of `table`, from a block taken ahead of time.
    pub(crate) fn next_id(&self, table: Ids) -> Result<i64> {
        let mut blocks = self
            .ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (queue, sql): (&mut VecDeque<i64>, &'static str) = match table {
            Ids::Events => (
                &mut blocks.events,
                "SELECT nextval(pg_get_serial_sequence('events', 'id')) FROM generate_series(1::bigint, $1::bigint)",
            ),
            Ids::Runs => (
                &mut blocks.runs,
                "SELECT nextval(pg_get_serial_sequence('runs', 'id')) FROM generate_series(1::bigint, $1::bigint)",
            ),
        };
        if queue.is_empty() {
            let statement = self.statement(sql)?;
            let rows =
                wait(self.client.query(&statement, &[&ID_BLOCK])).map_err(|e| self.error(e))?;
            queue.extend(rows.iter().map(|r| r.get::<_, i64>(0)));
        }
        queue
            .pop_front()
            .ok_or_else(|| StoreError::Postgres("the id sequence gave no ids; try again".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::scratch::scratch_store;

    #[test]
    fn writes_sent_without_waiting_are_all_answered_at_the_commit() {
        let Some((_db, store)) =
            scratch_store("writes_sent_without_waiting_are_all_answered_at_the_commit")
        else {
            return;
        };
        let pg = store.postgres().unwrap();
        // many small writes: on loopback some are answered before their first poll ends,
        // and such a finished write must not be polled again
        pg.set_pipelining(true);
        store.begin_write().unwrap();
        for i in 0..2000i64 {
            pg.execute_deferred(
                "INSERT INTO ui_state (key, value, updated_at) VALUES ($1, '1', $2)",
                vec![Box::new(format!("k{i}")), Box::new(i)],
            )
            .unwrap();
        }
        store.commit_write().unwrap();
        pg.set_pipelining(false);
        let n: i64 = pg
            .query_one("SELECT count(*) FROM ui_state", &[])
            .unwrap()
            .get(0);
        assert_eq!(n, 2000);

        // one that fails refuses the commit, and nothing of the transaction is kept
        pg.set_pipelining(true);
        store.begin_write().unwrap();
        pg.execute_deferred(
            "INSERT INTO ui_state (key, value, updated_at) VALUES ($1, '1', $2)",
            vec![Box::new("new".to_string()), Box::new(0i64)],
        )
        .unwrap();
        pg.execute_deferred(
            "INSERT INTO ui_state (key, value, updated_at) VALUES ($1, '1', $2)",
            vec![Box::new("k1".to_string()), Box::new(0i64)],
        )
        .unwrap();
        assert!(store.commit_write().is_err());
        pg.set_pipelining(false);
        let n: i64 = pg
            .query_one("SELECT count(*) FROM ui_state", &[])
            .unwrap()
            .get(0);
        assert_eq!(n, 2000);
    }
}
