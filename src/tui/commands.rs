//! The one command registry: every command the studio knows, with its name, what it does,
//! its default keys and where it applies. The keymap, the help screen, the command palette
//! and the hint bar are all built from this list, so none of them can drift from the keys.
//!
//! Longer than most rooms on purpose: the registry is one table, read top to bottom, and cut
//! into files it would no longer show every command and key in one place.

/// A command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cmd {
    /// Quit the studio.
    Quit,
    /// Quit from anywhere, even while editing.
    ForceQuit,
    /// Focus the next pane.
    FocusNext,
    /// Focus the previous pane.
    FocusPrev,
    /// Move up.
    Up,
    /// Move down.
    Down,
    /// Move a page up.
    PageUp,
    /// Move a page down.
    PageDown,
    /// Go to the first item.
    Top,
    /// Go to the last item.
    Bottom,
    /// Switch the selected workflow on or off.
    Toggle,
    /// Edit the params.
    EditParams,
    /// Leave the params editor.
    LeaveEditor,
    /// Pretty-print the params.
    FormatParams,
    /// Emit the selected workflow's event with the params.
    Emit,
    /// Run the selected workflow's draft with the params.
    DebugRun,
    /// Deploy the selected workflow (after a confirm).
    Deploy,
    /// Open the selected item (a run's trace).
    Open,
    /// Close the overlay, or go back.
    Back,
    /// Filter the lists.
    Filter,
    /// Show the keys.
    Help,
    /// Open the command palette.
    Palette,
    /// Switch mouse capture on or off.
    ToggleMouse,
    /// Answer yes.
    Confirm,
    /// Expand or fold long JSON.
    ExpandJson,
    /// Scroll the detail (trace, variables) down.
    ScrollDown,
    /// Scroll the detail (trace, variables) up.
    ScrollUp,
    /// Set or clear a breakpoint on the selected step.
    ToggleBreakpoint,
    /// Set a breakpoint with a condition on the selected step.
    ConditionalBreakpoint,
    /// Debugger: run the next step, a compound step's body whole.
    StepOver,
    /// Debugger: run the next step, entering bodies.
    StepInto,
    /// Debugger: run until the enclosing body ends.
    StepOut,
    /// Debugger: run until a breakpoint or the end.
    Continue,
    /// Debugger: stop at the next step.
    Pause,
    /// Debugger: end the run now.
    Abort,
    /// Walk the selected run's record backwards.
    TravelBack,
    /// Walk the selected run's record forwards.
    TravelForward,
    /// Run the selected run again (from a step, or with the params on the right).
    Rerun,
    /// Mark the selected run, to compare another with it.
    MarkRun,
    /// Compare the selected run with the marked one, side by side.
    CompareRuns,
    /// Pin the selected run (retention never removes it), or unpin it.
    PinRun,
    /// In the deploy confirm: what the draft would have done with the events that came in.
    WhatIf,
    /// Add a watch expression.
    AddWatch,
    /// Remove every watch expression.
    ClearWatches,
    /// Evaluate a jq expression once.
    Evaluate,
    /// Change a variable of the paused run.
    EditVariable,
    /// Run the tests of the selected workflow or endpoint.
    RunTests,
    /// Write a test case from the selected run.
    RecordTest,
}

/// Where a command applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    /// Everywhere outside overlays and the editor.
    Global,
    /// The workflows list.
    Workflows,
    /// The steps tree.
    Steps,
    /// The params pane.
    Params,
    /// The variables pane.
    Variables,
    /// The activity log.
    Activity,
    /// Typing in the params editor.
    Editor,
    /// A run's trace.
    Trace,
    /// An event's cascade, as a tree.
    Cascade,
    /// Test results.
    Tests,
    /// The deploy confirm.
    Confirm,
    /// Any overlay (help, palette, trace, confirm, filter).
    Overlay,
    /// A debug run is going on.
    Debug,
}

/// When a command can act (help marks the ones that need a debug run in a state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acts {
    /// Whenever its keys reach it.
    Always,
    /// While a debug run is paused.
    WhilePaused,
    /// While a debug run is running (not paused).
    WhileRunning,
    /// While there is a debug run, paused or running.
    DuringDebugRun,
}

impl Acts {
    /// What help says of it (nothing for [`Acts::Always`]).
    pub fn mark(self) -> &'static str {
        match self {
            Acts::Always => "",
            Acts::WhilePaused => "‖ paused",
            Acts::WhileRunning => "▶ running",
            Acts::DuringDebugRun => "debug run",
        }
    }
}

