//! Listener skips: every listener of an event that did not run, with the reason.

use super::{Result, Store};
use crate::model::SkipRecord;
use rusqlite::params;

/// A skip from a row of `event_id, workflow, reason`.
pub(crate) fn skip_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SkipRecord> {
    Ok(SkipRecord {
        event_id: r.get(0)?,
        workflow: r.get(1)?,
        reason: r.get(2)?,
    })
}

impl Store {
    /// Record that workflow `definition_id` did not run on an event.
    pub fn insert_skip(&self, definition_id: i64, skip: &SkipRecord) -> Result<()> {
        if let Some(pg) = self.postgres() {
            return pg.insert_skip(definition_id, skip);
        }
        self.conn()
            .prepare_cached(
                "INSERT OR IGNORE INTO skips (event_id, definition_id, workflow, reason) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![skip.event_id, definition_id, skip.workflow, skip.reason])?;
        Ok(())
    }

    /// The skips of one event.
    pub fn skips_of_event(&self, event_id: i64) -> Result<Vec<SkipRecord>> {
        if let Some(pg) = self.postgres() {
            return pg.skips_of_event(event_id);
        }
        let mut stmt = self.conn().prepare_cached(
            "SELECT event_id, workflow, reason FROM skips WHERE event_id = ?1 ORDER BY workflow",
        )?;
        let rows = stmt
            .query_map(params![event_id], skip_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}
