//! The debugger in the studio, driven by keys on a real store: set a breakpoint, run, stop
//! there, inspect, change a variable, step, continue to the end; walk a finished run back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::studio::{Studio, marks_agree, screen_of};
use flowdeck::model::RunStatus;
use flowdeck::model::breakpoint::Breakpoint;

macro_rules! snap {
    ($name:expr, $screen:expr) => {{
        let mut settings = insta::Settings::clone_current();
        settings.add_filter(r" *\d+(\.\d+)? (µs|ms|s)\b *", " [dur] ");
        settings.add_filter(r"\[dur\] ━+", "[dur] ━");
        settings.add_filter(r"\d{4}-\d{2}-\d{2}T[\d:.]+Z?", "[timestamp]");
        settings.add_filter(r"\d{2}:\d{2}:\d{2}", "[time]");
        settings.bind(|| insta::assert_snapshot!($name, $screen));
    }};
}

/// The studio on reorder_supply, its params loaded, the steps pane focused.
async fn on_reorder_supply() -> Studio {
    let mut s = Studio::new(120, 40).await;
    s.press("jj").await;
    s.wait(|rt| {
        let st = rt.state();
        st.params.loaded
            && st.params.definition.as_deref() == Some("reorder_supply")
            && st.steps_of == st.selected_def
            && !st.steps.is_empty()
    })
    .await;
    s.press("<tab>").await;
    s
}

/// Wait until what the screen shows has settled: the paused (or last) run loaded with its
/// steps, every other run finished, and the activity log showing them.
async fn settled(s: &mut Studio) {
    s.wait(|rt| {
        let st = rt.state();
        let runs: Vec<_> = st.activity.iter().filter_map(|r| r.run()).collect();
        let paused = st
            .debug
            .as_ref()
            .and_then(|d| d.paused.as_ref().map(|_| d.run_id));
        let others_done = runs
            .iter()
            .all(|r| r.status.is_finished() || Some(r.id) == paused);
        let shown = match paused {
            Some(id) => {
                runs.iter()
                    .any(|r| r.id == id && r.status == RunStatus::Paused)
                    && st
                        .run
                        .as_ref()
                        .is_some_and(|r| r.id == id && r.status == RunStatus::Paused)
            }
            None => st.run.as_ref().is_some_and(|r| r.status.is_finished()),
        };
        !runs.is_empty() && others_done && shown && marks_agree(rt)
    })
    .await;
    s.settle().await;
}

