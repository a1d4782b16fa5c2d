//! View models and the queries that fill them. Every query is bounded (LIMIT, an index, or
//! a small table), so the studio stays fast on stores with millions of events.

use crate::model::{
    Action, Definition, DefinitionKind, EventRecord, RunRecord, RunStatus, SkipRecord, Step,
    parse_definition,
};
use crate::store::Store;
use crate::store::definitions::DefinitionRow;
use serde_json::Value;
use std::path::Path;

/// Events (and runs without an event) in the activity log at first; scrolling to its end
/// reads this many more.
pub const ACTIVITY_WINDOW: u32 = 100;

/// A workflow or endpoint in the list, with its last run.
#[derive(Debug, Clone, PartialEq)]
pub struct DefinitionItem {
    /// The stored row.
    pub row: DefinitionRow,
    /// Status of its newest run.
    pub last_run: Option<RunStatus>,
}

/// Every workflow and endpoint, with the status of each one's newest run.
pub fn definitions(store: &Store) -> crate::store::Result<Vec<DefinitionItem>> {
    store
        .list_definitions()?
        .into_iter()
        .map(|row| {
            let last_run = store.last_run_of(row.id)?.map(|r| r.status);
            Ok(DefinitionItem { row, last_run })
        })
        .collect()
}

/// One line of the steps tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepLine {
    /// Nesting depth.
    pub depth: usize,
    /// A step, or the label of a nested list (`then`, `else`, `catch`).
    pub kind: StepLineKind,
}

/// What a line of the steps tree shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepLineKind {
    /// A step.
    Step {
        /// Step id.
        id: String,
        /// Action name.
        action: &'static str,
        /// The action's key field, summarised.
        key: String,
        /// Where the result goes.
        result: Option<String>,
    },
    /// The label of a nested step list.
    Label(&'static str),
}

