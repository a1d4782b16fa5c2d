//! The studio: a keyboard-driven terminal UI (ratatui + crossterm) on a store, with the
//! engine running in the same process.
//!
//! One message queue feeds `update(state, message) → effects`; the runtime performs effects
//! (store queries, engine calls) and feeds their results back as messages; `view` draws the
//! state and changes nothing. Input and the terminal backend are injected, so tests drive
//! the studio with keys on a `TestBackend` and a real store.

pub mod commands;
pub mod config;
pub mod data;
pub(crate) mod debugging;
pub mod effects;
pub(crate) mod follow;
pub(crate) mod input;
pub(crate) mod json_view;
pub mod keymap;
pub mod layout;
pub(crate) mod message;
pub mod runtime;
pub mod state;
pub(crate) mod terminal;
pub mod theme;
pub mod update;
pub mod view;
pub mod watch;

use crate::engine::{DEFAULT_WORKERS, Engine};
use crate::store::Store;
use keymap::Keymap;
use state::State;
use std::path::Path;
use theme::Theme;

/// How to start the studio.
#[derive(Debug, Clone, Default)]
pub struct StudioOptions {
    /// Mouse capture (overrides the config file).
    pub mouse: Option<bool>,
}

/// Build the starting state from the config file and the environment.
pub fn initial_state(db: &Path, mouse: Option<bool>) -> State {
    let (config, config_fault) = config::load();
    let (keymap, mut faults) = Keymap::with_overrides(&config.keymap);
    faults.extend(config_fault);
    let theme = Theme::new(&config.theme, Theme::no_color_from_env());
    // a PostgreSQL URL is shown without its password
    let label = crate::store::postgres::shown_url(&db.display().to_string());
    let mut state = State::new(keymap, theme, mouse.unwrap_or(config.ui.mouse), label);
    if !faults.is_empty() {
        state.warn(format!("config: {}", faults.join("; ")));
    }
    state
}

/// Open the studio on the store at `db` and run until the user quits.
pub fn run(db: &Path, options: &StudioOptions) -> anyhow::Result<()> {
    let rt =
        crate::engine::runtime::build("flowdeck-studio", crate::engine::runtime::Workers::PerCore)?;
    rt.block_on(async {
        let engine = Engine::open(db, DEFAULT_WORKERS)?;
        run_with(engine, db, options, |_| {}).await
    })
}

/// Run the studio on an engine that is already open (the dev loop shares it with the
/// server). `setup` gets a sender for messages from elsewhere (the file watcher's reports).
pub async fn run_with(
    engine: Engine,
    db: &Path,
    options: &StudioOptions,
    setup: impl FnOnce(tokio::sync::mpsc::UnboundedSender<update::Msg>),
) -> anyhow::Result<()> {
    let store = Store::open(db)?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    watch::spawn(db, tx.clone())?;
    watch::follow(engine.core().writer(), tx.clone());
    setup(tx.clone());
    let mut state = initial_state(db, options.mouse);
    let (terminal, guard) = terminal::enter(state.mouse)?;
    let size = terminal.size()?;
    state.size = (size.width, size.height);
    let services = effects::Services::new(engine, store, tx);
    let runtime =
        runtime::Runtime::new(terminal, state, services, rx, Box::new(terminal::set_mouse));
    let result = runtime.run(crossterm::event::EventStream::new()).await;
    drop(guard);
    result.map(|_| ())
}
