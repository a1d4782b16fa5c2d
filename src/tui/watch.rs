//! Noticing other processes' writes: a thread asks SQLite for `PRAGMA data_version` (a
//! counter that changes when another connection commits) a few times a second, and tells the
//! loop when it moved. The query costs microseconds; idle, nothing else happens.

use super::update::Msg;
use crate::store::Store;
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// How often the store is asked.
pub const PERIOD: Duration = Duration::from_millis(150);

/// Watch the store at `path` until the loop goes away.
pub fn spawn(path: &Path, tx: UnboundedSender<Msg>) -> std::io::Result<()> {
    let path = path.to_path_buf();
    std::thread::Builder::new()
        .name("flowdeck-watch".into())
        .spawn(move || {
            let Ok(store) = Store::open(&path) else {
                return;
            };
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
