//! Many processes on one store at once, under load: `flowdeck serve`, `flowdeck dev` (its
//! own server, file watcher and studio) and the plain studio, both in a real terminal
//! (tmux), and the command line (`emit`, `emit --queue`, `runs`, `list`, `events`, `import`,
//! `deploy`) in parallel threads, while a few hundred events are posted and emitted. No
//! output of any process (stdout, stderr, HTTP answers, screens, log files) may say
//! `database is locked` or `busy`; every acknowledged event has its run finished, which did
//! its work once; both databases pass `integrity_check`. Where tmux is missing, `dev` and
//! the studios are left out (said on stdout) and the rest still runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Sandbox;
use common::tmux::{Tmux, available};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TALLY: &str = r#"{"name": "tally", "description": "DESCRIPTION", "on": "hit", "steps": [
  {"id": "seen", "action": "set", "var": "n", "value": "{{$param.n}}"},
  {"id": "note", "action": "db.exec", "sql": "INSERT INTO hits (event, n) VALUES (?, ?)",
   "args": ["{{$event.id}}", "{{$param.n}}"]},
  {"id": "count", "action": "db.query", "sql": "SELECT count(*) AS c FROM hits", "as": "rows"},
  {"id": "done", "action": "return", "value": {"n": "{{$var.n}}", "seen": "{{$var.rows[0].c}}"}}
]}"#;

/// Every import runs it: it writes on each (the last import's time), as a project's seed rows
/// would.
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS hits (event INTEGER NOT NULL, n INTEGER);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);
INSERT OR REPLACE INTO meta (k, v) VALUES ('imported', strftime('%f', 'now'));";

/// Everything the processes said, by where it came from.
#[derive(Default)]
struct Said(Mutex<Vec<(String, String)>>);

impl Said {
    fn add(&self, label: impl Into<String>, text: impl Into<String>) {
        self.0.lock().unwrap().push((label.into(), text.into()));
    }

    fn output(&self, label: &str, out: &Output) {
        self.add(
            format!("{label} (stdout)"),
            String::from_utf8_lossy(&out.stdout),
        );
        self.add(
            format!("{label} (stderr)"),
            String::from_utf8_lossy(&out.stderr),
        );
    }
}

/// One HTTP/1.1 request: the status and the whole answer as text.
fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
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
    let text = String::from_utf8_lossy(&all).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn body_of(answer: &str) -> Value {
    answer
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null)
}

