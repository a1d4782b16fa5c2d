//! `flowdeck test` through the real binary (and the runner through the library where a
//! record's times are the evidence): the example project's own tests, a wrong expectation,
//! mocks that see the real arguments, a request no mock answers, the virtual clock,
//! snapshots written, compared and updated, a recorded run that becomes a passing test
//! (its supplier a real HTTP server on loopback, gone when the test runs), JUnit XML read
//! back by a JUnit reader, invalid test files, and hostile ones.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Sandbox, text};
use flowdeck::suite::{self, SuiteOptions};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;

/// A workflow that reads, calls an API and writes, for mocks to see.
const PRICE: &str = r#"{"name": "price", "on": "quote", "steps": [
  {"id": "load", "action": "db.query", "sql": "SELECT cents FROM prices WHERE sku = ?", "args": ["{{$param.sku}}"], "as": "rows"},
  {"id": "ask", "action": "http", "method": "POST", "url": "http://rates.test/convert",
   "body": {"cents": "{{$var.rows[0].cents}}", "to": "{{$param.currency}}"}, "as": "rate"},
  {"id": "keep", "action": "db.exec", "sql": "INSERT INTO quotes (sku, amount) VALUES (?, ?)",
   "args": ["{{$param.sku}}", "{{$var.rate.body.amount}}"]},
  {"id": "done", "action": "return", "value": {"amount": "{{$var.rate.body.amount}}"}}
]}"#;
const PRICE_SCHEMA: &str =
    "CREATE TABLE IF NOT EXISTS prices (sku INTEGER PRIMARY KEY, cents INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS quotes (id INTEGER PRIMARY KEY, sku INTEGER, amount REAL);
INSERT OR IGNORE INTO prices VALUES (1, 1000);";

/// A workflow that sleeps ten minutes.
const NAP: &str = r#"{"name": "nap", "on": "tired", "steps": [
  {"id": "nap", "action": "sleep", "ms": 600000},
  {"id": "after", "action": "return", "value": "rested"}
]}"#;

fn price_project(s: &Sandbox, tests: &str) -> std::path::PathBuf {
    let root = s.project("p", Some(PRICE_SCHEMA), &[("workflows/price.json", PRICE)]);
    s.write("p/tests/price.test.json", tests);
    root
}

fn cases(report: &Value) -> Vec<&Value> {
    report["cases"].as_array().unwrap().iter().collect()
}

