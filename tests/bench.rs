//! `flowdeck bench` as a user runs it: the real binary on the bundled bench example, then the
//! record it leaves behind. Figures are checked for shape and consistency, never for speed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Sandbox, text};
use rusqlite::Connection;
use serde_json::Value;

/// `init bp --example bench && import bp && deploy --all` in a fresh sandbox.
fn bench_project() -> Sandbox {
    Sandbox::deployed(&["bp", "--example", "bench"], "bp")
}

fn count(db: &std::path::Path, sql: &str) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

fn percentiles(v: &Value, what: &str) {
    let p = |k: &str| {
        v[k].as_f64()
            .unwrap_or_else(|| panic!("{what}.{k} missing in {v}"))
    };
    assert!(p("p50") > 0.0, "{what}: {v}");
    assert!(
        p("p50") <= p("p90") && p("p90") <= p("p99") && p("p99") <= p("max"),
        "{what} out of order: {v}"
    );
}

#[test]
fn a_burst_is_measured_recorded_and_compared_with_the_ceiling() {
    let s = bench_project();
    let (code, r) = s.cli_json(&[
        "bench",
        "hit",
        "--events",
        "300",
        "--params",
        r#"{"n": 2}"#,
        "--baseline",
    ]);
    assert_eq!(code, 0, "{r}");
    for key in [
        "events_per_s",
        "runs_per_s",
        "steps_per_s",
        "rows_per_s",
        "peak_rss_mb",
        "ceiling_rows_per_s",
        "ratio",
    ] {
        assert!(r[key].as_f64().is_some_and(|x| x > 0.0), "{key}: {r}");
    }
    // two listeners: twice the runs, three step records each
    let events = r["events_per_s"].as_f64().unwrap();
    assert!(
        (r["runs_per_s"].as_f64().unwrap() / events - 2.0).abs() < 1e-6,
        "{r}"
    );
    assert!(
        (r["steps_per_s"].as_f64().unwrap() / events - 6.0).abs() < 1e-6,
        "{r}"
    );
    // the host's share of the CPU, where the system tells it (Linux), as a percentage
    for key in ["steal_pct", "ceiling_steal_pct"] {
        if std::path::Path::new("/proc/stat").exists() {
            let pct = r[key].as_f64().unwrap_or_else(|| panic!("{key}: {r}"));
            assert!((0.0..=100.0).contains(&pct), "{key}: {r}");
        }
    }
    // the process's CPU time, per event and as cores kept busy (Linux)
    if std::path::Path::new("/proc/self/stat").exists() {
        let per_event = r["cpu_us_per_event"]
            .as_f64()
            .unwrap_or_else(|| panic!("{r}"));
        let cores = r["cores_busy"].as_f64().unwrap_or_else(|| panic!("{r}"));
        let seconds = r["events_per_s"].as_f64().map(|e| 300.0 / e).unwrap();
        assert!(
            (per_event * 300.0 / 1e6 / seconds - cores).abs() < 1e-6,
            "CPU per event × events = cores busy × seconds: {r}"
        );
        assert!(per_event >= 0.0 && cores >= 0.0, "{r}");
    }
    let ratio = r["rows_per_s"].as_f64().unwrap() / r["ceiling_rows_per_s"].as_f64().unwrap();
    assert!((ratio - r["ratio"].as_f64().unwrap()).abs() < 1e-3, "{r}");
    percentiles(&r["latency_ms"], "latency_ms");
    percentiles(&r["first_step_ms"], "first_step_ms");
    assert!(
        r["first_step_ms"]["p50"].as_f64() <= r["latency_ms"]["p50"].as_f64(),
        "a first step is on disk no later than its run's end: {r}"
    );

    // every event, run and step is in the record, and each run did its work once
    let db = s.db();
    assert_eq!(
        count(&db, "SELECT count(*) FROM events WHERE name = 'hit'"),
        300
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM runs WHERE status = 'succeeded'"),
        600
    );
    assert_eq!(count(&db, "SELECT count(*) FROM steps"), 1800);
    assert_eq!(
        count(
            &s.path("flowdeck.data.db"),
            "SELECT count(*) FROM hits WHERE n = 2"
        ),
        600
    );
    // the ceiling's scratch store is gone
    let left: Vec<String> = std::fs::read_dir(db.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("ceiling"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_paced_burst_prints_a_table_per_listener() {
    let s = bench_project();
    let out = s.cli(&[
        "bench",
        "hit",
        "--events",
        "40",
        "--rate",
        "400",
        "--params",
        r#"{"n": 1}"#,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", text(&out));
    let mut expected = vec![
        "bench hit: 40 events at 400 events/s → 80 runs (0 failed), 240 step records",
        "events/s",
        "peak memory",
        "emit → first step on disk",
        "audit (40 runs) end",
        "tally first step",
    ];
    if std::path::Path::new("/proc/self/stat").exists() {
        expected.extend(["CPU time", "µs per event", "cores busy)"]);
    }
    for words in expected {
        assert!(stdout.contains(words), "lacks {words:?}:\n{stdout}");
    }
}

#[test]
fn failed_runs_are_counted_and_fail_the_command() {
    let s = Sandbox::new();
    let root = s.project(
        "p",
        None,
        &[(
            "workflows/broken.json",
            r#"{"name": "broken", "on": "hit", "steps": [
                {"id": "no", "action": "fail", "message": "refused {{$param.n}}"}]}"#,
        )],
    );
    s.import_and_deploy(&root);
    let (code, r) = s.cli_json(&["bench", "hit", "--events", "20", "--params", r#"{"n": 1}"#]);
    assert_eq!(code, 1, "{r}");
    assert_eq!(
        count(&s.db(), "SELECT count(*) FROM runs WHERE status = 'failed'"),
        20
    );
}

/// A command that must fail with exit code `code` and say all of `words` on stderr, leaving
/// no event behind.
fn refused(s: &Sandbox, args: &[&str], code: i32, words: &[&str]) {
    let out = s.cli(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {}", text(&out));
    for w in words {
        assert!(stderr.contains(w), "{args:?}: stderr lacks {w:?}: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(count(&s.db(), "SELECT count(*) FROM events"), 0, "{args:?}");
}

#[test]
fn bad_input_is_a_clear_error_and_emits_nothing() {
    let s = bench_project();
    refused(
        &s,
        &["bench", "nobody_listens"],
        1,
        &[
            "cannot bench \"nobody_listens\"",
            "no workflow listens to it",
        ],
    );
    refused(
        &s,
        &["bench", "hit", "--rate", "fast"],
        2,
        &["--rate", "fast"],
    );
    refused(&s, &["bench", "hit", "--rate", "0"], 2, &["--rate"]);
    refused(
        &s,
        &["bench", "hit", "--params", "[1]"],
        1,
        &["--params", "must be a JSON object"],
    );
    refused(
        &s,
        &["bench", "hit", "--events", "0"],
        1,
        &["--events must be at least 1"],
    );
    refused(
        &s,
        &["init", "other", "--example", "nope"],
        1,
        &["no example called \"nope\"", "shop", "bench"],
    );
    assert!(!s.path("other").exists(), "nothing written");
    for name in ["tally", "audit"] {
        let out = s.cli(&["toggle", name, "off"]);
        assert!(out.status.success(), "{}", text(&out));
    }
    refused(
        &s,
        &["bench", "hit"],
        1,
        &["inactive or not deployed", "audit", "tally", "switch on"],
    );
}