/// Move the steps selection to `step`.
async fn select_step(s: &mut Studio, step: &str) {
    for _ in 0..30 {
        if s.state().selected_step_id() == Some(step) {
            return;
        }
        s.press("j").await;
    }
    panic!("no step {step}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_inspect_edit_step_and_continue() {
    let mut s = on_reorder_supply().await;
    select_step(&mut s, "quantity").await;
    s.press("b").await;
    for _ in 0..100 {
        if !s
            .store()
            .breakpoints_of("reorder_supply")
            .unwrap()
            .is_empty()
        {
            break;
        }
        s.settle().await;
    }
    assert_eq!(
        s.store().breakpoints_of("reorder_supply").unwrap(),
        vec![Breakpoint::step("quantity")],
        "kept in the store"
    );
    let marked = |screen: &str, step: &str, mark: char| {
        screen
            .lines()
            .any(|l| l.contains(&format!(" {step} ")) && l.contains(mark))
    };
    assert!(marked(&s.screen(), "quantity", '●'), "{}", s.screen());

    // run the draft: it stops before `quantity`
    s.press("r").await;
    s.wait_for("paused at quantity").await;
    s.wait(|rt| {
        rt.state()
            .debug
            .as_ref()
            .is_some_and(|d| d.paused.is_some())
    })
    .await;
    let screen = s.screen();
    assert!(
        marked(&screen, "quantity", '▶'),
        "the live cursor: {screen}"
    );
    assert!(screen.contains("‖ paused"), "{screen}");
    assert!(
        screen.contains("\"stock\": 100"),
        "the variables at the pause: {screen}"
    );
    settled(&mut s).await;
    snap!("debug_paused_120x40", s.screen());

    // inspect with a one-shot expression and a watch
    s.press("=").await;
    s.press("$var.rows[0].stock * 2<enter>").await;
    s.wait_for("$var.rows[0].stock * 2 = 200").await;
    s.press("w").await;
    s.press("$var.rows[0].stock<enter>").await;
    s.wait_for("$var.rows[0].stock = 100").await;

    // change a variable: the stock was 10, not 100 (the variables pane is two tabs on)
    s.press("<tab><tab>").await;
    assert_eq!(s.state().focus, flowdeck::tui::state::Focus::Variables);
    s.press("<enter>").await;
    s.press("rows = [{\"id\": 1, \"name\": \"beans\", \"stock\": 10}]<enter>")
        .await;
    s.wait_for("recorded in the trace").await;
    s.wait_for("$var.rows[0].stock = 10").await;

    // step over `quantity`: 150 - 10
    s.press("n").await;
    s.wait_for("paused at supplier").await;
    s.wait(|rt| {
        rt.state()
            .debug
            .as_ref()
            .and_then(|d| d.paused.as_ref())
            .is_some_and(|(_, snap)| snap.var["qty"] == 140)
    })
    .await;

    // continue to the end
    s.press("c").await;
    // the end, and then what the run set off (said once its cascade has run)
    s.wait_for("succeeded · set off po_created").await;
    s.wait(|rt| rt.state().debug.is_none()).await;
    let run_id = s.state().run.as_ref().unwrap().id;
    let run = s.store().run_with_steps(run_id).unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(run.output.unwrap()["qty"], 140);
    let steps = run.steps.unwrap();
    assert!(
        steps
            .iter()
            .any(|r| r.action == "override" && r.input["name"] == "rows")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_run_is_walked_backwards_and_run_again_from_a_step() {
    let mut s = on_reorder_supply().await;
    s.press("r").await;
    s.wait_for("succeeded · set off po_created").await;
    s.wait(|rt| {
        rt.state().run.as_ref().is_some_and(|r| {
            r.status.is_finished() && r.steps.as_ref().is_some_and(|s| s.len() > 5)
        })
    })
    .await;
    let records = s
        .state()
        .run
        .as_ref()
        .unwrap()
        .steps
        .as_ref()
        .unwrap()
        .len();
    // the last record, then back step by step
    s.press("[").await;
    assert_eq!(s.state().cursor, Some(records - 1));
    s.wait_for(&format!("record {records} of {records}")).await;
    s.press("[[[").await;
    assert_eq!(s.state().cursor, Some(records - 4));
    let at = s.state().run.as_ref().unwrap().steps.as_ref().unwrap()[records - 4]
        .step
        .clone();
    s.wait_for(&format!("record {} of {records}", records - 3))
        .await;
    assert_eq!(
        s.state().selected_step_id(),
        Some(at.as_str()),
        "the steps tree follows"
    );
    settled(&mut s).await;
    let screen = s.screen();
    assert!(
        screen
            .lines()
            .any(|l| l.contains(&format!(" {at} ")) && l.contains('▶')),
        "the cursor on {at}: {screen}"
    );
    snap!("time_travel_120x40", screen);
    s.press("]").await;
    assert_eq!(s.state().cursor, Some(records - 3));
    // go back to `quantity` and run again from there (it stops at once)
    while s.state().selected_step_id() != Some("quantity") {
        s.press("[").await;
        assert!(s.state().cursor != Some(0), "walked past quantity");
    }
    s.press("R").await;
    s.wait_for("paused at quantity").await;
    let d = s.state().debug.clone().unwrap();
    let (_, snap) = d.paused.unwrap();
    assert_eq!(snap.var["rows"][0]["stock"], 100, "the state it had");
    s.press("c").await;
    s.wait(|rt| rt.state().debug.is_none()).await;
    let run = s.store().run(d.run_id).unwrap().unwrap();
    assert_eq!(
        (run.status, run.mode),
        (RunStatus::Succeeded, flowdeck::model::RunMode::Replay)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conditional_breakpoint_is_asked_for_and_checked() {
    let mut s = on_reorder_supply().await;
    select_step(&mut s, "record").await;
    s.press("B").await;
    assert!(screen_of(&s.rt).contains("break at record when"));
    // a condition that does not compile is refused and the prompt stays open
    s.press("$var.qty ><enter>").await;
    s.wait_for("jq syntax").await;
    s.press("<bs><bs> > 50<enter>").await;
    s.wait(|rt| {
        rt.state().breakpoints
            == vec![Breakpoint::Step {
                step: "record".into(),
                condition: Some("$var.qty > 50".into()),
            }]
    })
    .await;
    assert!(
        s.screen()
            .lines()
            .any(|l| l.contains(" record ") && l.contains('◆')),
        "{}",
        s.screen()
    );
    s.press("r").await;
    s.wait_for("paused at record because $var.qty > 50").await;
    // abort ends it, cancelled
    s.press("a").await;
    s.wait(|rt| rt.state().debug.is_none()).await;
    let run = s
        .store()
        .run(s.state().run.as_ref().unwrap().id)
        .unwrap()
        .unwrap();
    assert_eq!(run.status, RunStatus::Cancelled);
    // b on the same step clears it
    s.press("b").await;
    s.wait(|rt| rt.state().breakpoints.is_empty()).await;
    for _ in 0..100 {
        if s.store()
            .breakpoints_of("reorder_supply")
            .unwrap()
            .is_empty()
        {
            break;
        }
        s.settle().await;
    }
    assert!(
        s.store()
            .breakpoints_of("reorder_supply")
            .unwrap()
            .is_empty()
    );
}

/// Found by hand: `b r a` then `=` on the cancelled run (it has no step records) panicked
/// in the variables' time-travel slice, and kept doing so after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_run_without_records_can_be_inspected() {
    let mut s = on_reorder_supply().await;
    s.press("b").await;
    s.wait(|rt| !rt.state().breakpoints.is_empty()).await;
    s.press("r").await;
    s.wait_for("paused at load").await;
    s.press("w$var<enter>").await;
    s.press("a").await;
    s.wait(|rt| {
        rt.state().debug.is_none()
            && rt
                .state()
                .run
                .as_ref()
                .is_some_and(|r| r.status == RunStatus::Cancelled)
    })
    .await;
    // the run's end is told in a notice of its own: wait for it, and for its record to be
    // in the store (the reload that follows the commit may tell it again), or it may come
    // after the answer below and take its place on the status line
    s.wait_for("cancelled: aborted by the debugger").await;
    let store = s.store();
    s.wait(|_| {
        store
            .run(1)
            .ok()
            .flatten()
            .is_some_and(|r| r.status == RunStatus::Cancelled)
    })
    .await;
    s.settle().await;
    s.press("=$param<enter>").await;
    s.wait_for("$param = {\"sku\":1}").await;
    s.press("w$var.rows<enter>[]").await;
    s.settle().await;
    assert!(s.screen().contains("Variables · run #1"), "{}", s.screen());
}