#[test]
fn the_example_project_passes_and_a_wrong_expectation_fails_naming_the_field() {
    let s = Sandbox::new();
    assert!(s.cli(&["init", "shop"]).status.success());
    let (code, report) = s.cli_json(&["test", "shop"]);
    assert_eq!(code, 0, "{report:#}");
    assert!(report["passed"].as_u64().unwrap() >= 12, "{report:#}");
    assert_eq!(report["failed"], 0);
    // every workflow and endpoint of the example is tested (slack_alert, switched off, as a
    // skipped listener of its event)
    let targets: BTreeSet<&str> = cases(&report)
        .iter()
        .map(|c| c["target"].as_str().unwrap())
        .collect();
    for t in [
        "notify_buyer",
        "receive_stock",
        "reorder_supply",
        "event sku_reorder",
        "POST /orders",
        "GET /skus/{id}",
    ] {
        assert!(targets.contains(t), "{t} untested: {targets:?}");
    }
    // a deliberately wrong expectation: exit 1, the field named, expected and actual given
    let file = s.path("shop/tests/reorder_supply.test.json");
    let wrong = std::fs::read_to_string(&file).unwrap().replacen(
        r#""output": {"sku": 1, "po": 1, "qty": 110"#,
        r#""output": {"sku": 1, "po": 1, "qty": 111"#,
        1,
    );
    std::fs::write(&file, wrong).unwrap();
    let out = s.cli(&["test", "shop"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stdout.contains("✗ records a purchase order without a supplier")
            && stdout.contains("/output/qty  expected 111, got 110"),
        "{stdout}"
    );
    assert!(
        stdout.contains("tests/reorder_supply.test.json:"),
        "the failing case's file and line: {stdout}"
    );
    assert!(
        !stdout.contains('\u{1b}'),
        "no colours into a pipe: {stdout}"
    );
    let (_, report) = s.cli_json(&["test", "shop", "--filter", "without a supplier"]);
    let failure = &cases(&report)[0]["failures"][0];
    assert_eq!(failure["pointer"], "/output/qty");
    assert_eq!(
        (failure["expected"].clone(), failure["actual"].clone()),
        (json!(111), json!(110))
    );
}

#[test]
fn mocks_see_the_real_arguments_and_no_request_leaves_the_process() {
    let s = Sandbox::new();
    let root = price_project(
        &s,
        r#"{
  "workflow": "price",
  "mocks": {"http": [{"method": "POST", "url": "http://rates.test/convert", "status": 200, "body": {"amount": 9.5}}]},
  "cases": [
    {"name": "converts", "params": {"sku": 1, "currency": "EUR"},
     "expect": {"output": {"amount": 9.5},
                "http": [{"method": "POST", "url": "http://rates.test/convert", "body": {"cents": 1000, "to": "EUR"}}],
                "data": {"quotes": [{"sku": 1, "amount": 9.5}]},
                "steps": {"load": {"input": {"args": [1]}}}}},
    {"name": "reads what the mock of a query gives", "params": {"sku": 1, "currency": "EUR"},
     "mocks": {"steps": {"load": {"output": [{"cents": 7}]}, "keep": {"output": {"changes": 1, "last_id": 5}}}},
     "expect": {"http": [{"body": {"cents": 7}}],
                "steps": {"load": {"input": {"sql": "SELECT cents FROM prices WHERE sku = ?"}, "output": [{"cents": 7}]}},
                "data": {"quotes": []}}},
    {"name": "a step that fails on purpose", "params": {"sku": 1, "currency": "EUR"},
     "mocks": {"steps": {"ask": {"error": "rates are down"}}},
     "expect": {"status": "failed", "error": "step ask: rates are down"}}
  ]
}"#,
    );
    let (code, report) = s.cli_json(&["test", root.to_str().unwrap()]);
    let by_name = |n: &str| {
        cases(&report)
            .into_iter()
            .find(|c| c["name"] == n)
            .cloned()
            .unwrap()
    };
    for n in [
        "converts",
        "reads what the mock of a query gives",
        "a step that fails on purpose",
    ] {
        assert_eq!(by_name(n)["status"], "passed", "{n}: {:#}", by_name(n));
    }
    assert_eq!(code, 0, "{report:#}");

    // without any mock the request never leaves: the case fails and shows the request
    let lone = Sandbox::new();
    let root = price_project(
        &lone,
        r#"{"workflow": "price", "cases": [{"name": "unmocked", "params": {"sku": 1, "currency": "EUR"}, "expect": {"status": "failed"}}]}"#,
    );
    let (code, report) = lone.cli_json(&["test", root.to_str().unwrap()]);
    assert_eq!(code, 1, "{report:#}");
    let failures = &cases(&report)[0]["failures"];
    assert_eq!(failures[0]["pointer"], "/http");
    assert!(
        failures[0]["message"]
            .as_str()
            .unwrap()
            .contains("no mock answered POST http://rates.test/convert"),
        "{failures:#}"
    );
    assert_eq!(
        failures[0]["actual"]["body"],
        json!({"cents": 1000, "to": "EUR"})
    );
}

