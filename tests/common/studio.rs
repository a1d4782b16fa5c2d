//! Driving the studio in tests: the real runtime on a `TestBackend`, a real store seeded
//! with the example, keys typed in a compact notation, and waiting for the screen.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use super::Sandbox;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};
use flowdeck::engine::Engine;
use flowdeck::model::{DefinitionKind, RunTarget};
use flowdeck::store::Store;
use flowdeck::tui::config::ThemeConfig;
use flowdeck::tui::effects::Services;
use flowdeck::tui::keymap::Keymap;
use flowdeck::tui::runtime::Runtime;
use flowdeck::tui::state::State;
use flowdeck::tui::theme::Theme;
use flowdeck::tui::update::Msg;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::Duration;

/// How long a test waits for the screen before failing.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The studio on a seeded store.
pub struct Studio {
    pub rt: Runtime<TestBackend>,
    pub sandbox: Sandbox,
}

impl Studio {
    /// The example seeded and deployed, the studio open at `w`×`h`, first data loaded.
    pub async fn new(w: u16, h: u16) -> Studio {
        Self::with(w, h, false, Sandbox::new(), true).await
    }

    /// The studio on an existing sandbox (seeded or not).
    pub async fn with(w: u16, h: u16, no_color: bool, sandbox: Sandbox, seed: bool) -> Studio {
        Self::with_keymap(w, h, no_color, sandbox, seed, Keymap::defaults()).await
    }

    /// [`Studio::with`], with the user's keys.
    pub async fn with_keymap(
        w: u16,
        h: u16,
        no_color: bool,
        sandbox: Sandbox,
        seed: bool,
        keymap: Keymap,
    ) -> Studio {
        Self::configured(w, h, no_color, sandbox, seed, |state| state.keymap = keymap).await
    }

    /// [`Studio::with`], the starting state changed by `configure` (as a config file would).
    pub async fn configured(
        w: u16,
        h: u16,
        no_color: bool,
        sandbox: Sandbox,
        seed: bool,
        configure: impl FnOnce(&mut State),
    ) -> Studio {
        if seed {
            flowdeck::example::seed(&sandbox.db()).unwrap();
        }
        let engine = Engine::open(&sandbox.db(), 8).unwrap();
        let store = Store::open(&sandbox.db()).unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        flowdeck::tui::watch::spawn(&sandbox.db(), tx.clone()).unwrap();
        let services = Services::new(engine, store, tx);
        let mut state = State::new(
            Keymap::defaults(),
            Theme::new(&ThemeConfig::default(), no_color),
            true,
            "flowdeck.db".into(),
        );
        state.size = (w, h);
        // notices stay while a test looks at them (one test sets them short on purpose)
        state.notice_life = Duration::from_secs(3600);
        configure(&mut state);
        let terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        let rt = Runtime::new(terminal, state, services, rx, Box::new(|_| {}));
        let mut studio = Studio { rt, sandbox };
        if seed {
            studio
                .wait(|rt| !rt.state().steps.is_empty() && rt.state().params.definition.is_some())
                .await;
            studio.settle().await;
        }
        studio
    }

    /// Handle what is waiting, and a little more, then draw.
    pub async fn settle(&mut self) {
        self.rt
            .pump_until(Duration::from_millis(250), |_| false)
            .await;
    }

    /// Type keys: characters as they are, and `<esc>`, `<enter>`, `<tab>`, `<s-tab>`,
    /// `<space>`, `<bs>`, `<up>`, `<down>`, `<left>`, `<right>`, `<c-x>` (ctrl), `<lt>`.
    pub async fn press(&mut self, keys: &str) {
        for key in parse_keys(keys) {
            self.rt.handle(Msg::Input(Event::Key(key)));
            self.rt.drain();
            self.rt.draw().unwrap();
        }
    }

    /// Wait until `done` holds for the runtime (or fail the test).
    pub async fn wait(&mut self, done: impl FnMut(&Runtime<TestBackend>) -> bool) {
        let ok = self.rt.pump_until(PATIENCE, done).await;
        assert!(ok, "timed out; the screen:\n{}", self.screen());
    }

    /// Wait until the screen shows `text`.
    pub async fn wait_for(&mut self, text: &str) {
        let ok = self
            .rt
            .pump_until(PATIENCE, |rt| screen_of(rt).contains(text))
            .await;
        assert!(
            ok,
            "timed out waiting for {text:?}; the screen:\n{}",
            self.screen()
        );
    }

    /// The screen as text, trailing spaces trimmed.
    pub fn screen(&self) -> String {
        screen_of(&self.rt)
    }

    /// A fresh connection to the studio's store.
    pub fn store(&self) -> Store {
        Store::open(&self.sandbox.db()).unwrap()
    }

    /// The state.
    pub fn state(&self) -> &State {
        self.rt.state()
    }
}

/// Whether each workflow's last-run mark in the list matches its newest run in the activity
/// pane (the two load apart, so for a moment a run can show done in one and running in the
/// other).
pub fn marks_agree(rt: &Runtime<TestBackend>) -> bool {
    let state = rt.state();
    let newest = |name: &str| {
        state
            .activity
            .iter()
            .filter_map(|r| r.run())
            .filter(|r| r.target == RunTarget::Workflow(name.to_owned()))
            .max_by_key(|r| r.id)
            .map(|r| r.status)
    };
    state
        .definitions
        .iter()
        .filter(|d| d.row.kind == DefinitionKind::Workflow)
        .all(|d| d.last_run == newest(&d.row.name))
}

/// The screen of a runtime as text.
pub fn screen_of(rt: &Runtime<TestBackend>) -> String {
    let buffer = rt.terminal().backend().buffer();
    let area = buffer.area;
    let mut out = String::new();
    for y in 0..area.height {
        let mut line = String::new();
        for x in 0..area.width {
            line.push_str(buffer[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
    KeyEvent {
        code,
        modifiers,
        kind: KeyEventKind::Press,
        state: KeyEventState::NONE,
    }
}

/// Parse the key notation of [`Studio::press`].
pub fn parse_keys(keys: &str) -> Vec<KeyEvent> {
    let mut out = Vec::new();
    let mut chars = keys.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '<' {
            let mods = if c.is_ascii_uppercase() {
                KeyModifiers::SHIFT
            } else {
                KeyModifiers::NONE
            };
            out.push(key(KeyCode::Char(c), mods));
            continue;
        }
        let name: String = chars.by_ref().take_while(|c| *c != '>').collect();
        let ev = match name.as_str() {
            "esc" => key(KeyCode::Esc, KeyModifiers::NONE),
            "enter" => key(KeyCode::Enter, KeyModifiers::NONE),
            "tab" => key(KeyCode::Tab, KeyModifiers::NONE),
            "s-tab" => key(KeyCode::BackTab, KeyModifiers::SHIFT),
            "space" => key(KeyCode::Char(' '), KeyModifiers::NONE),
            "bs" => key(KeyCode::Backspace, KeyModifiers::NONE),
            "up" => key(KeyCode::Up, KeyModifiers::NONE),
            "down" => key(KeyCode::Down, KeyModifiers::NONE),
            "left" => key(KeyCode::Left, KeyModifiers::NONE),
            "right" => key(KeyCode::Right, KeyModifiers::NONE),
            "lt" => key(KeyCode::Char('<'), KeyModifiers::NONE),
            other if other.starts_with("c-") => key(
                KeyCode::Char(other.chars().nth(2).unwrap()),
                KeyModifiers::CONTROL,
            ),
            other => panic!("unknown key <{other}>"),
        };
        out.push(ev);
    }
    out
}
