//! A full disk, simulated by capping the store's size (`FLOWDECK_MAX_PAGES`, SQLite's
//! `max_page_count`, read when a process opens the store). `flowdeck serve` on a capped
//! store is sent events until it refuses them: a refused event gets 507 and a message that
//! says the store is full and what to do; every event it acknowledged is in the store with
//! its run finished; the store passes `integrity_check`; `flowdeck emit` is refused with a
//! message naming the store and exit code 1; and once there is room again (the same store
//! opened with a larger cap) new events are taken.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Sandbox, text};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TALLY: &str = r#"{"name": "tally", "on": "hit", "steps": [
  {"id": "seen", "action": "set", "var": "n", "value": "{{$param.n}}"},
  {"id": "twice", "action": "set", "var": "twice", "value": "{{$var.n * 2}}"},
  {"id": "done", "action": "return", "value": {"n": "{{$var.n}}", "twice": "{{$var.twice}}"}}
]}"#;

/// `flowdeck serve` on the sandbox's store, capped at `pages`.
struct Served {
    child: Child,
    addr: String,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Served {
    /// Serve with the store capped at `pages`, keeping the default reserve for the runs
    /// under way.
    fn start(s: &Sandbox, pages: i64) -> Served {
        Self::with(s, &[("FLOWDECK_MAX_PAGES", pages.to_string())])
    }

    fn with(s: &Sandbox, env: &[(&str, String)]) -> Served {
        let mut c = s.command(&["serve", "--bind", "127.0.0.1:0"]);
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let addr = first
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http://"))
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_string();
        let stderr = std::thread::spawn(move || {
            let rest: Vec<String> = lines.map_while(Result::ok).collect();
            format!("{first}\n{}", rest.join("\n"))
        });
        Served {
            child,
            addr,
            stderr: Some(stderr),
        }
    }

    /// Stop it as ctrl-c does; what it said on stderr.
    fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        let said = self.stderr.take().unwrap().join().unwrap();
        assert!(status.success(), "serve ended with {status}: {said}");
        said
    }
}

/// One HTTP/1.1 request: the status and the body as JSON.
fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, Value) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut all = Vec::new();
    stream.read_to_end(&mut all).unwrap();
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response");
    let head = String::from_utf8_lossy(&all[..split]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = serde_json::from_slice(&all[split + 4..]).unwrap_or(Value::Null);
    (status, body)
}

