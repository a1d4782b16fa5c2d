//! Properties, checked on generated inputs (proptest): import → export → import is the
//! identity; an accepted definition reads back the same from its canonical JSON; the
//! dispatcher never runs an inactive workflow (nor an undeployed one live), whatever the
//! toggles and deploys between events; every cascade ends within the maximum depth, each
//! listener of each event run or skipped with the loop guard's reason; what-if writes
//! nothing to the store or the data database.
//!
//! Case counts are kept small (each case of the engine's properties opens a real store):
//! the whole file runs in well under a minute in a debug build. `PROPTEST_CASES=N` runs
//! more of each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Sandbox;
use flowdeck::engine::import::import_project;
use flowdeck::engine::program::{self, Origin};
use flowdeck::engine::what_if::Events;
use flowdeck::engine::{EmitRequest, Engine};
use flowdeck::model::{Definition, DefinitionKind, RunStatus, parse_definition, project};
use flowdeck::store::Store;
use proptest::collection::{btree_set, vec};
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Generators: valid definitions with steps of every kind, and projects of them
// ---------------------------------------------------------------------------------------------

/// Where a template is: the variables it may read differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Workflow,
    Endpoint,
}

const WORKFLOW_EXPRS: [&str; 7] = [
    "$param.sku",
    "$param",
    "$var",
    "$env.HOME",
    "$event.name",
    "$param.n + 1",
    "[1, 2, 3] | length",
];
const ENDPOINT_EXPRS: [&str; 6] = [
    "$body.sku",
    "$query.q",
    "$headers",
    "$path.id",
    "$var",
    "$body | length",
];
const EVENTS: [&str; 4] = ["ping", "sku_reorder", "order.created:v2", "a/b-c"];
const METHODS: [&str; 5] = ["GET", "post", "Put", "DELETE", "PATCH"];
const PATHS: [&str; 5] = [
    "/orders",
    "/orders/{id}",
    "/skus/{sku}/stock",
    "/ping",
    "/a.b/c-d",
];

/// Free text with the characters JSON escapes and a few beyond ASCII.
fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 _.,éü✓\"\\\\-]{0,12}"
}

fn ident() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,6}"
}

fn expr(place: Place) -> BoxedStrategy<String> {
    match place {
        Place::Workflow => select(WORKFLOW_EXPRS.to_vec())
            .prop_map(String::from)
            .boxed(),
        Place::Endpoint => select(ENDPOINT_EXPRS.to_vec())
            .prop_map(String::from)
            .boxed(),
    }
}

/// A value of a template-bearing field: literals, one template, text around templates,
/// objects and arrays of them.
fn template(place: Place) -> BoxedStrategy<Value> {
    prop_oneof![
        any::<i32>().prop_map(Value::from),
        (-1.0e6f64..1.0e6).prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
        text().prop_map(Value::from),
        expr(place).prop_map(|e| Value::from(format!("{{{{{e}}}}}"))),
        (text(), expr(place)).prop_map(|(t, e)| Value::from(format!("{t}{{{{ {e} }}}} end"))),
        (ident(), expr(place)).prop_map(|(k, e)| {
            let mut m = Map::new();
            m.insert(k, Value::from(format!("{{{{{e}}}}}")));
            m.insert("n".into(), json!([1, "two", null]));
            Value::Object(m)
        }),
    ]
    .boxed()
}

