//! Group commit: one thread owns the store's write connection and commits the work of many
//! callers in one transaction.
//!
//! Callers send jobs over a bounded channel (the bound is the back-pressure). The thread
//! takes the first one waiting, then everything else already queued (up to a batch limit),
//! runs them all in one transaction, commits once, and only then answers the callers that
//! wait: an acknowledged write is on disk (WAL, `synchronous=NORMAL`). When a job fails, the
//! batch is rolled back and run again with each job in its own savepoint, so that the failed
//! job alone is undone; when the commit itself is refused (a check deferred to it), the jobs
//! are committed one by one, so that the one that broke it alone fails (jobs are `Fn`:
//! running one again is safe). Work sent with
//! [`Writer::submit`] is not waited for but is committed in order with the rest, so awaiting
//! any later call also means the earlier submissions are committed. Jobs the writer is done
//! with are handed back and dropped by the next send, on the thread that allocated them.
//!
//! A full store (its disk, or its size limit): a caller that waits is answered with
//! [`StoreError::Full`] (an event is refused, nothing of it recorded). A submission (the
//! records of a run under way: its start, steps and end) is kept instead and tried again,
//! first in every later batch and at least every [`RETRY_EVERY`], until there is room: a run
//! that was accepted is recorded whole once space returns. What still waits when the
//! writer stops is logged and let go; its runs are left unfinished, for a graceful shutdown
//! to give back to the queue (or for their leases to expire).
//!
//! Background work ([`Writer::call_in_background`]: retention's batches) steps aside for the
//! rest: it runs alone, in its own transaction, at a moment when no other write waits (or
//! after [`BACKGROUND_PATIENCE`], when there is never such a moment), so a write that a caller
//! waits on never shares a commit with it and waits for one such job at most. Alone, it runs
//! on a second connection of the thread's, whose SQLite foreign keys are off for good (their
//! actions cost two thirds of a prune): a background job does what their actions would, and
//! is also right with them on. Turning them off and on around each job on the writer's own
//! connection would expire every statement it holds (SQLite does so whenever such a pragma
//! is set), and each would be compiled again at its next use.
//!
//! Over 600 lines only with its tests, which stay beside the code they pin down.

use super::background::{Joined, drain};
use super::checkpointer::{self, Checkpointer};
use super::held::WriterStore;
use super::load::{Load, LoadMeter};
use super::{Result, Store, StoreError};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Jobs queued before senders wait.
const QUEUE: usize = 4096;
/// Jobs committed in one transaction at most.
const BATCH: usize = 2048;
/// How often writes refused by a full store are tried again while no new work comes.
pub(crate) const RETRY_EVERY: Duration = Duration::from_millis(200);
/// The longest a background job waits for a quiet moment before it joins the next batch.
const BACKGROUND_PATIENCE: Duration = Duration::from_millis(50);

