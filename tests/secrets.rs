//! Secrets never leak. A project lists `secrets = ["API_TOKEN", "SIGNING_KEY"]`; their values
//! (random strings set in the environment of every process; the key has a space, quotes and
//! a slash, so that it is also looked for as JSON escapes it and URLs encode it) are put by
//! workflows and endpoints everywhere a user could put them: a `set` variable (and an object key), a `log`, an `http` step's
//! header, body, answer and failing URL, a `db.exec` argument, an SQL error, a `fail`
//! message, an expression error, an `emit` step's params, an endpoint's answer and error, a
//! request header, an event's params from outside. They run through `flowdeck emit`,
//! `call`, `debug`, `rerun`, `replay`, `what-if`, `flowdeck serve` (over HTTP) and the
//! studio (in tmux); every output is read back through the command line. Then the token's
//! value must appear in no byte of the store's files (the WAL too), of the log file, of any
//! output, answer or screen.
//!
//! What may hold it, on purpose: the request the `http` step sends to the (loopback) service,
//! which is what a secret is for, and the rows a step deliberately writes to the project's own
//! data database (`flowdeck.data.db`): that is the user's data and the user's choice. The
//! test checks both do hold it, so that it is known to have flowed where it was put.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::tmux::{Tmux, available};
use common::{Sandbox, text};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What masking writes in place of a secret.
const MASK: &str = "••••••";

/// A random token, distinctive enough that it appears nowhere by chance.
fn token() -> String {
    let mut rng = fastrand::Rng::new();
    let body: String = (0..28).map(|_| rng.alphanumeric()).collect();
    format!("tok{body}")
}

/// A second secret, with characters that JSON escapes and URLs encode: it must be masked
/// in those forms too.
fn signing_key() -> String {
    let mut rng = fastrand::Rng::new();
    let body: String = (0..20).map(|_| rng.alphanumeric()).collect();
    format!("sig {body} \"q\"/z")
}

/// The forms a value takes in text: itself, escaped in JSON, percent-encoded in a URL's
/// path, form-encoded.
fn forms(value: &str) -> Vec<Vec<u8>> {
    let json = serde_json::to_string(value).unwrap();
    let path = url::Url::parse(&format!("http://x/{value}")).unwrap();
    let form: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    let mut out: Vec<Vec<u8>> = vec![
        value.into(),
        json[1..json.len() - 1].into(),
        path.path()[1..].into(),
        form.into(),
    ];
    out.sort();
    out.dedup();
    out
}

/// A loopback HTTP service that answers every request with what it received (its body and
/// its Authorization header), and keeps every request as it arrived.
struct Hook {
    addr: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Hook {
    fn start() -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let kept = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let kept = kept.clone();
                std::thread::spawn(move || {
                    let _ = answer(stream, &kept);
                });
            }
        });
        Hook { addr, requests }
    }

    fn received(&self) -> String {
        self.requests.lock().unwrap().join("\n")
    }
}

/// Read one request, keep it, echo it back as JSON.
fn answer(stream: std::net::TcpStream, kept: &Mutex<Vec<String>>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut head = String::new();
    let mut length = 0usize;
    let mut auth = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("authorization:") {
            auth = line["authorization:".len()..].trim().to_string();
        }
        head.push_str(&line);
        if line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body).into_owned();
    kept.lock().unwrap().push(format!("{head}{body}"));
    let reply = json!({"received": body, "auth": auth}).to_string();
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
        reply.len()
    )?;
    stream.flush()
}

