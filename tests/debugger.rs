//! The debugger in the engine: breakpoints of every kind, every step command, inspecting and
//! changing variables at a pause, replaying from a recorded step; on a real store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Sandbox;
use flowdeck::engine::Engine;
use flowdeck::engine::debug::{
    Breakpoint, DebugEvent, DebugOptions, EditScope, Resume, Session, Snapshot, StopReason,
};
use flowdeck::engine::rerun::{Rerun, RerunFrom};
use flowdeck::model::RunStatus;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

const WORKFLOW: &str = r#"{"name": "dbg", "on": "go", "steps": [
  {"id": "start", "action": "set", "var": "n", "value": "{{$param.n}}"},
  {"id": "loop", "action": "foreach", "in": "{{ [range($var.n)] }}", "as": "item", "steps": [
    {"id": "body", "action": "set", "var": "last", "value": "{{ $var.item * 10 }}"}
  ]},
  {"id": "check", "action": "if", "cond": "{{ $var.n > 5 }}",
   "then": [{"id": "big", "action": "set", "var": "size", "value": "big"}],
   "else": [{"id": "small", "action": "set", "var": "size", "value": "small"}]},
  {"id": "tell", "action": "emit", "event": "told", "params": {"size": "{{$var.size}}"}},
  {"id": "done", "action": "return", "value": {"size": "{{$var.size}}", "last": "{{$var.last}}"}}
]}"#;

const LISTENER: &str = r#"{"name": "listener", "on": "told", "steps": [
  {"id": "note", "action": "db.exec", "sql": "INSERT INTO seen (size) VALUES (?)", "args": ["{{$param.size}}"]}
]}"#;

const SLOW: &str = r#"{"name": "slow", "on": "crawl", "steps": [
  {"id": "each", "action": "foreach", "in": "{{ [range(200)] }}", "as": "i", "steps": [
    {"id": "nap", "action": "sleep", "ms": 5}
  ]}
]}"#;

const FAILING: &str = r#"{"name": "failing", "on": "oops", "steps": [
  {"id": "first", "action": "set", "var": "n", "value": 3},
  {"id": "boom", "action": "fail", "message": "bad {{$var.n}}"},
  {"id": "never", "action": "log", "message": "not reached"}
]}"#;

const OTHER: &str = r#"{"name": "other", "on": "ping", "steps": [
  {"id": "pong", "action": "return", "value": "pong"}
]}"#;

struct Fixture {
    sandbox: Sandbox,
    engine: Engine,
}

fn fixture() -> Fixture {
    let sandbox = Sandbox::new();
    let root = sandbox.project(
        "p",
        Some("CREATE TABLE IF NOT EXISTS seen (size TEXT);"),
        &[
            ("workflows/dbg.json", WORKFLOW),
            ("workflows/listener.json", LISTENER),
            ("workflows/slow.json", SLOW),
            ("workflows/failing.json", FAILING),
            ("workflows/other.json", OTHER),
        ],
    );
    sandbox.import_and_deploy(&root);
    let engine = sandbox.engine();
    Fixture { sandbox, engine }
}

struct Debugging {
    session: Session,
    events: UnboundedReceiver<DebugEvent>,
}

impl Fixture {
    async fn debug(&self, workflow: &str, params: Value, options: DebugOptions) -> Debugging {
        let (tx, events) = unbounded_channel();
        let session = self
            .engine
            .debug_session(workflow, params, None, options, tx)
            .await
            .unwrap();
        Debugging { session, events }
    }

    fn seen(&self) -> Vec<String> {
        let conn = rusqlite::Connection::open(self.sandbox.path("flowdeck.data.db")).unwrap();
        let mut stmt = conn.prepare("SELECT size FROM seen").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }
}

impl Debugging {
    /// The next stop (skipping output and resumes).
    async fn stop(&mut self) -> (StopReason, Snapshot) {
        loop {
            let event = tokio::time::timeout(Duration::from_secs(10), self.events.recv())
                .await
                .expect("the run stops in time")
                .expect("the session is alive");
            match event {
                DebugEvent::Stopped { reason, snapshot } => return (reason, *snapshot),
                DebugEvent::Finished { status, error, .. } => {
                    panic!("finished ({status}, {error:?}) instead of stopping")
                }
                _ => {}
            }
        }
    }

