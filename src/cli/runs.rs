//! `emit`, `call` and `debug`: the commands that run workflows, to the end of their cascade.

use super::args::{json_arg, json_object_arg};
use super::{CommandResult, print_json, render, runtime};
use crate::engine::{DEFAULT_WORKERS, EmitRequest, EndpointRequest, Engine};
use crate::model::{RunRecord, RunStatus};
use crate::store::Store;
use crate::store::cascade::Cascade;
use anyhow::bail;
use serde_json::{Value, json};
use std::path::Path;
use std::process::ExitCode;

pub(super) fn with_steps(store: &Store, runs: &[RunRecord]) -> anyhow::Result<Vec<RunRecord>> {
    runs.iter()
        .map(|r| {
            let mut r = r.clone();
            r.steps = Some(store.steps_of(r.id)?);
            Ok(r)
        })
        .collect()
}

pub(super) fn failed(runs: &[RunRecord]) -> bool {
    runs.iter().any(|r| r.status == RunStatus::Failed)
}

/// `flowdeck emit EVENT`
pub(super) fn emit(
    db: &Path,
    event: &str,
    params: Option<&str>,
    draft: bool,
    queue: bool,
    json: bool,
) -> CommandResult {
    let engine = Engine::open(db, DEFAULT_WORKERS)?;
    let limit = engine.core().settings().engine.max_params_bytes;
    // kept as text to the store: a large payload is not parsed only to be recorded
    let params = super::args::json_object_text_within("--params", params, limit)?;
    let mut request = EmitRequest::with_text(event, params, "cli");
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
        // params recorded as text are shown from it, never built into values
        let raw = (dispatched.new)
            .then(|| dispatched.event.record.params.text())
            .flatten()
            .map(|text| serde_json::value::RawValue::from_string(text.to_string()))
            .transpose()?;
        let params_text = raw.as_deref().map(serde_json::value::RawValue::get);
        if json {
            print_json(&QueuedAnswer {
                event: RecordedEvent {
                    record: &dispatched.event.record,
                    params: raw.as_deref(),
                },
                queued: dispatched
                    .runs
                    .iter()
                    .map(|r| json!({"id": r.run_id, "workflow": &*r.name}))
                    .collect(),
                skipped: &dispatched.skipped,
                warning,
            })?;
        } else {
            let runs: Vec<(i64, &str)> = dispatched
                .runs
                .iter()
                .map(|r| (r.run_id, &*r.name))
                .collect();
            out!(
                "{}",
                render::queued(
                    &dispatched.event.record,
                    params_text,
                    &dispatched.skipped,
                    &runs
                )
            )?;
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

/// `emit --queue --json`: the event, the runs queued, the listeners skipped.
#[derive(serde::Serialize)]
struct QueuedAnswer<'a> {
    event: RecordedEvent<'a>,
    queued: Vec<Value>,
    skipped: &'a [crate::model::SkipRecord],
    warning: Option<String>,
}

/// An event record, its params written from their recorded text when they were not parsed.
struct RecordedEvent<'a> {
    record: &'a crate::model::EventRecord,
    params: Option<&'a serde_json::value::RawValue>,
}

impl serde::Serialize for RecordedEvent<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeMap};
        let Some(params) = self.params else {
            return self.record.serialize(s);
        };
        // the record's other fields are small; its params are `null` here
        let Value::Object(fields) = serde_json::to_value(self.record).map_err(S::Error::custom)?
        else {
            return self.record.serialize(s);
        };
        let mut map = s.serialize_map(Some(fields.len()))?;
        for (key, value) in &fields {
            if key == "params" {
                map.serialize_entry(key, params)?;
            } else {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

/// What `flowdeck call` was given.
pub(super) struct CallArgs<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path, with an optional `?query`.
    pub path: &'a str,
    /// `--body`.
    pub body: Option<&'a str>,
    /// `--header`s, as given (`Name: value`).
    pub headers: &'a [String],
    /// `--draft`.
    pub draft: bool,
}

/// `Name: value` as a lower-case name and its value.
fn header(text: &str) -> anyhow::Result<(String, Value)> {
    let Some((name, value)) = text.split_once(':') else {
        bail!("--header {text:?}: write it as 'Name: value', like --header 'X-Shop: berlin'");
    };
    let name = name.trim();
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid {
        bail!("--header {text:?}: {name:?} is not a header name (letters, digits and - _ .)");
    }
    Ok((
        name.to_ascii_lowercase(),
        Value::String(value.trim().to_string()),
    ))
}

/// `flowdeck call METHOD PATH`
pub(super) fn call(db: &Path, args: &CallArgs<'_>, json: bool) -> CommandResult {
    let CallArgs {
        method,
        path,
        body,
        headers,
        draft,
    } = *args;
    let body = json_arg("--body", body, Value::Null)?;
    if !crate::model::parse::HTTP_METHODS.contains(&method.to_ascii_uppercase().as_str()) {
        bail!(
            "unknown HTTP method {method:?} (use GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS)"
        );
    }
    if !path.starts_with('/') {
        bail!("the path must start with `/`, like /orders");
    }
    let headers = headers
        .iter()
        .map(|h| header(h))
        .collect::<anyhow::Result<serde_json::Map<String, Value>>>()?;
    let engine = Engine::open(db, DEFAULT_WORKERS)?;
    let request = EndpointRequest {
        method: method.to_string(),
        path: path.to_string(),
        body,
        headers,
        draft,
        ..EndpointRequest::default()
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
        print_set_off(&report.cascade, report.run.id)?;
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
pub(super) fn debug(db: &Path, name: &str, params: Option<&str>, json: bool) -> CommandResult {
    let params = json_object_arg("--params", params)?;
    let engine = Engine::open(db, DEFAULT_WORKERS)?;
    let report = runtime()?.block_on(engine.debug(name, params))?;
    let run = &report.run;
    if json {
        let mut value = serde_json::to_value(run)?;
        value["cascade"] = json!({
            "events": report.cascade.events,
            "runs": with_steps(&engine.store(), &report.cascade.runs)?,
            "skipped": report.cascade.skipped,
        });
        print_json(&value)?;
    } else {
        out!("{}", render::trace(run))?;
        print_set_off(&report.cascade, run.id)?;
    }
    let mut all = report.cascade.runs.clone();
    all.push(run.clone());
    Ok(if failed(&all) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The events a run emitted, each with what it set off (nothing when it emitted none).
pub(super) fn print_set_off(cascade: &Cascade, run_id: i64) -> std::io::Result<()> {
    let roots: Vec<i64> = cascade
        .events
        .iter()
        .filter(|e| e.parent_run == Some(run_id))
        .map(|e| e.id)
        .collect();
    if !roots.is_empty() {
        outln!()?;
        out!("{}", render::cascade(cascade, &roots))?;
    }
    Ok(())
}
