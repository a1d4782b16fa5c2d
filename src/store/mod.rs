//! The SQLite store (rusqlite, bundled SQLite): definitions with drafts and deployed versions,
//! events, runs, step records and listener skips, plus the project's separate data database.
//!
//! Durability: WAL with `synchronous=NORMAL`: a committed transaction survives a crash of the
//! process; a power loss may lose the last transactions but never corrupts the file.

pub(crate) mod activity;
pub(crate) mod background;
pub(crate) mod breakpoints;
pub(crate) mod busy;
pub(crate) mod cascade;
pub(crate) mod checkpointer;
pub mod copy;
pub(crate) mod data;
pub(crate) mod data_writer;
pub(crate) mod definitions;
pub(crate) mod error;
pub mod events;
pub(crate) mod held;
pub(crate) mod leases;
pub(crate) mod load;
pub(crate) mod migrations;
pub mod postgres;
pub(crate) mod prepared;
pub(crate) mod project;
pub(crate) mod project_files;
pub mod prune;
pub mod runs;
pub(crate) mod skips;
pub(crate) mod step_values;
pub mod steps;
pub mod tallies;
pub(crate) mod transactions;
pub(crate) mod ui_state;
pub(crate) mod writer;
pub(crate) mod writes;

pub use data::DataDb;
pub use error::{Result, StoreError};
pub use writer::Writer;
pub use writes::HotWrites;

