//! `flowdeck serve` on 127.0.0.1 with a real HTTP client: the example's order through the
//! server, event ingestion in three forms, every error status, the token, deploys taking
//! effect at once, a graceful shutdown, and two real server processes sharing one queue.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Sandbox;
use flowdeck::engine::{EmitRequest, Engine};
use flowdeck::model::RunStatus;
use flowdeck::server::{self, ServeOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// A server on an ephemeral port over `engine`.
async fn start(
    engine: &Engine,
    token: Option<&str>,
    body_limit: usize,
) -> (server::Running, String) {
    let options = ServeOptions {
        bind: "127.0.0.1:0".parse().unwrap(),
        token: token.map(String::from),
        body_limit,
        grace: Duration::from_millis(200),
        ..ServeOptions::default()
    };
    let running = server::start(engine.clone(), options).await.unwrap();
    let base = format!("http://{}", running.addr);
    (running, base)
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// Wait until every run of the store has finished (or fail).
async fn all_finished(engine: &Engine, at_least: usize) {
    for _ in 0..400 {
        let runs = engine
            .store()
            .list_runs(&flowdeck::store::runs::RunFilter {
                limit: 10_000,
                ..Default::default()
            })
            .unwrap();
        if runs.len() >= at_least && runs.iter().all(|r| r.status.is_finished()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("runs did not finish");
}

fn seeded() -> (Sandbox, Engine) {
    let s = Sandbox::new();
    flowdeck::example::seed(&s.db()).unwrap();
    let engine = Engine::open(&s.db(), 16).unwrap();
    (s, engine)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_order_through_the_server_runs_the_cascade() {
    let (_s, engine) = seeded();
    let (running, base) = start(&engine, None, 1 << 20).await;
    let r = client()
        .post(format!("{base}/orders"))
        .json(&json!({"sku": {"id": 1}, "quantity": 60}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["content-type"], "application/json");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["stock"], 40);
    let event_id = body["reorder_event"].as_i64().unwrap();
    all_finished(&engine, 4).await;
    let event: Value = client()
        .get(format!("{base}/events/{event_id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(event["name"], "sku_reorder");
    let mut ran: Vec<&str> = event["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["workflow"].as_str().unwrap())
        .collect();
    ran.sort();
    assert_eq!(ran, vec!["notify_buyer", "reorder_supply"]);
    assert_eq!(event["skipped"][0]["reason"], "inactive");
    let cascade = engine.store().cascade_of_event(event_id).unwrap();
    assert!(cascade.events.iter().any(|e| e.name == "po_created"));
    assert!(
        cascade
            .runs
            .iter()
            .all(|r| r.status == RunStatus::Succeeded)
    );
    // the record over HTTP, in the shapes of the command line
    let run_id = cascade.runs[0].id;
    let run: Value = client()
        .get(format!("{base}/runs/{run_id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(run["id"], run_id);
    assert!(!run["steps"].as_array().unwrap().is_empty());
    let health: Value = client()
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["ok"], true);
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_arrive_in_three_forms_and_cloudevents_are_idempotent() {
    let (_s, engine) = seeded();
    let (running, base) = start(&engine, None, 1 << 20).await;
    let c = client();
    // plain: POST /events/{name}
    let r = c
        .post(format!("{base}/events/sku_reorder"))
        .json(&json!({"sku": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let plain: Value = r.json().await.unwrap();
    assert_eq!(
        (plain["runs"].clone(), plain["duplicate"].clone()),
        (json!(2), json!(false))
    );
    // structured CloudEvent, twice: one event
    let ce = json!({"specversion": "1.0", "id": "evt-1", "source": "/shop", "type": "sku_reorder", "data": {"sku": 3}});
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = c
            .post(format!("{base}/events"))
            .header("content-type", "application/cloudevents+json")
            .body(ce.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let v: Value = r.json().await.unwrap();
        ids.push((v["id"].clone(), v["duplicate"].clone()));
    }
    assert_eq!(ids[0].0, ids[1].0);
    assert_eq!(
        (ids[0].1.clone(), ids[1].1.clone()),
        (json!(false), json!(true))
    );
    // the same id from another source is another event
    let other = json!({"specversion": "1.0", "id": "evt-1", "source": "/elsewhere", "type": "sku_reorder", "data": {"sku": 3}});
    let v: Value = c
        .post(format!("{base}/events"))
        .header("content-type", "application/cloudevents+json")
        .body(other.to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(v["id"], ids[0].0);
    // binary mode
    let r = c
        .post(format!("{base}/events"))
        .header("ce-specversion", "1.0")
        .header("ce-id", "b-1")
        .header("ce-source", "/bin")
        .header("ce-type", "po_created")
        .header("content-type", "application/json")
        .body(json!({"sku": 1, "po": 1, "qty": 5}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let binary: Value = r.json().await.unwrap();
    all_finished(&engine, 6).await;
    let event = engine
        .store()
        .event(binary["id"].as_i64().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(event.record.name, "po_created");
    assert_eq!(*event.record.params, json!({"sku": 1, "po": 1, "qty": 5}));
    assert_eq!(event.record.source, "cloudevents:/bin");
    let events = engine
        .store()
        .list_events(&flowdeck::store::events::EventFilter {
            name: None,
            limit: 100,
            before: None,
        })
        .unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.source.starts_with("cloudevents:/shop"))
            .count(),
        1
    );
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_has_its_status_and_says_what_is_wrong() {
    let s = Sandbox::new();
    let root = s.project(
        "p",
        None,
        &[
            ("endpoints/boom.json", r#"{"method": "GET", "path": "/boom", "steps": [{"id": "x", "action": "fail", "message": "nope"}]}"#),
            ("endpoints/echo.json", r#"{"method": "POST", "path": "/echo/{id}", "steps": [{"id": "r", "action": "return", "value": {"id": "{{$path.id}}", "q": "{{$query.a}}", "body": "{{$body}}", "h": "{{$headers[\"x-k\"]}}"}}]}"#),
        ],
    );
    s.import_and_deploy(&root);
    let engine = Engine::open(&s.db(), 8).unwrap();
    let (running, base) = start(&engine, None, 256).await;
    let c = client();
    let get = |url: String| c.get(url).send();
    // an endpoint that works, with path, query, body and headers
    let r = c
        .post(format!("{base}/echo/7?a=x%20y"))
        .header("x-k", "v")
        .body("{\"n\": 1}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"id": "7", "q": "x y", "body": {"n": 1}, "h": "v"})
    );
    // 500 with the run id, never a stack trace
    let r = get(format!("{base}/boom")).await.unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "step x: nope");
    assert!(v["run_id"].as_i64().is_some());
    // 404 lists the routes
    let r = get(format!("{base}/nowhere")).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["routes"]
            .as_array()
            .unwrap()
            .contains(&json!("GET /boom"))
    );
    assert!(
        v["routes"]
            .as_array()
            .unwrap()
            .contains(&json!("POST /events/{name}"))
    );
    // 405 with Allow
    let r = c.delete(format!("{base}/boom")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["allow"], "GET");
    // 400 for malformed JSON, with the parse error
    let r = c
        .post(format!("{base}/echo/1"))
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"].as_str().unwrap().starts_with("malformed JSON"),
        "{v}"
    );
    assert_eq!(v["column"], 2);
    // 400: params that are not an object; a bad event name; a CloudEvent without a source
    let r = c
        .post(format!("{base}/events/x"))
        .body("[1]")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = c
        .post(format!("{base}/events/bad%20name"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = c
        .post(format!("{base}/events"))
        .header("content-type", "application/cloudevents+json")
        .body(r#"{"specversion": "1.0", "id": "1", "type": "t"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("`source`")
    );
    // 415 for base64 data
    let r = c
        .post(format!("{base}/events"))
        .header("content-type", "application/cloudevents+json")
        .body(r#"{"specversion": "1.0", "id": "1", "source": "s", "type": "t", "data_base64": "eA=="}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // 413 past the body limit (256 bytes here)
    let r = c
        .post(format!("{base}/events/x"))
        .body(format!("{{\"pad\": \"{}\"}}", "x".repeat(300)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json::<Value>().await.unwrap()["limit"], 256);
    // 404 for records that are not there, 400 for ids that are not ids
    assert_eq!(
        get(format!("{base}/runs/999")).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(format!("{base}/runs/abc")).await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(format!("{base}/events/999")).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_guards_everything_but_the_health_check() {
    let (_s, engine) = seeded();
    let (running, base) = start(&engine, Some("s3cret"), 1 << 20).await;
    let c = client();
    assert_eq!(
        c.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let r = c.get(format!("{base}/skus/1")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let r = c
        .get(format!("{base}/skus/1"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = c
        .get(format!("{base}/skus/1"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .post(format!("{base}/events/sku_reorder"))
        .json(&json!({"sku": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_takes_effect_on_the_next_request() {
    let s = Sandbox::new();
    let v1 = r#"{"method": "GET", "path": "/v", "steps": [{"id": "r", "action": "return", "value": 1}]}"#;
    let root = s.project("p", None, &[("endpoints/v.json", v1)]);
    s.import_and_deploy(&root);
    let engine = Engine::open(&s.db(), 8).unwrap();
    let (running, base) = start(&engine, None, 1 << 20).await;
    let get = || async {
        client()
            .get(format!("{base}/v"))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    assert_eq!(get().await, json!(1));
    std::fs::write(
        root.join("endpoints/v.json"),
        v1.replace("\"value\": 1", "\"value\": 2"),
    )
    .unwrap();
    let out = s.cli(&["import", "p"]);
    assert!(out.status.success());
    assert_eq!(get().await, json!(1), "a draft is not live");
    assert!(s.cli(&["deploy", "GET /v"]).status.success());
    assert_eq!(
        get().await,
        json!(2),
        "deployed by another process, live at once"
    );
    assert!(s.cli(&["rollback", "GET /v", "1"]).status.success());
    assert_eq!(get().await, json!(1), "rolled back");
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_gives_unfinished_runs_back_and_another_server_finishes_them() {
    let s = Sandbox::new();
    let slow = r#"{"name": "slow", "on": "nap", "steps": [
        {"id": "a", "action": "log", "message": "start"},
        {"id": "z", "action": "sleep", "ms": 3000},
        {"id": "b", "action": "return", "value": "done"}]}"#;
    let root = s.project("p", None, &[("workflows/slow.json", slow)]);
    s.import_and_deploy(&root);
    let first = Engine::open(&s.db(), 8).unwrap();
    let (running, base) = start(&first, None, 1 << 20).await;
    let r = client()
        .post(format!("{base}/events/nap"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    // stop while the run sleeps: the grace (200 ms) runs out, the run goes back to the queue
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.stop().await.unwrap();
    let runs = first
        .store()
        .list_runs(&flowdeck::store::runs::RunFilter {
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(runs[0].status, RunStatus::Queued, "given back");
    assert!(
        first.store().steps_of(runs[0].id).unwrap().is_empty(),
        "it starts over"
    );
    drop(first);
    let second = Engine::open(&s.db(), 8).unwrap();
    let (running, _) = start(&second, None, 1 << 20).await;
    all_finished(&second, 1).await;
    let run = second.store().run_with_steps(runs[0].id).unwrap().unwrap();
    assert_eq!((run.status, run.attempt), (RunStatus::Succeeded, 2));
    assert_eq!(run.steps.unwrap().len(), 3, "one execution in the record");
    running.stop().await.unwrap();
}

#[test]
fn two_server_processes_share_one_queue_and_run_each_run_once() {
    let s = Sandbox::new();
    let job = r#"{"name": "job", "on": "job", "steps": [
        {"id": "n", "action": "set", "var": "n", "value": "{{$param.n}}"},
        {"id": "hit", "action": "db.exec", "sql": "INSERT INTO hits (event, n) VALUES (?, ?)", "args": ["{{$event.id}}", "{{$var.n}}"]},
        {"id": "pause", "action": "sleep", "ms": 2},
        {"id": "done", "action": "return", "value": "{{$var.n}}"}]}"#;
    let root = s.project(
        "p",
        Some("CREATE TABLE IF NOT EXISTS hits (event INTEGER NOT NULL, n INTEGER NOT NULL);"),
        &[("workflows/job.json", job)],
    );
    s.import_and_deploy(&root);
    // 1,000 events, recorded and queued for whoever takes them up
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let engine = Engine::open(&s.db(), 8).unwrap();
        for n in 0..1000 {
            let mut r = EmitRequest::new("job", json!({ "n": n }), "test");
            r.queue_only = true;
            engine.emit(r, None).await.unwrap();
        }
    });
    let serve = |name: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_flowdeck"))
            .args([
                "--db",
                s.db().to_str().unwrap(),
                "serve",
                "--bind",
                "127.0.0.1:0",
            ])
            .env("FLOWDECK_LOG_FILE", s.path(name))
            .env("FLOWDECK_LOG", "info")
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut a = serve("a.log");
    let mut b = serve("b.log");
    let store = flowdeck::store::Store::open(&s.db()).unwrap();
    let mut done = false;
    for _ in 0..1200 {
        let runs = store
            .list_runs(&flowdeck::store::runs::RunFilter {
                limit: 2000,
                ..Default::default()
            })
            .unwrap();
        if runs.len() == 1000 && runs.iter().all(|r| r.status == RunStatus::Succeeded) {
            done = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for child in [&mut a, &mut b] {
        let _ = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
    }
    let _ = (a.wait(), b.wait());
    assert!(done, "1,000 runs finished");
    let runs = store
        .list_runs(&flowdeck::store::runs::RunFilter {
            limit: 2000,
            ..Default::default()
        })
        .unwrap();
    assert!(
        runs.iter().all(|r| r.attempt == 1),
        "no run was executed twice"
    );
    let data = rusqlite::Connection::open(s.path("flowdeck.data.db")).unwrap();
    let (count, distinct): (i64, i64) = data
        .query_row(
            "SELECT count(*), count(DISTINCT event) FROM hits",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (count, distinct),
        (1000, 1000),
        "each event's run did its work once"
    );
    for log in ["a.log", "b.log"] {
        let text = std::fs::read_to_string(s.path(log)).unwrap_or_default();
        assert!(
            text.contains("took up queued runs"),
            "{log} shows its server took part"
        );
    }
    for run in runs.iter().take(20) {
        assert_eq!(
            store.steps_of(run.id).unwrap().len(),
            4,
            "one execution in the record"
        );
    }
}

/// Found by hand: `POST /events/nope` recorded the event while `flowdeck emit nope`
/// refused it. One rule for both fronts: the event is recorded (a listener may come, and it
/// can be replayed), and the answer warns, with the nearest name that has listeners.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_nobody_listens_to_is_recorded_and_warned_about_on_both_fronts() {
    let (s, engine) = seeded();
    let (running, base) = start(&engine, None, 1 << 20).await;
    let r = client()
        .post(format!("{base}/events/sku_reodrer"))
        .json(&json!({"sku": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let v: Value = r.json().await.unwrap();
    let warning = v["warning"].as_str().unwrap_or_default();
    assert!(
        warning.contains("no workflow listens to \"sku_reodrer\"")
            && warning.contains("did you mean \"sku_reorder\"?"),
        "{v}"
    );
    // a heard event carries no warning
    let v: Value = client()
        .post(format!("{base}/events/sku_reorder"))
        .json(&json!({"sku": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v.get("warning").is_none(), "{v}");
    running.stop().await.unwrap();
    let out = s.cli(&["emit", "sku_reodrer", "--params", r#"{"sku": 1}"#]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "warning: no workflow listens to \"sku_reodrer\" (did you mean \"sku_reorder\"?)"
        ),
        "{stderr}"
    );
    let (_, json) = s.cli_json(&["emit", "sku_reodrer"]);
    assert!(json["warning"].as_str().is_some(), "{json}");
    let (_, events) = s.cli_json(&["events", "--name", "sku_reodrer"]);
    assert_eq!(events["events"].as_array().unwrap().len(), 3, "{events}");
}
