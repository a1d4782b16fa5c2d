//! Checkpoints off the write path: a thread that copies the WAL into the database file every
//! few milliseconds, so that the thread committing writes never stops to do it.
//!
//! A writer connection that hands its checkpoints to this thread turns its own automatic
//! checkpoints off (`PRAGMA wal_autocheckpoint = 0`). `PASSIVE` checkpoints never wait for
//! readers or writers; the database file is synced after each one (`synchronous=NORMAL`).
//!
//! A busy writer never lets the WAL start over: SQLite rewinds it only when a write begins
//! with every frame already copied, and with commits every millisecond a passive checkpoint
//! never catches the last one (the WAL would grow without end). So
//! once it holds [`RESTART_AT`] frames, a passive checkpoint is followed at once by a
//! `RESTART` one: it holds writes back while it copies the few frames written since (and
//! syncs), waits briefly for readers, and rewinds the WAL, whose file is then written over
//! from its start. The writer waits once per rewind, for as long as the sync takes (a few
//! milliseconds on a disk): so rewinds are at least [`RESTART_SPACING`] apart, and a WAL
//! written fast grows past [`RESTART_AT`] meanwhile (up to 16 times it, where a rewind is
//! forced), rather than stopping the writer several times a second.
//!
//! While the WAL grows, checkpoints run every [`EVERY`]: each copies and syncs little, so
//! the disk's writes stay steady. Spaced further, they pile up, and each sync of a larger
//! copy delays commits and requests behind it (docs/performance.md, checkpoint spacing).
//! While nothing is written, the spacing doubles up to [`IDLE_EVERY`], so that an idle
//! process seldom wakes.

use super::background::Joined;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How often the WAL is checkpointed while it grows.
pub(crate) const EVERY: Duration = Duration::from_millis(10);
/// The longest spacing of checkpoints while nothing is written.
const IDLE_EVERY: Duration = Duration::from_millis(500);
/// WAL frames (pages) from which a checkpoint also rewinds the WAL: 64 MB of 4 KB pages.
pub(crate) const RESTART_AT: i64 = 16_384;
/// The least time between two rewinds, unless the WAL holds 16 times [`RESTART_AT`].
pub(crate) const RESTART_SPACING: Duration = Duration::from_secs(3);
/// How soon a rewind kept from finishing (by a reader, or the writer's transaction) is
/// tried again.
const RESTART_RETRY: Duration = Duration::from_millis(250);
/// The longest a rewind waits for the writer's transaction, and then for readers, before it
/// gives up until the next checkpoint (it holds writes back meanwhile).
const RESTART_WAIT: Duration = Duration::from_millis(20);

/// The checkpointing thread of one database; dropping it stops the thread (the last
/// connection to close checkpoints what is left).
#[derive(Debug)]
pub(crate) struct Checkpointer {
    // dropped first: the thread sees the channel close and ends
    _stop: mpsc::Sender<()>,
    _thread: Joined,
}

impl Checkpointer {
    /// Start checkpointing the database at `path` every `every` while it is written (less
    /// often while it is not), rewinding the WAL once it holds `restart_at` frames.
    pub(crate) fn spawn(
        path: &Path,
        every: Duration,
        restart_at: i64,
    ) -> std::io::Result<Checkpointer> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .and_then(|mut c| super::busy::wait_finely(&mut c, RESTART_WAIT).map(|()| c))
        .map_err(std::io::Error::other)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let thread = std::thread::Builder::new()
            .name("flowdeck-checkpoint".into())
            .spawn(move || {
                let mut last_rewind: Option<Instant> = None;
                let (mut wait, mut last_seen) = (every, None);
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(wait) {
                    let seen = checkpoint(&conn, &name, restart_at, &mut last_rewind);
                    wait = next_wait(wait, every, seen.is_some() && seen != last_seen);
                    last_seen = seen;
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
    let handed = Checkpointer::spawn(path, EVERY, RESTART_AT).and_then(|c| {
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0")
            .map(|()| c)
            .map_err(std::io::Error::other)
    });
    handed
        .map_err(|e| tracing::warn!(error = %e, "checkpoints stay on the writer"))
        .ok()
}

/// A checkpoint's answer: whether it was kept from finishing, the WAL's frames, and how
/// many of them are in the database file.
fn run(conn: &Connection, mode: &str) -> rusqlite::Result<(bool, i64, i64)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok((r.get::<_, i64>(0)? != 0, r.get(1)?, r.get(2)?))
    })
}

