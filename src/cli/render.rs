//! Text output of the command line: tables, cascades as trees, run traces.

use crate::model::{EventRecord, RunRecord, RunStatus, SkipRecord, StepRecord, StepStatus};
use crate::store::cascade::Cascade;
use std::fmt::Write;
use std::time::Duration;

pub(super) use crate::text::{duration, short};

/// A status mark: ✓ succeeded, ✗ failed, … otherwise.
pub(super) fn mark(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Succeeded => "✓",
        RunStatus::Failed | RunStatus::Cancelled => "✗",
        _ => "…",
    }
}

/// Rows of cells as aligned columns (the last column is not padded).
pub(super) fn table(header: &[&str], rows: &[Vec<String>], indent: usize) -> String {
    let cols = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: &mut dyn Iterator<Item = &str>, out: &mut String| {
        let mut text = " ".repeat(indent);
        for (i, cell) in cells.enumerate() {
            if i + 1 < cols {
                let _ = write!(text, "{cell:<w$}  ", w = widths[i]);
            } else {
                text.push_str(cell);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied(), &mut out);
    for row in rows {
        line(&mut row.iter().map(String::as_str), &mut out);
    }
    out
}

fn run_line(run: &RunRecord) -> String {
    let version = run.version.map_or("draft".to_string(), |v| format!("v{v}"));
    let mut line = format!(
        "{} {}  run #{} ({version})  {}",
        mark(run.status),
        run.target.name(),
        run.id,
        run.status
    );
    if let Some(d) = run.duration() {
        let _ = write!(line, "  {}", duration(d));
    }
    if let Some(e) = &run.error {
        let _ = write!(line, "  {e}");
    } else if let Some(o) = run.output.as_ref().filter(|o| !o.is_null()) {
        let _ = write!(line, "  → {}", short(o, 80));
    }
    line
}

fn event_line(e: &EventRecord) -> String {
    event_line_showing(e, &short(&e.params, 80))
}

fn event_line_showing(e: &EventRecord, params: &str) -> String {
    format!("event #{} {} {params}  (from {})", e.id, e.name, e.source)
}

/// An event only queued: its line (the params from `params_text`, compact JSON, when they
/// were recorded as text), the listeners it skipped and the runs it queued.
pub(super) fn queued(
    e: &EventRecord,
    params_text: Option<&str>,
    skipped: &[SkipRecord],
    runs: &[(i64, &str)],
) -> String {
    let params = match params_text {
        // compact JSON text cut as `short` cuts a value's
        Some(text) if text.chars().count() > 80 => {
            format!("{}…", text.chars().take(79).collect::<String>())
        }
        Some(text) => text.to_string(),
        None => short(&e.params, 80),
    };
    let mut out = String::new();
    let _ = writeln!(out, "{}", event_line_showing(e, &params));
    if runs.is_empty() && skipped.is_empty() {
        let _ = writeln!(out, "  (no workflow listens to {})", e.name);
    }
    for (id, name) in runs {
        let _ = writeln!(out, "  … {name}  run #{id} queued");
    }
    for s in skipped {
        let _ = writeln!(out, "  · {}  skipped: {}", s.workflow, s.reason);
    }
    out
}

/// A cascade as a tree: each event with its listeners (ran or skipped), each run with the
/// events it emitted.
pub(super) fn cascade(c: &Cascade, roots: &[i64]) -> String {
    let mut out = String::new();
    for root in roots {
        event_tree(c, *root, 0, &mut out);
    }
    out
}

fn event_tree(c: &Cascade, event_id: i64, depth: usize, out: &mut String) {
    let Some(e) = c.events.iter().find(|e| e.id == event_id) else {
        return;
    };
    let pad = "  ".repeat(depth);
    let _ = writeln!(out, "{pad}{}", event_line(e));
    let runs: Vec<&RunRecord> = c
        .runs
        .iter()
        .filter(|r| r.event_id == Some(event_id))
        .collect();
    let skips: Vec<&SkipRecord> = c
        .skipped
        .iter()
        .filter(|s| s.event_id == event_id)
        .collect();
    if runs.is_empty() && skips.is_empty() {
        let _ = writeln!(out, "{pad}  (no workflow listens to {})", e.name);
    }
    for run in runs {
        let _ = writeln!(out, "{pad}  {}", run_line(run));
        for child in c.events.iter().filter(|ev| ev.parent_run == Some(run.id)) {
            event_tree(c, child.id, depth + 2, out);
        }
    }
    for s in skips {
        let _ = writeln!(out, "{pad}  · {}  skipped: {}", s.workflow, s.reason);
    }
}

/// Nesting depth of a step from its path (`/steps/1/then/0` → 1).
fn step_depth(path: &str) -> usize {
    (path.split('/').filter(|s| !s.is_empty()).count() / 2).saturating_sub(1)
}

/// A run with its steps.
pub(super) fn trace(run: &RunRecord) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", run_line(run));
    let rerun = run.rerun_of.map_or(String::new(), |of| {
        let from = run
            .from_step
            .as_deref()
            .map_or(String::new(), |s| format!(" from {s}"));
        format!("  rerun of #{of}{from}")
    });
    let _ = writeln!(
        out,
        "  mode {}  params {}{}{rerun}",
        run.mode.as_str(),
        short(&run.params, 100),
        run.event_id
            .map(|e| format!("  event #{e}"))
            .unwrap_or_default()
    );
    let steps = run.steps.as_deref().unwrap_or_default();
    if steps.is_empty() {
        let _ = writeln!(out, "  (no steps recorded)");
    } else {
        let rows: Vec<Vec<String>> = steps.iter().map(step_row).collect();
        out.push_str(&table(
            &["SEQ", "STEP", "ACTION", "TIME", "RESULT"],
            &rows,
            2,
        ));
    }
    if let Some(o) = &run.output {
        let _ = writeln!(out, "output: {}", short(o, 400));
    }
    if let Some(e) = &run.error {
        let _ = writeln!(out, "error: {e}");
    }
    out
}

fn step_row(s: &StepRecord) -> Vec<String> {
    let name = format!("{}{}", "  ".repeat(step_depth(&s.path)), s.step);
    let mut result = match (&s.status, &s.error) {
        (StepStatus::Failed, Some(e)) => format!("✗ {e}"),
        _ if s.output.is_null() => String::new(),
        _ => format!("→ {}", short(&s.output, 70)),
    };
    if s.attempt > 1 {
        result = format!("(attempt {}) {result}", s.attempt);
    }
    if !s.iteration.is_empty() {
        let idx: Vec<String> = s.iteration.iter().map(ToString::to_string).collect();
        result = format!("[{}] {result}", idx.join(","));
    }
    vec![
        s.seq.to_string(),
        name,
        s.action.clone(),
        duration(Duration::from_micros(s.duration_us)),
        result,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let t = table(&["A", "BB"], &[vec!["xxx".into(), "y".into()]], 1);
        assert_eq!(t, " A    BB\n xxx  y\n");
    }

    #[test]
    fn depth_of_paths() {
        assert_eq!(step_depth("/steps/0"), 0);
        assert_eq!(step_depth("/steps/1/then/0"), 1);
        assert_eq!(step_depth("/steps/1/then/0/catch/2"), 2);
    }
}