/// The project: every place a workflow or an endpoint can put the token.
fn project(s: &Sandbox, hook: &str) -> std::path::PathBuf {
    let spill = r#"{"name": "spill", "on": "leak", "steps": [
      {"id": "keep", "action": "set", "var": "tok", "value": "{{$env.API_TOKEN}}"},
      {"id": "sign", "action": "set", "var": "sig", "value": "{{$env.SIGNING_KEY}}"},
      {"id": "wrap", "action": "set", "var": "wrapped", "value": "Bearer {{$env.API_TOKEN}}"},
      {"id": "keyed", "action": "set", "var": "by_token", "value": "{{ {($env.API_TOKEN): 1} }}"},
      {"id": "say", "action": "log", "message": "token is {{$env.API_TOKEN}}"},
      {"id": "call", "action": "http", "method": "POST", "url": "{{$env.HOOK_URL}}/hook",
       "headers": {"Authorization": "Bearer {{$env.API_TOKEN}}"},
       "body": {"token": "{{$env.API_TOKEN}}"}, "as": "echo"},
      {"id": "note", "action": "db.exec", "sql": "INSERT INTO notes (body) VALUES (?)",
       "args": ["{{$env.API_TOKEN}}"], "as": "noted"},
      {"id": "pass_on", "action": "emit", "event": "leaked", "params": {"token": "{{$env.API_TOKEN}}"}},
      {"id": "sql_guard", "action": "try",
       "steps": [{"id": "bad_path", "action": "db.query", "sql": "SELECT json_extract('{}', ?) AS x",
                  "args": ["{{$env.API_TOKEN}}"]}],
       "catch": [{"id": "sql_said", "action": "log", "message": "sql: {{$error.message}}"}]},
      {"id": "expr_guard", "action": "try",
       "steps": [{"id": "as_number", "action": "set", "var": "n", "value": "{{$env.API_TOKEN | tonumber}}"}],
       "catch": [{"id": "expr_said", "action": "log", "message": "expr: {{$error.message}}"}]},
      {"id": "url_guard", "action": "try",
       "steps": [{"id": "nowhere", "action": "http", "method": "GET",
                  "url": "http://127.0.0.1:1/{{$env.API_TOKEN}}", "timeout_ms": 5000}],
       "catch": [{"id": "url_said", "action": "log", "message": "url: {{$error.message}}"}]},
      {"id": "sig_guard", "action": "try",
       "steps": [{"id": "sig_nowhere", "action": "http", "method": "GET",
                  "url": "http://127.0.0.1:1/{{$env.SIGNING_KEY}}", "timeout_ms": 5000}],
       "catch": [{"id": "sig_said", "action": "log", "message": "sig url: {{$error.message}}"}]},
      {"id": "done", "action": "return", "value": {"token": "{{$env.API_TOKEN}}", "echo": "{{$var.echo.body}}"}}
    ]}"#;
    let heard = r#"{"name": "heard", "on": "leaked", "steps": [
      {"id": "got", "action": "set", "var": "got", "value": "{{$param.token}}"},
      {"id": "done", "action": "return", "value": "{{$param}}"}
    ]}"#;
    let refuse = r#"{"name": "refuse", "on": "leak", "steps": [
      {"id": "no", "action": "fail", "message": "refused with {{$env.API_TOKEN}}"}
    ]}"#;
    let sql_fails = r#"{"name": "sql_fails", "on": "leak", "steps": [
      {"id": "bad_path", "action": "db.query", "sql": "SELECT json_extract('{}', ?) AS x",
       "args": ["{{$env.API_TOKEN}}"]}
    ]}"#;
    let expr_fails = r#"{"name": "expr_fails", "on": "leak", "steps": [
      {"id": "as_number", "action": "set", "var": "n", "value": "{{$env.API_TOKEN | tonumber}}"}
    ]}"#;
    let url_fails = r#"{"name": "url_fails", "on": "leak", "steps": [
      {"id": "nowhere", "action": "http", "method": "GET", "url": "http://127.0.0.1:1/{{$env.SIGNING_KEY}}",
       "timeout_ms": 5000}
    ]}"#;
    let params_echo = r#"{"name": "params_echo", "on": "given", "steps": [
      {"id": "done", "action": "return", "value": "{{$param}}"}
    ]}"#;
    let tell = r#"{"name": "tell", "on": "told", "steps": [
      {"id": "say", "action": "log", "message": "token is {{$env.API_TOKEN}}"},
      {"id": "wait", "action": "sleep", "ms": 4000},
      {"id": "no", "action": "fail", "message": "told {{$env.API_TOKEN}}"}
    ]}"#;
    let get_token = r#"{"method": "GET", "path": "/token", "steps": [
      {"id": "done", "action": "return", "value": {"token": "{{$env.API_TOKEN}}"}}
    ]}"#;
    let post_fail = r#"{"method": "POST", "path": "/fail", "steps": [
      {"id": "pass_on", "action": "emit", "event": "leaked", "params": {"token": "{{$env.API_TOKEN}}"}},
      {"id": "no", "action": "fail", "message": "denied {{$env.API_TOKEN}}"}
    ]}"#;
    let check = r#"{"method": "GET", "path": "/check", "steps": [
      {"id": "done", "action": "return", "value": {"ok": "{{$headers[\"x-token\"] == $env.API_TOKEN}}",
       "seen": "{{$headers[\"x-token\"]}}"}}
    ]}"#;
    let root = s.project(
        "leaky",
        Some("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);"),
        &[
            ("workflows/spill.json", spill),
            ("workflows/heard.json", heard),
            ("workflows/refuse.json", refuse),
            ("workflows/sql_fails.json", sql_fails),
            ("workflows/expr_fails.json", expr_fails),
            ("workflows/url_fails.json", url_fails),
            ("workflows/params_echo.json", params_echo),
            ("workflows/tell.json", tell),
            ("endpoints/get_token.json", get_token),
            ("endpoints/post_fail.json", post_fail),
            ("endpoints/check.json", check),
        ],
    );
    std::fs::write(
        root.join("flowdeck.toml"),
        format!(
            "name = \"leaky\"\nsecrets = [\"API_TOKEN\", \"SIGNING_KEY\"]\n\n[env]\nHOOK_URL = \"{hook}\"\n"
        ),
    )
    .unwrap();
    root
}

