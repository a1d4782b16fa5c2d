//! Store errors: each says what went wrong and, where it can, what to do.

use std::path::{Path, PathBuf};

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The folder that should hold the store does not exist.
    #[error(
        "cannot open the store {path}: the folder {folder} does not exist (create it, or pass another --db)"
    )]
    FolderMissing {
        /// The store file.
        path: PathBuf,
        /// Its missing folder.
        folder: PathBuf,
    },
    /// The file exists but is not a SQLite database.
    #[error(
        "{path} is not a flowdeck store: the file is not a SQLite database (pass another --db, or move the file away)"
    )]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },
    /// A SQLite database that belongs to something else.
    #[error(
        "{path} is a SQLite database but not a flowdeck store (it has tables of its own); pass another --db"
    )]
    Foreign {
        /// The file.
        path: PathBuf,
    },
    /// Written by a newer flowdeck.
    #[error(
        "{path} was written by a newer flowdeck (schema {found}, this one knows up to {known}); upgrade flowdeck"
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest migration this build knows.
        known: i64,
    },
    /// No such workflow, endpoint, run or event.
    #[error("{what} not found: {name}")]
    NotFound {
        /// What was looked for (`workflow`, `run`, …).
        what: &'static str,
        /// Its name or id.
        name: String,
    },
    /// A stored JSON value that does not parse.
    #[error("stored {what} is not valid JSON: {source}")]
    Corrupt {
        /// Which column.
        what: &'static str,
        /// Why it did not parse.
        source: serde_json::Error,
    },
    /// A stored record that refers to something the store does not hold as it should (a
    /// step record's shared value).
    #[error("stored {what} is damaged: {why}")]
    Damaged {
        /// Which column.
        what: &'static str,
        /// What is wrong.
        why: String,
    },
    /// The store cannot grow: its disk is full, or it reached the size it may have.
    /// Nothing of the write that met it was recorded.
    #[error(
        "the store {path} is full ({why}): nothing was recorded; free space on its disk (or raise its limit) and try again"
    )]
    Full {
        /// The store file.
        path: PathBuf,
        /// Which limit it met.
        why: String,
    },
    /// A failure of SQLite itself.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A failure of a PostgreSQL store (its server's message, with the store's URL).
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    /// A write that broke one of the store's rules (a unique key, a reference), told by a
    /// PostgreSQL store.
    #[error("the store refused a write: {0}")]
    Constraint(String),
    /// A write that was batched with others whose commit failed.
    #[error("the store could not commit: {0}")]
    Commit(String),
    /// The writer thread is gone (the engine is shutting down).
    #[error("the store writer has stopped")]
    WriterGone,
    /// A write whose caller stopped waiting before it ran (what it would have written is
    /// gone with the caller).
    #[error("the write was abandoned by its caller before it ran")]
    Abandoned,
}

impl StoreError {
    /// This error as the store at `path` tells it: SQLite's "database or disk is full"
    /// becomes [`StoreError::Full`], naming the file.
    pub fn at(self, path: &Path) -> StoreError {
        match self {
            StoreError::Sqlite(e) if is_full(&e) => StoreError::Full {
                path: path.to_path_buf(),
                why: "its disk is full, or it reached its size limit".into(),
            },
            other => other,
        }
    }

    /// Whether the store was full: the write may succeed once there is room again.
    pub fn is_full(&self) -> bool {
        match self {
            StoreError::Full { .. } => true,
            StoreError::Sqlite(e) => is_full(e),
            _ => false,
        }
    }

    /// The same error for another caller (errors are not `Clone`: SQLite's is kept as text).
    pub fn for_another(&self) -> StoreError {
        match self {
            StoreError::Full { path, why } => StoreError::Full {
                path: path.clone(),
                why: why.clone(),
            },
            StoreError::WriterGone => StoreError::WriterGone,
            StoreError::Constraint(why) => StoreError::Constraint(why.clone()),
            other => StoreError::Commit(other.to_string()),
        }
    }
}

/// Whether SQLite said the database or its disk is full.
fn is_full(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
}

/// Result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
