//! The dev loop's file watcher: a change to a project's files re-imports the project as
//! drafts within a fraction of a second. A file with faults is reported and left out, so its
//! last good draft stays in place.

use crate::engine::import::{ImportReport, import_project};
use crate::model::project;
use crate::store::Store;
use notify::{RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// How long the watcher waits for more changes before it imports (editors write in bursts).
pub const SETTLE: Duration = Duration::from_millis(100);

/// What an import after a change did.
#[derive(Debug, Clone)]
pub struct Reimport {
    /// The files that changed.
    pub changed: Vec<PathBuf>,
    /// The import, or why it could not run.
    pub result: Result<ImportReport, String>,
}

/// A running watcher; dropping it stops it.
pub struct Handle {
    _watcher: notify::RecommendedWatcher,
}

fn relevant(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with('.') || name.ends_with('~') {
        return false;
    }
    let folder = path
        .parent()
        .and_then(|p| p.file_name())
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_default();
    name == "flowdeck.toml"
        || name == "schema.sql"
        || (name.ends_with(".json") && (folder == "workflows" || folder == "endpoints"))
        // test files (not their snapshots, which test runs write)
        || (name.ends_with(crate::model::project::TEST_SUFFIX) && folder == "tests")
}

/// The tests a change concerns: the test files changed, and the workflows and endpoints
/// whose files changed (by their keys), paths relative to `dir`.
pub fn tests_of(dir: &Path, changed: &[PathBuf]) -> crate::suite::load::Scope {
    let root = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let (mut files, mut keys) = (Vec::new(), Vec::new());
    for p in changed {
        let absolute = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
        let Ok(rel) = absolute.strip_prefix(&root) else {
            continue;
        };
        if crate::suite::load::is_test_file(rel) {
            files.push(rel.to_path_buf());
        } else if let Ok(text) = std::fs::read_to_string(&absolute)
            && let Some(def) = crate::model::parse_definition(&text, rel, None).definition
        {
            keys.push(def.key());
        }
    }
    crate::suite::load::Scope::Changed { files, keys }
}

/// Import `dir` into the store at `db`.
pub fn import(dir: &Path, db: &Path) -> Result<ImportReport, String> {
    let loaded = project::load(dir).map_err(|e| e.to_string())?;
    let mut store = Store::open(db).map_err(|e| e.to_string())?;
    import_project(&mut store, &loaded).map_err(|e| e.to_string())
}

/// Watch `dir`; after each burst of changes, re-import it into `db` and call `report`.
pub fn watch(
    dir: &Path,
    db: &Path,
    report: impl Fn(Reimport) + Send + 'static,
) -> Result<Handle, String> {
    let (tx, rx) = mpsc::channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res
            && !matches!(event.kind, notify::EventKind::Access(_))
        {
            for p in event.paths {
                let _ = tx.send(p);
            }
        }
    })
    .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    watcher
        .watch(dir, RecursiveMode::Recursive)
        .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    let (dir, db) = (dir.to_path_buf(), db.to_path_buf());
    std::thread::Builder::new()
        .name("flowdeck-dev-watch".into())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut changed = vec![first];
                while let Ok(p) = rx.recv_timeout(SETTLE) {
                    changed.push(p);
                }
                changed.retain(|p| relevant(p));
                changed.sort();
                changed.dedup();
                if changed.is_empty() {
                    continue;
                }
                let result = import(&dir, &db);
                report(Reimport { changed, result });
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(Handle { _watcher: watcher })
}

#[cfg(test)]
mod tests {
    use super::relevant;
    use std::path::Path;

    #[test]
    fn only_project_files_count() {
        assert!(relevant(Path::new("/p/workflows/a.json")));
        assert!(relevant(Path::new("/p/endpoints/a.json")));
        assert!(relevant(Path::new("/p/flowdeck.toml")));
        assert!(!relevant(Path::new("/p/workflows/.a.json.swp")));
        assert!(!relevant(Path::new("/p/flowdeck.db-wal")));
        assert!(!relevant(Path::new("/p/notes/a.json")));
        assert!(relevant(Path::new("/p/tests/a.test.json")));
        assert!(!relevant(Path::new("/p/tests/__snapshots__/a.case.json")));
        assert!(!relevant(Path::new("/p/tests/fixture.json")));
    }
}
