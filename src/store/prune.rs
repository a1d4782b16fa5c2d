//! Retention: old events and runs removed in small batches, with what they own (step
//! records, skips), and the space given back to the file system.
//!
//! Never removed: a run not finished, a pinned run (`pins`), the last run of each workflow
//! and endpoint, and an event one of those belongs to. A batch takes at most [`BATCH`]
//! events or runs in one short transaction, oldest first, so that a writer sharing the
//! store (a server's group commit, another process) waits a few milliseconds at most.
//!
//! "Oldest" goes by id: a store gives its ids in the order it records. The rule on age
//! removes the oldest records up to the first one that is not old enough; the rule on
//! count keeps the newest N events (and the newest N runs no event started); the rule on
//! size removes the oldest until the pages in use fit.
//!
//! The rules are the same in both rooms: `batch` asks a `PruneRoom` for the rows and
//! removes through it (SQLite here, PostgreSQL in `store::postgres::prune`).
//!
//! Over 600 lines only with its tests, which stay beside the rules they pin down.

use super::Store;
use super::error::Result;
use crate::model::Timestamp;
use rusqlite::types::Value;
use rusqlite::vtab::array::Array;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::rc::Rc;

/// The most events (or runs without an event) one batch of `flowdeck prune` looks at.
pub const BATCH: i64 = 200;

/// The same for a running server's retention: smaller, as a write that comes while a batch
/// deletes waits for it (a batch of 20 events with their runs and step records takes about
/// 0.25 ms).
pub const BACKGROUND_BATCH: i64 = 20;

/// Pages given back to the file system at a time, at most (a store in incremental
/// auto-vacuum mode): 4 MB of 4 KB pages.
const VACUUM_PAGES: i64 = 1024;

/// A running server gives free pages back only when they pile up: more than a quarter of
/// the file and more than this many (10 MB). Under a steady load the pages a prune frees are
/// taken again by the next records, and moving them would only cost the writer time.
const PILED_UP_PAGES: i64 = 2560;

/// What a running server gives back at a time (2 MB), so that no commit waits long for it.
const BACKGROUND_VACUUM_PAGES: i64 = 512;

/// Which records a prune removes: those any of its rules says, and nothing protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// Events emitted, and runs without an event queued, before this moment.
    pub before: Option<Timestamp>,
    /// All but the newest N events, and all but the newest N runs without an event.
    pub keep_last: Option<u64>,
    /// The oldest, until the pages in use take at most this many bytes.
    pub max_bytes: Option<u64>,
}

impl Retention {
    /// Whether no rule is set (nothing would ever be removed).
    pub fn is_empty(&self) -> bool {
        self.before.is_none() && self.keep_last.is_none() && self.max_bytes.is_none()
    }
}

/// What a prune removed (or, for a dry run, would remove).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    /// Events removed.
    pub events: u64,
    /// Runs removed (with their events' or on their own).
    pub runs: u64,
    /// Step records of those runs.
    pub steps: u64,
    /// Listener skips of those events.
    pub skips: u64,
    /// Runs the rules reached but that were kept: unfinished, pinned, or their workflow's last.
    pub kept: u64,
}

impl Pruned {
    /// Add `other`'s counts to these.
    pub fn add(&mut self, other: Pruned) {
        self.events += other.events;
        self.runs += other.runs;
        self.steps += other.steps;
        self.skips += other.skips;
        self.kept += other.kept;
    }

    /// Whether nothing was removed.
    pub fn is_nothing(&self) -> bool {
        self.events == 0 && self.runs == 0
    }
}

/// Where the next batch starts: the last event and the last run without an event that a
/// batch has looked at (each only moves forward).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    event: i64,
    run: i64,
    /// The newest event `keep_last` lets go, found once per prune (`None`: not looked up yet).
    event_boundary: Option<Option<i64>>,
    /// The same for runs without an event.
    run_boundary: Option<Option<i64>>,
}

/// One batch: what it removed, and whether there may be more to remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    /// What this batch removed.
    pub pruned: Pruned,
    /// Whether a next batch may remove more.
    pub more: bool,
}

/// A run the batch may remove: finished, not pinned, not its definition's last run (a
/// macro, so that whole statements can be built around it at compile time).
macro_rules! removable {
    () => {
        "runs.finished_at IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM pins WHERE pins.run_id = runs.id)
    AND runs.id <> (SELECT max(last.id) FROM runs AS last
                     WHERE last.definition_id = runs.definition_id)"
    };
}

