//! The dev loop's watcher: an edit to a watched file becomes the new draft within a fraction
//! of a second; a broken edit is reported and the last good draft stays.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Sandbox;
use flowdeck::model::DefinitionKind;
use flowdeck::store::Store;
use std::sync::mpsc::channel;
use std::time::Duration;

const GREET: &str = r#"{"name": "greet", "on": "hello", "steps": [
  {"id": "say", "action": "log", "message": "hello"}
]}"#;

fn draft(s: &Sandbox) -> String {
    let store = Store::open(&s.db()).unwrap();
    let row = store
        .find_definition(DefinitionKind::Workflow, "greet")
        .unwrap()
        .unwrap();
    store.definition_source(row.id, None).unwrap()
}

#[test]
fn an_edit_becomes_the_draft_and_a_broken_edit_keeps_the_last_good_one() {
    let s = Sandbox::new();
    let root = s.project("p", None, &[("workflows/greet.json", GREET)]);
    let first = flowdeck::dev::import(&root, &s.db()).unwrap();
    assert!(first.is_clean());
    let (tx, rx) = channel();
    let _watcher = flowdeck::dev::watch(&root, &s.db(), move |r| {
        let _ = tx.send(r);
    })
    .unwrap();
    // give the watcher a moment to be in place before the first edit
    std::thread::sleep(Duration::from_millis(200));

    let file = root.join("workflows/greet.json");
    let edited = GREET.replace("\"hello\"}", "\"hello again\"}");
    std::fs::write(&file, &edited).unwrap();
    let report = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the edit is noticed");
    assert!(
        report.changed.iter().any(|p| p.ends_with("greet.json")),
        "{:?}",
        report.changed
    );
    let result = report.result.unwrap();
    assert!(result.is_clean());
    assert_eq!(result.changed, vec!["greet".to_string()]);
    assert_eq!(draft(&s), edited, "the new draft, exactly as written");

    // a broken edit: reported with its place, the last good draft stays
    std::fs::write(&file, "{\"name\": \"greet\", \"on\": \"hello\", \"steps\": [\n  {\"id\": \"say\", \"action\": \"lgo\"}\n]}").unwrap();
    let report = loop {
        let r = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the broken edit is noticed");
        if r.result.as_ref().is_ok_and(|x| !x.is_clean()) {
            break r;
        }
    };
    let result = report.result.unwrap();
    let d = &result.diagnostics[0];
    assert!(d.file.ends_with("workflows/greet.json"));
    assert_eq!(d.step.as_deref(), Some("say"));
    assert!(d.message.contains("unknown action"), "{d}");
    assert_eq!(draft(&s), edited, "the last good draft is kept");

    // fixing it takes again
    std::fs::write(&file, GREET).unwrap();
    loop {
        let r = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the fix is noticed");
        if r.result.as_ref().is_ok_and(|x| x.is_clean()) {
            break;
        }
    }
    assert_eq!(draft(&s), GREET);
}

#[test]
fn files_outside_the_project_folders_are_ignored() {
    let s = Sandbox::new();
    let root = s.project("p", None, &[("workflows/greet.json", GREET)]);
    flowdeck::dev::import(&root, &s.db()).unwrap();
    let (tx, rx) = channel();
    let _watcher = flowdeck::dev::watch(&root, &s.db(), move |r| {
        let _ = tx.send(r);
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    std::fs::write(root.join("notes.txt"), "not part of the project").unwrap();
    assert!(
        rx.recv_timeout(Duration::from_millis(600)).is_err(),
        "no reimport for other files"
    );
}