/// A step without nested steps (and without its id, given later).
fn leaf(place: Place) -> BoxedStrategy<Value> {
    let t = move || template(place);
    let action = prop_oneof![
        (ident(), t())
            .prop_map(|(var, value)| json!({"action": "set", "var": var, "value": value})),
        (select(EVENTS.to_vec()), t(), option::of(ident())).prop_map(|(event, p, r#as)| {
            let mut s = json!({"action": "emit", "event": event, "params": {"x": p}});
            if let Some(a) = r#as {
                s["as"] = a.into();
            }
            s
        }),
        (t(), ident()).prop_map(|(a, r#as)| json!({"action": "db.query",
            "sql": "SELECT count(*) AS n, ? AS v FROM t", "args": [a], "as": r#as})),
        (
            t(),
            select(vec![
                "INSERT INTO t (v) VALUES (?)",
                "UPDATE t SET v = ? WHERE id % 2 = 0",
                "DELETE FROM t WHERE v IS NOT ?",
            ])
        )
            .prop_map(|(a, sql)| json!({"action": "db.exec", "sql": sql, "args": [a]})),
        (
            select(METHODS.to_vec()),
            t(),
            option::of(t()),
            any::<bool>()
        )
            .prop_map(|(method, body, header, timeout)| {
                let mut s = json!({"action": "http", "method": method,
                    "url": "http://127.0.0.1:9/x", "body": body, "as": "reply"});
                if let Some(h) = header {
                    s["headers"] = json!({"x-a": h});
                }
                if timeout {
                    s["timeout_ms"] = json!(200);
                }
                s
            }),
        t().prop_map(|m| json!({"action": "log", "message": m})),
        (0u64..3).prop_map(|ms| json!({"action": "sleep", "ms": ms})),
        t().prop_map(|m| json!({"action": "fail", "message": m})),
        (t(), any::<bool>()).prop_map(move |(v, status)| {
            let mut s = json!({"action": "return", "value": v});
            if status && place == Place::Endpoint {
                s["status"] = json!(201);
            }
            s
        }),
    ];
    (action, option::of(text()), option::of((1u32..4, 0u64..20)))
        .prop_map(|(mut step, description, retry)| {
            if let Some(d) = description {
                step["description"] = d.into();
            }
            if let Some((max_attempts, backoff_ms)) = retry {
                step["retry"] = json!({"max_attempts": max_attempts, "backoff_ms": backoff_ms});
            }
            step
        })
        .boxed()
}

/// A step of any kind: `if`, `foreach` and `try` nest others, two levels deep at most.
fn step(place: Place) -> BoxedStrategy<Value> {
    leaf(place)
        .prop_recursive(2, 16, 3, move |inner| {
            prop_oneof![
                (
                    template(place),
                    vec(inner.clone(), 1..3),
                    vec(inner.clone(), 0..3),
                    any::<bool>()
                )
                    .prop_map(|(cond, then, otherwise, write_else)| {
                        let mut s = json!({"action": "if", "cond": cond, "then": then});
                        if write_else || !otherwise.is_empty() {
                            s["else"] = Value::Array(otherwise);
                        }
                        s
                    }),
                (ident(), vec(inner.clone(), 1..3)).prop_map(|(item, steps)| json!({
                    "action": "foreach", "in": "{{ [1, 2] }}", "as": item, "steps": steps})),
                (vec(inner.clone(), 1..3), vec(inner, 0..2)).prop_map(|(steps, catch)| json!({
                    "action": "try", "steps": steps, "catch": catch})),
            ]
        })
        .boxed()
}

/// Give every step, nested ones too, a unique id (`id` first, as people write it).
fn with_ids(steps: Vec<Value>, prefix: &str, next: &mut usize) -> Vec<Value> {
    steps
        .into_iter()
        .map(|s| {
            let Value::Object(fields) = s else {
                return s;
            };
            let mut out = Map::new();
            out.insert("id".into(), format!("{prefix}{next}").into());
            *next += 1;
            for (k, v) in fields {
                let v = match (k.as_str(), v) {
                    ("then" | "else" | "steps" | "catch", Value::Array(nested)) => {
                        Value::Array(with_ids(nested, prefix, next))
                    }
                    (_, v) => v,
                };
                out.insert(k, v);
            }
            Value::Object(out)
        })
        .collect()
}

fn steps(place: Place) -> impl Strategy<Value = Vec<Value>> {
    (vec(step(place), 0..5), select(vec!["s", "step-", "a.b_"])).prop_map(|(steps, prefix)| {
        let mut next = 0;
        with_ids(steps, prefix, &mut next)
    })
}

/// One definition file: its path in a project, its kind and its JSON.
#[derive(Debug, Clone)]
struct DefFile {
    rel: String,
    kind: DefinitionKind,
    value: Value,
    pretty: bool,
}

impl DefFile {
    fn text(&self) -> String {
        if self.pretty {
            serde_json::to_string_pretty(&self.value).unwrap() + "\n"
        } else {
            serde_json::to_string(&self.value).unwrap()
        }
    }
}

fn workflow(name: String) -> impl Strategy<Value = DefFile> {
    (
        option::of(text()),
        select(EVENTS.to_vec()),
        option::of(any::<bool>()),
        any::<bool>(),
        option::of((1u32..4, 0u64..500)),
        option::of(1u32..5),
        steps(Place::Workflow),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            move |(
                description,
                on,
                active,
                self_trigger,
                retry,
                concurrency,
                steps,
                schema,
                pretty,
            )| {
                let mut m = Map::new();
                if schema {
                    m.insert(
                        "$schema".into(),
                        "https://flowdeck.test/workflow.json".into(),
                    );
                }
                m.insert("name".into(), name.clone().into());
                if let Some(d) = description {
                    m.insert("description".into(), d.into());
                }
                m.insert("on".into(), on.into());
                if let Some(a) = active {
                    m.insert("active".into(), a.into());
                }
                if self_trigger {
                    m.insert("allow_self_trigger".into(), true.into());
                }
                if let Some((max_attempts, backoff_ms)) = retry {
                    m.insert(
                        "retry".into(),
                        json!({"max_attempts": max_attempts, "backoff_ms": backoff_ms}),
                    );
                }
                if let Some(c) = concurrency {
                    m.insert("concurrency".into(), c.into());
                }
                m.insert("steps".into(), Value::Array(steps));
                DefFile {
                    rel: format!("workflows/{name}.json"),
                    kind: DefinitionKind::Workflow,
                    value: Value::Object(m),
                    pretty,
                }
            },
        )
}

fn endpoint(
    index: usize,
    method: &'static str,
    path: &'static str,
) -> impl Strategy<Value = DefFile> {
    (
        option::of(text()),
        option::of(text()),
        steps(Place::Endpoint),
        any::<bool>(),
    )
        .prop_map(move |(name, description, steps, pretty)| {
            let mut m = Map::new();
            if let Some(n) = name {
                m.insert("name".into(), n.into());
            }
            if let Some(d) = description {
                m.insert("description".into(), d.into());
            }
            m.insert("method".into(), method.into());
            m.insert("path".into(), path.into());
            m.insert("steps".into(), Value::Array(steps));
            DefFile {
                rel: format!("endpoints/ep{index}.json"),
                kind: DefinitionKind::Endpoint,
                value: Value::Object(m),
                pretty,
            }
        })
}

fn definition() -> impl Strategy<Value = DefFile> {
    prop_oneof![
        "[a-z0-9][a-z0-9_.-]{0,8}".prop_flat_map(workflow),
        (0..METHODS.len(), 0..PATHS.len())
            .prop_flat_map(|(m, p)| endpoint(0, METHODS[m], PATHS[p])),
    ]
}

/// A project: `flowdeck.toml`, maybe `schema.sql`, definitions and maybe a test file.
#[derive(Debug, Clone)]
struct ProjectFiles {
    toml: String,
    schema: Option<String>,
    definitions: Vec<DefFile>,
    test_file: Option<(String, String)>,
}

impl ProjectFiles {
    /// Every file, by path relative to the project folder.
    fn files(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        out.insert("flowdeck.toml".to_string(), self.toml.clone());
        if let Some(s) = &self.schema {
            out.insert("schema.sql".to_string(), s.clone());
        }
        for d in &self.definitions {
            out.insert(d.rel.clone(), d.text());
        }
        if let Some((rel, text)) = &self.test_file {
            out.insert(rel.clone(), text.clone());
        }
        out
    }

    fn write(&self, root: &Path) {
        for (rel, text) in self.files() {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn project_files() -> impl Strategy<Value = ProjectFiles> {
    let workflows = btree_set("[a-z0-9][a-z0-9_.-]{0,8}", 1..4)
        .prop_flat_map(|names| names.into_iter().map(workflow).collect::<Vec<_>>());
    let endpoints = btree_set((0..METHODS.len(), 0..PATHS.len()), 0..3).prop_flat_map(|keys| {
        keys.into_iter()
            .enumerate()
            .map(|(i, (m, p))| endpoint(i, METHODS[m], PATHS[p]))
            .collect::<Vec<_>>()
    });
    (
        "[a-z][a-z0-9 -]{0,10}",
        btree_map_env(),
        option::of(1u32..20),
        any::<bool>(),
        workflows,
        endpoints,
        any::<bool>(),
    )
        .prop_map(
            |(name, env, max_depth, schema, workflows, endpoints, test_file)| {
                let mut toml = format!("# a generated project\nname = {}\n", toml_string(&name));
                if !env.is_empty() {
                    toml.push_str("\n[env]\n");
                    for (k, v) in &env {
                        toml.push_str(&format!("{k} = {}\n", toml_string(v)));
                    }
                }
                if let Some(d) = max_depth {
                    toml.push_str(&format!("\n[engine]\nmax_depth = {d}\n"));
                }
                let schema = schema.then(|| {
                    "-- the data\nCREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v);\n"
                        .to_string()
                });
                let test_file = test_file.then(|| {
                    let name = workflows[0].value["name"].as_str().unwrap().to_string();
                    let text = serde_json::to_string_pretty(&json!({
                        "workflow": name,
                        "cases": [{"name": "it runs", "params": {"sku": 1},
                                   "expect": {"status": "succeeded"}}]
                    }))
                    .unwrap();
                    (format!("tests/{name}.test.json"), text)
                });
                let mut definitions = workflows;
                definitions.extend(endpoints);
                ProjectFiles {
                    toml,
                    schema,
                    definitions,
                    test_file,
                }
            },
        )
}

fn btree_map_env() -> impl Strategy<Value = BTreeMap<String, String>> {
    proptest::collection::btree_map("[A-Z][A-Z0-9_]{0,6}", "[ -~é]{0,10}", 0..3)
}

// ---------------------------------------------------------------------------------------------
// Helpers: reading stores and folders back
// ---------------------------------------------------------------------------------------------

/// Import `root` into the store at `db` with the project's import API; the report must be
/// clean.
fn import(db: &Path, root: &Path) -> Result<(), TestCaseError> {
    let loaded = project::load(root).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut store = Store::open(db).unwrap();
    let report = import_project(&mut store, &loaded).unwrap();
    prop_assert!(
        report.is_clean(),
        "import of {} has faults: {:#?}",
        root.display(),
        report.diagnostics
    );
    Ok(())
}

/// What a store holds of a project, everything an import writes but times and ids.
fn store_picture(db: &Path) -> Value {
    let store = Store::open(db).unwrap();
    let definitions: Vec<Value> = store
        .list_definitions()
        .unwrap()
        .into_iter()
        .map(|row| {
            json!({
                "kind": row.kind,
                "name": row.name,
                "on": row.on_event,
                "method": row.method,
                "path": row.path,
                "active": row.active,
                "live_version": row.live_version,
                "source_file": row.source_file,
                "draft": store.definition_body(row.id, None).unwrap(),
                "source": store.definition_source(row.id, None).unwrap(),
            })
        })
        .collect();
    let project = store.project().unwrap();
    let kept: Vec<Value> = store
        .kept_files("")
        .unwrap()
        .into_iter()
        .map(|k| json!([k.path, k.text]))
        .collect();
    json!({
        "definitions": definitions,
        "config": project.config,
        "config_text": project.config_text,
        "schema": project.schema,
        "kept": kept,
    })
}

/// Every file under `root`, by relative path.
fn folder(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// `flowdeck export DIR` of the sandbox's store, by the real binary.
fn export(sandbox: &Sandbox, dir: &str) -> Result<PathBuf, TestCaseError> {
    let out = sandbox.cli(&["export", dir]);
    prop_assert!(out.status.success(), "{}", common::text(&out));
    Ok(sandbox.path(dir))
}

/// Every row of every table of a SQLite file, as text, sorted by table and row.
fn rows(db: &Path) -> BTreeMap<String, Vec<String>> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = BTreeMap::new();
    for table in tables {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM \"{}\"", table.replace('"', "\"\"")))
            .unwrap();
        let columns = stmt.column_count();
        let mut all: Vec<String> = stmt
            .query_map([], |r| {
                (0..columns)
                    .map(|i| r.get::<_, rusqlite::types::Value>(i))
                    .collect::<Result<Vec<_>, _>>()
                    .map(|v| format!("{v:?}"))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        all.sort();
        out.insert(table, all);
    }
    out
}

/// `n` cases, or `PROPTEST_CASES` when it is set.
fn cases(n: u32) -> ProptestConfig {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(n);
    ProptestConfig::with_cases(n)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A workflow file of `steps`, listening to `on`.
fn workflow_text(name: &str, on: &str, active: bool, self_trigger: bool, steps: Value) -> String {
    serde_json::to_string_pretty(&json!({
        "name": name, "on": on, "active": active,
        "allow_self_trigger": self_trigger, "steps": steps,
    }))
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// import → export → import
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(24))]

    /// A project imported, exported and imported into a fresh store: the same store, and
    /// the export gives back the files that were imported, byte for byte.
    #[test]
    fn import_export_import_is_the_identity(files in project_files()) {
        let first = Sandbox::new();
        let root = first.path("project");
        files.write(&root);
        import(&first.db(), &root)?;
        let exported = export(&first, "exported")?;
        prop_assert_eq!(folder(&exported), files.files());

        let second = Sandbox::new();
        import(&second.db(), &exported)?;
        prop_assert_eq!(store_picture(&second.db()), store_picture(&first.db()));
        let again = export(&second, "again")?;
        prop_assert_eq!(folder(&again), folder(&exported));
    }
}

// ---------------------------------------------------------------------------------------------
// parse → serialize → parse
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(256))]

    /// A definition the loader accepts reads back the same from its canonical JSON (what
    /// the store keeps and deploys), with its kind told from its fields or its folder.
    #[test]
    fn an_accepted_definition_round_trips(file in definition()) {
        let text = file.text();
        let path = Path::new(&file.rel);
        let parsed = parse_definition(&text, path, Some(file.kind));
        prop_assert!(parsed.diagnostics.is_empty(), "{:#?}\n{text}", parsed.diagnostics);
        let definition = parsed.definition.unwrap();
        prop_assert!(
            program::compile(&definition, Origin { file: path, text: Some(&text) }, 0, None).is_ok(),
            "its templates do not compile:\n{}", text
        );
        let mut json = definition.canonical_json();
        if let (Definition::Workflow(w), Value::Object(map)) = (&definition, &mut json) {
            map.insert("active".into(), w.active.into());
        }
        for written in [serde_json::to_string(&json).unwrap(), serde_json::to_string_pretty(&json).unwrap()] {
            for kind in [Some(file.kind), None] {
                let again = parse_definition(&written, path, kind);
                prop_assert!(again.diagnostics.is_empty(), "{:#?}\n{written}", again.diagnostics);
                prop_assert_eq!(again.definition.as_ref(), Some(&definition), "\n{}", written);
            }
        }
        // the canonical JSON is a fixed point
        let again = parse_definition(&json.to_string(), path, Some(file.kind)).definition.unwrap();
        prop_assert_eq!(again.canonical_json(), definition.canonical_json());
    }
}

