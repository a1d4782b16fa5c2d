//! Workflows and endpoints on PostgreSQL (the SQLite room's `store::definitions`, the same
//! record): drafts, deployed versions, the active toggle, listeners of an event.
//!
//! Text is ordered as SQLite orders it (by bytes: `COLLATE "C"`, NULLs first), whatever
//! the database's own collation. Several servers may deploy at once: a deploy locks its
//! definition's row, so that the next version number is taken one at a time.

use super::{PgStore, column};
use crate::model::{Definition, DefinitionKind, Timestamp};
use crate::store::definitions::{
    DefinitionRow, ImportOutcome, Listener, VersionRow, workflow_fields,
};
use crate::store::{Result, StoreError};
use tokio_postgres::Row;

/// The columns [`definition_row`] reads, in its order.
macro_rules! row_columns {
    () => {
        "d.id, d.kind, d.name, d.on_event, d.method, d.path, d.active, d.live_version,
         (d.live_version IS NULL OR d.draft IS DISTINCT FROM
            (SELECT body FROM versions v WHERE v.definition_id = d.id AND v.version = d.live_version)),
         d.source_file, d.updated_at"
    };
}

/// One definition row (selected with [`row_columns!`]) as the store lists it.
fn definition_row(r: &Row) -> Result<DefinitionRow> {
    let kind: &str = column(r, 1)?;
    Ok(DefinitionRow {
        id: column(r, 0)?,
        kind: DefinitionKind::parse(kind).unwrap_or(DefinitionKind::Workflow),
        name: column(r, 2)?,
        on_event: column(r, 3)?,
        method: column(r, 4)?,
        path: column(r, 5)?,
        active: column::<i64>(r, 6)? != 0,
        live_version: column(r, 7)?,
        draft_changed: column(r, 8)?,
        source_file: column(r, 9)?,
        updated_at: Timestamp(column(r, 10)?),
    })
}

/// One listener row (`id, name, active, version, deployed, allow_self_trigger`).
fn listener(r: &Row) -> Result<Listener> {
    Ok(Listener {
        id: column(r, 0)?,
        name: column::<&str>(r, 1)?.into(),
        active: column::<i64>(r, 2)? != 0,
        version: column(r, 3)?,
        deployed: column(r, 4)?,
        allow_self_trigger: column::<i64>(r, 5)? != 0,
    })
}

impl PgStore {
    /// Store `def` as the draft of its workflow or endpoint, creating it when new (see
    /// `Store::upsert_draft`). Two servers importing the same new definition at once create
    /// it once: the second finds it created and imports over it.
    pub(crate) fn upsert_draft(
        &self,
        def: &Definition,
        source: &str,
        file: Option<&str>,
    ) -> Result<(i64, ImportOutcome)> {
        self.see_generation(None);
        let kind = def.kind().as_str();
        let name = def.key();
        let canonical = def.canonical_json().to_string();
        let (on_event, allow_self, file_active) = workflow_fields(def);
        let (method, path) = match def {
            Definition::Endpoint(e) => (Some(e.method.as_str()), Some(e.path.as_str())),
            Definition::Workflow(_) => (None, None),
        };
        let allow_self = i64::from(allow_self);
        let file_active = file_active.map(i64::from);
        let now = Timestamp::now().0;
        let existing = self.query_opt(
            "SELECT id, draft, draft_source, file_active FROM definitions WHERE kind = $1 AND name = $2",
            &[&kind, &name],
        )?;
        let existing = match existing {
            Some(row) => row,
            None => {
                let active = file_active.unwrap_or(1);
                let created = self.query_opt(
                    "INSERT INTO definitions (kind, name, on_event, method, path, allow_self_trigger, active,
                        file_active, draft, draft_source, source_file, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
                     ON CONFLICT (kind, name) DO NOTHING
                     RETURNING id",
                    &[
                        &kind,
                        &name,
                        &on_event,
                        &method,
                        &path,
                        &allow_self,
                        &active,
                        &file_active,
                        &canonical,
                        &source,
                        &file,
                        &now,
                    ],
                )?;
                if let Some(row) = created {
                    return Ok((column(&row, 0)?, ImportOutcome::Created));
                }
                // another server created it meanwhile (and committed: the insert waited
                // for it): import over what it created
                self.query_opt(
                    "SELECT id, draft, draft_source, file_active FROM definitions WHERE kind = $1 AND name = $2",
                    &[&kind, &name],
                )?
                .ok_or_else(|| {
                    StoreError::Commit(format!(
                        "{kind} {name} was removed while it was being imported; try again"
                    ))
                })?
            }
        };
        let id: i64 = column(&existing, 0)?;
        let draft: &str = column(&existing, 1)?;
        let draft_source: &str = column(&existing, 2)?;
        let previous_file_active: Option<i64> = column(&existing, 3)?;
        let active_changed_in_file = file_active.is_some() && file_active != previous_file_active;
        if draft == canonical && draft_source == source && !active_changed_in_file {
            return Ok((id, ImportOutcome::Unchanged));
        }
        self.execute(
            "UPDATE definitions SET on_event = $2, method = $3, path = $4, allow_self_trigger = $5,
                draft = $6, draft_source = $7, source_file = coalesce($8, source_file),
                file_active = $9, active = CASE WHEN $10 THEN $9 ELSE active END,
                updated_at = CASE WHEN draft IS DISTINCT FROM $6 THEN $11 ELSE updated_at END
             WHERE id = $1",
            &[
                &id,
                &on_event,
                &method,
                &path,
                &allow_self,
                &canonical,
                &source,
                &file,
                &file_active,
                &active_changed_in_file,
                &now,
            ],
        )?;
        let outcome = if draft == canonical {
            ImportOutcome::Unchanged
        } else {
            ImportOutcome::Changed
        };
        Ok((id, outcome))
    }

