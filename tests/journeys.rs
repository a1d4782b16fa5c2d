//! Sessions a user walks, across features, in the real binary in a real terminal (tmux):
//! the README's tour in the studio with another process emitting meanwhile, and the same
//! loop for an endpoint in Debug Mode. Skipped, with a message, where tmux is missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Sandbox;
use common::tmux::{Tmux, available};
use std::time::Duration;

/// `flowdeck demo` on a fresh store in a sandbox, in a tmux window of `w`×`h`.
fn demo(name: &str, w: u16, h: u16) -> (Sandbox, Tmux) {
    let s = Sandbox::new();
    let command = format!(
        "cd {dir} && FLOWDECK_LOG_FILE={log} {bin} --db {db} demo; echo STUDIO-EXITED $?; sleep 60",
        dir = s.dir.path().display(),
        log = s.path("studio.log").display(),
        bin = env!("CARGO_BIN_EXE_flowdeck"),
        db = s.db().display()
    );
    let t = Tmux::start(name, &command, w, h);
    t.wait_for("Workflows 4 · endpoints 2");
    (s, t)
}

#[test]
fn the_tour_in_the_studio_with_another_process_emitting() {
    if !available() {
        println!("skipped: tmux is not installed");
        return;
    }
    let (s, t) = demo("tour", 140, 45);
    // select reorder_supply: its params are the demo's
    t.press(&["j", "j"]);
    t.wait_for("Params · reorder_supply");
    t.wait_for("\"sku\": 1");
    // edit the params: a fault with its line and column, then its fix
    t.press(&["e", "Down", "Down", "BSpace"]);
    t.type_text(",");
    t.wait_for("✗ 2:");
    t.press(&["Escape", "x"]);
    t.wait_for("the params are not valid");
    t.press(&["e", "BSpace"]);
    t.wait_for("✓ valid JSON");
    t.press(&["Escape"]);

    // another process emits while the user works
    let other = {
        let db = s.db();
        std::thread::spawn(move || {
            for sku in [2, 3, 2] {
                let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowdeck"))
                    .arg("--db")
                    .arg(&db)
                    .args([
                        "emit",
                        "sku_reorder",
                        "--params",
                        &format!("{{\"sku\": {sku}}}"),
                    ])
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{}", common::text(&out));
                std::thread::sleep(Duration::from_millis(300));
            }
        })
    };
    // emit: the event, both listeners and the cascade, in the activity log
    t.press(&["x"]);
    t.wait_for("from studio");
    t.wait_for("skipped: inactive");
    other.join().unwrap();
    t.wait_for("from cli");
    // the newest event is at the top of the log: it follows
    let screen = t.screen();
    let log: Vec<&str> = screen
        .lines()
        .skip_while(|l| !l.contains("Activity"))
        .collect();
    assert!(
        log.get(1)
            .is_some_and(|l| l.contains("event #") && l.contains("from")),
        "{screen}"
    );

    // open a run's trace from the log
    t.press(&["Tab", "Tab", "j"]);
    t.press(&["Enter"]);
    t.wait_for("Run #");
    t.wait_for("input");
    t.press(&["Escape"]);

    // toggle slack_alert on and off again
    t.press(&["Tab", "j"]);
    t.wait_for("Params · slack_alert");
    t.press(&["Space"]);
    t.wait_for("[x] slack_alert");
    t.press(&["Space"]);
    t.wait_for("[ ] slack_alert");

    // a breakpoint on reorder_supply's `quantity`, a debug run, a step, an edit, continue
    t.press(&["k"]);
    t.wait_for("Params · reorder_supply");
    t.press(&["Tab", "j", "j", "j"]);
    t.press(&["b"]);
    t.wait_for("●");
    t.press(&["r"]);
    t.wait_for("paused at quantity");
    t.press(&["n"]);
    t.wait_for("paused at supplier");
    t.press(&["Tab", "Tab", "Enter"]);
    t.wait_for("set: $var.");
    t.type_text("qty = 7");
    t.press(&["Enter"]);
    t.wait_for("set $var.qty = 7");
    t.press(&["c"]);
    t.wait_for("succeeded · set off po_created");
    // the edit is in the record: the run ordered 7
    let (_, runs) = s.cli_json(&["runs", "--workflow", "reorder_supply", "--limit", "1"]);
    let run_id = runs["runs"][0]["id"].as_i64().unwrap();
    let (_, run) = s.cli_json(&["show", &run_id.to_string()]);
    assert_eq!(run["mode"], "debug", "{run}");
    assert_eq!(run["output"]["qty"], 7, "{run}");

    // change the draft in another process, deploy it from the studio after its diff
    let file = s.path("demo-project/workflows/reorder_supply.json");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("[100, 150", "[120, 150")).unwrap();
    assert!(s.cli(&["import", "demo-project"]).status.success());
    t.wait_for("v1*");
    t.press(&["d"]);
    t.wait_for("~ step quantity (set): value");
    t.wait_for("→ \"{{ [120, 150");
    t.press(&["y"]);
    t.wait_for("deployed reorder_supply v2");
    let (_, list) = s.cli_json(&["list"]);
    let live = list["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "reorder_supply")
        .unwrap()["live_version"]
        .clone();
    assert_eq!(live, 2);
    t.press(&["q"]);
    t.wait_for("STUDIO-EXITED 0");
}