/// One command as the registry knows it.
#[derive(Debug, Clone, Copy)]
pub struct CommandInfo {
    /// The command.
    pub cmd: Cmd,
    /// Its name in the config file and the palette.
    pub name: &'static str,
    /// A word or two for the hint bar.
    pub title: &'static str,
    /// One sentence for help and the palette.
    pub description: &'static str,
    /// Default keys.
    pub keys: &'static [&'static str],
    /// Where it applies.
    pub contexts: &'static [Context],
    /// Shown in the hint bar.
    pub hint: bool,
    /// When it can act.
    pub acts: Acts,
}

use Context as C;

/// Every command, in the order help lists them.
pub const COMMANDS: &[CommandInfo] = &[
    CommandInfo {
        cmd: Cmd::StepOver,
        name: "step_over",
        title: "step",
        description: "Debugger: run the next step (a compound step's body whole)",
        keys: &["n"],
        contexts: &[C::Debug],
        hint: true,
        acts: Acts::WhilePaused,
    },
    CommandInfo {
        cmd: Cmd::StepInto,
        name: "step_into",
        title: "into",
        description: "Debugger: run the next step, entering if/foreach/try bodies",
        keys: &["s"],
        contexts: &[C::Debug],
        hint: true,
        acts: Acts::WhilePaused,
    },
    CommandInfo {
        cmd: Cmd::StepOut,
        name: "step_out",
        title: "out",
        description: "Debugger: run until the enclosing body ends",
        keys: &["o"],
        contexts: &[C::Debug],
        hint: true,
        acts: Acts::WhilePaused,
    },
    CommandInfo {
        cmd: Cmd::Continue,
        name: "continue",
        title: "continue",
        description: "Debugger: run until a breakpoint or the end",
        keys: &["c"],
        contexts: &[C::Debug],
        hint: true,
        acts: Acts::WhilePaused,
    },
    CommandInfo {
        cmd: Cmd::Pause,
        name: "pause",
        title: "pause",
        description: "Debugger: stop the running debug run at its next step",
        keys: &["p"],
        contexts: &[C::Debug],
        hint: false,
        acts: Acts::WhileRunning,
    },
    CommandInfo {
        cmd: Cmd::Abort,
        name: "abort",
        title: "abort",
        description: "Debugger: end the debug run now (cancelled)",
        keys: &["a"],
        contexts: &[C::Debug],
        hint: true,
        acts: Acts::DuringDebugRun,
    },
    CommandInfo {
        cmd: Cmd::EditVariable,
        name: "edit_variable",
        title: "edit var",
        description: "At a pause: change a variable ($var.name = JSON, or $param.name = JSON)",
        keys: &["enter"],
        contexts: &[C::Variables],
        hint: true,
        acts: Acts::WhilePaused,
    },
    CommandInfo {
        cmd: Cmd::ToggleBreakpoint,
        name: "toggle_breakpoint",
        title: "breakpoint",
        description: "Set or clear a breakpoint on the selected step (kept in the store)",
        keys: &["b"],
        contexts: &[C::Global],
        hint: true,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::ConditionalBreakpoint,
        name: "conditional_breakpoint",
        title: "condition",
        description: "Set a breakpoint with a jq condition on the selected step",
        keys: &["B"],
        contexts: &[C::Global],
        hint: false,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::TravelBack,
        name: "travel_back",
        title: "back",
        description: "Walk the selected run's record one step back (variables as they were)",
        keys: &["["],
        contexts: &[C::Global],
        hint: false,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::TravelForward,
        name: "travel_forward",
        title: "forward",
        description: "Walk the selected run's record one step forward",
        keys: &["]"],
        contexts: &[C::Global],
        hint: false,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::Rerun,
        name: "rerun",
        title: "rerun",
        description: "Run the selected run again: from the step under the cursor (or the trace's selected step) with the state it had, else from its start with the params on the right",
        keys: &["R"],
        contexts: &[C::Global, C::Trace],
        hint: false,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::RunTests,
        name: "run_tests",
        title: "tests",
        description: "Run the tests of the selected workflow or endpoint (and of the event it listens to); again, in the results",
        keys: &["T"],
        contexts: &[C::Global, C::Tests],
        hint: false,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::RecordTest,
        name: "record_test",
        title: "record test",
        description: "Write a test case from the selected run: its params, the rows it read, its HTTP answers, its outcome",
        keys: &["ctrl-t"],
        contexts: &[C::Global, C::Trace],
        hint: false,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::MarkRun,
        name: "mark_run",
        title: "mark",
        description: "Mark the selected run, to compare another run with it",
        keys: &["M"],
        contexts: &[C::Global, C::Trace],
        hint: false,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::CompareRuns,
        name: "diff_runs",
        title: "diff",
        description: "Compare the selected run with the marked one, side by side, step by step",
        keys: &["D"],
        contexts: &[C::Global, C::Trace],
        hint: false,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::AddWatch,
        name: "add_watch",
        title: "watch",
        description: "Add a watch expression (jq over $var, $param, $env, $event)",
        keys: &["w"],
        contexts: &[C::Global],
        hint: false,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::ClearWatches,
        name: "clear_watches",
        title: "clear watches",
        description: "Remove every watch expression",
        keys: &["W"],
        contexts: &[C::Global],
        hint: false,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::Evaluate,
        name: "evaluate",
        title: "evaluate",
        description: "Evaluate a jq expression against the variables shown",
        keys: &["="],
        contexts: &[C::Global],
        hint: false,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::Toggle,
        name: "toggle",
        title: "toggle",
        description: "Switch the selected workflow on or off (stored at once)",
        keys: &["space"],
        contexts: &[C::Workflows],
        hint: true,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::EditParams,
        name: "edit_params",
        title: "edit params",
        description: "Edit the JSON params of the selected workflow (of an endpoint: its request)",
        keys: &["e"],
        contexts: &[C::Global],
        hint: true,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::Emit,
        name: "emit",
        title: "emit",
        description: "Emit the selected workflow's event with the params (every listener runs); on an endpoint, call its live version with the request",
        keys: &["x"],
        contexts: &[C::Global],
        hint: true,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::DebugRun,
        name: "debug_run",
        title: "debug",
        description: "Run the selected workflow's or endpoint's draft under the debugger, with the params or request",
        keys: &["r"],
        contexts: &[C::Global],
        hint: true,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::Deploy,
        name: "deploy",
        title: "deploy",
        description: "Deploy the selected workflow's or endpoint's draft (shows what changed first)",
        keys: &["d"],
        contexts: &[C::Global],
        hint: true,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::PinRun,
        name: "pin_run",
        title: "pin",
        description: "Pin the selected run (prune and retention keep it); again to unpin",
        keys: &["P"],
        contexts: &[C::Global, C::Trace],
        hint: false,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::Open,
        name: "open",
        title: "open",
        description: "Open the selected run's trace, or the selected event's cascade as a tree (on a workflow: focus its steps)",
        keys: &["enter"],
        contexts: &[C::Workflows, C::Activity, C::Cascade, C::Tests],
        hint: true,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::FormatParams,
        name: "format_params",
        title: "pretty-print",
        description: "Pretty-print the params JSON",
        keys: &["ctrl-f"],
        contexts: &[C::Editor, C::Params],
        hint: true,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::LeaveEditor,
        name: "leave_editor",
        title: "done",
        description: "Leave the params editor (the params are kept)",
        keys: &["esc"],
        contexts: &[C::Editor],
        hint: true,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::ExpandJson,
        name: "expand_json",
        title: "expand",
        description: "Expand or fold long JSON",
        keys: &["z"],
        contexts: &[C::Trace, C::Variables],
        hint: true,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::ScrollDown,
        name: "scroll_down",
        title: "scroll",
        description: "Scroll the details down",
        keys: &["J", "ctrl-e"],
        contexts: &[C::Trace, C::Variables],
        hint: true,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::ScrollUp,
        name: "scroll_up",
        title: "scroll up",
        description: "Scroll the details up",
        keys: &["K", "ctrl-y"],
        contexts: &[C::Trace, C::Variables],
        hint: false,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::Confirm,
        name: "confirm",
        title: "yes",
        description: "Confirm",
        keys: &["y", "enter"],
        contexts: &[C::Confirm],
        hint: true,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::WhatIf,
        name: "what_if",
        title: "what-if",
        description: "Run the draft against the last 10 events that came in, side effects held back, and compare with what the live version did",
        keys: &["w"],
        contexts: &[C::Confirm],
        hint: true,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::Back,
        name: "back",
        title: "close",
        description: "Close the overlay, cancel, or go back",
        keys: &["esc", "q"],
        contexts: &[C::Overlay],
        hint: true,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::Up,
        name: "up",
        title: "up",
        description: "Move up",
        keys: &["k", "up"],
        contexts: &[C::Global, C::Trace, C::Overlay],
        hint: false,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::Down,
        name: "down",
        title: "down",
        description: "Move down",
        keys: &["j", "down"],
        contexts: &[C::Global, C::Trace, C::Overlay],
        hint: false,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::PageUp,
        name: "page_up",
        title: "page up",
        description: "Move a page up",
        keys: &["pageup", "ctrl-u"],
        contexts: &[C::Global, C::Trace, C::Overlay],
        hint: false,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::PageDown,
        name: "page_down",
        title: "page down",
        description: "Move a page down",
        keys: &["pagedown", "ctrl-d"],
        contexts: &[C::Global, C::Trace, C::Overlay],
        hint: false,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::Top,
        name: "top",
        title: "top",
        description: "Go to the first item",
        keys: &["g", "home"],
        contexts: &[C::Global, C::Trace, C::Overlay],
        hint: false,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::Bottom,
        name: "bottom",
        title: "bottom",
        description: "Go to the last item",
        keys: &["G", "end"],
        contexts: &[C::Global, C::Trace, C::Overlay],
        hint: false,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::FocusNext,
        name: "focus_next",
        title: "next pane",
        description: "Focus the next pane",
        keys: &["tab"],
        contexts: &[C::Global],
        hint: false,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::FocusPrev,
        name: "focus_prev",
        title: "previous pane",
        description: "Focus the previous pane",
        keys: &["shift-tab"],
        contexts: &[C::Global],
        hint: false,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::Filter,
        name: "filter",
        title: "filter",
        description: "Filter workflows and activity by name",
        keys: &["/"],
        contexts: &[C::Global],
        hint: true,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::Help,
        name: "help",
        title: "help",
        description: "Show every key",
        keys: &["?"],
        contexts: &[C::Global],
        hint: true,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::Palette,
        name: "palette",
        title: "commands",
        description: "Open the command palette",
        keys: &[":", "ctrl-p"],
        contexts: &[C::Global],
        hint: true,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::ToggleMouse,
        name: "toggle_mouse",
        title: "mouse",
        description: "Switch mouse capture on or off (off lets the terminal select text)",
        keys: &["m"],
        contexts: &[C::Global],
        hint: false,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::Quit,
        name: "quit",
        title: "quit",
        description: "Quit the studio",
        keys: &["q"],
        contexts: &[C::Global],
        hint: true,
        acts: Acts::Always,
    },
    CommandInfo {
        cmd: Cmd::ForceQuit,
        name: "force_quit",
        title: "quit",
        description: "Quit from anywhere",
        keys: &["ctrl-c"],
        contexts: &[C::Global, C::Editor, C::Overlay],
        hint: false,
        acts: Acts::Always,
    },
];

