//! The studio's state: plain data that `update` changes and `view` draws.
//!
//! Longer than most rooms on purpose: it is the one place a reader learns what the studio
//! holds (each pane's state, overlays, modes); the behaviour lives in `update` and `view`.

use super::data::{ActivityRow, DefinitionItem, StepLine, StepLineKind};
use super::input::ParamsCheck;
use super::keymap::Keymap;
use super::theme::Theme;
use crate::model::{DefinitionKind, RunRecord};
use ratatui_textarea::TextArea;
use serde_json::Value;

/// The panes, in `Tab` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// Workflows grouped by event.
    Workflows,
    /// The selected workflow's steps.
    Steps,
    /// The params editor.
    Params,
    /// Variables of the selected step of the selected run.
    Variables,
    /// Events and runs.
    Activity,
}

impl Focus {
    /// Every pane in `Tab` order.
    pub const ALL: [Focus; 5] = [
        Focus::Workflows,
        Focus::Steps,
        Focus::Params,
        Focus::Variables,
        Focus::Activity,
    ];

    /// The pane's title.
    pub fn title(self) -> &'static str {
        match self {
            Focus::Workflows => "Workflows",
            Focus::Steps => "Steps",
            Focus::Params => "Params",
            Focus::Variables => "Variables",
            Focus::Activity => "Activity",
        }
    }
}

/// What takes the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputMode {
    /// Keys are commands (no prompt or editor has them).
    Normal,
    /// Typing in the params editor.
    Editing,
    /// Typing a filter.
    Filtering,
    /// Typing an answer to a prompt (a condition, a watch, an expression, an edit).
    Prompting,
}

/// What a prompt asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptKind {
    /// The condition of a breakpoint on this step.
    Condition {
        /// The step.
        step: String,
    },
    /// A watch expression.
    Watch,
    /// An expression to evaluate once.
    Evaluate,
    /// `$var.name = JSON` for the paused run.
    EditVariable,
}

impl PromptKind {
    /// What the prompt says before the text.
    pub fn label(&self) -> String {
        match self {
            PromptKind::Condition { step } => format!("break at {step} when"),
            PromptKind::Watch => "watch".into(),
            PromptKind::Evaluate => "evaluate".into(),
            PromptKind::EditVariable => "set".into(),
        }
    }
}

/// A question at the bottom of the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// What it asks for.
    pub kind: PromptKind,
    /// What was typed.
    pub text: String,
    /// Why the last answer was refused.
    pub error: Option<String>,
}

/// The debug run the studio drives.
#[derive(Debug, Clone, PartialEq)]
pub struct DebugView {
    /// The run.
    pub run_id: i64,
    /// Its workflow or endpoint.
    pub definition: String,
    /// Where and why it is paused, with the variables, when it is.
    pub paused: Option<(
        crate::engine::debug::StopReason,
        crate::engine::debug::Snapshot,
    )>,
}

/// A watch expression and what it gives where the studio looks.
#[derive(Debug, Clone, PartialEq)]
pub struct Watch {
    /// The expression.
    pub expr: String,
    /// Its value, or why not.
    pub value: Result<Value, String>,
}

/// A message for the user at the bottom of the screen. It goes at the next key, after a
/// while (see [`Notice::lasts`]), or when what it says stops being true.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// What to say.
    pub text: String,
    /// Whether it is an error.
    pub error: bool,
    /// Which notice this is (a timer ends this one, not a later one).
    pub id: u64,
    /// A workflow's active state it reports (`def_id`, `active`): when the store says
    /// otherwise (another process switched it), the notice goes.
    pub about: Option<(i64, bool)>,
    /// Keys that act on what it says (`n step · c continue`): when the line is too
    /// narrow, the text is shortened and these are kept.
    pub keys: Option<String>,
}

impl Notice {
    /// How long a notice stays when nothing else ends it, given how long notices last:
    /// errors twice as long, to be read.
    pub fn lasts(&self, life: std::time::Duration) -> std::time::Duration {
        if self.error { life * 2 } else { life }
    }
}