    /// The end of the run.
    async fn finished(&mut self) -> (RunStatus, Option<Value>, Option<String>) {
        loop {
            let event = tokio::time::timeout(Duration::from_secs(10), self.events.recv())
                .await
                .expect("the run ends in time")
                .expect("the session is alive");
            match event {
                DebugEvent::Finished {
                    status,
                    output,
                    error,
                    ..
                } => return (status, output, error),
                DebugEvent::Stopped { reason, .. } => {
                    panic!("stopped ({reason:?}) instead of finishing")
                }
                _ => {}
            }
        }
    }
}

fn on_entry() -> DebugOptions {
    DebugOptions {
        breakpoints: Vec::new(),
        stop_on_entry: true,
        cascade: None,
    }
}

fn at(breakpoints: Vec<Breakpoint>) -> DebugOptions {
    DebugOptions {
        breakpoints,
        stop_on_entry: false,
        cascade: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_breakpoint_stops_before_the_step_and_continue_runs_to_the_end() {
    let f = fixture();
    let mut d = f
        .debug("dbg", json!({"n": 3}), at(vec![Breakpoint::step("check")]))
        .await;
    let (reason, snap) = d.stop().await;
    assert_eq!(
        reason,
        StopReason::Breakpoint {
            step: "check".into()
        }
    );
    assert_eq!(snap.next.as_deref(), Some("check"));
    assert_eq!(snap.var["n"], 3);
    assert_eq!(snap.var["last"], 20, "the loop ran before the stop");
    assert_eq!(
        snap.input,
        json!({"cond": false}),
        "the next step's input, evaluated"
    );
    let run = f.engine.store().run(d.session.run_id).unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Paused, "the store says paused");
    d.session.resume(Resume::Continue);
    let (status, output, _) = d.finished().await;
    assert_eq!(status, RunStatus::Succeeded);
    assert_eq!(output, Some(json!({"size": "small", "last": 20})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_over_into_and_out_move_through_the_tree() {
    let f = fixture();
    let mut d = f.debug("dbg", json!({"n": 2}), on_entry()).await;
    let (reason, s) = d.stop().await;
    assert_eq!(
        (reason, s.next.as_deref()),
        (StopReason::Entry, Some("start"))
    );
    d.session.resume(Resume::StepOver);
    assert_eq!(d.stop().await.1.next.as_deref(), Some("loop"));
    // into the loop's body: the first item
    d.session.resume(Resume::StepIn);
    let (_, s) = d.stop().await;
    assert_eq!(s.next.as_deref(), Some("body"));
    assert_eq!(
        (s.var["item"].clone(), s.var["item_index"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(
        s.stack.iter().map(|f| f.step.as_str()).collect::<Vec<_>>(),
        vec!["loop", "body"]
    );
    assert_eq!(s.stack[1].iteration, vec![0]);
    // over, at the same depth: the body again, second item
    d.session.resume(Resume::StepOver);
    let (_, s) = d.stop().await;
    assert_eq!(
        (s.next.as_deref(), s.var["item"].clone()),
        (Some("body"), json!(1))
    );
    // out of the loop
    d.session.resume(Resume::StepOut);
    let (_, s) = d.stop().await;
    assert_eq!(s.next.as_deref(), Some("check"));
    assert_eq!(s.var["last"], 10);
    // into the branch that the condition takes
    d.session.resume(Resume::StepIn);
    assert_eq!(d.stop().await.1.next.as_deref(), Some("small"));
    d.session.resume(Resume::StepOver);
    assert_eq!(d.stop().await.1.next.as_deref(), Some("tell"));
    d.session.resume(Resume::Continue);
    assert_eq!(d.finished().await.0, RunStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_stops_a_running_run_and_abort_cancels_it() {
    let f = fixture();
    let mut d = f.debug("slow", json!({}), DebugOptions::default()).await;
    d.session.send(flowdeck::engine::debug::DebugCommand::Pause);
    let (reason, s) = d.stop().await;
    assert_eq!(reason, StopReason::Pause);
    assert!(
        matches!(s.next.as_deref(), Some("each" | "nap")),
        "{:?}",
        s.next
    );
    d.session.send(flowdeck::engine::debug::DebugCommand::Abort);
    let (status, _, error) = d.finished().await;
    assert_eq!(status, RunStatus::Cancelled);
    assert!(error.unwrap().contains("aborted"));
    let run = f.engine.store().run(d.session.run_id).unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conditional_breakpoint_matches_only_on_the_third_item() {
    let f = fixture();
    let bp = Breakpoint::Step {
        step: "body".into(),
        condition: Some("$var.item == 2".into()),
    };
    let mut d = f.debug("dbg", json!({"n": 5}), at(vec![bp])).await;
    let (reason, s) = d.stop().await;
    assert_eq!(
        reason,
        StopReason::Condition {
            step: "body".into(),
            condition: "$var.item == 2".into()
        }
    );
    assert_eq!(
        (s.var["item"].clone(), s.var["item_index"].clone()),
        (json!(2), json!(2))
    );
    assert_eq!(s.var["last"], 10, "items 0 and 1 ran");
    d.session.resume(Resume::Continue);
    assert_eq!(
        d.finished().await.0,
        RunStatus::Succeeded,
        "no other item stops"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breakpoint_inside_a_foreach_body_stops_on_every_item() {
    let f = fixture();
    let mut d = f
        .debug("dbg", json!({"n": 3}), at(vec![Breakpoint::step("body")]))
        .await;
    for i in 0..3 {
        let (_, s) = d.stop().await;
        assert_eq!(s.var["item"], i);
        assert_eq!(s.stack.last().unwrap().iteration, vec![i as usize]);
        d.session.resume(Resume::Continue);
    }
    assert_eq!(d.finished().await.0, RunStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_at_a_pause_changes_a_later_branch_and_is_recorded() {
    let f = fixture();
    let mut d = f
        .debug("dbg", json!({"n": 3}), at(vec![Breakpoint::step("check")]))
        .await;
    d.stop().await;
    d.session.set(EditScope::Var, "n", json!(10)).await.unwrap();
    d.session
        .set(EditScope::Param, "note", json!("edited"))
        .await
        .unwrap();
    assert_eq!(d.session.evaluate("$var.n * 2").await.unwrap(), json!(20));
    assert_eq!(
        d.session.evaluate("$param.note").await.unwrap(),
        json!("edited")
    );
    let snap = d.session.inspect().await.unwrap();
    assert_eq!(snap.input, json!({"cond": true}), "the condition now holds");
    assert!(
        d.session
            .set(EditScope::Var, "not a name", json!(1))
            .await
            .is_err()
    );
    d.session.resume(Resume::Continue);
    let (_, output, _) = d.finished().await;
    assert_eq!(output.unwrap()["size"], "big");
    let steps = f.engine.store().steps_of(d.session.run_id).unwrap();
    let overrides: Vec<_> = steps.iter().filter(|s| s.action == "override").collect();
    assert_eq!(overrides.len(), 2);
    assert_eq!(
        overrides[0].input,
        json!({"scope": "var", "name": "n", "value": 10})
    );
    assert_eq!(overrides[0].step, "check", "recorded where it happened");
    assert!(steps.iter().any(|s| s.step == "big"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emit_breakpoint_stops_before_the_listener_runs() {
    let f = fixture();
    let mut d = f
        .debug(
            "dbg",
            json!({"n": 1}),
            at(vec![Breakpoint::Emit {
                event: "told".into(),
            }]),
        )
        .await;
    let (reason, s) = d.stop().await;
    assert_eq!(
        reason,
        StopReason::Emit {
            event: "told".into()
        }
    );
    assert_eq!(s.next.as_deref(), Some("tell"));
    assert_eq!(s.input["params"], json!({"size": "small"}));
    let told = f
        .engine
        .store()
        .list_events(&flowdeck::store::events::EventFilter {
            name: Some("told".into()),
            limit: 5,
            before: None,
        })
        .unwrap();
    assert!(told.is_empty(), "the event does not exist yet");
    assert!(f.seen().is_empty(), "the listener has not run");
    d.session.resume(Resume::Continue);
    assert_eq!(d.finished().await.0, RunStatus::Succeeded);
    // the listener (its draft: this is a debug run) runs on its own
    for _ in 0..200 {
        if !f.seen().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(f.seen(), vec!["small".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_breakpoint_stops_after_the_failing_step() {
    let f = fixture();
    let mut d = f
        .debug("failing", json!({}), at(vec![Breakpoint::Failure]))
        .await;
    let (reason, s) = d.stop().await;
    assert_eq!(
        reason,
        StopReason::Failure {
            step: "boom".into(),
            message: "bad 3".into()
        }
    );
    assert_eq!(s.next, None, "nothing catches it: the run is at its end");
    assert_eq!(s.var["n"], 3);
    d.session.resume(Resume::Continue);
    let (status, _, error) = d.finished().await;
    assert_eq!(status, RunStatus::Failed);
    assert_eq!(error.as_deref(), Some("step boom: bad 3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_run_blocks_neither_the_store_nor_other_runs() {
    let f = fixture();
    let mut d = f.debug("dbg", json!({"n": 2}), on_entry()).await;
    d.stop().await;
    let report = f
        .engine
        .emit_and_wait(flowdeck::engine::EmitRequest::new(
            "ping",
            json!({}),
            "test",
        ))
        .await
        .unwrap();
    assert_eq!(report.cascade.runs[0].status, RunStatus::Succeeded);
    let other = flowdeck::store::Store::open(&f.sandbox.db()).unwrap();
    let row = other
        .find_definition(flowdeck::model::DefinitionKind::Workflow, "other")
        .unwrap()
        .unwrap();
    assert!(
        other.set_active(row.id, false).unwrap(),
        "another connection writes while paused"
    );
    d.session.resume(Resume::Continue);
    assert_eq!(d.finished().await.0, RunStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluate_answers_jq_and_says_what_is_wrong() {
    let f = fixture();
    let mut d = f
        .debug("dbg", json!({"n": 4}), at(vec![Breakpoint::step("check")]))
        .await;
    d.stop().await;
    assert_eq!(
        d.session
            .evaluate("[$var.n, $param.n] | add")
            .await
            .unwrap(),
        json!(8)
    );
    assert_eq!(
        d.session.evaluate("$event.source").await.unwrap(),
        json!("debug")
    );
    let e = d.session.evaluate("$var.n +").await.unwrap_err();
    assert!(e.contains("jq syntax"), "{e}");
    d.session.resume(Resume::Continue);
    d.finished().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_replays_from_a_recorded_step_with_the_state_it_had() {
    let f = fixture();
    let mut d = f
        .debug("dbg", json!({"n": 3}), DebugOptions::default())
        .await;
    assert_eq!(d.finished().await.0, RunStatus::Succeeded);
    let steps = f.engine.store().steps_of(d.session.run_id).unwrap();
    let check = steps.iter().find(|s| s.step == "check").unwrap();
    let (tx, events) = unbounded_channel();
    let session = f
        .engine
        .rerun_session(
            Rerun {
                from: RerunFrom::Record(check.seq),
                ..Rerun::of(d.session.run_id)
            },
            on_entry(),
            tx,
        )
        .await
        .unwrap();
    let mut r = Debugging { session, events };
    let (_, s) = r.stop().await;
    assert_eq!(s.next.as_deref(), Some("check"));
    assert_eq!(
        (s.var["n"].clone(), s.var["last"].clone()),
        (json!(3), json!(20))
    );
    r.session.set(EditScope::Var, "n", json!(9)).await.unwrap();
    r.session.resume(Resume::Continue);
    let (status, output, _) = r.finished().await;
    assert_eq!(status, RunStatus::Succeeded);
    assert_eq!(output.unwrap()["size"], "big");
    let run = f.engine.store().run(r.session.run_id).unwrap().unwrap();
    assert_eq!(run.mode, flowdeck::model::RunMode::Replay);
    // and from inside the loop: the item comes back from the recorded iteration
    let body = steps.iter().filter(|s| s.step == "body").nth(1).unwrap();
    let (tx, events) = unbounded_channel();
    let session = f
        .engine
        .rerun_session(
            Rerun {
                from: RerunFrom::Record(body.seq),
                ..Rerun::of(d.session.run_id)
            },
            on_entry(),
            tx,
        )
        .await
        .unwrap();
    let mut r = Debugging { session, events };
    let (_, s) = r.stop().await;
    assert_eq!(
        (s.next.as_deref(), s.var["item"].clone()),
        (Some("body"), json!(1))
    );
    r.session.resume(Resume::Continue);
    assert_eq!(r.finished().await.0, RunStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debugging_an_event_runs_every_listener_under_the_debugger() {
    let f = fixture();
    let (tx, mut events) = unbounded_channel();
    let (event, sessions) = f
        .engine
        .debug_event("told", json!({"size": "xl"}), on_entry(), tx)
        .await
        .unwrap();
    assert_eq!(event.name, "told");
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].workflow, "listener");
    let stop = tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        stop,
        DebugEvent::Stopped {
            reason: StopReason::Entry,
            ..
        }
    ));
    assert!(f.seen().is_empty(), "stopped before its step");
    sessions[0].resume(Resume::Continue);
    loop {
        if let DebugEvent::Finished { status, .. } = events.recv().await.unwrap() {
            assert_eq!(status, RunStatus::Succeeded);
            break;
        }
    }
    assert_eq!(f.seen(), vec!["xl".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_condition_is_refused_at_the_start() {
    let f = fixture();
    let (tx, _rx) = unbounded_channel();
    let bp = Breakpoint::Step {
        step: "check".into(),
        condition: Some("$var.n <".into()),
    };
    let e = f
        .engine
        .debug_session("dbg", json!({}), None, at(vec![bp]), tx)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("breakpoint on check"), "{e}");
}

/// Found by hand: a replay of a v1 run set off a draft listener. A cascade stays in the
/// world it started in: the events of a draft's run run their listeners' drafts, those of a
/// deployed version's run (a debug session on a version, a replay of a live run) their live
/// versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cascade_stays_in_the_world_it_started_in() {
    let f = fixture();
    let listener_version = |run_id: i64| {
        let store = f.engine.store();
        let cascade = store.cascade_of_run(run_id).unwrap();
        assert_eq!(cascade.runs.len(), 1, "{cascade:?}");
        assert_eq!(cascade.runs[0].target.name(), "listener");
        cascade.runs[0].version
    };
    // the draft
    let mut d = f
        .debug("dbg", json!({"n": 1}), DebugOptions::default())
        .await;
    assert_eq!(d.finished().await.0, RunStatus::Succeeded);
    f.engine.flush().await.unwrap();
    assert_eq!(listener_version(d.session.run_id), None);
    // version 1 under the debugger
    let (tx, events) = unbounded_channel();
    let session = f
        .engine
        .debug_session("dbg", json!({"n": 1}), Some(1), DebugOptions::default(), tx)
        .await
        .unwrap();
    let mut v1 = Debugging { session, events };
    assert_eq!(v1.finished().await.0, RunStatus::Succeeded);
    f.engine.flush().await.unwrap();
    assert_eq!(listener_version(v1.session.run_id), Some(1));
    // a replay of that v1 run, from its emit
    let steps = f.engine.store().steps_of(v1.session.run_id).unwrap();
    let tell = steps.iter().find(|s| s.step == "tell").unwrap();
    let (tx, events) = unbounded_channel();
    let session = f
        .engine
        .rerun_session(
            Rerun {
                from: RerunFrom::Record(tell.seq),
                ..Rerun::of(v1.session.run_id)
            },
            DebugOptions::default(),
            tx,
        )
        .await
        .unwrap();
    let mut replay = Debugging { session, events };
    assert_eq!(replay.finished().await.0, RunStatus::Succeeded);
    f.engine.flush().await.unwrap();
    assert_eq!(listener_version(replay.session.run_id), Some(1));
}
