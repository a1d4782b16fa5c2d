//! Events: recorded before anything runs.

use super::prepared::Prepared;
use super::{Result, Store, json_column};
use crate::model::{EventRecord, LazyJson, SharedJson, Timestamp};
use rusqlite::{OptionalExtension, params};
use serde_json::Value;

/// An event to record.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    /// The event's name.
    pub name: &'a str,
    /// Parameters (an object).
    pub params: &'a Value,
    /// The same parameters as JSON text (encoded by the caller, off the writer thread).
    pub params_json: &'a str,
    /// Who emits it.
    pub source: &'a str,
    /// The emitting run.
    pub parent_run: Option<i64>,
    /// Depth in its cascade.
    pub depth: u32,
    /// Workflows that led to it, oldest first (for the loop guard).
    pub chain: &'a [String],
    /// Dispatch to drafts instead of live versions.
    pub draft: bool,
    /// Idempotency key: the same key records one event.
    pub dedup_key: Option<&'a str>,
}

/// A recorded event with what dispatching it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// The record.
    pub record: EventRecord,
    /// Workflows that led to it.
    pub chain: Vec<String>,
    /// Dispatched to drafts.
    pub draft: bool,
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only events of this name.
    pub name: Option<String>,
    /// At most this many (newest first).
    pub limit: u32,
    /// Only events with a smaller id (paging backwards).
    pub before: Option<i64>,
}

const COLUMNS: &str =
    "id, name, params, source, parent_run, depth, emitted_at, chain, draft, replay_of";

