//! Second goes and comparisons in the studio: run the selected run again, mark a run and
//! compare another with it side by side, pin it, an event's cascade as a tree.

use super::UiEffect;
use crate::engine::rerun::RerunFrom;
use crate::model::RunRecord;
use crate::tui::commands::Cmd;
use crate::tui::input::ParamsCheck;
use crate::tui::state::{CascadeLine, Focus, Overlay, State};

/// `R`, `M`, `D` and `P`.
pub(super) fn run(state: &mut State, cmd: Cmd) -> Vec<UiEffect> {
    if let Some(Overlay::Trace(t)) = &state.overlay
        && let Some(case) = &t.case
    {
        let text = format!(
            "this run is test case {case:?}'s, in the test's own world: {} runs the tests again",
            state.key(Cmd::RunTests)
        );
        state.warn(text);
        return Vec::new();
    }
    match cmd {
        Cmd::Rerun => rerun(state),
        Cmd::MarkRun => mark(state),
        Cmd::CompareRuns => compare(state),
        Cmd::PinRun => match looked_at(state).map(|r| r.id) {
            Some(run_id) => vec![UiEffect::TogglePin { run_id }],
            None => {
                no_run(state);
                Vec::new()
            }
        },
        _ => Vec::new(),
    }
}

/// The run the user looks at: the open trace's; in the activity log, the selected row's
/// (even before its steps have loaded); else the one the variables pane shows.
pub(super) fn looked_at(state: &State) -> Option<&RunRecord> {
    match &state.overlay {
        Some(Overlay::Trace(t)) => Some(&t.run),
        _ if state.focus == Focus::Activity => state
            .visible_activity()
            .get(state.activity_selected)
            .and_then(|r| r.run())
            .or(state.run.as_ref()),
        _ => state.run.as_ref(),
    }
}

pub(super) fn no_run(state: &mut State) {
    let text = format!(
        "no run selected: pick one in the activity log ({} emits, {} runs the draft)",
        state.key(Cmd::Emit),
        state.key(Cmd::DebugRun)
    );
    state.warn(text);
}

/// The breakpoints the studio shows, when they are those of `run`'s definition.
fn breakpoints_of(state: &State, run_id: i64) -> Vec<crate::model::breakpoint::Breakpoint> {
    let of_run = looked_at(state)
        .filter(|r| r.id == run_id)
        .or(state.run.as_ref().filter(|r| r.id == run_id))
        .map(|r| r.target.name().to_string());
    match (of_run, state.selected()) {
        (Some(name), Some(d)) if d.row.name == name => state.breakpoints.clone(),
        _ => Vec::new(),
    }
}

/// From the trace's selected step, or the time-travel cursor's record, with the state the
/// record had (stopped there, to look first); else from the start with the params on the
/// right when they are the run's definition's (else its own).
fn rerun(state: &mut State) -> Vec<UiEffect> {
    let from_record = match &state.overlay {
        Some(Overlay::Trace(t)) => t
            .run
            .steps
            .as_ref()
            .and_then(|s| s.get(t.selected))
            .map(|r| (t.run.id, r.seq, r.step.clone())),
        _ => state.cursor.and_then(|i| {
            let run = state.run.as_ref()?;
            run.steps
                .as_ref()?
                .get(i)
                .map(|r| (run.id, r.seq, r.step.clone()))
        }),
    };
    if let Some((run_id, seq, step)) = from_record {
        let breakpoints = breakpoints_of(state, run_id);
        state.overlay = None;
        state.cursor = None;
        state.notify(format!("running run #{run_id} again from {step}…"));
        return vec![UiEffect::Rerun {
            run_id,
            from: RerunFrom::Record(seq),
            params: None,
            stop_on_entry: true,
            breakpoints,
        }];
    }
    let Some(run) = looked_at(state) else {
        no_run(state);
        return Vec::new();
    };
    let run_id = run.id;
    let params = match &state.params.check {
        ParamsCheck::Valid(v) if state.params.definition.as_deref() == Some(run.target.name()) => {
            Some(v.clone())
        }
        _ => None,
    };
    let with = if params.is_some() {
        "the params on the right"
    } else {
        "its own params"
    };
    let breakpoints = breakpoints_of(state, run_id);
    state.notify(format!("running run #{run_id} again with {with}…"));
    vec![UiEffect::Rerun {
        run_id,
        from: RerunFrom::Start,
        params,
        stop_on_entry: false,
        breakpoints,
    }]
}

fn mark(state: &mut State) -> Vec<UiEffect> {
    let Some(id) = looked_at(state).map(|r| r.id) else {
        no_run(state);
        return Vec::new();
    };
    state.marked = Some(id);
    let text = format!(
        "run #{id} marked: select another run and press {} to compare",
        state.key(Cmd::CompareRuns)
    );
    state.notify(text);
    Vec::new()
}

fn compare(state: &mut State) -> Vec<UiEffect> {
    let Some(a) = state.marked else {
        let text = format!(
            "mark a run first ({} on it), then select another and press {}",
            state.key(Cmd::MarkRun),
            state.key(Cmd::CompareRuns)
        );
        state.warn(text);
        return Vec::new();
    };
    let Some(b) = looked_at(state).map(|r| r.id) else {
        no_run(state);
        return Vec::new();
    };
    if a == b {
        state.warn(format!(
            "run #{a} is the marked one: select another run to compare with it"
        ));
        return Vec::new();
    }
    vec![UiEffect::CompareRuns { a, b }]
}

/// `enter` in the cascade tree: a run's trace.
pub(super) fn open_in_cascade(state: &mut State) -> Vec<UiEffect> {
    let Some(Overlay::Cascade(c)) = &state.overlay else {
        return Vec::new();
    };
    match c.lines.get(c.selected).map(|(_, l)| l) {
        Some(CascadeLine::Run(run)) => vec![UiEffect::OpenTrace(run.id)],
        Some(CascadeLine::Skip {
            workflow, reason, ..
        }) => {
            let text = format!("{workflow} did not run: {reason}");
            state.notify(text);
            Vec::new()
        }
        _ => {
            state.notify("select a run (a line under an event) to open its trace");
            Vec::new()
        }
    }
}
