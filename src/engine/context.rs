//! What a run knows about itself and its inputs.

use super::tracker::Tracker;
use crate::model::{DefinitionKind, RunMode, SharedJson};
use serde_json::Value;
use std::sync::Arc;

/// The event a workflow run handles, as far as dispatching its own emits needs.
#[derive(Debug, Clone, PartialEq)]
pub struct EventContext {
    /// The event (`None` for a debug run started by hand).
    pub id: Option<i64>,
    /// Workflows that led to the event.
    pub chain: Vec<String>,
    /// Its depth.
    pub depth: u32,
}

/// A run being executed.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// Store id.
    pub run_id: i64,
    /// Workflow or endpoint.
    pub kind: DefinitionKind,
    /// Workflow name or `METHOD /path`.
    pub name: String,
    /// The version it runs (`None`: the draft). The events it emits run their listeners'
    /// drafts when it is a draft, their live versions when it is a deployed version: a
    /// cascade stays in the world it started in.
    pub version: Option<i64>,
    /// Live, debug or replay.
    pub mode: RunMode,
    /// The event (workflows).
    pub event: Option<EventContext>,
    /// The cascade this run belongs to, for waiting on it.
    pub tracker: Option<super::tracker::Tracker>,
    /// Taken up again after the process running it died: its steps' effects may have
    /// happened already, and those known to have are not done again.
    pub resumed: bool,
}

impl RunContext {
    /// The tracker, if any.
    pub fn tracker(&self) -> Option<&Tracker> {
        self.tracker.as_ref()
    }
}

/// The values a run starts from (`$param`, `$body`, …, `$event`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    /// `$param` (shared by an event's runs, built only as far as they read it).
    pub param: SharedJson,
    /// `$body`.
    pub body: Value,
    /// `$query`.
    pub query: Value,
    /// `$headers`.
    pub headers: Value,
    /// `$path`.
    pub path: Value,
    /// `$event` (shared by an event's runs).
    pub event: Arc<Value>,
}

impl Inputs {
    /// Inputs of a workflow run.
    pub fn workflow(param: SharedJson, event: impl Into<Arc<Value>>) -> Self {
        // every field named: `..Default::default()` would allocate two `Arc`s to drop
        Self {
            param,
            event: event.into(),
            body: Value::Null,
            query: Value::Null,
            headers: Value::Null,
            path: Value::Null,
        }
    }

    /// Inputs of an endpoint run from a request `{body, query, headers, path}` (each part
    /// optional: the body `null`, the others empty).
    pub fn request(request: &Value) -> Self {
        let part = |name: &str, empty: Value| request.get(name).cloned().unwrap_or(empty);
        Self {
            body: part("body", Value::Null),
            query: part("query", serde_json::json!({})),
            headers: part("headers", serde_json::json!({})),
            path: part("path", serde_json::json!({})),
            ..Self::default()
        }
    }

    /// What is recorded as the run's `params`: `$param` for workflows, the request for endpoints.
    pub fn recorded(&self, kind: DefinitionKind) -> Value {
        match kind {
            DefinitionKind::Workflow => self.param.whole().clone(),
            DefinitionKind::Endpoint => serde_json::json!({
                "body": self.body,
                "query": self.query,
                "headers": self.headers,
                "path": self.path,
            }),
        }
    }
}
