//! Importing a project (folder or file) into the store as drafts, after checking everything
//! that can be checked: JSON, fields, step ids, templates. Good files import; bad ones are
//! reported and change nothing.

use super::error::EngineError;
use super::program::{self, Origin};
use crate::model::{Diagnostic, KeptFile, LoadedProject};
use crate::store::project::StoredProject;
use crate::store::{DataDb, Store, definitions::ImportOutcome};
use serde::Serialize;

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    /// Definitions that were new.
    pub created: Vec<String>,
    /// Definitions whose draft changed.
    pub changed: Vec<String>,
    /// Definitions that were the same.
    pub unchanged: Vec<String>,
    /// Every fault; the files they are in were not imported.
    pub diagnostics: Vec<Diagnostic>,
    /// Whether `schema.sql` ran.
    pub schema_applied: bool,
    /// Test files kept (those without faults), and snapshots of their cases.
    pub tests: Vec<String>,
}

impl ImportReport {
    /// Whether everything imported.
    pub fn is_clean(&self) -> bool {
        self.diagnostics.is_empty()
    }
}

/// Check every definition of `project` and store the good ones as drafts; run `schema.sql`
/// on the data database.
pub fn import_project(
    store: &mut Store,
    project: &LoadedProject,
) -> Result<ImportReport, EngineError> {
    let mut report = ImportReport {
        diagnostics: project.diagnostics().cloned().collect(),
        ..ImportReport::default()
    };
    let mut good = Vec::new();
    for (file, def) in project.definitions() {
        let origin = Origin {
            file: &file.path,
            text: Some(&file.text),
        };
        match program::compile(def, origin, 0, None) {
            Ok(_) => good.push((file, def)),
            Err(diagnostics) => report.diagnostics.extend(diagnostics),
        }
    }
    let kept: Vec<KeptFile> = project
        .tests
        .iter()
        .filter(|t| t.suite.is_some())
        .map(|t| KeptFile {
            path: t.path.clone(),
            text: t.text.clone(),
        })
        .chain(project.snapshots.iter().cloned())
        .collect();
    report.tests = project
        .tests
        .iter()
        .filter(|t| t.suite.is_some())
        .map(|t| t.path.to_string_lossy().into_owned())
        .collect();
    let outcomes = store.transaction(|s| {
        s.keep_files(&kept)?;
        if let (Some(config), Some(root)) = (&project.config, &project.root) {
            let previous = s.project()?;
            s.save_project(&StoredProject {
                config: config.clone(),
                config_text: project.config_text.clone(),
                schema: project.schema.clone().or(previous.schema),
                root: Some(root.to_string_lossy().into_owned()),
            })?;
        }
        good.iter()
            .map(|(file, def)| {
                let path = file.path.to_string_lossy();
                s.upsert_draft(def, &file.text, Some(&path))
                    .map(|(_, o)| (def.key(), o))
            })
            .collect::<crate::store::Result<Vec<_>>>()
    })?;
    for (key, outcome) in outcomes {
        match outcome {
            ImportOutcome::Created => report.created.push(key),
            ImportOutcome::Changed => report.changed.push(key),
            ImportOutcome::Unchanged => report.unchanged.push(key),
        }
    }
    if let Some(schema) = &project.schema {
        let data = DataDb::open(&store.data_path())?;
        match data.run_script(schema) {
            Ok(()) => report.schema_applied = true,
            Err(e) => report.diagnostics.push(
                Diagnostic::new("schema.sql", e.to_string())
                    .hint("schema.sql runs on every import: write it idempotently (CREATE TABLE IF NOT EXISTS, INSERT OR IGNORE)"),
            ),
        }
    }
    Ok(report)
}
