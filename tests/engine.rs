//! The engine against a real SQLite store in a temporary folder (the rules of docs/file-format.md and docs/contracts.md): every action
//! and the step record it leaves, typed templates, bound SQL parameters, every skip reason,
//! fan-out and nested cascades, retries, expression limits, a restart in the middle of a
//! stored history, debug runs of drafts, and the masking of secrets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::Router;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use common::Sandbox;
use flowdeck::engine::import::import_project;
use flowdeck::engine::secrets::MASK;
use flowdeck::engine::{EmitReport, EmitRequest, EndpointRequest, Engine};
use flowdeck::model::{
    DefinitionKind, RunMode, RunRecord, RunStatus, SkipRecord, StepRecord, StepStatus,
};
use flowdeck::model::{RunTarget, project};
use flowdeck::store::events::EventFilter;
use flowdeck::store::runs::RunFilter;
use flowdeck::store::{DataDb, Store};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

// ---------------------------------------------------------------------------------------------
// Set-up shared by the tests
// ---------------------------------------------------------------------------------------------

/// A workflow definition listening to `on`.
fn workflow(name: &str, on: &str, steps: Value) -> Value {
    json!({ "name": name, "on": on, "steps": steps })
}

/// Definition files for `defs`: workflows (with `on`) as `workflows/<name>.json`, endpoints
/// as `endpoints/<n>.json`.
fn definition_files(defs: &[Value]) -> Vec<(String, String)> {
    defs.iter()
        .enumerate()
        .map(|(i, d)| {
            let rel = match d.get("name").and_then(Value::as_str) {
                Some(name) if d.get("on").is_some() => format!("workflows/{name}.json"),
                _ => format!("endpoints/endpoint{i}.json"),
            };
            (rel, serde_json::to_string_pretty(d).unwrap())
        })
        .collect()
}

/// Write (or rewrite) the project folder `shop`: `flowdeck.toml` with `settings` appended,
/// `schema.sql` when given, and the definition files of `defs`.
fn write_project(
    sandbox: &Sandbox,
    settings: &str,
    schema: Option<&str>,
    defs: &[Value],
) -> PathBuf {
    let mut files = definition_files(defs);
    files.push((
        "flowdeck.toml".to_string(),
        format!("name = \"shop\"\n{settings}\n"),
    ));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    sandbox.project("shop", schema, &refs)
}

/// Import a project folder as drafts, deploying nothing; panics on faults.
fn import_only(sandbox: &Sandbox, root: &Path) {
    let loaded = project::load(root).unwrap();
    let mut store = Store::open(&sandbox.db()).unwrap();
    let report = import_project(&mut store, &loaded).unwrap();
    assert!(
        report.is_clean(),
        "import faults: {:#?}",
        report.diagnostics
    );
}

/// A sandbox holding an imported and deployed project, with an engine on its store.
struct Fixture {
    sandbox: Sandbox,
    root: PathBuf,
    engine: Engine,
}

/// Write, import and deploy a project of `defs`, then open an engine on it.
fn fixture(settings: &str, schema: Option<&str>, defs: &[Value]) -> Fixture {
    let sandbox = Sandbox::new();
    let root = write_project(&sandbox, settings, schema, defs);
    sandbox.import_and_deploy(&root);
    let engine = sandbox.engine();
    Fixture {
        sandbox,
        root,
        engine,
    }
}

impl Fixture {
    /// Emit `event` from outside and wait for its whole cascade.
    async fn emit(&self, event: &str, params: Value) -> EmitReport {
        self.engine
            .emit_and_wait(EmitRequest::new(event, params, "test"))
            .await
            .unwrap()
    }

    /// One run with every step record, read back from the store.
    fn run(&self, id: i64) -> RunRecord {
        self.engine.store().run_with_steps(id).unwrap().unwrap()
    }

    /// The first run of an emit's cascade, with its step records.
    fn first_run(&self, report: &EmitReport) -> RunRecord {
        let first = report.cascade.runs.first().expect("the emit ran nothing");
        self.run(first.id)
    }

    /// The project's data database.
    fn data(&self) -> DataDb {
        DataDb::open(&self.sandbox.path("flowdeck.data.db")).unwrap()
    }

    /// The store id of a workflow.
    fn workflow_id(&self, name: &str) -> i64 {
        self.engine
            .store()
            .find_definition(DefinitionKind::Workflow, name)
            .unwrap()
            .unwrap()
            .id
    }
}

/// Deploy `defs` as one project, emit `event` once and return the fixture, the report and
/// the first run of the cascade with its step records.
async fn run_once(defs: &[Value], event: &str, params: Value) -> (Fixture, EmitReport, RunRecord) {
    run_once_with("", None, defs, event, params).await
}

/// [`run_once`] with project settings and a schema.
async fn run_once_with(
    settings: &str,
    schema: Option<&str>,
    defs: &[Value],
    event: &str,
    params: Value,
) -> (Fixture, EmitReport, RunRecord) {
    let f = fixture(settings, schema, defs);
    let report = f.emit(event, params).await;
    let run = f.first_run(&report);
    (f, report, run)
}

/// Every step record of a run.
fn steps(run: &RunRecord) -> &[StepRecord] {
    run.steps.as_deref().expect("run read without its steps")
}

/// The records of step `id` (one per attempt and per iteration), in order.
fn records<'a>(run: &'a RunRecord, id: &str) -> Vec<&'a StepRecord> {
    steps(run).iter().filter(|s| s.step == id).collect()
}

/// The one record of step `id`.
fn record<'a>(run: &'a RunRecord, id: &str) -> &'a StepRecord {
    match records(run, id).as_slice() {
        [one] => one,
        other => panic!(
            "expected one record of step {id}, found {}: {:#?}",
            other.len(),
            steps(run)
        ),
    }
}

/// The ids of the recorded steps, in `seq` order.
fn step_ids(run: &RunRecord) -> Vec<&str> {
    steps(run).iter().map(|s| s.step.as_str()).collect()
}

/// Assert that a run succeeded, showing it whole when it did not.
fn assert_succeeded(run: &RunRecord) {
    assert_eq!(run.status, RunStatus::Succeeded, "{run:#?}");
}

/// `(workflow, reason)` of the skips of a cascade.
fn skips(report: &EmitReport) -> Vec<(&str, &str)> {
    report
        .cascade
        .skipped
        .iter()
        .map(|s| (s.workflow.as_str(), s.reason.as_str()))
        .collect()
}

/// Serve `router` on 127.0.0.1 (a free port) for the rest of the test; returns its base URL.
async fn serve(router: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// Requests the echo server received: `{method, uri, headers, body}`.
type Seen = Arc<Mutex<Vec<Value>>>;

/// A server that records every request and answers:
/// - `/echo`: 201, header `x-reply: yes`, JSON `{"received": <request body>}`;
/// - `/teapot`: 418 with a JSON body;
/// - `/text`: 503 with a plain text body.
async fn echo_server() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let echo = move |method: Method, uri: axum::http::Uri, headers: HeaderMap, body: String| {
        let log = log.clone();
        async move {
            let mut names = Map::new();
            for (name, value) in &headers {
                names.insert(
                    name.as_str().to_string(),
                    Value::String(value.to_str().unwrap_or_default().to_string()),
                );
            }
            let body: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
            log.lock().unwrap().push(json!({
                "method": method.as_str(),
                "uri": uri.to_string(),
                "headers": names,
                "body": body,
            }));
            (
                StatusCode::CREATED,
                [("x-reply", "yes")],
                axum::Json(json!({ "received": body })),
            )
        }
    };
    let router = Router::new()
        .route("/echo", any(echo))
        .route(
            "/teapot",
            get(|| async {
                (
                    StatusCode::IM_A_TEAPOT,
                    axum::Json(json!({"error": "short and stout"})),
                )
                    .into_response()
            }),
        )
        .route(
            "/text",
            get(|| async {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::CONTENT_TYPE, "text/plain")],
                    "try later",
                )
            }),
        );
    (serve(router).await, seen)
}