/// Work for the writer thread.
trait Work: Send {
    /// Do the writes (possibly again, after a rollback); whether they succeeded.
    fn run(&mut self, store: &WriterStore<'_>) -> bool;
    /// The batch is committed (or failed to commit): answer, and let go of anything a
    /// caller waits on (the job itself is dropped later, by a sender: see [`SpentJob`]).
    fn done(&mut self, commit_error: Option<&StoreError>);
    /// Whether the job is to be tried again rather than answered: nobody waits for it, and
    /// its writes (or the batch's commit, `commit_error`) were refused by a full store.
    fn waits_for_room(&self, _commit_error: Option<&StoreError>) -> bool {
        false
    }
    /// Let go of a job that waited for room and will not be written (logged by the
    /// caller, once for all of them).
    fn let_go(&mut self) {
        self.done(Some(&StoreError::WriterGone));
    }
    /// Whether the job waits for a moment when no other write does, and then runs alone.
    fn is_background(&self) -> bool {
        false
    }
}

type Job = Box<dyn Work>;

/// A write whose caller waits for the answer.
struct Call<T, F> {
    f: F,
    result: Option<Result<T>>,
    answer: Option<oneshot::Sender<Result<T>>>,
    background: bool,
}

impl<T: Send, F: Fn(&WriterStore<'_>) -> Result<T> + Send> Work for Call<T, F> {
    fn run(&mut self, store: &WriterStore<'_>) -> bool {
        let result = (self.f)(store).map_err(|e| e.at(store.path()));
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn done(&mut self, commit_error: Option<&StoreError>) {
        let answer = match (commit_error, self.result.take()) {
            (Some(e), None | Some(Ok(_))) => Err(e.for_another()),
            (None, None) => Err(StoreError::WriterGone),
            (_, Some(r)) => r,
        };
        if let Some(tx) = self.answer.take() {
            let _ = tx.send(answer);
        }
    }

    fn is_background(&self) -> bool {
        self.background
    }
}

/// A write nobody waits for; failures are logged; `committed` is called once it is on disk.
struct Submit<F, C> {
    what: &'static str,
    f: F,
    result: Option<Result<()>>,
    committed: Option<C>,
}

impl<F: Fn(&WriterStore<'_>) -> Result<()> + Send, C: FnOnce() + Send> Work for Submit<F, C> {
    fn run(&mut self, store: &WriterStore<'_>) -> bool {
        let result = (self.f)(store).map_err(|e| e.at(store.path()));
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn waits_for_room(&self, commit_error: Option<&StoreError>) -> bool {
        match (&self.result, commit_error) {
            (Some(Err(e)), _) => e.is_full(),
            (_, Some(e)) => e.is_full(),
            _ => false,
        }
    }

    fn let_go(&mut self) {
        // the guards `committed` holds are let go of, unrun
        self.committed.take();
        self.result.take();
    }

    fn done(&mut self, commit_error: Option<&StoreError>) {
        let what = self.what;
        // taken in every case: what it holds is let go of now, not when the job is dropped
        let committed = self.committed.take();
        match (self.result.take(), commit_error) {
            (Some(Err(e)), _) => {
                tracing::error!(what, error = %e, "a queued store write failed");
            }
            (_, Some(e)) => {
                tracing::error!(what, error = %e, "a queued store write was not committed");
            }
            (Some(Ok(())), None) => {
                if let Some(c) = committed {
                    c();
                }
            }
            (None, None) => {}
        }
    }
}

/// Jobs the writer is done with, handed back to the threads that send new ones, which drop
/// them: a job (its box, what its closure holds) was allocated on its sender's thread, and a
/// free from another thread costs both cores (measured: a fifth of the run's thread's time
/// went to collecting such frees when the host's cache was contended).
#[derive(Default)]
struct SpentJob {
    jobs: Mutex<Vec<Job>>,
    any: AtomicBool,
}

impl std::fmt::Debug for SpentJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpentJob")
            .field("any", &self.any.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl SpentJob {
    /// The writer hands over done jobs (it drops them itself when a sender holds the lock).
    fn put(&self, done: &mut Vec<Job>) {
        if done.is_empty() {
            return;
        }
        match self.jobs.try_lock() {
            Ok(mut jobs) => {
                jobs.append(done);
                self.any.store(true, Ordering::Release);
            }
            Err(_) => done.clear(),
        }
    }

    /// A sender drops the jobs handed over (none when the writer holds the lock: the next
    /// sender will). Every job comes from a send, so at most a batch or two wait here.
    fn drop_all(&self) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        if let Ok(mut jobs) = self.jobs.try_lock() {
            self.any.store(false, Ordering::Release);
            jobs.clear();
        }
    }
}

/// A handle to the writer thread; cheap to clone. When the last handle is dropped the
/// thread commits what is queued and ends (the drop waits for it).
#[derive(Clone, Debug)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
    commits: tokio::sync::watch::Receiver<u64>,
    load: Load,
    spent: Arc<SpentJob>,
    /// Set when the writes a full store refused are no longer wanted.
    let_go: Arc<AtomicBool>,
    _thread: Arc<ThreadGuard>,
}

/// Joins the thread once every handle is gone. `Writer::tx` is declared before the guard,
/// so the last sender is dropped first, the channel closes and the thread ends; the
/// checkpointer stops after it.
#[derive(Debug)]
struct ThreadGuard {
    _thread: Joined,
    _checkpointer: Option<Checkpointer>,
}

impl Writer {
    /// Open the store at `path` on a new writer thread.
    pub fn spawn(path: &Path) -> Result<Writer> {
        let store = Store::open(path)?;
        // PostgreSQL has no write-ahead file of the store's to rewind, and keeps its
        // foreign keys on: its background work runs on the one connection
        let checkpointer = (!store.is_postgres())
            .then(|| checkpointer::hand_off(store.conn(), path))
            .flatten();
        let background = if store.is_postgres() {
            None
        } else {
            Some(background_connection(path, checkpointer.is_some())?)
        };
        let (tx, rx) = mpsc::channel::<Job>(QUEUE);
        let (committed, commits) = tokio::sync::watch::channel(0u64);
        let load = Load::default();
        let meter = LoadMeter::new(load.clone());
        let spent = Arc::new(SpentJob::default());
        let handed_back = spent.clone();
        let let_go = Arc::new(AtomicBool::new(false));
        let told = let_go.clone();
        let handle = std::thread::Builder::new()
            .name("flowdeck-writer".into())
            .spawn(move || {
                run(
                    Stores { store, background },
                    rx,
                    committed,
                    meter,
                    &handed_back,
                    &told,
                )
            })
            .map_err(|e| StoreError::Commit(format!("cannot start the writer thread: {e}")))?;
        let guard = ThreadGuard {
            _thread: Joined::new(handle),
            _checkpointer: checkpointer,
        };
        Ok(Writer {
            tx,
            commits,
            load,
            spent,
            let_go,
            _thread: Arc::new(guard),
        })
    }

    /// Stop trying again the writes a full store refused (see the module's docs): their
    /// runs are given back to the queue (a shutdown), and run again from the start by
    /// whoever takes them up, so their records are no longer wanted. Holds for every write
    /// sent after this call.
    pub fn let_go_of_waiting(&self) {
        self.let_go.store(true, Ordering::Release);
    }

    fn job<T: Send + 'static>(
        &self,
        f: impl Fn(&WriterStore<'_>) -> Result<T> + Send + 'static,
        background: bool,
    ) -> (Job, oneshot::Receiver<Result<T>>) {
        self.spent.drop_all();
        let (answer, rx) = oneshot::channel();
        let job: Job = Box::new(Call {
            f,
            result: None,
            answer: Some(answer),
            background,
        });
        (job, rx)
    }

    async fn send_and_wait<T: Send + 'static>(
        &self,
        (job, rx): (Job, oneshot::Receiver<Result<T>>),
    ) -> Result<T> {
        self.tx
            .send(job)
            .await
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Run `f` in the next group commit and wait until it is committed. `f` may run more
    /// than once (after a rollback caused by another job of its batch). What `f` holds is
    /// dropped later, by a later send: nothing anyone waits on, and no handle to this writer
    /// (it would keep the writer alive).
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl Fn(&WriterStore<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.send_and_wait(self.job(f, false)).await
    }

    /// [`Writer::call`] for work that may wait (retention): it runs alone, in its own
    /// transaction, when no other write waits, or after 50 ms at most.
    pub async fn call_in_background<T: Send + 'static>(
        &self,
        f: impl Fn(&WriterStore<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.send_and_wait(self.job(f, true)).await
    }

    /// Queue `f` without waiting for its commit; a failure is logged.
    pub async fn submit(
        &self,
        what: &'static str,
        f: impl Fn(&WriterStore<'_>) -> Result<()> + Send + 'static,
    ) {
        self.submit_then(what, f, None::<fn()>).await;
    }

    /// [`Writer::submit`], calling `committed` on the writer thread once the write is on
    /// disk (not when it failed). Keep `committed` short: the next batch waits for it. It is
    /// dropped at the commit either way, so a guard to let go of then belongs in it, not in
    /// `f` (dropped later, by a later send).
    pub async fn submit_then(
        &self,
        what: &'static str,
        f: impl Fn(&WriterStore<'_>) -> Result<()> + Send + 'static,
        committed: Option<impl FnOnce() + Send + 'static>,
    ) {
        self.spent.drop_all();
        let job: Job = Box::new(Submit {
            what,
            f,
            result: None,
            committed,
        });
        if self.tx.send(job).await.is_err() {
            tracing::error!(what, "the store writer has stopped; a write was dropped");
        }
    }

    /// The number of commits so far, changing after each one (for views that follow the
    /// store as it is written, within a frame).
    pub fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.commits.clone()
    }

    /// Whether the thread has lately spent most of its time writing: a write that could
    /// wait for a later one had better join it. (Whether writes wait in the queue says
    /// little: each batch empties it, so at full load it is often empty.)
    pub fn is_saturated(&self) -> bool {
        self.load.is_saturated()
    }

    /// How busy the thread is, for others that pace themselves by it.
    pub fn load(&self) -> Load {
        self.load.clone()
    }

    /// Wait until everything sent before is committed.
    pub async fn flush(&self) -> Result<()> {
        self.call(|_| Ok(())).await
    }
}

/// Roll back whatever is open (nothing, when the database already did).
fn rollback(store: &Store) {
    store.rollback_write();
}

/// How a batch's transaction ended.
enum Ended {
    /// Committed (or refused at the commit, with the error).
    Commit(Option<StoreError>),
    /// SQLite rolled the whole transaction back when a job failed (it does so for a full
    /// disk, among others): the jobs are to be run one by one.
    Lost,
}

/// Run the batch in one transaction, every job in a savepoint: the slow path, after a job
/// failed.
fn run_isolated(store: &WriterStore<'_>, batch: &mut [Job]) -> Ended {
    if let Err(e) = begin(store) {
        return Ended::Commit(Some(e));
    }
    for job in batch.iter_mut() {
        let _ = store.savepoint();
        let ok = job.run(store);
        if store.write_lost() {
            // the transaction is gone, and with it the jobs before this one
            rollback(store);
            return Ended::Lost;
        }
        let end = if ok {
            store.release_savepoint()
        } else {
            store.rollback_to_savepoint()
        };
        if let Err(e) = end {
            tracing::error!(error = %e, "savepoint failed");
        }
    }
    Ended::Commit(commit(store))
}

/// Start the write transaction; when it cannot start, nothing runs and the jobs are
/// answered with the error.
fn begin(store: &Store) -> Result<(), StoreError> {
    store.begin_write().inspect_err(|_| rollback(store))
}

fn commit(store: &Store) -> Option<StoreError> {
    store.commit_write().err()
}

/// Where the writer puts the jobs of a batch once it is done with them.
struct Outcomes<'a> {
    committed: &'a tokio::sync::watch::Sender<u64>,
    /// Jobs answered, to hand back to the senders.
    done: &'a mut Vec<Job>,
    /// Submissions a full store refused, to try again.
    waiting: &'a mut Vec<Job>,
}

impl Outcomes<'_> {
    /// The batch's transaction ended with `error` (none: committed).
    fn batch(&mut self, batch: &mut Vec<Job>, error: Option<&StoreError>) {
        if error.is_none() {
            self.committed.send_modify(|n| *n += 1);
        }
        for job in batch.drain(..) {
            self.one(job, error);
        }
    }

    /// One job's transaction ended with `error`.
    fn one(&mut self, mut job: Job, error: Option<&StoreError>) {
        if job.waits_for_room(error) {
            self.waiting.push(job);
        } else {
            job.done(error);
            self.done.push(job);
        }
    }

    /// Commit the jobs one by one, so that the one that fails fails alone.
    fn one_by_one(&mut self, store: &WriterStore<'_>, batch: &mut Vec<Job>) {
        for mut job in batch.drain(..) {
            let error = run_alone(store, &mut job);
            if error.is_none() {
                self.committed.send_modify(|n| *n += 1);
            }
            self.one(job, error.as_ref());
        }
    }
}

/// The writer thread's stores: its own connection, and on SQLite a second one for
/// background work.
struct Stores {
    store: Store,
    background: Option<Store>,
}

/// A second connection to the store at `path`, for background work, with SQLite's foreign
/// keys off for good (a background job does what their actions would). Its checkpoints are
/// the checkpointer's too when `checkpointed`.
fn background_connection(path: &Path, checkpointed: bool) -> Result<Store> {
    let store = Store::open(path)?;
    store.conn().execute_batch("PRAGMA foreign_keys = OFF")?;
    if checkpointed {
        store
            .conn()
            .execute_batch("PRAGMA wal_autocheckpoint = 0")?;
    }
    Ok(store)
}

fn run(
    stores: Stores,
    mut rx: mpsc::Receiver<Job>,
    committed: tokio::sync::watch::Sender<u64>,
    mut meter: LoadMeter,
    spent: &SpentJob,
    let_go: &AtomicBool,
) {
    let store = WriterStore::new(&stores.store);
    let background_store = stores.background.as_ref().map(WriterStore::new);
    let mut batch: Vec<Job> = Vec::with_capacity(BATCH);
    let mut done: Vec<Job> = Vec::with_capacity(BATCH);
    // submissions a full store refused, in the order they came: tried again first
    let mut waiting: Vec<Job> = Vec::new();
    let mut background = Background::default();
    loop {
        let next = if waiting.is_empty() && !background.jobs.is_empty() {
            // a background job runs when nothing else is queued (or the queue has closed)
            rx.try_recv().ok()
        } else if waiting.is_empty() {
            rx.blocking_recv()
        } else {
            // writes wait for room: tried again at this pace, background work with them
            match recv_within(&mut rx, RETRY_EVERY) {
                Received::Job(job) => Some(job),
                Received::Nothing => None,
                Received::Closed => {
                    give_up(&mut waiting);
                    break;
                }
            }
        };
        if !waiting.is_empty() && let_go.load(Ordering::Acquire) {
            give_up(&mut waiting);
        }
        if next.is_none() && waiting.is_empty() && background.jobs.is_empty() {
            break;
        }
        meter.work();
        let was_waiting = waiting.len();
        batch.append(&mut waiting);
        batch.extend(next);
        drain(&mut rx, &mut batch, BATCH);
        background.take_from(&mut batch);
        let alone_in_background = batch.len() == 1 && batch[0].is_background();
        // the connection this batch runs on
        let on = match &background_store {
            Some(background) if alone_in_background => background,
            _ => &store,
        };
        tracing::trace!(jobs = batch.len(), "group commit");
        // the fast path: the whole batch in one transaction, no savepoints (on PostgreSQL,
        // writes pipelined and answered at the commit)
        on.pipeline_writes(true, batch.len() > 1);
        let began = on.begin_write();
        let ended = match began {
            Ok(()) => {
                // a job that failed may have cost the transaction (SQLite rolls it back
                // on a full disk): then no job after it runs outside of one
                if batch.iter_mut().all(|job| job.run(on) && !on.write_lost()) {
                    let committed = commit(on);
                    on.pipeline_writes(false, false);
                    Ended::Commit(committed)
                } else {
                    rollback(on);
                    on.pipeline_writes(false, false);
                    run_isolated(on, &mut batch)
                }
            }
            Err(_) => {
                on.pipeline_writes(false, false);
                run_isolated(on, &mut batch)
            }
        };
        let mut out = Outcomes {
            committed: &committed,
            done: &mut done,
            waiting: &mut waiting,
        };
        match ended {
            Ended::Commit(None) => out.batch(&mut batch, None),
            Ended::Commit(Some(e))
                if batch.len() > 1
                    && (refused_by_a_check(&e) || pipelined_write_failed(on, &e)) =>
            {
                // a check deferred to the commit (a step record's run) failed: which job
                // broke it is known only by committing them one by one
                let jobs = batch.len();
                tracing::warn!(error = %e, jobs, "group commit refused; committing job by job");
                out.one_by_one(on, &mut batch);
            }
            Ended::Commit(Some(e)) => {
                tracing::error!(error = %e, "commit failed");
                out.batch(&mut batch, Some(&e));
            }
            Ended::Lost => out.one_by_one(on, &mut batch),
        }
        match (was_waiting, waiting.len()) {
            (0, n @ 1..) => tracing::warn!(
                writes = n,
                "the store is full: records of runs under way wait for room"
            ),
            (n @ 1.., 0) => tracing::info!(writes = n, "the store had room again"),
            _ => {}
        }
        spent.put(&mut done);
        meter.idle();
    }
}

/// Background jobs set aside until a quiet moment.
#[derive(Default)]
struct Background {
    jobs: VecDeque<Job>,
    /// When the first of them was set aside.
    since: Option<Instant>,
}

impl Background {
    /// Set `batch`'s background jobs aside; then give it one of them if it is empty (a quiet
    /// moment) or if one has waited [`BACKGROUND_PATIENCE`].
    fn take_from(&mut self, batch: &mut Vec<Job>) {
        let mut i = 0;
        while i < batch.len() {
            if batch[i].is_background() {
                self.jobs.push_back(batch.remove(i));
            } else {
                i += 1;
            }
        }
        if self.since.is_none() && !self.jobs.is_empty() {
            self.since = Some(Instant::now());
        }
        let patience_over = self
            .since
            .is_some_and(|t| t.elapsed() >= BACKGROUND_PATIENCE);
        if (batch.is_empty() || patience_over)
            && let Some(job) = self.jobs.pop_front()
        {
            batch.push(job);
            self.since = (!self.jobs.is_empty()).then(Instant::now);
        }
    }
}

/// What came from the queue within a while.
enum Received {
    Job(Job),
    Nothing,
    Closed,
}

/// The next job if one comes within `wait` (polled: this runs only while writes wait for
/// room in a full store).
fn recv_within(rx: &mut mpsc::Receiver<Job>, wait: Duration) -> Received {
    let until = Instant::now() + wait;
    loop {
        match rx.try_recv() {
            Ok(job) => return Received::Job(job),
            Err(mpsc::error::TryRecvError::Disconnected) => return Received::Closed,
            Err(mpsc::error::TryRecvError::Empty) => {}
        }
        let now = Instant::now();
        if now >= until {
            return Received::Nothing;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(10)));
    }
}

