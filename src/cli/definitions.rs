//! `list`, `toggle` and `deploy`.

use super::{CommandResult, print_json, render};
use crate::engine::unknown_hint;
use crate::model::{DefinitionKind, endpoint_key};
use crate::store::Store;
use crate::store::definitions::DefinitionRow;
use anyhow::bail;
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;

fn version(v: Option<i64>) -> String {
    v.map_or("-".to_string(), |v| format!("v{v}"))
}

/// The text listing of workflows and endpoints.
pub(super) fn listing(rows: &[DefinitionRow]) -> String {
    let mut out = String::new();
    let workflows: Vec<Vec<String>> = rows
        .iter()
        .filter(|r| r.kind == DefinitionKind::Workflow)
        .map(|r| {
            vec![
                r.on_event.clone().unwrap_or_default(),
                r.name.clone(),
                if r.active { "[x]" } else { "[ ]" }.to_string(),
                version(r.live_version),
                if r.draft_changed { "changed" } else { "" }.to_string(),
            ]
        })
        .collect();
    let endpoints: Vec<Vec<String>> = rows
        .iter()
        .filter(|r| r.kind == DefinitionKind::Endpoint)
        .map(|r| {
            vec![
                r.name.clone(),
                version(r.live_version),
                if r.draft_changed { "changed" } else { "" }.to_string(),
            ]
        })
        .collect();
    if workflows.is_empty() && endpoints.is_empty() {
        return "The store has no workflows or endpoints yet: `flowdeck init shop && flowdeck import shop`.\n".into();
    }
    out.push_str("Workflows\n");
    out.push_str(&render::table(
        &["EVENT", "WORKFLOW", "ACTIVE", "LIVE", "DRAFT"],
        &workflows,
        2,
    ));
    out.push_str("Endpoints\n");
    out.push_str(&render::table(&["ROUTE", "LIVE", "DRAFT"], &endpoints, 2));
    out
}

/// `flowdeck list`
pub(super) fn list(db: &Path, json: bool) -> CommandResult {
    let store = Store::open(db)?;
    let rows = store.list_definitions()?;
    if json {
        let workflows: Vec<_> = rows
            .iter()
            .filter(|r| r.kind == DefinitionKind::Workflow)
            .map(|r| {
                json!({
                    "name": r.name, "on": r.on_event, "active": r.active,
                    "live_version": r.live_version, "draft_changed": r.draft_changed,
                    "file": r.source_file,
                })
            })
            .collect();
        let endpoints: Vec<_> = rows
            .iter()
            .filter(|r| r.kind == DefinitionKind::Endpoint)
            .map(|r| {
                json!({
                    "method": r.method, "path": r.path,
                    "live_version": r.live_version, "draft_changed": r.draft_changed,
                    "file": r.source_file,
                })
            })
            .collect();
        print_json(&json!({ "workflows": workflows, "endpoints": endpoints }))?;
    } else {
        out!("{}", listing(&rows))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Find a workflow by name or an endpoint by `METHOD /path`.
pub(super) fn find(store: &Store, name: &str) -> anyhow::Result<DefinitionRow> {
    if let Some(row) = store.find_definition(DefinitionKind::Workflow, name)? {
        return Ok(row);
    }
    if let Some((method, path)) = name.trim().split_once(' ')
        && let Some(row) =
            store.find_definition(DefinitionKind::Endpoint, &endpoint_key(method, path.trim()))?
    {
        return Ok(row);
    }
    let names: Vec<String> = store
        .list_definitions()?
        .into_iter()
        .map(|r| r.name)
        .collect();
    bail!(
        "no workflow or endpoint named {name:?}{}",
        unknown_hint(name, &names)
    )
}

/// `flowdeck toggle NAME on|off`
pub(super) fn toggle(db: &Path, name: &str, on: bool, json: bool) -> CommandResult {
    let store = Store::open(db)?;
    let row = find(&store, name)?;
    if row.kind != DefinitionKind::Workflow {
        bail!(
            "{} is an endpoint; only workflows have an active toggle",
            row.name
        );
    }
    let changed = store.set_active(row.id, on)?;
    let state = if on { "on" } else { "off" };
    if json {
        print_json(&json!({ "name": row.name, "active": on, "changed": changed }))?;
    } else if changed {
        outln!("{} is now {state}.", row.name)?;
    } else {
        outln!("{} was already {state}.", row.name)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `flowdeck deploy NAME | --all`
pub(super) fn deploy(db: &Path, name: Option<&str>, all: bool, json: bool) -> CommandResult {
    let mut store = Store::open(db)?;
    let rows = match (name, all) {
        (_, true) => store.list_definitions()?,
        (Some(n), false) => vec![find(&store, n)?],
        (None, false) => bail!("name a workflow to deploy, or pass --all"),
    };
    let results = store.transaction(|s| {
        rows.iter()
            .map(|r| s.deploy(r.id).map(|(v, new)| (r.name.clone(), v, new)))
            .collect::<crate::store::Result<Vec<_>>>()
    })?;
    if json {
        let list: Vec<_> = results
            .iter()
            .map(|(n, v, new)| json!({ "name": n, "live_version": v, "new": new }))
            .collect();
        print_json(&json!({ "deployed": list }))?;
    } else if results.is_empty() {
        outln!("Nothing to deploy: the store has no definitions.")?;
    } else {
        for (n, v, new) in &results {
            if *new {
                outln!("deployed {n} v{v}")?;
            } else {
                outln!("{n}: v{v} is already live (the draft has not changed)")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
