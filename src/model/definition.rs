//! Workflows and endpoints: the definitions a project is made of.

use super::step::{Retry, Step, steps_json};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// Whether a definition is a workflow or an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DefinitionKind {
    /// Listens to one event.
    Workflow,
    /// Answers one HTTP method and path.
    Endpoint,
}

impl DefinitionKind {
    /// The kind as stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            DefinitionKind::Workflow => "workflow",
            DefinitionKind::Endpoint => "endpoint",
        }
    }

    /// Parse the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "workflow" => Some(DefinitionKind::Workflow),
            "endpoint" => Some(DefinitionKind::Endpoint),
            _ => None,
        }
    }
}

impl fmt::Display for DefinitionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event-based workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The one event it listens to.
    pub on: String,
    /// Whether it runs on events (the toggle; the store's value wins after the first import).
    pub active: bool,
    /// Lets the workflow be triggered by its own cascade.
    pub allow_self_trigger: bool,
    /// Default retry of its `http`, `db.*` and `emit` steps.
    pub retry: Option<Retry>,
    /// Maximum number of its runs at once in one process.
    pub concurrency: Option<u32>,
    /// The steps.
    pub steps: Vec<Step>,
}

/// An HTTP API endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// Optional name, for people.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// HTTP method, upper case.
    pub method: String,
    /// Path, with `{name}` segments.
    pub path: String,
    /// Default retry of its `http`, `db.*` and `emit` steps.
    pub retry: Option<Retry>,
    /// The steps.
    pub steps: Vec<Step>,
}

/// A workflow or an endpoint.
#[derive(Debug, Clone, PartialEq)]
pub enum Definition {
    /// A workflow.
    Workflow(Workflow),
    /// An endpoint.
    Endpoint(Endpoint),
}

impl Definition {
    /// Workflow or endpoint.
    pub fn kind(&self) -> DefinitionKind {
        match self {
            Definition::Workflow(_) => DefinitionKind::Workflow,
            Definition::Endpoint(_) => DefinitionKind::Endpoint,
        }
    }

    /// The key it is stored and addressed by: the workflow name, or `METHOD /path`.
    pub fn key(&self) -> String {
        match self {
            Definition::Workflow(w) => w.name.clone(),
            Definition::Endpoint(e) => endpoint_key(&e.method, &e.path),
        }
    }

    /// The steps.
    pub fn steps(&self) -> &[Step] {
        match self {
            Definition::Workflow(w) => &w.steps,
            Definition::Endpoint(e) => &e.steps,
        }
    }

    /// The definition-wide retry policy.
    pub fn retry(&self) -> Option<Retry> {
        match self {
            Definition::Workflow(w) => w.retry,
            Definition::Endpoint(e) => e.retry,
        }
    }

    /// Canonical JSON, without the `active` toggle (which the store keeps).
    ///
    /// Two definitions with the same canonical JSON behave the same; this is what
    /// "draft changed" compares and what deployed versions hold.
    pub fn canonical_json(&self) -> Value {
        let mut map = Map::new();
        let mut put = |k: &str, v: Value| {
            map.insert(k.to_string(), v);
        };
        match self {
            Definition::Workflow(w) => {
                put("name", w.name.clone().into());
                if let Some(d) = &w.description {
                    put("description", d.clone().into());
                }
                put("on", w.on.clone().into());
                if w.allow_self_trigger {
                    put("allow_self_trigger", true.into());
                }
                if let Some(r) = &w.retry {
                    put("retry", serde_json::to_value(r).unwrap_or(Value::Null));
                }
                if let Some(c) = w.concurrency {
                    put("concurrency", c.into());
                }
                put("steps", steps_json(&w.steps));
            }
            Definition::Endpoint(e) => {
                if let Some(n) = &e.name {
                    put("name", n.clone().into());
                }
                if let Some(d) = &e.description {
                    put("description", d.clone().into());
                }
                put("method", e.method.clone().into());
                put("path", e.path.clone().into());
                if let Some(r) = &e.retry {
                    put("retry", serde_json::to_value(r).unwrap_or(Value::Null));
                }
                put("steps", steps_json(&e.steps));
            }
        }
        Value::Object(map)
    }
}

/// The key of an endpoint: `METHOD /path`.
pub fn endpoint_key(method: &str, path: &str) -> String {
    format!("{} {}", method.to_ascii_uppercase(), path)
}