use rusqlite::{Connection, ErrorCode, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a statement waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The environment variable that caps the store's size, in pages of 4 KB (SQLite's
/// `max_page_count`): for tests, which fill a store with it to see what a full disk does.
pub const MAX_PAGES_VAR: &str = "FLOWDECK_MAX_PAGES";

/// The pages of a capped store kept for the runs under way (an eighth of the cap, and at
/// least 32, unless this says otherwise): `0` makes the cap a disk that fills without
/// warning, for tests.
pub const RESERVE_VAR: &str = "FLOWDECK_MAX_PAGES_RESERVE";

/// One connection to a flowdeck store: a SQLite file, or a PostgreSQL database.
#[derive(Debug)]
pub struct Store {
    room: Room,
    /// The file, or the PostgreSQL URL without its password.
    path: PathBuf,
    /// Listeners per (event, draft dispatch), with the definitions generation they were
    /// read at.
    listeners: definitions::ListenerCache,
    /// The most pages it may have and those kept for runs under way, when capped
    /// ([`MAX_PAGES_VAR`], [`RESERVE_VAR`]).
    cap: Option<(i64, i64)>,
}

/// Where a store's records are: each backend is a room of its own.
#[derive(Debug)]
pub(crate) enum Room {
    /// A SQLite file (the default).
    Sqlite(Connection),
    /// A PostgreSQL database (`--db postgres://…`), boxed: it holds much more than a
    /// SQLite connection.
    Postgres(Box<postgres::PgStore>),
}

/// A listener's wake-up, or `None` (logged as `what`) when it cannot listen: callers then
/// look again now and then, as on SQLite.
fn heard(
    listening: Result<std::sync::Arc<tokio::sync::Notify>>,
    what: &str,
) -> Option<std::sync::Arc<tokio::sync::Notify>> {
    listening
        .inspect_err(|e| tracing::warn!(error = %e, "{what}"))
        .ok()
}

impl Store {
    /// Open (creating when missing) and migrate the store at `path`: a file, or a
    /// PostgreSQL database when it is a `postgres://` URL.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(url) = path.to_str().filter(|p| postgres::is_postgres_url(p)) {
            let pg = postgres::PgStore::connect(url)?;
            return Ok(Store {
                path: PathBuf::from(pg.shown()),
                room: Room::Postgres(Box::new(pg)),
                listeners: definitions::ListenerCache::default(),
                cap: None,
            });
        }
        if let Some(folder) = path.parent()
            && !folder.as_os_str().is_empty()
            && !folder.exists()
        {
            return Err(StoreError::FolderMissing {
                path: path.to_path_buf(),
                folder: folder.to_path_buf(),
            });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let mut conn = Connection::open_with_flags(path, flags)?;
        configure(&mut conn).map_err(|e| not_a_database(e, path))?;
        let cap = cap(&conn).map_err(|e| StoreError::from(e).at(path))?;
        migrations::migrate(&mut conn, path).map_err(|e| match e {
            StoreError::Sqlite(e) => not_a_database(e, path),
            other => other.at(path),
        })?;
        Ok(Store {
            room: Room::Sqlite(conn),
            path: path.to_path_buf(),
            listeners: definitions::ListenerCache::default(),
            cap,
        })
    }

    /// Whether new work may begin: an event, or a run without one (a request's, a debug
    /// run). A capped store ([`MAX_PAGES_VAR`]) keeps its last pages (an eighth, and at least
    /// 32) for the records of the runs already under way, so that every run it accepted
    /// can finish: new work is refused as [`StoreError::Full`] once only those are left.
    /// (A disk that fills says so only when a write fails: that write is refused, and the
    /// records of runs under way wait in the writer until there is room; see
    /// [`writer`].)
    pub(crate) fn check_room(&self) -> Result<()> {
        let Some((cap, reserve)) = self.cap else {
            return Ok(());
        };
        let pages: i64 = self
            .conn()
            .query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let free: i64 = self
            .conn()
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        let used = pages.saturating_sub(free);
        if used + reserve > cap {
            return Err(StoreError::Full {
                path: self.path.clone(),
                why: format!(
                    "it holds {used} of the {cap} pages {MAX_PAGES_VAR} allows, and keeps the last {reserve} for the runs under way"
                ),
            });
        }
        Ok(())
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The project's data database: the `[data] url` of its `flowdeck.toml` as last
    /// imported, else a SQLite file beside the store (for a store on PostgreSQL, which has
    /// no folder: `flowdeck.data.db` in the current folder).
    pub fn data_path(&self) -> PathBuf {
        if let Ok(project) = self.project()
            && let Some(url) = project.config.data.url
        {
            return PathBuf::from(url);
        }
        if self.is_postgres() {
            return PathBuf::from("flowdeck.data.db");
        }
        data_path_for(&self.path)
    }

    /// The SQLite connection (for the SQLite room's code). On a PostgreSQL store every
    /// operation is routed to its room before it gets here; one that is not meets an
    /// empty database and fails, never answering wrongly.
    pub(crate) fn conn(&self) -> &Connection {
        match &self.room {
            Room::Sqlite(conn) => conn,
            Room::Postgres(pg) => pg.unrouted(),
        }
    }

    /// The PostgreSQL room, when this store is on PostgreSQL.
    pub(crate) fn postgres(&self) -> Option<&postgres::PgStore> {
        match &self.room {
            Room::Postgres(pg) => Some(pg),
            Room::Sqlite(_) => None,
        }
    }

    /// On PostgreSQL, what wakes whoever waits for runs to take up: told of every commit,
    /// by any process from now on, that left runs for any server (queued, or given back).
    /// `None` on SQLite, which has nothing to listen to (callers look again now and then).
    pub fn queued_runs_heard(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        heard(
            self.postgres()?.queued_runs_heard(),
            "cannot listen for queued runs",
        )
    }

    /// On PostgreSQL, what tells of every commit by any process from now on (a view of the
    /// record follows at once). `None` on SQLite, where [`Store::data_version`] is asked.
    pub fn commits_heard(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        heard(
            self.postgres()?.commits_heard(),
            "cannot listen for other processes' commits",
        )
    }

    /// On PostgreSQL, what tells of every commit, by any process from now on, that changed
    /// the definitions (a server rebuilds its routes at once). `None` on SQLite.
    pub fn definitions_heard(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        heard(
            self.postgres()?.definitions_heard(),
            "cannot listen for definitions changes",
        )
    }

    /// Whether this store is on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.postgres().is_some()
    }

    /// A number that changes when another connection commits (a cheap way to notice other
    /// processes' writes): SQLite's `data_version`, or the commits a PostgreSQL store heard
    /// announced.
    pub fn data_version(&self) -> Result<i64> {
        if let Some(pg) = self.postgres() {
            return pg.data_version();
        }
        Ok(self
            .conn()
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    /// Run `f` in one transaction (committed when it returns `Ok`).
    pub fn transaction<T>(&mut self, f: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        let path = self.path.clone();
        self.begin_write().map_err(|e| e.at(&path))?;
        match f(self) {
            Ok(v) => match self.commit_write() {
                Ok(()) => Ok(v),
                Err(e) => {
                    self.rollback_write();
                    Err(e.at(&path))
                }
            },
            Err(e) => {
                self.rollback_write();
                Err(e.at(&path))
            }
        }
    }
}

/// Whether there is a store at `path`: a file that exists, or any PostgreSQL URL (the
/// server holds the store, or makes it on first use).
pub fn store_exists(path: &Path) -> bool {
    path.to_str().is_some_and(postgres::is_postgres_url) || path.exists()
}

/// `flowdeck.db` → `flowdeck.data.db`; any other name gets `.data.db` appended.
pub fn data_path_for(store: &Path) -> PathBuf {
    let name = store
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "flowdeck.db".into());
    let data_name = match name.strip_suffix(".db") {
        Some(stem) => format!("{stem}.data.db"),
        None => format!("{name}.data.db"),
    };
    store.with_file_name(data_name)
}

/// The page size of a new store.
const PAGE_SIZE: u32 = 4096;

fn configure(conn: &mut Connection) -> rusqlite::Result<()> {
    busy::wait_finely(conn, BUSY_TIMEOUT)?;
    // a new store's pages are 4 KB: each commit writes every page it touched as one WAL
    // frame, and the small commits of a moderate load (an event and its runs, a run's
    // first step) write whole pages, so larger pages cost latency at a moderate load and
    // bought nothing at full rate (docs/performance.md). An existing store keeps its page
    // size: in WAL mode it changes only with a VACUUM.
    // and a new store gives the pages that retention frees back to the file system, a
    // few at a time after each batch (`prune`); an existing store keeps its mode until a
    // VACUUM (`flowdeck prune --vacuum`)
    conn.execute_batch(&format!(
        "PRAGMA page_size = {PAGE_SIZE}; PRAGMA auto_vacuum = INCREMENTAL;"
    ))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(mode, "the store is not in WAL mode");
    }
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;",
    )?;
    conn.set_prepared_statement_cache_capacity(128);
    // `IN rarray(?n)`: a list of ids bound as one parameter, so a statement's text is fixed
    rusqlite::vtab::array::load_module(conn)?;
    Ok(())
}

