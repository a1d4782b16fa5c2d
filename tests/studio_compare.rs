//! Replay and compare in the studio, on a real store: a run run again (with the params on
//! the right, or from a step of its trace), two runs compared side by side, an event's
//! cascade walked as a tree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::studio::Studio;
use flowdeck::model::RunStatus;
use flowdeck::tui::data::ActivityRow;
use flowdeck::tui::state::{Focus, Overlay};

/// The studio after `x` on reorder_supply with `{"sku": 1}`, its cascade finished.
async fn emitted() -> Studio {
    let mut s = Studio::new(120, 40).await;
    s.press("jj").await;
    s.wait(|rt| rt.state().params.loaded).await;
    s.press("x").await;
    s.wait(|rt| {
        rt.state()
            .activity
            .iter()
            .filter_map(|r| r.run())
            .filter(|r| r.status == RunStatus::Succeeded)
            .count()
            == 3
    })
    .await;
    s.settle().await;
    s
}

/// Focus the activity log and select the row `pick` finds; the id of its run, if any.
async fn select_in_activity(s: &mut Studio, pick: impl Fn(&ActivityRow) -> bool) -> Option<i64> {
    while s.state().focus != Focus::Activity {
        s.press("<tab>").await;
    }
    s.press("g").await;
    for _ in 0..50 {
        let at = s.state().visible_activity()[s.state().activity_selected].clone();
        if pick(&at) {
            return at.run().map(|r| r.id);
        }
        s.press("j").await;
    }
    panic!("no such row: {}", s.screen());
}

fn is_run_of(row: &ActivityRow, workflow: &str) -> bool {
    row.run().is_some_and(|r| r.target.name() == workflow)
}