    /// Every workflow and endpoint, workflows first, by event and name.
    pub(crate) fn list_definitions(&self) -> Result<Vec<DefinitionRow>> {
        let rows = self.query(
            concat!(
                "SELECT ",
                row_columns!(),
                " FROM definitions d
                 ORDER BY d.kind COLLATE \"C\" DESC, d.on_event COLLATE \"C\" NULLS FIRST, d.name COLLATE \"C\""
            ),
            &[],
        )?;
        rows.iter().map(definition_row).collect()
    }

    /// One workflow (by name) or endpoint (by `METHOD /path`).
    pub(crate) fn find_definition(
        &self,
        kind: DefinitionKind,
        name: &str,
    ) -> Result<Option<DefinitionRow>> {
        let row = self.query_opt(
            concat!(
                "SELECT ",
                row_columns!(),
                " FROM definitions d WHERE d.kind = $1 AND d.name = $2"
            ),
            &[&kind.as_str(), &name],
        )?;
        row.as_ref().map(definition_row).transpose()
    }

    /// One definition by id.
    pub(crate) fn definition(&self, id: i64) -> Result<DefinitionRow> {
        self.query_opt(
            concat!(
                "SELECT ",
                row_columns!(),
                " FROM definitions d WHERE d.id = $1"
            ),
            &[&id],
        )?
        .as_ref()
        .map(definition_row)
        .ok_or_else(|| StoreError::NotFound {
            what: "definition",
            name: id.to_string(),
        })?
    }

    /// Switch a workflow on or off; returns whether it changed.
    pub(crate) fn set_active(&self, id: i64, active: bool) -> Result<bool> {
        self.see_generation(None);
        let active = i64::from(active);
        let n = self.execute(
            "UPDATE definitions SET active = $2 WHERE id = $1 AND active IS DISTINCT FROM $2",
            &[&id, &active],
        )?;
        Ok(n > 0)
    }

    /// Publish the draft as a new live version (nothing new when it equals the live one);
    /// the live version and whether it is new. Inside a transaction (`Store::transaction`)
    /// it takes part in it, and the definition's row stays locked until it ends; outside
    /// one it runs in a transaction of its own. Either way two servers deploying the same
    /// definition at once take turns: version numbers stay unique and without gaps.
    pub(crate) fn deploy(&self, id: i64) -> Result<(i64, bool)> {
        self.see_generation(None);
        if self.is_in_transaction() {
            return self.deploy_locked(id);
        }
        self.begin()?;
        match self.deploy_locked(id) {
            Ok(deployed) => {
                self.commit()?;
                Ok(deployed)
            }
            Err(e) => {
                self.rollback();
                Err(e)
            }
        }
    }

