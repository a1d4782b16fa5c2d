//! Retention on real stores: `flowdeck prune` and `pin` from the command line, and a server
//! that prunes in the background while clients post events and the studio and another
//! process's prune use the same store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::studio::Studio;
use common::{Sandbox, text};
use serde_json::Value;
use std::time::{Duration, Instant};

const COUNTED: &str = r#"{"name": "counted", "on": "hit", "steps": [
  {"id": "note", "action": "set", "var": "n", "value": "{{$param.n}}"},
  {"id": "done", "action": "return", "value": {"n": "{{$var.n}}"}}
]}"#;

const ASLEEP: &str = r#"{"name": "asleep", "on": "hit", "active": false, "steps": [
  {"id": "never", "action": "log", "message": "off"}
]}"#;

/// A sandbox with `counted` (active) and `asleep` (inactive: a skip per event) deployed.
fn project() -> Sandbox {
    let s = Sandbox::new();
    let root = s.project(
        "p",
        None,
        &[
            ("workflows/counted.json", COUNTED),
            ("workflows/asleep.json", ASLEEP),
        ],
    );
    s.import_and_deploy(&root);
    s
}

fn count(s: &Sandbox, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(s.db()).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn consistent(s: &Sandbox) {
    let conn = rusqlite::Connection::open(s.db()).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let broken: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(broken, 0, "rows point at rows that are gone");
}

fn emit(s: &Sandbox, n: usize) {
    let out = s.cli(&["emit", "hit", "--params", &format!("{{\"n\": {n}}}")]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn prune_removes_exactly_what_it_says_and_never_a_pinned_run() {
    let s = project();
    for n in 1..=30 {
        emit(&s, n);
    }
    let pinned = count(&s, "SELECT id FROM runs WHERE event_id = 2");
    let (code, answer) = s.cli_json(&["pin", &pinned.to_string()]);
    assert_eq!((code, answer["pinned"].clone()), (0, Value::Bool(true)));

    let (code, counted) = s.cli_json(&["prune", "--keep-last", "10", "--dry-run"]);
    assert_eq!(code, 0);
    assert_eq!(counted["dry_run"], true);
    assert_eq!(
        count(&s, "SELECT count(*) FROM events"),
        30,
        "a dry run changes nothing"
    );
    let removed = &counted["removed"];
    assert_eq!(removed["events"], 19, "{counted}");
    assert_eq!(removed["runs"], 19);
    assert_eq!(removed["steps"], 38);
    assert_eq!(removed["skips"], 19);
    assert_eq!(removed["kept"], 1);

    let (code, done) = s.cli_json(&["prune", "--keep-last", "10"]);
    assert_eq!(code, 0);
    assert_eq!(
        done["removed"], counted["removed"],
        "it removed what the dry run said"
    );
    assert_eq!(count(&s, "SELECT count(*) FROM events"), 11);
    assert_eq!(count(&s, "SELECT min(id) FROM events WHERE id > 2"), 21);
    // the pinned run is whole
    let (code, run) = s.cli_json(&["show", &pinned.to_string()]);
    assert_eq!(code, 0);
    assert_eq!(run["steps"].as_array().map(Vec::len), Some(2), "{run}");
    assert_eq!(run["pinned"], true);
    consistent(&s);

    // unpinned, it goes with the next prune
    let (code, _) = s.cli_json(&["unpin", &pinned.to_string()]);
    assert_eq!(code, 0);
    let (_, again) = s.cli_json(&["prune", "--keep-last", "10"]);
    assert_eq!(again["removed"]["runs"], 1, "{again}");
    assert_eq!(count(&s, "SELECT count(*) FROM runs"), 10);
    consistent(&s);
}

#[test]
fn prune_and_pin_say_what_is_wrong() {
    let s = project();
    let out = s.cli(&["prune"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("--older-than 7d"), "{}", text(&out));
    let out = s.cli(&["prune", "--older-than", "seven days"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("--older-than"), "{}", text(&out));
    let out = s.cli(&["pin", "999"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("no run #999"), "{}", text(&out));
    let missing = s.path("nope.db");
    let out = s
        .command(&["prune", "--keep-last", "1"])
        .arg("--db")
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!missing.exists(), "prune does not create a store");
}

#[test]
fn a_bad_store_rule_in_the_project_file_is_refused_at_import() {
    let s = Sandbox::new();
    let root = s.project("p", None, &[("workflows/counted.json", COUNTED)]);
    std::fs::write(
        root.join("flowdeck.toml"),
        "name = \"p\"\n[store]\nretain = \"a week\"\n",
    )
    .unwrap();
    let out = s.cli(&["import", root.to_str().unwrap()]);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(
        said.contains("flowdeck.toml") && said.contains("retain"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_pruned_while_serve_and_the_studio_use_it_stays_consistent() {
    let s = project();
    let server = s.serve(&["--retain", "1s"]);
    let mut studio = Studio::with(120, 40, false, s, false).await;
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{}/events/hit", server.port);
    let started = Instant::now();
    let mut posted = 0u64;
    let mut errors_seen = 0u32;
    let mut pruned_by_hand = false;
    while started.elapsed() < Duration::from_secs(4) {
        for _ in 0..20 {
            posted += 1;
            let r = client
                .post(&url)
                .body(format!("{{\"n\": {posted}}}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 202, "{}", r.text().await.unwrap());
        }
        // the user walks the activity log meanwhile
        studio.press("<tab>jjk").await;
        studio
            .wait(|rt| {
                if rt.state().notice.as_ref().is_some_and(|n| n.error) {
                    errors_seen += 1;
                }
                true
            })
            .await;
        // and another process prunes too, once
        if !pruned_by_hand && started.elapsed() > Duration::from_secs(2) {
            let out = studio.sandbox.cli(&["prune", "--keep-last", "50"]);
            assert!(out.status.success(), "{}", text(&out));
            pruned_by_hand = true;
        }
    }
    // the background prune catches up within a few of its rounds
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let events = count(&studio.sandbox, "SELECT count(*) FROM events");
        let oldest_age_ms = count(
            &studio.sandbox,
            "SELECT (CAST(strftime('%s','now') AS INTEGER) * 1000000 - min(emitted_at)) / 1000 FROM events",
        );
        if events < i64::try_from(posted).unwrap() && oldest_age_ms < 5_000 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "retention did not catch up: {events} events of {posted}, the oldest {oldest_age_ms} ms old"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    studio.press("<tab>gG").await;
    studio.settle().await;
    assert_eq!(
        errors_seen,
        0,
        "an error reached the studio: {}",
        studio.screen()
    );
    assert!(
        !studio.state().notice.as_ref().is_some_and(|n| n.error),
        "{}",
        studio.screen()
    );
    drop(server);
    consistent(&studio.sandbox);
    // every event left has its run
    assert_eq!(
        count(
            &studio.sandbox,
            "SELECT count(*) FROM events e WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.event_id = e.id)"
        ),
        0
    );
}

#[test]
fn a_soak_samples_the_store_and_memory_while_retention_prunes() {
    let s = Sandbox::deployed(&["b", "--example", "bench"], "b");
    let (code, report) = s.cli_json(&[
        "bench",
        "hit",
        "--duration",
        "6s",
        "--rate",
        "200",
        "--retain",
        "1s",
    ]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["pruning"], true);
    let events = report["events"].as_u64().unwrap();
    assert!(
        (1000..=1200).contains(&events),
        "{events} events in 6 s at 200/s"
    );
    let samples = report["samples"].as_array().unwrap();
    assert!(samples.len() >= 2, "{report}");
    let last = samples.last().unwrap();
    assert_eq!(last["events"].as_u64(), Some(events));
    assert!(last["store_mb"].as_f64().unwrap() > 0.0);
    assert!(last["rss_mb"].as_f64().unwrap() > 0.0);
    // what is left is about the last second or two, not the six
    let left = count(&s, "SELECT count(*) FROM events");
    assert!(left < 800, "{left} events left of {events}");
    consistent(&s);
}

const CARRIED: &str = r#"{"name": "carried", "on": "order", "steps": [
  {"id": "keep", "action": "set", "var": "order", "value": "{{$param.order}}"},
  {"id": "count", "action": "set", "var": "n", "value": "{{$var.order.items | length}}"},
  {"id": "copy", "action": "set", "var": "copy", "value": {"of": "{{$var.order}}", "n": "{{$var.n}}"}},
  {"id": "done", "action": "return", "value": {"order": "{{$var.order}}", "n": "{{$var.n}}"}}
]}"#;

/// A large value that every step after the first carries (in `$var`, in inputs, in the
/// output) is stored once for its run, and the run reads back whole through `show --json`;
/// pruning the run takes its shared values with it.
#[test]
fn a_large_value_steps_repeat_is_stored_once_and_read_back_whole() {
    let s = Sandbox::new();
    let root = s.project("p", None, &[("workflows/carried.json", CARRIED)]);
    s.import_and_deploy(&root);
    let items: Vec<Value> = (0..300)
        .map(|i| serde_json::json!({"sku": i, "name": format!("item {i}"), "qty": i % 7}))
        .collect();
    let order = serde_json::json!({"id": 7, "items": items});
    let params = serde_json::json!({ "order": order }).to_string();
    let (code, emitted) = s.cli_json(&["emit", "order", "--params", &params, "--json"]);
    assert_eq!(code, 0, "{emitted}");
    let run_id = emitted["runs"][0]["id"].as_i64().unwrap();
    let (code, shown) = s.cli_json(&["show", &run_id.to_string(), "--json"]);
    assert_eq!(code, 0, "{shown}");
    let steps = shown["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 4);
    for step in &steps[..3] {
        assert_eq!(step["vars"]["order"], order, "{}", step["step"]);
    }
    assert_eq!(steps[2]["output"]["of"], order);
    assert_eq!(shown["output"]["order"], order);
    assert_eq!(shown["output"]["n"], 300);
    // what the records hold is a small part of what they say
    let order_bytes = order.to_string().len() as i64;
    let in_records = count(
        &s,
        "SELECT sum(length(input) + length(output) + coalesce(length(vars), 0)) FROM steps",
    );
    let shared = count(&s, "SELECT sum(length(body)) FROM step_values");
    assert!(
        in_records + shared < 3 * order_bytes,
        "records {in_records} and shared {shared} bytes for a value of {order_bytes} said 8 times"
    );
    // pruned with its run (a second run, so the first is not its workflow's last)
    let out = s.cli(&["emit", "order", "--params", r#"{"order": {"items": []}}"#]);
    assert!(out.status.success(), "{}", text(&out));
    let out = s.cli(&["prune", "--keep-last", "1"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(count(&s, "SELECT count(*) FROM step_values"), 0);
    consistent(&s);
}