// ---------------------------------------------------------------------------------------------
// The dispatcher never runs an inactive workflow
// ---------------------------------------------------------------------------------------------

/// A listener: its `active` in the file, whether it is deployed at the start, and which
/// event it listens to (`ping` or, one time in three, `pong`).
#[derive(Debug, Clone)]
struct ListenerSpec {
    active: bool,
    deployed: bool,
    on_ping: bool,
}

/// What happens between events, from another connection (as `flowdeck toggle` and
/// `flowdeck deploy` in another process would): a toggle, a deploy, an emit of `ping`.
#[derive(Debug, Clone)]
enum Op {
    Toggle(usize, bool),
    Deploy(usize),
    Emit { draft: bool },
}

fn dispatch_case() -> impl Strategy<Value = (Vec<ListenerSpec>, Vec<Op>)> {
    vec(
        (any::<bool>(), any::<bool>(), 0..3u8).prop_map(|(active, deployed, on)| ListenerSpec {
            active,
            deployed,
            on_ping: on < 2,
        }),
        1..6,
    )
    .prop_flat_map(|listeners| {
        let n = listeners.len();
        let op = prop_oneof![
            (0..n, any::<bool>()).prop_map(|(i, on)| Op::Toggle(i, on)),
            (0..n).prop_map(Op::Deploy),
            any::<bool>().prop_map(|draft| Op::Emit { draft }),
        ];
        (Just(listeners), vec(op, 0..6))
    })
}

