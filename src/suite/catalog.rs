//! What tests run against: the project's workflows and endpoints compiled (the drafts, and
//! the deployed versions when a store has them), who listens to which event, the project's
//! settings and `schema.sql`. Built from a project folder or from a store.

use crate::engine::program::{self, Origin, Program};
use crate::model::{
    Definition, DefinitionKind, LoadedProject, ProjectConfig, parse_definition,
    test_suite::VersionChoice,
};
use crate::store::Store;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// One workflow or endpoint: its programs (or why there is none) and what dispatch needs.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Workflow name or `METHOD /path`.
    pub key: String,
    /// Workflow or endpoint.
    pub kind: DefinitionKind,
    /// The event it listens to (workflows).
    pub on: Option<String>,
    /// Switched on, as its file declares.
    pub active: bool,
    /// May run again for an event its own run led to.
    pub allow_self_trigger: bool,
    /// The draft compiled, or its faults.
    pub draft: Result<Arc<Program>, String>,
    /// The live version compiled (`None`: never deployed, or no store to ask).
    pub live: Option<Result<Arc<Program>, String>>,
    /// Step ids with their actions, in file order.
    pub steps: Vec<(String, &'static str)>,
}

impl Entry {
    /// The program a case runs: the draft or the live version.
    pub fn program(&self, version: VersionChoice) -> Result<Arc<Program>, String> {
        match version {
            VersionChoice::Draft => self.draft.clone(),
            VersionChoice::Live => match &self.live {
                Some(p) => p.clone(),
                None => Err(format!(
                    "{} has no live version (deploy it, or test the draft)",
                    self.key
                )),
            },
        }
    }
}

/// Everything tests run against.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Workflows and endpoints by key.
    pub entries: BTreeMap<String, Entry>,
    /// The project's settings.
    pub config: ProjectConfig,
    /// `schema.sql`.
    pub schema: Option<String>,
}

impl Catalog {
    /// From a project folder as loaded (the files are the drafts); the deployed versions
    /// from `store` when one is given.
    pub fn from_project(project: &LoadedProject, store: Option<&Store>) -> Catalog {
        let mut catalog = Catalog {
            config: project.config.clone().unwrap_or_default(),
            schema: project.schema.clone(),
            entries: BTreeMap::new(),
        };
        for file in &project.files {
            let Some(def) = &file.definition else {
                continue;
            };
            let draft = compile(def, &file.path, Some(&file.text));
            catalog.add(def, draft);
        }
        if let Some(store) = store {
            catalog.add_live(store);
        }
        catalog
    }

    /// From a store: its drafts, its deployed versions, its project settings.
    pub fn from_store(store: &Store) -> crate::store::Result<Catalog> {
        let project = store.project()?;
        let mut catalog = Catalog {
            config: project.config,
            schema: project.schema,
            entries: BTreeMap::new(),
        };
        for row in store.list_definitions()? {
            let text = store.definition_source(row.id, None)?;
            let file = row
                .source_file
                .clone()
                .unwrap_or_else(|| format!("{} {}", row.kind, row.name));
            let parsed = parse_definition(&text, Path::new(&file), Some(row.kind));
            let Some(def) = parsed.definition else {
                continue;
            };
            let draft = compile(&def, Path::new(&file), Some(&text));
            catalog.add(&def, draft);
        }
        catalog.add_live(store);
        Ok(catalog)
    }

    fn add(&mut self, def: &Definition, draft: Result<Arc<Program>, String>) {
        let (on, active, allow_self_trigger) = match def {
            Definition::Workflow(w) => (Some(w.on.clone()), w.active, w.allow_self_trigger),
            Definition::Endpoint(_) => (None, true, false),
        };
        let mut steps = Vec::new();
        collect_steps(def.steps(), &mut steps);
        self.entries.insert(
            def.key(),
            Entry {
                key: def.key(),
                kind: def.kind(),
                on,
                active,
                allow_self_trigger,
                draft,
                live: None,
                steps,
            },
        );
    }

    /// The live versions of the entries, from `store` (silently none when it has none).
    fn add_live(&mut self, store: &Store) {
        let Ok(rows) = store.list_definitions() else {
            return;
        };
        for row in rows {
            let (Some(entry), Some(version)) = (self.entries.get_mut(&row.name), row.live_version)
            else {
                continue;
            };
            let file = format!("{} {} v{version}", row.kind, row.name);
            let live = store
                .definition_source(row.id, Some(version))
                .map_err(|e| e.to_string())
                .and_then(|text| {
                    let parsed = parse_definition(&text, Path::new(&file), Some(row.kind));
                    let def = parsed.definition.ok_or_else(|| {
                        parsed
                            .diagnostics
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; ")
                    })?;
                    compile_version(&def, Path::new(&file), Some(&text), Some(version))
                });
            entry.live = Some(live);
        }
    }

    /// The workflows that listen to `event`, by name.
    pub fn listeners(&self, event: &str) -> impl Iterator<Item = &Entry> {
        self.entries
            .values()
            .filter(move |e| e.kind == DefinitionKind::Workflow && e.on.as_deref() == Some(event))
    }

    /// Every event some workflow listens to.
    pub fn events(&self) -> Vec<&str> {
        let mut events: Vec<&str> = self
            .entries
            .values()
            .filter_map(|e| e.on.as_deref())
            .collect();
        events.sort_unstable();
        events.dedup();
        events
    }

    /// Workflow names, or endpoint keys.
    pub fn keys(&self, kind: DefinitionKind) -> impl Iterator<Item = &str> {
        self.entries
            .values()
            .filter(move |e| e.kind == kind)
            .map(|e| e.key.as_str())
    }
}

/// Compile a draft, its faults as one text.
fn compile(def: &Definition, file: &Path, text: Option<&str>) -> Result<Arc<Program>, String> {
    compile_version(def, file, text, None)
}

/// Compile a definition as `version` (`None`: the draft), its faults as one text.
fn compile_version(
    def: &Definition,
    file: &Path,
    text: Option<&str>,
    version: Option<i64>,
) -> Result<Arc<Program>, String> {
    program::compile(def, Origin { file, text }, 0, version)
        .map(Arc::new)
        .map_err(|d| {
            d.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })
}

/// Every step id with its action, depth first.
fn collect_steps(steps: &[crate::model::Step], out: &mut Vec<(String, &'static str)>) {
    for s in steps {
        out.push((s.id.clone(), s.action.name()));
        for (_, child) in s.action.children() {
            collect_steps(child, out);
        }
    }
}
