//! Waiting for a lock that another connection holds.
//!
//! SQLite's own busy handler sleeps 1, 2, 5, 10 … ms between tries, so a writer held back
//! for 3 ms (a checkpoint rewinding the WAL and syncing) waits 8: the tail of every write that
//! came meanwhile. This one tries again every 50 µs for the first few milliseconds, then
//! every millisecond, up to its limit.

use rusqlite::Connection;
use std::time::{Duration, Instant};

/// Tries this close together at first.
const FINE: Duration = Duration::from_micros(50);
/// For this long.
const FINE_FOR: Duration = Duration::from_millis(5);
/// Then this far apart.
const COARSE: Duration = Duration::from_millis(1);

/// Give `conn` a busy handler that waits up to `limit` for a lock, finely at first.
pub(crate) fn wait_finely(conn: &mut Connection, limit: Duration) -> rusqlite::Result<()> {
    let mut since = Instant::now();
    conn.busy_handler(Some(move |tries: i32| {
        if tries == 0 {
            since = Instant::now();
        }
        let waited = since.elapsed();
        if waited >= limit {
            return false;
        }
        std::thread::sleep(if waited < FINE_FOR { FINE } else { COARSE }.min(limit - waited));
        true
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer held back by another's transaction gets the lock soon after it is let go,
    /// and gives up with `SQLITE_BUSY` after its limit.
    #[test]
    fn waits_for_the_lock_and_gives_up_at_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.db");
        let holder = Connection::open(&path).unwrap();
        holder
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x);")
            .unwrap();
        let mut waiter = Connection::open(&path).unwrap();
        wait_finely(&mut waiter, Duration::from_millis(200)).unwrap();
        holder.execute_batch("BEGIN IMMEDIATE").unwrap();
        let refused = waiter.execute_batch("BEGIN IMMEDIATE");
        assert!(
            matches!(&refused, Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::DatabaseBusy),
            "{refused:?}"
        );
        let released = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            holder.execute_batch("COMMIT").unwrap();
        });
        waiter
            .execute_batch("BEGIN IMMEDIATE; INSERT INTO t VALUES (1); COMMIT")
            .unwrap();
        released.join().unwrap();
    }
}
