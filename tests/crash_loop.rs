//! The crash loop: `flowdeck serve` and `flowdeck emit --queue` killed with SIGKILL at random
//! moments while clients post events, restarted each time, then checked: no acknowledged
//! event missing, one run per (event, workflow), no run left unfinished, no `db.exec`
//! repeated, one `Idempotency-Key` per request whatever the resumes, `integrity_check` ok.
//!
//! `cargo test --test crash_loop` runs a short loop; `scripts/crash-loop.sh 200` the long one
//! (`FLOWDECK_CRASH_KILLS`, `FLOWDECK_CRASH_SEED`). The figures it prints are not asserted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Sandbox;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RECORD: &str = r#"{"name": "record", "on": "hit", "steps": [
    {"id": "mark", "action": "db.exec",
     "sql": "INSERT INTO effects (event, workflow, item) VALUES (?, 'record', 0)",
     "args": ["{{$event.id}}"]},
    {"id": "pause", "action": "sleep", "ms": "{{$param.n % 7}}"},
    {"id": "tell", "action": "http", "method": "POST", "url": "{{$env.RECEIVER}}",
     "body": {"event": "{{$event.id}}"}},
    {"id": "done", "action": "return", "value": "{{$param.n}}"}]}"#;

const FANOUT: &str = r#"{"name": "fanout", "on": "hit", "steps": [
    {"id": "each", "action": "foreach", "in": "{{[1, 2]}}", "as": "item", "steps": [
        {"id": "mark", "action": "db.exec",
         "sql": "INSERT INTO effects (event, workflow, item) VALUES (?, 'fanout', ?)",
         "args": ["{{$event.id}}", "{{$var.item}}"]},
        {"id": "pause", "action": "sleep", "ms": 2}]},
    {"id": "done", "action": "return", "value": "{{$param.n}}"}]}"#;

/// Requests the receiver got: (idempotency key, event id from the body).
type Received = Arc<Mutex<Vec<(String, i64)>>>;

/// A loopback HTTP service that records each request's `Idempotency-Key` and body.
fn receiver() -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got: Received = Arc::default();
    let sink = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let sink = sink.clone();
            std::thread::spawn(move || {
                if let Some((head, body)) = read_request(stream.try_clone().unwrap()) {
                    let key = header(&head, "idempotency-key").unwrap_or_default();
                    let event = serde_json::from_slice::<Value>(&body)
                        .ok()
                        .and_then(|v| v["event"].as_i64())
                        .unwrap_or(-1);
                    sink.lock().unwrap().push((key, event));
                    let mut stream = stream;
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                    );
                }
            });
        }
    });
    (url, got)
}

