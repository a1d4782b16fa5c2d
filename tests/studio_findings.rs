//! What a new user met in the studio's first hour, each found by hand and kept here as a
//! test that failed before its fix: the activity log that stopped following, help without
//! the debugger's keys, keys that said nothing, notices that outlived their truth, text cut
//! by borders, scrolls past the end, a deploy confirm thinner than `flowdeck diff`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::studio::{Studio, screen_of};
use common::text;
use flowdeck::tui::data::ActivityRow;
use flowdeck::tui::state::Focus;

/// `flowdeck emit sku_reorder` from another process (the example has SKUs 1 to 3).
fn emit(s: &Studio, n: u32) {
    let params = format!("{{\"sku\": {}}}", n % 3 + 1);
    let out = s.sandbox.cli(&["emit", "sku_reorder", "--params", &params]);
    assert!(out.status.success(), "{}", text(&out));
}

/// The newest event's id in the store.
fn last_event_id(s: &Studio) -> i64 {
    s.store()
        .list_events(&flowdeck::store::events::EventFilter {
            name: None,
            limit: 1,
            before: None,
        })
        .unwrap()[0]
        .id
}

/// Events (not runs or skips) in the activity log, newest first.
fn event_ids(s: &Studio) -> Vec<i64> {
    s.state()
        .activity
        .iter()
        .filter_map(|r| match r {
            ActivityRow::Event(e) => Some(e.id),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_activity_log_follows_the_newest_until_the_user_scrolls_away() {
    let mut s = Studio::new(120, 40).await;
    // four emits from another process: each newest event is at the top, selected
    for sku in 1..=4 {
        emit(&s, sku);
    }
    s.wait(|rt| {
        rt.state()
            .activity
            .iter()
            .filter(|r| matches!(r, ActivityRow::Event(e) if e.name == "sku_reorder"))
            .count()
            == 4
    })
    .await;
    let newest = *event_ids(&s).first().unwrap();
    assert_eq!(s.state().activity_selected, 0);
    assert!(
        matches!(&s.state().visible_activity()[0], ActivityRow::Event(e) if e.id == newest),
        "the newest event is on top"
    );
    // the user walks down into the log: it stays where they are and counts what comes
    s.press("<s-tab>jjj").await;
    assert_eq!(s.state().focus, Focus::Activity);
    let selected = s.state().visible_activity()[3].key();
    let before = last_event_id(&s);
    emit(&s, 5);
    emit(&s, 6);
    // each emit's event and the po_created of its cascade: entries of their own
    let new = usize::try_from(last_event_id(&s) - before).unwrap();
    assert!(new >= 2);
    s.wait_for(&format!("↑ {new} new")).await;
    assert_eq!(
        s.state().visible_activity()[s.state().activity_selected].key(),
        selected,
        "the selection stayed on its row"
    );
    // g goes to the newest, and following again
    s.press("g").await;
    assert!(!s.screen().contains("new ·"), "{}", s.screen());
    emit(&s, 7);
    let newest = last_event_id(&s);
    s.wait(|rt| {
        let a = rt.state().visible_activity();
        matches!(a.first(), Some(ActivityRow::Event(e)) if e.id == newest)
            && rt.state().activity_selected == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debugger_keys_without_a_debug_run_say_so() {
    let mut s = Studio::new(120, 40).await;
    for key in ["n", "c", "s", "o", "p", "a"] {
        s.press(key).await;
        assert!(
            s.screen()
                .contains("no debug run: r runs the selected draft"),
            "{key}: {}",
            s.screen()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_goes_when_the_store_says_otherwise() {
    let mut s = Studio::new(120, 40).await;
    s.press("jjj").await;
    s.wait(|rt| {
        rt.state()
            .selected()
            .is_some_and(|d| d.row.name == "slack_alert")
    })
    .await;
    s.press("<space>").await;
    s.wait_for("slack_alert is now on").await;
    let out = s.sandbox.cli(&["toggle", "slack_alert", "off"]);
    assert!(out.status.success(), "{}", text(&out));
    s.wait_for("[ ] slack_alert").await;
    s.settle().await;
    assert!(
        !s.screen().contains("slack_alert is now on"),
        "{}",
        s.screen()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_goes_after_a_while() {
    let mut s = Studio::configured(120, 40, false, common::Sandbox::new(), true, |state| {
        state.notice_life = std::time::Duration::from_millis(300);
    })
    .await;
    s.press("m").await;
    s.wait_for("mouse off").await;
    s.wait(|rt| rt.state().notice.is_none()).await;
    s.settle().await;
    assert!(
        s.screen().contains("? help"),
        "the hints are back: {}",
        s.screen()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_name_the_keys_the_user_has() {
    use flowdeck::tui::keymap::Keymap;
    use std::collections::BTreeMap;
    let overrides: BTreeMap<String, Vec<String>> = [
        ("emit", "E"),
        ("debug_run", "ctrl-r"),
        ("step_over", "N"),
        ("edit_params", "i"),
    ]
    .into_iter()
    .map(|(c, k)| (c.to_string(), vec![k.to_string()]))
    .collect();
    let (keymap, faults) = Keymap::with_overrides(&overrides);
    assert!(faults.is_empty());
    let mut s = Studio::with_keymap(120, 40, false, common::Sandbox::new(), true, keymap).await;
    s.press("N").await;
    assert!(
        s.screen().contains("no debug run: ctrl-r runs"),
        "{}",
        s.screen()
    );
    // the empty activity log and the variables pane say E, not x
    s.press("<esc>").await;
    s.settle().await;
    let screen = s.screen();
    assert!(
        screen.contains("press E to emit") && screen.contains("No run yet: E emits"),
        "{screen}"
    );
    // an invalid params' refusal names the edit key
    s.press("jj").await;
    s.wait(|rt| rt.state().params.loaded).await;
    s.press("i<down><down><bs>,").await;
    s.press("<esc>E").await;
    s.wait_for("i edits them").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrolls_stop_at_the_end_of_their_text() {
    let mut s = Studio::new(120, 40).await;
    s.press("jjx").await;
    s.wait(|rt| {
        rt.state()
            .run
            .as_ref()
            .is_some_and(|r| r.status.is_finished())
    })
    .await;
    s.settle().await;
    // the variables pane: J until it stops, then once more changes nothing
    s.press("<tab><tab><tab>").await;
    assert_eq!(s.state().focus, Focus::Variables);
    s.press("z").await;
    for _ in 0..100 {
        s.press("J").await;
    }
    let end = s.screen();
    let scroll = s.state().vars_scroll;
    s.press("J").await;
    assert_eq!((s.screen(), s.state().vars_scroll), (end.clone(), scroll));
    // the last line of the pane is not blank: the text ends at the bottom
    let pane_bottom = end
        .lines()
        .nth(26)
        .map(|l| l.chars().skip(82).collect::<String>())
        .unwrap();
    assert!(
        pane_bottom.trim_matches(|c| c == '│' || c == ' ').len() > 1,
        "{end}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_palette_keeps_its_columns_apart() {
    let mut s = Studio::new(120, 40).await;
    s.press(":break").await;
    let screen = s.screen();
    assert!(
        screen.contains("toggle_breakpoint       b ") || screen.contains("toggle_breakpoint  b"),
        "{screen}"
    );
    assert!(
        !screen.contains("toggle_breakpointb") && !screen.contains("conditional_breakpointB"),
        "{screen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deploy_confirm_shows_each_changed_value_before_and_after() {
    let mut s = Studio::new(120, 40).await;
    s.press("jj").await;
    s.wait(|rt| rt.state().params.loaded).await;
    let file = s.sandbox.path("demo-project/workflows/reorder_supply.json");
    let changed = std::fs::read_to_string(&file).unwrap().replace(
        "[100, 150 - $var.rows[0].stock]",
        "[120, 150 - $var.rows[0].stock]",
    );
    assert!(
        changed.contains("[120,"),
        "the example changed under the test"
    );
    std::fs::write(&file, changed).unwrap();
    let out = s.sandbox.cli(&["import", "demo-project"]);
    assert!(out.status.success(), "{}", text(&out));
    s.wait_for("v1*").await;
    s.press("d").await;
    s.wait_for("~ step quantity (set): value").await;
    let screen = s.screen();
    assert!(
        screen.contains("value: \"{{ [100, 150") && screen.contains("→ \"{{ [120, 150"),
        "{screen}"
    );
    assert!(
        screen.contains("v1 → v2") && screen.contains("deploy"),
        "{screen}"
    );
    s.press("<esc>").await;
    // the same draft deployed elsewhere: nothing left to deploy, and no v2 → v3 offered
    let out = s.sandbox.cli(&["deploy", "reorder_supply"]);
    assert!(out.status.success(), "{}", text(&out));
    s.wait(|rt| {
        rt.state()
            .selected()
            .is_some_and(|d| d.row.live_version == Some(2))
    })
    .await;
    s.press("d").await;
    s.wait_for("The draft equals the live version (v2)").await;
    let screen = s.screen();
    assert!(
        !screen.contains("v2 → v3") && !screen.contains("deploy "),
        "{screen}"
    );
    s.press("y").await;
    s.wait_for("already live").await;
    assert_eq!(
        s.store()
            .find_definition(flowdeck::model::DefinitionKind::Workflow, "reorder_supply")
            .unwrap()
            .unwrap()
            .live_version,
        Some(2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_is_shortened_on_purpose_never_cut_by_a_border() {
    let mut s = Studio::new(120, 40).await;
    s.press("jje").await;
    s.wait_for("esc done").await;
    let screen = screen_of(&s.rt);
    // the title keeps the key and shortens the name, not the other way round
    assert!(!screen.contains("reorde editing"), "{screen}");
    s.press("<esc><tab>").await;
    s.settle().await;
    let screen = s.screen();
    for cut in [
        "r runs the dra│",
        "R run fr│",
        "No run yet: x emits, r runs the dra",
    ] {
        assert!(!screen.contains(cut), "{cut}: {screen}");
    }
}