/// [`removable!`] as a constant: the same SQL in both rooms.
pub(crate) const REMOVABLE: &str = removable!();

/// What a batch asks of each run it reaches: id, event, whether it may go, whether an event
/// it emitted or a rerun of it refers to it, and whether it has shared values.
macro_rules! run_columns {
    () => {
        concat!(
            "SELECT runs.id, runs.event_id, ",
            removable!(),
            ", EXISTS (SELECT 1 FROM events AS emitted WHERE emitted.parent_run = runs.id),
               EXISTS (SELECT 1 FROM runs AS again WHERE again.rerun_of = runs.id),
               EXISTS (SELECT 1 FROM step_values WHERE step_values.run_id = runs.id)"
        )
    };
}

impl Store {
    /// Remove one batch by `rules`, from `cursor` on, in its own transaction, and move the
    /// cursor past what it looked at. With `dry_run`, the transaction is rolled back: the
    /// batch counts what it would remove.
    pub fn prune_batch(
        &self,
        rules: &Retention,
        cursor: &mut Cursor,
        dry_run: bool,
    ) -> Result<Batch> {
        if let Some(pg) = self.postgres() {
            return pg.prune_batch(rules, cursor, dry_run);
        }
        let tx = rusqlite::Transaction::new_unchecked(
            self.conn(),
            rusqlite::TransactionBehavior::Immediate,
        )?;
        let done = batch(&*tx, rules, cursor, BATCH)?;
        if dry_run {
            tx.rollback()?;
        } else {
            tx.commit()?;
        }
        Ok(done)
    }

    /// One small batch from `cursor` inside the caller's transaction (the writer's, where
    /// it runs as background work); returns the batch and where the next one starts.
    pub(crate) fn prune_within(
        &self,
        rules: &Retention,
        cursor: Cursor,
    ) -> Result<(Batch, Cursor)> {
        if let Some(pg) = self.postgres() {
            return pg.prune_within(rules, cursor);
        }
        let mut next = cursor;
        let done = batch(self.conn(), rules, &mut next, BACKGROUND_BATCH)?;
        Ok((done, next))
    }

    /// Give a few free pages back to the file system when they have piled up (see
    /// [`PILED_UP_PAGES`]); returns the pages given back.
    pub(crate) fn give_back_piled_up(&self) -> Result<i64> {
        if let Some(pg) = self.postgres() {
            return pg.give_back_piled_up();
        }
        let pages: i64 = self
            .conn()
            .query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let free: i64 = self
            .conn()
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        if free > PILED_UP_PAGES && free * 4 > pages {
            give_back(self.conn(), BACKGROUND_VACUUM_PAGES)
        } else {
            Ok(0)
        }
    }

    /// Give back to the file system up to `pages` free pages (a store in incremental
    /// auto-vacuum mode; a no-op otherwise). Returns the pages given back.
    pub fn give_back_space(&self, pages: i64) -> Result<i64> {
        if let Some(pg) = self.postgres() {
            return pg.give_back_space(pages);
        }
        give_back(self.conn(), pages)
    }

    /// Pin a run (never pruned) or unpin it. Returns whether the run exists.
    pub fn set_pinned(&self, run_id: i64, pinned: bool) -> Result<bool> {
        if let Some(pg) = self.postgres() {
            return pg.set_pinned(run_id, pinned);
        }
        let exists: Option<i64> = self
            .conn()
            .query_row("SELECT id FROM runs WHERE id = ?1", [run_id], |r| r.get(0))
            .optional()?;
        if exists.is_none() {
            return Ok(false);
        }
        if pinned {
            self.conn().execute(
                "INSERT INTO pins (run_id, pinned_at) VALUES (?1, ?2) ON CONFLICT (run_id) DO NOTHING",
                params![run_id, Timestamp::now().micros()],
            )?;
        } else {
            self.conn()
                .execute("DELETE FROM pins WHERE run_id = ?1", [run_id])?;
        }
        Ok(true)
    }

    /// Whether a run is pinned.
    pub fn is_pinned(&self, run_id: i64) -> Result<bool> {
        if let Some(pg) = self.postgres() {
            return pg.is_pinned(run_id);
        }
        Ok(self
            .conn()
            .prepare_cached("SELECT 1 FROM pins WHERE run_id = ?1")?
            .exists([run_id])?)
    }

    /// The bytes of the pages in use (the file's size less its free pages).
    pub fn bytes_in_use(&self) -> Result<u64> {
        if let Some(pg) = self.postgres() {
            return pg.bytes_in_use();
        }
        bytes_in_use(self.conn())
    }