    /// [`PgStore::deploy`] inside an open transaction: the definition's row is locked first
    /// (a deploy of it under way elsewhere is waited for, and its versions are then seen:
    /// each statement after the lock reads what was committed before it).
    fn deploy_locked(&self, id: i64) -> Result<(i64, bool)> {
        let row = self
            .query_opt(
                "SELECT draft, draft_source, on_event, allow_self_trigger, live_version
                   FROM definitions WHERE id = $1 FOR UPDATE",
                &[&id],
            )?
            .ok_or_else(|| StoreError::NotFound {
                what: "definition",
                name: id.to_string(),
            })?;
        let draft: &str = column(&row, 0)?;
        let source: &str = column(&row, 1)?;
        let on_event: Option<&str> = column(&row, 2)?;
        let allow_self: i64 = column(&row, 3)?;
        let live: Option<i64> = column(&row, 4)?;
        if let Some(live) = live {
            let body = self.query_opt(
                "SELECT body FROM versions WHERE definition_id = $1 AND version = $2",
                &[&id, &live],
            )?;
            if let Some(b) = body
                && column::<&str>(&b, 0)? == draft
            {
                return Ok((live, false));
            }
        }
        let next: i64 = column(
            &self.query_one(
                "SELECT coalesce(max(version), 0) + 1 FROM versions WHERE definition_id = $1",
                &[&id],
            )?,
            0,
        )?;
        let now = Timestamp::now().0;
        self.execute(
            "INSERT INTO versions (definition_id, version, body, source, on_event, allow_self_trigger, deployed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[&id, &next, &draft, &source, &on_event, &allow_self, &now],
        )?;
        self.execute(
            "UPDATE definitions SET live_version = $2 WHERE id = $1",
            &[&id, &next],
        )?;
        Ok((next, true))
    }

    /// Every deployed version of a definition, oldest first.
    pub(crate) fn versions_of(&self, id: i64) -> Result<Vec<VersionRow>> {
        let rows = self.query(
            "SELECT version, deployed_at, body FROM versions WHERE definition_id = $1 ORDER BY version",
            &[&id],
        )?;
        rows.iter()
            .map(|r| {
                Ok(VersionRow {
                    version: column(r, 0)?,
                    deployed_at: Timestamp(column(r, 1)?),
                    body: column(r, 2)?,
                })
            })
            .collect()
    }

