//! Versioned schema migrations, applied in order inside one transaction (`PRAGMA user_version`).

use super::error::{Result, StoreError};
use rusqlite::Connection;
use std::path::Path;

/// `PRAGMA application_id` of a flowdeck store ("FlDk").
pub const APPLICATION_ID: i64 = 0x466C_446B;

/// The migrations, in order; the schema version is the number applied.
const MIGRATIONS: &[&str] = &[
    // 1: definitions with drafts and versions, events, runs, step records, skips, project
    r#"
    CREATE TABLE project (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        name        TEXT NOT NULL,
        config      TEXT NOT NULL,          -- ProjectConfig as JSON
        config_text TEXT,                   -- flowdeck.toml as written
        schema_sql  TEXT,                   -- schema.sql as written
        root        TEXT,                   -- folder last imported from
        updated_at  INTEGER NOT NULL
    );

    CREATE TABLE definitions (
        id                 INTEGER PRIMARY KEY,
        kind               TEXT NOT NULL CHECK (kind IN ('workflow', 'endpoint')),
        name               TEXT NOT NULL,   -- workflow name, or "METHOD /path"
        on_event           TEXT,            -- the draft's event (workflows)
        method             TEXT,
        path               TEXT,
        allow_self_trigger INTEGER NOT NULL DEFAULT 0,
        active             INTEGER NOT NULL DEFAULT 1,
        file_active        INTEGER,         -- `active` as the file said at the last import
        draft              TEXT NOT NULL,   -- canonical JSON
        draft_source       TEXT NOT NULL,   -- the file as written
        source_file        TEXT,            -- path relative to the project
        live_version       INTEGER,
        created_at         INTEGER NOT NULL,
        updated_at         INTEGER NOT NULL,
        UNIQUE (kind, name)
    );
    CREATE INDEX definitions_on_event ON definitions (on_event) WHERE kind = 'workflow';

    CREATE TABLE versions (
        definition_id      INTEGER NOT NULL REFERENCES definitions (id) ON DELETE CASCADE,
        version            INTEGER NOT NULL,
        body               TEXT NOT NULL,   -- canonical JSON
        source             TEXT NOT NULL,
        on_event           TEXT,
        allow_self_trigger INTEGER NOT NULL DEFAULT 0,
        deployed_at        INTEGER NOT NULL,
        PRIMARY KEY (definition_id, version)
    ) WITHOUT ROWID;
    CREATE INDEX versions_on_event ON versions (on_event);

    CREATE TABLE events (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        params     TEXT NOT NULL,
        source     TEXT NOT NULL,
        parent_run INTEGER REFERENCES runs (id) ON DELETE SET NULL,
        depth      INTEGER NOT NULL DEFAULT 0,
        chain      TEXT NOT NULL DEFAULT '[]', -- workflows that led here, for the loop guard
        draft      INTEGER NOT NULL DEFAULT 0, -- dispatch to drafts (emit --draft)
        dedup_key  TEXT UNIQUE,
        emitted_at INTEGER NOT NULL
    );
    CREATE INDEX events_name ON events (name, id);
    CREATE INDEX events_parent_run ON events (parent_run) WHERE parent_run IS NOT NULL;

    CREATE TABLE runs (
        id            INTEGER PRIMARY KEY,
        definition_id INTEGER NOT NULL REFERENCES definitions (id),
        kind          TEXT NOT NULL,
        target        TEXT NOT NULL,
        version       INTEGER,              -- NULL: the draft
        event_id      INTEGER REFERENCES events (id),
        mode          TEXT NOT NULL CHECK (mode IN ('live', 'debug', 'replay')),
        status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'paused', 'succeeded', 'failed', 'cancelled')),
        params        TEXT NOT NULL,
        output        TEXT,
        error         TEXT,
        attempt       INTEGER NOT NULL DEFAULT 1,
        lease_owner   TEXT,
        lease_expires INTEGER,
        queued_at     INTEGER NOT NULL,
        started_at    INTEGER,
        finished_at   INTEGER
    );
    CREATE UNIQUE INDEX runs_event_definition ON runs (event_id, definition_id) WHERE event_id IS NOT NULL;
    CREATE INDEX runs_definition ON runs (definition_id, id);
    CREATE INDEX runs_status ON runs (status, id);
    CREATE INDEX runs_unfinished ON runs (lease_expires) WHERE status IN ('queued', 'running');

    CREATE TABLE steps (
        run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        seq         INTEGER NOT NULL,
        step        TEXT NOT NULL,
        path        TEXT NOT NULL,
        action      TEXT NOT NULL,
        status      TEXT NOT NULL,
        input       TEXT NOT NULL,
        output      TEXT NOT NULL,
        error       TEXT,
        vars        TEXT,                   -- $var after the step; NULL when unchanged
        iteration   TEXT,
        attempt     INTEGER NOT NULL,
        started_at  INTEGER NOT NULL,
        duration_us INTEGER NOT NULL,
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID;

    CREATE TABLE skips (
        event_id      INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
        definition_id INTEGER NOT NULL REFERENCES definitions (id),
        workflow      TEXT NOT NULL,
        reason        TEXT NOT NULL,
        PRIMARY KEY (event_id, definition_id)
    ) WITHOUT ROWID;
    "#,
    // 2: the studio: its remembered state (last params per workflow, …), and an index for
    // its activity log's runs without an event (endpoint calls, debug runs)
    r#"
    CREATE INDEX runs_without_event ON runs (id) WHERE event_id IS NULL;
    CREATE TABLE ui_state (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;

    -- breakpoints, per workflow
    CREATE TABLE breakpoints (
        workflow  TEXT NOT NULL,
        kind      TEXT NOT NULL CHECK (kind IN ('step', 'emit', 'failure')),
        target    TEXT NOT NULL DEFAULT '',
        condition TEXT,
        PRIMARY KEY (workflow, kind, target)
    ) WITHOUT ROWID;
    "#,
];

/// The schema version this build writes.
pub fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

/// Bring the schema up to date, refusing databases that are not ours or are newer.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let app_id: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    if version == 0 {
        let tables: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
            [],
            |r| r.get(0),
        )?;
        if tables > 0 && app_id != APPLICATION_ID {
            return Err(StoreError::Foreign {
                path: path.to_path_buf(),
            });
        }
    } else if app_id != APPLICATION_ID {
        return Err(StoreError::Foreign {
            path: path.to_path_buf(),
        });
    }
    if version > latest() {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: version,
            known: latest(),
        });
    }
    if version == latest() {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // re-read under the write lock: another process may have migrated meanwhile
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.commit()?;
    Ok(())
}
