//! `flowdeck test`: run a project's tests and report each case (coloured on a terminal,
//! plain under `NO_COLOR` or a pipe; JSON; JUnit XML), or write a case from a recorded run.
//! Exit 0 all passed, 1 a case failed, 2 a test file is invalid.

use super::{Outcome, print_json};
use crate::model::project::{self, TESTS_DIR};
use crate::model::test_suite::SuiteTarget;
use crate::model::{KeptFile, parse_suite};
use crate::store::Store;
use crate::suite::{self, CaseStatus, Loaded, Options, Report};
use anyhow::{Context, bail};
use crossterm::style::Stylize;
use serde_json::{Map, Value, json};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// What `flowdeck test` was asked.
#[derive(Debug, Clone)]
pub struct TestArgs<'a> {
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
pub fn test(db: &Path, args: &TestArgs<'_>, json: bool) -> Outcome {
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
    let options = Options {
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
            let store = if db.exists() {
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
            if !db.exists() {
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
    let root = match dir {
        Some(d) => Some(d.to_path_buf()),
        None => {
            let store = Store::open(db)?;
            store.keep_files(snapshots)?;
            store
                .project()?
                .root
                .map(PathBuf::from)
                .filter(|r| r.is_dir())
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
                    if !f.message.contains("expected") || f.message.contains("item(s)") {
                        let actual = crate::text::short(&f.actual, 100);
                        if !f.actual.is_null() {
                            outln!("        {} {actual}", paint.dim("actual:"))?;
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
pub fn record(db: &Path, run_id: i64, out: Option<&Path>, json: bool) -> Outcome {
    if !db.exists() {
        bail!("no store at {}: give --db", db.display());
    }
    let store = Store::open(db)?;
    let run = store
        .run_with_steps(run_id)?
        .with_context(|| format!("no run #{run_id} (flowdeck runs lists them)"))?;
    if !run.status.is_finished() {
        bail!(
            "run #{run_id} is {}: record it when it has ended",
            run.status
        );
    }
    let project = store.project()?;
    let recorded = suite::record::record(&run, project.schema.as_deref(), &project.config);
    let root = project
        .root
        .clone()
        .map(PathBuf::from)
        .filter(|r| r.is_dir());
    let path = match out {
        Some(p) => p.to_path_buf(),
        None => root
            .clone()
            .unwrap_or_else(|| PathBuf::from("."))
            .join(TESTS_DIR)
            .join(format!(
                "{}{}",
                file_stem(&recorded.target),
                project::TEST_SUFFIX
            )),
    };
    let (text, name) = add_case(&path, &recorded)?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    // the store keeps its project's test files too (the studio runs them)
    if let Some(rel) = root
        .as_ref()
        .and_then(|r| {
            std::fs::canonicalize(&path)
                .ok()
                .zip(std::fs::canonicalize(r).ok())
        })
        .and_then(|(p, r)| p.strip_prefix(r).ok().map(Path::to_path_buf))
    {
        store.keep_files(&[KeptFile { path: rel, text }])?;
    }
    if json {
        print_json(&json!({ "file": path, "case": name, "target": recorded.target.to_string() }))?;
    } else {
        outln!(
            "Wrote case {name:?} of {} to {}.",
            recorded.target,
            path.display()
        )?;
        outln!("Run it: flowdeck test --filter {}", shell_word(&name))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A test file's name for what it tests: the workflow's name, `post_orders` for an endpoint.
fn file_stem(target: &SuiteTarget) -> String {
    let raw = match target {
        SuiteTarget::Workflow(n) | SuiteTarget::Event(n) => n.clone(),
        SuiteTarget::Endpoint { method, path } => format!("{method}{path}"),
    };
    let slug: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    slug.trim_matches('_').replace("__", "_")
}

/// The test file at `path` with the recorded case added (a new file when there is none),
/// and the case's name (made unique in the file).
fn add_case(path: &Path, recorded: &suite::record::Recorded) -> anyhow::Result<(String, String)> {
    let (key, value) = match &recorded.target {
        SuiteTarget::Workflow(n) => ("workflow", n.clone()),
        SuiteTarget::Event(n) => ("event", n.clone()),
        SuiteTarget::Endpoint { method, path } => ("endpoint", format!("{method} {path}")),
    };
    let mut file: Map<String, Value> = if path.exists() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let v: Value = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not JSON: fix it, or give another file with --out",
                path.display()
            )
        })?;
        let Value::Object(o) = v else {
            bail!("{} is not a test file (not a JSON object)", path.display());
        };
        if o.get(key).and_then(Value::as_str) != Some(value.as_str()) {
            bail!(
                "{} tests something else than {}: give another file with --out",
                path.display(),
                recorded.target
            );
        }
        o
    } else {
        let mut o = Map::new();
        o.insert(key.into(), json!(value));
        o.insert("cases".into(), json!([]));
        o
    };
    let mut case = recorded.case.clone();
    let base = case["name"].as_str().unwrap_or("recorded").to_string();
    let cases = file.entry("cases").or_insert_with(|| json!([]));
    let taken = |n: &str, cases: &Value| {
        cases
            .as_array()
            .is_some_and(|l| l.iter().any(|c| c["name"] == n))
    };
    let mut name = base.clone();
    let mut n = 2;
    while taken(&name, cases) {
        name = format!("{base} ({n})");
        n += 1;
    }
    case["name"] = json!(name);
    match cases.as_array_mut() {
        Some(list) => list.push(case),
        None => bail!("{}: `cases` is not an array", path.display()),
    }
    let mut text = serde_json::to_string_pretty(&Value::Object(file))?;
    text.push('\n');
    let parsed = parse_suite(&text, path);
    if let Some(d) = parsed.diagnostics.first() {
        bail!("the recorded case would not be a valid test: {d}");
    }
    Ok((text, name))
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
