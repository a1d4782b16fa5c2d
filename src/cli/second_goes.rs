//! Second goes and comparisons: `rerun`, `replay`, `what-if`, `diff-runs`, `trace`, `why`.

use super::args::json_arg;
use super::runs::{failed, print_set_off, with_steps};
use super::{CommandResult, print_json, render, runtime};
use crate::engine::rerun::{Rerun, RerunFrom};
use crate::engine::trace::TraceNode;
use crate::engine::what_if::Events;
use crate::engine::{DEFAULT_WORKERS, Engine};
use crate::model::Timestamp;
use crate::store::events::EventFilter;
use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

/// `flowdeck rerun RUN_ID`
pub(super) fn rerun(
    db: &Path,
    run_id: i64,
    from: Option<String>,
    params: Option<&str>,
    draft: bool,
    json: bool,
) -> CommandResult {
    let params = match params {
        Some(p) => Some(json_arg("--params", Some(p), Value::Null)?),
        None => None,
    };
    let engine = Engine::open(db, DEFAULT_WORKERS)?;
    let rerun = Rerun {
        run_id,
        from: from.map_or(RerunFrom::Start, RerunFrom::Step),
        params,
        draft,
    };
    let report = runtime()?.block_on(engine.rerun(rerun))?;
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
        let from = run
            .from_step
            .as_deref()
            .map_or(String::new(), |s| format!(" from {s}"));
        outln!("rerun of run #{run_id}{from}")?;
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

/// Which recorded events `replay` emits again.
pub(super) enum Which {
    /// These, by id.
    Ids(Vec<i64>),
    /// The newest of a name.
    Named {
        /// The event name.
        name: String,
        /// Since a time ago or a time.
        since: Option<String>,
        /// At most this many.
        limit: u32,
    },
}

/// `1h` ago or an RFC 3339 time, as a timestamp.
fn since(text: &str) -> anyhow::Result<Timestamp> {
    if let Ok(ago) = humantime::parse_duration(text) {
        let micros = i64::try_from(ago.as_micros()).unwrap_or(i64::MAX);
        return Ok(Timestamp(Timestamp::now().0.saturating_sub(micros)));
    }
    let at = humantime::parse_rfc3339_weak(text).with_context(|| {
        format!(
            "--since {text:?}: give a time ago (`1h`, `30m`) or a time (`2026-12-04T10:00:00Z`)"
        )
    })?;
    let micros = at
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Ok(Timestamp(micros))
}

/// `flowdeck replay EVENT_ID… | --event NAME`
pub(super) fn replay(db: &Path, which: Which, draft: bool, json: bool) -> CommandResult {
    let engine = Engine::open(db, DEFAULT_WORKERS)?;
    let ids: Vec<i64> = match which {
        Which::Ids(ids) => ids,
        Which::Named {
            name,
            since: s,
            limit,
        } => {
            let after = s.as_deref().map(since).transpose()?;
            let mut found: Vec<i64> = engine
                .store()
                .list_events(&EventFilter {
                    name: Some(name.clone()),
                    limit,
                    before: None,
                })?
                .into_iter()
                .filter(|e| after.is_none_or(|t| e.emitted_at >= t))
                .map(|e| e.id)
                .collect();
            if found.is_empty() {
                bail!("no recorded event {name:?} to replay (see `flowdeck events --name {name}`)");
            }
            // oldest first, as they came
            found.reverse();
            found
        }
    };
    let rt = runtime()?;
    let mut reports = Vec::with_capacity(ids.len());
    for id in ids {
        reports.push(rt.block_on(engine.replay(id, draft))?);
    }
    let store = engine.store();
    if json {
        let replayed = reports
            .iter()
            .map(|r| {
                Ok(json!({
                    "event": r.event,
                    "runs": with_steps(&store, &r.cascade.runs)?,
                    "skipped": r.cascade.skipped,
                    "events": r.cascade.events,
                }))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        print_json(&json!({ "replayed": replayed }))?;
    } else {
        for r in &reports {
            outln!(
                "event #{} replays #{}",
                r.event.id,
                r.event.replay_of.unwrap_or_default()
            )?;
            out!("{}", render::cascade(&r.cascade, &[r.event.id]))?;
        }
    }
    let all: Vec<_> = reports
        .iter()
        .flat_map(|r| r.cascade.runs.clone())
        .collect();
    Ok(if failed(&all) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `flowdeck what-if WORKFLOW`
pub(super) fn what_if(
    db: &Path,
    workflow: &str,
    last: u32,
    event_ids: Vec<i64>,
    check: bool,
    json: bool,
) -> CommandResult {
    let engine = Engine::open(db, DEFAULT_WORKERS)?;
    let events = if event_ids.is_empty() {
        Events::Last(last)
    } else {
        Events::Ids(event_ids)
    };
    let report = runtime()?.block_on(engine.what_if(workflow, events))?;
    if json {
        print_json(&report)?;
    } else {
        let live = report
            .live_version
            .map_or("nothing live".to_string(), |v| format!("live v{v}"));
        outln!(
            "what-if {}: the draft against {} recorded event(s), {live}",
            report.workflow,
            report.events.len()
        )?;
        for e in &report.events {
            let run = e
                .live_run
                .map_or("no live run".to_string(), |r| format!("run #{r}"));
            if e.same {
                outln!("  ✓ event #{}  as {run} did", e.event_id)?;
                continue;
            }
            outln!("  ✗ event #{}  otherwise than {run}:", e.event_id)?;
            for d in &e.differences {
                outln!(
                    "      {}: {} → {}",
                    if d.pointer.is_empty() {
                        "/"
                    } else {
                        &d.pointer
                    },
                    render::short(&d.live, 60),
                    render::short(&d.draft, 60)
                )?;
            }
        }
        outln!("{} the same, {} different", report.same, report.different)?;
    }
    Ok(if check && report.different > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `flowdeck diff-runs A B`
pub(super) fn diff_runs(db: &Path, a: i64, b: i64, json: bool) -> CommandResult {
    let store = crate::store::Store::open(db)?;
    let load = |id: i64| -> anyhow::Result<crate::model::RunRecord> {
        store
            .run_with_steps(id)?
            .with_context(|| format!("no run #{id} (see `flowdeck runs`)"))
    };
    let (ra, rb) = (load(a)?, load(b)?);
    let diff = crate::engine::compare::diff_runs(&ra, &rb);
    if json {
        print_json(&diff)?;
        return Ok(ExitCode::SUCCESS);
    }
    let label = |r: &crate::model::RunRecord| {
        let version = r.version.map_or("draft".to_string(), |v| format!("v{v}"));
        format!("run #{} ({} {version})", r.id, r.target.name())
    };
    outln!("{} ↔ {}", label(&ra), label(&rb))?;
    if diff.is_same() {
        outln!("  they did the same")?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = String::new();
    if diff.status[0] != diff.status[1] {
        let _ = writeln!(text, "  status: {} → {}", diff.status[0], diff.status[1]);
    }
    for (what, list) in [("params", &diff.params), ("output", &diff.output)] {
        for c in list {
            let _ = writeln!(
                text,
                "  {what}{}: {} → {}",
                c.pointer,
                render::short(&c.a, 60),
                render::short(&c.b, 60)
            );
        }
    }
    for s in &diff.steps {
        let at = if s.iteration.is_empty() {
            String::new()
        } else {
            format!(
                "[{}]",
                s.iteration
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            )
        };
        let other = |side| if side == "a" { b } else { a };
        match s.only_in {
            Some(side) if s.before_start => {
                let _ = writeln!(
                    text,
                    "  · {}{at}  not run again in run #{} (it began at a later step)",
                    s.step,
                    other(side)
                );
            }
            Some("a") => {
                let _ = writeln!(text, "  - {}{at}  only in run #{a}", s.step);
            }
            Some(_) => {
                let _ = writeln!(text, "  + {}{at}  only in run #{b}", s.step);
            }
            None if s.changes.is_empty() => {
                let _ = writeln!(text, "  = {}{at}", s.step);
            }
            None => {
                let _ = writeln!(text, "  ~ {}{at}", s.step);
                for c in &s.changes {
                    let _ = writeln!(
                        text,
                        "      {}: {} → {}",
                        c.pointer.trim_start_matches('/'),
                        render::short(&c.a, 60),
                        render::short(&c.b, 60)
                    );
                }
            }
        }
    }
    out!("{text}")?;
    Ok(ExitCode::SUCCESS)
}

/// `flowdeck trace EVENT_ID`
pub(super) fn trace(db: &Path, event_id: i64, json: bool) -> CommandResult {
    let engine = Engine::open(db, DEFAULT_WORKERS)?;
    let tree = engine.trace(event_id)?;
    if json {
        print_json(&tree)?;
    } else {
        let mut text = String::new();
        tree_text(&tree, 0, &mut text);
        out!("{text}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A trace as indented lines: each event, then its listeners (ran, with status and time; or
/// skipped, with why; a loop marked ↻), then the events each run emitted.
fn tree_text(node: &TraceNode, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    let e = &node.event;
    let _ = writeln!(
        out,
        "{pad}event #{} {} {}  (from {}, {})",
        e.id,
        e.name,
        render::short(&e.params, 60),
        e.source,
        e.emitted_at
    );
    if node.listeners.is_empty() {
        let _ = writeln!(out, "{pad}  (no workflow listens to {})", e.name);
    }
    for l in &node.listeners {
        match (&l.run, &l.skipped) {
            (Some(run), _) => {
                let version = run.version.map_or("draft".to_string(), |v| format!("v{v}"));
                let took = run
                    .duration()
                    .map_or(String::new(), |d| format!("  {}", render::duration(d)));
                let error = run
                    .error
                    .as_deref()
                    .map_or(String::new(), |e| format!("  {e}"));
                let _ = writeln!(
                    out,
                    "{pad}  {} {}  run #{} ({version})  {}{took}{error}",
                    render::mark(run.status),
                    l.workflow,
                    run.id,
                    run.status
                );
                for child in &l.emitted {
                    tree_text(child, depth + 2, out);
                }
            }
            (None, Some(reason)) => {
                let mark = if l.is_loop { "↻" } else { "·" };
                let _ = writeln!(out, "{pad}  {mark} {}  skipped: {reason}", l.workflow);
            }
            (None, None) => {}
        }
    }
}

/// `flowdeck why EVENT_ID WORKFLOW`
pub(super) fn why(db: &Path, event_id: i64, workflow: &str, json: bool) -> CommandResult {
    let engine = Engine::open(db, DEFAULT_WORKERS)?;
    let why = engine.why(event_id, workflow)?;
    if json {
        print_json(&why)?;
    } else {
        outln!("{}", why.reason)?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::since;

    #[test]
    fn since_takes_a_time_ago_or_a_time() {
        let now = crate::model::Timestamp::now().0;
        let hour_ago = since("1h").unwrap().0;
        assert!((now - hour_ago - 3_600_000_000).abs() < 5_000_000);
        assert_eq!(since("1970-01-01T00:00:01Z").unwrap().0, 1_000_000);
        assert!(since("yesterday").is_err());
    }
}
