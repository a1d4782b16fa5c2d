//! Replay and compare through the real binary: `rerun` (from a step, without repeating what
//! came before it), `replay`, `what-if`, `diff-runs`, `trace` and `why`, on the example
//! project and on a project of three workflows that cascade and loop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Sandbox, text};
use serde_json::{Value, json};

/// A workflow that writes, then checks: a run with `ok` false writes its row, then fails.
const BOOKING: &str = r#"{"name": "booking", "on": "book", "steps": [
  {"id": "write", "action": "db.exec", "sql": "INSERT INTO bookings (who) VALUES (?)", "args": ["{{$param.who}}"], "as": "row"},
  {"id": "check", "action": "if", "cond": "{{ $param.ok }}",
   "then": [{"id": "fine", "action": "set", "var": "verdict", "value": "booked"}],
   "else": [{"id": "refuse", "action": "fail", "message": "{{$param.who}} is not ok"}]},
  {"id": "done", "action": "return", "value": {"who": "{{$param.who}}", "row": "{{$var.row.last_id}}", "verdict": "{{$var.verdict}}"}}
]}"#;

/// Three workflows in a chain of events that comes back to the first: one → two → three → one.
const FIRST: &str = r#"{"name": "first", "on": "one", "steps": [
  {"id": "pass", "action": "emit", "event": "two", "params": {"n": "{{ $param.n + 1 }}"}}]}"#;
const SECOND: &str = r#"{"name": "second", "on": "two", "steps": [
  {"id": "pass", "action": "emit", "event": "three", "params": {"n": "{{ $param.n + 1 }}"}}]}"#;
const THIRD: &str = r#"{"name": "third", "on": "three", "steps": [
  {"id": "pass", "action": "emit", "event": "one", "params": {"n": "{{ $param.n + 1 }}"}}]}"#;
/// A listener of `one` that is switched off.
const QUIET: &str = r#"{"name": "quiet", "on": "one", "active": false, "steps": [
  {"id": "nothing", "action": "log", "message": "never"}]}"#;

fn project() -> Sandbox {
    let s = Sandbox::new();
    let root = s.project(
        "p",
        Some("CREATE TABLE IF NOT EXISTS bookings (id INTEGER PRIMARY KEY, who TEXT);"),
        &[
            ("workflows/booking.json", BOOKING),
            ("workflows/first.json", FIRST),
            ("workflows/second.json", SECOND),
            ("workflows/third.json", THIRD),
            ("workflows/quiet.json", QUIET),
        ],
    );
    s.import_and_deploy(&root);
    s
}

