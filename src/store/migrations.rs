//! Versioned schema migrations, applied in order inside one transaction (`PRAGMA user_version`).

use super::error::{Result, StoreError};
use rusqlite::Connection;
use std::path::Path;

/// `PRAGMA application_id` of a flowdeck store ("FlDk").
pub(crate) const APPLICATION_ID: i64 = 0x466C_446B;

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
    // 3: a counter that every change to definitions and versions bumps, so that the
    // dispatcher can keep each event's listeners in memory and still see every deploy,
    // toggle and import, from any process, on the next event
    r#"
    CREATE TABLE generation (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        n  INTEGER NOT NULL
    );
    INSERT INTO generation (id, n) VALUES (1, 0);
    CREATE TRIGGER definitions_inserted AFTER INSERT ON definitions BEGIN UPDATE generation SET n = n + 1; END;
    CREATE TRIGGER definitions_updated AFTER UPDATE ON definitions BEGIN UPDATE generation SET n = n + 1; END;
    CREATE TRIGGER definitions_deleted AFTER DELETE ON definitions BEGIN UPDATE generation SET n = n + 1; END;
    CREATE TRIGGER versions_inserted AFTER INSERT ON versions BEGIN UPDATE generation SET n = n + 1; END;
    CREATE TRIGGER versions_updated AFTER UPDATE ON versions BEGIN UPDATE generation SET n = n + 1; END;
    CREATE TRIGGER versions_deleted AFTER DELETE ON versions BEGIN UPDATE generation SET n = n + 1; END;

    -- cheaper run writes. An `IN (…)` list in a CHECK or an index predicate builds a
    -- temporary table on every insert and update of a run, so the runs table is rebuilt
    -- with the same checks as plain comparisons (foreign keys are off while migrating),
    -- the unfinished runs' index is keyed on `finished_at IS NULL`, and the index on
    -- status goes (every status change paid for it; lists filter newest first).
    CREATE TABLE runs_rebuilt (
        id            INTEGER PRIMARY KEY,
        definition_id INTEGER NOT NULL REFERENCES definitions (id),
        kind          TEXT NOT NULL,
        target        TEXT NOT NULL,
        version       INTEGER,              -- NULL: the draft
        event_id      INTEGER REFERENCES events (id),
        mode          TEXT NOT NULL CHECK (mode = 'live' OR mode = 'debug' OR mode = 'replay'),
        status        TEXT NOT NULL CHECK (status = 'queued' OR status = 'running' OR status = 'paused'
                                           OR status = 'succeeded' OR status = 'failed'
                                           OR status = 'cancelled'),
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
    INSERT INTO runs_rebuilt (id, definition_id, kind, target, version, event_id, mode, status,
        params, output, error, attempt, lease_owner, lease_expires, queued_at, started_at, finished_at)
    SELECT id, definition_id, kind, target, version, event_id, mode, status,
        params, output, error, attempt, lease_owner, lease_expires, queued_at, started_at, finished_at
      FROM runs;
    DROP TABLE runs;
    ALTER TABLE runs_rebuilt RENAME TO runs;
    CREATE UNIQUE INDEX runs_event_definition ON runs (event_id, definition_id) WHERE event_id IS NOT NULL;
    CREATE INDEX runs_definition ON runs (definition_id, id);
    CREATE INDEX runs_unfinished ON runs (lease_expires) WHERE finished_at IS NULL;
    CREATE INDEX runs_without_event ON runs (id) WHERE event_id IS NULL;
    "#,
    // 4: cheaper step and event inserts. A statement that writes several rows and may stop
    // half-way (an immediate foreign key, a NOT NULL) makes SQLite copy every page it
    // touches aside first, so that it can undo itself alone; step records are inserted
    // several rows a statement. Their run's key is now checked at the commit (the writer
    // retries a batch job by job when a commit is refused), and the inserts are `OR FAIL`.
    r#"
    CREATE TABLE steps_rebuilt (
        run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE
                            DEFERRABLE INITIALLY DEFERRED,
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
    INSERT INTO steps_rebuilt SELECT * FROM steps;
    DROP TABLE steps;
    ALTER TABLE steps_rebuilt RENAME TO steps;

    -- and events without an index entry per event for a key few events have: the
    -- column's UNIQUE kept a NULL entry for every event; a partial index keeps the keys
    CREATE TABLE events_rebuilt (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        params     TEXT NOT NULL,
        source     TEXT NOT NULL,
        parent_run INTEGER REFERENCES runs (id) ON DELETE SET NULL,
        depth      INTEGER NOT NULL DEFAULT 0,
        chain      TEXT NOT NULL DEFAULT '[]', -- workflows that led here, for the loop guard
        draft      INTEGER NOT NULL DEFAULT 0, -- dispatch to drafts (emit --draft)
        dedup_key  TEXT,
        emitted_at INTEGER NOT NULL
    );
    INSERT INTO events_rebuilt SELECT * FROM events;
    DROP TABLE events;
    ALTER TABLE events_rebuilt RENAME TO events;
    CREATE INDEX events_name ON events (name, id);
    CREATE INDEX events_parent_run ON events (parent_run) WHERE parent_run IS NOT NULL;
    CREATE UNIQUE INDEX events_dedup_key ON events (dedup_key) WHERE dedup_key IS NOT NULL;
    "#,
    // 5: where a run or an event came from when it is a second go at one: a rerun of a run
    // (from one of its steps), a replay of a recorded event
    r#"
    ALTER TABLE runs ADD COLUMN rerun_of INTEGER REFERENCES runs (id) ON DELETE SET NULL;
    ALTER TABLE runs ADD COLUMN from_step TEXT;
    ALTER TABLE events ADD COLUMN replay_of INTEGER REFERENCES events (id) ON DELETE SET NULL;
    "#,
    // 6: the files a project keeps beside its definitions: its test files and the snapshots
    // of their cases, as imported (export writes them back; the studio runs the tests)
    r#"
    CREATE TABLE project_files (
        path       TEXT PRIMARY KEY,        -- relative to the project folder
        text       TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );
    "#,
    // 7: what tells this store from any other (idempotency keys of its runs' requests)
    r#"
    CREATE TABLE store_identity (
        id    INTEGER PRIMARY KEY CHECK (id = 1),
        token TEXT NOT NULL
    );
    INSERT INTO store_identity (id, token) VALUES (1, lower(hex(randomblob(8))));
    "#,
    // 8: retention. Runs the user pinned (never pruned), and indexes for the references that
    // removing a run or an event sets to NULL (without them, each removal reads the table)
    r#"
    CREATE TABLE pins (
        run_id    INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
        pinned_at INTEGER NOT NULL
    );
    CREATE INDEX runs_rerun_of ON runs (rerun_of) WHERE rerun_of IS NOT NULL;
    CREATE INDEX events_replay_of ON events (replay_of) WHERE replay_of IS NOT NULL;
    "#,
    // 9: large values a run's step records share, stored once per run (store/step_values.rs)
    r#"
    CREATE TABLE step_values (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        hash   INTEGER NOT NULL,
        body   TEXT NOT NULL,
        PRIMARY KEY (run_id, hash)
    );
    "#,
];

/// The schema version this build writes.
pub(crate) fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

/// Bring the schema up to date, refusing databases that are not ours or are newer.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
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
    // a migration may rebuild a table (SQLite's way to change a constraint): with foreign
    // keys on, dropping the old table would cascade; they are checked before the commit
    let foreign_keys: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
    conn.pragma_update(None, "foreign_keys", false)?;
    let applied = apply(conn);
    conn.pragma_update(None, "foreign_keys", foreign_keys)?;
    applied
}