    /// The store file's size on disk, in bytes (the main file, not its WAL).
    pub fn file_bytes(&self) -> Result<u64> {
        if let Some(pg) = self.postgres() {
            return pg.file_bytes();
        }
        let pages: i64 = self
            .conn()
            .query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let size: i64 = self
            .conn()
            .query_row("PRAGMA page_size", [], |r| r.get(0))?;
        Ok(u64::try_from(pages.saturating_mul(size)).unwrap_or(0))
    }

    /// Whether freed pages go back to the file system as the store prunes (incremental
    /// auto-vacuum, which every store created since retention has; an older one needs one
    /// [`Store::vacuum`]).
    pub fn gives_back_space(&self) -> Result<bool> {
        if let Some(pg) = self.postgres() {
            return pg.gives_back_space();
        }
        let mode: i64 = self
            .conn()
            .query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
        Ok(mode == 2)
    }

    /// Rewrite the whole file (SQLite's `VACUUM`), in incremental auto-vacuum mode from then
    /// on. Holds the store's write lock for as long as it takes.
    pub fn vacuum(&self) -> Result<()> {
        if let Some(pg) = self.postgres() {
            return pg.vacuum();
        }
        self.conn()
            .execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")?;
        Ok(())
    }
}

/// The rows a window walks, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Walked {
    /// Events, by id (their time: `emitted_at`).
    Events,
    /// Runs without an event, by id (their time: `queued_at`).
    LoneRuns,
}

/// What a batch needs of a room: the rules are the same in both (here), the statements are
/// each room's own.
pub(crate) trait PruneRoom {
    /// Whether the records take more than `max` bytes.
    fn over_size(&self, max: u64) -> Result<bool>;

    /// Up to `limit` of the rows `walked` with ids after `after`, oldest first: id and time.
    fn oldest(&self, walked: Walked, after: i64, limit: i64) -> Result<Vec<(i64, i64)>>;

    /// The id of the row `keep` places from the newest (the newest `keep_last` lets go).
    fn newest_removable(&self, walked: Walked, keep: i64) -> Result<Option<i64>>;

    /// Remove the events with ids in `(after, upto]` whose runs may all go, with those runs,
    /// their step records and shared values, and the events' skips.
    fn remove_events(&self, after: i64, upto: i64) -> Result<Pruned>;

    /// Remove the runs without an event with ids in `(after, upto]` that may go.
    fn remove_lone_runs(&self, after: i64, upto: i64) -> Result<Pruned>;
}

/// Run one batch in `room`, inside the caller's transaction (the writer's group commit, or
/// [`Store::prune_batch`]'s own).
pub(crate) fn batch(
    room: &impl PruneRoom,
    rules: &Retention,
    cursor: &mut Cursor,
    limit: i64,
) -> Result<Batch> {
    let over_size = match rules.max_bytes {
        Some(max) => room.over_size(max)?,
        None => false,
    };
    let mut pruned = Pruned::default();
    let events = window(
        room,
        Walked::Events,
        Reach {
            rules,
            over_size,
            after: cursor.event,
            limit,
            boundary: &mut cursor.event_boundary,
        },
    )?;
    if let Some(upto) = events.upto {
        pruned.add(room.remove_events(cursor.event, upto)?);
        cursor.event = upto;
    }
    if events.full {
        // runs without an event (few: debug runs, requests) are looked at once the events
        // are done, rather than by every batch
        return Ok(Batch { pruned, more: true });
    }
    let runs = window(
        room,
        Walked::LoneRuns,
        Reach {
            rules,
            over_size,
            after: cursor.run,
            limit,
            boundary: &mut cursor.run_boundary,
        },
    )?;
    if let Some(upto) = runs.upto {
        pruned.add(room.remove_lone_runs(cursor.run, upto)?);
        cursor.run = upto;
    }
    Ok(Batch {
        pruned,
        more: runs.full,
    })
}

/// How far, from `after`, one batch of a table reaches by the rules.
struct Window {
    /// The last id the batch removes up to (inclusive), when it removes any.
    upto: Option<i64>,
    /// Whether the batch reached as far as a batch may (there may be more after it).
    full: bool,
}

/// What a window reaches for: the rules, whether the store is over its size, where the
/// last batch stopped and how many rows one batch takes.
struct Reach<'r> {
    rules: &'r Retention,
    over_size: bool,
    after: i64,
    limit: i64,
    /// Where `keep_last` stops, once looked up (removing older rows does not move it).
    boundary: &'r mut Option<Option<i64>>,
}

