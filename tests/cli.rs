//! The command line as a new user runs it: the real binary on a real store in a temp folder.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Sandbox, example_dir, text};
use serde_json::{Value, json};

/// `init shop && import shop && deploy --all` in a fresh sandbox.
fn shop() -> Sandbox {
    Sandbox::deployed(&["shop"], "shop")
}

fn names(runs: &Value) -> Vec<(String, String)> {
    runs.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["workflow"].as_str().unwrap_or_default().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_order_to_reorder_example_runs_end_to_end() {
    let s = shop();
    let (code, out) = s.cli_json(&[
        "call",
        "POST",
        "/orders",
        "--body",
        r#"{"sku":{"id":1},"quantity":60}"#,
    ]);
    assert_eq!(code, 0, "{out:#}");
    // the invoice and the response
    assert_eq!(out["status"], 201);
    assert_eq!(out["body"]["invoice"], 1);
    assert_eq!(out["body"]["stock"], 40);
    assert_eq!(out["run"]["endpoint"], "POST /orders");
    assert_eq!(out["run"]["status"], "succeeded");
    let steps: Vec<&str> = out["run"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert!(
        steps.contains(&"invoice") && steps.contains(&"reorder"),
        "{steps:?}"
    );
    // the event and the cascade
    let events: Vec<&str> = out["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(events, vec!["sku_reorder", "po_created"]);
    assert_eq!(out["events"][0]["params"], json!({"sku": 1, "stock": 40}));
    assert_eq!(out["events"][1]["depth"], 1);
    let mut runs = names(&out["runs"]);
    runs.sort();
    assert_eq!(
        runs,
        vec![
            ("notify_buyer".into(), "succeeded".into()),
            ("receive_stock".into(), "succeeded".into()),
            ("reorder_supply".into(), "succeeded".into()),
        ]
    );
    // every run carries its step records
    assert!(
        out["runs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| !r["steps"].as_array().unwrap().is_empty())
    );
    // the inactive workflow, skipped with its reason
    assert_eq!(
        out["skipped"],
        json!([{"event_id": out["events"][0]["id"], "workflow": "slack_alert", "reason": "inactive"}])
    );
    // the data: stock was lowered, then restocked by the cascade
    let (_, sku) = s.cli_json(&["call", "GET", "/skus/1"]);
    assert_eq!(sku["body"]["stock"], 40 + 110);
}

#[test]
fn text_output_shows_the_cascade_as_a_tree() {
    let s = shop();
    let out = s.cli(&[
        "call",
        "POST",
        "/orders",
        "--body",
        r#"{"sku":{"id":1},"quantity":60}"#,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout.starts_with("HTTP 201"), "{stdout}");
    assert!(stdout.contains("event #1 sku_reorder"), "{stdout}");
    assert!(
        stdout.contains("· slack_alert  skipped: inactive"),
        "{stdout}"
    );
    assert!(stdout.contains("    event #2 po_created"), "{stdout}");
}

#[test]
fn responses_of_the_example_endpoint_cover_bad_requests() {
    let s = shop();
    let (code, out) = s.cli_json(&[
        "call",
        "POST",
        "/orders",
        "--body",
        r#"{"sku":{"id":1},"quantity":1000}"#,
    ]);
    assert_eq!((code, out["status"].clone()), (0, json!(409)), "{out:#}");
    let (_, out) = s.cli_json(&[
        "call",
        "POST",
        "/orders",
        "--body",
        r#"{"sku":{"id":99},"quantity":1}"#,
    ]);
    assert_eq!(out["status"], 404);
    let (_, out) = s.cli_json(&[
        "call",
        "POST",
        "/orders",
        "--body",
        r#"{"quantity":"lots"}"#,
    ]);
    assert_eq!(out["status"], 400);
    assert!(out["events"].as_array().unwrap().is_empty());
}

#[test]
fn list_toggle_and_deploy() {
    let s = shop();
    let (_, list) = s.cli_json(&["list"]);
    let wf = |list: &Value, name: &str| {
        list["workflows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        wf(&list, "reorder_supply"),
        json!({"name": "reorder_supply", "on": "sku_reorder", "active": true, "live_version": 1, "draft_changed": false, "file": "workflows/reorder_supply.json"})
    );
    assert_eq!(wf(&list, "slack_alert")["active"], false);
    assert!(
        list["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["method"] == "POST" && e["path"] == "/orders")
    );

    let out = s.cli(&["toggle", "notify_buyer", "off"]);
    assert!(out.status.success(), "{}", text(&out));
    let (_, emitted) = s.cli_json(&["emit", "sku_reorder", "--params", r#"{"sku": 2}"#]);
    assert!(
        emitted["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["workflow"] == "notify_buyer" && k["reason"] == "inactive")
    );

    // a changed draft shows as changed until deployed, and only the new version runs live
    let file = s.path("shop/workflows/receive_stock.json");
    let changed = std::fs::read_to_string(&file)
        .unwrap()
        .replace("received {{$param.qty}}", "booked {{$param.qty}}");
    std::fs::write(&file, changed).unwrap();
    assert!(s.cli(&["import", "shop"]).status.success());
    let (_, list) = s.cli_json(&["list"]);
    assert_eq!(wf(&list, "receive_stock")["draft_changed"], true);
    let (code, deployed) = s.cli_json(&["deploy", "receive_stock"]);
    assert_eq!(code, 0);
    assert_eq!(
        deployed["deployed"],
        json!([{"name": "receive_stock", "live_version": 2, "new": true}])
    );
    let (_, list) = s.cli_json(&["list"]);
    assert_eq!(wf(&list, "receive_stock")["draft_changed"], false);
}

#[test]
fn emit_queue_only_records_and_queues() {
    let s = shop();
    let (code, out) = s.cli_json(&[
        "emit",
        "sku_reorder",
        "--params",
        r#"{"sku": 3}"#,
        "--queue",
    ]);
    assert_eq!(code, 0, "{out:#}");
    assert_eq!(out["queued"].as_array().unwrap().len(), 2);
    let (_, runs) = s.cli_json(&["runs", "--status", "queued"]);
    assert_eq!(runs["runs"].as_array().unwrap().len(), 2);

    // params written loosely are recorded compact, in their order, once: the event's runs
    // read them from the event, and the answer shows them as recorded
    let loose = "{ \"sku\" : 4,\n  \"note\": \"é\", \"n\": [1, 2.50] }";
    let (code, out) = s.cli_json(&["emit", "sku_reorder", "--params", loose, "--queue"]);
    assert_eq!(code, 0, "{out:#}");
    let expected = json!({"sku": 4, "note": "é", "n": [1, 2.5]});
    assert_eq!(out["event"]["params"], expected, "{out:#}");
    assert_eq!(out["event"]["name"], "sku_reorder", "{out:#}");
    let id = out["queued"][0]["id"].as_i64().unwrap();
    let (_, run) = s.cli_json(&["show", &id.to_string()]);
    assert_eq!(run["params"], expected, "{run:#}");
    let out = s.cli(&["emit", "sku_reorder", "--params", loose, "--queue"]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains(r#"sku_reorder {"sku":4,"note":"é","n":[1,2.5]}  (from cli)"#)
            && shown.contains("run #")
            && shown.contains("queued")
            && !shown.contains("no workflow listens"),
        "{shown}"
    );
    // not an object, or not JSON: said so, nothing recorded
    let (_, before) = s.cli_json(&["events"]);
    let out = s.cli(&["emit", "sku_reorder", "--params", "[1, 2]", "--queue"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("must be a JSON object like"),
        "{}",
        text(&out)
    );
    let out = s.cli(&["emit", "sku_reorder", "--params", "{\"sku\": }", "--queue"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid JSON at line 1 column 9"),
        "{}",
        text(&out)
    );
    let (_, after) = s.cli_json(&["events"]);
    assert_eq!(before, after);
}

#[test]
fn emit_draft_runs_the_drafts_of_active_listeners() {
    let s = shop();
    let (code, out) = s.cli_json(&[
        "emit",
        "sku_reorder",
        "--params",
        r#"{"sku": 3}"#,
        "--draft",
    ]);
    assert_eq!(code, 0, "{out:#}");
    let runs = out["runs"].as_array().unwrap();
    assert!(
        runs.iter()
            .all(|r| r["mode"] == "debug" && r["version"].is_null()),
        "{out:#}"
    );
    assert_eq!(
        runs.len(),
        3,
        "two listeners and the cascade's receive_stock"
    );
}

#[test]
fn debug_prints_a_trace_and_show_runs_events_read_the_record() {
    let s = shop();
    let out = s.cli(&["debug", "reorder_supply", "--params", r#"{"sku": 2}"#]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", text(&out));
    for needle in [
        "reorder_supply",
        "(draft)",
        "load",
        "db.query",
        "supplier",
        "offline",
        "done",
    ] {
        assert!(stdout.contains(needle), "{needle} missing in {stdout}");
    }
    let (_, runs) = s.cli_json(&["runs", "--workflow", "reorder_supply", "--limit", "5"]);
    let run_id = runs["runs"][0]["id"].as_i64().unwrap();
    assert!(
        runs["runs"][0].get("steps").is_none(),
        "runs lists runs without steps"
    );
    let (code, run) = s.cli_json(&["show", &run_id.to_string()]);
    assert_eq!(code, 0);
    assert_eq!(run["workflow"], "reorder_supply");
    let step = &run["steps"][0];
    for field in [
        "seq",
        "step",
        "path",
        "action",
        "status",
        "input",
        "output",
        "error",
        "duration_us",
        "attempt",
    ] {
        assert!(step.get(field).is_some(), "step lacks {field}: {step}");
    }
    let (_, events) = s.cli_json(&["events", "--name", "po_created"]);
    let e = &events["events"][0];
    for field in [
        "id",
        "name",
        "params",
        "source",
        "parent_run",
        "depth",
        "emitted_at",
    ] {
        assert!(e.get(field).is_some(), "event lacks {field}: {e}");
    }
    assert_eq!(e["source"], "workflow:reorder_supply");
}

#[test]
fn export_writes_back_exactly_what_was_imported() {
    let s = shop();
    let out = s.cli(&["export", "exported"]);
    assert!(out.status.success(), "{}", text(&out));
    for rel in [
        "flowdeck.toml",
        "schema.sql",
        "workflows/reorder_supply.json",
        "workflows/notify_buyer.json",
        "workflows/receive_stock.json",
        "workflows/slack_alert.json",
        "endpoints/create_order.json",
        "endpoints/get_sku.json",
    ] {
        let original = std::fs::read_to_string(example_dir().join(rel)).unwrap();
        let exported = std::fs::read_to_string(s.path("exported").join(rel)).unwrap();
        assert_eq!(original, exported, "{rel} differs after export");
    }
}

#[test]
fn export_carries_a_toggle_made_in_the_store() {
    let s = shop();
    assert!(s.cli(&["toggle", "notify_buyer", "off"]).status.success());
    assert!(s.cli(&["export", "exported"]).status.success());
    let file = s.path("exported/workflows/notify_buyer.json");
    let exported: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(exported["active"], false, "{exported}");
    // the exported project, imported into a new store, keeps it off
    let other = Sandbox::new();
    let exported_dir = s.path("exported");
    let out = other.cli(&["import", exported_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let (_, list) = other.cli_json(&["list"]);
    let row = list["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "notify_buyer")
        .cloned()
        .unwrap();
    assert_eq!(row["active"], false, "{list}");
}

#[test]
fn demo_seeds_and_deploys_the_example() {
    let s = Sandbox::new();
    let out = s.cli(&["demo", "--no-studio"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("reorder_supply") && stdout.contains("POST /orders"),
        "{stdout}"
    );
    // running it again changes nothing and still works
    assert!(s.cli(&["demo", "--no-studio"]).status.success());
    let (_, list) = s.cli_json(&["list"]);
    assert!(
        list["workflows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["live_version"] == 1 && w["draft_changed"] == false)
    );
}

/// A command that must fail with exit code `code` and say all of `words` on stderr.
fn refused(s: &Sandbox, args: &[&str], code: i32, words: &[&str]) {
    let out = s.cli(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {}", text(&out));
    for w in words {
        assert!(stderr.contains(w), "{args:?}: stderr lacks {w:?}: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_input_is_a_clear_error_never_a_panic() {
    let s = shop();
    refused(
        &s,
        &["emit", "sku_reorder", "--params", "{sku:1}"],
        1,
        &["--params", "invalid JSON", "line 1 column 2"],
    );
    refused(
        &s,
        &["emit", "sku_reorder", "--params", "[1]"],
        1,
        &["must be a JSON object"],
    );
    refused(
        &s,
        &["emit", "sku_reorder", "--params", "@missing.json"],
        1,
        &["cannot read missing.json"],
    );
    refused(
        &s,
        &["debug", "reorder_suply"],
        1,
        &["no workflow named", "did you mean \"reorder_supply\""],
    );
    refused(
        &s,
        &["toggle", "nope", "on"],
        1,
        &["no workflow or endpoint named \"nope\""],
    );
    refused(
        &s,
        &["deploy", "nope"],
        1,
        &["no workflow or endpoint named"],
    );
    refused(
        &s,
        &["call", "GET", "/nowhere"],
        1,
        &["no endpoint answers GET /nowhere", "POST /orders"],
    );
    refused(
        &s,
        &["call", "POST", "/orders", "--body", "{"],
        1,
        &["--body", "invalid JSON"],
    );
    refused(&s, &["show", "999"], 1, &["no run #999"]);
    refused(
        &s,
        &["runs", "--workflow", "nope"],
        1,
        &["no workflow or endpoint named"],
    );
    refused(
        &s,
        &["import", "does-not-exist"],
        1,
        &["does-not-exist does not exist"],
    );
    // usage errors exit 2
    refused(
        &s,
        &["toggle", "notify_buyer", "maybe"],
        2,
        &["invalid value 'maybe'"],
    );
    refused(&s, &["deploy"], 2, &["--all"]);
    refused(&s, &["frobnicate"], 2, &["unrecognized subcommand"]);
}

#[test]
fn a_missing_store_folder_or_a_file_that_is_not_sqlite_is_refused() {
    let s = Sandbox::new();
    let missing = s.path("no/such/folder/flowdeck.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowdeck"))
        .args(["--db", missing.to_str().unwrap(), "list"])
        .env("FLOWDECK_LOG_FILE", s.path("log"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not exist"),
        "{}",
        text(&out)
    );
    assert!(!missing.parent().unwrap().exists(), "nothing was created");

    std::fs::write(
        s.db(),
        "just some text, certainly not a SQLite database file at all",
    )
    .unwrap();
    refused(
        &s,
        &["list"],
        1,
        &["not a flowdeck store", "not a SQLite database"],
    );
    let kept = std::fs::read_to_string(s.db()).unwrap();
    assert!(
        kept.starts_with("just some text"),
        "the file was left alone"
    );
}

#[test]
fn init_refuses_a_folder_that_is_not_empty() {
    let s = Sandbox::new();
    s.write("taken/keep.txt", "mine");
    refused(
        &s,
        &["init", "taken"],
        1,
        &["not empty", "nothing was written"],
    );
    assert_eq!(
        std::fs::read_to_string(s.path("taken/keep.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn config_print_default_is_the_whole_default_file() {
    let s = Sandbox::new();
    let out = s.cli(&["config", "--print-default"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let parsed: toml::Table = toml::from_str(&stdout).expect("valid TOML");
    assert_eq!(parsed["ui"]["mouse"].as_bool(), Some(true));
    assert_eq!(
        parsed["keymap"]["emit"].as_array().unwrap()[0].as_str(),
        Some("x")
    );
    assert!(
        stdout.contains("# Emit the selected workflow's event"),
        "{stdout}"
    );
}

#[test]
fn the_studio_needs_a_terminal() {
    let s = Sandbox::new();
    refused(&s, &[], 1, &["needs a terminal"]);
}

#[test]
fn versions_diff_and_rollback() {
    let s = shop();
    let file = s.path("shop/workflows/reorder_supply.json");
    let original = std::fs::read_to_string(&file).unwrap();
    let changed = original
        .replace("\"timeout_ms\": 5000", "\"timeout_ms\": 8000")
        .replace(
            "{\"id\": \"done\", \"action\": \"return\",",
            "{\"id\": \"audit\", \"action\": \"log\", \"message\": \"ordered {{$var.qty}}\"},\n    {\"id\": \"done\", \"action\": \"return\",",
        );
    std::fs::write(&file, &changed).unwrap();
    assert!(s.cli(&["import", "shop"]).status.success());

    // the draft against the live version, step by step
    let out = s.cli(&["diff", "reorder_supply"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", common::text(&out));
    assert!(text.contains("reorder_supply: v1 → draft"), "{text}");
    assert!(text.contains("+ step audit (log)"), "{text}");
    assert!(text.contains("~ step order (http): timeout_ms"), "{text}");
    assert!(text.contains("timeout_ms: 5000 → 8000"), "{text}");

    assert!(s.cli(&["deploy", "reorder_supply"]).status.success());
    let (_, v) = s.cli_json(&["versions", "reorder_supply"]);
    assert_eq!(v["live_version"], 2);
    let versions = v["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["summary"], "first version");
    assert_eq!(versions[1]["summary"], "+1 step, ~1 (order)");
    assert_eq!(versions[1]["live"], true);
    let (_, d) = s.cli_json(&["diff", "reorder_supply", "--from", "1", "--to", "2"]);
    assert_eq!(d["changes"].as_array().unwrap().len(), 2);

    let out = s.cli(&["rollback", "reorder_supply", "1"]);
    assert!(out.status.success(), "{}", common::text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("v1 is live again (was v2)"));
    let (_, list) = s.cli_json(&["list"]);
    let wf = list["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "reorder_supply")
        .unwrap()
        .clone();
    assert_eq!(
        (wf["live_version"].clone(), wf["draft_changed"].clone()),
        (json!(1), json!(true))
    );
    // the live version runs: no audit step
    let (_, run) = s.cli_json(&["emit", "sku_reorder", "--params", r#"{"sku": 3}"#]);
    let rs = run["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["workflow"] == "reorder_supply")
        .unwrap()
        .clone();
    assert!(
        rs["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["step"] != "audit")
    );
    refused(
        &s,
        &["rollback", "reorder_supply", "7"],
        1,
        &["has no version 7"],
    );
    refused(
        &s,
        &["rollback", "reorder_supply", "1"],
        1,
        &["already live"],
    );
    refused(
        &s,
        &["diff", "reorder_supply", "--to", "seven"],
        1,
        &["not a version number"],
    );
}

/// Found by hand: `flowdeck list --json | head -c 100` panicked with "failed printing to
/// stdout: Broken pipe" and exit 101. Every command ends quietly when its reader has gone.
#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    use std::process::{Command, Stdio};
    let s = shop();
    // params larger than a pipe's buffer: the writer blocks until the reader closes, so the
    // closed pipe is met for sure, not only when the reader wins the race
    let big = serde_json::json!({ "sku": 1, "note": "x".repeat(200_000) });
    s.write("big.json", &big.to_string());
    assert!(
        s.cli(&["emit", "sku_reorder", "--params", "@big.json"])
            .status
            .success()
    );
    for args in [
        &["list", "--json"][..],
        &["events", "--json"],
        &["events"],
        &["show", "1"],
        &["show", "1", "--json"],
        &["runs", "--json"],
        &["call", "GET", "/skus/1", "--json"],
        &["config", "--print-default"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flowdeck"))
            .arg("--db")
            .arg(s.db())
            .args(args)
            .current_dir(s.dir.path())
            .env("FLOWDECK_LOG_FILE", s.path("flowdeck.log"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

/// Found by hand: a filter that matched nothing said "No runs yet." on a store with runs.
#[test]
fn an_empty_filter_says_nothing_matched() {
    let s = shop();
    let out = s.cli(&["runs", "--workflow", "reorder_supply", "--status", "failed"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("No runs yet"),
        "{}",
        text(&out)
    );
    assert!(
        s.cli(&["emit", "sku_reorder", "--params", r#"{"sku": 2}"#])
            .status
            .success()
    );
    let out = s.cli(&["runs", "--workflow", "reorder_supply", "--status", "failed"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("No run matches --workflow reorder_supply --status failed"),
        "{stdout}"
    );
    let out = s.cli(&["events", "--name", "po_shipped"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("No event named \"po_shipped\""), "{stdout}");
}

/// `call --draft` runs an endpoint's draft (never deployed here) as a request would, with
/// `--header`s; without `--draft` the same call says the endpoint was never deployed.
#[test]
fn call_runs_a_draft_with_headers() {
    let s = Sandbox::new();
    let root = s.project(
        "echo",
        None,
        &[(
            "endpoints/echo.json",
            r#"{"method": "GET", "path": "/echo/{id}", "steps": [
                {"id": "answer", "action": "return", "status": 203,
                 "value": {"id": "{{$path.id}}", "shop": "{{$headers[\"x-shop\"]}}", "q": "{{$query.q}}"}}]}"#,
        )],
    );
    assert!(s.cli(&["import", root.to_str().unwrap()]).status.success());
    let out = s.cli(&["call", "GET", "/echo/7?q=1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("never deployed"),
        "{}",
        text(&out)
    );
    let (code, v) = s.cli_json(&[
        "call",
        "GET",
        "/echo/7?q=1",
        "--draft",
        "--header",
        "X-Shop: berlin",
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["status"], 203);
    assert_eq!(v["body"], json!({"id": "7", "shop": "berlin", "q": "1"}));
    assert_eq!(
        (v["run"]["version"].clone(), v["run"]["mode"].clone()),
        (Value::Null, json!("debug"))
    );
    refused(
        &s,
        &[
            "call",
            "GET",
            "/echo/7",
            "--draft",
            "--header",
            "X-Shop berlin",
        ],
        1,
        &["--header", "'Name: value'"],
    );
}

/// Found by hand: `debug reorder_supply` printed one `emit` line, but its po_created ran
/// receive_stock's draft too. A debug run shows what it set off, as `emit` does.
#[test]
fn debug_shows_what_the_run_set_off() {
    let s = shop();
    let out = s.cli(&["debug", "reorder_supply", "--params", r#"{"sku": 1}"#]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout.contains("event #1 po_created") && stdout.contains("receive_stock  run #2 (draft)"),
        "{stdout}"
    );
    let (_, v) = s.cli_json(&["debug", "reorder_supply", "--params", r#"{"sku": 2}"#]);
    let cascade = &v["cascade"];
    assert_eq!(cascade["events"][0]["name"], "po_created", "{v}");
    assert_eq!(cascade["runs"][0]["workflow"], "receive_stock", "{v}");
    assert_eq!(
        cascade["runs"][0]["version"],
        Value::Null,
        "a draft's cascade runs drafts"
    );
    assert!(cascade["runs"][0]["steps"].is_array(), "{v}");
}
