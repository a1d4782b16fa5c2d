//! Checkpoints off the write path: a thread that copies the WAL into the database file every
//! few milliseconds, so that the thread committing writes never stops to do it.
//!
//! A writer connection that hands its checkpoints to this thread turns its own automatic
//! checkpoints off (`PRAGMA wal_autocheckpoint = 0`). `PASSIVE` checkpoints never wait for
//! readers or writers; the database file is synced after each one (`synchronous=NORMAL`).

use super::background::Joined;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

/// How often the WAL is checkpointed.
pub const EVERY: Duration = Duration::from_millis(100);

/// The checkpointing thread of one database; dropping it stops the thread (the last
/// connection to close checkpoints what is left).
#[derive(Debug)]
pub struct Checkpointer {
    // dropped first: the thread sees the channel close and ends
    _stop: mpsc::Sender<()>,
    _thread: Joined,
}

impl Checkpointer {
    /// Start checkpointing the database at `path` every `every`.
    pub fn spawn(path: &Path, every: Duration) -> std::io::Result<Checkpointer> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .and_then(|c| c.busy_timeout(Duration::from_millis(100)).map(|()| c))
        .map_err(std::io::Error::other)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let thread = std::thread::Builder::new()
            .name("flowdeck-checkpoint".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    checkpoint(&conn, &name);
                }
            })?;
        Ok(Checkpointer {
            _stop: stop,
            _thread: Joined::new(thread),
        })
    }
}

/// Give `conn`'s checkpoints to a [`Checkpointer`] thread, so that its commits never wait
/// for one (the tail of emit → first step). Without the thread, `conn` keeps checkpointing.
pub(crate) fn hand_off(conn: &Connection, path: &Path) -> Option<Checkpointer> {
    let handed = Checkpointer::spawn(path, EVERY).and_then(|c| {
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0")
            .map(|()| c)
            .map_err(std::io::Error::other)
    });
    handed
        .map_err(|e| tracing::warn!(error = %e, "checkpoints stay on the writer"))
        .ok()
}

fn checkpoint(conn: &Connection, name: &str) {
    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    });
    match done {
        Ok((frames, copied)) if frames > 0 => {
            tracing::trace!(name, frames, copied, "checkpoint");
        }
        Ok(_) => {}
        Err(e) => tracing::debug!(name, error = %e, "checkpoint skipped"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wal_is_copied_into_the_database_while_the_writer_keeps_it_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
                 CREATE TABLE t (x); INSERT INTO t VALUES (1);",
            )
            .unwrap();
        let size = || std::fs::metadata(&path).unwrap().len();
        let before = size();
        let checkpointer = Checkpointer::spawn(&path, Duration::from_millis(5)).unwrap();
        // the table's pages reach the database file without the writer checkpointing
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while size() <= before && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(checkpointer);
        assert!(
            size() > before,
            "the database file grew from {before} bytes"
        );
    }
}
