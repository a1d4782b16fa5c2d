//! `runs`, `show` and `events`: reading the record.

use super::definitions::find;
use super::{CommandResult, print_json, render};
use crate::model::RunStatus;
use crate::store::Store;
use crate::store::events::EventFilter;
use crate::store::runs::RunFilter;
use anyhow::bail;
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;

/// `flowdeck runs`
pub(super) fn runs(
    db: &Path,
    workflow: Option<&str>,
    status: Option<&str>,
    limit: u32,
    json: bool,
) -> CommandResult {
    let store = Store::open(db)?;
    let definition_id = match workflow {
        Some(name) => Some(find(&store, name)?.id),
        None => None,
    };
    let runs = store.list_runs(&RunFilter {
        definition_id,
        status: status.and_then(RunStatus::parse),
        limit,
        before: None,
    })?;
    if json {
        print_json(&json!({ "runs": runs }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if runs.is_empty() {
        let filters: Vec<String> = [
            workflow.map(|w| format!("--workflow {w}")),
            status.map(|s| format!("--status {s}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        let any = store.list_runs(&RunFilter {
            limit: 1,
            ..RunFilter::default()
        })?;
        if filters.is_empty() || any.is_empty() {
            outln!("No runs yet.")?;
        } else {
            outln!(
                "No run matches {}: there are runs, but none of them fits (`flowdeck runs` lists the newest).",
                filters.join(" ")
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                format!("{} {}", render::mark(r.status), r.status),
                r.target.name().to_string(),
                r.version.map_or("draft".into(), |v| format!("v{v}")),
                r.mode.as_str().to_string(),
                r.event_id.map(|e| format!("#{e}")).unwrap_or_default(),
                r.started_at.map(|t| t.to_string()).unwrap_or_default(),
                r.duration().map(render::duration).unwrap_or_default(),
                r.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    out!(
        "{}",
        render::table(
            &[
                "RUN", "STATUS", "TARGET", "VERSION", "MODE", "EVENT", "STARTED", "TIME", "ERROR"
            ],
            &rows,
            0
        )
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `flowdeck show RUN_ID`
pub(super) fn show(db: &Path, run_id: i64, json: bool) -> CommandResult {
    let store = Store::open(db)?;
    let Some(run) = store.run_with_steps(run_id)? else {
        let newest = store.list_runs(&RunFilter {
            limit: 1,
            ..RunFilter::default()
        })?;
        match newest.first() {
            Some(r) => bail!(
                "no run #{run_id} (the newest is #{}; see `flowdeck runs`)",
                r.id
            ),
            None => bail!("no run #{run_id}: the store has no runs yet"),
        }
    };
    let pinned = store.is_pinned(run_id)?;
    if json {
        // `pinned` only when it is: the run's JSON is otherwise as it always was
        let mut value = serde_json::to_value(&run)?;
        if pinned && let Some(o) = value.as_object_mut() {
            o.insert("pinned".into(), json!(true));
        }
        print_json(&value)?;
    } else {
        out!("{}", render::trace(&run))?;
        if pinned {
            outln!("  pinned: prune and retention keep this run (`flowdeck unpin {run_id}`)")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `flowdeck events`
pub(super) fn events(db: &Path, name: Option<&str>, limit: u32, json: bool) -> CommandResult {
    let store = Store::open(db)?;
    let events = store.list_events(&EventFilter {
        name: name.map(String::from),
        limit,
        before: None,
    })?;
    if json {
        print_json(&json!({ "events": events }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if events.is_empty() {
        let any = store.list_events(&EventFilter {
            name: None,
            limit: 1,
            before: None,
        })?;
        match name {
            Some(name) if !any.is_empty() => outln!(
                "No event named {name:?}: there are events, but none of that name (`flowdeck events` lists the newest)."
            )?,
            _ => outln!("No events yet.")?,
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                e.id.to_string(),
                e.name.clone(),
                e.emitted_at.to_string(),
                e.source.clone(),
                e.depth.to_string(),
                render::short(&e.params, 60),
            ]
        })
        .collect();
    out!(
        "{}",
        render::table(
            &["EVENT", "NAME", "EMITTED", "SOURCE", "DEPTH", "PARAMS"],
            &rows,
            0
        )
    )?;
    Ok(ExitCode::SUCCESS)
}