    /// Make an earlier version live again (the draft is left as it is).
    pub(crate) fn set_live_version(&self, id: i64, version: i64) -> Result<()> {
        self.see_generation(None);
        let n = self.execute(
            "UPDATE definitions SET live_version = $2
              WHERE id = $1
                AND EXISTS (SELECT 1 FROM versions WHERE definition_id = $1 AND version = $2)",
            &[&id, &version],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound {
                what: "version",
                name: format!("v{version}"),
            });
        }
        Ok(())
    }

    /// Canonical JSON of a version (`None`: the draft).
    pub(crate) fn definition_body(&self, id: i64, version: Option<i64>) -> Result<String> {
        let found = match version {
            None => self.query_opt("SELECT draft FROM definitions WHERE id = $1", &[&id])?,
            Some(v) => self.query_opt(
                "SELECT body FROM versions WHERE definition_id = $1 AND version = $2",
                &[&id, &v],
            )?,
        };
        text_or_missing(found, id, version)
    }

    /// The file text of a version (`None`: the draft), as it was imported.
    pub(crate) fn definition_source(&self, id: i64, version: Option<i64>) -> Result<String> {
        let found = match version {
            None => self.query_opt("SELECT draft_source FROM definitions WHERE id = $1", &[&id])?,
            Some(v) => self.query_opt(
                "SELECT source FROM versions WHERE definition_id = $1 AND version = $2",
                &[&id, &v],
            )?,
        };
        text_or_missing(found, id, version)
    }

    /// The definitions generation: the `generation` row, which the triggers on definitions
    /// and versions bump with every statement that writes them (on any server).
    pub(crate) fn generation(&self) -> Result<i64> {
        // read once per batch of the writer's group commit: its jobs are events and runs,
        // each of which would otherwise pay a round trip to learn that nothing changed
        if self.defers_writes()
            && let Some(n) = self.generation_seen()
        {
            return Ok(n);
        }
        let n: i64 = column(
            &self.query_one("SELECT n FROM generation WHERE id = 1", &[])?,
            0,
        )?;
        if self.defers_writes() {
            self.see_generation(Some(n));
        }
        Ok(n)
    }

    /// Workflows that a live event named `event` concerns, by name: those whose live
    /// version listens to it, and those whose draft listens but which have no such version
    /// deployed.
    pub(crate) fn read_live_listeners(&self, event: &str) -> Result<Vec<Listener>> {
        let rows = self.query(
            "SELECT * FROM (
                SELECT d.id, d.name, d.active, d.live_version AS version, true AS deployed,
                       v.allow_self_trigger
                  FROM definitions d
                  JOIN versions v ON v.definition_id = d.id AND v.version = d.live_version
                 WHERE v.on_event = $1
                UNION ALL
                SELECT d.id, d.name, d.active, NULL, false, d.allow_self_trigger
                  FROM definitions d
                 WHERE d.kind = 'workflow' AND d.on_event = $1
                   AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.definition_id = d.id
                                   AND v.version = d.live_version AND v.on_event = $1)
             ) l
             ORDER BY l.name COLLATE \"C\"",
            &[&event],
        )?;
        rows.iter().map(listener).collect()
    }

    /// Workflows whose draft listens to `event`, by name (for `emit --draft`).
    pub(crate) fn read_draft_listeners(&self, event: &str) -> Result<Vec<Listener>> {
        let rows = self.query(
            "SELECT id, name, active, NULL::bigint, true, allow_self_trigger FROM definitions
              WHERE kind = 'workflow' AND on_event = $1 ORDER BY name COLLATE \"C\"",
            &[&event],
        )?;
        rows.iter().map(listener).collect()
    }
}

/// The text of a draft or version row, or what is missing.
fn text_or_missing(found: Option<Row>, id: i64, version: Option<i64>) -> Result<String> {
    let row = found.ok_or_else(|| StoreError::NotFound {
        what: "version",
        name: match version {
            Some(v) => format!("definition {id} v{v}"),
            None => format!("draft of definition {id}"),
        },
    })?;
    column(&row, 0)
}

#[cfg(test)]
mod tests {
    use super::super::scratch::scratch_store;
    use crate::model::{DefinitionKind, parse_definition};
    use crate::store::Store;
    use crate::store::definitions::ImportOutcome;
    use crate::store::definitions::tests::workflow;
    use std::path::Path;
    use std::sync::{Arc, Barrier};

    fn endpoint(method: &str, path: &str) -> (crate::model::Definition, String) {
        let text = format!(
            r#"{{"method": "{method}", "path": "{path}", "steps": [{{"id": "r", "action": "return", "value": 1}}]}}"#
        );
        let parsed = parse_definition(&text, Path::new("e.json"), Some(DefinitionKind::Endpoint));
        (parsed.definition.unwrap(), text)
    }

