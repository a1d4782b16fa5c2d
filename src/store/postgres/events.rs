//! Events on PostgreSQL (the SQLite room's `store::events`, the same record).

use super::pipeline::{Bulk, Ids, Param};
use super::{PgStore, column};
use crate::model::{EventRecord, Timestamp};
use crate::store::events::{EventFilter, Inserted, NewEvent, StoredEvent};
use crate::store::{Result, json_column};
use tokio_postgres::Row;

/// The columns [`stored`] reads, in its order.
macro_rules! columns {
    () => {
        "id, name, params, source, parent_run, depth, emitted_at, chain, draft, replay_of"
    };
}

/// One event row (selected with [`columns!`]) as the store gives it.
fn stored(r: &Row) -> Result<StoredEvent> {
    let params: &str = column(r, 2)?;
    let chain: &str = column(r, 7)?;
    Ok(StoredEvent {
        record: EventRecord {
            id: column(r, 0)?,
            name: column(r, 1)?,
            params: crate::model::LazyJson::shared(json_column(params, "event params")?),
            source: column(r, 3)?,
            parent_run: column(r, 4)?,
            depth: u32::try_from(column::<i64>(r, 5)?).unwrap_or(u32::MAX),
            emitted_at: Timestamp(column(r, 6)?),
            replay_of: column(r, 9)?,
        },
        chain: serde_json::from_str(chain).unwrap_or_default(),
        draft: column::<i64>(r, 8)? != 0,
    })
}

/// New events kept for one statement (see [`super::pipeline`]), column by column: the
/// columns the single-row insert writes, the others left to their defaults.
#[derive(Default)]
pub(crate) struct EventRows {
    id: Vec<i64>,
    name: Vec<String>,
    params: Vec<String>,
    source: Vec<String>,
    parent_run: Vec<Option<i64>>,
    depth: Vec<i64>,
    chain: Vec<String>,
    draft: Vec<i64>,
    emitted_at: Vec<i64>,
}

impl Bulk for EventRows {
    const SQL: &'static str =
        "INSERT INTO events (id, name, params, source, parent_run, depth, chain, draft, emitted_at)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[],
                              $6::bigint[], $7::text[], $8::bigint[], $9::bigint[])";

    fn len(&self) -> usize {
        self.id.len()
    }

    fn into_params(self) -> Vec<Param> {
        vec![
            Box::new(self.id),
            Box::new(self.name),
            Box::new(self.params),
            Box::new(self.source),
            Box::new(self.parent_run),
            Box::new(self.depth),
            Box::new(self.chain),
            Box::new(self.draft),
            Box::new(self.emitted_at),
        ]
    }
}

impl EventRows {
    /// Keep event `e` under `id`, with its encoded chain and the time it was recorded.
    fn push(&mut self, id: i64, e: &NewEvent<'_>, chain: String, emitted_at: Timestamp) {
        self.id.push(id);
        self.name.push(e.name.to_string());
        self.params.push(e.params_json.to_string());
        self.source.push(e.source.to_string());
        self.parent_run.push(e.parent_run);
        self.depth.push(i64::from(e.depth));
        self.chain.push(chain);
        self.draft.push(i64::from(e.draft));
        self.emitted_at.push(emitted_at.0);
    }
}

impl PgStore {
    /// Insert an event's row, or find the one recorded before under its key (two servers
    /// recording the same key at once record it once: the unique index decides).
    pub(crate) fn insert_event_row(&self, e: &NewEvent<'_>) -> Result<Inserted> {
        let chain = serde_json::to_string(e.chain).unwrap_or_else(|_| "[]".into());
        let now = Timestamp::now();
        let depth = i64::from(e.depth);
        let draft = i64::from(e.draft);
        if e.dedup_key.is_none() && self.defers_writes() {
            // nothing to find first: the row is kept with an id of its own, for the flush.
            // Its parent run, when kept too, is written first (the flush writes events
            // before runs)
            if let Some(parent) = e.parent_run
                && self.with_buffered(|b| b.run_ids.contains(&parent))
            {
                self.flush()?;
            }
            let id = self.next_id(Ids::Events)?;
            self.with_buffered(|b| b.events.push(id, e, chain, now));
            self.note_fresh_event(id);
            return Ok(Inserted::New {
                id,
                emitted_at: now,
            });
        }
        let row = self.query_opt(
            "INSERT INTO events (name, params, source, parent_run, depth, chain, draft, dedup_key, emitted_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
             RETURNING id",
            &[
                &e.name,
                &e.params_json,
                &e.source,
                &e.parent_run,
                &depth,
                &chain,
                &draft,
                &e.dedup_key,
                &now.0,
            ],
        )?;
        if let Some(row) = row {
            return Ok(Inserted::New {
                id: column(&row, 0)?,
                emitted_at: now,
            });
        }
        let key = e.dedup_key.unwrap_or_default();
        match self.event_by_key(key)? {
            Some(existing) => Ok(Inserted::Existing(existing)),
            None => Err(crate::store::StoreError::Commit(format!(
                "the event under key {key:?} was removed while it was being recorded; try again"
            ))),
        }
    }

