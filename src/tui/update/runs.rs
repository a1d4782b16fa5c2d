//! Commands that start or change something: the toggle, emit and call, a debug run, deploy
//! (after its confirm), and opening a run's trace.

use super::{DebugTarget, UiEffect};
use crate::model::DefinitionKind;
use crate::tui::commands::Cmd;
use crate::tui::data::ActivityRow;
use crate::tui::input::ParamsCheck;
use crate::tui::state::{Confirm, Focus, Overlay, State, WhatIfState};

/// Switch the selected workflow on or off.
pub(super) fn toggle(state: &mut State) -> Vec<UiEffect> {
    match state.selected() {
        Some(item) if item.row.kind == DefinitionKind::Workflow => vec![UiEffect::Toggle {
            def_id: item.row.id,
            name: item.row.name.clone(),
            active: !item.row.active,
        }],
        Some(item) => {
            let name = item.row.name.clone();
            state.warn(format!(
                "{name} is an endpoint: only workflows have an active toggle"
            ));
            Vec::new()
        }
        None => Vec::new(),
    }
}

/// `x` and `r` on the selected definition: for a workflow, emit its event (every listener
/// runs) or run its draft under the debugger; for an endpoint, call its live version or run
/// its draft under the debugger, with the request in the params pane.
pub(super) fn start(state: &mut State, cmd: Cmd) -> Vec<UiEffect> {
    let Some(item) = state.selected().cloned() else {
        state.warn("select a workflow or an endpoint first");
        return Vec::new();
    };
    if !state.params.loaded {
        // the params are on their way: run when they arrive
        state.params.pending = Some(cmd);
        return Vec::new();
    }
    let input = match &state.params.check {
        ParamsCheck::Valid(v) => v.clone(),
        ParamsCheck::Invalid {
            line,
            column,
            message,
        } => {
            let (what, them) = match state.params.kind {
                DefinitionKind::Workflow => ("the params are", "them"),
                DefinitionKind::Endpoint => ("the request is", "it"),
            };
            let text = format!(
                "{what} not valid ({line}:{column} {message}); {} edits {them}",
                state.key(Cmd::EditParams)
            );
            state.warn(text);
            return Vec::new();
        }
    };
    let row = item.row;
    let mut fx = super::editor::save(state);
    match (row.kind, cmd) {
        (DefinitionKind::Workflow, Cmd::Emit) => {
            let event = row.on_event.unwrap_or_default();
            state.notify(format!("emitting {event}…"));
            fx.push(UiEffect::Emit {
                event,
                params: input,
            });
        }
        (DefinitionKind::Endpoint, Cmd::Emit) => {
            if row.live_version.is_none() {
                state.warn(format!(
                    "{} was never deployed: {} runs its draft, {} deploys it",
                    row.name,
                    state.key(Cmd::DebugRun),
                    state.key(Cmd::Deploy)
                ));
                return fx;
            }
            state.notify(format!("calling {}…", row.name));
            fx.push(UiEffect::Call {
                endpoint: row.name,
                request: input,
            });
        }
        (kind, _) => {
            let target = match kind {
                DefinitionKind::Workflow => DebugTarget::Workflow {
                    name: row.name,
                    params: input,
                },
                DefinitionKind::Endpoint => DebugTarget::Endpoint {
                    name: row.name,
                    request: input,
                },
            };
            fx.extend(crate::tui::debugging::start(state, target));
        }
    }
    fx
}

/// `d` opens the deploy confirm (what changed first); `y` there deploys.
pub(super) fn deploy(state: &mut State, cmd: Cmd) -> Vec<UiEffect> {
    if cmd == Cmd::Deploy {
        let Some(item) = state.selected().cloned() else {
            state.warn("select a workflow or an endpoint to deploy");
            return Vec::new();
        };
        state.overlay = Some(Overlay::Confirm(Confirm {
            def_id: item.row.id,
            name: item.row.name.clone(),
            live_version: item.row.live_version,
            changes: None,
            what_if: WhatIfState::NotAsked,
        }));
        return vec![UiEffect::LoadDiff(item.row.id)];
    }
    let Some(Overlay::Confirm(c)) = state.overlay.take() else {
        return Vec::new();
    };
    match &c.changes {
        Some(Ok(changes)) if changes.is_empty() => {
            state.notify(format!("{} is already live: nothing to deploy", c.name));
            Vec::new()
        }
        Some(Ok(_)) => vec![UiEffect::Deploy {
            def_id: c.def_id,
            name: c.name,
        }],
        // not compared yet, or the comparison failed: nothing is deployed unseen
        _ => {
            state.overlay = Some(Overlay::Confirm(c));
            Vec::new()
        }
    }
}

/// `w` in the deploy confirm: what the draft would have done with the events that came in.
pub(super) fn what_if(state: &mut State) -> Vec<UiEffect> {
    let Some(Overlay::Confirm(c)) = &mut state.overlay else {
        return Vec::new();
    };
    let is_workflow = state
        .definitions
        .iter()
        .any(|d| d.row.id == c.def_id && d.row.kind == DefinitionKind::Workflow);
    if !is_workflow {
        c.what_if = WhatIfState::Done(Err(
            "what-if replays events: it is for workflows, not endpoints".into(),
        ));
        return Vec::new();
    }
    c.what_if = WhatIfState::Running;
    vec![UiEffect::WhatIf {
        def_id: c.def_id,
        name: c.name.clone(),
    }]
}

/// Open the selected thing: a workflow's steps, a run's trace, an event's cascade.
pub(super) fn open(state: &mut State) -> Vec<UiEffect> {
    if let Some(Overlay::Cascade(_)) = state.overlay {
        return super::compare::open_in_cascade(state);
    }
    if let Some(Overlay::Tests(_)) = state.overlay {
        return super::tests::open_case(state);
    }
    match state.focus {
        Focus::Workflows => {
            state.focus = Focus::Steps;
            Vec::new()
        }
        Focus::Activity => match state.visible_activity().get(state.activity_selected) {
            Some(ActivityRow::Run { run, .. }) => vec![UiEffect::OpenTrace(run.id)],
            Some(ActivityRow::Event(e)) => vec![UiEffect::OpenCascade(e.id)],
            Some(ActivityRow::Skip(s)) => {
                let text = format!("{} did not run: {}", s.workflow, s.reason);
                state.notify(text);
                Vec::new()
            }
            None => Vec::new(),
        },
        _ => Vec::new(),
    }
}
