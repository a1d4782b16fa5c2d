//! Workflows and endpoints: drafts, deployed versions, the active toggle, listeners of an event.

use super::prepared::Prepared;
use super::{Result, Store, StoreError};
use crate::model::{Definition, DefinitionKind, Timestamp};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// A workflow or endpoint as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DefinitionRow {
    /// Store id.
    pub id: i64,
    /// Workflow or endpoint.
    pub kind: DefinitionKind,
    /// Workflow name or `METHOD /path`.
    pub name: String,
    /// The draft's event (workflows).
    pub on_event: Option<String>,
    /// HTTP method (endpoints).
    pub method: Option<String>,
    /// Route (endpoints).
    pub path: Option<String>,
    /// The toggle.
    pub active: bool,
    /// The deployed version, if any.
    pub live_version: Option<i64>,
    /// Whether the draft differs from the live version (or was never deployed).
    pub draft_changed: bool,
    /// The file it was imported from, relative to the project.
    pub source_file: Option<String>,
    /// When the draft last changed.
    pub updated_at: Timestamp,
}

/// One deployed version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionRow {
    /// Its number.
    pub version: i64,
    /// When it was deployed.
    pub deployed_at: Timestamp,
    /// Canonical JSON.
    #[serde(skip)]
    pub body: String,
}

/// What importing one definition did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportOutcome {
    /// It was new.
    Created,
    /// Its draft changed.
    Changed,
    /// Nothing changed.
    Unchanged,
}

/// A workflow that listens to an event, with what the dispatcher needs to decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Store id.
    pub id: i64,
    /// Workflow name (shared: every run queued for it points at this one).
    pub name: Arc<str>,
    /// The toggle.
    pub active: bool,
    /// The version that would run (`None`: the draft, or not deployed in live dispatch).
    pub version: Option<i64>,
    /// Whether a version listening to this event is deployed (always true for draft dispatch).
    pub deployed: bool,
    /// The running version's `allow_self_trigger`.
    pub allow_self_trigger: bool,
}

/// Each event's listeners as last read, with the generation of definitions they were read at
/// (the `generation` table, bumped by triggers on every change to definitions and versions):
/// live listeners first, drafts' second, each by event name (looked up without a copy of it).
#[derive(Debug, Default)]
pub(crate) struct ListenerCache(RefCell<[HashMap<String, (i64, Listeners)>; 2]>);

/// An event's listeners, shared between the cache and the dispatcher.
pub(crate) type Listeners = Arc<[Listener]>;

const ROW_COLUMNS: &str = "d.id, d.kind, d.name, d.on_event, d.method, d.path, d.active, d.live_version,
    (d.live_version IS NULL OR d.draft IS NOT (SELECT body FROM versions v WHERE v.definition_id = d.id AND v.version = d.live_version)),
    d.source_file, d.updated_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DefinitionRow> {
    let kind: String = r.get(1)?;
    Ok(DefinitionRow {
        id: r.get(0)?,
        kind: DefinitionKind::parse(&kind).unwrap_or(DefinitionKind::Workflow),
        name: r.get(2)?,
        on_event: r.get(3)?,
        method: r.get(4)?,
        path: r.get(5)?,
        active: r.get(6)?,
        live_version: r.get(7)?,
        draft_changed: r.get(8)?,
        source_file: r.get(9)?,
        updated_at: Timestamp(r.get(10)?),
    })
}

/// What a workflow's draft says of its event, self-triggering and toggle (endpoints: none).
pub(super) fn workflow_fields(def: &Definition) -> (Option<&str>, bool, Option<bool>) {
    match def {
        Definition::Workflow(w) => (Some(w.on.as_str()), w.allow_self_trigger, Some(w.active)),
        Definition::Endpoint(_) => (None, false, None),
    }
}