fn stored(r: &rusqlite::Row<'_>) -> rusqlite::Result<(EventRecord, String, String, bool)> {
    Ok((
        EventRecord {
            id: r.get(0)?,
            name: r.get(1)?,
            params: SharedJson::default(),
            source: r.get(3)?,
            parent_run: r.get(4)?,
            depth: r.get(5)?,
            emitted_at: Timestamp(r.get(6)?),
            replay_of: r.get(9)?,
        },
        r.get(2)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

fn finish(raw: (EventRecord, String, String, bool)) -> Result<StoredEvent> {
    let (mut record, params, chain, draft) = raw;
    record.params = LazyJson::shared(json_column(&params, "event params")?);
    let chain = serde_json::from_str(&chain).unwrap_or_default();
    Ok(StoredEvent {
        record,
        chain,
        draft,
    })
}

impl Store {
    /// Record an event; with a `dedup_key` already used, return the existing one instead.
    /// The flag says whether it is new.
    pub fn insert_event(&self, e: &NewEvent<'_>) -> Result<(StoredEvent, bool)> {
        insert_event(self, e)
    }

    fn event_by_key(&self, key: &str) -> Result<Option<StoredEvent>> {
        let sql = format!("SELECT {COLUMNS} FROM events WHERE dedup_key = ?1");
        self.conn()
            .prepare_cached(&sql)?
            .query_row(params![key], stored)
            .optional()?
            .map(finish)
            .transpose()
    }

    /// Mark an event as a replay of `original`.
    pub fn set_replay_of(&self, id: i64, original: i64) -> Result<()> {
        if let Some(pg) = self.postgres() {
            return pg.set_replay_of(id, original);
        }
        self.conn()
            .prepare_cached("UPDATE events SET replay_of = ?2 WHERE id = ?1")?
            .execute(params![id, original])?;
        Ok(())
    }

    /// One event by id.
    pub fn event(&self, id: i64) -> Result<Option<StoredEvent>> {
        if let Some(pg) = self.postgres() {
            return pg.event(id);
        }
        let sql = format!("SELECT {COLUMNS} FROM events WHERE id = ?1");
        self.conn()
            .prepare_cached(&sql)?
            .query_row(params![id], stored)
            .optional()?
            .map(finish)
            .transpose()
    }

    /// Events, newest first. Each filter has its own statement, so that the name is looked
    /// up in its index: one statement with `?1 IS NULL OR name = ?1` cannot use it, and read
    /// the whole table backwards for a name with no event.
    pub fn list_events(&self, filter: &EventFilter) -> Result<Vec<EventRecord>> {
        if let Some(pg) = self.postgres() {
            return pg.list_events(filter);
        }
        let before = filter.before.unwrap_or(i64::MAX);
        let raw = match &filter.name {
            Some(name) => self
                .conn()
                .prepare_cached(&by_name_sql())?
                .query_map(params![name, before, filter.limit], stored)?
                .collect::<rusqlite::Result<Vec<_>>>()?,
            None => self
                .conn()
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM events WHERE id < ?1 ORDER BY id DESC LIMIT ?2"
                ))?
                .query_map(params![before, filter.limit], stored)?
                .collect::<rusqlite::Result<Vec<_>>>()?,
        };
        raw.into_iter()
            .map(|r| finish(r).map(|s| s.record))
            .collect()
    }
}

impl Store {
    /// The events of `ids` (those that exist), newest first.
    pub(crate) fn events_by_ids(&self, ids: &[i64]) -> Result<Vec<EventRecord>> {
        if let Some(pg) = self.postgres() {
            return pg.events_by_ids(ids);
        }
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // integers only, so written into the statement
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let sql = format!("SELECT {COLUMNS} FROM events WHERE id IN ({list}) ORDER BY id DESC");
        let raw = self
            .conn()
            .prepare(&sql)?
            .query_map([], stored)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raw.into_iter()
            .map(|r| finish(r).map(|s| s.record))
            .collect()
    }

    /// Every event name there is, in order, each looked up once in the names' index (a
    /// walk from one name to the next, not a read of every event).
    pub(crate) fn event_names(&self) -> Result<Vec<String>> {
        if let Some(pg) = self.postgres() {
            return pg.event_names();
        }
        let names = self
            .conn()
            .prepare_cached(
                "WITH RECURSIVE n(name) AS (
                    SELECT min(name) FROM events
                    UNION ALL
                    SELECT (SELECT min(name) FROM events WHERE name > n.name) FROM n
                     WHERE n.name IS NOT NULL)
                 SELECT name FROM n WHERE name IS NOT NULL",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(names)
    }
}

/// Events of name `?1` older than `?2`, newest first, `?3` at most.
fn by_name_sql() -> String {
    format!("SELECT {COLUMNS} FROM events WHERE name = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3")
}

/// The SQL of [`insert_event`] (a `static`: held statements are found by its address).
static INSERT_EVENT: &str = "INSERT INTO events (name, params, source, parent_run, depth, chain, draft, dedup_key, emitted_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

/// What inserting an event did.
#[derive(Debug, Clone, PartialEq)]
pub enum Inserted {
    /// A new row.
    New {
        /// Its id.
        id: i64,
        /// When it was recorded.
        emitted_at: Timestamp,
    },
    /// The event recorded before under the same idempotency key.
    Existing(StoredEvent),
}

impl NewEvent<'_> {
    /// The stored event this is, recorded as `id` at `emitted_at`.
    pub fn stored(&self, id: i64, emitted_at: Timestamp) -> StoredEvent {
        StoredEvent {
            record: EventRecord {
                id,
                name: self.name.to_string(),
                params: LazyJson::shared(self.params.clone()),
                source: self.source.to_string(),
                parent_run: self.parent_run,
                depth: self.depth,
                emitted_at,
                replay_of: None,
            },
            chain: self.chain.to_vec(),
            draft: self.draft,
        }
    }
}

/// [`Store::insert_event`] with statements from `db`.
pub(crate) fn insert_event(db: &impl Prepared, e: &NewEvent<'_>) -> Result<(StoredEvent, bool)> {
    Ok(match insert_event_row(db, e)? {
        Inserted::New { id, emitted_at } => (e.stored(id, emitted_at), true),
        Inserted::Existing(existing) => (existing, false),
    })
}