fn apply(conn: &mut Connection) -> Result<()> {
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
    let broken: i64 = tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
        r.get(0)
    })?;
    if broken > 0 {
        return Err(StoreError::Commit(format!(
            "migrating would leave {broken} rows pointing at rows that do not exist; nothing was changed"
        )));
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// A store at schema `version`, as an older build left it.
    fn store_at(path: &Path, version: usize) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;")
            .unwrap();
        for sql in &MIGRATIONS[..version] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", version as i64)
            .unwrap();
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        conn
    }

    #[test]
    fn an_older_store_keeps_its_records_through_the_rebuilds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flowdeck.db");
        let old = store_at(&path, 2);
        old.execute_batch(
            "INSERT INTO definitions (id, kind, name, on_event, draft, draft_source, created_at, updated_at)
               VALUES (1, 'workflow', 'tally', 'hit', '{}', '{}', 0, 0);
             INSERT INTO events (id, name, params, source, emitted_at) VALUES (1, 'hit', '{}', 'cli', 0);
             INSERT INTO runs (id, definition_id, kind, target, event_id, mode, status, params, queued_at, finished_at)
               VALUES (7, 1, 'workflow', 'tally', 1, 'live', 'succeeded', '{}', 0, 1),
                      (8, 1, 'workflow', 'tally', NULL, 'debug', 'queued', '{}', 0, NULL);
             INSERT INTO steps (run_id, seq, step, path, action, status, input, output, attempt, started_at, duration_us)
               VALUES (7, 1, 'a', '0', 'set', 'ok', '{}', '{}', 1, 0, 1);
             INSERT INTO events (id, name, params, source, parent_run, dedup_key, emitted_at)
               VALUES (2, 'next', '{}', 'run', 7, 'once', 0);",
        )
        .unwrap();
        drop(old);

        let store = Store::open(&path).unwrap();
        let conn = store.conn();
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(count("PRAGMA user_version"), latest());
        assert_eq!(count("SELECT count(*) FROM runs"), 2);
        assert_eq!(count("SELECT count(*) FROM steps WHERE run_id = 7"), 1);
        assert_eq!(count("SELECT parent_run FROM events WHERE id = 2"), 7);
        // events rebuilt: the key keeps its (partial) unique index, runs still point at them
        assert_eq!(
            count("SELECT id FROM events INDEXED BY events_dedup_key WHERE dedup_key = 'once'"),
            2
        );
        assert!(
            conn.execute(
                "INSERT INTO events (name, params, source, dedup_key, emitted_at)
                   VALUES ('next', '{}', 'run', 'once', 0)",
                []
            )
            .is_err()
        );
        assert!(
            conn.execute(
                "INSERT INTO runs (definition_id, kind, target, event_id, mode, status, params, queued_at)
                   VALUES (1, 'workflow', 'tally', 99, 'live', 'queued', '{}', 0)",
                []
            )
            .is_err(),
            "a run's event must exist"
        );
        assert_eq!(count("PRAGMA foreign_keys"), 1, "foreign keys are back on");
        assert_eq!(
            count("SELECT count(*) FROM runs INDEXED BY runs_unfinished WHERE finished_at IS NULL"),
            1
        );
        // the checks still hold, and the run table is still the parent of steps
        assert!(
            conn.execute("UPDATE runs SET status = 'lost' WHERE id = 7", [])
                .is_err()
        );
        conn.execute("DELETE FROM runs WHERE id = 8", []).unwrap();
        assert!(
            conn.execute(
                "INSERT INTO steps (run_id, seq, step, path, action, status, input, output, attempt, started_at, duration_us)
                   VALUES (99, 1, 'a', '0', 'set', 'ok', '{}', '{}', 1, 0, 1)",
                []
            )
            .is_err()
        );
    }

    #[test]
    fn writing_a_run_builds_no_temporary_table() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("flowdeck.db")).unwrap();
        for sql in [
            "INSERT INTO runs (definition_id, kind, target, version, event_id, mode, status, params,
                lease_owner, lease_expires, queued_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?8, ?9, ?10)",
            "UPDATE runs SET status = ?2, finished_at = ?3, lease_owner = NULL WHERE id = ?1",
        ] {
            let mut explain = store.conn().prepare(&format!("EXPLAIN {sql}")).unwrap();
            let mut rows = explain.raw_query();
            let mut ops: Vec<String> = Vec::new();
            while let Some(row) = rows.next().unwrap() {
                ops.push(row.get(1).unwrap());
            }
            assert!(
                !ops.iter().any(|op| op == "OpenEphemeral"),
                "{sql} builds a temporary table"
            );
        }
    }

    #[test]
    fn a_newer_store_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flowdeck.db");
        let conn = store_at(&path, MIGRATIONS.len());
        conn.pragma_update(None, "user_version", latest() + 1)
            .unwrap();
        drop(conn);
        let err = Store::open(&path).err().unwrap();
        assert!(matches!(err, StoreError::TooNew { .. }), "{err}");
    }
}
