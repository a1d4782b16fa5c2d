//! Breakpoints: where a debug run stops. Kept per workflow in the store.

use serde::{Deserialize, Serialize};

/// Where to stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Breakpoint {
    /// Before a step, when its condition (a jq expression over the run's variables) holds.
    Step {
        /// Step id.
        step: String,
        /// Condition, e.g. `$var.rows[0].stock < 10`.
        condition: Option<String>,
    },
    /// Before an `emit` of this event.
    Emit {
        /// Event name.
        event: String,
    },
    /// After a step fails (before a `catch` or the end of the run).
    Failure,
}

impl Breakpoint {
    /// A breakpoint on a step, without a condition.
    pub fn step(id: impl Into<String>) -> Self {
        Breakpoint::Step {
            step: id.into(),
            condition: None,
        }
    }
}

impl Breakpoint {
    /// The kind as stored: `step`, `emit` or `failure`.
    pub fn kind(&self) -> &'static str {
        match self {
            Breakpoint::Step { .. } => "step",
            Breakpoint::Emit { .. } => "emit",
            Breakpoint::Failure => "failure",
        }
    }

    /// The step id or event name (empty for failures).
    pub fn target(&self) -> &str {
        match self {
            Breakpoint::Step { step, .. } => step,
            Breakpoint::Emit { event } => event,
            Breakpoint::Failure => "",
        }
    }

    /// Rebuild from the stored columns.
    pub fn from_parts(kind: &str, target: &str, condition: Option<String>) -> Option<Breakpoint> {
        match kind {
            "step" => Some(Breakpoint::Step {
                step: target.to_string(),
                condition,
            }),
            "emit" => Some(Breakpoint::Emit {
                event: target.to_string(),
            }),
            "failure" => Some(Breakpoint::Failure),
            _ => None,
        }
    }
}
