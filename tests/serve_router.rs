//! The server's Router: endpoints' routes built from the live definitions and rebuilt when
//! they change (a route deployed by another process is answered without a restart), path
//! parameters and query strings through the extractors, the precedence of routes (built-in
//! routes first; then, among endpoints, the most literal segments), bodies over the limit
//! without a `Content-Length`, and a store read that waits holding up no other request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Sandbox;
use flowdeck::engine::Engine;
use flowdeck::server::{self, ServeOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::time::Duration;

fn options() -> ServeOptions {
    ServeOptions {
        bind: "127.0.0.1:0".parse().unwrap(),
        grace: Duration::from_millis(200),
        ..ServeOptions::default()
    }
}

/// An endpoint that answers with what it was given: its name, path parameters and query.
fn echo(method: &str, path: &str, name: &str) -> String {
    format!(
        r#"{{"method": "{method}", "path": "{path}", "steps": [{{"id": "r", "action": "return",
            "value": {{"by": "{name}", "path": "{{{{$path}}}}", "query": "{{{{$query}}}}"}}}}]}}"#
    )
}

async fn answer(r: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let r = r.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_deployed_by_another_process_is_answered_without_a_restart() {
    let s = Sandbox::new();
    let root = s.project("p", None, &[("endpoints/v.json", &echo("GET", "/v", "v"))]);
    s.import_and_deploy(&root);
    let engine = Engine::open(&s.db(), 8).unwrap();
    let running = server::start(engine.clone(), options()).await.unwrap();
    let base = format!("http://{}", running.addr);
    let c = reqwest::Client::new();
    let (status, v) = answer(c.get(format!("{base}/skus/a%20b?x=1&y=z%20w"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v["routes"].as_array().unwrap().last().unwrap(), "GET /v");
    let (status, v) = answer(c.delete(format!("{base}/v"))).await;
    assert_eq!(
        (status, &v["allow"]),
        (StatusCode::METHOD_NOT_ALLOWED, &json!(["GET"]))
    );

    // a new route and a new method on an old one, imported but not deployed yet
    std::fs::write(
        root.join("endpoints/sku.json"),
        echo("GET", "/skus/{id}", "sku"),
    )
    .unwrap();
    std::fs::write(root.join("endpoints/del.json"), echo("DELETE", "/v", "del")).unwrap();
    assert!(s.cli(&["import", "p"]).status.success());
    let (status, v) = answer(c.get(format!("{base}/skus/1"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        v["error"].as_str().unwrap().contains("never deployed"),
        "{v}"
    );

    assert!(s.cli(&["deploy", "--all"]).status.success());
    // the path parameter percent-decoded, the query string parsed, through the extractors
    let (status, v) = answer(c.get(format!("{base}/skus/a%20b?x=1&y=z%20w"))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        v,
        json!({"by": "sku", "path": {"id": "a b"}, "query": {"x": "1", "y": "z w"}})
    );
    let (status, v) = answer(c.delete(format!("{base}/v"))).await;
    assert_eq!((status, &v["by"]), (StatusCode::OK, &json!("del")));
    // a trailing slash, as before
    let (_, v) = answer(c.get(format!("{base}/skus/7/"))).await;
    assert_eq!(v["path"], json!({"id": "7"}));
    let (_, v) = answer(c.get(format!("{base}/nowhere"))).await;
    assert!(
        v["routes"]
            .as_array()
            .unwrap()
            .contains(&json!("GET /skus/{id}")),
        "{v}"
    );
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_keep_their_precedence() {
    let s = Sandbox::new();
    let files = [
        ("endpoints/a.json", echo("GET", "/skus/{id}", "any sku")),
        ("endpoints/b.json", echo("GET", "/skus/new", "new sku")),
        ("endpoints/c.json", echo("POST", "/skus/{sku}", "post sku")),
        ("endpoints/d.json", echo("GET", "/t/new/x", "new x")),
        ("endpoints/e.json", echo("GET", "/t/{id}/y", "any y")),
        ("endpoints/f.json", echo("PUT", "/c/{y}/{z}", "one literal")),
        ("endpoints/g.json", echo("PUT", "/{x}/b/c", "two literals")),
        ("endpoints/h.json", echo("GET", "/runs/{x}", "shadowed")),
        ("endpoints/i.json", echo("POST", "/runs/{x}", "post run")),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(f, t)| (*f, t.as_str())).collect();
    let root = s.project("p", None, &files);
    s.import_and_deploy(&root);
    let engine = Engine::open(&s.db(), 8).unwrap();
    let running = server::start(engine.clone(), options()).await.unwrap();
    let base = format!("http://{}", running.addr);
    let c = reqwest::Client::new();
    let by = |v: Value| v["by"].as_str().unwrap_or_default().to_string();
    // a literal segment before a parameter
    assert_eq!(
        by(answer(c.get(format!("{base}/skus/new"))).await.1),
        "new sku"
    );
    assert_eq!(
        by(answer(c.get(format!("{base}/skus/7"))).await.1),
        "any sku"
    );
    // another method's literal route does not hide this method's parameter
    let (status, v) = answer(c.post(format!("{base}/skus/new"))).await;
    assert_eq!((status, by(v.clone())), (StatusCode::OK, "post sku".into()));
    assert_eq!(v["path"], json!({"sku": "new"}));
    // a literal that leads nowhere gives way to a parameter further on
    assert_eq!(
        by(answer(c.get(format!("{base}/t/new/y"))).await.1),
        "any y"
    );
    // routes that cross: the most literal segments win, as the engine has it
    let (_, v) = answer(c.put(format!("{base}/c/b/c"))).await;
    assert_eq!(
        (by(v.clone()), &v["path"]),
        ("two literals".into(), &json!({"x": "c"}))
    );
    // a built-in route comes before an endpoint of the same method and shape
    let (status, v) = answer(c.get(format!("{base}/runs/abc"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        v["error"].as_str().unwrap().contains("is not a run id"),
        "{v}"
    );
    assert_eq!(
        by(answer(c.post(format!("{base}/runs/abc"))).await.1),
        "post run"
    );
    running.stop().await.unwrap();
}

/// Send `request` and read what the server sends until it closes the connection.
fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_over_the_limit_is_refused_and_the_connection_closed() {
    let s = Sandbox::new();
    let engine = Engine::open(&s.db(), 8).unwrap();
    let options = ServeOptions {
        body_limit: 64,
        ..options()
    };
    let running = server::start(engine.clone(), options).await.unwrap();
    let addr = running.addr;
    let chunk = "x".repeat(100);
    let request = format!(
        "POST /events/go HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    let got = tokio::task::spawn_blocking(move || exchange(addr, request.as_bytes()))
        .await
        .unwrap();
    assert!(got.starts_with("HTTP/1.1 413"), "{got}");
    assert!(
        got.to_ascii_lowercase().contains("connection: close"),
        "{got}"
    );
    assert!(got.contains(r#""limit":64"#), "{got}");
    running.stop().await.unwrap();
}

/// One runtime thread, and the store's reader connection held by another thread: a request
/// that reads the store waits (on a blocking thread) while another request is answered.
/// (Were the read made on the runtime's only thread, nothing more would be answered until
/// the reader was let go: the client, on threads of its own, would then see no answer.)
#[tokio::test(flavor = "current_thread")]
async fn a_store_read_that_waits_holds_up_no_other_request() {
    let s = Sandbox::new();
    let engine = Engine::open(&s.db(), 8).unwrap();
    // the Router alone: no queue worker, which reads the store on the runtime's thread
    let router = server::router(engine.clone(), options());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });

    // everything the client does happens off the runtime's thread
    let client = std::thread::spawn(move || {
        let reader = engine.store();
        let send = |request: &str| {
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            stream.write_all(request.as_bytes()).unwrap();
            stream
        };
        let mut waiting = send("GET /runs/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        // time for that request to reach its read (the assertions do not depend on it)
        std::thread::sleep(Duration::from_millis(200));
        let mut other = send(
            "POST /events/go HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\n[1]",
        );
        other
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut answered = Vec::new();
        let _ = other.read_to_end(&mut answered);
        waiting.set_nonblocking(true).unwrap();
        let early = waiting.read(&mut [0u8; 1]);
        let still_waiting = matches!(&early, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        drop(reader);
        waiting.set_nonblocking(false).unwrap();
        let mut late = Vec::new();
        let _ = waiting.read_to_end(&mut late);
        (
            String::from_utf8_lossy(&answered).into_owned(),
            still_waiting,
            String::from_utf8_lossy(&late).into_owned(),
        )
    });
    let (answered, still_waiting, late) = tokio::task::spawn_blocking(move || client.join())
        .await
        .unwrap()
        .unwrap();
    assert!(
        answered.starts_with("HTTP/1.1 400"),
        "another request is answered while a read waits: {answered:?}"
    );
    assert!(still_waiting, "the read waited for the reader");
    assert!(
        late.starts_with("HTTP/1.1 404"),
        "no run #1, once read: {late}"
    );
}
