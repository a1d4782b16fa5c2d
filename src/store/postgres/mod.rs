//! The PostgreSQL room of the store: the same record as the SQLite file, in a PostgreSQL
//! database that any number of `flowdeck` processes on any number of hosts share.
//!
//! One [`PgStore`] is one connection (tokio-postgres). The rest of the store is written
//! for blocking callers (the engine calls it on blocking threads), so each connection is
//! driven by a task on a small runtime of its own and a call waits for its answer with a
//! plain executor: a caller never needs to be inside a tokio runtime, and never blocks
//! one's reactor. Statements are prepared once per connection; several statements sent
//! together are pipelined (sent before the answers come).
//!
//! Every committed write announces itself with `NOTIFY flowdeck`; a connection that watches
//! for changes (the studio, the routes of `serve`) `LISTEN`s and counts what it hears.

mod activity;
mod breakpoints;
pub(crate) mod data;
pub(crate) mod data_sql;
pub(crate) mod data_values;
pub(crate) mod data_writer;
mod definitions;
mod events;
mod leases;
mod pipeline;
mod project;
mod prune;
mod runs;
pub(crate) mod schema;
pub mod scratch;
mod steps;
mod tls;

use super::{Result, StoreError};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{AsyncMessage, Client, NoTls, Row, Statement};

/// The channel every committed write is announced on.
pub(crate) const CHANNEL: &str = "flowdeck";

/// The channel a commit that left runs for any server to take (queued, or given back) is
/// announced on: what wakes idle servers.
pub(crate) const QUEUE_CHANNEL: &str = "flowdeck_queue";

/// The channel a commit that changed the definitions is announced on (by the schema's
/// trigger): what makes servers rebuild their routes.
pub(crate) const DEFINITIONS_CHANNEL: &str = "flowdeck_definitions";

/// Column `i` of `r`, or an error (never a panic) when it does not hold a `T`.
pub(crate) fn column<'a, T: FromSql<'a>>(r: &'a Row, i: usize) -> Result<T> {
    r.try_get(i).map_err(|e| {
        StoreError::Postgres(format!(
            "column {i} of a stored row cannot be read: {} (the store's tables were changed \
             outside flowdeck; restore them from a backup, or point --db at a database \
             flowdeck created)",
            describe(&e)
        ))
    })
}

/// Whether `text` names a PostgreSQL database (`postgres://…` or `postgresql://…`).
pub fn is_postgres_url(text: &str) -> bool {
    let lower = text.get(..13).unwrap_or(text).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// `url` without its password, to show in messages and logs.
pub fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// The runtime that drives every connection's socket (one thread: the work is the
/// server's; this only moves bytes).
fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> =
        OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("flowdeck-pg")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| StoreError::Postgres(format!("cannot start the PostgreSQL client: {e}")))
}

/// Wait for `f` on this thread (the connection's task does the input and output).
pub(crate) fn wait<F: Future>(f: F) -> F::Output {
    futures_executor::block_on(f)
}