fn bookings(s: &Sandbox) -> i64 {
    let conn = rusqlite::Connection::open(s.path("flowdeck.data.db")).unwrap();
    conn.query_row("SELECT count(*) FROM bookings", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_rerun_from_a_step_does_not_repeat_what_came_before() {
    let s = project();
    let (code, emitted) =
        s.cli_json(&["emit", "book", "--params", r#"{"who": "ann", "ok": false}"#]);
    assert_eq!(code, 1, "the run fails: {emitted}");
    let failed = emitted["runs"][0]["id"].as_i64().unwrap();
    assert_eq!(bookings(&s), 1, "the row was written once");
    // again from the check, with the params fixed: the insert before it does not run again
    let (code, rerun) = s.cli_json(&[
        "rerun",
        &failed.to_string(),
        "--from",
        "check",
        "--params",
        r#"{"who": "ann", "ok": true}"#,
    ]);
    assert_eq!(code, 0, "{rerun}");
    assert_eq!(rerun["status"], "succeeded");
    assert_eq!(rerun["rerun_of"], failed);
    assert_eq!(rerun["from_step"], "check");
    assert_eq!(rerun["mode"], "replay");
    assert_eq!(
        rerun["output"],
        json!({"who": "ann", "row": 1, "verdict": "booked"}),
        "the variables the record had before the step: the row written by the first run"
    );
    let steps: Vec<&str> = rerun["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["check", "fine", "done"]);
    assert_eq!(bookings(&s), 1, "no second write");
    // compared with the first run, the write is what the rerun began after, not a difference
    let rerun_id = rerun["id"].to_string();
    let (_, diff) = s.cli_json(&["diff-runs", &failed.to_string(), &rerun_id]);
    let write = diff["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "write")
        .cloned()
        .unwrap();
    assert_eq!(write["only_in"], "a", "{diff}");
    assert_eq!(write["before_start"], true, "{diff}");
    let refuse = diff["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "refuse")
        .cloned()
        .unwrap();
    assert!(
        refuse.get("before_start").is_none(),
        "a real difference: {diff}"
    );
    let out = s.cli(&["diff-runs", &failed.to_string(), &rerun_id]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("· write  not run again in run #")
            && stdout.contains("- refuse  only in run #"),
        "{stdout}"
    );
    // from the start it does write again; show says where it came from
    let (code, again) = s.cli_json(&[
        "rerun",
        &failed.to_string(),
        "--params",
        r#"{"who": "bo", "ok": true}"#,
    ]);
    assert_eq!(code, 0, "{again}");
    assert_eq!(bookings(&s), 2);
    let (_, shown) = s.cli_json(&["show", &again["id"].to_string()]);
    assert_eq!(shown["rerun_of"], failed);
    assert!(shown.get("from_step").is_none(), "{shown}");
    // a step that never ran is refused with the ones that did
    let out = s.cli(&["rerun", &failed.to_string(), "--from", "fine"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("no step \"fine\" that ran") && stderr.contains("write, check"),
        "{stderr}"
    );
}

#[test]
fn a_rerun_runs_the_draft_when_asked() {
    let s = project();
    let (_, emitted) = s.cli_json(&["emit", "book", "--params", r#"{"who": "cy", "ok": true}"#]);
    let run = emitted["runs"][0]["id"].as_i64().unwrap();
    let file = s.path("p/workflows/booking.json");
    std::fs::write(&file, BOOKING.replace("\"booked\"", "\"booked again\"")).unwrap();
    assert!(s.cli(&["import", "p"]).status.success());
    let (_, live) = s.cli_json(&["rerun", &run.to_string()]);
    assert_eq!(live["output"]["verdict"], "booked");
    assert_eq!(live["version"], 1);
    let (_, draft) = s.cli_json(&["rerun", &run.to_string(), "--draft"]);
    assert_eq!(draft["output"]["verdict"], "booked again");
    assert_eq!(draft["version"], Value::Null);
}

#[test]
fn replay_emits_recorded_events_again() {
    let s = Sandbox::deployed(&["shop"], "shop");
    let (_, first) = s.cli_json(&["emit", "sku_reorder", "--params", r#"{"sku": 2}"#]);
    let id = first["event"]["id"].as_i64().unwrap();
    let (code, replayed) = s.cli_json(&["replay", &id.to_string()]);
    assert_eq!(code, 0, "{replayed}");
    let again = &replayed["replayed"][0];
    assert_eq!(again["event"]["replay_of"], id);
    assert_eq!(again["event"]["params"], json!({"sku": 2}));
    let modes: Vec<&str> = again["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["mode"].as_str().unwrap())
        .collect();
    assert!(
        !modes.is_empty() && modes.iter().all(|m| *m == "replay"),
        "{modes:?}"
    );
    assert_eq!(
        again["events"].as_array().unwrap().len(),
        2,
        "with its cascade: the po_created of reorder_supply"
    );
    // by name: the newest, oldest first
    s.cli(&["emit", "sku_reorder", "--params", r#"{"sku": 3}"#]);
    let (_, named) = s.cli_json(&["replay", "--event", "sku_reorder", "--limit", "2"]);
    let params: Vec<Value> = named["replayed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event"]["params"].clone())
        .collect();
    assert_eq!(params, vec![json!({"sku": 2}), json!({"sku": 3})]);
    let out = s.cli(&["replay", "--event", "po_shipped"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no recorded event \"po_shipped\""));
}

#[test]
fn what_if_finds_a_changed_output_and_finds_none_when_nothing_changed() {
    let s = Sandbox::deployed(&["shop"], "shop");
    for sku in [1, 2, 3] {
        let params = format!("{{\"sku\": {sku}}}");
        assert!(
            s.cli(&["emit", "sku_reorder", "--params", &params])
                .status
                .success()
        );
    }
    let rows_before = s.cli_json(&["events"]).1;
    // the draft equals the live version: the same, event by event, although the data has
    // moved on since (stock restocked, purchase orders inserted)
    let (code, same) = s.cli_json(&["what-if", "reorder_supply", "--check"]);
    assert_eq!(code, 0, "{same}");
    assert_eq!(
        (same["same"].clone(), same["different"].clone()),
        (json!(3), json!(0)),
        "{same}"
    );
    // a changed quantity: found, field by field, and --check fails
    let file = s.path("shop/workflows/reorder_supply.json");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("[100, 150", "[120, 150")).unwrap();
    assert!(s.cli(&["import", "shop"]).status.success());
    let (code, changed) = s.cli_json(&["what-if", "reorder_supply", "--check"]);
    assert_eq!(code, 1, "{changed}");
    // the SKUs whose shortfall was under 120 (the quantity is the larger of the two)
    assert!(changed["different"].as_u64().unwrap() >= 1, "{changed}");
    let first = changed["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["same"] == false)
        .unwrap();
    let differences = first["differences"].as_array().unwrap();
    let at = |pointer: &str| {
        differences
            .iter()
            .find(|d| d["pointer"] == pointer)
            .cloned()
    };
    assert_eq!(
        at("/output/qty"),
        Some(json!({"pointer": "/output/qty", "live": 100, "draft": 120})),
        "{changed}"
    );
    assert!(
        at("/writes/0/args/1").is_some(),
        "the write it would have made: {changed}"
    );
    assert!(
        at("/emits/0/params/qty").is_some(),
        "the event it would have emitted: {changed}"
    );
    // nothing was written or emitted
    assert_eq!(s.cli_json(&["events"]).1, rows_before);
    let (_, runs) = s.cli_json(&["runs", "--workflow", "reorder_supply"]);
    assert_eq!(runs["runs"].as_array().unwrap().len(), 3);
}

#[test]
fn diff_runs_shows_different_branches() {
    let s = project();
    let (_, ok) = s.cli_json(&["emit", "book", "--params", r#"{"who": "di", "ok": true}"#]);
    let (_, not) = s.cli_json(&["emit", "book", "--params", r#"{"who": "di", "ok": false}"#]);
    let (a, b) = (
        ok["runs"][0]["id"].as_i64().unwrap(),
        not["runs"][0]["id"].as_i64().unwrap(),
    );
    let (code, diff) = s.cli_json(&["diff-runs", &a.to_string(), &b.to_string()]);
    assert_eq!(code, 0);
    assert_eq!(diff["status"], json!(["succeeded", "failed"]));
    assert_eq!(
        diff["params"],
        json!([{"pointer": "/ok", "a": true, "b": false}])
    );
    let step = |id: &str| {
        diff["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(step("fine")["only_in"], "a");
    assert_eq!(step("refuse")["only_in"], "b");
    assert_eq!(
        step("done")["only_in"],
        "a",
        "the failed run never got there"
    );
    let write = step("write");
    assert_eq!(write["only_in"], Value::Null);
    assert!(
        write["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["pointer"] == "/output/last_id"),
        "{write}"
    );
    let out = s.cli(&["diff-runs", &a.to_string(), &b.to_string()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("+ refuse  only in run #") && stdout.contains("- fine  only in run #"),
        "{stdout}"
    );
}

#[test]
fn trace_shows_a_three_level_cascade_with_its_loop_marked() {
    let s = project();
    let (_, emitted) = s.cli_json(&["emit", "one", "--params", r#"{"n": 1}"#]);
    let root = emitted["event"]["id"].as_i64().unwrap();
    let (code, tree) = s.cli_json(&["trace", &root.to_string()]);
    assert_eq!(code, 0, "{tree}");
    assert_eq!(tree["event"]["name"], "one");
    let listener = |node: &Value, w: &str| {
        node["listeners"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["workflow"] == w)
            .cloned()
            .unwrap()
    };
    assert_eq!(listener(&tree, "quiet")["skipped"], "inactive");
    let two = &listener(&tree, "first")["emitted"][0];
    assert_eq!(two["event"]["name"], "two");
    let three = &listener(two, "second")["emitted"][0];
    assert_eq!(three["event"]["name"], "three");
    let back = &listener(three, "third")["emitted"][0];
    assert_eq!(back["event"]["name"], "one");
    let stopped = listener(back, "first");
    assert_eq!(stopped["loop"], true);
    assert_eq!(stopped["skipped"], "loop: first → second → third → first");
    assert_eq!(back["event"]["params"]["n"], 4);
    let out = s.cli(&["trace", &root.to_string()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("↻ first  skipped: loop: first → second → third → first"),
        "{stdout}"
    );
    assert!(stdout.contains("· quiet  skipped: inactive"), "{stdout}");
}

#[test]
fn why_answers_in_one_sentence() {
    let s = project();
    let (_, emitted) = s.cli_json(&["emit", "one", "--params", r#"{"n": 1}"#]);
    let id = emitted["event"]["id"].as_i64().unwrap().to_string();
    let (_, quiet) = s.cli_json(&["why", &id, "quiet"]);
    assert_eq!(quiet["ran"], false);
    assert_eq!(quiet["run_id"], Value::Null);
    assert!(
        quiet["reason"]
            .as_str()
            .unwrap()
            .contains("quiet did not run for event #1 (one): it was switched off"),
        "{quiet}"
    );
    let (_, first) = s.cli_json(&["why", &id, "first"]);
    assert_eq!(first["ran"], true);
    assert!(first["run_id"].is_i64());
    let (_, second) = s.cli_json(&["why", &id, "second"]);
    assert!(
        second["reason"]
            .as_str()
            .unwrap()
            .contains("does not listen to one: it listens to two"),
        "{second}"
    );
    let out = s.cli(&["why", &id, "frist"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("did you mean \"first\""),
        "{}",
        text(&out)
    );
}

#[test]
fn the_example_project_answers_every_command() {
    let s = Sandbox::deployed(&["shop"], "shop");
    let (_, called) = s.cli_json(&[
        "call",
        "POST",
        "/orders",
        "--body",
        r#"{"sku": {"id": 1}, "quantity": 60}"#,
    ]);
    assert_eq!(called["status"], 201);
    let endpoint_run = called["run"]["id"].as_i64().unwrap();
    let event = called["events"][0]["id"].as_i64().unwrap();
    // an endpoint's run rerun with another request
    let (code, rerun) = s.cli_json(&[
        "rerun",
        &endpoint_run.to_string(),
        "--params",
        r#"{"body": {"sku": {"id": 2}, "quantity": 1}}"#,
    ]);
    assert_eq!(code, 0, "{rerun}");
    assert_eq!(rerun["output"]["sku"], 2);
    for args in [
        vec!["trace".to_string(), event.to_string()],
        vec!["why".into(), event.to_string(), "slack_alert".into()],
        vec!["what-if".into(), "notify_buyer".into()],
        vec![
            "diff-runs".into(),
            endpoint_run.to_string(),
            rerun["id"].to_string(),
        ],
        vec!["replay".into(), event.to_string()],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = s.cli(&args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
}
