//! Breakpoints, per workflow.

use super::{Result, Store};
use crate::model::breakpoint::Breakpoint;
use rusqlite::params;

impl Store {
    /// The breakpoints of a workflow.
    pub fn breakpoints_of(&self, workflow: &str) -> Result<Vec<Breakpoint>> {
        if let Some(pg) = self.postgres() {
            return pg.breakpoints_of(workflow);
        }
        let mut stmt = self.conn().prepare_cached(
            "SELECT kind, target, condition FROM breakpoints WHERE workflow = ?1 ORDER BY kind, target",
        )?;
        let rows = stmt
            .query_map(params![workflow], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(k, t, c)| Breakpoint::from_parts(&k, &t, c))
            .collect())
    }

    /// Add (or replace the condition of) a breakpoint.
    pub fn set_breakpoint(&self, workflow: &str, b: &Breakpoint) -> Result<()> {
        if let Some(pg) = self.postgres() {
            return pg.set_breakpoint(workflow, b);
        }
        let condition = match b {
            Breakpoint::Step { condition, .. } => {
                condition.clone().filter(|c| !c.trim().is_empty())
            }
            _ => None,
        };
        self.conn()
            .prepare_cached(
                "INSERT INTO breakpoints (workflow, kind, target, condition) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (workflow, kind, target) DO UPDATE SET condition = ?4",
            )?
            .execute(params![workflow, b.kind(), b.target(), condition])?;
        Ok(())
    }

    /// Remove a breakpoint (its condition does not matter); returns whether there was one.
    pub fn remove_breakpoint(&self, workflow: &str, b: &Breakpoint) -> Result<bool> {
        if let Some(pg) = self.postgres() {
            return pg.remove_breakpoint(workflow, b);
        }
        let n = self
            .conn()
            .prepare_cached(
                "DELETE FROM breakpoints WHERE workflow = ?1 AND kind = ?2 AND target = ?3",
            )?
            .execute(params![workflow, b.kind(), b.target()])?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use crate::model::breakpoint::Breakpoint;
    use crate::store::testing::temp_store;

    #[test]
    fn breakpoints_persist_per_workflow() {
        let (_d, store) = temp_store();
        let b = Breakpoint::Step {
            step: "load".into(),
            condition: Some("$var.n > 1".into()),
        };
        store.set_breakpoint("w", &b).unwrap();
        store.set_breakpoint("w", &Breakpoint::Failure).unwrap();
        store
            .set_breakpoint("other", &Breakpoint::Emit { event: "e".into() })
            .unwrap();
        assert_eq!(
            store.breakpoints_of("w").unwrap(),
            vec![Breakpoint::Failure, b.clone()]
        );
        assert!(
            store
                .remove_breakpoint("w", &Breakpoint::step("load"))
                .unwrap()
        );
        assert_eq!(
            store.breakpoints_of("w").unwrap(),
            vec![Breakpoint::Failure]
        );
    }
}
