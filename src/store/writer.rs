//! Group commit: one thread owns the store's write connection and commits the work of many
//! callers in one transaction.
//!
//! Callers send closures over a bounded channel (the bound is the back-pressure). The thread
//! takes the first one waiting, then everything else already queued (up to a batch limit),
//! runs each inside its own savepoint, commits once, and only then answers the callers that
//! wait: an acknowledged write is on disk (WAL, `synchronous=NORMAL`). Work sent with
//! [`Writer::submit`] is not waited for but is committed in order with the rest, so awaiting
//! any later call also means the earlier submissions are committed.

use super::{Result, Store, StoreError};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot};

/// Jobs queued before senders wait.
const QUEUE: usize = 4096;
/// Jobs committed in one transaction at most.
const BATCH: usize = 2048;

type Done = Box<dyn FnOnce(Option<&StoreError>) + Send>;
type Job = Box<dyn FnOnce(&Store) -> (bool, Done) + Send>;

/// A handle to the writer thread; cheap to clone. When the last handle is dropped the
/// thread commits what is queued and ends (the drop waits for it).
#[derive(Clone, Debug)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
    _thread: Arc<ThreadGuard>,
}

/// Joins the thread once every handle is gone. `Writer::tx` is declared before the guard,
/// so the last sender is dropped first, the channel closes and the thread ends.
#[derive(Debug)]
struct ThreadGuard {
    handle: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for ThreadGuard {
    fn drop(&mut self) {
        if let Some(h) = self.handle.lock().ok().and_then(|mut h| h.take()) {
            let _ = h.join();
        }
    }
}

impl Writer {
    /// Open the store at `path` on a new writer thread.
    pub fn spawn(path: &Path) -> Result<Writer> {
        let store = Store::open(path)?;
        let (tx, rx) = mpsc::channel::<Job>(QUEUE);
        let handle = std::thread::Builder::new()
            .name("flowdeck-writer".into())
            .spawn(move || run(store, rx))
            .map_err(|e| StoreError::Commit(format!("cannot start the writer thread: {e}")))?;
        let guard = ThreadGuard {
            handle: Mutex::new(Some(handle)),
        };
        Ok(Writer {
            tx,
            _thread: Arc::new(guard),
        })
    }

    fn job<T: Send + 'static>(
        f: impl FnOnce(&Store) -> Result<T> + Send + 'static,
    ) -> (Job, oneshot::Receiver<Result<T>>) {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |store: &Store| {
            let result = f(store);
            let ok = result.is_ok();
            let done: Done = Box::new(move |commit_error: Option<&StoreError>| {
                let answer = match (commit_error, result) {
                    (Some(e), Ok(_)) => Err(StoreError::Commit(e.to_string())),
                    (_, r) => r,
                };
                let _ = tx.send(answer);
            });
            (ok, done)
        });
        (job, rx)
    }

    /// Run `f` in the next group commit and wait until it is committed.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (job, rx) = Self::job(f);
        self.tx
            .send(job)
            .await
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// [`Writer::call`] for code outside the async runtime.
    pub fn call_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (job, rx) = Self::job(f);
        self.tx
            .blocking_send(job)
            .map_err(|_| StoreError::WriterGone)?;
        rx.blocking_recv().map_err(|_| StoreError::WriterGone)?
    }

    /// Queue `f` without waiting for its commit; a failure is logged.
    pub async fn submit(
        &self,
        what: &'static str,
        f: impl FnOnce(&Store) -> Result<()> + Send + 'static,
    ) {
        let job: Job = Box::new(move |store: &Store| {
            let result = f(store);
            let ok = result.is_ok();
            let done: Done = Box::new(move |commit_error: Option<&StoreError>| {
                if let Err(e) = result {
                    tracing::error!(what, error = %e, "a queued store write failed");
                } else if let Some(e) = commit_error {
                    tracing::error!(what, error = %e, "a queued store write was not committed");
                }
            });
            (ok, done)
        });
        if self.tx.send(job).await.is_err() {
            tracing::error!(what, "the store writer has stopped; a write was dropped");
        }
    }

    /// Wait until everything sent before is committed.
    pub async fn flush(&self) -> Result<()> {
        self.call(|_| Ok(())).await
    }
}

fn run(store: Store, mut rx: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(BATCH);
    let mut dones: Vec<Done> = Vec::with_capacity(BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let began = store.conn().execute_batch("BEGIN IMMEDIATE");
        for job in batch.drain(..) {
            if began.is_err() {
                let (_, done) = job(&store);
                dones.push(done);
                continue;
            }
            let _ = store.conn().execute_batch("SAVEPOINT job");
            let (ok, done) = job(&store);
            let end = if ok {
                "RELEASE job"
            } else {
                "ROLLBACK TO job; RELEASE job"
            };
            if let Err(e) = store.conn().execute_batch(end) {
                tracing::error!(error = %e, "savepoint failed");
            }
            dones.push(done);
        }
        let commit_error = match began {
            Err(e) => Some(StoreError::Sqlite(e)),
            Ok(()) => store.conn().execute_batch("COMMIT").err().map(|e| {
                let _ = store.conn().execute_batch("ROLLBACK");
                StoreError::Sqlite(e)
            }),
        };
        if let Some(e) = &commit_error {
            tracing::error!(error = %e, "group commit failed");
        }
        for done in dones.drain(..) {
            done(commit_error.as_ref());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, RunMode};
    use crate::store::runs::NewRun;

    #[tokio::test]
    async fn acknowledged_writes_are_committed_and_visible_to_other_connections() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flowdeck.db");
        let writer = Writer::spawn(&path).unwrap();
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
        let reader = Store::open(&path).unwrap();
        let n: i64 = reader
            .conn()
            .query_row("SELECT count(*) FROM project", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        drop(writer);
    }

    #[tokio::test]
    async fn a_failing_job_rolls_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flowdeck.db");
        let writer = Writer::spawn(&path).unwrap();
        let bad = writer.call(|s| {
            s.conn().execute(
                "INSERT INTO project (id, name, config, updated_at) VALUES (1, 'p', '{}', 0)",
                [],
            )?;
            // a run for a definition that does not exist: foreign key failure
            s.insert_run(&NewRun {
                definition_id: 999,
                kind: Kind::Workflow,
                target: "x",
                version: None,
                event_id: None,
                mode: RunMode::Debug,
                params: &serde_json::Value::Null,
                lease_owner: None,
                lease_expires: None,
            })?;
            Ok(())
        });
        assert!(bad.await.is_err());
        let count = writer
            .call(|s| {
                Ok(s.conn()
                    .query_row("SELECT count(*) FROM project", [], |r| r.get::<_, i64>(0))?)
            })
            .await
            .unwrap();
        assert_eq!(count, 0, "the failed job's first insert was rolled back");
    }
}
