//! Counts over the record for the benchmark: the newest ids, and what was written after
//! them. Plain SQL that reads the same in both rooms.

use super::{Result, Store};

/// The newest event and run ids (0 for none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Marks {
    /// The newest event's id.
    pub event: i64,
    /// The newest run's id.
    pub run: i64,
}

/// What was written after a [`Marks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Written {
    /// Events.
    pub events: u64,
    /// Runs.
    pub runs: u64,
    /// Runs that failed.
    pub failed: u64,
    /// Step records.
    pub steps: u64,
    /// Listener skips.
    pub skips: u64,
}

impl Store {
    /// The one integer `sql` selects (0 for NULL), with its parameter `?1` (`$1` on
    /// PostgreSQL) bound to `arg` when there is one.
    fn tally(&self, sql: &str, arg: Option<i64>) -> Result<i64> {
        if let Some(pg) = self.postgres() {
            let sql = sql.replace("?1", "$1");
            let rows = match &arg {
                Some(a) => pg.query_dynamic(&sql, &[a])?,
                None => pg.query_dynamic(&sql, &[])?,
            };
            return Ok(rows
                .first()
                .and_then(|r| r.get::<_, Option<i64>>(0))
                .unwrap_or(0));
        }
        let one = |r: &rusqlite::Row<'_>| r.get::<_, Option<i64>>(0);
        let value = match arg {
            Some(a) => self.conn().query_row(sql, [a], one)?,
            None => self.conn().query_row(sql, [], one)?,
        };
        Ok(value.unwrap_or(0))
    }

    /// The newest event and run ids.
    pub fn marks(&self) -> Result<Marks> {
        Ok(Marks {
            event: self.tally("SELECT max(id) FROM events", None)?,
            run: self.tally("SELECT max(id) FROM runs", None)?,
        })
    }

    /// What was written after `m`.
    pub fn written_after(&self, m: Marks) -> Result<Written> {
        let count = |sql: &str, mark: i64| -> Result<u64> {
            Ok(u64::try_from(self.tally(sql, Some(mark))?).unwrap_or(0))
        };
        Ok(Written {
            events: count("SELECT count(*) FROM events WHERE id > ?1", m.event)?,
            runs: count("SELECT count(*) FROM runs WHERE id > ?1", m.run)?,
            failed: count(
                "SELECT count(*) FROM runs WHERE id > ?1 AND status = 'failed'",
                m.run,
            )?,
            steps: count("SELECT count(*) FROM steps WHERE run_id > ?1", m.run)?,
            skips: count("SELECT count(*) FROM skips WHERE event_id > ?1", m.event)?,
        })
    }

    /// The newest event named `name` that `flowdeck bench` emitted.
    pub fn last_bench_event(&self, name: &str) -> Result<Option<i64>> {
        if let Some(pg) = self.postgres() {
            let rows = pg.query_dynamic(
                "SELECT max(id) FROM events WHERE name = $1 AND source = 'bench'",
                &[&name],
            )?;
            return Ok(rows.first().and_then(|r| r.get::<_, Option<i64>>(0)));
        }
        Ok(self.conn().query_row(
            "SELECT max(id) FROM events WHERE name = ?1 AND source = 'bench'",
            [name],
            |r| r.get(0),
        )?)
    }
}
