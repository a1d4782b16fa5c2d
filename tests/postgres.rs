//! The store on PostgreSQL, through the real binary: the same session gives the same JSON as
//! on a SQLite file, and several `serve` processes share one queue on one database. These
//! run whenever `FLOWDECK_TEST_PG` names a server (`.ci/run` starts one); without it each
//! says it was skipped, and why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Sandbox;
use common::tmux::{Tmux, available};
use flowdeck::engine::{EmitRequest, Engine};
use flowdeck::model::RunStatus;
use flowdeck::store::Store;
use flowdeck::store::runs::RunFilter;
use serde_json::{Value, json};
use std::time::Duration;

/// A user's session across features, as `--json` documents, with what differs from one
/// moment to the next (times, durations) and from one kind of storage to the other (its
/// size in bytes) blanked.
fn session(s: &Sandbox) -> Vec<(String, i32, Value)> {
    s.init_import_deploy(&["shop"], "shop");
    let order = r#"{"sku":{"id":1},"quantity":60}"#;
    let steps: &[&[&str]] = &[
        &["list"],
        &["call", "POST", "/orders", "--body", order],
        &["emit", "sku_reorder", "--params", r#"{"sku": 2}"#],
        &["emit", "nobody_listens", "--params", "{}"],
        &["runs"],
        &["events"],
        &["show", "1"],
        &["show", "2"],
        &["show", "3"],
        &["trace", "1"],
        &["toggle", "notify_buyer", "off"],
        &["list"],
        &["versions", "reorder_supply"],
        &["rerun", "2"],
        &["replay", "2"],
        &["runs", "--status", "succeeded"],
        &["pin", "2"],
        &["prune", "--keep-last", "1", "--dry-run"],
    ];
    steps
        .iter()
        .map(|args| {
            let (code, out) = s.cli_json(args);
            (args.join(" "), code, blank_moments(out))
        })
        .collect()
}

/// `v` with times and durations replaced by placeholders.
fn blank_moments(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let momentary = k.ends_with("_at")
                        || k.contains("duration")
                        || k.ends_with("_ms")
                        || k.ends_with("_us")
                        || k == "elapsed"
                        || k.contains("bytes");
                    let v = if momentary && !v.is_null() {
                        json!("<moment>")
                    } else {
                        blank_moments(v)
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(blank_moments).collect()),
        Value::String(s) if looks_like_a_time(&s) => json!("<moment>"),
        other => other,
    }
}

/// `2026-12-06T06:10:00.123Z` and the like.
fn looks_like_a_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[..4].iter().all(u8::is_ascii_digit)
}

#[test]
fn the_same_session_gives_the_same_json_on_postgresql_as_on_a_file() {
    let Some(pg) =
        Sandbox::on_postgres("the_same_session_gives_the_same_json_on_postgresql_as_on_a_file")
    else {
        return;
    };
    let file = Sandbox::new();
    let on_file = session(&file);
    let on_pg = session(&pg);
    for ((args, code, a), (_, pg_code, b)) in on_file.iter().zip(&on_pg) {
        assert_eq!(
            code, pg_code,
            "`{args}`: exit codes differ:\nfile: {a:#}\npostgres: {b:#}"
        );
        assert_eq!(a, b, "`{args}` answers differently on PostgreSQL");
    }
}