/// A run opened in the trace view.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The run with its steps.
    pub run: RunRecord,
    /// The selected step record.
    pub selected: usize,
    /// Long JSON shown whole.
    pub expanded: bool,
    /// Lines scrolled in the detail.
    pub scroll: u16,
    /// The test case whose run this is (a run of a test's own world, not in the store).
    pub case: Option<String>,
    /// The overlay to go back to when the trace closes (the tests it was opened from).
    pub back: Option<Box<Overlay>>,
}

/// The tests of a workflow or endpoint, run in the studio.
#[derive(Debug, Clone, PartialEq)]
pub struct TestsView {
    /// Whose tests: the workflow's name or the endpoint's `METHOD /path`.
    pub of: String,
    /// The results, once they are in (or why there are none).
    pub result: Option<Result<TestResults, String>>,
    /// The selected case.
    pub selected: usize,
}

/// What a test run in the studio found.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResults {
    /// Every case's result.
    pub report: crate::suite::Report,
    /// Faults of test files that could not run.
    pub invalid: Vec<crate::model::Diagnostic>,
}

/// The deploy confirm.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    /// The definition.
    pub def_id: i64,
    /// Its name.
    pub name: String,
    /// Its live version.
    pub live_version: Option<i64>,
    /// What changed, once loaded.
    pub changes: Option<Result<Vec<String>, String>>,
    /// What the draft would have done with the events that came in, once asked for.
    pub what_if: WhatIfState,
}

/// A what-if in the deploy confirm.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum WhatIfState {
    /// Not asked for.
    #[default]
    NotAsked,
    /// The draft is being tried against the recorded events.
    Running,
    /// Its answer, or why there is none.
    Done(Result<crate::engine::what_if::WhatIfReport, String>),
}

/// Two runs side by side, step by step.
#[derive(Debug, Clone, PartialEq)]
pub struct RunDiffView {
    /// The marked run.
    pub a: RunRecord,
    /// The run compared with it.
    pub b: RunRecord,
    /// How they differ.
    pub diff: crate::engine::compare::RunDiff,
    /// The selected step row.
    pub selected: usize,
}

/// One line of an event's cascade as the studio shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum CascadeLine {
    /// An event.
    Event(crate::model::EventRecord),
    /// A listener's run.
    Run(RunRecord),
    /// A listener that did not run, and why.
    Skip {
        /// The workflow.
        workflow: String,
        /// Why the run ended (an error or a cancellation).
        reason: String,
        /// Stopped by the loop guard.
        is_loop: bool,
    },
}

/// An event's cascade, as a tree to walk.
#[derive(Debug, Clone, PartialEq)]
pub struct CascadeView {
    /// The root event's id.
    pub root: i64,
    /// The tree flattened: each line with its depth.
    pub lines: Vec<(usize, CascadeLine)>,
    /// The selected line.
    pub selected: usize,
}

impl CascadeView {
    /// The view of a cascade tree.
    pub fn of(tree: &crate::engine::trace::TraceNode) -> CascadeView {
        fn walk(
            node: &crate::engine::trace::TraceNode,
            depth: usize,
            out: &mut Vec<(usize, CascadeLine)>,
        ) {
            out.push((depth, CascadeLine::Event(node.event.clone())));
            for l in &node.listeners {
                match (&l.run, &l.skipped) {
                    (Some(run), _) => {
                        out.push((depth + 1, CascadeLine::Run(run.clone())));
                        for child in &l.emitted {
                            walk(child, depth + 2, out);
                        }
                    }
                    (None, Some(reason)) => out.push((
                        depth + 1,
                        CascadeLine::Skip {
                            workflow: l.workflow.clone(),
                            reason: reason.clone(),
                            is_loop: l.is_loop,
                        },
                    )),
                    (None, None) => {}
                }
            }
        }
        let mut lines = Vec::new();
        walk(tree, 0, &mut lines);
        CascadeView {
            root: tree.event.id,
            lines,
            selected: 0,
        }
    }
}