fn window(room: &impl PruneRoom, walked: Walked, reach: Reach<'_>) -> Result<Window> {
    let Reach {
        rules,
        over_size,
        after,
        limit,
        boundary,
    } = reach;
    let rows = room.oldest(walked, after, limit)?;
    let Some(&(last, _)) = rows.last() else {
        return Ok(Window {
            upto: None,
            full: false,
        });
    };
    let mut upto: Option<i64> = None;
    if over_size {
        upto = Some(last);
    }
    if let Some(keep) = rules.keep_last {
        let found = match *boundary {
            Some(found) => found,
            None => {
                let found =
                    room.newest_removable(walked, i64::try_from(keep).unwrap_or(i64::MAX))?;
                *boundary = Some(found);
                found
            }
        };
        // the (N+1)th newest and everything older go
        if let Some(newest_removable) = found {
            let reach = rows
                .iter()
                .take_while(|(id, _)| *id <= newest_removable)
                .last()
                .map(|(id, _)| *id);
            upto = upto.max(reach);
        }
    }
    if let Some(before) = rules.before {
        let reach = rows
            .iter()
            .take_while(|(_, at)| *at < before.micros())
            .last()
            .map(|(id, _)| *id);
        upto = upto.max(reach);
    }
    let full = upto == Some(last) && i64::try_from(rows.len()).unwrap_or(0) == limit;
    Ok(Window { upto, full })
}

/// The SQLite room: with the foreign keys' actions done by hand (a background batch runs
/// with them off: they cost two thirds of a prune).
impl PruneRoom for Connection {
    fn over_size(&self, max: u64) -> Result<bool> {
        Ok(bytes_in_use(self)? > max)
    }