/// `flowdeck serve` as a process.
struct Served {
    child: Child,
    addr: String,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Served {
    fn start(s: &Sandbox) -> Served {
        let mut child = s
            .command(&["serve", "--bind", "127.0.0.1:0"])
            .env("FLOWDECK_LOG_FILE", s.path("serve.log"))
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

/// A process in a real terminal: `flowdeck ARGS` on the sandbox's store.
fn in_tmux(s: &Sandbox, name: &str, args: &str, log: &str) -> Tmux {
    let command = format!(
        "cd {dir} && FLOWDECK_LOG_FILE={log} {bin} --db {db} {args}; echo STUDIO-EXITED $?; sleep 60",
        dir = s.dir.path().display(),
        log = s.path(log).display(),
        bin = env!("CARGO_BIN_EXE_flowdeck"),
        db = s.db().display()
    );
    Tmux::start(name, &command, 200, 50)
}

/// Acknowledged events' ids.
type Acked = Arc<Mutex<BTreeSet<i64>>>;

/// Post `count` events to `addr` from this thread.
fn poster(addr: String, count: usize, from: usize, acked: Acked, said: Arc<Said>) {
    for n in from..from + count {
        let (status, answer) = request(&addr, "POST", "/events/hit", &format!(r#"{{"n": {n}}}"#));
        if status == 202 {
            acked
                .lock()
                .unwrap()
                .insert(body_of(&answer)["id"].as_i64().unwrap());
        }
        said.add(
            format!("HTTP POST /events/hit to {addr} ({status})"),
            answer,
        );
    }
}

fn cli(s: &Sandbox, said: &Said, args: &[&str]) -> Output {
    let out = s.cli(args);
    said.output(&format!("flowdeck {}", args.join(" ")), &out);
    out
}

fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn integrity(path: &Path) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn serve_dev_studios_and_the_command_line_share_one_store_under_load() {
    let s = Sandbox::new();
    let root = s.project(
        "p",
        Some(SCHEMA),
        &[(
            "workflows/tally.json",
            &TALLY.replace("DESCRIPTION", "counts hits"),
        )],
    );
    let said = Arc::new(Said::default());
    for args in [&["import", "p"][..], &["deploy", "--all"]] {
        let out = cli(&s, &said, args);
        assert!(out.status.success(), "{args:?}: {}", common::text(&out));
    }

    let served = Served::start(&s);
    let terminals = available();
    if !terminals {
        println!("flowdeck dev and the studio are left out: tmux is not installed");
    }
    let (dev, studio) = if terminals {
        let dev = in_tmux(&s, "concurrency-dev", "dev p --bind 127.0.0.1:0", "dev.log");
        dev.wait_for("serving on http://");
        let studio = in_tmux(&s, "concurrency-studio", "", "studio.log");
        studio.wait_for("Workflows");
        (Some(dev), Some(studio))
    } else {
        (None, None)
    };
    // where dev serves, from its notice
    let dev_addr = dev.as_ref().map(|t| {
        let screen = t.screen();
        let at = screen.find("serving on http://").unwrap() + "serving on http://".len();
        screen[at..]
            .split(|c: char| c.is_whitespace())
            .next()
            .unwrap()
            .to_string()
    });

    let acked: Acked = Arc::default();
    let mut load = Vec::new();
    // events over HTTP: 4 threads to serve, 1 to dev's server
    for t in 0..4 {
        let (addr, acked, said) = (served.addr.clone(), acked.clone(), said.clone());
        load.push(std::thread::spawn(move || {
            poster(addr, 100, t * 1000, acked, said)
        }));
    }
    if let Some(addr) = dev_addr.clone() {
        let (acked, said) = (acked.clone(), said.clone());
        load.push(std::thread::spawn(move || {
            poster(addr, 40, 9000, acked, said)
        }));
    }
    let loaded = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        // what the terminals show meanwhile (a notice lasts a few seconds)
        for (name, t) in [("dev", &dev), ("studio", &studio)] {
            let (said, loaded) = (&said, &loaded);
            if let Some(t) = t {
                scope.spawn(move || {
                    while !loaded.load(std::sync::atomic::Ordering::Relaxed) {
                        said.add(format!("the {name} screen"), t.screen());
                        std::thread::sleep(Duration::from_millis(100));
                    }
                });
            }
        }
        let mut work = Vec::new();
        // the command line: emits that wait for their runs, emits that only queue
        for t in 0..2 {
            let (s, said, acked) = (&s, &said, &acked);
            work.push(scope.spawn(move || {
                for i in 0..8 {
                    let n = format!(r#"{{"n": {}}}"#, 20_000 + t * 100 + i);
                    let out = cli(s, said, &["--json", "emit", "hit", "--params", &n]);
                    assert!(out.status.success(), "{}", common::text(&out));
                    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
                    assert_eq!(v["runs"][0]["status"], "succeeded", "{v}");
                    acked
                        .lock()
                        .unwrap()
                        .insert(v["event"]["id"].as_i64().unwrap());
                }
            }));
        }
        {
            let (s, said, acked) = (&s, &said, &acked);
            work.push(scope.spawn(move || {
                for i in 0..8 {
                    let n = format!(r#"{{"n": {}}}"#, 30_000 + i);
                    let out = cli(
                        s,
                        said,
                        &["--json", "emit", "hit", "--queue", "--params", &n],
                    );
                    assert!(out.status.success(), "{}", common::text(&out));
                    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
                    acked
                        .lock()
                        .unwrap()
                        .insert(v["event"]["id"].as_i64().unwrap());
                }
            }));
        }
        // readers
        {
            let (s, said) = (&s, &said);
            work.push(scope.spawn(move || {
                for _ in 0..6 {
                    for args in [&["runs", "--limit", "50"][..], &["list"], &["events"]] {
                        let out = cli(s, said, args);
                        assert!(out.status.success(), "{}", common::text(&out));
                    }
                }
            }));
        }
        // a changed draft, imported (its schema.sql writes on every import) and deployed;
        // dev notices the file and imports it too
        {
            let (s, said, root) = (&s, &said, &root);
            work.push(scope.spawn(move || {
                for i in 0..30 {
                    std::fs::write(
                        root.join("workflows/tally.json"),
                        TALLY.replace("DESCRIPTION", &format!("counts hits, take {i}")),
                    )
                    .unwrap();
                    for args in [&["import", "p"][..], &["deploy", "--all"]] {
                        let out = cli(s, said, args);
                        assert!(out.status.success(), "{args:?}: {}", common::text(&out));
                    }
                }
            }));
        }
        // someone at the studio: moving about, opening what is there
        if let Some(t) = &studio {
            work.push(scope.spawn(move || {
                for _ in 0..10 {
                    t.press(&["j", "k", "Tab", "j", "Enter", "Escape", "Tab", "Tab"]);
                }
            }));
        }
        let mut ended: Vec<std::thread::Result<()>> = work.into_iter().map(|w| w.join()).collect();
        ended.extend(load.into_iter().map(|l| l.join()));
        loaded.store(true, std::sync::atomic::Ordering::Relaxed);
        for e in ended {
            e.unwrap();
        }
    });

    // everything acknowledged runs to its end (queued runs are taken up by serve, dev and
    // the studio)
    let conn = rusqlite::Connection::open(s.db()).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let end = Instant::now() + Duration::from_secs(180);
    while count(&conn, "SELECT count(*) FROM runs WHERE finished_at IS NULL") > 0 {
        assert!(Instant::now() < end, "runs did not finish");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut screens = Vec::new();
    for (name, t) in [("dev", &dev), ("studio", &studio)] {
        if let Some(t) = t {
            screens.push((name, t.screen()));
            t.press(&["q"]);
            t.wait_for("STUDIO-EXITED 0");
            screens.push((name, t.screen()));
        }
    }
    said.add("flowdeck serve (stderr)", served.stop());
    for (name, screen) in screens {
        said.add(format!("the {name} screen"), screen);
    }

    // what was acknowledged finished, once, and did its work once
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 420, "{} events acknowledged", acked.len());
    let mut not_done = Vec::new();
    for id in &acked {
        let ok = count(
            &conn,
            &format!(
                "SELECT count(*) FROM runs WHERE event_id = {id} AND target = 'tally' AND status = 'succeeded'"
            ),
        );
        if ok != 1 {
            not_done.push(*id);
        }
    }
    assert!(
        not_done.is_empty(),
        "events without their finished run: {not_done:?}"
    );
    let data = rusqlite::Connection::open(s.path("flowdeck.data.db")).unwrap();
    let hit_events = count(&conn, "SELECT count(*) FROM events WHERE name = 'hit'");
    println!(
        "{hit_events} events, {} versions of tally",
        count(&conn, "SELECT count(*) FROM versions")
    );
    assert_eq!(
        hit_events,
        acked.len() as i64,
        "no event beyond those acknowledged"
    );
    assert_eq!(
        (
            count(&data, "SELECT count(*) FROM hits"),
            count(&data, "SELECT count(DISTINCT event) FROM hits")
        ),
        (hit_events, hit_events),
        "each run did its work once"
    );
    drop((conn, data));
    assert_eq!(integrity(&s.db()), "ok");
    assert_eq!(integrity(&s.path("flowdeck.data.db")), "ok");

    // nobody said the store was locked or busy
    let mut texts: Vec<(String, String)> = said.0.lock().unwrap().clone();
    for log in ["flowdeck.log", "serve.log", "dev.log", "studio.log"] {
        if let Ok(text) = std::fs::read_to_string(s.path(log)) {
            texts.push((format!("the log {log}"), text));
        }
    }
    let mut complaints = Vec::new();
    for (label, text) in &texts {
        let lower = text.to_ascii_lowercase();
        for word in ["locked", "busy", "panicked"] {
            if let Some(at) = lower.find(word) {
                let from = lower[..at].rfind('\n').map_or(0, |i| i + 1);
                let to = lower[at..].find('\n').map_or(lower.len(), |i| at + i);
                complaints.push(format!("{label}: {}", &text[from..to]));
            }
        }
    }
    assert!(complaints.is_empty(), "{}", complaints.join("\n"));
}
