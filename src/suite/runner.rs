//! Running test files: every case (or those the filter picks) at once, each in its own
//! world, then the verdicts and snapshots gathered in file and case order.

use super::case::{run_case, tables_of};
use super::catalog::Catalog;
use super::matcher::Failure;
use super::snapshot::{self, Compared};
use super::verdict::verdict;
use crate::model::test_suite::TestSuite;
use crate::model::{KeptFile, RunRecord};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// A test file to run.
#[derive(Debug, Clone)]
pub struct SuiteFile {
    /// Its path relative to the project (`tests/reorder_supply.test.json`).
    pub path: PathBuf,
    /// The suite it holds.
    pub suite: TestSuite,
}

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct SuiteOptions {
    /// Only the cases whose file, target or name contains this (any case).
    pub filter: Option<String>,
    /// Write every snapshot that differs or is missing.
    pub update: bool,
    /// A missing snapshot fails the case instead of being written (CI).
    pub strict_snapshots: bool,
}

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseStatus {
    /// Every expectation held.
    Passed,
    /// One did not, or the case could not run.
    Failed,
    /// Marked `"skip": true`.
    Skipped,
}

/// One case's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseResult {
    /// The test file, relative to the project.
    pub file: String,
    /// What it tests (`reorder_supply`, `event sku_reorder`, `POST /orders`).
    pub target: String,
    /// The case's name.
    pub name: String,
    /// The line its object starts on.
    pub line: Option<usize>,
    /// How it ended.
    pub status: CaseStatus,
    /// What did not hold.
    pub failures: Vec<Failure>,
    /// Wall time.
    pub duration_ms: f64,
    /// `written` or `updated` when its snapshot file was (to be) written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<&'static str>,
    /// Its runs, for a trace (not in the JSON: `flowdeck test --json` stays small).
    #[serde(skip)]
    pub runs: Vec<RunRecord>,
}

/// Every case's result.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Report {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
    /// Cases skipped.
    pub skipped: usize,
    /// Wall time of the whole run.
    pub duration_ms: f64,
    /// In file and case order.
    pub cases: Vec<CaseResult>,
}

/// A run's report and the snapshot files to write.
#[derive(Debug, Clone, Default)]
pub struct SuiteOutcome {
    /// The report.
    pub report: Report,
    /// Snapshot files written or updated (the caller keeps them: files or store).
    pub snapshots: Vec<KeptFile>,
}

/// Whether the filter picks a case.
fn picked(filter: Option<&str>, file: &SuiteFile, case: &str) -> bool {
    let Some(f) = filter else {
        return true;
    };
    let f = f.to_lowercase();
    file.path.to_string_lossy().to_lowercase().contains(&f)
        || file.suite.target.to_string().to_lowercase().contains(&f)
        || case.to_lowercase().contains(&f)
}

/// Run the cases of `files` against `catalog`, comparing snapshots with `kept` (snapshot
/// texts by path).
pub async fn run_all(
    catalog: Arc<Catalog>,
    files: Vec<SuiteFile>,
    kept: &BTreeMap<PathBuf, String>,
    options: &SuiteOptions,
) -> SuiteOutcome {
    let started = Instant::now();
    let width = std::thread::available_parallelism().map_or(2, std::num::NonZero::get) * 2;
    let gate = Arc::new(tokio::sync::Semaphore::new(width));
    let mut tasks = tokio::task::JoinSet::new();
    let mut slots: Vec<Option<CaseResult>> = Vec::new();
    let mut traces: Vec<Option<serde_json::Value>> = Vec::new();
    let mut task_slots = std::collections::HashMap::new();
    let files: Vec<Arc<SuiteFile>> = files.into_iter().map(Arc::new).collect();
    for file in &files {
        for (index, case) in file.suite.cases.iter().enumerate() {
            if !picked(options.filter.as_deref(), file, &case.name) {
                continue;
            }
            let slot = slots.len();
            let result = CaseResult {
                file: file.path.to_string_lossy().into_owned(),
                target: file.suite.target.to_string(),
                name: case.name.clone(),
                line: case.line,
                status: CaseStatus::Skipped,
                failures: Vec::new(),
                duration_ms: 0.0,
                snapshot: None,
                runs: Vec::new(),
            };
            slots.push(Some(result));
            traces.push(None);
            if case.skip {
                continue;
            }
            let (catalog, file, gate) = (catalog.clone(), file.clone(), gate.clone());
            let handle = tasks.spawn(async move {
                let _permit = gate.acquire_owned().await;
                let case = &file.suite.cases[index];
                let began = Instant::now();
                let run = run_case(&catalog, &file.suite, case, &tables_of(&case.expect)).await;
                let failures = verdict(case, &run);
                let trace = case.snapshot.then(|| snapshot::trace_of(&run));
                (slot, failures, trace, run.runs, began.elapsed())
            });
            task_slots.insert(handle.id(), slot);
        }
    }
    while let Some(joined) = tasks.join_next().await {
        let (slot, failures, trace, runs, took) = match joined {
            Ok(done) => done,
            Err(e) => {
                // a case that panicked fails, saying so; the others go on
                if let Some(r) = task_slots.get(&e.id()).and_then(|s| slots[*s].as_mut()) {
                    r.status = CaseStatus::Failed;
                    r.failures.push(Failure::plain(
                        "/",
                        serde_json::Value::Null,
                        format!("the case stopped: {e}"),
                    ));
                }
                continue;
            }
        };
        if let Some(r) = slots[slot].as_mut() {
            r.status = CaseStatus::Passed;
            r.failures = failures;
            r.runs = runs;
            r.duration_ms = took.as_secs_f64() * 1000.0;
        }
        traces[slot] = trace;
    }
    let mut outcome = SuiteOutcome::default();
    for (slot, trace) in slots.iter_mut().zip(traces) {
        let Some(result) = slot.as_mut() else {
            continue;
        };
        if let Some(trace) = trace {
            let path = snapshot::path_of(std::path::Path::new(&result.file), &result.name);
            let text = snapshot::text_of(&trace);
            match snapshot::compare(&trace, kept.get(&path).map(String::as_str)) {
                Compared::Same => {}
                Compared::Missing if options.strict_snapshots && !options.update => {
                    result.failures.push(Failure::plain(
                        "/snapshot",
                        serde_json::Value::Null,
                        format!(
                            "no snapshot {}: run flowdeck test --update to write it",
                            path.display()
                        ),
                    ));
                }
                Compared::Missing => {
                    result.snapshot = Some("written");
                    outcome.snapshots.push(KeptFile { path, text });
                }
                Compared::Differs(_) if options.update => {
                    result.snapshot = Some("updated");
                    outcome.snapshots.push(KeptFile { path, text });
                }
                Compared::Differs(failures) => result.failures.extend(failures),
            }
        }
        if result.status == CaseStatus::Passed && !result.failures.is_empty() {
            result.status = CaseStatus::Failed;
        }
    }
    let cases: Vec<CaseResult> = slots.into_iter().flatten().collect();
    let count = |s: CaseStatus| cases.iter().filter(|c| c.status == s).count();
    outcome.report = Report {
        passed: count(CaseStatus::Passed),
        failed: count(CaseStatus::Failed),
        skipped: count(CaseStatus::Skipped),
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        cases,
    };
    outcome
}