/// Everything the processes said, by where it came from.
#[derive(Default)]
struct Said(Vec<(String, Vec<u8>)>);

impl Said {
    fn add(&mut self, label: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        self.0.push((label.into(), bytes.into()));
    }

    fn output(&mut self, label: &str, out: &Output) {
        self.add(format!("{label} (stdout)"), out.stdout.clone());
        self.add(format!("{label} (stderr)"), out.stderr.clone());
    }

    fn text(&self) -> String {
        self.0
            .iter()
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Where `needle` occurs in `hay`, with a little context, for the failure message.
fn find(hay: &[u8], needle: &[u8]) -> Option<String> {
    let at = hay.windows(needle.len()).position(|w| w == needle)?;
    let from = at.saturating_sub(120);
    let to = (at + needle.len() + 120).min(hay.len());
    Some(String::from_utf8_lossy(&hay[from..to]).into_owned())
}

/// The sandbox's commands, with the secrets in their environment.
struct Cli<'a> {
    s: &'a Sandbox,
    secret: &'a str,
    key: &'a str,
}

impl Cli<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = self.s.command(args);
        c.env("API_TOKEN", self.secret).env("SIGNING_KEY", self.key);
        c
    }

    fn run(&self, said: &mut Said, args: &[&str]) -> Output {
        let out = self.command(args).output().unwrap();
        said.output(&format!("flowdeck {}", args.join(" ")), &out);
        out
    }

    fn ok(&self, said: &mut Said, args: &[&str]) -> Output {
        let out = self.run(said, args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        out
    }

    fn json(&self, said: &mut Said, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(said, &all);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", text(&out)))
    }
}

/// `flowdeck serve` as a process, and where it listens.
struct Served {
    child: Child,
    base: String,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Served {
    fn start(cli: &Cli<'_>) -> Served {
        let mut child = cli
            .command(&["serve", "--bind", "127.0.0.1:0"])
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let first = lines.next().unwrap().unwrap();
        let base = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_string();
        // the rest of what it says is read (and kept) as it comes
        let rest = std::thread::spawn(move || {
            let rest: Vec<String> = lines.map_while(Result::ok).collect();
            format!("{first}\n{}", rest.join("\n"))
        });
        Served {
            child,
            base,
            stderr: Some(rest),
        }
    }

    /// Stop it as ctrl-c does; what it said on stderr goes to `said`.
    fn stop(mut self, said: &mut Said) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        let stderr = self.stderr.take().unwrap().join().unwrap();
        said.add("flowdeck serve (stderr)", stderr.clone());
        assert!(status.success(), "serve stopped with {status}: {stderr}");
    }
}