/// One connection to a flowdeck store on PostgreSQL.
pub struct PgStore {
    client: Arc<Client>,
    /// Writes sent and not yet answered (collected at the commit: [`pipeline`]).
    pending: Mutex<Vec<pipeline::Pending>>,
    /// Hot writes kept while writes are deferred, sent one statement per kind by
    /// [`PgStore::flush`] (before any statement waited for, and at the commit).
    buffered: Mutex<pipeline::Buffered>,
    /// Whether writes whose answer nobody waits for are sent without waiting (the writer's
    /// group commit turns this on for its batches).
    pipelining: AtomicBool,
    /// Whether new ids are drawn in blocks (a group commit of many jobs) or one at a time.
    ids_ahead: AtomicBool,
    /// Events inserted by the open transaction.
    fresh_events: Mutex<HashSet<i64>>,
    /// Ids of new events and runs, taken ahead of time.
    ids: Mutex<pipeline::IdBlocks>,
    /// The definitions' generation as read in the open group commit (see
    /// `PgStore::generation`).
    generation_seen: Mutex<Option<i64>>,
    /// The URL without its password.
    shown: String,
    /// Statements prepared on this connection, by their SQL.
    prepared: Mutex<HashMap<&'static str, Statement>>,
    /// Notifications heard on [`CHANNEL`] (other processes' commits, once listening).
    heard: Arc<AtomicI64>,
    /// Told of each commit that left runs for any server to take ([`QUEUE_CHANNEL`]).
    woken: Arc<tokio::sync::Notify>,
    /// Whether this connection listens on [`CHANNEL`].
    listening: AtomicBool,
    /// Whether this connection listens on [`QUEUE_CHANNEL`].
    listening_queue: AtomicBool,
    /// Told of each commit announced on [`CHANNEL`] (once listening).
    commits_woken: Arc<tokio::sync::Notify>,
    /// Told of each commit that changed the definitions ([`DEFINITIONS_CHANNEL`]).
    definitions_woken: Arc<tokio::sync::Notify>,
    /// Whether this connection listens on [`DEFINITIONS_CHANNEL`].
    listening_definitions: AtomicBool,
    /// Whether the open transaction left runs for any server to take.
    queued: AtomicBool,
    /// Whether a transaction is open.
    in_transaction: AtomicBool,
    /// Whether a statement failed in the open transaction: PostgreSQL gives the transaction
    /// up (until a savepoint is rolled back to), and would answer a `COMMIT` by rolling it
    /// back without an error.
    aborted: AtomicBool,
    /// An empty SQLite database in memory: what code written for the SQLite room meets
    /// if it is ever reached on this one (an error, never a wrong answer).
    unrouted: rusqlite::Connection,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.shown)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connect to `url` and bring its schema up to date.
    pub fn connect(url: &str) -> Result<PgStore> {
        let store = PgStore::connect_unmigrated(url)?;
        schema::migrate(&store)?;
        Ok(store)
    }

    /// Connect to `url` as it is.
    pub(crate) fn connect_unmigrated(url: &str) -> Result<PgStore> {
        let shown = shown_url(url);
        let config: tokio_postgres::Config = url.parse().map_err(|e| StoreError::Postgres(format!(
            "{shown} is not a PostgreSQL URL this can read ({e}); write it as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
        )))?;
        let heard = Arc::new(AtomicI64::new(0));
        let counter = heard.clone();
        let woken = Arc::new(tokio::sync::Notify::new());
        let wake = woken.clone();
        let definitions_woken = Arc::new(tokio::sync::Notify::new());
        let definitions_wake = definitions_woken.clone();
        let commits_woken = Arc::new(tokio::sync::Notify::new());
        let commits_wake = commits_woken.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let wakes = Wakes {
            queue: wake,
            definitions: definitions_wake,
            commits: commits_wake,
        };
        let encrypted = config.get_ssl_mode() != tokio_postgres::config::SslMode::Disable;
        let tls = if encrypted {
            Some(tls::connector()?)
        } else {
            None
        };
        runtime()?.spawn(async move {
            match tls {
                Some(tls) => open(config, tls, tx, counter, wakes).await,
                None => open(config, NoTls, tx, counter, wakes).await,
            }
        });
        let client = wait(rx)
            .map_err(|_| StoreError::Postgres("the PostgreSQL client stopped".into()))?
            .map_err(|e| {
                let why = describe(&e);
                let what_to_do = if why.contains("certificate") {
                    "the server's certificate is not trusted here: add its CA to the system's trust store (or name it in SSL_CERT_FILE), or, on a network you trust, add ?sslmode=disable to the URL"
                } else if why.contains("TLS") {
                    "the URL asks for TLS (sslmode=require) and the server offers none: enable ssl on the server, or use sslmode=prefer"
                } else {
                    "check the server is up, and the user, password and database of the URL"
                };
                StoreError::Postgres(format!("cannot connect to {shown}: {why} ({what_to_do})"))
            })?;
        let unrouted = rusqlite::Connection::open_in_memory()?;
        let store = PgStore {
            client: Arc::new(client),
            pending: Mutex::new(Vec::new()),
            buffered: Mutex::new(pipeline::Buffered::default()),
            pipelining: AtomicBool::new(false),
            ids_ahead: AtomicBool::new(false),
            fresh_events: Mutex::new(HashSet::new()),
            ids: Mutex::new(pipeline::IdBlocks::default()),
            generation_seen: Mutex::new(None),
            shown,
            prepared: Mutex::new(HashMap::new()),
            heard,
            woken,
            listening: AtomicBool::new(false),
            listening_queue: AtomicBool::new(false),
            definitions_woken,
            listening_definitions: AtomicBool::new(false),
            commits_woken,
            queued: AtomicBool::new(false),
            in_transaction: AtomicBool::new(false),
            aborted: AtomicBool::new(false),
            unrouted,
        };
        Ok(store)
    }

    /// The URL without its password.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The client, for statements not worth preparing once.
    pub(crate) fn client(&self) -> &Client {
        self.client.as_ref()
    }

    /// What SQLite code reaches when it is called on this room (see `unrouted`).
    pub(crate) fn unrouted(&self) -> &rusqlite::Connection {
        &self.unrouted
    }

    /// The statement for `sql`, prepared on first use (the hot writes kept are sent first:
    /// what runs it comes after them).
    pub(crate) fn statement(&self, sql: &'static str) -> Result<Statement> {
        self.flush()?;
        self.prepare_cached(sql)
    }

    /// [`PgStore::statement`] without the flush.
    fn prepare_cached(&self, sql: &'static str) -> Result<Statement> {
        if let Some(s) = self.lock_prepared().get(sql) {
            return Ok(s.clone());
        }
        let statement = wait(self.client.prepare(sql)).map_err(|e| self.error(e))?;
        self.lock_prepared().insert(sql, statement.clone());
        Ok(statement)
    }

    fn lock_prepared(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, Statement>> {
        self.prepared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Rows of the prepared `sql`.
    pub(crate) fn query(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>> {
        let statement = self.statement(sql)?;
        wait(self.client.query(&statement, params)).map_err(|e| self.error(e))
    }

    /// The row of the prepared `sql`, if any.
    pub(crate) fn query_opt(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>> {
        let statement = self.statement(sql)?;
        wait(self.client.query_opt(&statement, params)).map_err(|e| self.error(e))
    }

    /// The one row of the prepared `sql`.
    pub(crate) fn query_one(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row> {
        let statement = self.statement(sql)?;
        wait(self.client.query_one(&statement, params)).map_err(|e| self.error(e))
    }

    /// Run the prepared `sql`; the rows it changed.
    pub(crate) fn execute(&self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let statement = self.statement(sql)?;
        wait(self.client.execute(&statement, params)).map_err(|e| self.error(e))
    }

    /// Rows of `sql` built at run time (not kept prepared).
    pub(crate) fn query_dynamic(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>> {
        self.flush()?;
        wait(self.client.query(sql, params)).map_err(|e| self.error(e))
    }

    /// Run `sql` built at run time (not kept prepared); the rows it changed.
    pub(crate) fn execute_dynamic(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        self.flush()?;
        wait(self.client.execute(sql, params)).map_err(|e| self.error(e))
    }

    /// Run statements without parameters, in one round trip.
    pub(crate) fn batch(&self, sql: &str) -> Result<()> {
        self.flush()?;
        wait(self.client.batch_execute(sql)).map_err(|e| self.error(e))
    }

    /// The error as the store tells it; a failed statement inside a transaction has cost
    /// the transaction.
    pub(crate) fn error(&self, e: tokio_postgres::Error) -> StoreError {
        if self.in_transaction.load(Ordering::Acquire) {
            self.aborted.store(true, Ordering::Release);
        }
        from_postgres(e, &self.shown)
    }

    /// Begin a transaction (any number of processes write at once; what must be one at a
    /// time takes a row lock or an advisory lock).
    pub(crate) fn begin(&self) -> Result<()> {
        self.see_generation(None);
        self.batch("BEGIN")?;
        self.aborted.store(false, Ordering::Release);
        self.in_transaction.store(true, Ordering::Release);
        Ok(())
    }

    /// Announce and commit the open transaction (one round trip, after the answers of the
    /// writes sent without waiting). A transaction in which a statement failed is rolled
    /// back and refused, never committed in part.
    pub(crate) fn commit(&self) -> Result<()> {
        if let Err(e) = self.settle() {
            self.rollback();
            return Err(e);
        }
        self.fresh_events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        if self.aborted.load(Ordering::Acquire) {
            self.rollback();
            return Err(StoreError::Commit(
                "a statement of the transaction failed; nothing of it was recorded".into(),
            ));
        }
        let queue = if self.queued.swap(false, Ordering::AcqRel) {
            format!("NOTIFY {QUEUE_CHANNEL}; ")
        } else {
            String::new()
        };
        let done = self.batch(&format!("{queue}NOTIFY {CHANNEL}; COMMIT"));
        self.in_transaction.store(false, Ordering::Release);
        done
    }

    /// Roll back whatever is open.
    pub(crate) fn rollback(&self) {
        self.drop_pending();
        self.queued.store(false, Ordering::Release);
        self.in_transaction.store(false, Ordering::Release);
        self.aborted.store(false, Ordering::Release);
        if let Err(e) = self.batch("ROLLBACK") {
            tracing::warn!(error = %e, "rollback failed");
        }
    }

    /// The definitions' generation read in the open group commit, if any.
    pub(crate) fn generation_seen(&self) -> Option<i64> {
        *self
            .generation_seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keep (or forget) the generation read in the open group commit.
    pub(crate) fn see_generation(&self, n: Option<i64>) {
        *self
            .generation_seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = n;
    }

    /// Send writes whose answer nobody waits for without waiting (see [`pipeline`]), or not.
    pub(crate) fn set_pipelining(&self, on: bool) {
        self.pipelining.store(on, Ordering::Release);
    }

    /// Draw the ids of new events and runs in blocks (a batch of many jobs), or one at a
    /// time.
    pub(crate) fn set_ids_ahead(&self, on: bool) {
        self.ids_ahead.store(on, Ordering::Release);
    }

    /// Whether writes are sent without waiting now: pipelining is on and a transaction is
    /// open (its commit collects the answers).
    pub(crate) fn defers_writes(&self) -> bool {
        self.pipelining.load(Ordering::Acquire) && self.in_transaction.load(Ordering::Acquire)
    }

    /// Undo the job since the savepoint `job` (the transaction is usable again).
    pub(crate) fn rollback_to_job(&self) -> Result<()> {
        self.batch("ROLLBACK TO job; RELEASE job")?;
        self.aborted.store(false, Ordering::Release);
        Ok(())
    }

    /// Whether a transaction is open (a failed statement in it is undone by rolling back to
    /// a savepoint, or refuses the commit).
    pub(crate) fn is_in_transaction(&self) -> bool {
        self.in_transaction.load(Ordering::Acquire)
    }

    /// A number that changes when another process commits (this connection listens from
    /// its first call on).
    pub(crate) fn data_version(&self) -> Result<i64> {
        self.listen()?;
        Ok(self.heard.load(Ordering::Acquire))
    }

    /// What tells of every commit, by any process from now on, that left runs for any
    /// server to take.
    pub(crate) fn queued_runs_heard(&self) -> Result<Arc<tokio::sync::Notify>> {
        self.listen_once(&self.listening_queue, QUEUE_CHANNEL)?;
        Ok(self.woken.clone())
    }

    /// What tells of every commit, by any process from now on (the studio's view follows).
    pub(crate) fn commits_heard(&self) -> Result<Arc<tokio::sync::Notify>> {
        self.listen()?;
        Ok(self.commits_woken.clone())
    }

    /// What tells of every commit, by any process from now on, that changed the
    /// definitions.
    pub(crate) fn definitions_heard(&self) -> Result<Arc<tokio::sync::Notify>> {
        self.listen_once(&self.listening_definitions, DEFINITIONS_CHANNEL)?;
        Ok(self.definitions_woken.clone())
    }

    /// `LISTEN` on `channel` unless `listening` says it was done (tried again after a
    /// failure).
    fn listen_once(&self, listening: &AtomicBool, channel: &str) -> Result<()> {
        if !listening.swap(true, Ordering::AcqRel)
            && let Err(e) = self.batch(&format!("LISTEN {channel}"))
        {
            listening.store(false, Ordering::Release);
            return Err(e);
        }
        Ok(())
    }

    /// Note that the open transaction leaves runs for any server to take (announced at its
    /// commit; at once outside a transaction).
    pub(crate) fn note_queued(&self) {
        if self.is_in_transaction() {
            self.queued.store(true, Ordering::Release);
        } else if let Err(e) = self.batch(&format!("NOTIFY {QUEUE_CHANNEL}")) {
            tracing::warn!(error = %e, "cannot announce queued runs");
        }
    }

    fn listen(&self) -> Result<()> {
        if !self.listening.swap(true, Ordering::AcqRel)
            && let Err(e) = self.batch(&format!("LISTEN {CHANNEL}"))
        {
            self.listening.store(false, Ordering::Release);
            return Err(e);
        }
        Ok(())
    }
}

/// Who is told of the notifications a connection hears, by channel.
struct Wakes {
    queue: Arc<tokio::sync::Notify>,
    definitions: Arc<tokio::sync::Notify>,
    commits: Arc<tokio::sync::Notify>,
}

/// Wake every waiter, and keep a permit for one that was between two waits (it looks again
/// at once rather than missing this notification).
fn wake(notify: &tokio::sync::Notify) {
    notify.notify_waiters();
    notify.notify_one();
}

/// Connect with `tls`, hand the client over `tx`, then drive the connection until it closes.
async fn open<T>(
    config: tokio_postgres::Config,
    tls: T,
    tx: tokio::sync::oneshot::Sender<std::result::Result<Client, tokio_postgres::Error>>,
    heard: Arc<AtomicI64>,
    wakes: Wakes,
) where
    T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>,
    T::Stream: Send + 'static,
{
    match config.connect(tls).await {
        Ok((client, connection)) => {
            let _ = tx.send(Ok(client));
            drive(connection, heard, wakes).await;
        }
        Err(e) => {
            let _ = tx.send(Err(e));
        }
    }
}

/// Drive one connection's socket until it closes, counting the notifications it hears.
async fn drive<T>(
    mut connection: tokio_postgres::Connection<tokio_postgres::Socket, T>,
    heard: Arc<AtomicI64>,
    wakes: Wakes,
) where
    T: tokio_postgres::tls::TlsStream + Unpin,
{
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    use futures_util::StreamExt;
    while let Some(message) = messages.next().await {
        match message {
            Ok(AsyncMessage::Notification(n)) if n.channel() == QUEUE_CHANNEL => {
                wake(&wakes.queue);
            }
            Ok(AsyncMessage::Notification(n)) if n.channel() == DEFINITIONS_CHANNEL => {
                wake(&wakes.definitions);
            }
            Ok(AsyncMessage::Notification(_)) => {
                heard.fetch_add(1, Ordering::AcqRel);
                wake(&wakes.commits);
            }
            Ok(AsyncMessage::Notice(notice)) => {
                tracing::debug!(notice = %notice.message(), "PostgreSQL notice");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "PostgreSQL connection closed");
                break;
            }
        }
    }
}

/// What went wrong, in the server's words when it said something (tokio-postgres's own
/// text says only "db error"), else with the cause it gives.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.message().to_string();
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// A PostgreSQL error as the store tells it: a full disk becomes [`StoreError::Full`], a
/// broken constraint [`StoreError::Constraint`].
pub(crate) fn from_postgres(e: tokio_postgres::Error, shown: &str) -> StoreError {
    use tokio_postgres::error::SqlState;
    let Some(db) = e.as_db_error() else {
        return StoreError::Postgres(format!("{shown}: {}", describe(&e)));
    };
    let code = db.code();
    if *code == SqlState::DISK_FULL || *code == SqlState::OUT_OF_MEMORY {
        return StoreError::Full {
            path: shown.into(),
            why: db.message().to_string(),
        };
    }
    let class = code.code().get(..2).unwrap_or("");
    if class == "23" {
        return StoreError::Constraint(db.message().to_string());
    }
    let mut text = db.message().to_string();
    if let Some(detail) = db.detail() {
        text.push_str(" (");
        text.push_str(detail);
        text.push(')');
    }
    StoreError::Postgres(format!("{shown}: {text}"))
}

#[cfg(test)]
mod tests {
    use super::scratch::scratch_store;
    use super::{column, is_postgres_url, shown_url};

    #[test]
    fn urls_are_told_from_paths_and_shown_without_their_password() {
        assert!(is_postgres_url("postgres://u@h/db"));
        assert!(is_postgres_url("PostgreSQL://u@h/db"));
        assert!(!is_postgres_url("flowdeck.db"));
        assert!(!is_postgres_url("./postgres://x"));
        assert_eq!(
            shown_url("postgres://alice:s3cret@db.example:5432/shop"),
            "postgres://alice:***@db.example:5432/shop"
        );
        assert_eq!(
            shown_url("postgres://alice@h/shop"),
            "postgres://alice@h/shop"
        );
        assert_eq!(shown_url("/tmp/flowdeck.db"), "/tmp/flowdeck.db");
    }
    use crate::store::Store;
    use std::path::Path;

    #[test]
    fn a_new_database_is_migrated_once_and_reopens() {
        let Some((db, store)) = scratch_store("a_new_database_is_migrated_once_and_reopens") else {
            return;
        };
        let pg = store.postgres().expect("a PostgreSQL store");
        let version: i64 = column(
            &pg.query_one("SELECT version FROM flowdeck_schema WHERE id = 1", &[])
                .unwrap(),
            0,
        )
        .unwrap();
        assert_eq!(version, super::schema::latest());
        drop(store);
        let again = Store::open(Path::new(db.url())).unwrap();
        assert!(again.is_postgres());
        assert!(again.path().to_string_lossy().starts_with("postgres"));
    }

    #[test]
    fn a_database_with_tables_of_its_own_is_refused() {
        let Some(db) = super::scratch::ScratchDatabase::for_test(
            "a_database_with_tables_of_its_own_is_refused",
        ) else {
            return;
        };
        let url = db.url().to_string();
        let e = {
            // a table named like one of the store's, made by someone else
            let pg = super::PgStore::connect_unmigrated(&url).unwrap();
            pg.batch("CREATE TABLE events (x int)").unwrap();
            Store::open(Path::new(&url)).unwrap_err()
        };
        assert!(e.to_string().contains("not a flowdeck store"), "{e}");
    }

    #[test]
    fn a_commit_is_heard_by_a_listening_connection() {
        let Some((db, store)) = scratch_store("a_commit_is_heard_by_a_listening_connection") else {
            return;
        };
        let other = Store::open(Path::new(db.url())).unwrap();
        let before = other.data_version().unwrap();
        store.begin_write().unwrap();
        store.commit_write().unwrap();
        let heard = (0..200).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            other.data_version().unwrap() != before
        });
        assert!(heard, "the other connection heard the commit");
    }

    #[tokio::test]
    async fn a_run_queued_for_any_server_wakes_a_server_waiting_on_another_connection() {
        use crate::store::HotWrites;
        let Some((db, store)) = scratch_store(
            "a_run_queued_for_any_server_wakes_a_server_waiting_on_another_connection",
        ) else {
            return;
        };
        let idle = Store::open(Path::new(db.url())).unwrap();
        let heard = idle.queued_runs_heard().expect("listening");
        super::runs::tests::workflow_w(&store);
        store.begin_write().unwrap();
        store
            .insert_run(&super::runs::tests::new_run(None))
            .unwrap();
        store.commit_write().unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(10), heard.notified())
            .await
            .expect("the idle server heard of the queued run");
    }

    #[test]
    fn a_url_that_requires_tls_of_a_server_without_it_is_refused_and_says_what_to_do() {
        let Some(db) = super::scratch::ScratchDatabase::for_test(
            "a_url_that_requires_tls_of_a_server_without_it_is_refused_and_says_what_to_do",
        ) else {
            return;
        };
        // the tests' server offers no TLS: `prefer` (the default) connects in the clear,
        // `require` is refused with what to do
        Store::open(Path::new(db.url())).unwrap();
        let required = format!("{}?sslmode=require", db.url());
        let e = Store::open(Path::new(&required)).unwrap_err().to_string();
        assert!(e.contains("TLS") && e.contains("sslmode=prefer"), "{e}");
    }

    #[tokio::test]
    async fn a_deploy_on_one_connection_is_heard_on_another() {
        let Some((db, store)) = scratch_store("a_deploy_on_one_connection_is_heard_on_another")
        else {
            return;
        };
        let server = Store::open(Path::new(db.url())).unwrap();
        let heard = server.definitions_heard().expect("listening");
        super::runs::tests::workflow_w(&store);
        tokio::time::timeout(std::time::Duration::from_secs(10), heard.notified())
            .await
            .expect("the server heard the definitions change");
    }

    #[test]
    fn a_failed_statement_refuses_the_commit_unless_rolled_back_to_a_savepoint() {
        let Some((_db, store)) = scratch_store(
            "a_failed_statement_refuses_the_commit_unless_rolled_back_to_a_savepoint",
        ) else {
            return;
        };
        let pg = store.postgres().unwrap();
        store.begin_write().unwrap();
        pg.batch("INSERT INTO ui_state (key, value, updated_at) VALUES ('a', '1', 0)")
            .unwrap();
        store.savepoint().unwrap();
        assert!(
            pg.batch("INSERT INTO ui_state (key, value, updated_at) VALUES ('a', '2', 0)")
                .is_err()
        );
        store.rollback_to_savepoint().unwrap();
        store.commit_write().unwrap();
        let n: i64 = column(
            &pg.query_one("SELECT count(*) FROM ui_state", &[]).unwrap(),
            0,
        )
        .unwrap();
        assert_eq!(n, 1);

        store.begin_write().unwrap();
        pg.batch("INSERT INTO ui_state (key, value, updated_at) VALUES ('b', '1', 0)")
            .unwrap();
        assert!(
            pg.batch("INSERT INTO ui_state (key, value, updated_at) VALUES ('a', '2', 0)")
                .is_err()
        );
        assert!(store.commit_write().is_err(), "never committed in part");
        let n: i64 = column(
            &pg.query_one("SELECT count(*) FROM ui_state", &[]).unwrap(),
            0,
        )
        .unwrap();
        assert_eq!(n, 1);
    }
}