/// Cap the connection's size when [`MAX_PAGES_VAR`] says so: the cap in force (SQLite keeps
/// a store that is larger already at its size) and the pages kept for runs under way.
fn cap(conn: &Connection) -> rusqlite::Result<Option<(i64, i64)>> {
    let Some(pages) = std::env::var(MAX_PAGES_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|n| *n > 0)
    else {
        return Ok(None);
    };
    let cap: i64 = conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
        r.get(0)
    })?;
    let reserve = std::env::var(RESERVE_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or((cap / 8).max(32));
    Ok(Some((cap, reserve)))
}

fn not_a_database(e: rusqlite::Error, path: &Path) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::NotADatabase {
            path: path.to_path_buf(),
        },
        _ => StoreError::Sqlite(e),
    }
}

/// Parse a stored JSON column.
pub(crate) fn json_column(text: &str, what: &'static str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|source| StoreError::Corrupt { what, source })
}

/// Parse an optional stored JSON column.
pub(crate) fn json_column_opt(
    text: Option<String>,
    what: &'static str,
) -> Result<Option<serde_json::Value>> {
    text.map(|t| json_column(&t, what)).transpose()
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A store in a fresh temporary folder (kept alive by the returned guard).
    pub(crate) fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("flowdeck.db")).expect("open store");
        (dir, store)
    }

    /// Definition 1: workflow `w`, listening to `e` (a parent for runs written by hand).
    pub(crate) fn workflow_w(store: &Store) {
        store
            .conn()
            .execute_batch(
                "INSERT INTO definitions (id, kind, name, on_event, draft, draft_source, created_at, updated_at)
                   VALUES (1, 'workflow', 'w', 'e', '{}', '{}', 0, 0)",
            )
            .expect("insert definition 1");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_path_sits_beside_the_store() {
        assert_eq!(
            data_path_for(Path::new("/x/flowdeck.db")),
            PathBuf::from("/x/flowdeck.data.db")
        );
        assert_eq!(
            data_path_for(Path::new("store")),
            PathBuf::from("store.data.db")
        );
    }

    #[test]
    fn refuses_missing_folders_and_files_that_are_not_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let e = Store::open(&dir.path().join("nope/flowdeck.db")).unwrap_err();
        assert!(matches!(e, StoreError::FolderMissing { .. }), "{e}");
        let junk = dir.path().join("junk.db");
        std::fs::write(
            &junk,
            "this is not a database, just some text that is long enough",
        )
        .unwrap();
        let e = Store::open(&junk).unwrap_err();
        assert!(matches!(e, StoreError::NotADatabase { .. }), "{e}");
        assert!(e.to_string().contains("not a SQLite database"));
    }

    #[test]
    fn refuses_foreign_sqlite_databases_and_reopens_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        assert!(matches!(
            Store::open(&other),
            Err(StoreError::Foreign { .. })
        ));
        let own = dir.path().join("flowdeck.db");
        drop(Store::open(&own).unwrap());
        Store::open(&own).unwrap();
    }

    #[test]
    fn a_new_store_has_4_kb_pages_and_an_older_one_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let page_size = |s: &Store| -> i64 {
            s.conn()
                .query_row("PRAGMA page_size", [], |r| r.get(0))
                .unwrap()
        };
        let new = Store::open(&dir.path().join("flowdeck.db")).unwrap();
        assert_eq!(page_size(&new), 4096);
        // a store created by an earlier build, with 8 KB pages and in WAL mode already
        let old = dir.path().join("old.db");
        Connection::open(&old)
            .unwrap()
            .execute_batch(
                "PRAGMA page_size = 8192; PRAGMA journal_mode = WAL; CREATE TABLE t (x);",
            )
            .unwrap();
        let mut conn = Connection::open(&old).unwrap();
        configure(&mut conn).unwrap();
        conn.execute("INSERT INTO t VALUES (1)", []).unwrap();
        let size: i64 = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap();
        assert_eq!(size, 8192);
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1);
    }
}