/// Writes still wait for room as the writer stops, or as their runs are given back: they
/// are let go (logged; their runs stay unfinished in the store, to run again).
fn give_up(waiting: &mut Vec<Job>) {
    tracing::error!(
        writes = waiting.len(),
        "the store is full: records of runs under way were not written (their runs will run again)"
    );
    for mut job in waiting.drain(..) {
        job.let_go();
    }
}

/// Whether a commit failed a constraint deferred to it (not a busy or full disk, which
/// would fail every job again).
fn refused_by_a_check(e: &StoreError) -> bool {
    match e {
        StoreError::Sqlite(e) => {
            e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
        }
        StoreError::Constraint(_) => true,
        _ => false,
    }
}

/// Whether a PostgreSQL commit failed on a write sent without waiting (whose job cannot be
/// told from the others but by running them one by one); a full disk fails every job.
fn pipelined_write_failed(store: &Store, e: &StoreError) -> bool {
    store.is_postgres() && !e.is_full() && !matches!(e, StoreError::WriterGone)
}

/// Run one job in its own transaction; the commit's error, if any (a failed job rolls
/// back and answers with its own error).
fn run_alone(store: &WriterStore<'_>, job: &mut Job) -> Option<StoreError> {
    if let Err(e) = begin(store) {
        return Some(e);
    }
    if job.run(store) {
        commit(store)
    } else {
        rollback(store);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DefinitionKind, RunMode};
    use crate::store::HotWrites;
    use crate::store::runs::NewRun;

    /// A writer on a new store in a temporary folder, which lives as long as the folder.
    fn spawned() -> (tempfile::TempDir, Writer) {
        let dir = tempfile::tempdir().unwrap();
        let writer = Writer::spawn(&dir.path().join("flowdeck.db")).unwrap();
        (dir, writer)
    }

    /// The rows of `table`, counted through the writer.
    async fn rows(writer: &Writer, table: &'static str) -> i64 {
        writer
            .call(move |s| {
                let sql = format!("SELECT count(*) FROM {table}");
                Ok(s.conn().query_row(&sql, [], |r| r.get(0))?)
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn acknowledged_writes_are_committed_and_visible_to_other_connections() {
        let (dir, writer) = spawned();
        let mut tasks = Vec::new();
        for i in 0..200 {
            let w = writer.clone();
            tasks.push(tokio::spawn(async move {
                w.call(move |s| {
                    s.conn().execute(
                        "INSERT INTO project (id, name, config, updated_at) VALUES (1, 'p', '{}', ?1)
                         ON CONFLICT (id) DO UPDATE SET updated_at = updated_at + 1",
                        [i],
                    )?;
                    Ok(())
                })
                .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let reader = Store::open(&dir.path().join("flowdeck.db")).unwrap();
        let n: i64 = reader
            .conn()
            .query_row("SELECT count(*) FROM project", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        drop(writer);
    }

    #[tokio::test]
    async fn done_jobs_are_dropped_by_the_next_sender_and_let_go_of_waiters_at_once() {
        let (_dir, writer) = spawned();
        // held by a job's closure: dropped with the job, by a later sender
        let held = Arc::new(());
        let h = held.clone();
        writer
            .submit("hold", move |_| {
                let _ = &h;
                Ok(())
            })
            .await;
        // held by the `committed` callback of a job that fails: let go of when the job is
        // done, not when it is dropped (a cascade waits on such guards)
        let guard = Arc::new(());
        let g = guard.clone();
        writer
            .submit_then(
                "fail",
                |_| Err(StoreError::Commit("no".into())),
                Some(move || drop(g)),
            )
            .await;
        writer.flush().await.unwrap();
        assert_eq!(Arc::strong_count(&guard), 1, "let go of at done");
        // every send drops what earlier batches left (unless the writer holds the lock at
        // that moment: then the next one does)
        for _ in 0..100 {
            writer.flush().await.unwrap();
            if Arc::strong_count(&held) == 1 {
                break;
            }
        }
        assert_eq!(Arc::strong_count(&held), 1, "dropped by a sender");
        drop(writer);
    }

    #[tokio::test]
    async fn background_work_runs_alone_with_foreign_keys_off_and_they_come_back_on() {
        let (_dir, writer) = spawned();
        let keys = |s: &WriterStore<'_>| -> Result<i64> {
            Ok(s.conn()
                .query_row("PRAGMA foreign_keys", [], |r| r.get(0))?)
        };
        // calls sent with it commit first (they do not wait behind it), with keys on
        let (background, call) = tokio::join!(writer.call_in_background(keys), writer.call(keys));
        assert_eq!(background.unwrap(), 0, "alone, with the foreign keys off");
        assert_eq!(call.unwrap(), 1);
        assert_eq!(writer.call(keys).await.unwrap(), 1, "and on again after it");
        // a background job that fails leaves them on as well
        let failed = writer
            .call_in_background(|s| {
                s.conn()
                    .execute("INSERT INTO no_such_table VALUES (1)", [])?;
                Ok(())
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(writer.call(keys).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn background_work_leaves_the_writers_statements_compiled() {
        let (_dir, writer) = spawned();
        // a statement the writer's connection keeps prepared, and how often SQLite had to
        // compile it again (turning a pragma flag such as foreign_keys off or on expires
        // every prepared statement of the connection)
        let compiled_again = |s: &WriterStore<'_>| -> Result<i32> {
            let mut stmt = s.conn().prepare_cached("SELECT count(*) FROM events")?;
            let _: i64 = stmt.query_row([], |r| r.get(0))?;
            Ok(stmt.get_status(rusqlite::StatementStatus::RePrepare))
        };
        assert_eq!(writer.call(compiled_again).await.unwrap(), 0);
        for _ in 0..3 {
            writer
                .call_in_background(|s| {
                    s.conn().execute(
                        "INSERT INTO events (name, params, source, emitted_at) VALUES ('e', '{}', 'cli', 1)",
                        [],
                    )?;
                    Ok(())
                })
                .await
                .unwrap();
        }
        assert_eq!(
            writer.call(compiled_again).await.unwrap(),
            0,
            "background work made the writer compile its statements again"
        );
        let events = rows(&writer, "events").await;
        assert_eq!(
            events, 3,
            "what the background work wrote is seen by the writer"
        );
    }

    #[tokio::test]
    async fn a_failing_job_rolls_back_alone() {
        let (_dir, writer) = spawned();
        let bad = writer.call(|s| {
            s.conn().execute(
                "INSERT INTO project (id, name, config, updated_at) VALUES (1, 'p', '{}', 0)",
                [],
            )?;
            // a run for a definition that does not exist: foreign key failure
            s.insert_run(&NewRun {
                definition_id: 999,
                kind: DefinitionKind::Workflow,
                target: "x",
                version: None,
                event_id: None,
                mode: RunMode::Debug,
                params_json: "null",
                lease_owner: None,
                lease_expires: None,
            })?;
            Ok(())
        });
        assert!(bad.await.is_err());
        let count = rows(&writer, "project").await;
        assert_eq!(count, 0, "the failed job's first insert was rolled back");
    }

    #[tokio::test]
    async fn a_job_refused_at_commit_fails_alone() {
        let (_dir, writer) = spawned();
        // hold the writer busy so that the jobs below are committed as one batch
        let held = writer.clone();
        let busy = tokio::spawn(async move {
            held.call(|_| {
                std::thread::sleep(std::time::Duration::from_millis(100));
                Ok(())
            })
            .await
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let mut tasks = Vec::new();
        for i in 0..10_i64 {
            let writer = writer.clone();
            tasks.push(tokio::spawn(async move {
                writer
                    .call(move |s| {
                        // job 5 records a step of a run that does not exist: the check
                        // of the step's run waits for the commit
                        let run = if i == 5 { 999 } else { 0 };
                        if run > 0 {
                            s.conn().execute(
                                "INSERT INTO steps (run_id, seq, step, path, action, status, input,
                                     output, attempt, started_at, duration_us)
                                 VALUES (?1, 1, 'a', '/steps/0', 'set', 'succeeded', '{}', 'null', 1, 0, 0)",
                                [run],
                            )?;
                        }
                        s.conn().execute(
                            "INSERT INTO ui_state (key, value, updated_at) VALUES (?1, '1', 0)",
                            [format!("k{i}")],
                        )?;
                        Ok(())
                    })
                    .await
            }));
        }
        busy.await.unwrap().unwrap();
        let results: Vec<bool> = futures_results(tasks).await;
        assert_eq!(
            results,
            (0..10).map(|i| i != 5).collect::<Vec<_>>(),
            "only the job with the dangling step failed"
        );
        let keys = rows(&writer, "ui_state").await;
        assert_eq!(keys, 9);
    }

    #[tokio::test]
    async fn a_full_store_refuses_callers_and_keeps_submissions_until_there_is_room() {
        let (_dir, writer) = spawned();
        // cap the writer's connection a few pages above its size, then fill them
        let cap: i64 = writer
            .call(|s| {
                let pages: i64 = s.conn().query_row("PRAGMA page_count", [], |r| r.get(0))?;
                Ok(s.conn().query_row(
                    &format!("PRAGMA max_page_count = {}", pages + 8),
                    [],
                    |r| r.get(0),
                )?)
            })
            .await
            .unwrap();
        let put = |key: String| {
            move |s: &WriterStore<'_>| -> Result<()> {
                s.conn().execute(
                    "INSERT INTO ui_state (key, value, updated_at) VALUES (?1, ?2, 0)",
                    rusqlite::params![key, "x".repeat(3000)],
                )?;
                Ok(())
            }
        };
        let mut refused = None;
        for i in 0..100 {
            match writer.call(put(format!("fill{i}"))).await {
                Ok(()) => {}
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        let refused = refused.expect("the store filled up");
        assert!(matches!(refused, StoreError::Full { .. }), "{refused}");
        let message = refused.to_string();
        assert!(
            message.contains("is full") && message.contains("flowdeck.db"),
            "{message}"
        );
        // a submission meets the full store: it is kept, not lost
        let (written, was_written) = oneshot::channel();
        writer
            .submit_then(
                "late record",
                put("late".into()),
                Some(move || {
                    let _ = written.send(());
                }),
            )
            .await;
        writer.flush().await.unwrap();
        let count = |key: &'static str| {
            move |s: &WriterStore<'_>| -> Result<i64> {
                Ok(s.conn().query_row(
                    "SELECT count(*) FROM ui_state WHERE key = ?1",
                    [key],
                    |r| r.get(0),
                )?)
            }
        };
        assert_eq!(writer.call(count("late")).await.unwrap(), 0);
        // room again (as a disk that was freed): it is written, in the next batch or on
        // the writer's own next try
        writer
            .call(move |s| {
                s.conn()
                    .execute_batch(&format!("PRAGMA max_page_count = {}", cap * 2))?;
                Ok(())
            })
            .await
            .unwrap();
        was_written.await.expect("the kept write was committed");
        assert_eq!(writer.call(count("late")).await.unwrap(), 1);
        let ok: String = writer
            .call(|s| {
                Ok(s.conn()
                    .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
            })
            .await
            .unwrap();
        assert_eq!(ok, "ok");
    }

    async fn futures_results(tasks: Vec<tokio::task::JoinHandle<Result<()>>>) -> Vec<bool> {
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap().is_ok());
        }
        out
    }
}