/// One HTTP/1.1 request to `base` (`http://host:port`): the status, and the whole answer
/// (status line, headers, body) as it came.
fn request(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<u8>) {
    let host = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut all = Vec::new();
    stream.read_to_end(&mut all).unwrap();
    let status_line = String::from_utf8_lossy(&all[..all.len().min(20)]).into_owned();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    (status, all)
}

/// The JSON body of a whole answer.
fn body_of(answer: &[u8]) -> Value {
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response");
    serde_json::from_slice(&answer[split + 4..]).unwrap_or(Value::Null)
}

/// Wait until the store has no unfinished run.
fn settled(base: &str) {
    let end = Instant::now() + Duration::from_secs(60);
    while Instant::now() < end {
        let (_, answer) = request(base, "GET", "/healthz", &[], "");
        let h = body_of(&answer);
        if h["unfinished_runs"] == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("runs did not finish");
}

/// What to look for (every form of every secret), and where it was found, with what was
/// around it.
struct Leaks {
    needles: Vec<Vec<u8>>,
    found: Vec<String>,
}

impl Leaks {
    fn look(&mut self, what: &str, bytes: &[u8]) {
        for needle in &self.needles {
            if let Some(around) = find(bytes, needle) {
                self.found.push(format!("{what}: …{around}…"));
            }
        }
    }

    /// The store's files (`flowdeck.db`, and its `-wal` and `-shm` when they exist), every
    /// byte; the files looked at.
    fn look_in_store(&mut self, s: &Sandbox, when: &str) -> Vec<std::path::PathBuf> {
        let files = files_with_prefix(s.dir.path(), "flowdeck.db");
        assert!(!files.is_empty());
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            self.look(&format!("{when}, {}", f.display()), &bytes);
        }
        files
    }
}