/// Read one HTTP/1.1 message: its head (lines) and body (by Content-Length).
fn read_request(mut stream: TcpStream) -> Option<(String, Vec<u8>)> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length: usize = header(&head, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some((head, buf[head_end..head_end + length].to_vec()))
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

/// Post an event with an idempotency key; the event's id when the server acknowledged it.
fn post(port: u16, key: &str, body: &str) -> Option<i64> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let request = format!(
        "POST /events/hit HTTP/1.1\r\nHost: x\r\nIdempotency-Key: {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let text = String::from_utf8_lossy(&answer);
    if !text.starts_with("HTTP/1.1 202") {
        return None;
    }
    let body = text.split_once("\r\n\r\n")?.1;
    serde_json::from_str::<Value>(body).ok()?["id"].as_i64()
}

struct Loop {
    sandbox: Sandbox,
    port: u16,
    serve_count: u32,
}

impl Loop {
    fn serve(&mut self) -> Child {
        self.serve_count += 1;
        let log = format!("serve-{}.log", self.serve_count);
        self.sandbox
            .command(&["serve", "--bind", &format!("127.0.0.1:{}", self.port)])
            .env("FLOWDECK_LOG_FILE", self.sandbox.path(&log))
            .env("FLOWDECK_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    fn wait_listening(&self) {
        for _ in 0..500 {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("serve did not listen on {}", self.port);
    }
}

fn unfinished(db: &rusqlite::Connection) -> i64 {
    db.query_row(
        "SELECT count(*) FROM runs WHERE finished_at IS NULL",
        [],
        |r| r.get(0),
    )
    .unwrap_or(i64::MAX)
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn killed_at_random_servers_and_emitters_lose_nothing_and_repeat_nothing() {
    let kills = env_number("FLOWDECK_CRASH_KILLS", 8);
    let seed = env_number("FLOWDECK_CRASH_SEED", 7);
    let rng = Arc::new(Mutex::new(fastrand::Rng::with_seed(seed)));
    let (receiver_url, received) = receiver();
    let sandbox = Sandbox::new();
    let root = sandbox.project(
        "crash",
        Some("CREATE TABLE IF NOT EXISTS effects (event INTEGER NOT NULL, workflow TEXT NOT NULL, item INTEGER NOT NULL);"),
        &[("workflows/record.json", RECORD), ("workflows/fanout.json", FANOUT)],
    );
    std::fs::write(
        root.join("flowdeck.toml"),
        format!("name = \"crash\"\n[env]\nRECEIVER = \"{receiver_url}\"\n"),
    )
    .unwrap();
    sandbox.import_and_deploy(&root);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut l = Loop {
        sandbox,
        port,
        serve_count: 0,
    };
    let mut server = l.serve();
    l.wait_listening();

    // clients: each event posted until acknowledged, with the same key every time
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged: Arc<Mutex<BTreeMap<i64, String>>> = Arc::default();
    let retries = Arc::new(AtomicU32::new(0));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (stop, acknowledged, retries) =
                (stop.clone(), acknowledged.clone(), retries.clone());
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("client{c}-{i}");
                    let body = format!(r#"{{"n": {i}, "client": {c}}}"#);
                    loop {
                        if let Some(id) = post(port, &key, &body) {
                            acknowledged.lock().unwrap().insert(id, key.clone());
                            break;
                        }
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        retries.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    i += 1;
                }
            })
        })
        .collect();

    // an emitter: `emit --queue` processes one after another, some killed mid-way
    let emitter_pid: Arc<Mutex<Option<u32>>> = Arc::default();
    let emitted: Arc<Mutex<BTreeSet<i64>>> = Arc::default();
    let emitter = {
        let (stop, pid, emitted) = (stop.clone(), emitter_pid.clone(), emitted.clone());
        let mut command = l.sandbox.command(&[]);
        let db = l.sandbox.db();
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let params = format!(r#"{{"n": {i}, "client": 99}}"#);
                let child = Command::new(command.get_program())
                    .args(["--json", "--db", db.to_str().unwrap()])
                    .args(["emit", "hit", "--queue", "--params", &params])
                    .envs(command.get_envs().filter_map(|(k, v)| Some((k, v?))))
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                *pid.lock().unwrap() = Some(child.id());
                let out = child.wait_with_output().unwrap();
                *pid.lock().unwrap() = None;
                if out.status.success()
                    && let Ok(v) = serde_json::from_slice::<Value>(&out.stdout)
                    && let Some(id) = v["event"]["id"].as_i64().or(v["id"].as_i64())
                {
                    emitted.lock().unwrap().insert(id);
                }
                i += 1;
            }
            let _ = &mut command;
        })
    };

    let mut emitters_killed = 0;
    for k in 0..kills {
        let pause = rng.lock().unwrap().u64(100..600);
        std::thread::sleep(Duration::from_millis(pause));
        server.kill().unwrap();
        server.wait().unwrap();
        if k % 3 == 0
            && let Some(pid) = *emitter_pid.lock().unwrap()
        {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            emitters_killed += 1;
        }
        server = l.serve();
        l.wait_listening();
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    emitter.join().unwrap();

    // the last restart: how long until the queue is empty
    server.kill().unwrap();
    server.wait().unwrap();
    let restarted = Instant::now();
    server = l.serve();
    let store = rusqlite::Connection::open(l.sandbox.db()).unwrap();
    store.busy_timeout(Duration::from_secs(10)).unwrap();
    let mut drained = None;
    for _ in 0..6000 {
        if unfinished(&store) == 0 {
            drained = Some(restarted.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // let the last answers reach the receiver, then stop
    let _ = Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status();
    server.wait().unwrap();
    let drained = drained.expect("every run finished after the last restart");

    let acknowledged = acknowledged.lock().unwrap().clone();
    let emitted = emitted.lock().unwrap().clone();
    let events: BTreeSet<i64> = store
        .prepare("SELECT id FROM events")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let missing: Vec<&i64> = acknowledged
        .keys()
        .chain(emitted.iter())
        .filter(|id| !events.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged events missing: {missing:?}"
    );
    assert!(
        !acknowledged.is_empty() && !emitted.is_empty(),
        "both fronts had events acknowledged"
    );

    // one run per (event, workflow), every one succeeded
    let runs: Vec<(i64, i64, String, u32)> = store
        .prepare("SELECT event_id, definition_id, status, attempt FROM runs")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut per_event: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for (event, definition, status, _) in &runs {
        assert_eq!(status, "succeeded", "run of event {event}");
        assert!(
            per_event.entry(*event).or_default().insert(*definition),
            "two runs of one workflow for event {event}"
        );
    }
    assert!(
        per_event.len() == events.len() && per_event.values().all(|d| d.len() == 2),
        "every event has its two runs"
    );
    let resumed = runs.iter().filter(|r| r.3 > 1).count();

    // each db.exec happened once: three rows per event, none twice
    let data = rusqlite::Connection::open(l.sandbox.path("flowdeck.data.db")).unwrap();
    let (rows, distinct): (i64, i64) = data
        .query_row(
            "SELECT count(*), (SELECT count(*) FROM (SELECT DISTINCT event, workflow, item FROM effects)) FROM effects",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(rows, distinct, "a db.exec was repeated");
    assert_eq!(rows, 3 * events.len() as i64, "every db.exec happened");

    // every http request of one step carried one key, whatever the resumes
    let received = received.lock().unwrap().clone();
    let mut keys: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    for (key, event) in &received {
        assert!(!key.is_empty(), "a request without Idempotency-Key");
        keys.entry(*event).or_default().insert(key.clone());
    }
    assert_eq!(keys.len(), events.len(), "every event's run called out");
    assert!(
        keys.values().all(|k| k.len() == 1),
        "one key per step's request"
    );
    let resent = received.len() - keys.len();

    for db in [&store, &data] {
        let check: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }
    println!(
        "crash loop (seed {seed}): {kills} kills of serve, {emitters_killed} of emit --queue; \
         {} events acknowledged over HTTP ({} retries after a kill), {} by emit --queue; \
         {} events in the store, {} runs, {resumed} resumed after a kill; \
         0 lost, 0 repeated db.exec ({rows} rows), {resent} requests resent with their key; \
         drained {:.2} s after the last restart; integrity_check ok",
        acknowledged.len(),
        retries.load(Ordering::Relaxed),
        emitted.len(),
        events.len(),
        runs.len(),
        drained.as_secs_f64(),
    );
}
