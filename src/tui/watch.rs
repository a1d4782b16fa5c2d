//! Noticing writes. This process's own (the runs the studio starts) arrive from the store
//! writer as it commits, at most once a frame; other processes' through a thread that asks
//! SQLite for `PRAGMA data_version` (a counter that changes when another connection commits)
//! a few times a second (idle, nothing happens but that query, which costs microseconds), or,
//! on PostgreSQL, that is woken by each commit's announcement (`LISTEN`).

use super::update::Msg;
use crate::store::{Store, Writer};
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// How often the store is asked.
pub const PERIOD: Duration = Duration::from_millis(150);

/// The shortest time between two reloads caused by this process's commits: a quarter of a
/// frame, so that a commit right after another still reaches the screen within the frame.
pub const SPACING: Duration = Duration::from_millis(4);

/// Tell the loop when `writer` commits: at once after a quiet spell, then at most once per
/// [`SPACING`] while commits keep coming. Needs a tokio runtime; ends when the loop goes away.
pub fn follow(writer: &Writer, tx: UnboundedSender<Msg>) {
    let mut commits = writer.commits();
    tokio::spawn(async move {
        while commits.changed().await.is_ok() {
            if tx.send(Msg::StoreChanged).is_err() {
                return;
            }
            tokio::time::sleep(SPACING).await;
        }
    });
}

/// Watch the store at `path` until the loop goes away.
pub fn spawn(path: &Path, tx: UnboundedSender<Msg>) -> std::io::Result<()> {
    let path = path.to_path_buf();
    std::thread::Builder::new()
        .name("flowdeck-watch".into())
        .spawn(move || {
            let Ok(store) = Store::open(&path) else {
                return;
            };
            if let Some(heard) = store.commits_heard() {
                // PostgreSQL announces every commit: the first after a quiet spell is shown at
                // once, those that follow at most once per PERIOD (as on SQLite)
                loop {
                    futures_executor::block_on(heard.notified());
                    if tx.is_closed() || tx.send(Msg::StoreChanged).is_err() {
                        return;
                    }
                    std::thread::sleep(PERIOD);
                }
            }
            let mut last = store.data_version().unwrap_or(0);
            loop {
                std::thread::sleep(PERIOD);
                if tx.is_closed() {
                    return;
                }
                match store.data_version() {
                    Ok(v) if v != last => {
                        last = v;
                        if tx.send(Msg::StoreChanged).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot watch the store"),
                }
            }
        })?;
    Ok(())
}