    fn oldest(&self, walked: Walked, after: i64, limit: i64) -> Result<Vec<(i64, i64)>> {
        let sql = match walked {
            Walked::Events => {
                "SELECT id, emitted_at FROM events WHERE id > ?1 ORDER BY id LIMIT ?2"
            }
            Walked::LoneRuns => {
                "SELECT id, queued_at FROM runs WHERE event_id IS NULL AND id > ?1 ORDER BY id LIMIT ?2"
            }
        };
        Ok(self
            .prepare_cached(sql)?
            .query_map(params![after, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?)
    }

    fn newest_removable(&self, walked: Walked, keep: i64) -> Result<Option<i64>> {
        let sql = match walked {
            Walked::Events => "SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?1",
            Walked::LoneRuns => {
                "SELECT id FROM runs WHERE event_id IS NULL ORDER BY id DESC LIMIT 1 OFFSET ?1"
            }
        };
        Ok(self
            .prepare_cached(sql)?
            .query_row([keep], |r| r.get(0))
            .optional()?)
    }

    fn remove_events(&self, after: i64, upto: i64) -> Result<Pruned> {
        remove_events(self, after, upto)
    }

    fn remove_lone_runs(&self, after: i64, upto: i64) -> Result<Pruned> {
        remove_lone_runs(self, after, upto)
    }
}

/// Remove the events with ids in `(after, upto]` whose runs may all go, with those runs,
/// their step records and the events' skips.
///
/// Every statement has a fixed text (ids are bound as one `rarray` parameter), so that each
/// is prepared once per connection; and a statement that would find nothing is not run
/// (a probe within another statement costs less than a statement of its own, which pays
/// its start even when it finds nothing).
fn remove_events(conn: &Connection, after: i64, upto: i64) -> Result<Pruned> {
    let runs = sort_runs(conn, EVENT_RUNS, after, upto)?;
    let mut pruned = remove_runs(conn, &runs)?;
    // an event goes unless one of its runs stays: the range, but for the kept runs' events
    let staying = id_array(runs.staying_events);
    let (replayed, skipped): (bool, bool) = conn
        .prepare_cached(EVENTS_REFERRED_TO)?
        .query_row(params![after, upto], |r| Ok((r.get(0)?, r.get(1)?)))?;
    // what the foreign keys' actions would do, done here: a background batch runs with
    // them off (they cost two thirds of a prune)
    if replayed {
        conn.prepare_cached(CLEAR_REPLAYS)?
            .execute(params![after, upto, staying])?;
    }
    if skipped {
        pruned.skips = conn
            .prepare_cached(DELETE_SKIPS)?
            .execute(params![after, upto, staying])? as u64;
    }
    pruned.events = conn
        .prepare_cached(DELETE_EVENTS)?
        .execute(params![after, upto, staying])? as u64;
    Ok(pruned)
}

/// Remove the runs without an event with ids in `(after, upto]` that may go.
fn remove_lone_runs(conn: &Connection, after: i64, upto: i64) -> Result<Pruned> {
    let runs = sort_runs(conn, LONE_RUNS, after, upto)?;
    remove_runs(conn, &runs)
}

/// The runs of the events with ids in `(?1, ?2]`: id, event, whether it may go, and whether
/// anything refers to it or it has shared values (see [`run_columns!`]).
const EVENT_RUNS: &str = concat!(
    run_columns!(),
    " FROM runs WHERE runs.event_id > ?1 AND runs.event_id <= ?2"
);

/// The runs without an event with ids in `(?1, ?2]`, in the same shape.
const LONE_RUNS: &str = concat!(
    run_columns!(),
    " FROM runs WHERE runs.event_id IS NULL AND runs.id > ?1 AND runs.id <= ?2"
);

/// Whether an event refers to one in `(?1, ?2]` as the event it replays, and whether one of
/// those has skips.
const EVENTS_REFERRED_TO: &str = "SELECT
    EXISTS (SELECT 1 FROM events WHERE replay_of > ?1 AND replay_of <= ?2),
    EXISTS (SELECT 1 FROM skips WHERE event_id > ?1 AND event_id <= ?2)";

/// Events that referred to a replayed event in `(?1, ?2]` but not in `?3` forget it.
const CLEAR_REPLAYS: &str = "UPDATE events SET replay_of = NULL
    WHERE replay_of > ?1 AND replay_of <= ?2 AND replay_of NOT IN rarray(?3)";

/// The skips of the events in `(?1, ?2]` but not in `?3`.
const DELETE_SKIPS: &str =
    "DELETE FROM skips WHERE event_id > ?1 AND event_id <= ?2 AND event_id NOT IN rarray(?3)";

/// The events in `(?1, ?2]` but not in `?3`.
const DELETE_EVENTS: &str =
    "DELETE FROM events WHERE id > ?1 AND id <= ?2 AND id NOT IN rarray(?3)";

/// Events the runs in `?1` emitted forget them.
const CLEAR_PARENT_RUNS: &str =
    "UPDATE events SET parent_run = NULL WHERE parent_run IN rarray(?1)";

/// Reruns of the runs in `?1` forget them.
const CLEAR_RERUNS: &str = "UPDATE runs SET rerun_of = NULL WHERE rerun_of IN rarray(?1)";

/// The values the step records of the runs in `?1` share.
const DELETE_STEP_VALUES: &str = "DELETE FROM step_values WHERE run_id IN rarray(?1)";

/// The step records of the runs in `?1`.
const DELETE_STEPS: &str = "DELETE FROM steps WHERE run_id IN rarray(?1)";

/// The runs in `?1`.
const DELETE_RUNS: &str = "DELETE FROM runs WHERE id IN rarray(?1)";

/// The runs a batch reached, sorted: those that go, and the events of those that stay;
/// and whether anything refers to one that goes, or it has shared values.
#[derive(Debug, Default)]
struct SortedRuns {
    going: Vec<i64>,
    staying: u64,
    staying_events: Vec<i64>,
    emitted: bool,
    rerun: bool,
    shared_values: bool,
}

/// Ask once, by `sql` (one of [`EVENT_RUNS`], [`LONE_RUNS`]), which runs in range may go.
fn sort_runs(conn: &Connection, sql: &str, after: i64, upto: i64) -> Result<SortedRuns> {
    let mut sorted = SortedRuns::default();
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params![after, upto])?;
    while let Some(row) = rows.next()? {
        let event: Option<i64> = row.get(1)?;
        if row.get(2)? {
            sorted.going.push(row.get(0)?);
            sorted.emitted |= row.get::<_, bool>(3)?;
            sorted.rerun |= row.get::<_, bool>(4)?;
            sorted.shared_values |= row.get::<_, bool>(5)?;
        } else {
            sorted.staying += 1;
            sorted.staying_events.extend(event);
        }
    }
    Ok(sorted)
}

/// Remove the runs `runs` lets go, with their step records, and count those it keeps. (A
/// pinned run never goes, so no pin needs removing.)
fn remove_runs(conn: &Connection, runs: &SortedRuns) -> Result<Pruned> {
    let mut pruned = Pruned {
        kept: runs.staying,
        ..Pruned::default()
    };
    if runs.going.is_empty() {
        return Ok(pruned);
    }
    let going = id_array(runs.going.iter().copied());
    // the foreign keys' actions (see `remove_events`), where they would find something
    let needed = [
        (runs.emitted, CLEAR_PARENT_RUNS),
        (runs.rerun, CLEAR_RERUNS),
        (runs.shared_values, DELETE_STEP_VALUES),
    ];
    for (_, sql) in needed.into_iter().filter(|(needed, _)| *needed) {
        conn.prepare_cached(sql)?.execute([&going])?;
    }
    pruned.steps = conn.prepare_cached(DELETE_STEPS)?.execute([&going])? as u64;
    pruned.runs = conn.prepare_cached(DELETE_RUNS)?.execute([&going])? as u64;
    Ok(pruned)
}

/// Ids as one statement parameter, for `IN rarray(?n)`.
fn id_array(ids: impl IntoIterator<Item = i64>) -> Array {
    Rc::new(ids.into_iter().map(Value::Integer).collect())
}

fn bytes_in_use(conn: &Connection) -> Result<u64> {
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    let size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    Ok(u64::try_from(pages.saturating_sub(free).saturating_mul(size)).unwrap_or(0))
}

/// `PRAGMA incremental_vacuum(N)` with N at most `pages` (and [`VACUUM_PAGES`] when asked
/// for 0), when the store is in incremental mode. Returns the pages given back.
pub(crate) fn give_back(conn: &Connection, pages: i64) -> Result<i64> {
    let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
    if mode != 2 {
        return Ok(0);
    }
    let before: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    if before == 0 {
        return Ok(0);
    }
    let n = if pages > 0 { pages } else { VACUUM_PAGES };
    // the pragma returns a row per page moved; run it to the end
    let mut stmt = conn.prepare(&format!("PRAGMA incremental_vacuum({n})"))?;
    let mut rows = stmt.query([])?;
    while rows.next()?.is_some() {}
    let after: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    Ok(before - after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{temp_store, workflow_w};

    /// Events 1..=n at times 1..=n, each with a finished run of `w` (run id = event id) with
    /// two step records and a skip of definition 2 (`v`).
    fn history(store: &Store, n: i64) {
        workflow_w(store);
        store
            .conn()
            .execute_batch(
                "INSERT INTO definitions (id, kind, name, on_event, draft, draft_source, created_at, updated_at)
                   VALUES (2, 'workflow', 'v', 'e', '{}', '{}', 0, 0)",
            )
            .unwrap();
        for i in 1..=n {
            store
                .conn()
                .execute_batch(&format!(
                    "INSERT INTO events (id, name, params, source, emitted_at) VALUES ({i}, 'e', '{{}}', 'cli', {i});
                     INSERT INTO runs (id, definition_id, kind, target, event_id, mode, status, params, queued_at, finished_at)
                       VALUES ({i}, 1, 'workflow', 'w', {i}, 'live', 'succeeded', '', {i}, {i});
                     INSERT INTO steps (run_id, seq, step, path, action, status, input, output, attempt, started_at, duration_us)
                       VALUES ({i}, 1, 'a', '0', 'set', 'ok', '{{}}', '{{}}', 1, {i}, 1),
                              ({i}, 2, 'b', '1', 'set', 'ok', '{{}}', '{{}}', 1, {i}, 1);
                     INSERT INTO skips (event_id, definition_id, workflow, reason) VALUES ({i}, 2, 'v', 'inactive');"
                ))
                .unwrap();
        }
    }

    fn count(store: &Store, sql: &str) -> i64 {
        store.conn().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    fn prune_all(store: &Store, rules: &Retention, dry_run: bool) -> (Pruned, u64) {
        let mut cursor = Cursor::default();
        let mut total = Pruned::default();
        let mut batches = 0;
        loop {
            let b = store.prune_batch(rules, &mut cursor, dry_run).unwrap();
            total.add(b.pruned);
            batches += 1;
            if !b.more {
                return (total, batches);
            }
        }
    }

    fn integrity_ok(store: &Store) {
        let ok: String = store
            .conn()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        assert_eq!(
            count(store, "SELECT count(*) FROM pragma_foreign_key_check"),
            0
        );
    }

    #[test]
    fn every_statement_of_a_batch_finds_its_rows_by_an_index() {
        let (_dir, store) = temp_store();
        let ids = id_array([1, 2]);
        let by_range = [EVENT_RUNS, LONE_RUNS, EVENTS_REFERRED_TO];
        let by_range_but = [CLEAR_REPLAYS, DELETE_SKIPS, DELETE_EVENTS];
        let by_list = [
            CLEAR_PARENT_RUNS,
            CLEAR_RERUNS,
            DELETE_STEP_VALUES,
            DELETE_STEPS,
            DELETE_RUNS,
        ];
        let plan = |sql: &str, args: &[&dyn rusqlite::ToSql]| -> Vec<String> {
            let conn = store.conn();
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            stmt.query_map(args, |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let mut plans = Vec::new();
        for sql in by_range {
            plans.push((sql, plan(sql, params![1, 2])));
        }
        for sql in by_range_but {
            plans.push((sql, plan(sql, params![1, 2, ids])));
        }
        for sql in by_list {
            plans.push((sql, plan(sql, params![ids])));
        }
        assert_eq!(plans.len(), 11);
        for (sql, plan) in plans {
            // a table read whole would make every batch cost as much as the store is large
            let scans: Vec<&String> = plan
                .iter()
                .filter(|line| {
                    line.starts_with("SCAN ")
                        && !line.starts_with("SCAN rarray")
                        && !line.starts_with("SCAN CONSTANT ROW")
                })
                .collect();
            assert!(scans.is_empty(), "{sql}\nreads a table whole: {plan:?}");
            assert!(
                plan.iter().any(|line| line.starts_with("SEARCH ")),
                "{sql}: {plan:?}"
            );
        }
    }

    #[test]
    fn keep_last_removes_exactly_the_older_events_with_what_they_own() {
        let (_dir, store) = temp_store();
        history(&store, 500);
        let (pruned, batches) = prune_all(
            &store,
            &Retention {
                keep_last: Some(100),
                ..Retention::default()
            },
            false,
        );
        assert_eq!(
            pruned,
            Pruned {
                events: 400,
                runs: 400,
                steps: 800,
                skips: 400,
                kept: 0
            }
        );
        assert!(batches >= 2, "in batches of {BATCH}: {batches}");
        assert_eq!(count(&store, "SELECT min(id) FROM events"), 401);
        assert_eq!(count(&store, "SELECT count(*) FROM runs"), 100);
        assert_eq!(count(&store, "SELECT count(*) FROM steps"), 200);
        assert_eq!(count(&store, "SELECT count(*) FROM skips"), 100);
        // a run beside the removed ones reads back whole
        let run = store.run_with_steps(401).unwrap().expect("run 401 is kept");
        assert_eq!(run.steps.map(|s| s.len()), Some(2));
        integrity_ok(&store);
        // nothing more to do: a second prune removes nothing
        let (again, _) = prune_all(
            &store,
            &Retention {
                keep_last: Some(100),
                ..Retention::default()
            },
            false,
        );
        assert!(again.is_nothing(), "{again:?}");
    }

    #[test]
    fn with_foreign_keys_off_a_batch_clears_the_references_to_what_it_removes() {
        let (_dir, store) = temp_store();
        history(&store, 30);
        // a child event of run 2, kept (run 25 owns it); a rerun of run 3 and a replay of
        // event 4, both kept; all three point at what the prune removes
        store
            .conn()
            .execute_batch(
                "UPDATE events SET parent_run = 2 WHERE id = 25;
                 UPDATE runs SET rerun_of = 3 WHERE id = 26;
                 UPDATE events SET replay_of = 4 WHERE id = 27;
                 INSERT INTO step_values (run_id, hash, body) VALUES (1, 7, 'null'), (28, 7, 'null');
                 PRAGMA foreign_keys = OFF;",
            )
            .unwrap();
        let rules = Retention {
            before: Some(Timestamp(20)),
            ..Retention::default()
        };
        let mut cursor = Cursor::default();
        let mut pruned = Pruned::default();
        loop {
            let (batch, next) = store.prune_within(&rules, cursor).unwrap();
            pruned.add(batch.pruned);
            cursor = next;
            if !batch.more {
                break;
            }
        }
        store
            .conn()
            .execute_batch("PRAGMA foreign_keys = ON")
            .unwrap();
        assert_eq!(pruned.events, 19, "{pruned:?}");
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM events WHERE id = 25 AND parent_run IS NULL"
            ),
            1
        );
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM runs WHERE id = 26 AND rerun_of IS NULL"
            ),
            1
        );
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM events WHERE id = 27 AND replay_of IS NULL"
            ),
            1
        );
        // a removed run's shared step values go with it
        assert_eq!(
            count(&store, "SELECT sum(run_id) * count(*) FROM step_values"),
            28
        );
        integrity_ok(&store);
    }

    #[test]
    fn unfinished_pinned_and_last_runs_are_never_removed() {
        let (_dir, store) = temp_store();
        history(&store, 50);
        store
            .conn()
            .execute_batch("UPDATE runs SET status = 'running', finished_at = NULL WHERE id = 3")
            .unwrap();
        assert!(store.set_pinned(7, true).unwrap());
        assert!(store.is_pinned(7).unwrap());
        assert!(!store.set_pinned(999, true).unwrap(), "no such run");
        // older than everything: all the rules reach
        let rules = Retention {
            before: Some(Timestamp(1_000)),
            ..Retention::default()
        };
        let (pruned, _) = prune_all(&store, &rules, false);
        assert_eq!(pruned.kept, 3, "{pruned:?}");
        assert_eq!(pruned.runs, 47);
        let kept: Vec<i64> = store
            .conn()
            .prepare("SELECT id FROM runs ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        // the unfinished, the pinned, and `w`'s last
        assert_eq!(kept, vec![3, 7, 50]);
        // their events stay (with their skips); the others went
        assert_eq!(count(&store, "SELECT count(*) FROM events"), 3);
        assert_eq!(count(&store, "SELECT count(*) FROM skips"), 3);
        integrity_ok(&store);
        // unpinned, it goes with the next prune
        store.set_pinned(7, false).unwrap();
        let (pruned, _) = prune_all(&store, &rules, false);
        assert_eq!(pruned.runs, 1);
        assert_eq!(count(&store, "SELECT count(*) FROM runs WHERE id = 7"), 0);
    }

    #[test]
    fn age_removes_the_oldest_up_to_the_first_young_one() {
        let (_dir, store) = temp_store();
        history(&store, 30);
        let rules = Retention {
            before: Some(Timestamp(11)),
            ..Retention::default()
        };
        let (pruned, _) = prune_all(&store, &rules, false);
        assert_eq!(pruned.events, 10);
        assert_eq!(count(&store, "SELECT min(id) FROM events"), 11);
    }

    #[test]
    fn a_dry_run_counts_and_changes_nothing() {
        let (_dir, store) = temp_store();
        history(&store, 300);
        let rules = Retention {
            keep_last: Some(10),
            ..Retention::default()
        };
        let (counted, _) = prune_all(&store, &rules, true);
        assert_eq!(counted.events, 290);
        assert_eq!(count(&store, "SELECT count(*) FROM events"), 300);
        assert_eq!(count(&store, "SELECT count(*) FROM steps"), 600);
        let (pruned, _) = prune_all(&store, &rules, false);
        assert_eq!(pruned, counted);
    }

    #[test]
    fn runs_without_an_event_are_kept_by_their_own_count() {
        let (_dir, store) = temp_store();
        workflow_w(&store);
        for i in 1..=20 {
            store
                .conn()
                .execute_batch(&format!(
                    "INSERT INTO runs (id, definition_id, kind, target, mode, status, params, queued_at, finished_at)
                       VALUES ({i}, 1, 'workflow', 'w', 'debug', 'succeeded', '{{}}', {i}, {i})"
                ))
                .unwrap();
        }
        let (pruned, _) = prune_all(
            &store,
            &Retention {
                keep_last: Some(5),
                ..Retention::default()
            },
            false,
        );
        assert_eq!(pruned.runs, 15);
        assert_eq!(count(&store, "SELECT min(id) FROM runs"), 16);
    }

    #[test]
    fn a_new_store_gives_the_space_back_and_size_rules_stop_when_it_fits() {
        let (_dir, store) = temp_store();
        assert!(store.gives_back_space().unwrap());
        history(&store, 0);
        let pad = "x".repeat(2_000);
        for i in 1..=2_000 {
            store
                .conn()
                .execute(
                    "INSERT INTO events (id, name, params, source, emitted_at) VALUES (?1, 'e', ?2, 'cli', ?1)",
                    params![i, pad],
                )
                .unwrap();
        }
        let full = store.file_bytes().unwrap();
        let max = full / 2;
        let rules = Retention {
            max_bytes: Some(max),
            ..Retention::default()
        };
        let mut cursor = Cursor::default();
        loop {
            let b = store.prune_batch(&rules, &mut cursor, false).unwrap();
            store.give_back_space(0).unwrap();
            if !b.more || b.pruned.is_nothing() {
                break;
            }
        }
        let used = store.bytes_in_use().unwrap();
        assert!(used <= max, "{used} > {max}");
        assert!(store.file_bytes().unwrap() < full, "the file shrank");
        assert!(
            count(&store, "SELECT count(*) FROM events") > 0,
            "it stopped when it fit"
        );
        integrity_ok(&store);
    }
}