/// An overlay over the panes.
#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    /// Every key.
    Help {
        /// Lines scrolled.
        scroll: u16,
    },
    /// The command palette.
    Palette {
        /// What was typed.
        query: String,
        /// The selected match.
        selected: usize,
    },
    /// A run's trace.
    Trace(Box<Trace>),
    /// The deploy confirm.
    Confirm(Confirm),
    /// Two runs compared.
    RunDiff(Box<RunDiffView>),
    /// An event's cascade.
    Cascade(Box<CascadeView>),
    /// Tests of a workflow or endpoint, and their results.
    Tests(Box<TestsView>),
}

/// The params pane: a workflow's params, or an endpoint's request.
#[derive(Debug, Clone)]
pub struct Params {
    /// The workflow or endpoint they belong to.
    pub definition: Option<String>,
    /// Which of the two.
    pub kind: DefinitionKind,
    /// An endpoint's route (`/skus/{id}`): the request's path must fill its segments.
    pub route: Option<String>,
    /// The editor.
    pub editor: TextArea<'static>,
    /// Live validation.
    pub check: ParamsCheck,
    /// Changed since loaded or saved.
    pub dirty: bool,
    /// The saved params have arrived (until then the editor holds a placeholder).
    pub loaded: bool,
    /// A command (emit, debug) waiting for the params to arrive.
    pub pending: Option<super::commands::Cmd>,
}

impl Params {
    /// An empty pane, belonging to nothing.
    pub fn none() -> Params {
        Params::new(None, DefinitionKind::Workflow, None, "{}")
    }

    /// The pane for `definition` (of `kind`, answering at `route` when an endpoint), holding
    /// `text`.
    pub fn new(
        definition: Option<String>,
        kind: DefinitionKind,
        route: Option<String>,
        text: &str,
    ) -> Params {
        let mut editor = TextArea::new(text.lines().map(String::from).collect());
        if editor.lines().is_empty() {
            editor = TextArea::new(vec![String::new()]);
        }
        editor.set_tab_length(2);
        let check = super::input::check(kind, route.as_deref(), text);
        Params {
            definition,
            kind,
            route,
            editor,
            check,
            dirty: false,
            loaded: true,
            pending: None,
        }
    }

    /// The same pane holding `text` instead (the owner kept, the edit unsaved).
    pub fn replaced(&self, text: &str) -> Params {
        Params::new(self.definition.clone(), self.kind, self.route.clone(), text)
    }

    /// The text in the editor.
    pub fn text(&self) -> String {
        self.editor.lines().join("\n")
    }

    /// Re-check after an edit.
    pub fn changed(&mut self) {
        self.check = super::input::check(self.kind, self.route.as_deref(), &self.text());
        self.dirty = true;
    }

    /// What the pane holds, in a word: "params", or "request" for an endpoint.
    pub fn noun(&self) -> &'static str {
        match self.kind {
            DefinitionKind::Workflow => "params",
            DefinitionKind::Endpoint => "request",
        }
    }
}

/// The whole studio.
#[derive(Debug, Clone)]
pub struct State {
    /// The focused pane.
    pub focus: Focus,
    /// What takes the keys.
    pub mode: InputMode,
    /// The overlay, if any.
    pub overlay: Option<Overlay>,
    /// Every workflow and endpoint.
    pub definitions: Vec<DefinitionItem>,
    /// The selected definition (by id, stable across reloads).
    pub selected_def: Option<i64>,
    /// The steps tree of the selected definition.
    pub steps: Vec<StepLine>,
    /// Which definition `steps` belongs to.
    pub steps_of: Option<i64>,
    /// The selected line of the steps tree.
    pub step_selected: usize,
    /// Why the steps could not be shown.
    pub steps_error: Option<String>,
    /// The params editor.
    pub params: Params,
    /// The selected run with its steps (the variables pane shows it).
    pub run: Option<RunRecord>,
    /// Long JSON in the variables pane shown whole.
    pub vars_expanded: bool,
    /// Lines scrolled in the variables pane.
    pub vars_scroll: u16,
    /// Breakpoints of the selected workflow.
    pub breakpoints: Vec<crate::model::breakpoint::Breakpoint>,
    /// The debug run being driven, if any.
    pub debug: Option<DebugView>,
    /// Watch expressions, with their values where the studio looks.
    pub watches: Vec<Watch>,
    /// Time travel: the record of the selected run the panes show.
    pub cursor: Option<usize>,
    /// The run marked to compare another with.
    pub marked: Option<i64>,
    /// The open prompt.
    pub prompt: Option<Prompt>,
    /// The activity log.
    pub activity: Vec<ActivityRow>,
    /// The selected activity row.
    pub activity_selected: usize,
    /// Where the user left the newest entries (`None`: the log follows them): the newest
    /// event or loose run when the selection moved away from the top.
    pub activity_anchor: Option<RowKey>,
    /// Entries newer than the anchor (shown as `↑ N new`).
    pub activity_new: usize,
    /// The filter.
    pub filter: String,
    /// A message for the user.
    pub notice: Option<Notice>,
    /// Notices given so far (the next one's id).
    pub notices: u64,
    /// How long a notice stays when nothing ends it sooner.
    pub notice_life: std::time::Duration,
    /// The terminal size.
    pub size: (u16, u16),
    /// Mouse capture on.
    pub mouse: bool,
    /// Set to leave.
    pub quit: bool,
    /// Which key runs which command.
    pub keymap: Keymap,
    /// Colours and styles of every pane.
    pub theme: Theme,
    /// The store, for the title bar.
    pub store_label: String,
}