impl Store {
    /// Store `def` as the draft of its workflow or endpoint, creating it when new.
    ///
    /// The `active` toggle follows the file on the first import and whenever the file's
    /// value changes; otherwise the store's toggle (set with `toggle` or in the studio) wins.
    pub fn upsert_draft(
        &self,
        def: &Definition,
        source: &str,
        file: Option<&str>,
    ) -> Result<(i64, ImportOutcome)> {
        if let Some(pg) = self.postgres() {
            return pg.upsert_draft(def, source, file);
        }
        let kind = def.kind().as_str();
        let name = def.key();
        let canonical = def.canonical_json().to_string();
        let (on_event, allow_self, file_active) = workflow_fields(def);
        let (method, path) = match def {
            Definition::Endpoint(e) => (Some(e.method.as_str()), Some(e.path.as_str())),
            Definition::Workflow(_) => (None, None),
        };
        let now = Timestamp::now().0;
        let existing: Option<(i64, String, String, Option<bool>)> = self
            .conn()
            .prepare_cached(
                "SELECT id, draft, draft_source, file_active FROM definitions WHERE kind = ?1 AND name = ?2",
            )?
            .query_row(params![kind, name], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        match existing {
            None => {
                self.conn()
                    .prepare_cached(
                        "INSERT INTO definitions (kind, name, on_event, method, path, allow_self_trigger, active,
                            file_active, draft, draft_source, source_file, created_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
                    )?
                    .execute(params![
                        kind,
                        name,
                        on_event,
                        method,
                        path,
                        allow_self,
                        file_active.unwrap_or(true),
                        file_active,
                        canonical,
                        source,
                        file,
                        now
                    ])?;
                Ok((self.conn().last_insert_rowid(), ImportOutcome::Created))
            }
            Some((id, draft, draft_source, previous_file_active)) => {
                let active_changed_in_file =
                    file_active.is_some() && file_active != previous_file_active;
                if draft == canonical && draft_source == source && !active_changed_in_file {
                    return Ok((id, ImportOutcome::Unchanged));
                }
                self.conn()
                    .prepare_cached(
                        "UPDATE definitions SET on_event = ?2, method = ?3, path = ?4, allow_self_trigger = ?5,
                            draft = ?6, draft_source = ?7, source_file = coalesce(?8, source_file),
                            file_active = ?9, active = CASE WHEN ?10 THEN ?9 ELSE active END,
                            updated_at = CASE WHEN draft IS NOT ?6 THEN ?11 ELSE updated_at END
                         WHERE id = ?1",
                    )?
                    .execute(params![
                        id,
                        on_event,
                        method,
                        path,
                        allow_self,
                        canonical,
                        source,
                        file,
                        file_active,
                        active_changed_in_file,
                        now
                    ])?;
                let outcome = if draft == canonical {
                    ImportOutcome::Unchanged
                } else {
                    ImportOutcome::Changed
                };
                Ok((id, outcome))
            }
        }
    }

    /// Every workflow and endpoint, workflows first, by name.
    pub fn list_definitions(&self) -> Result<Vec<DefinitionRow>> {
        if let Some(pg) = self.postgres() {
            return pg.list_definitions();
        }
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM definitions d ORDER BY d.kind DESC, d.on_event, d.name"
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt
            .query_map([], row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// One workflow (by name) or endpoint (by `METHOD /path`).
    pub fn find_definition(
        &self,
        kind: DefinitionKind,
        name: &str,
    ) -> Result<Option<DefinitionRow>> {
        if let Some(pg) = self.postgres() {
            return pg.find_definition(kind, name);
        }
        let sql =
            format!("SELECT {ROW_COLUMNS} FROM definitions d WHERE d.kind = ?1 AND d.name = ?2");
        Ok(self
            .conn()
            .prepare_cached(&sql)?
            .query_row(params![kind.as_str(), name], row)
            .optional()?)
    }

    /// One definition by id.
    pub fn definition(&self, id: i64) -> Result<DefinitionRow> {
        if let Some(pg) = self.postgres() {
            return pg.definition(id);
        }
        let sql = format!("SELECT {ROW_COLUMNS} FROM definitions d WHERE d.id = ?1");
        self.conn()
            .prepare_cached(&sql)?
            .query_row(params![id], row)
            .optional()?
            .ok_or_else(|| StoreError::NotFound {
                what: "definition",
                name: id.to_string(),
            })
    }

    /// Switch a workflow on or off; returns whether it changed.
    pub fn set_active(&self, id: i64, active: bool) -> Result<bool> {
        if let Some(pg) = self.postgres() {
            return pg.set_active(id, active);
        }
        let n = self
            .conn()
            .prepare_cached(
                "UPDATE definitions SET active = ?2 WHERE id = ?1 AND active IS NOT ?2",
            )?
            .execute(params![id, active])?;
        Ok(n > 0)
    }

    /// Publish the draft as a new live version (nothing new when it equals the live one).
    /// Returns the live version and whether it is new.
    pub fn deploy(&self, id: i64) -> Result<(i64, bool)> {
        if let Some(pg) = self.postgres() {
            return pg.deploy(id);
        }
        let (draft, source, on_event, allow_self, live): (String, String, Option<String>, bool, Option<i64>) = self
            .conn()
            .prepare_cached(
                "SELECT draft, draft_source, on_event, allow_self_trigger, live_version FROM definitions WHERE id = ?1",
            )?
            .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .optional()?
            .ok_or_else(|| StoreError::NotFound {
                what: "definition",
                name: id.to_string(),
            })?;
        if let Some(live) = live {
            let body: String = self
                .conn()
                .prepare_cached(
                    "SELECT body FROM versions WHERE definition_id = ?1 AND version = ?2",
                )?
                .query_row(params![id, live], |r| r.get(0))?;
            if body == draft {
                return Ok((live, false));
            }
        }
        let next: i64 = self
            .conn()
            .prepare_cached(
                "SELECT coalesce(max(version), 0) + 1 FROM versions WHERE definition_id = ?1",
            )?
            .query_row(params![id], |r| r.get(0))?;
        self.conn()
            .prepare_cached(
                "INSERT INTO versions (definition_id, version, body, source, on_event, allow_self_trigger, deployed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![id, next, draft, source, on_event, allow_self, Timestamp::now().0])?;
        self.conn()
            .prepare_cached("UPDATE definitions SET live_version = ?2 WHERE id = ?1")?
            .execute(params![id, next])?;
        Ok((next, true))
    }

    /// Every deployed version of a definition, oldest first.
    pub fn versions_of(&self, id: i64) -> Result<Vec<VersionRow>> {
        if let Some(pg) = self.postgres() {
            return pg.versions_of(id);
        }
        let mut stmt = self.conn().prepare_cached(
            "SELECT version, deployed_at, body FROM versions WHERE definition_id = ?1 ORDER BY version",
        )?;
        let rows = stmt
            .query_map(params![id], |r| {
                Ok(VersionRow {
                    version: r.get(0)?,
                    deployed_at: Timestamp(r.get(1)?),
                    body: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Make an earlier version live again (the draft is left as it is).
    pub fn set_live_version(&self, id: i64, version: i64) -> Result<()> {
        if let Some(pg) = self.postgres() {
            return pg.set_live_version(id, version);
        }
        let exists: bool = self
            .conn()
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM versions WHERE definition_id = ?1 AND version = ?2)",
            )?
            .query_row(params![id, version], |r| r.get(0))?;
        if !exists {
            return Err(StoreError::NotFound {
                what: "version",
                name: format!("v{version}"),
            });
        }
        self.conn()
            .prepare_cached("UPDATE definitions SET live_version = ?2 WHERE id = ?1")?
            .execute(params![id, version])?;
        Ok(())
    }

    /// Canonical JSON of a version (`None`: the draft).
    pub fn definition_body(&self, id: i64, version: Option<i64>) -> Result<String> {
        if let Some(pg) = self.postgres() {
            return pg.definition_body(id, version);
        }
        self.version_text(id, version, "draft", "body")
    }

    /// The file text of a version (`None`: the draft), as it was imported.
    pub fn definition_source(&self, id: i64, version: Option<i64>) -> Result<String> {
        if let Some(pg) = self.postgres() {
            return pg.definition_source(id, version);
        }
        self.version_text(id, version, "draft_source", "source")
    }

    /// A text column of the draft (`definitions`) or of a version (`versions`).
    fn version_text(
        &self,
        id: i64,
        version: Option<i64>,
        draft_column: &str,
        version_column: &str,
    ) -> Result<String> {
        let found: Option<String> = match version {
            None => self
                .conn()
                .prepare_cached(&format!("SELECT {draft_column} FROM definitions WHERE id = ?1"))?
                .query_row(params![id], |r| r.get(0))
                .optional()?,
            Some(v) => self
                .conn()
                .prepare_cached(&format!(
                    "SELECT {version_column} FROM versions WHERE definition_id = ?1 AND version = ?2"
                ))?
                .query_row(params![id, v], |r| r.get(0))
                .optional()?,
        };
        found.ok_or_else(|| StoreError::NotFound {
            what: "version",
            name: match version {
                Some(v) => format!("definition {id} v{v}"),
                None => format!("draft of definition {id}"),
            },
        })
    }

    /// Workflows that a live event named `event` concerns: those whose live version listens
    /// to it, and those whose draft listens but which have no such version deployed.
    pub fn live_listeners(&self, event: &str) -> Result<Listeners> {
        cached_listeners(self, event, false)
    }

    /// Drop the listeners kept in memory (after a rollback: they may have been read inside
    /// it).
    pub(crate) fn forget_cached(&self) {
        for cache in self.listeners.0.borrow_mut().iter_mut() {
            cache.clear();
        }
    }

    /// The definitions generation: it changes whenever a definition or version does.
    pub fn generation(&self) -> Result<i64> {
        generation(self)
    }

    fn read_live_listeners(&self, event: &str) -> Result<Vec<Listener>> {
        if let Some(pg) = self.postgres() {
            return pg.read_live_listeners(event);
        }
        let mut stmt = self.conn().prepare_cached(
            "SELECT d.id, d.name, d.active, d.live_version, 1, v.allow_self_trigger
               FROM definitions d JOIN versions v ON v.definition_id = d.id AND v.version = d.live_version
              WHERE v.on_event = ?1
             UNION ALL
             SELECT d.id, d.name, d.active, NULL, 0, d.allow_self_trigger
               FROM definitions d
              WHERE d.kind = 'workflow' AND d.on_event = ?1
                AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.definition_id = d.id
                                AND v.version = d.live_version AND v.on_event = ?1)
             ORDER BY 2",
        )?;
        let rows = stmt
            .query_map(params![event], |r| {
                Ok(Listener {
                    id: r.get(0)?,
                    name: r.get::<_, String>(1)?.into(),
                    active: r.get(2)?,
                    version: r.get(3)?,
                    deployed: r.get(4)?,
                    allow_self_trigger: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Workflows whose draft listens to `event` (for `emit --draft`).
    pub fn draft_listeners(&self, event: &str) -> Result<Listeners> {
        cached_listeners(self, event, true)
    }

    fn read_draft_listeners(&self, event: &str) -> Result<Vec<Listener>> {
        if let Some(pg) = self.postgres() {
            return pg.read_draft_listeners(event);
        }
        let mut stmt = self.conn().prepare_cached(
            "SELECT id, name, active, allow_self_trigger FROM definitions
              WHERE kind = 'workflow' AND on_event = ?1 ORDER BY name",
        )?;
        let rows = stmt
            .query_map(params![event], |r| {
                Ok(Listener {
                    id: r.get(0)?,
                    name: r.get::<_, String>(1)?.into(),
                    active: r.get(2)?,
                    version: None,
                    deployed: true,
                    allow_self_trigger: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

/// The SQL of [`generation`] (a `static`: held statements are found by its address).
static GENERATION: &str = "SELECT n FROM generation WHERE id = 1";

/// [`Store::generation`] with statements from `db` (on PostgreSQL, the `generation` row
/// that the triggers on definitions and versions bump).
fn generation(db: &impl Prepared) -> Result<i64> {
    if let Some(pg) = db.store().postgres() {
        return pg.generation();
    }
    Ok(db.with_statement(GENERATION, |stmt| stmt.query_row([], |r| r.get(0)))?)
}

/// [`Store::live_listeners`] (or [`Store::draft_listeners`] with `draft`) with statements from
/// `db`: read again only when the definitions' generation has moved (on either room: the
/// generation and the listeners are read from the store's own room).
pub(crate) fn cached_listeners(db: &impl Prepared, event: &str, draft: bool) -> Result<Listeners> {
    let store = db.store();
    let generation = generation(db)?;
    let slot = usize::from(draft);
    if let Some((seen, listeners)) = store.listeners.0.borrow()[slot].get(event)
        && *seen == generation
    {
        return Ok(Arc::clone(listeners));
    }
    let listeners: Listeners = if draft {
        store.read_draft_listeners(event)?
    } else {
        store.read_live_listeners(event)?
    }
    .into();
    let mut caches = store.listeners.0.borrow_mut();
    let cache = &mut caches[slot];
    if cache.len() > 1024 {
        cache.clear();
    }
    cache.insert(event.to_string(), (generation, Arc::clone(&listeners)));
    Ok(listeners)
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::model::{DefinitionKind, parse_definition};
    use crate::store::testing::temp_store;
    use std::path::Path;

    /// A workflow `name` on event `on` (with a second step when `extra_step`), and its text;
    /// the PostgreSQL room's tests use it too.
    pub(crate) fn workflow(
        name: &str,
        on: &str,
        active: bool,
        extra_step: bool,
    ) -> (crate::model::Definition, String) {
        let steps = if extra_step {
            r#"[{"id": "a", "action": "log", "message": "x"}, {"id": "b", "action": "log", "message": "y"}]"#
        } else {
            r#"[{"id": "a", "action": "log", "message": "x"}]"#
        };
        let text =
            format!(r#"{{"name": "{name}", "on": "{on}", "active": {active}, "steps": {steps}}}"#);
        let parsed = parse_definition(&text, Path::new("w.json"), Some(DefinitionKind::Workflow));
        (parsed.definition.unwrap(), text)
    }

    #[test]
    fn drafts_deploys_and_draft_changed() {
        let (_dir, store) = temp_store();
        let (def, text) = workflow("w", "e", true, false);
        let (id, outcome) = store
            .upsert_draft(&def, &text, Some("workflows/w.json"))
            .unwrap();
        assert_eq!(outcome, super::ImportOutcome::Created);
        let row = store
            .find_definition(DefinitionKind::Workflow, "w")
            .unwrap()
            .unwrap();
        assert!(row.draft_changed);
        assert_eq!(row.live_version, None);
        assert_eq!(store.deploy(id).unwrap(), (1, true));
        assert_eq!(store.deploy(id).unwrap(), (1, false));
        assert!(!store.definition(id).unwrap().draft_changed);
        let (_, outcome) = store.upsert_draft(&def, &text, None).unwrap();
        assert_eq!(outcome, super::ImportOutcome::Unchanged);
        let (def2, text2) = workflow("w", "e", true, true);
        assert_eq!(
            store.upsert_draft(&def2, &text2, None).unwrap().1,
            super::ImportOutcome::Changed
        );
        assert!(store.definition(id).unwrap().draft_changed);
        assert_eq!(store.deploy(id).unwrap(), (2, true));
        assert!(
            store
                .definition_body(id, Some(1))
                .unwrap()
                .contains("\"a\"")
        );
        assert!(store.definition_source(id, None).unwrap().contains("\"b\""));
    }

    #[test]
    fn toggle_survives_reimport_unless_the_file_changes_it() {
        let (_dir, store) = temp_store();
        let (def, text) = workflow("w", "e", true, false);
        let (id, _) = store.upsert_draft(&def, &text, None).unwrap();
        assert!(store.set_active(id, false).unwrap());
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
    fn listeners_follow_the_live_version() {
        let (_dir, store) = temp_store();
        let (a, at) = workflow("a", "e", true, false);
        let (b, bt) = workflow("b", "e", false, false);
        let (a_id, _) = store.upsert_draft(&a, &at, None).unwrap();
        store.upsert_draft(&b, &bt, None).unwrap();
        store.deploy(a_id).unwrap();
        let l = store.live_listeners("e").unwrap();
        assert_eq!(l.len(), 2);
        assert!(l[0].deployed && l[0].active && l[0].version == Some(1));
        assert!(!l[1].deployed && !l[1].active);
        // the draft moves to another event: the live version still listens to "e"
        let (a2, a2t) = workflow("a", "f", true, false);
        store.upsert_draft(&a2, &a2t, None).unwrap();
        assert_eq!(store.live_listeners("e").unwrap().len(), 2);
        let f = store.live_listeners("f").unwrap();
        assert_eq!(f.len(), 1);
        assert!(!f[0].deployed);
        assert_eq!(store.draft_listeners("f").unwrap().len(), 1);
    }
}