proptest! {
    #![proptest_config(cases(24))]

    /// Every emit of `ping` runs exactly the active listeners of `ping` that have the version
    /// it asks for (the live one, or any draft with `--draft`) and skips every other
    /// listener with its reason; an inactive workflow never runs.
    #[test]
    fn the_dispatcher_never_runs_an_inactive_workflow((listeners, mut ops) in dispatch_case()) {
        let sandbox = Sandbox::new();
        let mut files = vec![("flowdeck.toml".to_string(), "name = \"d\"\n".to_string())];
        for (i, l) in listeners.iter().enumerate() {
            let on = if l.on_ping { "ping" } else { "pong" };
            let steps = json!([{"id": "hello", "action": "log", "message": "n = {{ $param.n }}"}]);
            files.push((format!("workflows/l{i}.json"), workflow_text(&format!("l{i}"), on, l.active, false, steps)));
        }
        let refs: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
        let root = sandbox.project("d", None, &refs);
        import(&sandbox.db(), &root)?;
        let ids: Vec<i64> = {
            let store = Store::open(&sandbox.db()).unwrap();
            (0..listeners.len())
                .map(|i| {
                    let id = store.find_definition(DefinitionKind::Workflow, &format!("l{i}")).unwrap().unwrap().id;
                    if listeners[i].deployed {
                        store.deploy(id).unwrap();
                    }
                    id
                })
                .collect()
        };
        let mut active: Vec<bool> = listeners.iter().map(|l| l.active).collect();
        let mut deployed: Vec<bool> = listeners.iter().map(|l| l.deployed).collect();
        ops.push(Op::Emit { draft: false });
        ops.push(Op::Emit { draft: true });

        let rt = runtime();
        let engine = rt.block_on(async { Engine::open(&sandbox.db(), 4) }).unwrap();
        for (n, op) in ops.iter().enumerate() {
            match *op {
                Op::Toggle(i, on) => {
                    Store::open(&sandbox.db()).unwrap().set_active(ids[i], on).unwrap();
                    active[i] = on;
                }
                Op::Deploy(i) => {
                    Store::open(&sandbox.db()).unwrap().deploy(ids[i]).unwrap();
                    deployed[i] = true;
                }
                Op::Emit { draft } => {
                    let mut request = EmitRequest::new("ping", json!({"n": n}), "test");
                    request.draft = draft;
                    let report = rt.block_on(engine.emit_and_wait(request)).unwrap();
                    let ran: BTreeSet<String> =
                        report.cascade.runs.iter().map(|r| r.target.name().to_string()).collect();
                    let skipped: BTreeMap<String, String> = report
                        .cascade
                        .skipped
                        .iter()
                        .map(|s| (s.workflow.clone(), s.reason.clone()))
                        .collect();
                    let mut want_ran = BTreeSet::new();
                    let mut want_skipped = BTreeMap::new();
                    for (i, l) in listeners.iter().enumerate() {
                        let name = format!("l{i}");
                        if !l.on_ping {
                            continue;
                        }
                        if !active[i] {
                            want_skipped.insert(name, "inactive".to_string());
                        } else if !draft && !deployed[i] {
                            want_skipped.insert(name, "not deployed".to_string());
                        } else {
                            want_ran.insert(name);
                        }
                    }
                    for name in &ran {
                        let i: usize = name[1..].parse().unwrap();
                        prop_assert!(active[i], "inactive {} ran (op {}: {:?})", name, n, op);
                    }
                    prop_assert_eq!(&ran, &want_ran, "op {}: {:?}", n, op);
                    prop_assert_eq!(&skipped, &want_skipped, "op {}: {:?}", n, op);
                    prop_assert_eq!(report.cascade.runs.len(), want_ran.len(), "one run each");
                    for run in &report.cascade.runs {
                        prop_assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run);
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The loop guard: every cascade ends within the maximum depth
// ---------------------------------------------------------------------------------------------

/// Workflows over events `e0`…`e3`: each listens to one and emits some (cycles included).
#[derive(Debug, Clone)]
struct Flow {
    on: usize,
    emits: Vec<usize>,
    allow_self_trigger: bool,
}

#[derive(Debug, Clone)]
struct Graph {
    max_depth: u32,
    root: usize,
    flows: Vec<Flow>,
}

const GRAPH_EVENTS: usize = 4;

/// The cascade the engine's rule gives: `(runs, skips by reason kind)`.
fn model(g: &Graph) -> (usize, BTreeMap<&'static str, usize>) {
    let mut runs = 0;
    let mut skips = BTreeMap::new();
    // (event, depth, chain of workflows that led to it)
    let mut queue = vec![(g.root, 0u32, Vec::<usize>::new())];
    while let Some((event, depth, chain)) = queue.pop() {
        for (w, flow) in g.flows.iter().enumerate() {
            if flow.on != event {
                continue;
            }
            if !flow.allow_self_trigger && chain.contains(&w) {
                *skips.entry("loop").or_default() += 1;
            } else if depth > g.max_depth {
                *skips.entry("max depth").or_default() += 1;
            } else {
                runs += 1;
                let mut next = chain.clone();
                next.push(w);
                for &e in &flow.emits {
                    queue.push((e, depth + 1, next.clone()));
                }
            }
        }
    }
    (runs, skips)
}

fn graph() -> impl Strategy<Value = Graph> {
    (
        1u32..4,
        0..GRAPH_EVENTS,
        vec(
            (
                0..GRAPH_EVENTS,
                vec(0..GRAPH_EVENTS, 1..3),
                prop::bool::weighted(0.3),
            )
                .prop_map(|(on, emits, allow_self_trigger)| Flow {
                    on,
                    emits,
                    allow_self_trigger,
                }),
            2..5,
        ),
    )
        .prop_map(|(max_depth, root, flows)| Graph {
            max_depth,
            root,
            flows,
        })
        // cascades the engine can run in a moment in a debug build
        .prop_filter("cascade too large", |g| model(g).0 <= 120)
}

proptest! {
    #![proptest_config(cases(32))]

    /// An emit into workflows that emit what others (or they themselves) listen to ends, no
    /// event beyond the maximum depth runs anything, and each listener of each event of the
    /// cascade either ran once or was skipped with the reason its ancestry gives: `loop: a →
    /// … → a` when it already ran above and may not trigger itself, `max depth` past the limit.
    #[test]
    fn the_loop_guard_always_ends(g in graph()) {
        let sandbox = Sandbox::new();
        let mut files = vec![(
            "flowdeck.toml".to_string(),
            format!("name = \"loops\"\n\n[engine]\nmax_depth = {}\n", g.max_depth),
        )];
        for (i, flow) in g.flows.iter().enumerate() {
            let steps: Vec<Value> = flow
                .emits
                .iter()
                .enumerate()
                .map(|(k, e)| json!({"id": format!("emit{k}"), "action": "emit", "event": format!("e{e}"),
                                     "params": {"from": format!("w{i}")}}))
                .collect();
            files.push((
                format!("workflows/w{i}.json"),
                workflow_text(&format!("w{i}"), &format!("e{}", flow.on), true, flow.allow_self_trigger, Value::Array(steps)),
            ));
        }
        let refs: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
        let root = sandbox.project("loops", None, &refs);
        sandbox.import_and_deploy(&root);

        let rt = runtime();
        let engine = rt.block_on(async { Engine::open(&sandbox.db(), 4) }).unwrap();
        let request = EmitRequest::new(format!("e{}", g.root), json!({}), "test");
        let report = rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(60), engine.emit_and_wait(request)).await });
        prop_assert!(report.is_ok(), "the cascade did not end within 60 s");
        let cascade = report.unwrap().unwrap().cascade;

        let runs: HashMap<i64, _> = cascade.runs.iter().map(|r| (r.id, r)).collect();
        let events: HashMap<i64, _> = cascade.events.iter().map(|e| (e.id, e)).collect();
        for run in &cascade.runs {
            prop_assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run);
            let event = events[&run.event_id.unwrap()];
            prop_assert!(event.depth <= g.max_depth, "a run of an event of depth {}", event.depth);
        }
        for event in &cascade.events {
            prop_assert!(event.depth <= g.max_depth + 1);
            // the workflows whose runs led to this event, root first
            let mut chain = Vec::new();
            let mut parent = event.parent_run;
            while let Some(run_id) = parent {
                let run = runs[&run_id];
                chain.insert(0, run.target.name().to_string());
                parent = events[&run.event_id.unwrap()].parent_run;
            }
            prop_assert_eq!(chain.len() as u32, event.depth);
            for (w, flow) in g.flows.iter().enumerate() {
                if event.name != format!("e{}", flow.on) {
                    continue;
                }
                let name = format!("w{w}");
                let ran: Vec<_> = cascade.runs.iter()
                    .filter(|r| r.event_id == Some(event.id) && r.target.name() == name)
                    .collect();
                let skipped: Vec<_> = cascade.skipped.iter()
                    .filter(|s| s.event_id == event.id && s.workflow == name)
                    .collect();
                let want = match chain.iter().position(|c| *c == name) {
                    Some(first) if !flow.allow_self_trigger => {
                        let mut path = chain[first..].to_vec();
                        path.push(name.clone());
                        Some(format!("loop: {}", path.join(" → ")))
                    }
                    _ if event.depth > g.max_depth => Some("max depth".to_string()),
                    _ => None,
                };
                match want {
                    None => {
                        prop_assert_eq!(ran.len(), 1, "{} on event {:?}", name, event);
                        prop_assert!(skipped.is_empty());
                    }
                    Some(reason) => {
                        prop_assert!(ran.is_empty(), "{} ran on event {:?}; want {}", name, event, reason);
                        prop_assert_eq!(skipped.len(), 1, "{} on event {:?}", name, event);
                        prop_assert_eq!(&skipped[0].reason, &reason);
                    }
                }
            }
        }
        let (want_runs, want_skips) = model(&g);
        prop_assert_eq!(cascade.runs.len(), want_runs);
        let mut skips: BTreeMap<&str, usize> = BTreeMap::new();
        for s in &cascade.skipped {
            let kind = if s.reason.starts_with("loop: ") { "loop" } else { "max depth" };
            *skips.entry(kind).or_default() += 1;
        }
        prop_assert_eq!(skips, want_skips);
    }
}

// ---------------------------------------------------------------------------------------------
// What-if never writes
// ---------------------------------------------------------------------------------------------

/// The live version of `w`: it reads, writes, emits `told` (whose listener writes too) and
/// returns.
const LIVE: &str = r#"{"name": "w", "on": "go", "steps": [
  {"id": "read", "action": "db.query", "sql": "SELECT count(*) AS n FROM t", "as": "rows"},
  {"id": "write", "action": "db.exec", "sql": "INSERT INTO t (v) VALUES (?)", "args": ["{{$param.v}}"], "as": "row"},
  {"id": "tell", "action": "emit", "event": "told", "params": {"v": "{{$param.v}}"}},
  {"id": "done", "action": "return", "value": {"n": "{{$var.rows[0].n}}", "row": "{{$var.row.last_id}}"}}
]}"#;
const HEAR: &str = r#"{"name": "hear", "on": "told", "steps": [
  {"id": "keep", "action": "db.exec", "sql": "INSERT INTO t (v) VALUES (?)", "args": ["heard {{$param.v}}"]}
]}"#;
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v);\n";