    fn event_by_key(&self, key: &str) -> Result<Option<StoredEvent>> {
        self.query_opt(
            concat!("SELECT ", columns!(), " FROM events WHERE dedup_key = $1"),
            &[&key],
        )?
        .as_ref()
        .map(stored)
        .transpose()
    }

    /// Mark an event as a replay of `original`.
    pub(crate) fn set_replay_of(&self, id: i64, original: i64) -> Result<()> {
        self.execute(
            "UPDATE events SET replay_of = $2 WHERE id = $1",
            &[&id, &original],
        )?;
        Ok(())
    }

    /// One event by id.
    pub(crate) fn event(&self, id: i64) -> Result<Option<StoredEvent>> {
        self.query_opt(
            concat!("SELECT ", columns!(), " FROM events WHERE id = $1"),
            &[&id],
        )?
        .as_ref()
        .map(stored)
        .transpose()
    }

    /// Events, newest first.
    pub(crate) fn list_events(&self, filter: &EventFilter) -> Result<Vec<EventRecord>> {
        let before = filter.before.unwrap_or(i64::MAX);
        let limit = i64::from(filter.limit);
        let rows = match &filter.name {
            Some(name) => self.query(
                concat!(
                    "SELECT ",
                    columns!(),
                    " FROM events WHERE name = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
                ),
                &[name, &before, &limit],
            )?,
            None => self.query(
                concat!(
                    "SELECT ",
                    columns!(),
                    " FROM events WHERE id < $1 ORDER BY id DESC LIMIT $2"
                ),
                &[&before, &limit],
            )?,
        };
        rows.iter().map(|r| stored(r).map(|s| s.record)).collect()
    }

    /// The events of `ids` (those that exist), newest first.
    pub(crate) fn events_by_ids(&self, ids: &[i64]) -> Result<Vec<EventRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self.query(
            concat!(
                "SELECT ",
                columns!(),
                " FROM events WHERE id = ANY($1) ORDER BY id DESC"
            ),
            &[&ids],
        )?;
        rows.iter().map(|r| stored(r).map(|s| s.record)).collect()
    }

    /// Every event name there is, in byte order as on SQLite (the column's collation is
    /// "C"), each looked up in the names' index (a walk from one name to the next).
    pub(crate) fn event_names(&self) -> Result<Vec<String>> {
        let rows = self.query(
            "WITH RECURSIVE n(name) AS (
                SELECT min(name) FROM events
                UNION ALL
                SELECT (SELECT min(name) FROM events WHERE name > n.name) FROM n
                 WHERE n.name IS NOT NULL)
             SELECT name FROM n WHERE name IS NOT NULL",
            &[],
        )?;
        rows.iter().map(|r| column(r, 0)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::scratch::scratch_store;
    use crate::store::events::{EventFilter, NewEvent};
    use serde_json::json;

    #[test]
    fn events_are_recorded_once_per_key_and_listed_newest_first() {
        let Some((_db, store)) =
            scratch_store("events_are_recorded_once_per_key_and_listed_newest_first")
        else {
            return;
        };
        let params = json!({"sku": "A-1"});
        let event = |name, key| NewEvent {
            name,
            params: &params,
            params_json: r#"{"sku":"A-1"}"#,
            source: "test",
            parent_run: None,
            depth: 0,
            chain: &[],
            draft: false,
            dedup_key: key,
        };
        let (first, new) = store.insert_event(&event("hit", Some("k"))).unwrap();
        assert!(new);
        let (again, new) = store.insert_event(&event("hit", Some("k"))).unwrap();
        assert!(!new);
        assert_eq!(again.record.id, first.record.id);
        assert_eq!(*again.record.params, params);
        store.insert_event(&event("miss", None)).unwrap();
        let all = store
            .list_events(&EventFilter {
                name: None,
                limit: 10,
                before: None,
            })
            .unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].name, "miss");
        let hits = store
            .list_events(&EventFilter {
                name: Some("hit".into()),
                limit: 10,
                before: None,
            })
            .unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(store.event_names().unwrap(), vec!["hit", "miss"]);
        assert_eq!(
            store.events_by_ids(&[first.record.id, 999]).unwrap().len(),
            1
        );
        assert_eq!(store.event(first.record.id).unwrap().unwrap(), first);
    }
}