/// A raw HTTP server that closes the first `failures` connections without answering, then
/// answers `{"ok": true}`; returns its base URL and the number of connections accepted.
async fn flaky_server(failures: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            if count.fetch_add(1, Ordering::SeqCst) < failures {
                drop(socket);
                continue;
            }
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let body = r#"{"ok":true}"#;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (format!("http://{addr}"), accepted)
}

/// A URL on 127.0.0.1 where nothing listens (a port that was free a moment ago).
async fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/nothing-here")
}

// ---------------------------------------------------------------------------------------------
// 1. Actions and their step records
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_binds_a_variable_and_records_input_output_and_vars() {
    let (_f, _report, run) = run_once(
        &[workflow(
            "w",
            "go",
            json!([
                {"id": "greet", "action": "set", "var": "greeting", "value": "hello {{$param.name}}"},
                {"id": "done", "action": "return", "value": "{{$var.greeting}}"}
            ]),
        )],
        "go",
        json!({"name": "ada"}),
    )
    .await;
    assert_succeeded(&run);
    let s = record(&run, "greet");
    assert_eq!(s.seq, 1);
    assert_eq!(s.action, "set");
    assert_eq!(s.path, "/steps/0");
    assert_eq!(s.status, StepStatus::Succeeded);
    assert_eq!(s.attempt, 1);
    assert_eq!(s.error, None);
    assert_eq!(s.input, json!({"var": "greeting", "value": "hello ada"}));
    assert_eq!(s.output, json!("hello ada"));
    assert_eq!(s.vars, Some(json!({"greeting": "hello ada"})));
    assert_eq!(run.output, Some(json!("hello ada")));
    assert_eq!(*run.params, json!({"name": "ada"}));
}