fn purchase_orders(s: &Studio) -> i64 {
    let conn = rusqlite::Connection::open(s.sandbox.path("flowdeck.data.db")).unwrap();
    conn.query_row("SELECT count(*) FROM purchase_orders", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_run_again_with_the_params_or_from_a_step_of_its_trace() {
    let mut s = emitted().await;
    // the params on the right changed to SKU 2
    s.press("<tab><tab>e<down><c-e><bs>2<esc>").await;
    assert!(s.state().params.text().contains("\"sku\": 2"));
    let original = select_in_activity(&mut s, |r| is_run_of(r, "reorder_supply"))
        .await
        .unwrap();
    // again with them
    s.press("R").await;
    s.wait(|rt| {
        rt.state()
            .activity
            .iter()
            .filter_map(|r| r.run())
            .any(|r| r.rerun_of == Some(original) && r.status == RunStatus::Succeeded)
    })
    .await;
    let rerun = s
        .state()
        .activity
        .iter()
        .filter_map(|r| r.run())
        .find(|r| r.rerun_of == Some(original))
        .unwrap()
        .clone();
    assert_eq!(
        *rerun.params,
        serde_json::json!({"sku": 2}),
        "the params on the right"
    );
    s.wait_for(&format!("rerun of #{original}")).await;
    // from the trace's `tell` step: stopped there first, the insert before it not repeated
    let orders = purchase_orders(&s);
    select_in_activity(&mut s, |r| r.run().is_some_and(|run| run.id == original)).await;
    s.press("<enter>").await;
    s.wait_for(&format!("Run #{original}")).await;
    while let Some(Overlay::Trace(t)) = &s.state().overlay {
        let steps = t.run.steps.as_ref().unwrap();
        if steps[t.selected].step == "tell" {
            break;
        }
        s.press("j").await;
    }
    s.press("R").await;
    s.wait_for("paused at tell").await;
    s.press("c").await;
    s.wait_for("succeeded · set off po_created").await;
    let store = s.store();
    let runs = store
        .list_runs(&flowdeck::store::runs::RunFilter {
            limit: 50,
            ..Default::default()
        })
        .unwrap();
    let from_tell = runs
        .iter()
        .find(|r| r.from_step.as_deref() == Some("tell"))
        .expect("a rerun from tell");
    assert_eq!(from_tell.rerun_of, Some(original));
    assert_eq!(from_tell.status, RunStatus::Succeeded);
    assert_eq!(
        purchase_orders(&s),
        orders,
        "the insert before tell did not run again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_that_took_different_branches_side_by_side() {
    let mut s = emitted().await;
    // a second emit with an unknown SKU: reorder_supply fails in another branch
    s.press("<tab><tab>").await;
    assert_eq!(s.state().focus, Focus::Params);
    s.press("e<down><c-e><bs>9<esc>").await;
    assert!(
        s.state().params.text().contains("\"sku\": 9"),
        "{}",
        s.state().params.text()
    );
    s.press("x").await;
    s.wait(|rt| {
        rt.state()
            .activity
            .iter()
            .filter_map(|r| r.run())
            .any(|r| r.target.name() == "reorder_supply" && r.status == RunStatus::Failed)
    })
    .await;
    let ok = select_in_activity(&mut s, |r| {
        r.run().is_some_and(|run| {
            run.target.name() == "reorder_supply" && run.status == RunStatus::Succeeded
        })
    })
    .await
    .unwrap();
    s.press("M").await;
    s.wait_for(&format!("run #{ok} marked")).await;
    let failed = select_in_activity(&mut s, |r| {
        r.run().is_some_and(|run| {
            run.target.name() == "reorder_supply" && run.status == RunStatus::Failed
        })
    })
    .await
    .unwrap();
    s.press("D").await;
    s.wait_for(&format!("Run #{ok} ↔ run #{failed}")).await;
    let Some(Overlay::RunDiff(view)) = &s.state().overlay else {
        panic!("{}", s.screen());
    };
    let only_b: Vec<&str> = view
        .diff
        .steps
        .iter()
        .filter(|s| s.only_in == Some("b"))
        .map(|s| s.step.as_str())
        .collect();
    assert_eq!(only_b, ["unknown_sku"]);
    let screen = s.screen();
    assert!(screen.contains("+ unknown_sku"), "{screen}");
    assert!(screen.contains("- quantity"), "{screen}");
    assert!(screen.contains("status: succeeded → failed"), "{screen}");
    // walking the rows shows each step's differences
    s.press("j").await;
    assert!(s.screen().contains("known:"), "{}", s.screen());
    s.press("<esc>").await;
    assert!(s.state().overlay.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_events_cascade_is_a_tree_to_walk() {
    let mut s = emitted().await;
    select_in_activity(
        &mut s,
        |r| matches!(r, ActivityRow::Event(e) if e.name == "sku_reorder"),
    )
    .await;
    s.press("<enter>").await;
    s.wait_for("Cascade of event #1").await;
    let screen = s.screen();
    for text in [
        "event #1 sku_reorder",
        "reorder_supply  run #2",
        "event #2 po_created",
        "receive_stock  run #3",
        "slack_alert  skipped: inactive",
    ] {
        assert!(screen.contains(text), "{text}: {screen}");
    }
    // to receive_stock's run, and its trace
    loop {
        let Some(Overlay::Cascade(c)) = &s.state().overlay else {
            panic!("{}", s.screen());
        };
        let on_it = matches!(
            &c.lines[c.selected].1,
            flowdeck::tui::state::CascadeLine::Run(r) if r.target.name() == "receive_stock"
        );
        if on_it {
            break;
        }
        s.press("j").await;
    }
    s.press("<enter>").await;
    s.wait_for("Run #3 · receive_stock").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p_pins_the_selected_run_and_prune_keeps_it() {
    let mut s = emitted().await;
    let run = select_in_activity(&mut s, |r| is_run_of(r, "reorder_supply"))
        .await
        .unwrap();
    s.press("P").await;
    s.wait_for(&format!("pinned run #{run}")).await;
    assert!(s.store().is_pinned(run).unwrap());
    // a prune that reaches everything keeps it (and its event)
    let store = s.store();
    let rules = flowdeck::store::prune::Retention {
        keep_last: Some(0),
        ..Default::default()
    };
    let mut cursor = flowdeck::store::prune::Cursor::default();
    while store.prune_batch(&rules, &mut cursor, false).unwrap().more {}
    assert!(store.run_with_steps(run).unwrap().is_some());
    // again: unpinned
    s.press("P").await;
    s.wait_for(&format!("unpinned run #{run}")).await;
    assert!(!s.store().is_pinned(run).unwrap());
}