    #[test]
    fn drafts_deploys_and_draft_changed() {
        let Some((_db, store)) = scratch_store("pg_drafts_deploys_and_draft_changed") else {
            return;
        };
        let (def, text) = workflow("w", "e", true, false);
        let (id, outcome) = store
            .upsert_draft(&def, &text, Some("workflows/w.json"))
            .unwrap();
        assert_eq!(outcome, ImportOutcome::Created);
        let row = store
            .find_definition(DefinitionKind::Workflow, "w")
            .unwrap()
            .unwrap();
        assert!(row.draft_changed);
        assert!(row.active);
        assert_eq!(row.live_version, None);
        assert_eq!(row.source_file.as_deref(), Some("workflows/w.json"));
        assert_eq!(row.on_event.as_deref(), Some("e"));
        assert_eq!(store.deploy(id).unwrap(), (1, true));
        assert_eq!(store.deploy(id).unwrap(), (1, false));
        assert!(!store.definition(id).unwrap().draft_changed);
        let (_, outcome) = store.upsert_draft(&def, &text, None).unwrap();
        assert_eq!(outcome, ImportOutcome::Unchanged);
        let (def2, text2) = workflow("w", "e", true, true);
        assert_eq!(
            store.upsert_draft(&def2, &text2, None).unwrap().1,
            ImportOutcome::Changed
        );
        let row = store.definition(id).unwrap();
        assert!(row.draft_changed);
        assert_eq!(
            row.source_file.as_deref(),
            Some("workflows/w.json"),
            "kept when the import names no file"
        );
        assert_eq!(store.deploy(id).unwrap(), (2, true));
        assert!(
            store
                .definition_body(id, Some(1))
                .unwrap()
                .contains("\"a\"")
        );
        assert!(store.definition_source(id, None).unwrap().contains("\"b\""));
        assert_eq!(store.definition_source(id, Some(1)).unwrap(), text);
        assert!(store.definition_body(id, Some(9)).is_err());
        assert!(store.definition_body(999, None).is_err());
        assert!(store.definition(999).is_err());
        assert!(
            store
                .find_definition(DefinitionKind::Endpoint, "w")
                .unwrap()
                .is_none()
        );

        let versions = store.versions_of(id).unwrap();
        assert_eq!(
            versions.iter().map(|v| v.version).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(versions[1].body, store.definition_body(id, None).unwrap());
        store.set_live_version(id, 1).unwrap();
        let row = store.definition(id).unwrap();
        assert_eq!(row.live_version, Some(1));
        assert!(row.draft_changed, "the draft is v2's, v1 is live");
        assert!(store.set_live_version(id, 7).is_err());
        assert_eq!(store.definition(id).unwrap().live_version, Some(1));
        // deploying the draft again makes a new version: numbers are never reused
        assert_eq!(store.deploy(id).unwrap(), (3, true));
    }

    #[test]
    fn toggle_survives_reimport_unless_the_file_changes_it() {
        let Some((_db, store)) =
            scratch_store("pg_toggle_survives_reimport_unless_the_file_changes_it")
        else {
            return;
        };
        let (def, text) = workflow("w", "e", true, false);
        let (id, _) = store.upsert_draft(&def, &text, None).unwrap();
        assert!(store.set_active(id, false).unwrap());
        assert!(!store.set_active(id, false).unwrap(), "already off");
        store.upsert_draft(&def, &text, None).unwrap();
        assert!(
            !store.definition(id).unwrap().active,
            "re-import keeps the toggle"
        );
        let (off, off_text) = workflow("w", "e", false, false);
        store.upsert_draft(&off, &off_text, None).unwrap();
        let (on, on_text) = workflow("w", "e", true, false);
        store.upsert_draft(&on, &on_text, None).unwrap();
        assert!(
            store.definition(id).unwrap().active,
            "the file switched it on"
        );
    }

    #[test]
    fn definitions_are_listed_workflows_first_as_on_sqlite() {
        let Some((_db, store)) =
            scratch_store("pg_definitions_are_listed_workflows_first_as_on_sqlite")
        else {
            return;
        };
        let (_dir, sqlite) = crate::store::testing::temp_store();
        let fill = |store: &Store| -> i64 {
            for (name, on) in [("b", "x"), ("a", "y"), ("Z", "x"), ("c", "Zx")] {
                let (def, text) = workflow(name, on, true, false);
                store.upsert_draft(&def, &text, None).unwrap();
            }
            let (get, get_text) = endpoint("GET", "/ping");
            let (e_id, outcome) = store.upsert_draft(&get, &get_text, None).unwrap();
            assert_eq!(outcome, ImportOutcome::Created);
            let (post, post_text) = endpoint("POST", "/orders");
            store.upsert_draft(&post, &post_text, None).unwrap();
            e_id
        };
        let e_id = fill(&store);
        fill(&sqlite);
        let listed = |store: &Store| -> Vec<(DefinitionKind, String, Option<String>)> {
            store
                .list_definitions()
                .unwrap()
                .into_iter()
                .map(|r| (r.kind, r.name, r.on_event))
                .collect()
        };
        let names: Vec<String> = listed(&store).into_iter().map(|r| r.1).collect();
        assert_eq!(
            names,
            ["c", "Z", "b", "a", "GET /ping", "POST /orders"],
            "by bytes, as SQLite orders them"
        );
        assert_eq!(listed(&store), listed(&sqlite));
        let e = store.definition(e_id).unwrap();
        assert_eq!(e.kind, DefinitionKind::Endpoint);
        assert_eq!(e.method.as_deref(), Some("GET"));
        assert_eq!(e.path.as_deref(), Some("/ping"));
        assert_eq!(e.on_event, None);
        assert!(e.active);
    }

    #[test]
    fn two_servers_importing_a_new_definition_create_it_once() {
        let Some((db, store)) =
            scratch_store("pg_two_servers_importing_a_new_definition_create_it_once")
        else {
            return;
        };
        let barrier = Arc::new(Barrier::new(2));
        let importers: Vec<_> = (0..2)
            .map(|_| {
                let url = db.url().to_string();
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    let mut store = Store::open(Path::new(&url)).unwrap();
                    let (def, text) = workflow("w", "e", true, false);
                    store
                        .transaction(|s| {
                            barrier.wait();
                            let imported = s.upsert_draft(&def, &text, None)?;
                            std::thread::sleep(std::time::Duration::from_millis(100));
                            Ok(imported)
                        })
                        .unwrap()
                })
            })
            .collect();
        let mut outcomes: Vec<(i64, ImportOutcome)> =
            importers.into_iter().map(|t| t.join().unwrap()).collect();
        outcomes.sort_by_key(|(_, o)| *o != ImportOutcome::Created);
        assert_eq!(outcomes[0].1, ImportOutcome::Created);
        assert_eq!(outcomes[1].1, ImportOutcome::Unchanged);
        assert_eq!(outcomes[0].0, outcomes[1].0);
        assert_eq!(store.list_definitions().unwrap().len(), 1);
    }

    #[test]
    fn listeners_follow_the_live_version_and_the_generation() {
        let Some((db, store)) =
            scratch_store("pg_listeners_follow_the_live_version_and_the_generation")
        else {
            return;
        };
        let g0 = store.generation().unwrap();
        let (a, at) = workflow("a", "e", true, false);
        let (b, bt) = workflow("b", "e", false, false);
        let (a_id, _) = store.upsert_draft(&a, &at, None).unwrap();
        store.upsert_draft(&b, &bt, None).unwrap();
        assert!(store.generation().unwrap() > g0);
        assert_eq!(store.live_listeners("e").unwrap().len(), 2);
        let g1 = store.generation().unwrap();
        store.deploy(a_id).unwrap();
        assert!(store.generation().unwrap() > g1, "a deploy moves it");
        let l = store.live_listeners("e").unwrap();
        assert_eq!(l.len(), 2);
        assert!(l[0].deployed && l[0].active && l[0].version == Some(1));
        assert_eq!(&*l[0].name, "a");
        assert!(!l[1].deployed && !l[1].active && l[1].version.is_none());
        // the draft moves to another event: the live version still listens to "e"
        let (a2, a2t) = workflow("a", "f", true, false);
        store.upsert_draft(&a2, &a2t, None).unwrap();
        assert_eq!(store.live_listeners("e").unwrap().len(), 2);
        let f = store.live_listeners("f").unwrap();
        assert_eq!(f.len(), 1);
        assert!(!f[0].deployed);
        let drafts = store.draft_listeners("f").unwrap();
        assert_eq!(drafts.len(), 1);
        assert!(drafts[0].deployed && drafts[0].version.is_none());
        assert!(store.draft_listeners("e").unwrap().len() == 1);

        // a change made by another connection is seen through the cache
        let cached = store.live_listeners("e").unwrap();
        let other = Store::open(Path::new(db.url())).unwrap();
        other.set_active(a_id, false).unwrap();
        let fresh = store.live_listeners("e").unwrap();
        assert!(cached[0].active && !fresh[0].active);
        // and nothing changed: the same listeners, from the cache
        let again = store.live_listeners("e").unwrap();
        assert!(std::sync::Arc::ptr_eq(&fresh, &again));
    }

    /// Two servers deploying the same draft at once: one deploys v1, the other waits for
    /// it and finds v1 live (without the lock both would take number 1, and one would fail).
    #[test]
    fn racing_deploys_of_one_draft_make_one_version() {
        let Some((db, store)) = scratch_store("pg_racing_deploys_of_one_draft_make_one_version")
        else {
            return;
        };
        let (def, text) = workflow("w", "e", true, false);
        let (id, _) = store.upsert_draft(&def, &text, None).unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let deployers: Vec<_> = (0..2)
            .map(|_| {
                let url = db.url().to_string();
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    let mut store = Store::open(Path::new(&url)).unwrap();
                    store
                        .transaction(|s| {
                            barrier.wait();
                            let deployed = s.deploy(id)?;
                            // hold the transaction open: the other deploy is under way
                            std::thread::sleep(std::time::Duration::from_millis(200));
                            Ok(deployed)
                        })
                        .unwrap()
                })
            })
            .collect();
        let mut results: Vec<(i64, bool)> =
            deployers.into_iter().map(|t| t.join().unwrap()).collect();
        results.sort();
        assert_eq!(results, [(1, false), (1, true)]);
        let versions = store.versions_of(id).unwrap();
        assert_eq!(versions.len(), 1);
        assert_eq!(store.definition(id).unwrap().live_version, Some(1));
    }

    /// Two servers each importing a draft of the same definition and deploying it at once:
    /// versions 1 and 2, each the draft of the server that deployed it, no number twice.
    #[test]
    fn racing_deploys_of_two_drafts_make_versions_1_and_2() {
        let Some((db, store)) =
            scratch_store("pg_racing_deploys_of_two_drafts_make_versions_1_and_2")
        else {
            return;
        };
        let (def, text) = workflow("w", "e", true, false);
        let (id, _) = store.upsert_draft(&def, &text, None).unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let deployers: Vec<_> = [false, true]
            .into_iter()
            .map(|extra| {
                let url = db.url().to_string();
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    let mut store = Store::open(Path::new(&url)).unwrap();
                    let (def, text) = workflow("w", "f", true, extra);
                    let body = def.canonical_json().to_string();
                    let (v, new) = store
                        .transaction(|s| {
                            barrier.wait();
                            s.upsert_draft(&def, &text, None)?;
                            let deployed = s.deploy(id)?;
                            std::thread::sleep(std::time::Duration::from_millis(100));
                            Ok(deployed)
                        })
                        .unwrap();
                    assert!(new);
                    (v, body)
                })
            })
            .collect();
        let mut results: Vec<(i64, String)> =
            deployers.into_iter().map(|t| t.join().unwrap()).collect();
        results.sort();
        let versions = store.versions_of(id).unwrap();
        assert_eq!(
            versions.iter().map(|v| v.version).collect::<Vec<_>>(),
            [1, 2]
        );
        for (v, body) in &results {
            assert_eq!(&store.definition_body(id, Some(*v)).unwrap(), body);
        }
        assert_eq!(store.definition(id).unwrap().live_version, Some(2));
    }

    /// A column whose type was changed by hand (not by a migration) makes a read of it an
    /// error that names the column, never a panic.
    #[test]
    fn a_column_of_another_type_is_an_error_not_a_panic() {
        let Some((_db, store)) =
            scratch_store("pg_a_column_of_another_type_is_an_error_not_a_panic")
        else {
            return;
        };
        let (def, text) = workflow("w", "e", true, false);
        let (id, _) = store.upsert_draft(&def, &text, None).unwrap();
        store
            .postgres()
            .unwrap()
            .batch(
                "ALTER TABLE definitions ALTER COLUMN active DROP DEFAULT,
                    ALTER COLUMN active TYPE TEXT USING active::text",
            )
            .unwrap();
        let e = store
            .list_definitions()
            .expect_err("active (column 6) now holds text")
            .to_string();
        assert!(e.contains("column 6 of a stored row cannot be read"), "{e}");
        assert!(
            e.contains("the Postgres type `text`"),
            "the error names the type found: {e}"
        );
        assert!(store.definition(id).is_err());
        assert!(store.postgres().unwrap().read_draft_listeners("e").is_err());
    }
}
