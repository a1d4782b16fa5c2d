//! Hostile input that once got through: links out of the project folder, templates that
//! allocate without end, clients that send half a request and then nothing, params too big
//! to hold. Each is answered with a clear error, and the process lives on (or ends cleanly).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Sandbox, text};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

const WORKFLOW: &str = r#"{"name": "w", "on": "go", "steps": [
    {"id": "a", "action": "set", "var": "x", "value": "{{$param.n}}"}]}"#;

/// Wait for `child` to end; a process that does not end within `bound` fails the test (this
/// is what a runaway template once did) instead of hanging it.
fn finish(mut child: Child, bound: Duration) -> Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > bound {
            let _ = child.kill();
            panic!("the process was still running after {bound:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[cfg(unix)]
#[test]
fn links_out_of_the_project_folder_are_not_read_and_export_does_not_write_through_them() {
    let s = Sandbox::new();
    let root = s.project("p", None, &[("workflows/w.json", WORKFLOW)]);
    // a workflow file elsewhere on the machine, linked into the project
    let secret = s.write(
        "elsewhere/x.json",
        r#"{"name": "x", "on": "go", "steps": [{"id": "a", "action": "log", "message": "outside"}]}"#,
    );
    std::os::unix::fs::symlink(&secret, root.join("workflows/x.json")).unwrap();
    // a link that stays inside the folder is followed
    s.write(
        "p/shared/y.json",
        r#"{"name": "y", "on": "go", "steps": [{"id": "a", "action": "log", "message": "inside"}]}"#,
    );
    std::os::unix::fs::symlink(root.join("shared/y.json"), root.join("workflows/y.json")).unwrap();
    let out = s.cli(&["import", root.to_str().unwrap()]);
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert!(
        all.contains("workflows/x.json") && all.contains("outside the project folder"),
        "{all}"
    );
    assert!(all.contains("copy the file in"), "says what to do: {all}");
    // without the link out, the project imports, the inside link with it
    std::fs::remove_file(root.join("workflows/x.json")).unwrap();
    let out = s.cli(&["import", root.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let (_, list) = s.cli_json(&["list"]);
    let names: Vec<&str> = list["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert!(names.contains(&"y") && !names.contains(&"x"), "{names:?}");

    // export into a folder where a definition's file is a link out: refused, the file
    // outside untouched
    let target = s.path("exported");
    std::fs::create_dir_all(target.join("workflows")).unwrap();
    let victim = s.write("victim.json", "do not overwrite");
    std::os::unix::fs::symlink(&victim, target.join("workflows/w.json")).unwrap();
    let out = s.cli(&["export", target.to_str().unwrap()]);
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert!(all.contains("export does not write through links"), "{all}");
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "do not overwrite"
    );
    // a linked folder out of the export folder is refused as well
    let target2 = s.path("exported2");
    std::fs::create_dir_all(&target2).unwrap();
    let outside_dir = s.path("outside_dir");
    std::fs::create_dir_all(&outside_dir).unwrap();
    std::os::unix::fs::symlink(&outside_dir, target2.join("workflows")).unwrap();
    let out = s.cli(&["export", target2.to_str().unwrap()]);
    assert!(!out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read_dir(&outside_dir).unwrap().count(), 0);
}

#[test]
fn templates_that_allocate_without_end_fail_their_step_and_the_process_ends() {
    let s = Sandbox::new();
    let doubling = r#"{"name": "doubling", "on": "grow", "steps": [
        {"id": "grow", "action": "set", "var": "x",
         "value": "{{ reduce range(40) as $i (\"x\"; . + .) | length }}"}]}"#;
    let array = r#"{"name": "array", "on": "grow", "steps": [
        {"id": "grow", "action": "set", "var": "x", "value": "{{ [range(1e9)] | length }}"}]}"#;
    let root = s.project(
        "p",
        None,
        &[
            ("workflows/doubling.json", doubling),
            ("workflows/array.json", array),
        ],
    );
    s.import_and_deploy(&root);
    let child = s
        .command(&["--json", "emit", "grow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish(child, Duration::from_secs(120));
    let (_, runs) = s.cli_json(&["runs"]);
    let runs = runs["runs"].as_array().or(runs.as_array()).unwrap().clone();
    assert_eq!(runs.len(), 2, "{}", text(&out));
    for run in &runs {
        assert_eq!(run["status"], "failed", "{run}");
        let error = run["error"].as_str().unwrap_or_default();
        // the doubling string is stopped by the memory budget; the array by whichever of
        // the budgets (time, memory) it reaches first
        let expected = if run["workflow"] == "doubling" || run["target"] == "doubling" {
            "MB of memory and was stopped"
        } else {
            "and was stopped"
        };
        assert!(
            error.contains("step grow") && error.contains(expected),
            "the step and the limit are named: {error}"
        );
    }
}

/// Write a request head (and `body`, maybe half of what it announces) and keep the
/// connection open.
fn half_request(port: u16, body: &str, announced: usize) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let head = format!(
        "POST /events/go HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {announced}\r\n\r\n{body}"
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream
}

/// Read what the server sends until it closes the connection.
fn until_closed(mut stream: TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn slow_clients_are_answered_and_let_go_and_connections_are_capped() {
    let s = Sandbox::new();
    let root = s.project("p", None, &[("workflows/w.json", WORKFLOW)]);
    s.import_and_deploy(&root);
    let server = s.serve(&["--read-timeout", "1s", "--max-connections", "64"]);
    // half a body, then nothing: each is answered 408 and its connection closed
    let halves: Vec<TcpStream> = (0..40)
        .map(|_| half_request(server.port, r#"{"n": "#, 1000))
        .collect();
    // a head that never ends: the connection is closed
    let mut dripping = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    dripping
        .write_all(b"POST /events/go HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    for stream in halves {
        let answer = until_closed(stream);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("did not arrive within"), "{answer}");
    }
    assert!(!until_closed(dripping).starts_with("HTTP/1.1 2"));
    // the server still answers
    let ok = until_closed(half_request(server.port, r#"{"n": 1}"#, 8));
    assert!(ok.starts_with("HTTP/1.1 202"), "{ok}");
    drop(server);

    // with room for two connections, two idle ones hold it until the head timeout lets them
    // go; the third is answered then
    let server = s.serve(&["--read-timeout", "1s", "--max-connections", "2"]);
    let idle: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(("127.0.0.1", server.port)).unwrap())
        .collect();
    let third = until_closed(half_request(server.port, r#"{"n": 2}"#, 8));
    assert!(third.starts_with("HTTP/1.1 202"), "{third}");
    for stream in idle {
        assert_eq!(until_closed(stream), "", "an idle connection is closed");
    }
}

#[test]
fn params_over_the_limit_are_refused_before_they_are_read() {
    let s = Sandbox::new();
    let relay = r#"{"name": "relay", "on": "go", "steps": [
        {"id": "big", "action": "emit", "event": "other",
         "params": {"blob": "{{ \"x\" * 60000 }}"}}]}"#;
    let root = s.project(
        "p",
        None,
        &[
            ("workflows/w.json", WORKFLOW),
            ("workflows/relay.json", relay),
        ],
    );
    s.import_and_deploy(&root);
    // the default limit, 1 MB, from a file (an argument cannot be that long)
    let big = format!(r#"{{"n": "{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let file = s.write("big.json", &big);
    let out = s.cli(&["emit", "go", "--params", &format!("@{}", file.display())]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "bad input: {all}");
    assert!(
        all.contains("big.json")
            && all.contains("over the limit of 1048576 bytes")
            && all.contains("max_params_bytes"),
        "{all}"
    );
    // a lower limit, inline
    std::fs::write(
        root.join("flowdeck.toml"),
        "name = \"p\"\n[engine]\nmax_params_bytes = 50000\n",
    )
    .unwrap();
    assert!(s.cli(&["import", root.to_str().unwrap()]).status.success());
    let inline = format!(r#"{{"n": "{}"}}"#, "x".repeat(60_000));
    let out = s.cli(&["emit", "go", "--params", &inline]);
    assert!(
        text(&out).contains("over the limit of 50000 bytes"),
        "{}",
        text(&out)
    );
    // an emit step whose params are too big fails, naming the limit
    let out = s.cli(&["--json", "emit", "go", "--params", r#"{"n": 1}"#]);
    assert!(out.status.code().is_some(), "{}", text(&out));
    let (_, runs) = s.cli_json(&["runs", "--workflow", "relay"]);
    let runs = runs["runs"].as_array().or(runs.as_array()).unwrap().clone();
    let error = runs[0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("over the limit"), "{}", runs[0]);
    // and a raised limit lets it through
    std::fs::write(
        root.join("flowdeck.toml"),
        "name = \"p\"\n[engine]\nmax_params_bytes = 4194304\n",
    )
    .unwrap();
    assert!(s.cli(&["import", root.to_str().unwrap()]).status.success());
    let out = s.cli(&["emit", "go", "--params", &format!("@{}", file.display())]);
    assert!(out.status.success(), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_beyond_the_cap_wait_in_the_store_until_the_worker_takes_them_up() {
    use flowdeck::engine::effects::EmitRequest;
    use serde_json::json;
    let s = Sandbox::new();
    let slow = r#"{"name": "slow", "on": "go", "steps": [
        {"id": "wait", "action": "sleep", "ms": "{{$param.ms}}"}]}"#;
    let root = s.project("p", None, &[("workflows/slow.json", slow)]);
    s.import_and_deploy(&root);
    let engine = s.engine();
    engine.core().hold_at_most(1);
    engine.core().set_working(true);
    let held = engine
        .emit(EmitRequest::new("go", json!({"ms": 600_000}), "test"), None)
        .await
        .unwrap();
    let waiting = engine
        .emit(EmitRequest::new("go", json!({"ms": 0}), "test"), None)
        .await
        .unwrap();
    let db = rusqlite::Connection::open(s.db()).unwrap();
    let state = |id: i64| -> (Option<String>, String) {
        db.query_row(
            "SELECT lease_owner, status FROM runs WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let (owner, status) = state(waiting.runs[0].run_id);
    assert_eq!(
        (owner, status.as_str()),
        (None, "queued"),
        "beyond the cap, the run waits in the store for any worker"
    );
    assert!(state(held.runs[0].run_id).0.is_some(), "the first is held");
    // the worker takes it up
    let id = waiting.runs[0].run_id;
    let finished = async {
        loop {
            if engine
                .store()
                .run(id)
                .unwrap()
                .is_some_and(|r| r.finished_at.is_some())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), engine.work_queue(finished))
        .await
        .expect("the waiting run was taken up");
    assert_eq!(state(id).1, "succeeded");
    engine.shutdown(Duration::ZERO).await.unwrap();
}

/// The request log: a line per answered request, with its method and path but never its
/// query string (it may hold a secret), when `flowdeck::http` is at debug level; none at the
/// default level, where the line would cost every request.
#[test]
fn requests_are_logged_when_asked_for_and_never_with_their_query() {
    for (filter, logged) in [("info", false), ("info,flowdeck::http=debug", true)] {
        let s = Sandbox::new();
        let serving = s.serve_with(&[], &[("FLOWDECK_LOG", filter)]);
        let mut stream = TcpStream::connect(("127.0.0.1", serving.port)).unwrap();
        stream
            .write_all(
                b"POST /events/go?token=abc123secret HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
            )
            .unwrap();
        let answer = until_closed(stream);
        assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
        drop(serving);
        let log = std::fs::read_to_string(s.path("flowdeck.log")).unwrap_or_default();
        assert_eq!(
            log.contains("answered") && log.contains("/events/go"),
            logged,
            "{filter}: {log}"
        );
        assert!(!log.contains("abc123secret"), "{log}");
    }
}