/// A draft of `w`: steps of every kind, with a write and an emit among them (where a step
/// before them may fail the run first).
fn what_if_draft() -> impl Strategy<Value = Vec<Value>> {
    (
        vec(step(Place::Workflow), 0..4),
        select(vec![
            "INSERT INTO t (v) VALUES (?)",
            "UPDATE t SET v = ?",
            "DELETE FROM t WHERE v IS NOT ?",
        ]),
        0usize..3,
        0usize..4,
    )
        .prop_map(|(mut steps, sql, write_at, emit_at)| {
            let write = json!({"action": "db.exec", "sql": sql, "args": ["{{ $param.v }}"]});
            steps.insert(write_at.min(steps.len()), write);
            let emit = json!({"action": "emit", "event": "told", "params": {"v": 1}});
            steps.insert(emit_at.min(steps.len()), emit);
            let mut next = 0;
            with_ids(steps, "d", &mut next)
        })
}

#[derive(Debug, Clone)]
enum Which {
    Last(u32),
    Ids(Vec<usize>),
}

proptest! {
    #![proptest_config(cases(16))]

    /// A what-if of any draft of `w` against recorded events (its own writes, emits and
    /// requests included) leaves every row of the store and of the data database as it was.
    #[test]
    fn what_if_never_writes(
        draft in what_if_draft(),
        params in vec(any::<i16>(), 1..4),
        which in prop_oneof![
            3 => (0u32..5).prop_map(Which::Last),
            1 => vec(0usize..5, 0..4).prop_map(Which::Ids),
        ],
    ) {
        let sandbox = Sandbox::new();
        let root = sandbox.project("p", Some(SCHEMA), &[("workflows/w.json", LIVE), ("workflows/hear.json", HEAR)]);
        sandbox.import_and_deploy(&root);
        let rt = runtime();
        let engine = rt.block_on(async { Engine::open(&sandbox.db(), 4) }).unwrap();
        let mut ids = Vec::new();
        for v in &params {
            let report = rt
                .block_on(engine.emit_and_wait(EmitRequest::new("go", json!({"v": v, "sku": v}), "test")))
                .unwrap();
            ids.push(report.event.id);
        }
        // the draft, imported from another connection as `flowdeck import` would
        std::fs::write(
            root.join("workflows/w.json"),
            workflow_text("w", "go", true, false, Value::Array(draft.clone())),
        )
        .unwrap();
        import(&sandbox.db(), &root)?;

        let data = sandbox.path("flowdeck.data.db");
        let (store_before, data_before) = (rows(&sandbox.db()), rows(&data));
        prop_assert!(data_before["t"].len() >= 2 * params.len(), "the live runs wrote");
        let events = match &which {
            Which::Last(n) => Events::Last(*n),
            // an index past the events recorded is an id that names none
            Which::Ids(picks) => Events::Ids(
                picks.iter().map(|&i| ids.get(i).copied().unwrap_or(1_000_000 + i as i64)).collect(),
            ),
        };
        let report = rt.block_on(engine.what_if("w", events.clone()));
        if let (Ok(report), Events::Last(n)) = (&report, &events) {
            prop_assert_eq!(report.events.len(), (*n as usize).min(params.len()));
        }
        prop_assert_eq!(rows(&sandbox.db()), store_before, "the store changed ({:?})", report.map(|r| r.events.len()));
        prop_assert_eq!(rows(&data), data_before, "the data database changed");
    }
}