/// Wait until the store has no unfinished run (or fail).
fn settled(addr: &str) {
    let end = Instant::now() + Duration::from_secs(120);
    while Instant::now() < end {
        let (status, h) = request(addr, "GET", "/healthz", "");
        if status == 200 && h["unfinished_runs"] == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("runs did not finish");
}

fn pages(s: &Sandbox) -> i64 {
    let conn = rusqlite::Connection::open(s.db()).unwrap();
    conn.query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap()
}

fn integrity(s: &Sandbox) -> String {
    let conn = rusqlite::Connection::open(s.db()).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// What posting events until the store refused them gave.
#[derive(Default)]
struct Posted {
    /// Ids of the events acknowledged (202).
    acked: BTreeSet<i64>,
    /// Every refusal: status and body.
    refused: Vec<(u16, Value)>,
}

/// Post events to `/events/hit` from `threads` threads, each until it has been refused
/// `refusals` times in a row.
fn post_until_refused(addr: &str, threads: usize, refusals: usize) -> Posted {
    let posted = Arc::new(Mutex::new(Posted::default()));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (addr, posted) = (addr.to_string(), posted.clone());
            std::thread::spawn(move || {
                let mut in_a_row = 0;
                let mut n = 0;
                while in_a_row < refusals && n < 20_000 {
                    n += 1;
                    let body = format!(r#"{{"n": {}}}"#, t * 100_000 + n);
                    let (status, reply) = request(&addr, "POST", "/events/hit", &body);
                    let mut p = posted.lock().unwrap();
                    if status == 202 {
                        in_a_row = 0;
                        p.acked.insert(reply["id"].as_i64().unwrap());
                    } else {
                        in_a_row += 1;
                        p.refused.push((status, reply));
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    Arc::try_unwrap(posted).ok().unwrap().into_inner().unwrap()
}

/// Every acknowledged event is in the store with its one run succeeded; nothing else is.
fn check_record(s: &Sandbox, acked: &BTreeSet<i64>) {
    let conn = rusqlite::Connection::open(s.db()).unwrap();
    let events: BTreeSet<i64> = conn
        .prepare("SELECT id FROM events WHERE name = 'hit'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        &events, acked,
        "the store holds exactly the events that were acknowledged"
    );
    let unfinished: Vec<(i64, String)> = conn
        .prepare(
            "SELECT e.id, coalesce(r.status, 'no run') FROM events e LEFT JOIN runs r ON r.event_id = e.id
              WHERE e.name = 'hit' AND (r.id IS NULL OR r.status != 'succeeded' OR r.finished_at IS NULL)",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        unfinished.is_empty(),
        "every acknowledged event's run finished: {unfinished:?}"
    );
    let steps_short: i64 = conn
        .query_row(
            "SELECT count(*) FROM runs r WHERE r.target = 'tally'
               AND (SELECT count(*) FROM steps s WHERE s.run_id = r.id) != 3",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(steps_short, 0, "every run has its three step records");
}

/// Every refusal is a 507 that says the store is full, which file, and what to do.
fn assert_refusals_are_clear(posted: &Posted) {
    assert!(!posted.refused.is_empty());
    for (status, body) in &posted.refused {
        let message = body["error"].as_str().unwrap_or_default();
        assert_eq!(*status, 507, "refused as Insufficient Storage: {body}");
        assert_eq!(body["store_full"], true, "{body}");
        assert!(
            message.contains("is full")
                && message.contains("flowdeck.db")
                && message.contains("free space")
                && message.contains("nothing was recorded"),
            "the refusal says what happened and what to do: {message}"
        );
    }
}

/// A sandbox with `tally` imported and deployed, and the store's size now in pages.
fn tally_store() -> (Sandbox, i64) {
    let s = Sandbox::new();
    let root = s.project("p", None, &[("workflows/tally.json", TALLY)]);
    for args in [
        &["import", root.to_str().unwrap()][..],
        &["deploy", "--all"],
    ] {
        let out = s.cli(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
    }
    let pages = pages(&s);
    (s, pages)
}

#[test]
fn a_full_store_refuses_new_events_clearly_and_loses_none_it_took() {
    let (s, pages) = tally_store();
    // room for a few hundred events above what the store holds now
    let cap = pages + 80;

    let served = Served::start(&s, cap);
    let posted = post_until_refused(&served.addr, 4, 3);
    assert!(
        posted.acked.len() >= 20,
        "events were taken before the store filled: {}",
        posted.acked.len()
    );
    assert_refusals_are_clear(&posted);
    println!(
        "{} events taken, {} refused, on a store capped at {cap} pages",
        posted.acked.len(),
        posted.refused.len()
    );
    // what it took, it finishes, in the room it kept for them
    settled(&served.addr);
    let said = served.stop();
    assert!(!said.contains("panicked"), "{said}");
    assert_eq!(integrity(&s), "ok");
    check_record(&s, &posted.acked);

    // the command line on the full store: refused, saying where and what to do
    let mut emit = s.command(&["emit", "hit", "--params", r#"{"n": -1}"#]);
    emit.env("FLOWDECK_MAX_PAGES", cap.to_string());
    let out = emit.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr.contains("is full")
            && stderr.contains(&s.db().display().to_string())
            && !stderr.contains("panicked"),
        "{stderr}"
    );
    check_record(&s, &posted.acked);

    // room again: a larger cap, the same store; new events are taken and run
    let served = Served::start(&s, cap * 4);
    let mut acked = posted.acked.clone();
    for n in 0..20 {
        let (status, reply) = request(
            &served.addr,
            "POST",
            "/events/hit",
            &format!(r#"{{"n": {n}}}"#),
        );
        assert_eq!(status, 202, "{reply}");
        acked.insert(reply["id"].as_i64().unwrap());
    }
    settled(&served.addr);
    served.stop();
    let mut emit = s.command(&["--json", "emit", "hit", "--params", r#"{"n": 7}"#]);
    emit.env("FLOWDECK_MAX_PAGES", (cap * 4).to_string());
    let out = emit.output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["runs"][0]["output"]["twice"], 14, "{v}");
    acked.insert(v["event"]["id"].as_i64().unwrap());
    assert_eq!(integrity(&s), "ok");
    check_record(&s, &acked);
    let log = std::fs::read_to_string(s.path("flowdeck.log")).unwrap_or_default();
    assert!(!log.contains("panicked"), "{log}");
}

/// A real disk gives no warning: the write that meets the full disk fails, whatever it is.
/// With no pages kept in reserve, the records of runs under way meet it too: they wait in
/// the writer; a graceful stop gives their runs back to the queue, and once there is room
/// they run again, so that every event that was acknowledged still has its run, recorded
/// once.
#[test]
fn a_disk_that_fills_without_warning_loses_no_event_it_took() {
    let (s, pages) = tally_store();
    let cap = pages + 80;
    let served = Served::with(
        &s,
        &[
            ("FLOWDECK_MAX_PAGES", cap.to_string()),
            ("FLOWDECK_MAX_PAGES_RESERVE", "0".into()),
        ],
    );
    let posted = post_until_refused(&served.addr, 4, 3);
    assert!(posted.acked.len() >= 20, "{}", posted.acked.len());
    assert_refusals_are_clear(&posted);
    let said = served.stop();
    assert!(!said.contains("panicked"), "{said}");
    assert_eq!(integrity(&s), "ok");
    let conn = rusqlite::Connection::open(s.db()).unwrap();
    let events: BTreeSet<i64> = conn
        .prepare("SELECT id FROM events WHERE name = 'hit'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(events, posted.acked, "what was acknowledged is recorded");
    drop(conn);

    // room again: what was given back runs, and each event has its run
    let served = Served::start(&s, cap * 4);
    settled(&served.addr);
    let said = served.stop();
    assert!(!said.contains("panicked"), "{said}");
    assert_eq!(integrity(&s), "ok");
    check_record(&s, &posted.acked);
    let log = std::fs::read_to_string(s.path("flowdeck.log")).unwrap_or_default();
    assert!(!log.contains("panicked"), "{log}");
}