fn files_with_prefix(dir: &Path, prefix: &str) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_secret_reaches_no_record_log_output_answer_or_screen() {
    let s = Sandbox::new();
    let secret = token();
    let key = signing_key();
    let hook = Hook::start();
    let root = project(&s, &hook.addr);
    let cli = Cli {
        s: &s,
        secret: &secret,
        key: &key,
    };
    let mut said = Said::default();
    let mut needles = forms(&secret);
    needles.extend(forms(&key));
    let mut leaks = Leaks {
        needles,
        found: Vec::new(),
    };
    cli.ok(&mut said, &["import", root.to_str().unwrap()]);
    cli.ok(&mut said, &["deploy", "--all"]);

    // the command line: an event (twice, text and JSON), an event whose params a caller
    // filled with the token, endpoints (an answer, an error, a request header)
    // (exit code 1: some of the runs fail, on purpose)
    cli.run(&mut said, &["emit", "leak"]);
    let emitted = cli.json(&mut said, &["emit", "leak"]);
    let event_id = emitted["event"]["id"].as_i64().unwrap();
    let given = format!(r#"{{"from_outside": "{secret}"}}"#);
    cli.run(&mut said, &["emit", "given", "--params", &given]);
    cli.ok(&mut said, &["call", "GET", "/token"]);
    let called = cli.json(&mut said, &["call", "GET", "/token"]);
    assert_eq!(called["body"]["token"], MASK, "{called}");
    cli.run(&mut said, &["call", "POST", "/fail"]);
    cli.json(&mut said, &["call", "POST", "/fail"]);
    let header = format!("X-Token: {secret}");
    let checked = cli.json(&mut said, &["call", "GET", "/check", "--header", &header]);
    assert_eq!(
        checked["body"]["ok"], true,
        "the endpoint had the real value: {checked}"
    );
    // the debugger's command line: a draft run once, with its trace
    cli.run(&mut said, &["debug", "spill"]);
    cli.json(&mut said, &["debug", "spill"]);

    // flowdeck serve: events and endpoints over HTTP, answers and error answers (the
    // whole answer is kept: status line, headers and body)
    let served = Served::start(&cli);
    let base = served.base.clone();
    let mut ask = |method: &str, path: &str, headers: &[(&str, &str)], body: &str| {
        let (status, all) = request(&base, method, path, headers, body);
        let body = body_of(&all);
        said.add(format!("HTTP {method} {path}"), all);
        (status, body)
    };
    assert_eq!(ask("POST", "/events/leak", &[], "{}").0, 202);
    let given = json!({"from_outside": secret}).to_string();
    assert_eq!(ask("POST", "/events/given", &[], &given).0, 202);
    assert_eq!(ask("GET", "/token", &[], "").0, 200);
    assert_eq!(ask("POST", "/fail", &[], "").0, 500);
    let (status, checked) = ask("GET", "/check", &[("x-token", &secret)], "");
    assert_eq!((status, &checked["ok"]), (200, &json!(true)), "{checked}");
    settled(&base);
    // the store's files while a process has it open: the WAL and shared memory too
    let files = leaks.look_in_store(&s, "while flowdeck serve runs");
    assert!(
        files.iter().any(|f| f.to_string_lossy().ends_with("-wal")),
        "{files:?}"
    );
    // the record over HTTP: every run and event
    let (_, runs) = s.cli_json(&["runs", "--limit", "1000"]);
    let runs: Vec<i64> = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    for id in &runs {
        ask("GET", &format!("/runs/{id}"), &[], "");
    }
    let (_, events) = s.cli_json(&["events", "--limit", "1000"]);
    for e in events["events"].as_array().unwrap() {
        ask("GET", &format!("/events/{}", e["id"]), &[], "");
    }
    served.stop(&mut said);

    // second goes: a rerun, a replay, what-if, a diff
    let spill_run = {
        let v = cli.json(&mut said, &["runs", "--workflow", "spill", "--limit", "1"]);
        v["runs"][0]["id"].as_i64().unwrap()
    };
    cli.run(&mut said, &["rerun", &spill_run.to_string()]);
    cli.run(
        &mut said,
        &["rerun", &spill_run.to_string(), "--from", "done"],
    );
    cli.run(&mut said, &["replay", &event_id.to_string()]);
    cli.run(&mut said, &["what-if", "spill", "--last", "3"]);
    cli.run(
        &mut said,
        &["diff-runs", &runs[0].to_string(), &spill_run.to_string()],
    );

    // the studio, in a real terminal: a debug run of `tell` (its log line, its failure),
    // then the trace of the last `spill` run
    let screens = studio(&s, &secret, &key);
    let studio_checked = !screens.is_empty();
    for (i, screen) in screens.into_iter().enumerate() {
        said.add(format!("studio screen {i}"), screen);
    }

    // the record, read back through every command that shows it
    cli.ok(&mut said, &["runs", "--limit", "1000"]);
    cli.ok(&mut said, &["events", "--limit", "1000"]);
    cli.json(&mut said, &["events", "--limit", "1000"]);
    let (_, runs) = s.cli_json(&["runs", "--limit", "1000"]);
    let all_runs: Vec<i64> = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    for id in &all_runs {
        cli.ok(&mut said, &["show", &id.to_string()]);
        cli.json(&mut said, &["show", &id.to_string()]);
    }
    let (_, events) = s.cli_json(&["events", "--limit", "1000"]);
    for e in events["events"].as_array().unwrap() {
        let id = e["id"].to_string();
        cli.ok(&mut said, &["trace", &id]);
        cli.json(&mut said, &["trace", &id]);
        cli.run(&mut said, &["why", &id, "spill"]);
    }

    // the token flowed where it was put: to the service (header and body) and into the
    // data database, on purpose
    let received = hook.received();
    assert!(
        received.contains(&format!("Bearer {secret}")) && received.contains(&secret),
        "the http step sent the real token: {received}"
    );
    let data = rusqlite::Connection::open(s.path("flowdeck.data.db")).unwrap();
    let noted: i64 = data
        .query_row(
            "SELECT count(*) FROM notes WHERE body = ?1",
            [&secret],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        noted > 0,
        "db.exec wrote the real token into the data database"
    );
    // nowhere: outputs, answers, screens
    for (label, bytes) in &said.0 {
        leaks.look(label, bytes);
    }
    // the store's files as they are on disk now, every process gone
    leaks.look_in_store(&s, "at the end");
    // every log file the processes wrote
    let logs: Vec<_> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    assert!(!logs.is_empty());
    for f in &logs {
        leaks.look(
            &format!("the log {}", f.display()),
            &std::fs::read(f).unwrap(),
        );
    }
    assert!(
        leaks.found.is_empty(),
        "a secret leaked {} time(s):\n{}",
        leaks.found.len(),
        leaks.found.join("\n")
    );
    // and the masked value shows where it was (the test looked at real values)
    let everything = said.text();
    if studio_checked {
        assert!(everything.contains(&format!("log: token is {MASK}")));
        assert!(everything.contains(&format!("failed: step no: told {MASK}")));
    }
    for shown in [
        format!("token is {MASK}"),
        format!("refused with {MASK}"),
        format!("denied {MASK}"),
        format!("Bearer {MASK}"),
        format!("\"from_outside\":\"{MASK}\""),
        format!("sig url: GET http://127.0.0.1:1/{MASK}: cannot connect"),
    ] {
        assert!(everything.contains(&shown), "{shown:?} is shown somewhere");
    }
    let runs_text = String::from_utf8_lossy(
        &cli.ok(&mut Said::default(), &["runs", "--limit", "1000"])
            .stdout,
    )
    .into_owned();
    for failed in ["refuse", "sql_fails", "expr_fails", "url_fails"] {
        assert!(runs_text.contains(failed), "{failed} ran: {runs_text}");
    }
}

/// The studio on the sandbox's store (the secrets in its environment): the last `spill`
/// run step by step, then a debug run of `tell` stopped at a breakpoint, with evaluations;
/// its log line and failure, as the studio tells them. The screens it showed (none where
/// tmux is missing).
fn studio(s: &Sandbox, secret: &str, key: &str) -> Vec<String> {
    if !available() {
        println!("the studio is not checked: tmux is not installed");
        return Vec::new();
    }
    let command = format!(
        "cd {dir} && API_TOKEN={secret} SIGNING_KEY='{key}' FLOWDECK_LOG_FILE={log} {bin} --db {db}; echo STUDIO-EXITED $?; sleep 60",
        dir = s.dir.path().display(),
        log = s.path("studio.log").display(),
        bin = env!("CARGO_BIN_EXE_flowdeck"),
        db = s.db().display()
    );
    let t = Tmux::start("secrets", &command, 160, 45);
    let mut screens = Vec::new();
    t.wait_for("Workflows");
    screens.push(t.screen());
    // the last `spill` run, step by step, in the variables pane (its activity below)
    filter(&t, "spill");
    t.press(&["Enter"]);
    t.wait_for("Variables · run #");
    for _ in 0..18 {
        screens.push(t.screen());
        t.press(&["j"]);
    }
    screens.push(t.screen());
    // a debug run of `tell`, with a breakpoint on its failing step: the studio tells its log
    // line, stops, evaluates what it is asked (a failing expression too), then tells the
    // failure
    t.press(&["Escape"]);
    filter(&t, "tell");
    t.press(&["Enter", "j", "j", "b"]);
    t.wait_for("●");
    t.press(&["r"]);
    t.wait_for("log: token is");
    screens.push(t.screen());
    t.wait_for("paused at no");
    screens.push(t.screen());
    t.press(&["="]);
    t.type_text("$env.API_TOKEN | tonumber");
    t.press(&["Enter"]);
    t.wait_for("cannot parse");
    screens.push(t.screen());
    t.press(&["="]);
    t.type_text("[$env.SIGNING_KEY, $var]");
    t.press(&["Enter"]);
    t.wait_for("$env.SIGNING_KEY, $var] =");
    screens.push(t.screen());
    t.press(&["c"]);
    t.wait_for("failed: step no: told");
    screens.push(t.screen());
    t.press(&["q"]);
    t.wait_for("STUDIO-EXITED 0");
    screens.push(t.screen());
    screens
}

/// Show only the workflows whose names hold `name`.
fn filter(t: &Tmux, name: &str) {
    t.press(&["/"]);
    for _ in 0..12 {
        t.keys(&["BSpace"]);
    }
    t.type_text(name);
    t.press(&["Enter"]);
    t.wait_for(&format!("Params · {name}"));
}
