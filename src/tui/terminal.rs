//! The real terminal: raw mode, the alternate screen, bracketed paste and mouse capture on
//! entry; all of it undone when the guard drops, on error, and on panic.

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{Stdout, stdout};
use std::sync::Once;

/// Restores the terminal when dropped.
#[derive(Debug)]
pub(crate) struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Put the terminal back as it was (safe to call more than once).
pub(crate) fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        stdout(),
        DisableMouseCapture,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// Switch mouse capture on or off.
pub(crate) fn set_mouse(on: bool) {
    let _ = if on {
        execute!(stdout(), EnableMouseCapture)
    } else {
        execute!(stdout(), DisableMouseCapture)
    };
}

/// Restore the terminal before a panic message is printed. Panics inside template
/// evaluation are caught there and turned into a failed step, so they are left alone.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if crate::expr::jq::evaluating() {
                return;
            }
            restore();
            previous(info);
        }));
    });
}

/// Take over the terminal.
pub(crate) fn enter(
    mouse: bool,
) -> std::io::Result<(Terminal<CrosstermBackend<Stdout>>, TerminalGuard)> {
    install_panic_hook();
    enable_raw_mode()?;
    let guard = TerminalGuard;
    execute!(stdout(), EnterAlternateScreen, EnableBracketedPaste)?;
    if mouse {
        execute!(stdout(), EnableMouseCapture)?;
    }
    let terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
    Ok((terminal, guard))
}