#[test]
fn server_processes_on_one_postgresql_database_run_each_run_once() {
    let Some(s) =
        Sandbox::on_postgres("server_processes_on_one_postgresql_database_run_each_run_once")
    else {
        return;
    };
    let job = r#"{"name": "job", "on": "job", "steps": [
        {"id": "n", "action": "set", "var": "n", "value": "{{$param.n}}"},
        {"id": "pause", "action": "sleep", "ms": 2},
        {"id": "done", "action": "return", "value": "{{$var.n}}"}]}"#;
    let root = s.project("p", None, &[("workflows/job.json", job)]);
    s.import_and_deploy(&root);
    let events = 600;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let engine = Engine::open(&s.db(), 8).unwrap();
        for n in 0..events {
            let mut r = EmitRequest::new("job", json!({ "n": n }), "test");
            r.queue_only = true;
            engine.emit(r, None).await.unwrap();
        }
    });
    let servers: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|name| {
            std::process::Command::new(env!("CARGO_BIN_EXE_flowdeck"))
                .args([
                    "--db",
                    s.db().to_str().unwrap(),
                    "serve",
                    "--bind",
                    "127.0.0.1:0",
                ])
                .current_dir(s.dir.path())
                .env("FLOWDECK_LOG_FILE", s.path(&format!("{name}.log")))
                .env("FLOWDECK_LOG", "info")
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let store = Store::open(&s.db()).unwrap();
    let all = RunFilter {
        limit: 10_000,
        ..Default::default()
    };
    let mut finished = false;
    for _ in 0..1200 {
        let runs = store.list_runs(&all).unwrap();
        if runs.len() == events && runs.iter().all(|r| r.status == RunStatus::Succeeded) {
            finished = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for mut child in servers {
        let _ = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let _ = child.wait();
    }
    let runs = store.list_runs(&all).unwrap();
    assert!(finished, "{} runs, not all succeeded", runs.len());
    assert!(runs.iter().all(|r| r.attempt == 1), "a run ran twice");
    let mut outputs: Vec<i64> = runs
        .iter()
        .map(|r| r.output.as_ref().and_then(Value::as_i64).unwrap())
        .collect();
    outputs.sort_unstable();
    assert_eq!(outputs, (0..events as i64).collect::<Vec<_>>());
}

#[test]
fn the_studio_on_postgresql_shows_another_servers_events_as_they_come() {
    if !available() {
        println!("skipped: tmux is not installed");
        return;
    }
    let Some(s) =
        Sandbox::on_postgres("the_studio_on_postgresql_shows_another_servers_events_as_they_come")
    else {
        return;
    };
    let out = s.cli(&["demo", "--no-studio"]);
    assert!(out.status.success(), "{}", common::text(&out));
    let command = format!(
        "cd {dir} && FLOWDECK_LOG_FILE={log} {bin} --db '{db}'; echo STUDIO-EXITED $?; sleep 60",
        dir = s.dir.path().display(),
        log = s.path("studio.log").display(),
        bin = env!("CARGO_BIN_EXE_flowdeck"),
        db = s.db().display()
    );
    let t = Tmux::start("pg-studio", &command, 140, 40);
    t.wait_for("Workflows 4 · endpoints 2");
    // another server, on another connection, takes an event over HTTP
    let server = s.serve(&[]);
    let answer = http_post(server.port, "/events/sku_reorder", r#"{"sku": 2}"#);
    let event: Value = serde_json::from_str(&answer).unwrap();
    let id = event["id"].as_i64().unwrap();
    let started = std::time::Instant::now();
    t.wait_for(&format!("event #{id} sku_reorder {{\"sku\":2}}  from http"));
    t.wait_for("reorder_supply  run #");
    eprintln!(
        "the studio showed the other server's event {} ms after it was acknowledged",
        started.elapsed().as_millis()
    );
    t.keys(&["q"]);
    t.wait_for("STUDIO-EXITED 0");
}

/// `POST path` with a JSON body to the server on `port`; the answer's body.
fn http_post(port: u16, path: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut all = String::new();
    stream.read_to_string(&mut all).unwrap();
    assert!(all.starts_with("HTTP/1.1 2"), "{all}");
    all.split("\r\n\r\n").nth(1).unwrap_or_default().to_string()
}

#[test]
fn bench_on_postgresql_is_measured_and_compared_with_the_servers_ceiling() {
    let Some(s) = Sandbox::on_postgres(
        "bench_on_postgresql_is_measured_and_compared_with_the_servers_ceiling",
    ) else {
        return;
    };
    s.init_import_deploy(&["bp", "--example", "bench"], "bp");
    let (code, r) = s.cli_json(&["bench", "hit", "--events", "300", "--baseline"]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["store"], "postgres");
    assert_eq!(r["events"], 300);
    assert_eq!(r["failed_runs"], 0, "{r:#}");
    assert!(r["runs"].as_u64().unwrap() >= 300, "{r:#}");
    let ceiling = r["ceiling_rows_per_s"].as_f64().unwrap();
    let ratio = r["ratio"].as_f64().unwrap();
    assert!(ceiling > 0.0 && ratio > 0.0, "{r:#}");
    // the store holds what the bench wrote, and nothing of the ceiling
    let store = Store::open(&s.db()).unwrap();
    let written = store.written_after(Default::default()).unwrap();
    assert_eq!(written.events, 300);
    assert_eq!(written.runs, r["runs"].as_u64().unwrap());
}

#[test]
fn migrate_copies_a_file_store_into_postgresql_and_its_history_reads_the_same() {
    let Some(pg) = Sandbox::on_postgres(
        "migrate_copies_a_file_store_into_postgresql_and_its_history_reads_the_same",
    ) else {
        return;
    };
    let file = Sandbox::new();
    session(&file);
    let url = pg.db().to_string_lossy().into_owned();
    let from = file.db().to_string_lossy().into_owned();
    let (code, out) = file.cli_json(&["migrate", "--from", &from, "--to", &url, "--history"]);
    assert_eq!(code, 0, "{out:#}");
    assert_eq!(out["rows"]["definitions"], 6, "{out:#}");
    assert!(out["rows"]["steps"].as_u64().unwrap() > 0, "{out:#}");
    // what the file store says, the PostgreSQL one says the same
    let reads: &[&[&str]] = &[
        &["list"],
        &["runs", "--limit", "100"],
        &["events"],
        &["show", "1"],
        &["show", "3"],
        &["trace", "1"],
        &["versions", "reorder_supply"],
        &["diff-runs", "2", "5"],
    ];
    for args in reads {
        let (a_code, a) = file.cli_json(args);
        let (b_code, b) = pg.cli_json(args);
        assert_eq!(
            (a_code, &a),
            (b_code, &b),
            "`{}` after migrate",
            args.join(" ")
        );
    }
    // new records continue after the copied ones (the runs may fail: the data database is
    // the project's own, and migrate leaves it where it is)
    let (_, before) = pg.cli_json(&["events", "--limit", "1"]);
    let (_, emitted) = pg.cli_json(&["emit", "sku_reorder", "--params", r#"{"sku": 3}"#]);
    let newest = before["events"][0]["id"].as_i64().unwrap();
    assert!(
        emitted["event"]["id"].as_i64().unwrap() > newest,
        "{emitted:#}"
    );
    // a second copy into the same database is refused, and says why
    let again = file.cli(&["migrate", "--from", &from, "--to", &url]);
    assert!(!again.status.success());
    assert!(
        common::text(&again).contains("migrate copies into an empty store"),
        "{}",
        common::text(&again)
    );
}

#[test]
fn the_data_database_on_postgresql_takes_the_examples_orders() {
    let Some(s) = Sandbox::on_postgres("the_data_database_on_postgresql_takes_the_examples_orders")
    else {
        return;
    };
    let data = flowdeck::store::postgres::scratch::ScratchDatabase::for_test("data").unwrap();
    let out = s.cli(&["init", "shop"]);
    assert!(out.status.success(), "{}", common::text(&out));
    // schema.sql is written in the data database's own dialect
    s.write(
        "shop/schema.sql",
        "CREATE TABLE IF NOT EXISTS skus (id BIGINT PRIMARY KEY, name TEXT NOT NULL,
             stock INTEGER NOT NULL CHECK (stock >= 0), price_cents INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS invoices (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
             sku_id BIGINT NOT NULL REFERENCES skus (id), quantity INTEGER NOT NULL,
             total_cents INTEGER NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now());
         CREATE TABLE IF NOT EXISTS purchase_orders (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
             sku_id BIGINT NOT NULL REFERENCES skus (id), quantity INTEGER NOT NULL, supplier_ref TEXT,
             status TEXT NOT NULL DEFAULT 'ordered', created_at TIMESTAMPTZ NOT NULL DEFAULT now());
         CREATE TABLE IF NOT EXISTS notifications (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
             channel TEXT NOT NULL, message TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now());
         INSERT INTO skus (id, name, stock, price_cents) VALUES
             (1, 'Espresso beans 1 kg', 100, 2400), (2, 'Paper filters (100)', 500, 450),
             (3, 'Milk frother', 30, 3900)
         ON CONFLICT (id) DO NOTHING;",
    );
    let toml = s.path("shop/flowdeck.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text.push_str(&format!("\n[data]\nurl = \"{}\"\n", data.url()));
    std::fs::write(&toml, text).unwrap();
    for args in [&["import", "shop"][..], &["deploy", "--all"]] {
        let out = s.cli(args);
        assert!(out.status.success(), "{args:?}: {}", common::text(&out));
    }
    // schema.sql ran there, and the order's db.exec and db.query go there
    let order = r#"{"sku":{"id":1},"quantity":60}"#;
    let (code, out) = s.cli_json(&["call", "POST", "/orders", "--body", order]);
    assert_eq!(code, 0, "{out:#}");
    assert_eq!(out["status"], 201, "{out:#}");
    assert_eq!(out["body"]["stock"], 40, "{out:#}");
    // the cascade's workflows wrote there too: the reorder's purchase order of 110, received
    let (code, sku) = s.cli_json(&["call", "GET", "/skus/1"]);
    assert_eq!(code, 0, "{sku:#}");
    assert_eq!(sku["body"]["stock"], 150, "{sku:#}");
    assert!(
        !s.path("flowdeck.data.db").exists(),
        "no data file: the data lives in PostgreSQL"
    );
    let (code, again) = s.cli_json(&["call", "POST", "/orders", "--body", order]);
    assert_eq!(code, 0, "{again:#}");
    assert_eq!(again["body"]["stock"], 90, "{again:#}");
    let (_, runs) = s.cli_json(&["runs", "--status", "failed"]);
    assert_eq!(runs["runs"].as_array().map(Vec::len), Some(0), "{runs:#}");
}

#[test]
fn a_deploy_from_another_process_is_served_at_the_next_request() {
    let Some(s) =
        Sandbox::on_postgres("a_deploy_from_another_process_is_served_at_the_next_request")
    else {
        return;
    };
    let ping = |answer: &str| {
        format!(
            r#"{{"name": "ping", "method": "GET", "path": "/ping",
                 "steps": [{{"id": "done", "action": "return", "value": {{"pong": "{answer}"}}}}]}}"#
        )
    };
    let root = s.project("p", None, &[("endpoints/ping.json", &ping("one"))]);
    s.import_and_deploy(&root);
    let server = s.serve(&[]);
    assert!(http_get(server.port, "/ping").contains(r#""pong":"one""#));
    // another process deploys a new version: the server answers with it at once
    std::fs::write(root.join("endpoints/ping.json"), ping("two")).unwrap();
    for args in [&["import", "p"][..], &["deploy", "--all"]] {
        let out = s.cli(args);
        assert!(out.status.success(), "{args:?}: {}", common::text(&out));
    }
    assert!(http_get(server.port, "/ping").contains(r#""pong":"two""#));
}

/// `GET path` on the server on `port`; the whole answer.
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut all = String::new();
    stream.read_to_string(&mut all).unwrap();
    all
}
