//! Endpoints in Debug Mode, in the studio on a real store: the params pane holds the
//! request, `r` runs the draft under the debugger (breakpoints, stepping, `$body`), `x` calls
//! the live version, and the response shows beside the trace.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::studio::Studio;
use flowdeck::model::{RunMode, RunStatus};
use flowdeck::tui::data::ActivityRow;
use flowdeck::tui::state::Focus;

/// The studio with `POST /orders` selected and its request loaded.
async fn on_create_order() -> Studio {
    let mut s = Studio::new(120, 40).await;
    s.press("G").await;
    s.wait(|rt| {
        let st = rt.state();
        st.params.loaded
            && st.params.definition.as_deref() == Some("POST /orders")
            && st.steps_of == st.selected_def
            && !st.steps.is_empty()
    })
    .await;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_is_debugged_with_its_request_and_called_live() {
    let mut s = on_create_order().await;
    // the pane holds the request
    s.wait_for("Request · POST /orders").await;
    assert!(s.state().params.text().contains("\"quantity\": 60"));
    // a breakpoint on the first step, then the draft under the debugger
    s.press("<tab>b").await;
    s.wait(|rt| !rt.state().breakpoints.is_empty()).await;
    s.press("r").await;
    s.wait_for("paused at validate").await;
    let screen = s.screen();
    assert!(
        screen.contains("$body") && screen.contains("\"quantity\": 60"),
        "{screen}"
    );
    s.press("=$body.quantity * 2<enter>").await;
    s.wait_for("$body.quantity * 2 = 120").await;
    s.press("n").await;
    s.wait_for("paused at lower_stock").await;
    s.press("c").await;
    s.wait_for("debug run #1 succeeded → 201").await;
    s.wait(|rt| {
        rt.state()
            .run
            .as_ref()
            .is_some_and(|r| r.id == 1 && r.status == RunStatus::Succeeded)
    })
    .await;
    s.wait_for("response 201").await;
    let store = s.store();
    let run = store.run(1).unwrap().unwrap();
    assert_eq!(
        (
            run.mode,
            run.version,
            run.params["body"]["quantity"].clone()
        ),
        (RunMode::Debug, None, serde_json::json!(60))
    );
    // what the draft set off is said, and it ran drafts
    s.wait_for("set off sku_reorder").await;
    // the live version, as a request would
    s.press("x").await;
    s.wait_for("POST /orders → 201").await;
    let runs = store
        .list_runs(&flowdeck::store::runs::RunFilter {
            limit: 20,
            ..Default::default()
        })
        .unwrap();
    let live = runs
        .iter()
        .find(|r| r.target.name() == "POST /orders" && r.mode == RunMode::Live)
        .expect("a live run of the endpoint");
    assert_eq!(live.version, Some(1));
    s.wait(|rt| rt.state().run.as_ref().is_some_and(|r| r.id == live.id))
        .await;
    // the trace of the live run shows the response. The call's cascade (the events it
    // emitted, their runs) reaches the activity list after the call's own run: once every
    // run is finished and listed, the list holds still, and the live run's row is walked to
    let all = flowdeck::store::runs::RunFilter {
        limit: 50,
        ..Default::default()
    };
    s.wait(|rt| {
        let Ok(runs) = store.list_runs(&all) else {
            return false;
        };
        let listed = rt.state().visible_activity();
        runs.iter().all(|run| {
            run.status.is_finished()
                && listed
                    .iter()
                    .any(|r| matches!(r, ActivityRow::Run { run: l, .. } if l.id == run.id))
        })
    })
    .await;
    s.press("<tab><tab><tab>").await;
    assert_eq!(s.state().focus, Focus::Activity);
    s.press("g").await;
    let row = s
        .state()
        .visible_activity()
        .iter()
        .position(|r| matches!(r, ActivityRow::Run { run, .. } if run.id == live.id))
        .expect("the live run is listed");
    for _ in 0..row {
        s.press("j").await;
    }
    let selected = s.state().visible_activity()[s.state().activity_selected].key();
    assert_eq!(
        selected,
        s.state().visible_activity()[row].key(),
        "on the live run's row"
    );
    s.press("<enter>").await;
    s.wait_for(&format!("Run #{} · POST /orders v1", live.id))
        .await;
    s.wait_for("response 201").await;
}

/// Replace what the params pane holds with `text`, as a user would: edit, empty it, paste.
async fn replace_params(s: &mut Studio, text: &str) {
    use crossterm::event::Event;
    use flowdeck::tui::update::Msg;
    s.press("e").await;
    for _ in 0..20 {
        s.press("<down>").await;
    }
    s.press("<c-e>").await;
    let len = s.state().params.text().chars().count();
    for _ in 0..len {
        s.press("<bs>").await;
    }
    assert_eq!(s.state().params.text(), "");
    s.rt.handle(Msg::Input(Event::Paste(text.into())));
    s.settle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_checked_as_it_is_typed_and_remembered() {
    let mut s = Studio::new(120, 40).await;
    s.press("GGk").await;
    s.wait(|rt| {
        rt.state().params.loaded
            && rt.state().params.definition.as_deref() == Some("GET /skus/{id}")
    })
    .await;
    // the demo's request fills the route's {id}
    assert!(s.state().params.text().contains("\"id\": \"1\""));
    // without it, the path cannot be made: said as it is typed, and x refuses
    replace_params(&mut s, r#"{"path": {"id": ""}}"#).await;
    s.wait_for("path needs \"id\"").await;
    s.press("<esc>x").await;
    s.wait_for("the request is not valid").await;
    // a typo in a part's name, with the suggestion
    replace_params(&mut s, r#"{"bdy": {}, "path": {"id": "2"}}"#).await;
    s.wait_for("did you mean \"body\"").await;
    // fixed, called: the request's path reaches the live version as $path
    replace_params(&mut s, "{\r\n  \"path\": {\"id\": \"2\"}\r\n}").await;
    assert_eq!(
        s.state().params.text().lines().count(),
        3,
        "CR LF pasted as lines"
    );
    s.wait_for("✓ valid JSON").await;
    s.press("<esc>x").await;
    s.wait_for("GET /skus/{id} → 200").await;
    s.settle().await;
    let saved = s.store().ui_get("params:GET /skus/{id}").unwrap().unwrap();
    assert!(saved.contains("\"id\": \"2\""), "remembered: {saved}");
}
