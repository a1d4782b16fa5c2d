//! Tests of workflows in the studio, on a real store seeded with the example (its test files
//! kept by the import): the selected workflow's tests run, a case's trace opens and closes
//! back to the results, a failing case shows where it failed, and a run becomes a test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::studio::Studio;
use flowdeck::model::{KeptFile, RunStatus};
use flowdeck::suite::CaseStatus;
use flowdeck::tui::state::{Focus, Overlay};
use std::path::PathBuf;

/// Wait until the open results are in; their cases' (name, status).
async fn results(s: &mut Studio) -> Vec<(String, CaseStatus)> {
    s.wait(|rt| matches!(&rt.state().overlay, Some(Overlay::Tests(t)) if t.result.is_some()))
        .await;
    let Some(Overlay::Tests(t)) = &s.state().overlay else {
        unreachable!()
    };
    match t.result.as_ref().unwrap() {
        Ok(r) => r
            .report
            .cases
            .iter()
            .map(|c| (c.name.clone(), c.status))
            .collect(),
        Err(e) => panic!("the tests did not run: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_selected_workflows_tests_run_and_a_case_opens_its_trace() {
    let mut s = Studio::new(120, 40).await;
    s.press("jj").await;
    assert_eq!(s.state().selected().unwrap().row.name, "reorder_supply");
    s.press("T").await;
    let cases = results(&mut s).await;
    // its own file and its event's
    assert_eq!(cases.len(), 8, "{cases:?}");
    assert!(
        cases.iter().all(|(_, st)| *st == CaseStatus::Passed),
        "{cases:?}"
    );
    s.settle().await;
    let screen = s.screen();
    assert!(
        screen.contains("Tests of reorder_supply · 8 passed")
            && screen.contains("✓ records a purchase order without a supplier")
            && screen.contains("✓ every active listener runs"),
        "{screen}"
    );
    // the snapshot case's trace, then back to the results
    let at = cases
        .iter()
        .position(|(n, _)| n == "the whole trace, offline")
        .unwrap();
    for _ in 0..at {
        s.press("j").await;
    }
    s.press("<enter>").await;
    s.settle().await;
    let screen = s.screen();
    assert!(
        screen.contains("Test case \"the whole trace, offline\" · reorder_supply draft"),
        "{screen}"
    );
    assert!(
        screen.contains("✓ record  db.exec") && screen.contains("✓ tell  emit"),
        "{screen}"
    );
    // a test case's run is not the store's: R says so rather than rerunning run #1
    s.press("R").await;
    assert!(
        s.screen().contains("in the test's own world"),
        "{}",
        s.screen()
    );
    s.press("<esc>").await;
    assert!(matches!(&s.state().overlay, Some(Overlay::Tests(t)) if t.selected == at));
    s.press("<esc>").await;
    assert!(s.state().overlay.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_case_shows_where_and_a_run_becomes_a_test() {
    let mut s = Studio::new(120, 40).await;
    // a wrong expectation in the store's copy of the test file
    let store = s.store();
    let file = store
        .kept_files("tests/receive_stock.test.json")
        .unwrap()
        .remove(0);
    store
        .keep_files(&[KeptFile {
            path: file.path.clone(),
            text: file.text.replace("stock == 600", "stock == 601"),
        }])
        .unwrap();
    s.press("T").await;
    assert_eq!(s.state().selected().unwrap().row.name, "receive_stock");
    let cases = results(&mut s).await;
    assert_eq!(
        cases,
        [(
            "books a delivery into stock".to_string(),
            CaseStatus::Failed
        )]
    );
    s.settle().await;
    let screen = s.screen();
    assert!(
        screen.contains("✗ books a delivery into stock") && screen.contains("/data/skus"),
        "{screen}"
    );
    assert!(screen.contains("is false of"), "{screen}");
    s.press("<esc>").await;

    // emit on reorder_supply, then write a case from its run
    s.press("jj").await;
    s.wait(|rt| rt.state().params.loaded).await;
    s.press("x").await;
    s.wait(|rt| {
        rt.state()
            .activity
            .iter()
            .filter_map(|r| r.run())
            .any(|r| r.target.name() == "reorder_supply" && r.status == RunStatus::Succeeded)
    })
    .await;
    while s.state().focus != Focus::Activity {
        s.press("<tab>").await;
    }
    s.press("g").await;
    let mut run_id = None;
    for _ in 0..20 {
        let row = s.state().visible_activity()[s.state().activity_selected].clone();
        if let Some(r) = row.run().filter(|r| r.target.name() == "reorder_supply") {
            run_id = Some(r.id);
            break;
        }
        s.press("j").await;
    }
    let run_id = run_id.expect("reorder_supply's run in the activity log");
    s.press("<c-t>").await;
    s.wait_for(&format!("wrote case \"recorded from run #{run_id}\""))
        .await;
    let written: PathBuf = s
        .sandbox
        .path("demo-project/tests/reorder_supply.test.json");
    let text = std::fs::read_to_string(&written).unwrap();
    assert!(
        text.contains(&format!("recorded from run #{run_id}")),
        "{text}"
    );
    // back on reorder_supply, its tests now include the recorded case, passing
    while s.state().focus != Focus::Workflows {
        s.press("<tab>").await;
    }
    s.press("T").await;
    let cases = results(&mut s).await;
    let recorded = cases
        .iter()
        .find(|(n, _)| *n == format!("recorded from run #{run_id}"))
        .unwrap_or_else(|| panic!("{cases:?}"));
    assert_eq!(recorded.1, CaseStatus::Passed, "{cases:?}");
}
