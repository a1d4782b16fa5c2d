//! The real binary in a real terminal (tmux): it opens, takes keys, follows a resize, and
//! gives the terminal back when it quits. Skipped, with a message, where tmux is missing
//! (`.ci/run` installs it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Sandbox;
use common::tmux::{Tmux, available};

/// A seeded store and the shell command that opens the studio on it.
fn seeded() -> (Sandbox, String) {
    let s = Sandbox::new();
    let out = s.cli(&["demo", "--no-studio"]);
    assert!(out.status.success(), "{}", common::text(&out));
    let command = format!(
        "FLOWDECK_LOG_FILE={log} {bin} --db {db}; echo STUDIO-EXITED $?; sleep 60",
        log = s.path("studio.log").display(),
        bin = env!("CARGO_BIN_EXE_flowdeck"),
        db = s.db().display()
    );
    (s, command)
}

#[test]
fn the_studio_opens_emits_and_gives_the_terminal_back() {
    if !available() {
        println!("skipped: tmux is not installed");
        return;
    }
    let (_s, command) = seeded();
    let t = Tmux::start("emit", &command, 120, 40);
    t.wait_for("Workflows 4 · endpoints 2");
    t.keys(&["j", "j"]);
    t.wait_for("Params · reorder_supply");
    t.wait_for("\"sku\": 1");
    t.keys(&["x"]);
    t.wait_for("skipped: inactive");
    t.wait_for("receive_stock  run #3");
    t.keys(&["q"]);
    t.wait_for("STUDIO-EXITED 0");
    let screen = t.screen();
    assert!(
        !screen.contains("Workflows 4 · endpoints 2"),
        "the alternate screen is gone:\n{screen}"
    );
}

#[test]
fn the_studio_follows_a_resize_and_says_when_too_small() {
    if !available() {
        println!("skipped: tmux is not installed");
        return;
    }
    let (_s, command) = seeded();
    let t = Tmux::start("resize", &command, 120, 40);
    t.wait_for("Workflows 4 · endpoints 2");
    t.resize(50, 12);
    t.wait_for("too small");
    t.resize(90, 26);
    t.wait_for("Workflows 4 · endpoints 2");
    t.keys(&["C-c"]);
    t.wait_for("STUDIO-EXITED 0");
}

#[test]
fn demo_opens_the_studio_on_the_example() {
    if !available() {
        println!("skipped: tmux is not installed");
        return;
    }
    let s = Sandbox::new();
    let command = format!(
        "FLOWDECK_LOG_FILE={log} {bin} --db {db} demo; echo STUDIO-EXITED $?; sleep 60",
        log = s.path("studio.log").display(),
        bin = env!("CARGO_BIN_EXE_flowdeck"),
        db = s.db().display()
    );
    let t = Tmux::start("demo", &command, 100, 30);
    t.wait_for("reorder_supply");
    t.keys(&["?"]);
    t.wait_for("Emit the selected workflow's event");
    // Esc and a key sent together read as Alt+key: wait for the overlay to close first
    t.keys(&["Escape"]);
    t.wait_for("space toggle");
    t.keys(&["q"]);
    t.wait_for("STUDIO-EXITED 0");
}

/// `GET path` on 127.0.0.1:`port`: the status line and the body.
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn dev_watches_serves_and_shows_a_broken_edit_in_the_studio() {
    if !available() {
        println!("skipped: tmux is not installed");
        return;
    }
    let s = Sandbox::new();
    assert!(s.cli(&["init", "shop"]).status.success());
    let port = free_port();
    let command = format!(
        "cd {dir} && FLOWDECK_LOG_FILE={log} {bin} dev shop --bind 127.0.0.1:{port}; echo STUDIO-EXITED $?; sleep 60",
        dir = s.dir.path().display(),
        log = s.path("dev.log").display(),
        bin = env!("CARGO_BIN_EXE_flowdeck"),
    );
    let t = Tmux::start("dev", &command, 220, 40);
    t.wait_for("dev: watching");
    // nothing is deployed yet: the server lists what it has
    assert!(http_get(port, "/skus/1").contains("404"));
    assert!(s.cli(&["deploy", "--all"]).status.success());
    let answer = http_get(port, "/skus/1");
    assert!(
        answer.contains("200 OK") && answer.contains("\"stock\""),
        "{answer}"
    );

    // an edit becomes the draft; deployed, the server answers with it, nothing restarted
    let file = s.path("shop/endpoints/get_sku.json");
    let original = std::fs::read_to_string(&file).unwrap();
    let edited = original.replace(
        "SELECT id, name, stock, price_cents FROM skus",
        "SELECT id, name, stock FROM skus",
    );
    std::fs::write(&file, &edited).unwrap();
    t.wait_for("reimported get_sku.json");
    assert!(s.cli(&["deploy", "GET /skus/{id}"]).status.success());
    let answer = http_get(port, "/skus/1");
    assert!(
        answer.contains("200 OK") && !answer.contains("price_cents"),
        "{answer}"
    );

    // a broken edit shows its fault in the studio and keeps the last good draft
    std::fs::write(&file, edited.replace("\"sql\"", "\"sqll\"")).unwrap();
    t.wait_for("the last good draft is kept");
    let (_, diff) = s.cli_json(&["diff", "GET /skus/{id}"]);
    assert_eq!(diff["changes"], serde_json::json!([]), "{diff}");
    t.keys(&["q"]);
    t.wait_for("STUDIO-EXITED 0");
}
