//! The loop: one message queue; input, effect results and store changes all arrive as
//! messages; `update` changes the state; the screen is drawn only when something changed
//! and nothing else is waiting.

use super::effects::Services;
use super::message::{Msg, UiEffect};
use super::state::State;
use super::update::update;
use super::view;
use crossterm::event::Event;
use futures_util::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;

/// The studio running on a terminal backend.
pub struct Runtime<B: Backend> {
    terminal: Terminal<B>,
    state: State,
    services: Services,
    rx: UnboundedReceiver<Msg>,
    dirty: bool,
    mouse: Box<dyn FnMut(bool) + Send>,
    /// Frames drawn (for tests and the benchmark).
    pub frames: u64,
}

impl<B: Backend> Runtime<B> {
    /// A runtime on `terminal`; `mouse` switches mouse capture on the real terminal.
    pub fn new(
        terminal: Terminal<B>,
        state: State,
        services: Services,
        rx: UnboundedReceiver<Msg>,
        mouse: Box<dyn FnMut(bool) + Send>,
    ) -> Self {
        let mut me = Runtime {
            terminal,
            state,
            services,
            rx,
            dirty: true,
            mouse,
            frames: 0,
        };
        me.perform(vec![UiEffect::ReloadAll]);
        me
    }

    /// The state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The terminal (tests read the screen from its backend).
    pub fn terminal(&self) -> &Terminal<B> {
        &self.terminal
    }

    /// The terminal, to change (tests resize their test backend through it, as a real
    /// terminal resizes itself).
    pub fn terminal_mut(&mut self) -> &mut Terminal<B> {
        &mut self.terminal
    }

    /// The services (tests reach the engine and store through them).
    pub fn services(&self) -> &Services {
        &self.services
    }

    fn perform(&mut self, effects: Vec<UiEffect>) {
        for e in effects {
            if let UiEffect::SetMouse(on) = e {
                (self.mouse)(on);
            } else {
                self.services.perform(e);
            }
        }
    }

    /// Apply one message.
    pub fn handle(&mut self, msg: Msg) {
        let changes = match &msg {
            Msg::StoreChanged => false,
            Msg::Definitions(d) => *d != self.state.definitions,
            Msg::Activity(a) => *a != self.state.activity,
            Msg::Run(r) => *r != self.state.run,
            _ => true,
        };
        if let Msg::Input(Event::Resize(w, h)) = &msg {
            let _ = self.terminal.autoresize();
            self.state.size = (*w, *h);
        }
        self.dirty |= changes;
        let notices = self.state.notices;
        let effects = update(&mut self.state, msg);
        // a new notice ends on its own after a while, unless something ends it first
        if self.state.notices != notices
            && let Some(n) = &self.state.notice
        {
            self.services
                .later(n.lasts(self.state.notice_life), Msg::NoticeExpired(n.id));
        }
        self.perform(effects);
    }

    /// Apply every message already waiting.
    pub fn drain(&mut self) {
        while let Ok(msg) = self.rx.try_recv() {
            self.handle(msg);
        }
    }

    /// Draw if something changed.
    pub fn draw(&mut self) -> std::io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        self.dirty = false;
        let area = self
            .terminal
            .size()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.state.size = (area.width, area.height);
        let state = &self.state;
        self.terminal
            .draw(|f| view::draw(f, state))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.frames += 1;
        Ok(())
    }

    /// Handle messages (waiting up to `timeout` for more) until `done` holds; returns whether
    /// it did. Draws as it goes.
    pub async fn pump_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&Self) -> bool,
    ) -> bool {
        let end = Instant::now() + timeout;
        loop {
            self.drain();
            let _ = self.draw();
            if done(self) {
                return true;
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match tokio::time::timeout(left.min(Duration::from_millis(50)), self.rx.recv()).await {
                Ok(Some(msg)) => self.handle(msg),
                Ok(None) => return done(self),
                Err(_) => {}
            }
        }
    }

    /// Run until the user quits or the input ends.
    pub async fn run(
        mut self,
        mut input: impl Stream<Item = std::io::Result<Event>> + Unpin,
    ) -> anyhow::Result<State> {
        loop {
            self.drain();
            if self.state.quit {
                break;
            }
            self.draw()?;
            tokio::select! {
                biased;
                event = input.next() => match event {
                    Some(Ok(e)) => self.handle(Msg::Input(e)),
                    Some(Err(e)) => return Err(e.into()),
                    None => break,
                },
                msg = self.rx.recv() => match msg {
                    Some(m) => self.handle(m),
                    None => break,
                },
            }
        }
        // let queued writes (params, toggles) land before the process ends
        let _ = self.services.engine().flush().await;
        Ok(self.state)
    }
}