/// Insert an event's row (or find the one under its key) without building its record: the
/// writer thread answers with ids, and the caller, which has the event, builds the record
/// on its own core.
pub(crate) fn insert_event_row(db: &impl Prepared, e: &NewEvent<'_>) -> Result<Inserted> {
    let store = db.store();
    if let Some(pg) = store.postgres() {
        return pg.insert_event_row(e);
    }
    if let Some(key) = e.dedup_key
        && let Some(existing) = store.event_by_key(key)?
    {
        return Ok(Inserted::Existing(existing));
    }
    let chain = serde_json::to_string(e.chain).unwrap_or_else(|_| "[]".into());
    let now = Timestamp::now();
    db.with_statement(INSERT_EVENT, |stmt| {
        stmt.execute(params![
            e.name,
            e.params_json,
            e.source,
            e.parent_run,
            e.depth,
            chain,
            e.draft,
            e.dedup_key,
            now.0
        ])
    })?;
    Ok(Inserted::New {
        id: store.conn().last_insert_rowid(),
        emitted_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::{EventFilter, NewEvent, by_name_sql};
    use crate::store::testing::temp_store;
    use serde_json::json;

    fn event<'a>(params: &'a serde_json::Value, key: Option<&'a str>) -> NewEvent<'a> {
        named("hit", params, key)
    }

    fn named<'a>(
        name: &'a str,
        params: &'a serde_json::Value,
        key: Option<&'a str>,
    ) -> NewEvent<'a> {
        NewEvent {
            name,
            params,
            params_json: "{}",
            source: "test",
            parent_run: None,
            depth: 0,
            chain: &[],
            draft: false,
            dedup_key: key,
        }
    }

    #[test]
    fn a_key_records_one_event_and_is_found_through_its_index() {
        let (_d, store) = temp_store();
        let params = json!({});
        let (first, new) = store.insert_event(&event(&params, Some("k"))).unwrap();
        assert!(new);
        let (again, new) = store.insert_event(&event(&params, Some("k"))).unwrap();
        assert!(!new);
        assert_eq!(again.record.id, first.record.id);
        // events without a key are not held by the key's index
        let (a, _) = store.insert_event(&event(&params, None)).unwrap();
        let (b, _) = store.insert_event(&event(&params, None)).unwrap();
        assert_ne!(a.record.id, b.record.id);
        let plan: String = store
            .conn()
            .query_row(
                "EXPLAIN QUERY PLAN SELECT id FROM events WHERE dedup_key = ?1",
                ["k"],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("events_dedup_key"), "{plan}");
        let entries: i64 = store
            .conn()
            .query_row(
                "SELECT count(*) FROM events INDEXED BY events_dedup_key WHERE dedup_key IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(entries, 1);
    }

    #[test]
    fn events_are_listed_newest_first_by_name_and_page_and_a_name_is_found_by_its_index() {
        let (_d, store) = temp_store();
        let params = json!({});
        let mut ids = Vec::new();
        for name in ["a", "b", "a", "b", "a"] {
            ids.push(
                store
                    .insert_event(&named(name, &params, None))
                    .unwrap()
                    .0
                    .record
                    .id,
            );
        }
        let list = |name: Option<&str>, before: Option<i64>, limit: u32| -> Vec<i64> {
            store
                .list_events(&EventFilter {
                    name: name.map(String::from),
                    limit,
                    before,
                })
                .unwrap()
                .iter()
                .map(|e| e.id)
                .collect()
        };
        assert_eq!(
            list(None, None, 10),
            vec![ids[4], ids[3], ids[2], ids[1], ids[0]]
        );
        assert_eq!(list(None, Some(ids[3]), 2), vec![ids[2], ids[1]]);
        assert_eq!(list(Some("a"), None, 10), vec![ids[4], ids[2], ids[0]]);
        assert_eq!(list(Some("a"), Some(ids[4]), 1), vec![ids[2]]);
        assert_eq!(list(Some("b"), Some(ids[1]), 5), Vec::<i64>::new());
        assert_eq!(list(Some("never"), None, 5), Vec::<i64>::new());
        let plan: String = store
            .conn()
            .query_row(
                &format!("EXPLAIN QUERY PLAN {}", by_name_sql()),
                rusqlite::params!["a", i64::MAX, 1],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("events_name"), "{plan}");
    }
}
