//! Gathering what a test run needs: the catalog, the test files (read and checked against
//! the project; those with faults set apart) and the snapshots, from a project folder or
//! from a store.

use super::catalog::Catalog;
use super::check::check_suite;
use super::runner::SuiteFile;
use crate::model::project::{SNAPSHOTS_DIR, TEST_SUFFIX, TESTS_DIR};
use crate::model::{Diagnostic, LoadedProject, parse_suite};
use crate::store::Store;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Everything a test run needs.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// What the tests run against.
    pub catalog: Catalog,
    /// Test files without faults.
    pub files: Vec<SuiteFile>,
    /// Faults of the others.
    pub invalid: Vec<Diagnostic>,
    /// Snapshot texts by path.
    pub snapshots: BTreeMap<PathBuf, String>,
}

/// From a project folder as loaded: its files are the drafts; `store` gives the live
/// versions when there is one.
pub fn from_project(project: &LoadedProject, store: Option<&Store>) -> Loaded {
    let catalog = Catalog::from_project(project, store);
    let mut loaded = Loaded {
        snapshots: project
            .snapshots
            .iter()
            .map(|s| (s.path.clone(), s.text.clone()))
            .collect(),
        ..Loaded::default()
    };
    let root = project.root.clone().unwrap_or_default();
    for t in &project.tests {
        loaded.invalid.extend(t.diagnostics.iter().cloned());
        if let Some(suite) = &t.suite {
            let faults = check_suite(suite, &root.join(&t.path), &t.text, &catalog);
            if faults.is_empty() {
                loaded.files.push(SuiteFile {
                    path: t.path.clone(),
                    suite: suite.clone(),
                });
            }
            loaded.invalid.extend(faults);
        }
    }
    loaded.catalog = catalog;
    loaded
}

/// From a store: its drafts, live versions, and the test files and snapshots it keeps.
pub fn from_store(store: &Store) -> crate::store::Result<Loaded> {
    let catalog = Catalog::from_store(store)?;
    let mut loaded = Loaded::default();
    for kept in store.kept_files(&format!("{TESTS_DIR}/"))? {
        let path = kept.path.to_string_lossy().into_owned();
        if path.starts_with(&format!("{SNAPSHOTS_DIR}/")) {
            loaded.snapshots.insert(kept.path, kept.text);
            continue;
        }
        if !path.ends_with(TEST_SUFFIX) {
            continue;
        }
        let parsed = parse_suite(&kept.text, &kept.path);
        loaded.invalid.extend(parsed.diagnostics);
        if let Some(suite) = parsed.suite {
            let faults = check_suite(&suite, &kept.path, &kept.text, &catalog);
            if faults.is_empty() {
                loaded.files.push(SuiteFile {
                    path: kept.path,
                    suite,
                });
            }
            loaded.invalid.extend(faults);
        }
    }
    loaded.catalog = catalog;
    Ok(loaded)
}

/// Which test files a run takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Those that concern a workflow or endpoint ([`concerning`]).
    Concerning(String),
    /// These files, by path relative to the project, and those that concern these
    /// workflows or endpoints (what the dev loop saw change).
    Changed {
        /// Test files.
        files: Vec<PathBuf>,
        /// Workflows or endpoints.
        keys: Vec<String>,
    },
}

impl Scope {
    /// The test files of `loaded` in this scope, each once.
    pub fn pick(&self, loaded: &Loaded) -> Vec<SuiteFile> {
        let mut out: Vec<SuiteFile> = Vec::new();
        let mut add = |f: &SuiteFile| {
            if !out.iter().any(|o| o.path == f.path) {
                out.push(f.clone());
            }
        };
        match self {
            Scope::Concerning(key) => concerning(loaded, key).into_iter().for_each(add),
            Scope::Changed { files, keys } => {
                for f in loaded.files.iter().filter(|f| files.contains(&f.path)) {
                    add(f);
                }
                for key in keys {
                    concerning(loaded, key).into_iter().for_each(&mut add);
                }
            }
        }
        out
    }
}

/// The test files of `loaded` that concern `key` (a workflow name or `METHOD /path`): those
/// that test it, and those of the event it listens to.
pub fn concerning<'a>(loaded: &'a Loaded, key: &str) -> Vec<&'a SuiteFile> {
    use crate::model::SuiteTarget;
    let on = loaded.catalog.entries.get(key).and_then(|e| e.on.clone());
    loaded
        .files
        .iter()
        .filter(|f| match &f.suite.target {
            SuiteTarget::Workflow(name) => name == key,
            SuiteTarget::Event(event) => on.as_deref() == Some(event.as_str()),
            SuiteTarget::Endpoint { method, path } => {
                crate::model::endpoint_key(method, path) == key
            }
        })
        .collect()
}

/// Keep written snapshots in the store, and in the folder its project was imported from
/// when that is still there.
pub fn keep_in_store(store: &Store, snapshots: &[crate::model::KeptFile]) -> Result<(), String> {
    store.keep_files(snapshots).map_err(|e| e.to_string())?;
    let root = store
        .project()
        .map_err(|e| e.to_string())?
        .root
        .map(PathBuf::from)
        .filter(|r| r.is_dir());
    if let Some(root) = root {
        for s in snapshots {
            let path = root.join(&s.path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            }
            std::fs::write(&path, &s.text)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// Whether `path` (relative to a project) is a test file.
pub fn is_test_file(path: &Path) -> bool {
    path.starts_with(TESTS_DIR) && path.to_string_lossy().ends_with(TEST_SUFFIX)
}
