//! `flowdeck test`: run a project's tests and report each case (coloured on a terminal,
//! plain under `NO_COLOR` or a pipe; JSON; JUnit XML), or write a case from a recorded run.
//! Exit 0 all passed, 1 a case failed, 2 a test file is invalid.

use super::{CommandResult, print_json};
use crate::model::KeptFile;
use crate::model::project::{self, TESTS_DIR};
use crate::store::Store;
use crate::suite::{self, CaseStatus, Loaded, Report, SuiteOptions};
use anyhow::{Context, bail};
use crossterm::style::Stylize;
use serde_json::json;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// What `flowdeck test` was asked.
#[derive(Debug, Clone)]
pub(super) struct TestArgs<'a> {
    /// The project folder, or `None` for the store's tests.
    pub dir: Option<&'a Path>,
    /// Only the cases that match.
    pub filter: Option<String>,
    /// Write changed snapshots.
    pub update: bool,
    /// Where to write JUnit XML.
    pub junit: Option<&'a Path>,
}

/// `flowdeck test [DIR]`
pub(super) fn test(db: &Path, args: &TestArgs<'_>, json: bool) -> CommandResult {
    let (loaded, definition_faults) = load(db, args.dir)?;
    for d in &definition_faults {
        eprintln!("{d}");
    }
    for d in &loaded.invalid {
        eprintln!("{d}");
    }
    if loaded.files.is_empty() && loaded.invalid.is_empty() {
        let place = args.dir.map_or("the store".to_string(), |d| {
            d.join(TESTS_DIR).display().to_string()
        });
        if json {
            print_json(&json!({ "passed": 0, "failed": 0, "skipped": 0, "cases": [] }))?;
        } else {
            outln!(
                "No test files in {place}: write tests/NAME.test.json (docs/testing-workflows.md), or record one from a run: flowdeck test --record RUN_ID"
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let options = SuiteOptions {
        filter: args.filter.clone(),
        update: args.update,
        strict_snapshots: std::env::var_os("CI").is_some(),
    };
    let runtime =
        crate::engine::runtime::build("flowdeck-test", crate::engine::runtime::Workers::PerCore)?;
    let outcome = runtime.block_on(suite::run_all(
        Arc::new(loaded.catalog),
        loaded.files,
        &loaded.snapshots,
        &options,
    ));
    keep_snapshots(db, args.dir, &outcome.snapshots)?;
    let report = outcome.report;
    if let Some(path) = args.junit {
        let xml = suite::junit::to_junit(&report).context("cannot write JUnit XML")?;
        std::fs::write(path, xml).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if json {
        print_json(&json!({
            "passed": report.passed,
            "failed": report.failed,
            "skipped": report.skipped,
            "duration_ms": report.duration_ms,
            "cases": report.cases,
            "invalid": loaded.invalid,
        }))?;
    } else {
        print_report(&report, &outcome.snapshots)?;
    }
    if report.cases.is_empty()
        && let Some(f) = &args.filter
    {
        eprintln!("no case matches --filter {f:?}");
        return Ok(ExitCode::from(1));
    }
    Ok(if !loaded.invalid.is_empty() {
        ExitCode::from(2)
    } else if report.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The tests and what they run against: from `dir`, or from the store. Also the faults of
/// the project's definitions (their cases cannot run).
fn load(db: &Path, dir: Option<&Path>) -> anyhow::Result<(Loaded, Vec<crate::model::Diagnostic>)> {
    match dir {
        Some(dir) => {
            let project = project::load_dir(dir)?;
            // the deployed versions, when there is a store (a test never creates one)
            let store = if crate::store::store_exists(db) {
                Some(Store::open(db)?)
            } else {
                None
            };
            let faults = project
                .project_diagnostics
                .iter()
                .chain(project.files.iter().flat_map(|f| f.diagnostics.iter()))
                .cloned()
                .collect();
            Ok((suite::load::from_project(&project, store.as_ref()), faults))
        }
        None => {
            if !crate::store::store_exists(db) {
                bail!(
                    "no store at {}: give the project folder (flowdeck test shop) or --db",
                    db.display()
                );
            }
            let store = Store::open(db)?;
            Ok((suite::load::from_store(&store)?, Vec::new()))
        }
    }
}

/// Keep written snapshots: in the project folder, or in the store (and its project folder,
/// when it still has one).
fn keep_snapshots(db: &Path, dir: Option<&Path>, snapshots: &[KeptFile]) -> anyhow::Result<()> {
    if snapshots.is_empty() {
        return Ok(());
    }
    let root: Option<PathBuf> = match dir {
        Some(d) => Some(d.to_path_buf()),
        None => {
            let store = Store::open(db)?;
            suite::load::keep_in_store(&store, snapshots).map_err(anyhow::Error::msg)?;
            return Ok(());
        }
    };
    if let Some(root) = root {
        for s in snapshots {
            let path = root.join(&s.path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            std::fs::write(&path, &s.text)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(())
}

/// Colours on a terminal, unless `NO_COLOR` says no.
struct Paint(bool);

impl Paint {
    fn detect() -> Paint {
        Paint(std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none())
    }

    fn ok(&self, s: &str) -> String {
        if self.0 {
            s.green().to_string()
        } else {
            s.to_string()
        }
    }

    fn bad(&self, s: &str) -> String {
        if self.0 {
            s.red().bold().to_string()
        } else {
            s.to_string()
        }
    }

    fn dim(&self, s: &str) -> String {
        if self.0 {
            s.dark_grey().to_string()
        } else {
            s.to_string()
        }
    }
}

/// Each case, grouped by file, failures with where and what; then the totals.
fn print_report(report: &Report, snapshots: &[KeptFile]) -> anyhow::Result<()> {
    let paint = Paint::detect();
    let mut file = "";
    for c in &report.cases {
        if c.file != file {
            file = &c.file;
            outln!("{}  {}", c.file, paint.dim(&c.target))?;
        }
        let took = paint.dim(&format!("{:.1} ms", c.duration_ms));
        match c.status {
            CaseStatus::Passed => {
                let note = c
                    .snapshot
                    .map_or(String::new(), |s| format!("  (snapshot {s})"));
                outln!("  {} {}  {took}{note}", paint.ok("✓"), c.name)?;
            }
            CaseStatus::Skipped => {
                outln!("  {} {}  {}", paint.dim("·"), c.name, paint.dim("skipped"))?
            }
            CaseStatus::Failed => {
                let line = c.line.map_or(String::new(), |l| format!(":{l}"));
                outln!(
                    "  {} {}  {took}  {}",
                    paint.bad("✗"),
                    c.name,
                    paint.dim(&format!("{}{line}", c.file))
                )?;
                for f in &c.failures {
                    outln!("      {}  {}", paint.bad(&f.pointer), f.message)?;
                    // a scalar's message already says both values
                    let said = f.message.starts_with("expected ") && !f.message.contains("item(s)");
                    if !said && !f.message.starts_with("differs from the snapshot") {
                        if !f.expected.is_null() {
                            let e = crate::text::short(&f.expected, 100);
                            outln!("        {} {e}", paint.dim("expected:"))?;
                        }
                        if !f.actual.is_null() {
                            let a = crate::text::short(&f.actual, 100);
                            outln!("        {} {a}", paint.dim("actual:  "))?;
                        }
                    }
                }
            }
        }
    }
    let mut summary = vec![format!("{} passed", report.passed)];
    if report.failed > 0 {
        summary.push(paint.bad(&format!("{} failed", report.failed)));
    }
    if report.skipped > 0 {
        summary.push(format!("{} skipped", report.skipped));
    }
    let written = snapshots.len();
    let snaps = if written > 0 {
        format!("; {written} snapshot(s) written")
    } else {
        String::new()
    };
    outln!()?;
    outln!(
        "{} · {} case(s) in {:.0} ms{snaps}",
        summary.join(", "),
        report.cases.len(),
        report.duration_ms
    )?;
    Ok(())
}

/// `flowdeck test --record RUN_ID [--out FILE]`
pub(super) fn record(db: &Path, run_id: i64, out: Option<&Path>, json: bool) -> CommandResult {
    if !crate::store::store_exists(db) {
        bail!("no store at {}: give --db", db.display());
    }
    let store = Store::open(db)?;
    let written = suite::record::write_case(&store, run_id, out).map_err(anyhow::Error::msg)?;
    if json {
        print_json(
            &json!({ "file": written.path, "case": written.name, "target": written.target.to_string() }),
        )?;
    } else {
        outln!(
            "Wrote case {:?} of {} to {}.",
            written.name,
            written.target,
            written.path.display()
        )?;
        outln!(
            "Run it: flowdeck test --filter {}",
            shell_word(&written.name)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A word as a shell reads it.
fn shell_word(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