/// The registry entry of a command.
pub fn info(cmd: Cmd) -> &'static CommandInfo {
    COMMANDS
        .iter()
        .find(|c| c.cmd == cmd)
        .unwrap_or(&COMMANDS[0])
}

/// Look a command up by its config name.
pub fn by_name(name: &str) -> Option<&'static CommandInfo> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// Commands whose name, title or description contain every character of `query` in order
/// (a forgiving fuzzy match), best first.
pub fn palette_matches(query: &str) -> Vec<&'static CommandInfo> {
    let q: Vec<char> = query
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let mut scored: Vec<(usize, &CommandInfo)> = COMMANDS
        .iter()
        .filter(|c| c.cmd != Cmd::Confirm && c.cmd != Cmd::Back)
        .filter_map(|c| {
            let hay = format!("{} {} {}", c.name, c.title, c.description).to_lowercase();
            if q.is_empty() {
                return Some((0, c));
            }
            if hay.contains(&query.to_lowercase()) {
                return Some((
                    if c.name.starts_with(&query.to_lowercase()) {
                        0
                    } else {
                        1
                    },
                    c,
                ));
            }
            let mut it = hay.chars();
            q.iter().all(|ch| it.any(|h| h == *ch)).then_some((2, c))
        })
        .collect();
    scored.sort_by_key(|(score, _)| *score);
    scored.into_iter().map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_every_command_is_listed() {
        let names: HashSet<_> = COMMANDS.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), COMMANDS.len());
        let cmds: HashSet<_> = COMMANDS.iter().map(|c| c.cmd).collect();
        assert_eq!(cmds.len(), COMMANDS.len());
    }
}
