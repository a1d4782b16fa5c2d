//! `flowdeck serve` under load, driven from this second process over loopback.
//!
//! The project: an endpoint `POST /hits` that emits the event `hit`, and two workflows listening
//! to it with three steps each (set, a `db.exec` insert, return). The benchmark spawns the release
//! binary's `serve` on a free port and sends requests from a pool of HTTP clients, at several
//! concurrencies, to the endpoint and to the ingestion route `POST /events/hit`. It prints
//! requests per second, the latency of each request (p50, p90, p99, max), the time until every
//! listener run of the burst has finished in the store, and the server's peak memory.
//! A benchmark, not a test: it prints figures and asserts nothing.
//!
//! Run: `cargo bench --bench serve` (add `-- --requests N` to change the burst size).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_flowdeck");

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn listener(name: &str) -> String {
    format!(
        r#"{{"name": "{name}", "on": "hit", "steps": [
  {{"id": "note", "action": "set", "var": "n", "value": "{{{{$param.n}}}}"}},
  {{"id": "store", "action": "db.exec", "sql": "INSERT INTO hits (listener, n) VALUES (?, ?)",
    "args": ["{name}", "{{{{$var.n}}}}"]}},
  {{"id": "done", "action": "return", "value": {{"n": "{{{{$var.n}}}}"}}}}
]}}
"#
    )
}

const ENDPOINT: &str = r#"{"name": "hit", "method": "POST", "path": "/hits", "steps": [
  {"id": "tell", "action": "emit", "event": "hit", "params": {"n": "{{$body.n}}"}, "as": "sent"},
  {"id": "ok", "action": "return", "status": 202, "value": {"event": "{{$var.sent.event_id}}"}}
]}
"#;

/// Write the project, import it and deploy it.
fn project(dir: &Path, db: &Path) {
    let root = dir.join("hits");
    std::fs::create_dir_all(root.join("workflows")).unwrap();
    std::fs::create_dir_all(root.join("endpoints")).unwrap();
    std::fs::write(root.join("flowdeck.toml"), "name = \"hits\"\n").unwrap();
    std::fs::write(
        root.join("schema.sql"),
        "CREATE TABLE IF NOT EXISTS hits (id INTEGER PRIMARY KEY, listener TEXT NOT NULL, n INTEGER);\n",
    )
    .unwrap();
    std::fs::write(root.join("endpoints/hit.json"), ENDPOINT).unwrap();
    for name in ["count_a", "count_b"] {
        std::fs::write(root.join(format!("workflows/{name}.json")), listener(name)).unwrap();
    }
    for args in [
        vec!["import", root.to_str().unwrap()],
        vec!["deploy", "--all"],
    ] {
        let out = Command::new(BIN)
            .args(&args)
            .env("FLOWDECK_DB", db)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Start `flowdeck serve` on a free port; the address it printed.
fn serve(db: &Path, log: &Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("FLOWDECK_DB", db)
        .env("FLOWDECK_LOG_FILE", log)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("serve exited before listening")
            .unwrap();
        if let Some(at) = line.find("http://") {
            break line[at..].trim().to_string();
        }
    };
    // keep draining what it prints
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn unfinished(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row(
        "SELECT count(*) FROM runs WHERE status IN ('queued', 'running')",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

struct Burst {
    elapsed: Duration,
    latencies: Vec<Duration>,
    failures: usize,
    drained: Duration,
}

/// Send `requests` POSTs to `url` from `concurrency` clients at once.
async fn burst(
    client: &reqwest::Client,
    url: &str,
    requests: usize,
    concurrency: usize,
    db: &Path,
) -> Burst {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, next) = (client.clone(), url.to_string(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= requests {
                    break;
                }
                let sent = Instant::now();
                let ok = match client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(format!("{{\"n\": {n}}}"))
                    .send()
                    .await
                {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                latencies.push(sent.elapsed());
                if !ok {
                    failures += 1;
                }
            }
            (latencies, failures)
        }));
    }
    let mut latencies = Vec::with_capacity(requests);
    let mut failures = 0;
    for t in tasks {
        let (l, f) = t.await.unwrap();
        latencies.extend(l);
        failures += f;
    }
    let elapsed = start.elapsed();
    while unfinished(db) > 0 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let drained = start.elapsed();
    latencies.sort();
    Burst {
        elapsed,
        latencies,
        failures,
        drained,
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn main() {
    let requests = arg("--requests", 3000);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("flowdeck.db");
    project(dir.path(), &db);
    let (mut child, base) = serve(&db, &dir.path().join("serve.log"));
    let pid = child.id();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // a worker per core for the clients, whatever `TOKIO_WORKER_THREADS` tells the server
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "flowdeck serve at {base}, {cores} cores; {requests} requests per row; each request's event has two listeners of three steps (set, db.exec, return)"
    );
    println!();
    println!(
        "{:<22} {:>5} {:>9} {:>8} {:>8} {:>8} {:>8} {:>10} {:>7}",
        "route", "conc", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "runs/s", "failed"
    );
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(128)
            .build()
            .unwrap();
        // warm up: connections, statement caches, compiled templates
        burst(&client, &format!("{base}/hits"), 200, 8, &db).await;
        for (route, path) in [
            ("POST /hits (endpoint)", "/hits"),
            ("POST /events/hit", "/events/hit"),
        ] {
            for concurrency in [1, 8, 32] {
                let url = format!("{base}{path}");
                let b = burst(&client, &url, requests, concurrency, &db).await;
                let runs = 2 * requests + if path == "/hits" { requests } else { 0 };
                println!(
                    "{:<22} {:>5} {:>9.0} {:>8} {:>8} {:>8} {:>8} {:>10.0} {:>7}",
                    route,
                    concurrency,
                    requests as f64 / b.elapsed.as_secs_f64(),
                    ms(pct(&b.latencies, 0.50)),
                    ms(pct(&b.latencies, 0.90)),
                    ms(pct(&b.latencies, 0.99)),
                    ms(pct(&b.latencies, 1.0)),
                    runs as f64 / b.drained.as_secs_f64(),
                    b.failures,
                );
            }
        }
    });
    let peak_mb = status_kb(pid, "VmHWM:") as f64 / 1024.0;
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    let data = rusqlite::Connection::open(dir.path().join("flowdeck.data.db")).unwrap();
    let rows: i64 = data
        .query_row("SELECT count(*) FROM hits", [], |r| r.get(0))
        .unwrap();
    println!();
    println!(
        "runs/s: every run of the row (endpoint runs and listener runs) over the time until none is queued or running"
    );
    println!("server peak memory: {peak_mb:.1} MB; rows written by the listeners: {rows}");
}