#[test]
fn an_endpoint_in_debug_mode() {
    if !available() {
        println!("skipped: tmux is not installed");
        return;
    }
    let (s, t) = demo("endpoint", 140, 45);
    // POST /orders: the pane holds its request
    t.press(&["G"]);
    t.wait_for("Request · POST /orders");
    t.wait_for("\"quantity\": 60");
    // a breakpoint on its first step, its draft under the debugger
    t.press(&["Tab", "b"]);
    t.wait_for("●");
    t.press(&["r"]);
    t.wait_for("paused at validate");
    t.wait_for("$body");
    t.press(&["n"]);
    t.wait_for("paused at lower_stock");
    t.press(&["="]);
    t.type_text("$body.quantity + 1");
    t.press(&["Enter"]);
    t.wait_for("$body.quantity + 1 = 61");
    t.press(&["c"]);
    t.wait_for("debug run #1 succeeded → 201");
    t.wait_for("response 201");
    // what it set off ran the listeners' drafts
    t.wait_for("sku_reorder {\"sku\":1,\"stock\":40}  from endpoint:POST /orders");
    // the live version, as a request would
    t.press(&["x"]);
    t.wait_for("POST /orders → 201");
    let (_, runs) = s.cli_json(&["runs", "--workflow", "POST /orders"]);
    let modes: Vec<(String, serde_json::Value)> = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["mode"].as_str().unwrap().to_string(),
                r["version"].clone(),
            )
        })
        .collect();
    assert!(
        modes.contains(&("debug".into(), serde_json::Value::Null))
            && modes.contains(&("live".into(), serde_json::json!(1))),
        "{modes:?}"
    );
    // nothing to deploy: the confirm says so and offers nothing
    t.press(&["d"]);
    t.wait_for("The draft equals the live version");
    t.press(&["Escape", "q"]);
    t.wait_for("STUDIO-EXITED 0");
}

#[test]
fn the_dev_loop_runs_the_tests_of_what_changed() {
    if !available() {
        println!("skipped: tmux is not installed");
        return;
    }
    let s = Sandbox::new();
    assert!(s.cli(&["init", "shop"]).status.success());
    let command = format!(
        "cd {dir} && FLOWDECK_LOG_FILE={log} {bin} --db {db} dev shop --bind 127.0.0.1:0; echo STUDIO-EXITED $?; sleep 60",
        dir = s.dir.path().display(),
        log = s.path("studio.log").display(),
        bin = env!("CARGO_BIN_EXE_flowdeck"),
        db = s.db().display()
    );
    let t = Tmux::start("dev-tests", &command, 170, 45);
    t.wait_for("dev: watching");
    // an edit that breaks receive_stock's test: the loop says which case
    let file = s.path("shop/workflows/receive_stock.json");
    let good = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        good.replace("received {{$param.qty}} units", "got {{$param.qty}} units"),
    )
    .unwrap();
    t.wait_for(
        "reimported receive_stock.json (1 changed) · tests: 1 failed (books a delivery into stock) · T shows them",
    );
    // T on receive_stock shows where
    t.press(&["T"]);
    t.wait_for("Tests of receive_stock");
    t.wait_for("/logs/0");
    t.press(&["Escape"]);
    // fixed: passing again
    std::fs::write(&file, &good).unwrap();
    t.wait_for("reimported receive_stock.json (1 changed) · tests: 1 passed");
    // a test file saved runs too
    let tests = s.path("shop/tests/get_sku.test.json");
    let text = std::fs::read_to_string(&tests).unwrap();
    std::fs::write(
        &tests,
        text.replace("\"a SKU with its stock\"", "\"one SKU with its stock\""),
    )
    .unwrap();
    t.wait_for("reimported get_sku.test.json · tests: 2 passed");
    t.press(&["q"]);
    t.wait_for("STUDIO-EXITED 0");
}
