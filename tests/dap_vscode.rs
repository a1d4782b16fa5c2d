//! `flowdeck dap` driven by VS Code's own DAP test client (`@vscode/debugadapter-testsupport`,
//! pinned in `tests/dap_client/package.json`), the client VS Code's adapters test against: an
//! editor's first F5 on a workflow file of a project never imported, in VS Code's order, to a
//! breakpoint and through the run. The session itself is `tests/dap_client/session.mjs`. It
//! skips, with a message, where Node.js is missing (`.ci/run` installs it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Sandbox;
use std::path::Path;
use std::process::Command;

/// Whether `program --version` runs here.
fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn vscodes_test_client_passes_an_editors_first_session() {
    if !runs("node") || !runs("npm") {
        println!("skipped: Node.js is not installed");
        return;
    }
    let client = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dap_client");
    if !client
        .join("node_modules/@vscode/debugadapter-testsupport")
        .exists()
    {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&client)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "npm ci in tests/dap_client failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let s = Sandbox::new();
    assert!(s.cli(&["init", "shop"]).status.success());
    let out = Command::new("node")
        .arg(client.join("session.mjs"))
        .arg(env!("CARGO_BIN_EXE_flowdeck"))
        .arg(s.path("shop"))
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("ok: a whole session"), "{stdout}{stderr}");
    // the run it debugged succeeded, in the project's own store
    let store = flowdeck::store::Store::open(&s.path("shop/flowdeck.db")).unwrap();
    let run = store.run(1).unwrap().unwrap();
    assert_eq!(run.status, flowdeck::model::RunStatus::Succeeded, "{run:?}");
}