#[test]
fn the_clock_is_virtual_a_ten_minute_sleep_takes_none() {
    let s = Sandbox::new();
    let root = s.project("p", None, &[("workflows/nap.json", NAP)]);
    s.write(
        "p/tests/nap.test.json",
        r#"{"workflow": "nap", "now": "2026-03-01T09:00:00Z",
            "cases": [{"name": "rests", "expect": {"output": "rested"}}]}"#,
    );
    let project = flowdeck::model::project::load_dir(&root).unwrap();
    let loaded = suite::load::from_project(&project, None);
    assert!(loaded.invalid.is_empty(), "{:?}", loaded.invalid);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let outcome = rt.block_on(suite::run_all(
        Arc::new(loaded.catalog),
        loaded.files,
        &loaded.snapshots,
        &SuiteOptions::default(),
    ));
    let case = &outcome.report.cases[0];
    assert_eq!(
        case.status,
        suite::CaseStatus::Passed,
        "{:?}",
        case.failures
    );
    let steps = case.runs[0].steps.as_ref().unwrap();
    let at = |id: &str| steps.iter().find(|s| s.step == id).unwrap().started_at;
    // the run began at the file's `now`, and the step after the nap began ten minutes of
    // virtual time later, to the microsecond: no real clock waited
    assert_eq!(at("nap").to_string(), "2026-03-01T09:00:00.000Z");
    assert_eq!(at("after").0 - at("nap").0, 600_000_000);
    // and through the binary
    let (code, report) = s.cli_json(&["test", root.to_str().unwrap()]);
    assert_eq!(
        (code, report["passed"].clone()),
        (0, json!(1)),
        "{report:#}"
    );
}

#[test]
fn snapshots_are_written_compared_and_updated() {
    let s = Sandbox::new();
    let root = s.project("p", None, &[("workflows/nap.json", NAP)]);
    s.write(
        "p/tests/nap.test.json",
        r#"{"workflow": "nap", "cases": [{"name": "The whole nap!", "snapshot": true}]}"#,
    );
    let dir = root.to_str().unwrap();
    let snap = s.path("p/tests/__snapshots__/nap.the_whole_nap.json");
    // under CI a missing snapshot fails
    let out = s
        .command(&["test", dir])
        .env("CI", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("run flowdeck test --update"));
    assert!(!snap.exists());
    // elsewhere the first run writes it
    let out = s.cli(&["test", dir]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("(snapshot written)"));
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(&snap).unwrap()).unwrap();
    assert_eq!(kept["runs"][0]["output"], "rested");
    assert!(
        kept["runs"][0].get("id").is_none()
            && kept["runs"][0]["steps"][0].get("started_at").is_none(),
        "no volatile fields: {kept:#}"
    );
    // the same trace passes
    assert!(s.cli(&["test", dir]).status.success());
    // a changed workflow fails, naming what changed
    std::fs::write(
        root.join("workflows/nap.json"),
        NAP.replace("\"rested\"", "\"refreshed\""),
    )
    .unwrap();
    let out = s.cli(&["test", dir]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "/snapshot/runs/0/output  differs from the snapshot: \"rested\" → \"refreshed\""
        ),
        "{stdout}"
    );
    // --update writes it again
    let out = s.cli(&["test", dir, "--update"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("(snapshot updated)"));
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(&snap).unwrap()).unwrap();
    assert_eq!(kept["runs"][0]["output"], "refreshed");
    assert!(s.cli(&["test", dir]).status.success());
}

/// A supplier on loopback that answers every order with its reference.
fn supplier() -> (
    String,
    std::thread::JoinHandle<()>,
    tokio::sync::oneshot::Sender<()>,
) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let app = axum::Router::new().route(
                "/orders",
                axum::routing::post(|| async {
                    (
                        axum::http::StatusCode::CREATED,
                        axum::Json(json!({"id": "S-9"})),
                    )
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
    });
    let addr = addr_rx.recv().unwrap();
    (format!("http://{addr}"), handle, tx)
}

