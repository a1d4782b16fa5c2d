//! A test case from a recorded run (`flowdeck test --record RUN_ID`): its params (or
//! request), the rows its queries read as `data` (a query whose rows cannot be put back in
//! a fresh database, one that joins tables say, becomes a step mock), its HTTP answers as
//! mocks (each once, in order, so retries replay), its `$env` where it differs from the
//! project's defaults, its start as the virtual clock's, and its outcome as `expect`.

use crate::model::project::{TEST_SUFFIX, TESTS_DIR};
use crate::model::test_suite::SuiteTarget;
use crate::model::{
    KeptFile, ProjectConfig, RunRecord, RunStatus, RunTarget, StepRecord, StepStatus, parse_suite,
};
use crate::store::Store;
use crate::store::data::Scratch;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// A recorded case, written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Written {
    /// The test file.
    pub path: PathBuf,
    /// The case's name (unique in the file).
    pub name: String,
    /// What it tests.
    pub target: SuiteTarget,
}

/// Record run `run_id` of `store` as a case, added to the test file `out` (default: the
/// project's `tests/NAME.test.json`, in the folder the project was imported from); the store
/// keeps the file too when it is in that folder.
pub(crate) fn write_case(
    store: &Store,
    run_id: i64,
    out: Option<&Path>,
) -> Result<Written, String> {
    let run = store
        .run_with_steps(run_id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no run #{run_id} (flowdeck runs lists them)"))?;
    if !run.status.is_finished() {
        return Err(format!(
            "run #{run_id} is {}: record it when it has ended",
            run.status
        ));
    }
    let project = store.project().map_err(|e| e.to_string())?;
    let recorded = record(&run, project.schema.as_deref(), &project.config);
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
            .join(format!("{}{TEST_SUFFIX}", file_stem(&recorded.target))),
    };
    let (text, name) = add_case(&path, &recorded)?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(&path, &text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let relative = root.as_ref().and_then(|r| {
        let (p, r) = (
            std::fs::canonicalize(&path).ok()?,
            std::fs::canonicalize(r).ok()?,
        );
        p.strip_prefix(r).ok().map(Path::to_path_buf)
    });
    if let Some(rel) = relative {
        store
            .keep_files(&[KeptFile { path: rel, text }])
            .map_err(|e| e.to_string())?;
    }
    Ok(Written {
        path,
        name,
        target: recorded.target,
    })
}

/// A test file's name for what it tests: the workflow's name, `post_orders` for an endpoint.
fn file_stem(target: &SuiteTarget) -> String {
    let raw = match target {
        SuiteTarget::Workflow(n) | SuiteTarget::Event(n) => n.clone(),
        SuiteTarget::Endpoint { method, path } => format!("{method}{path}"),
    };
    let mut slug: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    while slug.contains("__") {
        slug = slug.replace("__", "_");
    }
    slug.trim_matches('_').to_string()
}

/// The test file at `path` with the recorded case added (a new file when there is none),
/// and the case's name (made unique in the file).
fn add_case(path: &Path, recorded: &Recorded) -> Result<(String, String), String> {
    let (key, value) = match &recorded.target {
        SuiteTarget::Workflow(n) => ("workflow", n.clone()),
        SuiteTarget::Event(n) => ("event", n.clone()),
        SuiteTarget::Endpoint { method, path } => ("endpoint", format!("{method} {path}")),
    };
    let mut file: Map<String, Value> = if path.exists() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let Ok(Value::Object(o)) = serde_json::from_str::<Value>(&text) else {
            return Err(format!(
                "{} is not a test file (not a JSON object): fix it, or give another file with --out",
                path.display()
            ));
        };
        if o.get(key).and_then(Value::as_str) != Some(value.as_str()) {
            return Err(format!(
                "{} tests something else than {}: give another file with --out",
                path.display(),
                recorded.target
            ));
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
    let Some(list) = cases.as_array_mut() else {
        return Err(format!("{}: `cases` is not an array", path.display()));
    };
    list.push(case);
    let mut text = serde_json::to_string_pretty(&Value::Object(file)).map_err(|e| e.to_string())?;
    text.push('\n');
    if let Some(d) = parse_suite(&text, path).diagnostics.first() {
        return Err(format!("the recorded case would not be a valid test: {d}"));
    }
    Ok((text, name))
}

/// A case, and the suite head it belongs under, from a run with its steps.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Recorded {
    /// What the case tests.
    pub target: SuiteTarget,
    /// The case, as test-file JSON.
    pub case: Value,
}

/// The case that replays `run` (steps included). `schema` is the project's `schema.sql`,
/// to try the rows in; `config` gives the `[env]` defaults and secrets.
pub(crate) fn record(run: &RunRecord, schema: Option<&str>, config: &ProjectConfig) -> Recorded {
    let steps = run.steps.as_deref().unwrap_or_default();
    let target = match &run.target {
        RunTarget::Workflow(name) => SuiteTarget::Workflow(name.clone()),
        RunTarget::Endpoint(key) => {
            let (method, path) = key.split_once(' ').unwrap_or((key, "/"));
            SuiteTarget::Endpoint {
                method: method.to_string(),
                path: path.to_string(),
            }
        }
    };
    let mut case = Map::new();
    case.insert(
        "name".into(),
        json!(format!("recorded from run #{}", run.id)),
    );
    match target {
        SuiteTarget::Endpoint { .. } => case.insert("request".into(), run.params.whole().clone()),
        _ => case.insert("params".into(), run.params.whole().clone()),
    };
    let (data, step_mocks) = reads(steps, schema);
    if !data.is_empty() {
        case.insert("data".into(), Value::Object(data));
    }
    let env = env_now(config);
    if !env.is_empty() {
        case.insert("env".into(), Value::Object(env));
    }
    if let Some(at) = run.started_at {
        case.insert("now".into(), json!(at.to_string()));
    }
    let http = http_mocks(steps);
    if !http.is_empty() || !step_mocks.is_empty() {
        let mut mocks = Map::new();
        if !http.is_empty() {
            mocks.insert("http".into(), Value::Array(http));
        }
        if !step_mocks.is_empty() {
            mocks.insert("steps".into(), Value::Object(step_mocks));
        }
        case.insert("mocks".into(), Value::Object(mocks));
    }
    case.insert("expect".into(), expect_of(run, steps));
    Recorded {
        target,
        case: Value::Object(case),
    }
}

/// What the run ended with, as `expect`.
fn expect_of(run: &RunRecord, steps: &[StepRecord]) -> Value {
    let mut expect = Map::new();
    expect.insert("status".into(), json!(run.status));
    match run.status {
        RunStatus::Succeeded => {
            if let Some((status, body)) = run.response() {
                expect.insert("response".into(), json!({ "status": status, "body": body }));
            } else {
                expect.insert("output".into(), run.output.clone().unwrap_or(Value::Null));
            }
        }
        _ => {
            expect.insert("error".into(), json!(run.error));
        }
    }
    let emits: Vec<Value> = done(steps, "emit")
        .map(|s| json!({ "event": s.input["event"], "params": s.input["params"] }))
        .collect();
    expect.insert("emits".into(), Value::Array(emits));
    Value::Object(expect)
}

/// The succeeded records of `action`.
fn done<'a>(steps: &'a [StepRecord], action: &'a str) -> impl Iterator<Item = &'a StepRecord> {
    steps
        .iter()
        .filter(move |s| s.action == action && s.status == StepStatus::Succeeded)
}

/// The rows the run's queries read, by table, where they can be put back in a database
/// made from `schema`; the other queries as step mocks of their output.
fn reads(steps: &[StepRecord], schema: Option<&str>) -> (Map<String, Value>, Map<String, Value>) {
    let mut data: Map<String, Value> = Map::new();
    let mut mocks = Map::new();
    for s in done(steps, "db.query") {
        let rows = s.output.as_array().cloned().unwrap_or_default();
        let table = s.input["sql"].as_str().and_then(single_table);
        let fits = table.as_deref().is_some_and(|t| rows_fit(schema, t, &rows));
        match table {
            Some(t) if fits => {
                let list = data.entry(t).or_insert_with(|| json!([]));
                if let Some(list) = list.as_array_mut() {
                    for r in rows {
                        if !list.contains(&r) {
                            list.push(r);
                        }
                    }
                }
            }
            _ => {
                mocks.insert(s.step.clone(), json!({ "output": s.output }));
            }
        }
    }
    (data, mocks)
}

/// The one table a plain `SELECT … FROM t …` reads (none for joins, sub-queries, unions).
fn single_table(sql: &str) -> Option<String> {
    let lower = sql.to_ascii_lowercase();
    if lower.matches("select").count() != 1 || lower.contains(" join ") {
        return None;
    }
    let after = lower.split(" from ").nth(1)?;
    let name: String = after
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let rest = after.trim_start()[name.len()..].trim_start();
    if name.is_empty() || rest.starts_with(',') {
        return None;
    }
    Some(name)
}

/// Whether `rows` go into `table` of a fresh database made from `schema`.
fn rows_fit(schema: Option<&str>, table: &str, rows: &[Value]) -> bool {
    let Ok(db) = Scratch::in_memory() else {
        return false;
    };
    if let Some(s) = schema
        && db.run_script(s).is_err()
    {
        return false;
    }
    db.insert_rows(table, rows).is_ok()
}

/// HTTP answers in the order the run got them, each answering once.
fn http_mocks(steps: &[StepRecord]) -> Vec<Value> {
    steps
        .iter()
        .filter(|s| s.action == "http")
        .map(|s| {
            let mut m = json!({
                "method": s.input["method"],
                "url": s.input["url"],
                "times": 1,
            });
            match (&s.status, &s.error) {
                (StepStatus::Succeeded, _) => {
                    m["status"] = s.output["status"].clone();
                    m["body"] = s.output["body"].clone();
                }
                (_, Some(e)) => m["error"] = json!(e),
                _ => m["error"] = json!("failed"),
            }
            m
        })
        .collect()
}

/// `$env` values of the process that differ from the project's defaults (secrets left out:
/// a test file is no place for them).
fn env_now(config: &ProjectConfig) -> Map<String, Value> {
    config
        .env
        .iter()
        .filter(|(name, _)| !config.secrets.contains(name))
        .filter_map(|(name, default)| {
            let now = std::env::var(name).ok()?;
            (now != *default).then(|| (name.clone(), Value::String(now)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::single_table;

    #[test]
    fn a_plain_select_names_its_table() {
        assert_eq!(
            single_table("SELECT id, name FROM skus WHERE id = ?").as_deref(),
            Some("skus")
        );
        assert_eq!(single_table("select * from skus").as_deref(), Some("skus"));
        assert_eq!(
            single_table("SELECT a.id FROM a JOIN b ON a.id = b.id"),
            None
        );
        assert_eq!(single_table("SELECT * FROM a, b"), None);
        assert_eq!(single_table("SELECT (SELECT 1) FROM a"), None);
    }
}
