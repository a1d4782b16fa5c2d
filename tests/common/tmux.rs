//! A real terminal for the real binary: a private tmux server, keys sent as a user types
//! them, the screen read back. Tests skip, with a message, where tmux is missing (`.ci/run`
//! installs it).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

/// Whether tmux can run here.
pub fn available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A private tmux server with one window.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// A private tmux server running `command` in a `w`×`h` window.
    pub fn start(name: &str, command: &str, w: u16, h: u16) -> Tmux {
        let socket = format!("flowdeck-test-{name}-{}", std::process::id());
        let t = Tmux { socket };
        let out = t
            .cmd(&[
                "new-session",
                "-d",
                "-s",
                "s",
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
                command,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    /// A tmux command on this server.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]).args(args);
        c
    }

    /// The screen as text.
    pub fn screen(&self) -> String {
        let out = self
            .cmd(&["capture-pane", "-p", "-t", "s"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Send keys as tmux names them (`Enter`, `Escape`, `BTab`, `C-c`, or text).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "s"];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status().unwrap().success());
    }

    /// Type keys one at a time, as a person would (Escape and a key sent together would
    /// read as Alt and the key).
    pub fn press(&self, keys: &[&str]) {
        for k in keys {
            self.keys(&[k]);
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    /// Type text as it is (no key names).
    pub fn type_text(&self, text: &str) {
        self.keys(&["-l", text]);
        std::thread::sleep(Duration::from_millis(60));
    }

    /// Resize the window.
    pub fn resize(&self, w: u16, h: u16) {
        let status = self
            .cmd(&[
                "resize-window",
                "-t",
                "s",
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
            ])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Wait (polling the screen) until it shows `text`.
    pub fn wait_for(&self, text: &str) {
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if self.screen().contains(text) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "timed out waiting for {text:?}; the screen:\n{}",
            self.screen()
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]).output();
    }
}
