//! `emit`, `call` and `debug`: the commands that run workflows, to the end of their cascade.

use super::args::{json_arg, json_object_arg};
use super::{Outcome, print_json, render, runtime};
use crate::engine::{DEFAULT_WORKERS, EmitRequest, Engine, Request};
use crate::model::{RunRecord, RunStatus};
use crate::store::Store;
use crate::store::cascade::Cascade;
use anyhow::bail;
use serde_json::{Value, json};
use std::path::Path;
use std::process::ExitCode;

fn with_steps(store: &Store, runs: &[RunRecord]) -> anyhow::Result<Vec<RunRecord>> {
    runs.iter()
        .map(|r| {
            let mut r = r.clone();
            r.steps = Some(store.steps_of(r.id)?);
            Ok(r)
        })
        .collect()
}

fn failed(runs: &[RunRecord]) -> bool {
    runs.iter().any(|r| r.status == RunStatus::Failed)
}

/// `flowdeck emit EVENT`
pub fn emit(
    db: &Path,
    event: &str,
    params: Option<&str>,
    draft: bool,
    queue: bool,
    json: bool,
) -> Outcome {
    let params = json_object_arg("--params", params)?;
    let engine = Engine::open(db, DEFAULT_WORKERS)?;
    let mut request = EmitRequest::new(event, params, "cli");
    request.draft = draft;
    request.queue_only = queue;
    let rt = runtime()?;
    if queue {
        let dispatched = rt.block_on(engine.emit(request, None))?;
        let warning = dispatched
            .unheard()
            .then(|| engine.unheard_warning(event, dispatched.event.record.id));
        if let Some(w) = &warning {
            eprintln!("warning: {w}");
        }
        if json {
            print_json(&json!({
                "event": dispatched.event.record,
                "queued": dispatched.runs.iter().map(|r| json!({"id": r.run_id, "workflow": &*r.name})).collect::<Vec<_>>(),
                "skipped": dispatched.skipped,
                "warning": warning,
            }))?;
        } else {
            let c = Cascade {
                events: vec![dispatched.event.record.clone()],
                runs: Vec::new(),
                skipped: dispatched.skipped.clone(),
            };
            out!("{}", render::cascade(&c, &[dispatched.event.record.id]))?;
            for r in &dispatched.runs {
                outln!("  … {}  run #{} queued", r.name, r.run_id)?;
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let report = rt.block_on(engine.emit_and_wait(request))?;
    let heard = report
        .cascade
        .runs
        .iter()
        .any(|r| r.event_id == Some(report.event.id))
        || report
            .cascade
            .skipped
            .iter()
            .any(|s| s.event_id == report.event.id);
    let warning = (!heard).then(|| engine.unheard_warning(event, report.event.id));
    if let Some(w) = &warning {
        eprintln!("warning: {w}");
    }
    let store = engine.store();
    if json {
        print_json(&json!({
            "event": report.event,
            "runs": with_steps(&store, &report.cascade.runs)?,
            "skipped": report.cascade.skipped,
            "events": report.cascade.events,
            "warning": warning,
        }))?;
    } else {
        out!("{}", render::cascade(&report.cascade, &[report.event.id]))?;
    }
    Ok(if failed(&report.cascade.runs) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `flowdeck call METHOD PATH`
pub fn call(db: &Path, method: &str, path: &str, body: Option<&str>, json: bool) -> Outcome {
    let body = json_arg("--body", body, Value::Null)?;
    if !crate::model::parse::HTTP_METHODS.contains(&method.to_ascii_uppercase().as_str()) {
        bail!(
            "unknown HTTP method {method:?} (use GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS)"
        );
    }
    if !path.starts_with('/') {
        bail!("the path must start with `/`, like /orders");
    }
    let engine = Engine::open(db, DEFAULT_WORKERS)?;
    let request = Request {
        method: method.to_string(),
        path: path.to_string(),
        body,
        ..Request::default()
    };
    let report = runtime()?.block_on(engine.call(request))?;
    let store = engine.store();
    if json {
        print_json(&json!({
            "status": report.status,
            "body": report.body,
            "run": report.run,
            "runs": with_steps(&store, &report.cascade.runs)?,
            "skipped": report.cascade.skipped,
            "events": report.cascade.events,
        }))?;
    } else {
        outln!("HTTP {}", report.status)?;
        outln!("{}", serde_json::to_string_pretty(&report.body)?)?;
        outln!()?;
        out!("{}", render::trace(&report.run))?;
        let roots: Vec<i64> = report
            .cascade
            .events
            .iter()
            .filter(|e| e.parent_run == Some(report.run.id))
            .map(|e| e.id)
            .collect();
        if !roots.is_empty() {
            outln!()?;
            out!("{}", render::cascade(&report.cascade, &roots))?;
        }
    }
    let mut all = report.cascade.runs.clone();
    all.push(report.run.clone());
    Ok(if failed(&all) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `flowdeck debug NAME`
pub fn debug(db: &Path, name: &str, params: Option<&str>, json: bool) -> Outcome {
    let params = json_object_arg("--params", params)?;
    let engine = Engine::open(db, DEFAULT_WORKERS)?;
    let run = runtime()?.block_on(engine.debug(name, params))?;
    if json {
        print_json(&run)?;
    } else {
        out!("{}", render::trace(&run))?;
    }
    Ok(if run.status == RunStatus::Failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