/// Params that come as text (`serve`, `emit`) are handed to the runs as that text and
/// built only as far as they are read: every way of reading `$param` sees what it sees when
/// they come as values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn params_sent_as_text_read_as_params_sent_as_values() {
    let f = fixture(
        "",
        None,
        &[workflow(
            "w",
            "go",
            json!([
                {"id": "field", "action": "set", "var": "sku", "value": "{{$param.order.items[1].sku}}"},
                {"id": "top", "action": "set", "var": "n", "value": "{{$param.n}}"},
                {"id": "missing", "action": "set", "var": "none", "value": "{{$param.nope.deeper}}"},
                {"id": "escaped", "action": "set", "var": "ab", "value": "{{$param.ab}}"},
                {"id": "jq", "action": "set", "var": "count", "value": "{{$param.order.items | length}}"},
                {"id": "done", "action": "return", "value": {"all": "{{$param}}", "vars": "{{$var}}"}}
            ]),
        )],
    );
    // a repeated key (the last wins) and an escaped one
    let text = r#"{"n": 1, "n": 2, "\u0061b": "x", "order": {"items": [{"sku": 7}, {"sku": 8}]}}"#;
    let as_values: Value = serde_json::from_str(text).unwrap();
    let compact = flowdeck::engine::effects::compact_object(text).unwrap();
    let from_text = f
        .engine
        .emit_and_wait(EmitRequest::with_text("go", compact, "test"))
        .await
        .unwrap();
    let from_values = f.emit("go", as_values.clone()).await;
    let (a, b) = (f.first_run(&from_text), f.first_run(&from_values));
    assert_succeeded(&a);
    assert_eq!(
        a.output,
        Some(
            json!({"all": as_values, "vars": {"sku": 8, "n": 2, "none": null, "ab": "x", "count": 2}})
        )
    );
    assert_eq!(a.output, b.output);
    assert_eq!(*a.params, as_values);
    assert_eq!(*from_text.event.params, as_values);
    let read_back = f.engine.store().event(from_text.event.id).unwrap().unwrap();
    assert_eq!(*read_back.record.params, as_values);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn params_sent_as_text_that_is_not_json_are_refused_before_anything_is_written() {
    let f = fixture(
        "",
        None,
        &[workflow(
            "w",
            "go",
            json!([{"id": "a", "action": "return", "value": 1}]),
        )],
    );
    for text in [r#"{"n": 1"#, r#"{"n": 1} trailing"#, "not json"] {
        let refused = f
            .engine
            .emit_and_wait(EmitRequest::with_text("go", text.to_string(), "test"))
            .await
            .unwrap_err()
            .to_string();
        assert!(refused.contains("event params"), "{text}: {refused}");
    }
    let conn = rusqlite::Connection::open(f.sandbox.db()).unwrap();
    for table in ["events", "runs"] {
        let n: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0, "{table}: a refused event left a record");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_runs_the_then_or_else_branch_and_records_which() {
    let f = fixture(
        "",
        None,
        &[workflow(
            "sizer",
            "go",
            json!([
                {"id": "check", "action": "if", "cond": "{{ $param.n > 10 }}",
                 "then": [{"id": "big", "action": "set", "var": "size", "value": "big"}],
                 "else": [{"id": "small", "action": "set", "var": "size", "value": "small"}]},
                {"id": "done", "action": "return", "value": "{{$var.size}}"}
            ]),
        )],
    );

    let then_run = f.first_run(&f.emit("go", json!({"n": 50})).await);
    assert_succeeded(&then_run);
    assert_eq!(then_run.output, Some(json!("big")));
    assert_eq!(step_ids(&then_run), ["check", "big", "done"]);
    let check = record(&then_run, "check");
    assert_eq!(check.action, "if");
    assert_eq!(check.status, StepStatus::Succeeded);
    assert_eq!(check.input, json!({"cond": true}));
    assert_eq!(check.output, json!({"branch": "then"}));
    assert_eq!(record(&then_run, "big").path, "/steps/0/then/0");

    let else_run = f.first_run(&f.emit("go", json!({"n": 5})).await);
    assert_succeeded(&else_run);
    assert_eq!(else_run.output, Some(json!("small")));
    assert_eq!(step_ids(&else_run), ["check", "small", "done"]);
    let check = record(&else_run, "check");
    assert_eq!(check.input, json!({"cond": false}));
    assert_eq!(check.output, json!({"branch": "else"}));
    assert_eq!(record(&else_run, "small").path, "/steps/0/else/0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreach_binds_item_and_index_and_records_every_body_step_per_item() {
    let (_f, _report, run) = run_once(
        &[workflow(
            "lines",
            "go",
            json!([
                {"id": "each", "action": "foreach", "in": "{{ $param.items }}", "as": "item",
                 "steps": [
                    {"id": "line", "action": "set", "var": "line", "value": "{{$var.item_index}}:{{$var.item}}"},
                    {"id": "say", "action": "log", "message": "{{$var.line}}"}
                 ]},
                {"id": "done", "action": "return", "value": {"last": "{{$var.item}}", "index": "{{$var.item_index}}"}}
            ]),
        )],
        "go",
        json!({"items": ["a", "b", "c"]}),
    )
    .await;
    assert_succeeded(&run);
    let lines = records(&run, "line");
    assert_eq!(lines.len(), 3, "{:#?}", steps(&run));
    for (i, (line, expected)) in lines.iter().zip(["0:a", "1:b", "2:c"]).enumerate() {
        assert_eq!(line.output, json!(expected));
        assert_eq!(line.iteration, vec![i]);
        assert_eq!(line.path, "/steps/0/steps/0");
    }
    let says = records(&run, "say");
    assert_eq!(says.len(), 3);
    let iterations: Vec<_> = says.iter().map(|s| s.iteration.clone()).collect();
    assert_eq!(iterations, [vec![0], vec![1], vec![2]]);
    let each = record(&run, "each");
    assert_eq!(each.action, "foreach");
    assert_eq!(each.status, StepStatus::Succeeded);
    assert_eq!(each.output, json!({"count": 3}));
    assert!(each.iteration.is_empty());
    assert_eq!(
        step_ids(&run),
        ["each", "line", "say", "line", "say", "line", "say", "done"]
    );
    assert_eq!(run.output, Some(json!({"last": "c", "index": 2})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_foreach_records_the_index_of_every_enclosing_loop() {
    let (_f, _report, run) = run_once(
        &[workflow(
            "grid",
            "go",
            json!([
                {"id": "rows", "action": "foreach", "in": "{{ $param.rows }}", "as": "row", "steps": [
                    {"id": "cells", "action": "foreach", "in": "{{ $var.row }}", "as": "cell", "steps": [
                        {"id": "cell", "action": "set", "var": "at",
                         "value": "{{$var.row_index}}/{{$var.cell_index}}={{$var.cell}}"}
                    ]}
                ]},
                {"id": "none", "action": "foreach", "in": [], "as": "x", "steps": [
                    {"id": "never", "action": "log", "message": "{{$var.x}}"}
                ]}
            ]),
        )],
        "go",
        json!({"rows": [["a", "b"], ["c"]]}),
    )
    .await;
    assert_succeeded(&run);
    let cells: Vec<(Vec<usize>, Value)> = records(&run, "cell")
        .iter()
        .map(|s| (s.iteration.clone(), s.output.clone()))
        .collect();
    assert_eq!(
        cells,
        [
            (vec![0, 0], json!("0/0=a")),
            (vec![0, 1], json!("0/1=b")),
            (vec![1, 0], json!("1/0=c")),
        ]
    );
    let inner: Vec<(Vec<usize>, Value)> = records(&run, "cells")
        .iter()
        .map(|s| (s.iteration.clone(), s.output.clone()))
        .collect();
    assert_eq!(
        inner,
        [
            (vec![0], json!({"count": 2})),
            (vec![1], json!({"count": 1}))
        ]
    );
    assert_eq!(record(&run, "none").output, json!({"count": 0}));
    assert!(records(&run, "never").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_creates_a_child_event_at_depth_one_whose_listener_runs() {
    let (f, report, parent) = run_once(
        &[
            workflow(
                "parent",
                "go",
                json!([
                    {"id": "tell", "action": "emit", "event": "child_evt",
                     "params": {"n": "{{$param.n}}"}, "as": "sent"},
                    {"id": "done", "action": "return", "value": "{{$var.sent}}"}
                ]),
            ),
            workflow(
                "child",
                "child_evt",
                json!([
                    {"id": "double", "action": "return",
                     "value": {"double": "{{ $param.n * 2 }}", "depth": "{{$event.depth}}", "name": "{{$event.name}}"}}
                ]),
            ),
        ],
        "go",
        json!({"n": 21}),
    )
    .await;
    assert_succeeded(&parent);
    let events = &report.cascade.events;
    assert_eq!(events.len(), 2, "{:#?}", report.cascade);
    assert_eq!(events[0].id, report.event.id);
    assert_eq!(events[0].depth, 0);
    assert_eq!(events[0].parent_run, None);
    let child_event = &events[1];
    assert_eq!(child_event.name, "child_evt");
    assert_eq!(child_event.depth, 1);
    assert_eq!(child_event.parent_run, Some(parent.id));
    assert_eq!(*child_event.params, json!({"n": 21}));
    assert_eq!(child_event.source, "workflow:parent");

    let tell = record(&parent, "tell");
    assert_eq!(tell.action, "emit");
    assert_eq!(
        tell.input,
        json!({"event": "child_evt", "params": {"n": 21}})
    );
    assert_eq!(tell.output, json!({"event_id": child_event.id}));
    assert_eq!(parent.output, Some(json!({"event_id": child_event.id})));

    assert_eq!(report.cascade.runs.len(), 2);
    let child = f.run(report.cascade.runs[1].id);
    assert_succeeded(&child);
    assert_eq!(child.target, RunTarget::Workflow("child".into()));
    assert_eq!(child.event_id, Some(child_event.id));
    assert_eq!(
        child.output,
        Some(json!({"double": 42, "depth": 1, "name": "child_evt"}))
    );
}

const SKUS: &str = "CREATE TABLE IF NOT EXISTS skus (id INTEGER PRIMARY KEY, name TEXT NOT NULL, stock INTEGER NOT NULL);
INSERT OR IGNORE INTO skus (id, name, stock) VALUES (1, 'bolt', 10), (2, 'nut', 80), (3, 'gear', 40);
CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, sku INTEGER NOT NULL, qty INTEGER NOT NULL);";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_query_returns_rows_as_objects() {
    let (_f, _report, run) = run_once_with(
        "",
        Some(SKUS),
        &[workflow(
            "low",
            "go",
            json!([
                {"id": "load", "action": "db.query",
                 "sql": "SELECT id, name, stock FROM skus WHERE stock < ? ORDER BY id",
                 "args": ["{{$param.below}}"], "as": "rows"},
                {"id": "done", "action": "return", "value": "{{ $var.rows | map(.name) }}"}
            ]),
        )],
        "go",
        json!({"below": 50}),
    )
    .await;
    assert_succeeded(&run);
    let load = record(&run, "load");
    assert_eq!(load.action, "db.query");
    assert_eq!(
        load.input,
        json!({"sql": "SELECT id, name, stock FROM skus WHERE stock < ? ORDER BY id", "args": [50]})
    );
    let rows = json!([
        {"id": 1, "name": "bolt", "stock": 10},
        {"id": 3, "name": "gear", "stock": 40}
    ]);
    assert_eq!(load.output, rows);
    assert_eq!(load.vars, Some(json!({"rows": rows})));
    assert_eq!(run.output, Some(json!(["bolt", "gear"])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_exec_returns_changes_and_last_id() {
    let (f, _report, run) = run_once_with(
        "",
        Some(SKUS),
        &[workflow(
            "order",
            "go",
            json!([
                {"id": "first", "action": "db.exec", "sql": "INSERT INTO orders (sku, qty) VALUES (?, ?)",
                 "args": ["{{$param.sku}}", "{{$param.qty}}"], "as": "one"},
                {"id": "second", "action": "db.exec", "sql": "INSERT INTO orders (sku, qty) VALUES (?, ?)",
                 "args": ["{{$param.sku}}", 7], "as": "two"},
                {"id": "bump", "action": "db.exec", "sql": "UPDATE orders SET qty = qty + 1 WHERE sku = ?",
                 "args": ["{{$param.sku}}"], "as": "bumped"},
                {"id": "done", "action": "return", "value": "{{ [$var.one, $var.two, $var.bumped.changes] }}"}
            ]),
        )],
        "go",
        json!({"sku": 2, "qty": 5}),
    )
    .await;
    assert_succeeded(&run);
    let first = record(&run, "first");
    assert_eq!(first.action, "db.exec");
    assert_eq!(
        first.input,
        json!({"sql": "INSERT INTO orders (sku, qty) VALUES (?, ?)", "args": [2, 5]})
    );
    assert_eq!(first.output, json!({"changes": 1, "last_id": 1}));
    assert_eq!(
        record(&run, "second").output,
        json!({"changes": 1, "last_id": 2})
    );
    assert_eq!(record(&run, "bump").output["changes"], json!(2));
    assert_eq!(
        run.output,
        Some(json!([{"changes": 1, "last_id": 1}, {"changes": 1, "last_id": 2}, 2]))
    );
    let rows = f
        .data()
        .query("SELECT id, sku, qty FROM orders ORDER BY id", &[])
        .unwrap();
    assert_eq!(
        rows,
        vec![
            json!({"id": 1, "sku": 2, "qty": 6}),
            json!({"id": 2, "sku": 2, "qty": 8})
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_sends_method_json_body_and_headers_and_parses_the_json_response() {
    let (base, seen) = echo_server().await;
    let url = format!("{base}/echo?from=flowdeck");
    let (_f, _report, run) = run_once(
        &[workflow(
            "caller",
            "go",
            json!([
                {"id": "order", "action": "http", "method": "POST", "url": url,
                 "headers": {"x-api-key": "key-{{$param.key}}", "x-count": "{{$param.qty}}"},
                 "body": {"sku": "{{$param.sku}}", "qty": "{{$param.qty}}"}, "as": "po"},
                {"id": "done", "action": "return", "value": "{{$var.po.body.received.sku}}"}
            ]),
        )],
        "go",
        json!({"key": 7, "sku": "A1", "qty": 3}),
    )
    .await;
    assert_succeeded(&run);

    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let req = &requests[0];
    assert_eq!(req["method"], "POST");
    assert_eq!(req["uri"], "/echo?from=flowdeck");
    assert_eq!(req["body"], json!({"sku": "A1", "qty": 3}));
    assert_eq!(req["headers"]["x-api-key"], "key-7");
    assert_eq!(req["headers"]["x-count"], "3");
    assert_eq!(req["headers"]["content-type"], "application/json");

    let order = record(&run, "order");
    assert_eq!(order.action, "http");
    assert_eq!(order.status, StepStatus::Succeeded);
    assert_eq!(
        order.input,
        json!({
            "method": "POST",
            "url": url,
            "headers": {"x-api-key": "key-7", "x-count": "3"},
            "body": {"sku": "A1", "qty": 3}
        })
    );
    assert_eq!(order.output["status"], 201);
    assert_eq!(order.output["headers"]["x-reply"], "yes");
    assert_eq!(order.output["headers"]["content-type"], "application/json");
    assert_eq!(
        order.output["body"],
        json!({"received": {"sku": "A1", "qty": 3}}),
        "the JSON body is parsed, not kept as text"
    );
    assert_eq!(run.output, Some(json!("A1")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_non_2xx_status_is_a_result_not_a_failure() {
    let (base, _seen) = echo_server().await;
    let (_f, _report, run) = run_once(
        &[workflow(
            "caller",
            "go",
            json!([
                {"id": "teapot", "action": "http", "url": format!("{base}/teapot"), "as": "t"},
                {"id": "text", "action": "http", "method": "get", "url": format!("{base}/text"), "as": "x"},
                {"id": "done", "action": "return", "value": "{{ [$var.t.status, $var.x.status] }}"}
            ]),
        )],
        "go",
        json!({}),
    )
    .await;
    assert_succeeded(&run);
    let teapot = record(&run, "teapot");
    assert_eq!(teapot.status, StepStatus::Succeeded);
    assert_eq!(teapot.error, None);
    assert_eq!(teapot.input["method"], "GET");
    assert_eq!(teapot.output["status"], 418);
    assert_eq!(teapot.output["body"], json!({"error": "short and stout"}));
    let text = record(&run, "text");
    assert_eq!(text.status, StepStatus::Succeeded);
    assert_eq!(text.output["status"], 503);
    assert_eq!(
        text.output["body"],
        json!("try later"),
        "a body that is not JSON stays text"
    );
    assert_eq!(run.output, Some(json!([418, 503])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_refused_connection_fails_the_step_with_a_clear_message() {
    let url = refused_url().await;
    let (_f, _report, run) = run_once(
        &[workflow(
            "caller",
            "go",
            json!([
                {"id": "call", "action": "http", "url": url, "timeout_ms": 5000},
                {"id": "after", "action": "log", "message": "never"}
            ]),
        )],
        "go",
        json!({}),
    )
    .await;
    assert_eq!(run.status, RunStatus::Failed, "{run:#?}");
    let call = record(&run, "call");
    assert_eq!(call.status, StepStatus::Failed);
    let error = call.error.as_deref().unwrap();
    assert!(error.contains("cannot connect"), "{error}");
    assert!(error.contains(&url), "{error}");
    let run_error = run.error.as_deref().unwrap();
    assert!(run_error.contains("call"), "{run_error}");
    assert!(run_error.contains("cannot connect"), "{run_error}");
    assert!(records(&run, "after").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_records_the_message_as_text() {
    let (_f, _report, run) = run_once(
        &[workflow(
            "logger",
            "go",
            json!([
                {"id": "say", "action": "log", "message": "stock of {{$param.sku}} is {{$param.stock}}"},
                {"id": "dump", "action": "log", "message": "{{ $param.stock }}"}
            ]),
        )],
        "go",
        json!({"sku": "A1", "stock": 12}),
    )
    .await;
    assert_succeeded(&run);
    let say = record(&run, "say");
    assert_eq!(say.action, "log");
    assert_eq!(say.input, json!({"message": "stock of A1 is 12"}));
    assert_eq!(say.output, json!("stock of A1 is 12"));
    assert_eq!(record(&run, "dump").output, json!("12"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleep_waits_and_records_its_milliseconds() {
    let (_f, _report, run) = run_once(
        &[workflow(
            "sleeper",
            "go",
            json!([
                {"id": "nap", "action": "sleep", "ms": "{{ $param.ms }}"},
                {"id": "done", "action": "return", "value": "awake"}
            ]),
        )],
        "go",
        json!({"ms": 5}),
    )
    .await;
    assert_succeeded(&run);
    let nap = record(&run, "nap");
    assert_eq!(nap.action, "sleep");
    assert_eq!(nap.status, StepStatus::Succeeded);
    assert_eq!(nap.input, json!({"ms": 5}));
    assert_eq!(nap.output, Value::Null);
    assert_eq!(run.output, Some(json!("awake")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_catch_exposes_error_message_and_step_and_the_run_succeeds() {
    let (_f, _report, run) = run_once_with(
        "",
        Some(SKUS),
        &[workflow(
            "careful",
            "go",
            json!([
                {"id": "guard", "action": "try",
                 "steps": [
                    {"id": "before", "action": "set", "var": "before", "value": 1},
                    {"id": "boom", "action": "fail", "message": "broke {{$param.why}}"},
                    {"id": "never", "action": "set", "var": "never", "value": true}
                 ],
                 "catch": [
                    {"id": "caught", "action": "set", "var": "caught", "value": "{{ $error }}"},
                    {"id": "msg", "action": "set", "var": "msg", "value": "{{$error.message}} in {{$error.step}}"}
                 ]},
                {"id": "db_guard", "action": "try",
                 "steps": [{"id": "bad_sql", "action": "db.query", "sql": "SELECT nope FROM skus"}],
                 "catch": [{"id": "db_caught", "action": "set", "var": "db_error", "value": "{{ $error }}"}]},
                {"id": "done", "action": "return", "value": {"caught": "{{$var.caught}}", "msg": "{{$var.msg}}", "db": "{{$var.db_error}}"}}
            ]),
        )],
        "go",
        json!({"why": "badly"}),
    )
    .await;
    assert_succeeded(&run);
    let output = run.output.clone().unwrap();
    assert_eq!(
        output["caught"],
        json!({"message": "broke badly", "step": "boom"})
    );
    assert_eq!(output["msg"], json!("broke badly in boom"));
    assert_eq!(output["db"]["step"], json!("bad_sql"));
    let db_message = output["db"]["message"].as_str().unwrap();
    assert!(db_message.contains("no such column"), "{db_message}");

    assert!(records(&run, "never").is_empty(), "{:#?}", steps(&run));
    let boom = record(&run, "boom");
    assert_eq!(boom.status, StepStatus::Failed);
    assert_eq!(boom.error.as_deref(), Some("broke badly"));
    let guard = record(&run, "guard");
    assert_eq!(guard.action, "try");
    assert_eq!(guard.status, StepStatus::Succeeded);
    assert_eq!(
        guard.output,
        json!({"caught": {"message": "broke badly", "step": "boom"}})
    );
    assert_eq!(record(&run, "bad_sql").status, StepStatus::Failed);
    assert_eq!(record(&run, "db_guard").status, StepStatus::Succeeded);
    assert_eq!(run.error, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_fails_the_run_with_its_message_and_a_failed_step_record() {
    let (_f, _report, run) = run_once(
        &[workflow(
            "strict",
            "go",
            json!([
                {"id": "stop", "action": "fail", "message": "sku {{$param.sku}} is gone"},
                {"id": "after", "action": "return", "value": "unreachable"}
            ]),
        )],
        "go",
        json!({"sku": "A1"}),
    )
    .await;
    assert_eq!(run.status, RunStatus::Failed, "{run:#?}");
    let error = run.error.as_deref().unwrap();
    assert!(error.contains("sku A1 is gone"), "{error}");
    assert_eq!(run.output, None);
    let stop = record(&run, "stop");
    assert_eq!(stop.action, "fail");
    assert_eq!(stop.status, StepStatus::Failed);
    assert_eq!(stop.error.as_deref(), Some("sku A1 is gone"));
    assert_eq!(stop.input, json!({"message": "sku A1 is gone"}));
    assert!(records(&run, "after").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn return_gives_the_run_output_and_ends_it_from_inside_a_branch() {
    let (_f, _report, run) = run_once(
        &[workflow(
            "early",
            "go",
            json!([
                {"id": "check", "action": "if", "cond": "{{ $param.n > 0 }}",
                 "then": [{"id": "out", "action": "return",
                           "value": {"sku": "{{$param.sku}}", "next": "{{ $param.n + 1 }}"}}]},
                {"id": "after", "action": "log", "message": "not reached"}
            ]),
        )],
        "go",
        json!({"sku": "A1", "n": 1}),
    )
    .await;
    assert_succeeded(&run);
    assert_eq!(run.output, Some(json!({"sku": "A1", "next": 2})));
    let out = record(&run, "out");
    assert_eq!(out.action, "return");
    assert_eq!(out.output, json!({"sku": "A1", "next": 2}));
    let check = record(&run, "check");
    assert_eq!(check.status, StepStatus::Succeeded);
    assert_eq!(check.output, json!({"branch": "then"}));
    assert!(records(&run, "after").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_return_gives_the_status_and_body() {
    let f = fixture(
        "",
        None,
        &[
            json!({"method": "POST", "path": "/orders/{id}", "steps": [
                {"id": "reply", "action": "return", "status": 201,
                 "value": {"id": "{{$path.id}}", "qty": "{{$body.qty}}", "v": "{{$query.v}}"}}
            ]}),
            json!({"method": "GET", "path": "/ping", "steps": [
                {"id": "pong", "action": "return", "value": {"pong": true}}
            ]}),
        ],
    );
    let created = f
        .engine
        .call(EndpointRequest {
            method: "POST".into(),
            path: "/orders/42?v=7".into(),
            body: json!({"qty": 3}),
            ..EndpointRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(created.status, 201);
    assert_eq!(created.body, json!({"id": "42", "qty": 3, "v": "7"}));
    assert_succeeded(&created.run);
    assert_eq!(
        created.run.target,
        RunTarget::Endpoint("POST /orders/{id}".into())
    );
    let reply = record(&created.run, "reply");
    assert_eq!(reply.input["status"], 201);
    assert_eq!(reply.output, json!({"id": "42", "qty": 3, "v": "7"}));

    let ping = f
        .engine
        .call(EndpointRequest {
            method: "get".into(),
            path: "/ping".into(),
            ..EndpointRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(ping.status, 200);
    assert_eq!(ping.body, json!({"pong": true}));
}

// ---------------------------------------------------------------------------------------------
// 2–3. Typed templates, data is never evaluated, bound SQL parameters
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_are_typed_and_data_holding_templates_is_passed_verbatim() {
    let params = json!({"n": 2, "obj": {"a": [1, 2]}, "text": "{{ $param.n }}", "none": null});
    let (f, report, run) = run_once_with(
        "",
        Some("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT);"),
        &[
            workflow(
                "types",
                "go",
                json!([
                    {"id": "num", "action": "set", "var": "num", "value": "{{ $param.n + 1 }}"},
                    {"id": "obj", "action": "set", "var": "obj", "value": "{{ $param.obj }}"},
                    {"id": "flag", "action": "set", "var": "flag", "value": "{{ $param.n > 1 }}"},
                    {"id": "str", "action": "set", "var": "str", "value": "{{ $param.n | tostring }}"},
                    {"id": "around", "action": "set", "var": "around", "value": "n={{ $param.n }}!"},
                    {"id": "nothing", "action": "set", "var": "nothing", "value": "[{{ $param.none }}]"},
                    {"id": "missing", "action": "set", "var": "missing", "value": "[{{ $param.absent }}]"},
                    {"id": "raw", "action": "set", "var": "raw", "value": "{{ $param.text }}"},
                    {"id": "embedded", "action": "set", "var": "embedded", "value": "got {{ $param.text }}"},
                    {"id": "save", "action": "db.exec", "sql": "INSERT INTO notes (body) VALUES (?)",
                     "args": ["{{$param.text}}"]},
                    {"id": "load", "action": "db.query", "sql": "SELECT body FROM notes", "as": "notes"},
                    {"id": "pass", "action": "emit", "event": "echoed", "params": {"text": "{{$param.text}}"}}
                ]),
            ),
            workflow(
                "echo",
                "echoed",
                json!([
                    {"id": "seen", "action": "set", "var": "seen", "value": "{{$param.text}}"},
                    {"id": "done", "action": "return", "value": "{{$var.seen}}"}
                ]),
            ),
        ],
        "go",
        params.clone(),
    )
    .await;
    assert_succeeded(&run);
    let out = |id: &str| record(&run, id).output.clone();
    assert_eq!(out("num"), json!(3));
    assert_eq!(out("obj"), json!({"a": [1, 2]}));
    assert_eq!(out("flag"), json!(true));
    assert_eq!(out("str"), json!("2"));
    assert_eq!(out("around"), json!("n=2!"));
    assert_eq!(out("nothing"), json!("[]"), "null prints as empty");
    assert_eq!(out("missing"), json!("[]"), "a missing field is null");
    assert_eq!(
        out("raw"),
        json!("{{ $param.n }}"),
        "data is never evaluated"
    );
    assert_eq!(out("embedded"), json!("got {{ $param.n }}"));
    assert_eq!(out("load"), json!([{"body": "{{ $param.n }}"}]));

    assert_eq!(*report.event.params, params, "params are stored as given");
    assert_eq!(*run.params, params);
    let stored = f.engine.store().event(report.event.id).unwrap().unwrap();
    assert_eq!(*stored.record.params, params);

    let child_event = &report.cascade.events[1];
    assert_eq!(*child_event.params, json!({"text": "{{ $param.n }}"}));
    let child = f.run(report.cascade.runs[1].id);
    assert_succeeded(&child);
    assert_eq!(child.output, Some(json!("{{ $param.n }}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_looking_params_are_bound_verbatim_and_the_table_survives() {
    let evil = "x'); DROP TABLE t; --";
    let sneaky = "' OR '1'='1";
    let (f, _report, run) = run_once_with(
        "",
        Some("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, name TEXT);"),
        &[workflow(
            "store_name",
            "go",
            json!([
                {"id": "insert", "action": "db.exec", "sql": "INSERT INTO t (name) VALUES (?)",
                 "args": ["{{$param.name}}"]},
                {"id": "find", "action": "db.query", "sql": "SELECT name FROM t WHERE name = ?",
                 "args": ["{{$param.name}}"], "as": "found"},
                {"id": "sneak", "action": "db.query", "sql": "SELECT name FROM t WHERE name = ?",
                 "args": ["{{$param.sneaky}}"], "as": "sneaked"},
                {"id": "done", "action": "return", "value": {"found": "{{$var.found}}", "sneaked": "{{$var.sneaked}}"}}
            ]),
        )],
        "go",
        json!({"name": evil, "sneaky": sneaky}),
    )
    .await;
    assert_succeeded(&run);
    assert_eq!(
        run.output,
        Some(json!({"found": [{"name": evil}], "sneaked": []}))
    );
    assert_eq!(record(&run, "insert").input["args"], json!([evil]));
    let data = f.data();
    assert_eq!(
        data.query("SELECT name FROM t", &[]).unwrap(),
        vec![json!({"name": evil})]
    );
    assert_eq!(
        data.query(
            "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 't'",
            &[]
        )
        .unwrap(),
        vec![json!({"n": 1})]
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Skips, each with its reason
// ---------------------------------------------------------------------------------------------

/// A workflow that only logs.
fn quiet(name: &str, on: &str) -> Value {
    workflow(
        name,
        on,
        json!([{"id": "note", "action": "log", "message": "{{$event.name}}"}]),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inactive_listeners_are_skipped_with_reason_inactive() {
    let mut file_off = quiet("file_off", "ping");
    file_off["active"] = json!(false);
    let f = fixture(
        "",
        None,
        &[
            quiet("listener", "ping"),
            quiet("toggled", "ping"),
            file_off,
        ],
    );
    {
        let store = Store::open(&f.sandbox.db()).unwrap();
        let id = store
            .find_definition(DefinitionKind::Workflow, "toggled")
            .unwrap()
            .unwrap()
            .id;
        assert!(store.set_active(id, false).unwrap());
    }
    let report = f.emit("ping", json!({})).await;
    let ran: Vec<&str> = report
        .cascade
        .runs
        .iter()
        .map(|r| r.target.name())
        .collect();
    assert_eq!(ran, ["listener"]);
    assert_eq!(
        report.cascade.skipped,
        vec![
            SkipRecord {
                event_id: report.event.id,
                workflow: "file_off".into(),
                reason: "inactive".into()
            },
            SkipRecord {
                event_id: report.event.id,
                workflow: "toggled".into(),
                reason: "inactive".into()
            },
        ]
    );
    assert_eq!(
        f.engine.store().skips_of_event(report.event.id).unwrap(),
        report.cascade.skipped
    );

    // switched back on, it runs again
    let id = f.workflow_id("toggled");
    assert!(
        Store::open(&f.sandbox.db())
            .unwrap()
            .set_active(id, true)
            .unwrap()
    );
    let again = f.emit("ping", json!({})).await;
    let ran: Vec<&str> = again.cascade.runs.iter().map(|r| r.target.name()).collect();
    assert_eq!(ran, ["listener", "toggled"]);
    assert_eq!(skips(&again), [("file_off", "inactive")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_deployed_listeners_are_skipped_with_reason_not_deployed() {
    let live = quiet("live", "ping");
    let f = fixture("", None, std::slice::from_ref(&live));
    // a second listener is imported later and never deployed
    write_project(&f.sandbox, "", None, &[live, quiet("fresh", "ping")]);
    import_only(&f.sandbox, &f.root);
    let report = f.emit("ping", json!({})).await;
    let ran: Vec<&str> = report
        .cascade
        .runs
        .iter()
        .map(|r| r.target.name())
        .collect();
    assert_eq!(ran, ["live"]);
    assert_eq!(skips(&report), [("fresh", "not deployed")]);
    assert_eq!(report.cascade.skipped[0].event_id, report.event.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loop_through_two_workflows_is_skipped_with_its_chain() {
    let f = fixture(
        "",
        None,
        &[
            workflow(
                "a",
                "x",
                json!([{"id": "to_y", "action": "emit", "event": "y", "params": {}}]),
            ),
            workflow(
                "b",
                "y",
                json!([{"id": "to_x", "action": "emit", "event": "x", "params": {}}]),
            ),
        ],
    );
    let report = f.emit("x", json!({})).await;
    let names: Vec<&str> = report
        .cascade
        .events
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(names, ["x", "y", "x"]);
    let ran: Vec<&str> = report
        .cascade
        .runs
        .iter()
        .map(|r| r.target.name())
        .collect();
    assert_eq!(ran, ["a", "b"]);
    assert!(
        report
            .cascade
            .runs
            .iter()
            .all(|r| r.status == RunStatus::Succeeded)
    );
    assert_eq!(skips(&report), [("a", "loop: a → b → a")]);
    assert_eq!(
        report.cascade.skipped[0].event_id,
        report.cascade.events[2].id
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_emitting_its_own_event_is_skipped_without_allow_self_trigger() {
    let f = fixture(
        "",
        None,
        &[workflow(
            "a",
            "x",
            json!([{"id": "again", "action": "emit", "event": "x", "params": {}}]),
        )],
    );
    let report = f.emit("x", json!({})).await;
    assert_eq!(report.cascade.runs.len(), 1);
    assert_succeeded(&report.cascade.runs[0]);
    assert_eq!(report.cascade.events.len(), 2);
    assert_eq!(skips(&report), [("a", "loop: a → a")]);
    assert_eq!(
        report.cascade.skipped[0].event_id,
        report.cascade.events[1].id
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_triggering_workflow_is_cut_at_max_depth() {
    let mut tick = workflow(
        "tick",
        "tick",
        json!([{"id": "next", "action": "emit", "event": "tick", "params": {"n": "{{ $param.n + 1 }}"}}]),
    );
    tick["allow_self_trigger"] = json!(true);
    let max_depth = 3;
    let f = fixture(&format!("[engine]\nmax_depth = {max_depth}"), None, &[tick]);
    let report = f.emit("tick", json!({"n": 0})).await;
    assert_eq!(
        report.cascade.runs.len(),
        max_depth + 1,
        "{:#?}",
        report.cascade
    );
    assert!(
        report
            .cascade
            .runs
            .iter()
            .all(|r| r.status == RunStatus::Succeeded)
    );
    let depths: Vec<u32> = report.cascade.events.iter().map(|e| e.depth).collect();
    assert_eq!(depths, [0, 1, 2, 3, 4]);
    let params: Vec<&Value> = report
        .cascade
        .events
        .iter()
        .map(|e| &e.params["n"])
        .collect();
    assert_eq!(
        params,
        [&json!(0), &json!(1), &json!(2), &json!(3), &json!(4)]
    );
    let last = report.cascade.events.last().unwrap();
    assert_eq!(
        report.cascade.skipped,
        vec![SkipRecord {
            event_id: last.id,
            workflow: "tick".into(),
            reason: "max depth".into()
        }]
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Fan-out and nested cascades
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_active_listener_runs_and_the_nested_cascade_is_reported() {
    let f = fixture(
        "",
        None,
        &[
            quiet("bill", "order_placed"),
            workflow(
                "ship",
                "order_placed",
                json!([{"id": "shipped", "action": "emit", "event": "order_shipped", "params": {"order": "{{$param.order}}"}}]),
            ),
            workflow(
                "notify",
                "order_shipped",
                json!([{"id": "notified", "action": "emit", "event": "customer_notified", "params": {"order": "{{$param.order}}"}}]),
            ),
            quiet("archive", "customer_notified"),
        ],
    );
    let report = f.emit("order_placed", json!({"order": 9})).await;
    let events: Vec<(&str, u32)> = report
        .cascade
        .events
        .iter()
        .map(|e| (e.name.as_str(), e.depth))
        .collect();
    assert_eq!(
        events,
        [
            ("order_placed", 0),
            ("order_shipped", 1),
            ("customer_notified", 2)
        ]
    );
    let mut ran: Vec<(&str, Option<i64>)> = report
        .cascade
        .runs
        .iter()
        .map(|r| (r.target.name(), r.event_id))
        .collect();
    ran.sort();
    let ids: Vec<i64> = report.cascade.events.iter().map(|e| e.id).collect();
    assert_eq!(
        ran,
        [
            ("archive", Some(ids[2])),
            ("bill", Some(ids[0])),
            ("notify", Some(ids[1])),
            ("ship", Some(ids[0])),
        ]
    );
    assert!(
        report
            .cascade
            .runs
            .iter()
            .all(|r| r.status == RunStatus::Succeeded)
    );
    assert!(report.cascade.skipped.is_empty());
    let ship = report
        .cascade
        .runs
        .iter()
        .find(|r| r.target.name() == "ship")
        .unwrap();
    assert_eq!(report.cascade.events[1].parent_run, Some(ship.id));
    assert_eq!(*report.cascade.events[2].params, json!({"order": 9}));
    assert_eq!(
        f.engine.store().cascade_of_event(report.event.id).unwrap(),
        report.cascade
    );
}

// ---------------------------------------------------------------------------------------------
// 6. Retries
// ---------------------------------------------------------------------------------------------

/// `(attempt, status)` of every record of step `id`.
fn attempts(run: &RunRecord, id: &str) -> Vec<(u32, StepStatus)> {
    records(run, id)
        .iter()
        .map(|s| (s.attempt, s.status))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_retry_records_every_attempt_until_one_succeeds() {
    let (base, accepted) = flaky_server(2).await;
    let (_f, _report, run) = run_once(
        &[workflow(
            "flaky",
            "go",
            json!([
                {"id": "call", "action": "http", "url": format!("{base}/ok"), "timeout_ms": 5000,
                 "retry": {"max_attempts": 3, "backoff_ms": 1}, "as": "r"},
                {"id": "done", "action": "return", "value": "{{$var.r.body}}"}
            ]),
        )],
        "go",
        json!({}),
    )
    .await;
    assert_succeeded(&run);
    assert_eq!(
        attempts(&run, "call"),
        [
            (1, StepStatus::Failed),
            (2, StepStatus::Failed),
            (3, StepStatus::Succeeded)
        ]
    );
    for failed in &records(&run, "call")[..2] {
        assert!(failed.error.is_some(), "{failed:#?}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
    assert_eq!(run.output, Some(json!({"ok": true})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_on_a_compound_step_runs_its_body_again() {
    let (f, _report, run) = run_once_with(
        "",
        Some("CREATE TABLE IF NOT EXISTS counter (n INTEGER NOT NULL);
              INSERT INTO counter (n) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM counter);"),
        &[workflow(
            "persistent",
            "go",
            json!([
                {"id": "attempt", "action": "if", "cond": true,
                 "retry": {"max_attempts": 3, "backoff_ms": 1},
                 "then": [
                    {"id": "bump", "action": "db.exec", "sql": "UPDATE counter SET n = n + 1"},
                    {"id": "read", "action": "db.query", "sql": "SELECT n FROM counter", "as": "rows"},
                    {"id": "check", "action": "if", "cond": "{{ $var.rows[0].n < 3 }}",
                     "then": [{"id": "boom", "action": "fail", "message": "not yet: {{$var.rows[0].n}}"}]}
                 ]},
                {"id": "done", "action": "return", "value": "{{$var.rows[0].n}}"}
            ]),
        )],
        "go",
        json!({}),
    )
    .await;
    assert_succeeded(&run);
    assert_eq!(
        attempts(&run, "attempt"),
        [
            (1, StepStatus::Failed),
            (2, StepStatus::Failed),
            (3, StepStatus::Succeeded)
        ]
    );
    let errors: Vec<_> = records(&run, "attempt")
        .iter()
        .map(|s| s.error.clone())
        .collect();
    assert_eq!(
        errors,
        [
            Some("not yet: 1".to_string()),
            Some("not yet: 2".to_string()),
            None
        ]
    );
    assert_eq!(records(&run, "bump").len(), 3);
    assert_eq!(records(&run, "boom").len(), 2);
    assert_eq!(run.output, Some(json!(3)));
    assert_eq!(
        f.data().query("SELECT n FROM counter", &[]).unwrap(),
        vec![json!({"n": 3})]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_retry_applies_to_its_db_http_and_emit_steps_only() {
    let url = refused_url().await;
    let mut def = workflow(
        "retrying",
        "go",
        json!([
            {"id": "t_db", "action": "try",
             "steps": [{"id": "bad_db", "action": "db.exec", "sql": "INSERT INTO missing_table VALUES (1)"}],
             "catch": [{"id": "c_db", "action": "log", "message": "{{$error.message}}"}]},
            {"id": "t_http", "action": "try",
             "steps": [{"id": "bad_http", "action": "http", "url": url, "timeout_ms": 5000}],
             "catch": [{"id": "c_http", "action": "log", "message": "{{$error.message}}"}]},
            {"id": "t_emit", "action": "try",
             "steps": [{"id": "bad_emit", "action": "emit", "event": "next", "params": "{{ $param.not_an_object }}"}],
             "catch": [{"id": "c_emit", "action": "log", "message": "{{$error.message}}"}]},
            {"id": "t_fail", "action": "try",
             "steps": [{"id": "plain_fail", "action": "fail", "message": "no retry for me"}],
             "catch": [{"id": "c_fail", "action": "log", "message": "{{$error.message}}"}]}
        ]),
    );
    def["retry"] = json!({"max_attempts": 2, "backoff_ms": 1});
    let (_f, _report, run) = run_once(&[def], "go", json!({"not_an_object": 5})).await;
    assert_succeeded(&run);
    let twice = [(1, StepStatus::Failed), (2, StepStatus::Failed)];
    assert_eq!(attempts(&run, "bad_db"), twice);
    assert_eq!(attempts(&run, "bad_http"), twice);
    assert_eq!(attempts(&run, "bad_emit"), twice);
    assert_eq!(attempts(&run, "plain_fail"), [(1, StepStatus::Failed)]);
    for catch in ["c_db", "c_http", "c_emit", "c_fail"] {
        assert_eq!(records(&run, catch).len(), 1, "{catch}: {:#?}", steps(&run));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_that_fails_every_attempt_fails_the_run() {
    let url = refused_url().await;
    let (_f, _report, run) = run_once(
        &[workflow(
            "hopeless",
            "go",
            json!([
                {"id": "call", "action": "http", "url": url, "timeout_ms": 5000,
                 "retry": {"max_attempts": 3, "backoff_ms": 1}},
                {"id": "after", "action": "log", "message": "never"}
            ]),
        )],
        "go",
        json!({}),
    )
    .await;
    assert_eq!(run.status, RunStatus::Failed, "{run:#?}");
    assert_eq!(
        attempts(&run, "call"),
        [
            (1, StepStatus::Failed),
            (2, StepStatus::Failed),
            (3, StepStatus::Failed)
        ]
    );
    assert!(records(&run, "after").is_empty());
    let error = run.error.as_deref().unwrap();
    assert!(error.contains("cannot connect"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// 7–8. Expression limits and expressions without a value
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expression_over_its_time_limit_fails_the_step_and_the_engine_goes_on() {
    let f = fixture(
        "[engine]\nexpr_timeout_ms = 100",
        None,
        &[
            workflow(
                "slow",
                "slow",
                json!([{"id": "huge", "action": "set", "var": "x", "value": "{{ last(range(1e12)) }}"}]),
            ),
            workflow(
                "quick",
                "quick",
                json!([{"id": "done", "action": "return", "value": "still here"}]),
            ),
        ],
    );
    let slow = f.first_run(&f.emit("slow", json!({})).await);
    assert_eq!(slow.status, RunStatus::Failed, "{slow:#?}");
    let huge = record(&slow, "huge");
    assert_eq!(huge.status, StepStatus::Failed);
    let error = huge.error.as_deref().unwrap();
    assert!(error.contains("limit of 100 ms"), "{error}");
    let run_error = slow.error.as_deref().unwrap();
    assert!(run_error.contains("limit"), "{run_error}");

    let quick = f.first_run(&f.emit("quick", json!({})).await);
    assert_succeeded(&quick);
    assert_eq!(quick.output, Some(json!("still here")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expression_without_a_value_fails_naming_the_step_and_the_expression() {
    let (_f, _report, run) = run_once(
        &[workflow(
            "hollow",
            "go",
            json!([{"id": "pick", "action": "set", "var": "v", "value": "{{ empty }}"}]),
        )],
        "go",
        json!({}),
    )
    .await;
    assert_eq!(run.status, RunStatus::Failed, "{run:#?}");
    let pick = record(&run, "pick");
    assert_eq!(pick.status, StepStatus::Failed);
    let error = pick.error.as_deref().unwrap();
    assert!(error.contains("`empty`"), "{error}");
    assert!(error.contains("no value"), "{error}");
    let run_error = run.error.as_deref().unwrap();
    assert!(run_error.contains("pick"), "{run_error}");
    assert!(run_error.contains("`empty`"), "{run_error}");
}

// ---------------------------------------------------------------------------------------------
// 9. Restart
// ---------------------------------------------------------------------------------------------

/// Everything the store holds about past events, runs (with steps) and skips.
fn history(
    store: &Store,
) -> (
    Vec<flowdeck::model::EventRecord>,
    Vec<RunRecord>,
    Vec<SkipRecord>,
) {
    let events = store
        .list_events(&EventFilter {
            limit: 10_000,
            ..EventFilter::default()
        })
        .unwrap();
    let runs = store
        .list_runs(&RunFilter {
            limit: 10_000,
            ..RunFilter::default()
        })
        .unwrap()
        .into_iter()
        .map(|r| store.run_with_steps(r.id).unwrap().unwrap())
        .collect();
    let skips = events
        .iter()
        .flat_map(|e| store.skips_of_event(e.id).unwrap())
        .collect();
    (events, runs, skips)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_engine_on_the_same_file_sees_the_whole_history_and_continues() {
    let mut off = quiet("off", "a");
    off["active"] = json!(false);
    let f = fixture(
        "",
        Some("CREATE TABLE IF NOT EXISTS hits (id INTEGER PRIMARY KEY, n INTEGER);"),
        &[
            workflow(
                "counter",
                "a",
                json!([
                    {"id": "hit", "action": "db.exec", "sql": "INSERT INTO hits (n) VALUES (?)", "args": ["{{$param.n}}"], "as": "r"},
                    {"id": "child", "action": "emit", "event": "b", "params": {"n": "{{$param.n}}"}},
                    {"id": "done", "action": "return", "value": "{{$var.r.last_id}}"}
                ]),
            ),
            workflow(
                "broken",
                "b",
                json!([{"id": "oops", "action": "fail", "message": "broken {{$param.n}}"}]),
            ),
            off,
        ],
    );
    for n in 1..=3 {
        f.emit("a", json!({"n": n})).await;
    }
    let before = history(&f.engine.store());
    let (events, runs, skipped) = &before;
    assert_eq!(events.len(), 6);
    assert_eq!(runs.len(), 6);
    assert_eq!(skipped.len(), 3);
    assert!(runs.iter().all(|r| !steps(r).is_empty()));
    assert_eq!(
        runs.iter()
            .filter(|r| r.status == RunStatus::Failed)
            .count(),
        3
    );
    let last_event = events.iter().map(|e| e.id).max().unwrap();
    let last_run = runs.iter().map(|r| r.id).max().unwrap();

    let Fixture {
        sandbox, engine, ..
    } = f;
    drop(engine);

    let plain = Store::open(&sandbox.db()).unwrap();
    assert_eq!(history(&plain), before, "a plain store sees everything");
    let engine = sandbox.engine();
    assert_eq!(
        history(&engine.store()),
        before,
        "a new engine sees everything"
    );

    let report = engine
        .emit_and_wait(EmitRequest::new("a", json!({"n": 4}), "test"))
        .await
        .unwrap();
    assert_eq!(report.event.id, last_event + 1);
    let ids: Vec<i64> = report.cascade.runs.iter().map(|r| r.id).collect();
    assert_eq!(ids, [last_run + 1, last_run + 2]);
    let counter = engine.store().run_with_steps(ids[0]).unwrap().unwrap();
    assert_succeeded(&counter);
    assert_eq!(counter.output, Some(json!(4)));
    assert_eq!(skips(&report), [("off", "inactive")]);
    let after = history(&plain);
    assert_eq!(after.0.len(), 8);
    assert_eq!(after.1.len(), 8);
}

// ---------------------------------------------------------------------------------------------
// 10. Debug runs the draft
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_runs_the_draft_while_live_emits_run_the_deployed_version() {
    let v1 = workflow(
        "w",
        "go",
        json!([{"id": "done", "action": "return", "value": "v1 {{$param.who}}"}]),
    );
    let v2 = workflow(
        "w",
        "go",
        json!([
            {"id": "new_step", "action": "log", "message": "draft only"},
            {"id": "done", "action": "return", "value": "v2 {{$param.who}}"}
        ]),
    );
    let f = fixture("", None, &[v1]);
    write_project(&f.sandbox, "", None, &[v2]);
    import_only(&f.sandbox, &f.root);
    let row = f
        .engine
        .store()
        .find_definition(DefinitionKind::Workflow, "w")
        .unwrap()
        .unwrap();
    assert!(row.draft_changed);
    assert_eq!(row.live_version, Some(1));

    let debug = f
        .engine
        .debug("w", json!({"who": "dev"}))
        .await
        .unwrap()
        .run;
    assert_succeeded(&debug);
    assert_eq!(debug.mode, RunMode::Debug);
    assert_eq!(debug.version, None);
    assert_eq!(debug.output, Some(json!("v2 dev")));
    assert_eq!(step_ids(&debug), ["new_step", "done"]);

    let live = f.first_run(&f.emit("go", json!({"who": "user"})).await);
    assert_succeeded(&live);
    assert_eq!(live.mode, RunMode::Live);
    assert_eq!(live.version, Some(1));
    assert_eq!(live.output, Some(json!("v1 user")));
    assert_eq!(step_ids(&live), ["done"]);
}

// ---------------------------------------------------------------------------------------------
// 11. Secrets
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_values_are_masked_in_every_step_record() {
    const SECRET: &str = "s3cr3t-value";
    let (base, seen) = echo_server().await;
    let (f, report, run) = run_once_with(
        &format!("secrets = [\"TOKEN\"]\n[env]\nTOKEN = \"{SECRET}\""),
        None,
        &[workflow(
            "leaky",
            "go",
            json!([
                {"id": "say", "action": "log", "message": "token: {{$env.TOKEN}}"},
                {"id": "keep", "action": "set", "var": "token", "value": "{{$env.TOKEN}}"},
                {"id": "call", "action": "http", "method": "POST", "url": format!("{base}/echo"),
                 "headers": {"authorization": "Bearer {{$env.TOKEN}}"},
                 "body": {"token": "{{$env.TOKEN}}"}, "as": "resp"},
                {"id": "done", "action": "return", "value": {"sent": "{{$var.resp.body.received.token}}"}}
            ]),
        )],
        "go",
        json!({}),
    )
    .await;
    assert_succeeded(&run);

    // the secret really is used
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0]["headers"]["authorization"],
        format!("Bearer {SECRET}")
    );
    assert_eq!(requests[0]["body"], json!({"token": SECRET}));

    // ... but never recorded
    assert_eq!(record(&run, "say").output, json!(format!("token: {MASK}")));
    assert_eq!(
        record(&run, "call").input["headers"]["authorization"],
        format!("Bearer {MASK}")
    );
    for s in steps(&run) {
        for (what, value) in [
            ("input", Some(&s.input)),
            ("output", Some(&s.output)),
            ("vars", s.vars.as_ref()),
        ] {
            let text = value.map(Value::to_string).unwrap_or_default();
            assert!(!text.contains(SECRET), "step {} {what}: {text}", s.step);
        }
        assert!(
            !s.error.as_deref().unwrap_or_default().contains(SECRET),
            "{s:#?}"
        );
    }
    let output = run.output.clone().unwrap().to_string();
    assert!(!output.contains(SECRET), "{output}");
    let cascade = format!(
        "{:?}",
        f.engine.store().cascade_of_event(report.event.id).unwrap()
    );
    assert!(!cascade.contains(SECRET), "{cascade}");
}