fn template_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The key field of a step, on one line.
fn key_field(step: &Step) -> String {
    let text = match &step.action {
        Action::Set(s) => format!("{} ← {}", s.var, template_text(&s.value)),
        Action::If(s) => template_text(&s.cond),
        Action::Foreach(s) => format!("{} as {}", template_text(&s.items), s.item),
        Action::Emit(s) => s.event.clone(),
        Action::DbQuery(s) | Action::DbExec(s) => s.sql.clone(),
        Action::Http(s) => format!("{} {}", s.method, template_text(&s.url)),
        Action::Log(s) => template_text(&s.message),
        Action::Sleep(s) => format!("{} ms", template_text(&s.ms)),
        Action::Try(_) => String::new(),
        Action::Fail(s) => template_text(&s.message),
        Action::Return(s) => match &s.status {
            Some(st) => format!("{} {}", template_text(st), template_text(&s.value)),
            None => template_text(&s.value),
        },
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The steps of a definition as tree lines.
pub fn step_lines(def: &Definition) -> Vec<StepLine> {
    fn walk(steps: &[Step], depth: usize, out: &mut Vec<StepLine>) {
        for s in steps {
            out.push(StepLine {
                depth,
                kind: StepLineKind::Step {
                    id: s.id.clone(),
                    action: s.action.name(),
                    key: key_field(s),
                    result: match &s.action {
                        Action::Set(_) => None,
                        other => other.result_var().map(String::from),
                    },
                },
            });
            let children = s.action.children();
            let labelled = children.len() > 1;
            for (label, list) in children {
                if list.is_empty() && label == "else" {
                    continue;
                }
                if labelled {
                    out.push(StepLine {
                        depth: depth + 1,
                        kind: StepLineKind::Label(label),
                    });
                }
                walk(list, depth + 1 + usize::from(labelled), out);
            }
        }
    }
    let mut out = Vec::new();
    walk(def.steps(), 0, &mut out);
    out
}

/// The draft of a definition, parsed.
pub fn draft(store: &Store, id: i64) -> Result<Definition, String> {
    let row = store.definition(id).map_err(|e| e.to_string())?;
    let body = store.definition_body(id, None).map_err(|e| e.to_string())?;
    parse_definition(&body, Path::new(&row.name), Some(row.kind))
        .definition
        .ok_or_else(|| format!("the stored draft of {} does not parse", row.name))
}

/// The live version of a definition, parsed (None when never deployed).
pub fn live(store: &Store, id: i64) -> Result<Option<Definition>, String> {
    let row = store.definition(id).map_err(|e| e.to_string())?;
    let Some(v) = row.live_version else {
        return Ok(None);
    };
    let body = store
        .definition_body(id, Some(v))
        .map_err(|e| e.to_string())?;
    Ok(parse_definition(&body, Path::new(&row.name), Some(row.kind)).definition)
}

/// One row of the activity log.
#[derive(Debug, Clone, PartialEq)]
pub enum ActivityRow {
    /// An event.
    Event(EventRecord),
    /// A run (under its event, or on its own for endpoint calls and debug runs).
    Run {
        /// The run (without steps).
        run: RunRecord,
        /// Whether it sits under an event.
        nested: bool,
    },
    /// A listener that did not run.
    Skip(SkipRecord),
}

impl ActivityRow {
    /// The run of a run row.
    pub fn run(&self) -> Option<&RunRecord> {
        match self {
            ActivityRow::Run { run, .. } => Some(run),
            _ => None,
        }
    }

    /// What identifies the row across reloads.
    pub fn key(&self) -> super::state::RowKey {
        match self {
            ActivityRow::Event(e) => (0, e.id, String::new()),
            ActivityRow::Run { run, .. } => (1, run.id, String::new()),
            ActivityRow::Skip(s) => (2, s.event_id, s.workflow.clone()),
        }
    }

    /// Whether the row starts an entry of the log (an event, or a run on its own), rather
    /// than sitting under an event.
    pub fn is_entry(&self) -> bool {
        matches!(
            self,
            ActivityRow::Event(_) | ActivityRow::Run { nested: false, .. }
        )
    }

    /// Text the filter matches against.
    pub fn matches(&self, filter: &str) -> bool {
        let f = filter.to_lowercase();
        match self {
            ActivityRow::Event(e) => e.name.to_lowercase().contains(&f),
            ActivityRow::Run { run, .. } => run.target.name().to_lowercase().contains(&f),
            ActivityRow::Skip(s) => s.workflow.to_lowercase().contains(&f),
        }
    }
}

/// The newest activity, newest first: each event followed by its runs and skips; runs
/// without an event on their own.
/// Returns the rows and whether the window was full (older events exist beyond it).
/// With a `filter`, the newest matches in the whole store (`Store::activity_matching`).
pub fn activity(
    store: &Store,
    filter: &str,
    window: u32,
) -> crate::store::Result<(Vec<ActivityRow>, bool)> {
    let a = if filter.is_empty() {
        store.activity(window)?
    } else {
        store.activity_matching(filter, window)?
    };
    let full = a.events.len() >= window as usize;
    let mut events = a.events.into_iter().peekable();
    let mut loose = a.loose_runs.into_iter().peekable();
    let mut rows = Vec::new();
    loop {
        let take_event = match (events.peek(), loose.peek()) {
            (Some(e), Some(r)) => e.event.emitted_at >= r.queued_at,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if take_event {
            if let Some(e) = events.next() {
                rows.push(ActivityRow::Event(e.event));
                rows.extend(
                    e.runs
                        .into_iter()
                        .map(|run| ActivityRow::Run { run, nested: true }),
                );
                rows.extend(e.skipped.into_iter().map(ActivityRow::Skip));
            }
        } else if let Some(run) = loose.next() {
            rows.push(ActivityRow::Run { run, nested: false });
        }
    }
    Ok((rows, full))
}

/// What to start from in the params pane: the last used; else, for a workflow, the params
/// of the newest event it listens to, and for an endpoint (with its `route`) the request of
/// its newest run; else `{}`, or an empty request with the route's path segments to fill.
pub fn params(store: &Store, definition: &str, event: Option<&str>, route: Option<&str>) -> String {
    if let Ok(Some(saved)) = store.ui_get(&params_key(definition)) {
        return saved;
    }
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_else(|_| "{}".into());
    if let Some(route) = route {
        let last = store
            .find_definition(DefinitionKind::Endpoint, definition)
            .ok()
            .flatten()
            .and_then(|row| store.last_run_of(row.id).ok().flatten());
        return match last {
            Some(run) => pretty(&run.params),
            None => super::input::request_template(route),
        };
    }
    if let Some(name) = event
        && let Ok(events) = store.list_events(&crate::store::events::EventFilter {
            name: Some(name.to_string()),
            limit: 1,
            before: None,
        })
        && let Some(e) = events.first()
    {
        return pretty(&e.params);
    }
    "{}".to_string()
}

/// The `ui_state` key of a workflow's params (or an endpoint's request).
pub fn params_key(definition: &str) -> String {
    format!("params:{definition}")
}

/// Whether a definition is a workflow.
pub fn is_workflow(item: &DefinitionItem) -> bool {
    item.row.kind == DefinitionKind::Workflow
}
