//! `init`, `import`, `export` and `demo`.

use super::{CommandResult, print_json};
use crate::engine::import::{ImportReport, import_project};
use crate::example;
use crate::model::DefinitionKind;
use crate::model::project;
use crate::store::Store;
use anyhow::Context;
use serde_json::{Value, json};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

/// `flowdeck init DIR`
pub(super) fn init(dir: &Path, name: &str, json: bool) -> CommandResult {
    let files = example::files(name)?;
    example::write(dir, files)?;
    if json {
        print_json(
            &json!({ "dir": dir, "example": name, "files": files.iter().map(|(p, _)| p).collect::<Vec<_>>() }),
        )?;
    } else {
        outln!("Wrote the {name} example project to {}:", dir.display())?;
        for (path, _) in files {
            outln!("  {path}")?;
        }
        outln!()?;
        outln!(
            "Next: flowdeck import {0} && flowdeck deploy --all && flowdeck list",
            dir.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `flowdeck import DIR|FILE`
pub(super) fn import(db: &Path, path: &Path, json: bool) -> CommandResult {
    let loaded = project::load(path)?;
    let mut store = Store::open(db)?;
    let report = import_project(&mut store, &loaded)?;
    if json {
        print_json(&report)?;
    } else {
        print_import(&report, path, &store)?;
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_import(report: &ImportReport, path: &Path, store: &Store) -> std::io::Result<()> {
    let total = report.created.len() + report.changed.len() + report.unchanged.len();
    outln!(
        "Imported {total} definition(s) from {} as drafts: {} new, {} changed, {} unchanged.",
        path.display(),
        report.created.len(),
        report.changed.len(),
        report.unchanged.len()
    )?;
    for (label, names) in [("new", &report.created), ("changed", &report.changed)] {
        for n in names {
            outln!("  {label:<8}{n}")?;
        }
    }
    if !report.tests.is_empty() {
        outln!(
            "Kept {} test file(s); run them with flowdeck test.",
            report.tests.len()
        )?;
    }
    if report.schema_applied {
        outln!(
            "Ran schema.sql on {}.",
            crate::store::postgres::shown_url(&store.data_path().to_string_lossy())
        )?;
    }
    if !report.diagnostics.is_empty() {
        eprintln!();
        eprintln!(
            "{} fault(s) found; the files below were not imported (the rest were):",
            report.diagnostics.len()
        );
        for d in &report.diagnostics {
            eprintln!("  {d}");
        }
    } else if !report.created.is_empty() || !report.changed.is_empty() {
        outln!("Deploy to make them live: flowdeck deploy --all")?;
    }
    Ok(())
}

/// A definition's file name when it has none of its own.
fn default_file(kind: DefinitionKind, name: &str) -> PathBuf {
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_matches('_')
        .to_lowercase();
    let folder = match kind {
        DefinitionKind::Workflow => "workflows",
        DefinitionKind::Endpoint => "endpoints",
    };
    PathBuf::from(folder).join(format!("{stem}.json"))
}

/// A stored source path, when it is a safe relative path inside the project's folders.
fn safe_relative(source: Option<&str>, kind: DefinitionKind) -> Option<PathBuf> {
    let p = PathBuf::from(source?);
    let folder = match kind {
        DefinitionKind::Workflow => "workflows",
        DefinitionKind::Endpoint => "endpoints",
    };
    let ok = p.starts_with(folder) && p.components().all(|c| matches!(c, Component::Normal(_)));
    ok.then_some(p)
}

/// `flowdeck export DIR`
pub(super) fn export(db: &Path, dir: &Path, json: bool) -> CommandResult {
    let store = Store::open(db)?;
    let project = store.project()?;
    let mut written = Vec::new();
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let root =
        std::fs::canonicalize(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    let mut write = |rel: PathBuf, text: &str| -> anyhow::Result<()> {
        let target = dir.join(&rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        refuse_links_out(&root, &target)?;
        std::fs::write(&target, text)
            .with_context(|| format!("cannot write {}", target.display()))?;
        written.push(rel);
        Ok(())
    };
    let config_text = match &project.config_text {
        Some(t) => t.clone(),
        None => toml::to_string(&project.config)?,
    };
    write(PathBuf::from("flowdeck.toml"), &config_text)?;
    if let Some(schema) = &project.schema {
        write(PathBuf::from("schema.sql"), schema)?;
    }
    for row in store.list_definitions()? {
        let text = with_active(store.definition_source(row.id, None)?, row.kind, row.active);
        let rel = safe_relative(row.source_file.as_deref(), row.kind)
            .unwrap_or_else(|| default_file(row.kind, &row.name));
        write(rel, &text)?;
    }
    for kept in store.kept_files(crate::model::project::TESTS_DIR)? {
        // a kept file's path is relative and inside tests/ (as import keeps them)
        if kept
            .path
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            write(kept.path, &kept.text)?;
        }
    }
    if json {
        print_json(&json!({ "dir": dir, "files": written }))?;
    } else {
        outln!("Wrote {} file(s) to {}:", written.len(), dir.display())?;
        for w in &written {
            outln!("  {}", w.display())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A workflow's text with the store's `active` toggle (switched in the studio or with
/// `flowdeck toggle`) written into it, so that the exported project carries it; the text is
/// left as written when it already says so (a file without `active` is active).
fn with_active(text: String, kind: DefinitionKind, active: bool) -> String {
    if kind != DefinitionKind::Workflow {
        return text;
    }
    let Ok(Value::Object(mut fields)) = serde_json::from_str::<Value>(&text) else {
        return text;
    };
    if fields
        .get("active")
        .and_then(Value::as_bool)
        .unwrap_or(true)
        == active
    {
        return text;
    }
    fields.insert("active".into(), Value::Bool(active));
    match serde_json::to_string_pretty(&Value::Object(fields)) {
        Ok(pretty) => pretty + "\n",
        Err(_) => text,
    }
}

/// Export writes only inside the folder: `target` (or the folder it is in) must not be a
/// link that leads out of it.
fn refuse_links_out(root: &Path, target: &Path) -> anyhow::Result<()> {
    let resolved = match std::fs::canonicalize(target) {
        Ok(t) => t,
        Err(_) if std::fs::symlink_metadata(target).is_ok() => {
            anyhow::bail!(
                "{} is a link to a file that does not exist; export does not write through links: remove it",
                target.display()
            )
        }
        // a new file: where its folder really is decides
        Err(_) => {
            let parent = target.parent().unwrap_or(target);
            std::fs::canonicalize(parent)
                .with_context(|| format!("cannot resolve {}", parent.display()))?
        }
    };
    if !resolved.starts_with(root) {
        anyhow::bail!(
            "{} leads to {}, outside {}; export does not write through links out of the folder: remove the link or export elsewhere",
            target.display(),
            resolved.display(),
            root.display()
        );
    }
    Ok(())
}

/// Where `demo` keeps its store when no `--db` is given.
fn demo_home() -> anyhow::Result<PathBuf> {
    let base = dirs::data_local_dir()
        .or_else(dirs::home_dir)
        .context("cannot find a data folder for the demo; pass --db")?;
    Ok(base.join("flowdeck").join("demo"))
}

/// `flowdeck demo`: seed the example (and, when `listing`, print it). Returns the store.
pub(super) fn demo(db: Option<&Path>, listing: bool, json: bool) -> anyhow::Result<PathBuf> {
    let db = match db {
        Some(p) => p.to_path_buf(),
        None => {
            let home = demo_home()?;
            std::fs::create_dir_all(&home)
                .with_context(|| format!("cannot create {}", home.display()))?;
            home.join("flowdeck.db")
        }
    };
    crate::example::seed(&db)?;
    if !listing {
        return Ok(db);
    }
    let store = Store::open(&db)?;
    let rows = store.list_definitions()?;
    if json {
        print_json(&json!({ "db": db, "definitions": rows }))?;
        return Ok(db);
    }
    outln!(
        "The example shop is seeded and deployed in {}.",
        db.display()
    )?;
    outln!()?;
    out!("{}", super::definitions::listing(&rows))?;
    outln!()?;
    let db_arg = format!("--db {}", shell_quote(&db.to_string_lossy()));
    outln!("Try it:")?;
    outln!("  flowdeck {db_arg}                 # the studio")?;
    outln!(
        "  flowdeck {db_arg} call POST /orders --body '{{\"sku\":{{\"id\":1}},\"quantity\":60}}'"
    )?;
    outln!("  flowdeck {db_arg} emit sku_reorder --params '{{\"sku\":3}}'")?;
    outln!("  flowdeck {db_arg} runs")?;
    Ok(db)
}

/// Quote a path for a POSIX shell when it needs it.
fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-~".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_writes_the_stores_active_toggle() {
        let text = "{\"name\": \"a\", \"on\": \"e\", \"steps\": []}".to_string();
        assert_eq!(
            with_active(text.clone(), DefinitionKind::Workflow, true),
            text
        );
        let off = with_active(text.clone(), DefinitionKind::Workflow, false);
        let v: Value = serde_json::from_str(&off).unwrap();
        assert_eq!(v["active"], false);
        assert_eq!(v["name"], "a");
        let back = with_active(off.clone(), DefinitionKind::Workflow, true);
        assert_eq!(
            serde_json::from_str::<Value>(&back).unwrap()["active"],
            true
        );
        assert_eq!(
            with_active(off.clone(), DefinitionKind::Workflow, false),
            off
        );
        assert_eq!(
            with_active(text.clone(), DefinitionKind::Endpoint, false),
            text
        );
    }

    #[test]
    fn export_paths_stay_inside_the_project() {
        assert_eq!(
            safe_relative(Some("workflows/a.json"), DefinitionKind::Workflow),
            Some(PathBuf::from("workflows/a.json"))
        );
        assert_eq!(
            safe_relative(Some("/etc/a.json"), DefinitionKind::Workflow),
            None
        );
        assert_eq!(
            safe_relative(Some("workflows/../../a.json"), DefinitionKind::Workflow),
            None
        );
        assert_eq!(
            default_file(DefinitionKind::Endpoint, "GET /skus/{id}"),
            PathBuf::from("endpoints/get__skus__id.json")
        );
    }
}