#[test]
fn a_recorded_run_becomes_a_test_that_passes_without_its_supplier() {
    let s = Sandbox::deployed(&["shop"], "shop");
    let (url, server, stop) = supplier();
    // a real order, with the supplier called over HTTP
    let out = s
        .command(&[
            "call",
            "POST",
            "/orders",
            "--body",
            r#"{"sku": {"id": 1}, "quantity": 60}"#,
        ])
        .env("SUPPLIER_URL", &url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let (_, runs) = s.cli_json(&["runs"]);
    let id_of = |target: &str| {
        runs["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["workflow"] == target || r["endpoint"] == target)
            .map(|r| r["id"].as_i64().unwrap())
            .unwrap()
    };
    let (reorder, order) = (id_of("reorder_supply"), id_of("POST /orders"));
    // recorded where the runs ran (the same environment, as in the studio)
    let out = s
        .command(&["--json", "test", "--record", &reorder.to_string()])
        .env("SUPPLIER_URL", &url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let rec: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        rec["file"]
            .as_str()
            .unwrap()
            .ends_with("shop/tests/reorder_supply.test.json"),
        "{rec}"
    );
    let out = s.cli(&["test", "--record", &order.to_string()]);
    assert!(out.status.success(), "{}", text(&out));
    // the supplier goes away: the recorded answers are mocks now
    stop.send(()).unwrap();
    server.join().unwrap();
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(s.path("shop/tests/reorder_supply.test.json")).unwrap(),
    )
    .unwrap();
    let case = file["cases"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(case["name"], format!("recorded from run #{reorder}"));
    assert_eq!(case["mocks"]["http"][0]["url"], format!("{url}/orders"));
    assert_eq!(case["mocks"]["http"][0]["status"], 201);
    assert_eq!(case["env"]["SUPPLIER_URL"], url.as_str());
    assert_eq!(
        case["data"]["skus"][0]["stock"], 40,
        "the row the run read: {case:#}"
    );
    assert_eq!(case["expect"]["output"]["supplier_ref"], "S-9");
    let (code, report) = s.cli_json(&["test", "shop", "--filter", "recorded"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["passed"], 2, "{report:#}");
    // the store keeps them too: the studio's tests and `flowdeck test` without a folder
    let (code, report) = s.cli_json(&["test", "--filter", "recorded"]);
    assert_eq!(
        (code, report["passed"].clone()),
        (0, json!(2)),
        "{report:#}"
    );
}

#[test]
fn junit_output_is_read_back_by_a_junit_reader() {
    let s = Sandbox::new();
    assert!(s.cli(&["init", "shop"]).status.success());
    let file = s.path("shop/tests/get_sku.test.json");
    let wrong = std::fs::read_to_string(&file)
        .unwrap()
        .replace(r#""stock": 500"#, r#""stock": 501"#);
    std::fs::write(&file, wrong).unwrap();
    let xml_path = s.path("junit.xml");
    let out = s.cli(&["test", "shop", "--junit", xml_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    assert_eq!(report.tests, 18, "{xml}");
    assert_eq!(report.failures, 1, "{xml}");
    let suite = report
        .test_suites
        .iter()
        .find(|s| s.name.as_str() == "tests/get_sku.test.json")
        .unwrap();
    let names: Vec<&str> = suite.test_cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["a SKU with its stock", "an unknown SKU is not found"]
    );
    let failed = &suite.test_cases[0];
    assert_eq!(
        failed.classname.as_ref().map(|c| c.as_str()),
        Some("GET /skus/{id}")
    );
    let quick_junit::TestCaseStatus::NonSuccess { message, .. } = &failed.status else {
        panic!("{:?}", failed.status);
    };
    assert!(
        message
            .as_ref()
            .unwrap()
            .as_str()
            .contains("/response/body/stock"),
        "{message:?}"
    );
}

#[test]
fn invalid_test_files_say_where_and_what_to_do() {
    let s = Sandbox::new();
    let root = price_project(
        &s,
        r#"{
  "workflow": "price",
  "cases": [
    {"name": "typo",
     "expcet": {"status": "succeeded"}},
    {"name": "unknown step", "mocks": {"steps": {"lod": {"output": []}}}, "expect": {}},
    {"name": "a set step", "expect": {"steps": {"done": {}}}, "mocks": {"steps": {"done": {"output": 1}}}}
  ]
}"#,
    );
    let out = s.cli(&["test", root.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr.contains("tests/price.test.json:5:6: case \"typo\": field \"cases[0].expcet\": unknown field `expcet` (did you mean `expect`?)"),
        "{stderr}"
    );
    // what needs the workflow is checked against it, found where it is written
    let s2 = Sandbox::new();
    let root = price_project(
        &s2,
        r#"{
  "workflow": "price",
  "cases": [
    {"name": "unknown step", "mocks": {"steps": {"lod": {"output": []}}}, "expect": {"status": "succeeded"}},
    {"name": "not an effect", "mocks": {"steps": {"done": {"output": 1}}}, "expect": {"status": "succeeded"}},
    {"name": "bad jq", "expect": {"output": {"$jq": ". >"}}}
  ]
}"#,
    );
    let out = s2.cli(&["test", root.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr.contains(":4:")
            && stderr.contains("case \"unknown step\"")
            && stderr.contains("did you mean `load`?"),
        "{stderr}"
    );
    assert!(
        stderr.contains("step \"done\" is a `return`: only steps with side effects can be mocked"),
        "{stderr}"
    );
    assert!(
        stderr.contains("case \"bad jq\"") && stderr.contains("does not compile"),
        "{stderr}"
    );
    // a file that tests a workflow not there
    s2.write(
        "p/tests/other.test.json",
        r#"{"workflow": "prize", "cases": [{"name": "x", "expect": {}}]}"#,
    );
    let out = s2.cli(&["test", root.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no workflow \"prize\" in the project (did you mean `price`?)")
    );
}

#[test]
fn hostile_test_files_never_panic() {
    // seeded mutations of the example's test files: cut, duplicated, retyped; each is read,
    // checked and (when it still reads) run; any outcome is fine but a panic
    let s = Sandbox::new();
    assert!(s.cli(&["init", "shop"]).status.success());
    let root = s.path("shop");
    let project = flowdeck::model::project::load_dir(&root).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut rng = fastrand::Rng::with_seed(17);
    let inserts = [
        "{",
        "}",
        "[",
        "]",
        ",",
        "\"",
        ":",
        "null",
        "-1",
        "1e999",
        "{\"$jq\": \"error\"}",
        "\"\\u0000\"",
        "true",
    ];
    let mut ran = 0;
    for round in 0..300 {
        let mut p = project.clone();
        for t in &mut p.tests {
            let mut chars: Vec<char> = t.text.chars().collect();
            for _ in 0..rng.usize(1..4) {
                let at = rng.usize(..chars.len().max(1));
                match rng.u8(..3) {
                    0 => {
                        let end = (at + rng.usize(1..20)).min(chars.len());
                        chars.drain(at..end);
                    }
                    1 => {
                        let ins = inserts[rng.usize(..inserts.len())];
                        for (i, c) in ins.chars().enumerate() {
                            chars.insert((at + i).min(chars.len()), c);
                        }
                    }
                    _ => {
                        if let Some(c) = chars.get_mut(at) {
                            *c = char::from(rng.u8(32..127));
                        }
                    }
                }
            }
            t.text = chars.into_iter().collect();
            let parsed = flowdeck::model::parse_suite(&t.text, &t.path);
            t.suite = parsed.suite;
            t.diagnostics = parsed.diagnostics;
        }
        let loaded = suite::load::from_project(&p, None);
        for d in &loaded.invalid {
            assert!(
                !d.message.is_empty(),
                "round {round}: a fault says something"
            );
        }
        ran += loaded
            .files
            .iter()
            .map(|f| f.suite.cases.len())
            .sum::<usize>();
        let _ = rt.block_on(suite::run_all(
            Arc::new(loaded.catalog),
            loaded.files,
            &loaded.snapshots,
            &SuiteOptions::default(),
        ));
    }
    assert!(ran > 0, "some mutated files still read and ran");
}