/// What identifies an activity row across reloads: its kind, its id, and a skip's workflow.
pub type RowKey = (u8, i64, String);

/// A row of the workflows list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ListRow<'a> {
    /// A group header (an event name, or "endpoints").
    Header(&'a str),
    /// A definition.
    Item(&'a DefinitionItem),
}

impl State {
    /// A fresh state.
    pub fn new(keymap: Keymap, theme: Theme, mouse: bool, store_label: String) -> State {
        State {
            focus: Focus::Workflows,
            mode: InputMode::Normal,
            overlay: None,
            definitions: Vec::new(),
            selected_def: None,
            steps: Vec::new(),
            steps_of: None,
            step_selected: 0,
            steps_error: None,
            params: Params::none(),
            run: None,
            vars_expanded: false,
            vars_scroll: 0,
            breakpoints: Vec::new(),
            debug: None,
            watches: Vec::new(),
            cursor: None,
            marked: None,
            prompt: None,
            activity: Vec::new(),
            activity_selected: 0,
            activity_anchor: None,
            activity_new: 0,
            filter: String::new(),
            notice: None,
            notices: 0,
            notice_life: std::time::Duration::from_secs(6),
            size: (120, 40),
            mouse,
            quit: false,
            keymap,
            theme,
            store_label,
        }
    }

    /// The definitions that pass the filter, workflows grouped by event, then endpoints.
    pub fn visible_definitions(&self) -> Vec<&DefinitionItem> {
        let f = self.filter.to_lowercase();
        let mut items: Vec<&DefinitionItem> = self
            .definitions
            .iter()
            .filter(|d| {
                f.is_empty()
                    || d.row.name.to_lowercase().contains(&f)
                    || d.row
                        .on_event
                        .as_deref()
                        .is_some_and(|e| e.to_lowercase().contains(&f))
            })
            .collect();
        items.sort_by(|a, b| {
            let key = |d: &DefinitionItem| {
                (
                    d.row.kind == DefinitionKind::Endpoint,
                    d.row.on_event.clone().unwrap_or_default(),
                    d.row.name.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        items
    }

    /// The workflows list as drawn: headers and items.
    pub fn list_rows(&self) -> Vec<ListRow<'_>> {
        let mut rows = Vec::new();
        let mut group: Option<String> = None;
        for item in self.visible_definitions() {
            let g = match item.row.kind {
                DefinitionKind::Workflow => item.row.on_event.clone().unwrap_or_default(),
                DefinitionKind::Endpoint => "endpoints".to_string(),
            };
            if group.as_deref() != Some(g.as_str()) {
                rows.push(ListRow::Header(match item.row.kind {
                    DefinitionKind::Workflow => item.row.on_event.as_deref().unwrap_or(""),
                    DefinitionKind::Endpoint => "endpoints",
                }));
                group = Some(g);
            }
            rows.push(ListRow::Item(item));
        }
        rows
    }

    /// The selected definition.
    pub fn selected(&self) -> Option<&DefinitionItem> {
        let id = self.selected_def?;
        self.definitions.iter().find(|d| d.row.id == id)
    }

    /// The activity rows that pass the filter.
    pub fn visible_activity(&self) -> Vec<&ActivityRow> {
        if self.filter.is_empty() {
            return self.activity.iter().collect();
        }
        self.activity
            .iter()
            .filter(|r| r.matches(&self.filter))
            .collect()
    }

    /// The id of the selected step line, if it is a step.
    pub fn selected_step_id(&self) -> Option<&str> {
        match &self.steps.get(self.step_selected)?.kind {
            StepLineKind::Step { id, .. } => Some(id),
            StepLineKind::Label(_) => None,
        }
    }

    /// Say something at the bottom.
    pub fn notify(&mut self, text: impl Into<String>) {
        self.say(text.into(), false, None);
    }

    /// Say something went wrong.
    pub fn warn(&mut self, text: impl Into<String>) {
        self.say(text.into(), true, None);
    }

    /// Say something; `about` ties it to a workflow's active state.
    pub fn say(&mut self, text: String, error: bool, about: Option<(i64, bool)>) {
        self.notices += 1;
        self.notice = Some(Notice {
            text,
            error,
            id: self.notices,
            about,
            keys: None,
        });
    }

    /// Say something, with the keys that act on it.
    pub fn notify_with_keys(&mut self, text: String, keys: String) {
        self.say(text, false, None);
        if let Some(n) = &mut self.notice {
            n.keys = Some(keys);
        }
    }

    /// `n step · s into`: the keys of commands with their short titles, as the user has
    /// them.
    pub fn hint(&self, cmds: &[super::commands::Cmd]) -> String {
        cmds.iter()
            .map(|c| format!("{} {}", self.key(*c), super::commands::info(*c).title))
            .collect::<Vec<_>>()
            .join(" · ")
    }

    /// The key of a command as the user has it (the first, when it has several), for
    /// messages that say what to press; the palette name when no key is bound.
    pub fn key(&self, cmd: super::commands::Cmd) -> String {
        match self.keymap.keys(cmd).first() {
            Some(k) => k.to_string(),
            None => format!(":{}", super::commands::info(cmd).name),
        }
    }

    /// Where keys are looked up now, most specific first.
    pub fn contexts(&self) -> Vec<super::commands::Context> {
        use super::commands::Context as C;
        match (&self.overlay, self.mode) {
            (Some(Overlay::Trace(_)), _) => vec![C::Trace, C::Overlay],
            (Some(Overlay::Confirm(_)), _) => vec![C::Confirm, C::Overlay],
            (Some(Overlay::Cascade(_)), _) => vec![C::Cascade, C::Overlay],
            (Some(Overlay::Tests(_)), _) => vec![C::Tests, C::Overlay],
            (Some(_), _) => vec![C::Overlay],
            (None, InputMode::Editing) => vec![C::Editor],
            (None, InputMode::Filtering | InputMode::Prompting) => vec![C::Overlay],
            (None, InputMode::Normal) => {
                let pane = match self.focus {
                    Focus::Workflows => C::Workflows,
                    Focus::Steps => C::Steps,
                    Focus::Params => C::Params,
                    Focus::Variables => C::Variables,
                    Focus::Activity => C::Activity,
                };
                // the debugger's keys are always theirs: without a debug run they say so,
                // rather than doing nothing
                vec![pane, C::Debug, C::Global]
            }
        }
    }

    /// Whether the narrow layout is in use (secondary panes hidden).
    pub fn narrow(&self) -> bool {
        self.size.0 < 110 || self.size.1 < 30
    }
}

#[cfg(test)]
mod editor_tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    #[test]
    fn arrows_move_in_the_editor() {
        let mut p = Params::new(
            Some("w".into()),
            DefinitionKind::Workflow,
            None,
            "{\n  \"sku\": 1\n}",
        );
        p.editor
            .input(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE));
        p.editor
            .input(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE));
        assert_eq!(p.editor.cursor().0, 2, "{:?}", p.editor.cursor());
    }
}