/// The wait before the next checkpoint: `every` when the last one found the WAL written
/// since the one before, twice the last wait otherwise, up to [`IDLE_EVERY`].
fn next_wait(last: Duration, every: Duration, written: bool) -> Duration {
    if written {
        every
    } else {
        last.saturating_mul(2).min(IDLE_EVERY.max(every))
    }
}

/// Whether a WAL of `frames` is to be rewound now, the last rewind at `last`.
fn rewind_due(frames: i64, restart_at: i64, last: Option<Instant>) -> bool {
    frames >= restart_at
        && (last.is_none_or(|t| t.elapsed() >= RESTART_SPACING)
            || frames >= restart_at.saturating_mul(16))
}

/// One checkpoint (and a rewind when one is due); the WAL's frames and how many of them
/// were copied, as the passive checkpoint found them.
fn checkpoint(
    conn: &Connection,
    name: &str,
    restart_at: i64,
    last_rewind: &mut Option<Instant>,
) -> Option<(i64, i64)> {
    let found = run(conn, "PASSIVE");
    match found {
        Ok((_, frames, copied)) if rewind_due(frames, restart_at, *last_rewind) => {
            tracing::trace!(name, frames, copied, "checkpoint");
            let now = Instant::now();
            // a rewind kept from finishing is tried again soon, not a whole spacing later
            // (the WAL would grow by another spacing's writes meanwhile)
            let retry = now.checked_sub(RESTART_SPACING.saturating_sub(RESTART_RETRY));
            let rewound = match run(conn, "RESTART") {
                Ok((false, _, _)) => {
                    tracing::debug!(name, frames, "WAL rewound");
                    true
                }
                Ok((true, _, _)) => {
                    tracing::debug!(name, frames, "WAL not rewound: busy");
                    false
                }
                Err(e) => {
                    tracing::debug!(name, error = %e, "WAL not rewound");
                    false
                }
            };
            *last_rewind = if rewound {
                Some(now)
            } else {
                retry.or(Some(now))
            };
        }
        Ok((_, frames, copied)) if frames > 0 => {
            tracing::trace!(name, frames, copied, "checkpoint");
        }
        Ok(_) => {}
        Err(ref e) => tracing::debug!(name, error = %e, "checkpoint skipped"),
    }
    found.ok().map(|(_, frames, copied)| (frames, copied))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rewind that a reader keeps from finishing is due again a retry later, not a whole
    /// spacing later; one that finishes waits the whole spacing.
    #[test]
    fn a_rewind_kept_from_finishing_is_tried_again_soon() {
        let (_dir, path, writer) = wal_writer();
        for i in 0..100 {
            writer
                .execute("INSERT INTO t VALUES (?1)", [format!("{i:0>200}")])
                .unwrap();
        }
        let mut checkpointer = Connection::open(&path).unwrap();
        super::super::busy::wait_finely(&mut checkpointer, RESTART_WAIT).unwrap();
        // a reader in the middle of a read, on a snapshot older than the last commit
        let reader = Connection::open(&path).unwrap();
        reader
            .execute_batch("BEGIN; SELECT count(*) FROM t;")
            .unwrap();
        writer.execute("INSERT INTO t VALUES (0)", []).unwrap();
        let mut last = None;
        checkpoint(&checkpointer, "x.db", 50, &mut last);
        let tried = last.expect("a rewind was due");
        assert!(
            tried + RESTART_SPACING <= Instant::now() + RESTART_RETRY,
            "kept from finishing: due again within {RESTART_RETRY:?}"
        );
        reader.execute_batch("COMMIT").unwrap();
        let mut last = None;
        checkpoint(&checkpointer, "x.db", 50, &mut last);
        let done = last.expect("a rewind was due");
        assert!(
            done + RESTART_SPACING > Instant::now() + RESTART_RETRY,
            "finished: due again a whole spacing later"
        );
    }

    #[test]
    fn checkpoints_slow_down_while_nothing_is_written() {
        let every = Duration::from_millis(10);
        assert_eq!(next_wait(every, every, false), every * 2);
        assert_eq!(next_wait(every * 40, every, false), IDLE_EVERY);
        assert_eq!(next_wait(IDLE_EVERY, every, true), every);
        let slow = IDLE_EVERY * 2;
        assert_eq!(
            next_wait(slow, slow, false),
            slow,
            "never faster than asked"
        );
    }

    #[test]
    fn rewinds_are_spaced_unless_the_wal_is_huge() {
        let long_ago = Instant::now().checked_sub(RESTART_SPACING * 2);
        assert!(!rewind_due(RESTART_AT - 1, RESTART_AT, None));
        assert!(rewind_due(RESTART_AT, RESTART_AT, None));
        assert!(rewind_due(RESTART_AT, RESTART_AT, long_ago));
        assert!(!rewind_due(RESTART_AT, RESTART_AT, Some(Instant::now())));
        assert!(rewind_due(
            RESTART_AT * 16,
            RESTART_AT,
            Some(Instant::now())
        ));
    }

    /// A database in WAL mode with table `t`, and its writer, which does not checkpoint.
    fn wal_writer() -> (tempfile::TempDir, std::path::PathBuf, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
                 PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (x);",
            )
            .unwrap();
        (dir, path, writer)
    }

    #[test]
    fn the_wal_is_copied_into_the_database_while_the_writer_keeps_it_open() {
        let (_dir, path, writer) = wal_writer();
        writer.execute_batch("INSERT INTO t VALUES (1)").unwrap();
        let size = || std::fs::metadata(&path).unwrap().len();
        let before = size();
        let checkpointer =
            Checkpointer::spawn(&path, Duration::from_millis(5), RESTART_AT).unwrap();
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

    #[test]
    fn the_wal_starts_over_while_a_writer_keeps_committing() {
        let (dir, path, writer) = wal_writer();
        writer.busy_timeout(Duration::from_secs(10)).unwrap();
        let wal = dir.path().join("x.db-wal");
        // the WAL header's checkpoint sequence number: one more each time the WAL starts over
        let sequence = || {
            let mut header = [0u8; 16];
            std::fs::File::open(&wal)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header))
                .map_or(0, |()| {
                    u32::from_be_bytes([header[12], header[13], header[14], header[15]])
                })
        };
        let _checkpointer = Checkpointer::spawn(&path, Duration::from_millis(5), 50).unwrap();
        // small commits, with the short gaps of a writer waiting for work, until the WAL has
        // started over three times (each commit writes at least a page: a WAL that never
        // starts over grows by one each time)
        let (mut restarts, mut last, mut written) = (0, sequence(), 0);
        while restarts < 3 && written < 40_000 {
            writer
                .execute("INSERT INTO t VALUES (?1)", [format!("{written:0>200}")])
                .unwrap();
            written += 1;
            let now = sequence();
            restarts += u32::from(now != last);
            last = now;
            std::thread::sleep(Duration::from_micros(100));
        }
        assert_eq!(
            restarts, 3,
            "the WAL started over {restarts} times in {written} commits"
        );
        let rows: i64 = writer
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, written, "nothing written was lost");
    }
}
