//! Breakpoints on PostgreSQL, per workflow (the SQLite room's `store::breakpoints`, the
//! same record).

use super::{PgStore, column};
use crate::model::breakpoint::Breakpoint;
use crate::store::Result;

impl PgStore {
    /// The breakpoints of a workflow, by kind and target (as bytes, as SQLite orders them).
    pub(crate) fn breakpoints_of(&self, workflow: &str) -> Result<Vec<Breakpoint>> {
        let rows = self.query(
            "SELECT kind, target, condition FROM breakpoints WHERE workflow = $1
              ORDER BY kind COLLATE \"C\", target COLLATE \"C\"",
            &[&workflow],
        )?;
        let mut found = Vec::with_capacity(rows.len());
        for r in &rows {
            found.extend(Breakpoint::from_parts(
                column(r, 0)?,
                column(r, 1)?,
                column(r, 2)?,
            ));
        }
        Ok(found)
    }

    /// Add (or replace the condition of) a breakpoint.
    pub(crate) fn set_breakpoint(&self, workflow: &str, b: &Breakpoint) -> Result<()> {
        let condition = match b {
            Breakpoint::Step { condition, .. } => {
                condition.clone().filter(|c| !c.trim().is_empty())
            }
            _ => None,
        };
        self.execute(
            "INSERT INTO breakpoints (workflow, kind, target, condition) VALUES ($1, $2, $3, $4)
             ON CONFLICT (workflow, kind, target) DO UPDATE SET condition = $4",
            &[&workflow, &b.kind(), &b.target(), &condition],
        )?;
        Ok(())
    }

    /// Remove a breakpoint (its condition does not matter); returns whether there was one.
    pub(crate) fn remove_breakpoint(&self, workflow: &str, b: &Breakpoint) -> Result<bool> {
        let n = self.execute(
            "DELETE FROM breakpoints WHERE workflow = $1 AND kind = $2 AND target = $3",
            &[&workflow, &b.kind(), &b.target()],
        )?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::scratch::scratch_store;
    use crate::model::breakpoint::Breakpoint;

    #[test]
    fn breakpoints_persist_per_workflow() {
        let Some((_db, store)) = scratch_store("pg_breakpoints_persist_per_workflow") else {
            return;
        };
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
        // a new condition replaces the old one; a blank one is none
        store
            .set_breakpoint(
                "w",
                &Breakpoint::Step {
                    step: "load".into(),
                    condition: Some("  ".into()),
                },
            )
            .unwrap();
        store.set_breakpoint("w", &Breakpoint::step("Zed")).unwrap();
        assert_eq!(
            store.breakpoints_of("w").unwrap(),
            vec![
                Breakpoint::Failure,
                Breakpoint::step("Zed"),
                Breakpoint::step("load")
            ]
        );
        assert!(
            store
                .remove_breakpoint("w", &Breakpoint::step("load"))
                .unwrap()
        );
        assert!(
            !store
                .remove_breakpoint("w", &Breakpoint::step("load"))
                .unwrap()
        );
        store
            .remove_breakpoint("w", &Breakpoint::step("Zed"))
            .unwrap();
        assert_eq!(
            store.breakpoints_of("w").unwrap(),
            vec![Breakpoint::Failure]
        );
        assert_eq!(
            store.breakpoints_of("other").unwrap(),
            vec![Breakpoint::Emit { event: "e".into() }]
        );
        assert!(store.breakpoints_of("none").unwrap().is_empty());
    }
}
