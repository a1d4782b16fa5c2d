//! `versions`, `diff` and `rollback`: deploy history.

use super::definitions::find;
use super::{CommandResult, print_json, render};
use crate::engine::diff::{Change, diff};
use crate::model::{Definition, parse_definition};
use crate::store::Store;
use anyhow::{Context, bail};
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;

fn parse(name: &str, body: &str) -> anyhow::Result<Definition> {
    parse_definition(body, Path::new(name), None)
        .definition
        .with_context(|| format!("the stored {name} does not parse"))
}

/// One line for a list of changes: `first version`, `+1 step, ~2 (load, order), on`.
fn summary(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "no change".into();
    }
    let mut added = 0;
    let mut removed = 0;
    let mut changed = Vec::new();
    let mut moved = 0;
    let mut fields = Vec::new();
    for c in changes {
        match c {
            Change::Added { .. } => added += 1,
            Change::Removed { .. } => removed += 1,
            Change::Changed { id, .. } => changed.push(id.clone()),
            Change::Moved { .. } => moved += 1,
            Change::Field { name, .. } => fields.push(name.clone()),
        }
    }
    let mut parts = Vec::new();
    if added > 0 {
        parts.push(format!(
            "+{added} step{}",
            if added == 1 { "" } else { "s" }
        ));
    }
    if removed > 0 {
        parts.push(format!(
            "-{removed} step{}",
            if removed == 1 { "" } else { "s" }
        ));
    }
    if !changed.is_empty() {
        parts.push(format!("~{} ({})", changed.len(), changed.join(", ")));
    }
    if moved > 0 {
        parts.push(format!("{moved} moved"));
    }
    if !fields.is_empty() {
        parts.push(fields.join(", "));
    }
    parts.join(", ")
}

/// `flowdeck versions NAME`
pub(super) fn versions(db: &Path, name: &str, json: bool) -> CommandResult {
    let store = Store::open(db)?;
    let row = find(&store, name)?;
    let versions = store.versions_of(row.id)?;
    let mut previous: Option<Definition> = None;
    let mut out = Vec::new();
    for v in &versions {
        let def = parse(&row.name, &v.body)?;
        let changes = diff(previous.as_ref(), &def);
        let line = if previous.is_none() {
            "first version".to_string()
        } else {
            summary(&changes)
        };
        out.push((v, line, changes));
        previous = Some(def);
    }
    if json {
        let list: Vec<_> = out
            .iter()
            .map(|(v, line, changes)| {
                json!({
                    "version": v.version,
                    "deployed_at": v.deployed_at,
                    "live": Some(v.version) == row.live_version,
                    "summary": line,
                    "changes": changes,
                })
            })
            .collect();
        print_json(
            &json!({ "name": row.name, "live_version": row.live_version, "draft_changed": row.draft_changed, "versions": list }),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    if versions.is_empty() {
        outln!(
            "{} was never deployed (flowdeck deploy \"{}\").",
            row.name,
            row.name
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = out
        .iter()
        .map(|(v, line, _)| {
            vec![
                format!(
                    "{}v{}",
                    if Some(v.version) == row.live_version {
                        "▶ "
                    } else {
                        "  "
                    },
                    v.version
                ),
                v.deployed_at.to_string(),
                line.clone(),
            ]
        })
        .collect();
    out!(
        "{}",
        render::table(&["VERSION", "DEPLOYED", "CHANGES"], &rows, 0)
    )?;
    if row.draft_changed {
        outln!("  draft  (not deployed: flowdeck diff \"{}\")", row.name)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `flowdeck diff NAME [--from V] [--to V|draft]`
pub(super) fn diff_cmd(
    db: &Path,
    name: &str,
    from: Option<i64>,
    to: Option<&str>,
    json: bool,
) -> CommandResult {
    let store = Store::open(db)?;
    let row = find(&store, name)?;
    let from = from.or(row.live_version);
    let to_version = match to {
        None | Some("draft") => None,
        Some(v) => Some(
            v.trim_start_matches('v')
                .parse::<i64>()
                .with_context(|| format!("--to: {v:?} is not a version number or `draft`"))?,
        ),
    };
    let old = match from {
        Some(v) => Some(parse(
            &row.name,
            &store
                .definition_body(row.id, Some(v))
                .with_context(|| format!("{} has no version {v}", row.name))?,
        )?),
        None => None,
    };
    let new = parse(
        &row.name,
        &store
            .definition_body(row.id, to_version)
            .with_context(|| format!("{} has no version {}", row.name, to.unwrap_or("")))?,
    )?;
    let label = |v: Option<i64>| v.map_or("draft".to_string(), |v| format!("v{v}"));
    if json {
        print_json(&json!({
            "name": row.name,
            "from": from,
            "to": to_version.map_or(json!("draft"), |v| json!(v)),
            "changes": diff(old.as_ref(), &new),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let from_label = from.map_or("nothing".to_string(), |v| format!("v{v}"));
    outln!("{}: {from_label} → {}", row.name, label(to_version))?;
    let lines = crate::engine::diff::describe(old.as_ref(), &new, 70);
    if lines.is_empty() {
        outln!("  no change")?;
    }
    for line in lines {
        outln!("  {line}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `flowdeck rollback NAME V`
pub(super) fn rollback(db: &Path, name: &str, version: i64, json: bool) -> CommandResult {
    let store = Store::open(db)?;
    let row = find(&store, name)?;
    if Some(version) == row.live_version {
        bail!("{} v{version} is already live", row.name);
    }
    store.set_live_version(row.id, version).with_context(|| {
        format!(
            "{} has no version {version} (see flowdeck versions \"{}\")",
            row.name, row.name
        )
    })?;
    if json {
        print_json(&json!({ "name": row.name, "live_version": version, "was": row.live_version }))?;
    } else {
        outln!(
            "{}: v{version} is live again (was {}); the draft is unchanged.",
            row.name,
            row.live_version.map_or("none".into(), |v| format!("v{v}"))
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
