//! Logs go to a file (never to the terminal): `$XDG_STATE_HOME/flowdeck/flowdeck.log`, or
//! the path in `FLOWDECK_LOG_FILE`. `FLOWDECK_LOG` sets the filter (default `info`).

use std::path::PathBuf;
use std::sync::Mutex;

/// Where the log goes.
pub(super) fn log_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FLOWDECK_LOG_FILE") {
        return Some(PathBuf::from(p));
    }
    let base = dirs::state_dir().or_else(dirs::data_local_dir)?;
    Some(base.join("flowdeck").join("flowdeck.log"))
}

/// Start logging to the file; when it cannot be opened, log nothing.
pub(super) fn init() {
    let Some(path) = log_path() else { return };
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    else {
        return;
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLOWDECK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .try_init();
}
