//! The studio driven by keys on a real store: screens (insta snapshots at 120×40 and 80×24,
//! the too-small screen, NO_COLOR) and flows that check both the screen and the store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::studio::{Studio, marks_agree, screen_of};
use common::text;
use flowdeck::model::DefinitionKind;

/// Snapshot a screen with times and durations replaced (they change from run to run).
macro_rules! snap {
    ($name:expr, $screen:expr) => {{
        let mut settings = insta::Settings::clone_current();
        // durations vary in width: collapse the padding after them too
        settings.add_filter(r" *\d+(\.\d+)? (µs|ms|s)\b *", " [dur] ");
        // a duration in a title changes the length of the border after it
        settings.add_filter(r"\[dur\] ━+", "[dur] ━");
        settings.add_filter(r"\d{4}-\d{2}-\d{2}T[\d:.]+Z?", "[timestamp]");
        settings.add_filter(r"\d{2}:\d{2}:\d{2}", "[time]");
        settings.bind(|| insta::assert_snapshot!($name, $screen));
    }};
}

/// The studio after `x` on reorder_supply, with the whole cascade finished and shown.
async fn emitted(w: u16, h: u16) -> Studio {
    let mut s = Studio::new(w, h).await;
    s.press("jj").await;
    s.wait(|rt| {
        rt.state().params.loaded
            && rt.state().params.definition.as_deref() == Some("reorder_supply")
    })
    .await;
    s.press("x").await;
    s.wait(|rt| {
        let a = &rt.state().activity;
        let done = a
            .iter()
            .filter_map(|r| r.run())
            .filter(|r| r.status == flowdeck::model::RunStatus::Succeeded)
            .count();
        let skipped = a
            .iter()
            .any(|r| matches!(r, flowdeck::tui::data::ActivityRow::Skip(_)));
        let shown = rt
            .state()
            .run
            .as_ref()
            .is_some_and(|r| r.id == 2 && r.status.is_finished());
        done == 3
            && skipped
            && shown
            && marks_agree(rt)
            && screen_of(rt).contains("receive_stock  run #3")
    })
    .await;
    s.settle().await;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn main_screen_wide_and_narrow() {
    let s = Studio::new(120, 40).await;
    snap!("main_120x40", s.screen());
    let s = Studio::new(80, 24).await;
    snap!("main_80x24", s.screen());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_small_says_so() {
    let s = Studio::new(50, 12).await;
    let screen = s.screen();
    assert!(
        screen.contains("too small") && screen.contains("50×12"),
        "{screen}"
    );
    snap!("too_small_50x12", screen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_and_palette_overlays() {
    for (w, h) in [(120, 40), (80, 24)] {
        let mut s = Studio::new(w, h).await;
        s.press("?").await;
        assert!(s.screen().contains("Everywhere"), "{}", s.screen());
        snap!(format!("help_{w}x{h}"), s.screen());
        // the end of help, and no further: its last line at the bottom of the overlay
        s.press("G").await;
        let end = s.screen();
        assert!(end.contains("config --print-default"), "{end}");
        s.press("jjj").await;
        assert_eq!(s.screen(), end, "help does not scroll past its end");
        s.press("<esc>:dep").await;
        assert!(s.screen().contains("deploy"));
        snap!(format!("palette_{w}x{h}"), s.screen());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_shows_the_event_its_listeners_and_the_cascade() {
    for (w, h) in [(120, 40), (80, 24)] {
        let s = emitted(w, h).await;
        let screen = s.screen();
        assert!(
            screen.contains("sku_reorder") && screen.contains("po_created"),
            "{screen}"
        );
        snap!(format!("emitted_{w}x{h}"), screen);
        let store = s.store();
        let events = store
            .list_events(&flowdeck::store::events::EventFilter {
                name: None,
                limit: 10,
                before: None,
            })
            .unwrap();
        assert_eq!(events.len(), 2, "sku_reorder and its po_created");
        assert_eq!(events[1].source, "studio");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enter_on_a_run_opens_its_trace() {
    for (w, h) in [(120, 40), (80, 24)] {
        let mut s = emitted(w, h).await;
        // focus the activity log and walk to reorder_supply's run
        s.press("<s-tab>").await;
        for _ in 0..10 {
            let on_run = s
                .state()
                .visible_activity()
                .get(s.state().activity_selected)
                .and_then(|r| r.run())
                .is_some_and(|r| r.target.name() == "reorder_supply");
            if on_run {
                break;
            }
            s.press("j").await;
        }
        s.press("<enter>").await;
        s.wait_for("Run #2").await;
        s.press("jjj").await;
        let screen = s.screen();
        assert!(
            screen.contains("quantity") && screen.contains("input"),
            "{screen}"
        );
        snap!(format!("trace_{w}x{h}"), screen);
        s.press("<esc>").await;
        assert!(!s.screen().contains("Run #2 ·"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_confirm_shows_what_changed() {
    let mut s = Studio::new(120, 40).await;
    s.press("jj").await;
    s.wait(|rt| rt.state().params.loaded).await;
    // the steps pane loads on its own: the snapshot shows it
    s.wait_for("unknown_sku").await;
    s.press("d").await;
    s.wait_for("The draft equals the live version").await;
    snap!("confirm_unchanged_120x40", s.screen());
    s.press("<esc>").await;
    // another process changes the draft: the studio sees it, and the confirm shows the change
    let file = s.sandbox.path("demo-project/workflows/reorder_supply.json");
    let changed = std::fs::read_to_string(&file).unwrap().replace(
        "\"qty\": \"{{$var.qty}}\"}",
        "\"qty\": \"{{$var.qty}}\", \"urgent\": true}",
    );
    std::fs::write(&file, changed).unwrap();
    let out = s.sandbox.cli(&["import", "demo-project"]);
    assert!(out.status.success(), "{}", text(&out));
    s.wait_for("v1*").await;
    s.wait_for(" draft changed ").await;
    s.press("d").await;
    s.wait_for("~ step order (http): body").await;
    snap!("confirm_changed_120x40", s.screen());
    s.press("y").await;
    s.wait(|rt| {
        rt.state()
            .selected()
            .is_some_and(|d| d.row.live_version == Some(2))
    })
    .await;
    let row = s
        .store()
        .find_definition(DefinitionKind::Workflow, "reorder_supply")
        .unwrap()
        .unwrap();
    assert_eq!((row.live_version, row.draft_changed), (Some(2), false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn space_toggles_the_workflow_in_the_store() {
    let mut s = Studio::new(120, 40).await;
    s.press("j").await;
    s.wait_for("notify_buyer").await;
    assert_eq!(s.state().selected().unwrap().row.name, "notify_buyer");
    s.press("<space>").await;
    s.wait_for("[ ] notify_buyer").await;
    let row = s
        .store()
        .find_definition(DefinitionKind::Workflow, "notify_buyer")
        .unwrap()
        .unwrap();
    assert!(!row.active, "stored at once");
    s.press("<space>").await;
    s.wait_for("[x] notify_buyer").await;
    assert!(
        s.store()
            .find_definition(DefinitionKind::Workflow, "notify_buyer")
            .unwrap()
            .unwrap()
            .active
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn params_are_checked_live_and_remembered() {
    let mut s = Studio::new(120, 40).await;
    s.press("jj").await;
    s.wait(|rt| {
        rt.state().params.loaded
            && rt.state().params.definition.as_deref() == Some("reorder_supply")
    })
    .await;
    // the steps pane loads on its own: the snapshot shows it
    s.wait_for("unknown_sku").await;
    // invalid JSON: the error with line and column shows at once, and x refuses to emit
    // the cursor starts at the top: go to the last line, join it to the one above, add a comma
    s.press("e<down><down><bs>,").await;
    s.wait_for("✗ 2:").await;
    snap!("params_invalid_120x40", s.screen());
    s.press("<esc>x").await;
    s.wait_for("the params are not valid").await;
    let none = s
        .store()
        .list_events(&flowdeck::store::events::EventFilter {
            name: None,
            limit: 5,
            before: None,
        })
        .unwrap();
    assert!(none.is_empty(), "nothing was emitted");
    // fix it: valid again, remembered in the store
    s.press("e<bs>").await;
    s.wait_for("✓ valid JSON").await;
    s.press("<esc>").await;
    s.settle().await;
    let saved = s.store().ui_get("params:reorder_supply").unwrap().unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(&saved).is_ok(),
        "{saved}"
    );
    assert!(saved.contains("\"sku\": 1}"), "{saved}");
    // pretty-print puts the closing brace back on its own line
    s.press("e<c-f><esc>").await;
    s.settle().await;
    let saved = s.store().ui_get("params:reorder_supply").unwrap().unwrap();
    assert_eq!(saved, "{\n  \"sku\": 1\n}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_runs_the_draft_and_the_variables_follow_the_steps() {
    let mut s = Studio::new(120, 40).await;
    s.press("jj").await;
    s.press("r").await;
    s.wait_for("debug run #1 succeeded · set off po_created")
        .await;
    s.wait(|rt| {
        // the draft run and, from its po_created, receive_stock's draft
        rt.state().activity.iter().filter_map(|r| r.run()).count() == 2
            && rt
                .state()
                .activity
                .iter()
                .filter_map(|r| r.run())
                .all(|r| r.status.is_finished())
            && marks_agree(rt)
    })
    .await;
    s.press("<tab>j").await;
    s.wait_for("after known").await;
    let screen = s.screen();
    assert!(
        screen.contains("\"rows\"") && screen.contains("Variables · run #1"),
        "{screen}"
    );
    snap!("variables_120x40", screen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_emitting_shows_up_live() {
    let mut s = Studio::new(120, 40).await;
    let out = s
        .sandbox
        .cli(&["emit", "sku_reorder", "--params", r#"{"sku": 2}"#]);
    assert!(out.status.success(), "{}", text(&out));
    s.wait_for("from cli").await;
    s.wait_for("✓ reorder_supply").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_narrows_the_lists() {
    let mut s = emitted(120, 40).await;
    s.press("/notify<enter>").await;
    let screen = s.screen();
    assert!(
        screen.contains("Workflows 1/4 ") && screen.contains("notify_buyer"),
        "{screen}"
    );
    assert!(!screen.contains("[x] receive_stock"), "{screen}");
    s.press("/<esc>").await;
    assert!(s.screen().contains("Workflows 4 · endpoints 2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_filter_finds_events_older_than_the_window_the_log_shows() {
    let mut s = Studio::new(120, 40).await;
    {
        let conn = rusqlite::Connection::open(s.sandbox.db()).unwrap();
        conn.execute_batch(
            "INSERT INTO events (name, params, source, emitted_at) VALUES ('zz_rare', '{}', 'cli', 1);",
        )
        .unwrap();
        for _ in 0..150 {
            conn.execute(
                "INSERT INTO events (name, params, source, emitted_at) VALUES ('hit', '{}', 'cli', 2)",
                [],
            )
            .unwrap();
        }
    }
    let rare = |rt: &flowdeck::tui::runtime::Runtime<ratatui::backend::TestBackend>| {
        rt.state()
            .visible_activity()
            .iter()
            .any(|r| matches!(r, flowdeck::tui::data::ActivityRow::Event(e) if e.name == "zz_rare"))
    };
    // the log shows the newest window: the 150 newer events
    s.wait(|rt| {
        rt.state()
            .activity
            .iter()
            .filter(|r| matches!(r, flowdeck::tui::data::ActivityRow::Event(e) if e.name == "hit"))
            .count()
            >= 100
    })
    .await;
    assert!(!rare(&s.rt), "zz_rare is beyond the window");
    // typed into the filter, it is read from the whole store
    s.press("/zz_r").await;
    s.wait(rare).await;
    s.wait_for("zz_rare").await;
    // cleared, the newest window is back
    s.press("<esc>").await;
    s.wait(|rt| !rare(rt)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_color_keeps_meaning_without_colour() {
    let sandbox = common::Sandbox::new();
    let mut s = Studio::with(120, 40, true, sandbox, true).await;
    s.press("jj").await;
    s.wait(|rt| rt.state().params.loaded).await;
    s.press("x").await;
    s.wait(|rt| {
        rt.state()
            .run
            .as_ref()
            .is_some_and(|r| r.id == 2 && r.status.is_finished())
    })
    .await;
    s.wait_for("receive_stock  run #3").await;
    s.wait(marks_agree).await;
    s.settle().await;
    let buffer = s.rt.terminal().backend().buffer().clone();
    let colored = buffer
        .content
        .iter()
        .filter(|c| c.fg != ratatui::style::Color::Reset || c.bg != ratatui::style::Color::Reset);
    assert_eq!(colored.count(), 0, "NO_COLOR draws no colour");
    let reversed = buffer
        .content
        .iter()
        .filter(|c| c.modifier.contains(ratatui::style::Modifier::REVERSED))
        .count();
    assert!(reversed > 0, "the selection is shown in reverse");
    snap!("no_color_120x40", s.screen());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_store_says_what_to_do() {
    let sandbox = common::Sandbox::new();
    let mut s = Studio::with(120, 40, false, sandbox, false).await;
    s.wait_for("No workflows yet").await;
    snap!("empty_120x40", s.screen());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrow_screens_show_the_focused_detail_pane() {
    let mut s = emitted(80, 24).await;
    // params take the detail pane while editing
    s.press("e").await;
    s.wait_for("esc done").await;
    snap!("params_editing_80x24", s.screen());
    s.press("<esc>").await;
    // the variables pane, when focused
    s.press("<tab>").await;
    assert_eq!(s.state().focus, flowdeck::tui::state::Focus::Variables);
    s.wait_for("Variables · run #2").await;
    snap!("variables_80x24", s.screen());
    // the deploy confirm
    s.press("d").await;
    s.wait_for("The draft equals the live version").await;
    snap!("confirm_unchanged_80x24", s.screen());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mouse_selects_and_scrolls() {
    use crossterm::event::{Event, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
    use flowdeck::tui::update::Msg;
    let mut s = Studio::new(120, 40).await;
    let click = |column: u16, row: u16, kind: MouseEventKind| {
        Msg::Input(Event::Mouse(MouseEvent {
            kind,
            column,
            row,
            modifiers: KeyModifiers::NONE,
        }))
    };
    // row 0 is the title, 1 the border, 2 the po_created header, 3 receive_stock,
    // 4 the sku_reorder header, 5 notify_buyer
    s.rt.handle(click(5, 5, MouseEventKind::Down(MouseButton::Left)));
    s.settle().await;
    assert_eq!(
        s.state().selected().unwrap().row.name,
        "notify_buyer",
        "{}",
        s.screen()
    );
    s.rt.handle(click(5, 5, MouseEventKind::ScrollDown));
    s.settle().await;
    assert_eq!(s.state().selected().unwrap().row.name, "reorder_supply");
    // a click in the params pane starts editing
    s.wait(|rt| rt.state().params.loaded).await;
    s.rt.handle(click(100, 5, MouseEventKind::Down(MouseButton::Left)));
    assert_eq!(s.state().mode, flowdeck::tui::state::InputMode::Editing);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paste_goes_into_the_editor() {
    use crossterm::event::Event;
    use flowdeck::tui::update::Msg;
    let mut s = Studio::new(120, 40).await;
    s.press("jj").await;
    s.wait(|rt| rt.state().params.loaded).await;
    s.press("e").await;
    // clear the editor, then paste new params
    s.press("<down><down><down><c-e>").await;
    for _ in 0..30 {
        s.press("<bs>").await;
    }
    s.rt.handle(Msg::Input(Event::Paste("{\"sku\": 3}".into())));
    s.settle().await;
    assert_eq!(s.state().params.text(), "{\"sku\": 3}");
    s.wait_for("✓ valid JSON").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_activity_log_pages_older_events_in() {
    use flowdeck::store::events::NewEvent;
    use flowdeck::tui::data::ActivityRow;
    let mut s = Studio::new(120, 40).await;
    let mut store = s.store();
    store
        .transaction(|st| {
            for i in 0..250 {
                let params = serde_json::json!({ "n": i });
                st.insert_event(&NewEvent {
                    name: "audit",
                    params: &params,
                    params_json: &params.to_string(),
                    source: "test",
                    parent_run: None,
                    depth: 0,
                    chain: &[],
                    draft: false,
                    dedup_key: None,
                })?;
            }
            Ok(())
        })
        .unwrap();
    let events = |rt: &flowdeck::tui::runtime::Runtime<ratatui::backend::TestBackend>| {
        rt.state()
            .activity
            .iter()
            .filter(|r| matches!(r, ActivityRow::Event(_)))
            .count()
    };
    s.wait(|rt| events(rt) == 100).await;
    // the end of the window reads the next hundred, and again, until the oldest
    s.press("<s-tab>G").await;
    s.wait(|rt| events(rt) == 200).await;
    s.press("G").await;
    s.wait(|rt| events(rt) == 250).await;
    s.press("G").await;
    s.settle().await;
    assert_eq!(s.state().activity.len(), 250);
}
