//! What the engine records: events, runs, step records and listener skips (their JSON: docs/contracts.md).

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A value as compact JSON text, the way records store it. Written straight into a byte
/// buffer: `Value::to_string` goes through `fmt` and costs about three times as much.
pub fn json_text(value: &Value) -> String {
    // a Value always serializes (its map keys are strings)
    serde_json::to_string(value).unwrap_or_else(|_| value.to_string())
}

/// A JSON value shared by the records that hold it: an event's params and the params of
/// its runs are one value in memory, however many records carry them, built only as far
/// as they are read.
pub type SharedJson = Arc<super::LazyJson>;

/// A moment, in microseconds since the Unix epoch; printed as RFC 3339.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Now, by the system clock.
    pub fn now() -> Self {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        Timestamp(micros)
    }

    /// Microseconds since the epoch.
    pub fn micros(self) -> i64 {
        self.0
    }

    /// The time as a [`SystemTime`].
    pub fn system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(u64::try_from(self.0).unwrap_or(0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}",
            humantime::format_rfc3339_millis(self.system_time())
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339_micros(self.system_time()))
    }
}

/// The state of a run: `queued → running → (paused ↔ running) → succeeded | failed | cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Waiting for a worker.
    Queued,
    /// Taken up by a worker and executing its steps.
    Running,
    /// Stopped at a breakpoint (debug runs).
    Paused,
    /// Ended well.
    Succeeded,
    /// Ended with an error.
    Failed,
    /// Stopped by a user.
    Cancelled,
}

impl RunStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Paused,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ];

    /// The stored and printed form.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Paused => "paused",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// Parse the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the run has ended.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled
        )
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a run exists: live traffic, a debug session, or a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunMode {
    /// The deployed version, on an event or request.
    Live,
    /// A draft (or a version on request), run by a developer.
    Debug,
    /// A rerun of recorded history.
    Replay,
}

impl RunMode {
    /// The stored and printed form.
    pub fn as_str(self) -> &'static str {
        match self {
            RunMode::Live => "live",
            RunMode::Debug => "debug",
            RunMode::Replay => "replay",
        }
    }

    /// Parse the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "live" => Some(RunMode::Live),
            "debug" => Some(RunMode::Debug),
            "replay" => Some(RunMode::Replay),
            _ => None,
        }
    }
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord {
    /// Store id.
    pub id: i64,
    /// Event name.
    pub name: String,
    /// Parameters (a JSON object).
    pub params: SharedJson,
    /// Who emitted it: `cli`, `studio`, `http`, `workflow:<name>`, `endpoint:<METHOD /path>`.
    pub source: String,
    /// The run whose `emit` step created it.
    pub parent_run: Option<i64>,
    /// 0 for an event from outside, parent's depth + 1 for an event emitted by a run.
    pub depth: u32,
    /// When it was recorded.
    pub emitted_at: Timestamp,
    /// The recorded event this one replays (`flowdeck replay`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_of: Option<i64>,
}

/// What a run executes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunTarget {
    /// A workflow, by name.
    Workflow(String),
    /// An endpoint, by `METHOD /path`.
    Endpoint(String),
}

impl RunTarget {
    /// The workflow name or endpoint key.
    pub fn name(&self) -> &str {
        match self {
            RunTarget::Workflow(n) | RunTarget::Endpoint(n) => n,
        }
    }
}

/// A recorded run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    /// Store id.
    pub id: i64,
    /// The workflow or endpoint.
    #[serde(flatten)]
    pub target: RunTarget,
    /// Deployed version run; `None` for a draft.
    pub version: Option<i64>,
    /// The event that triggered it (workflows).
    pub event_id: Option<i64>,
    /// Live, debug or replay.
    pub mode: RunMode,
    /// Where it is in its life.
    pub status: RunStatus,
    /// `$param` (workflows) or the request (endpoints).
    pub params: SharedJson,
    /// The `return` value.
    pub output: Option<Value>,
    /// Why it failed.
    pub error: Option<String>,
    /// When it was queued.
    pub queued_at: Timestamp,
    /// When it started.
    pub started_at: Option<Timestamp>,
    /// When it ended.
    pub finished_at: Option<Timestamp>,
    /// Executions of the whole run (more than 1 after a process died mid-run).
    pub attempt: u32,
    /// The run this one runs again (`flowdeck rerun`, the studio's rerun).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerun_of: Option<i64>,
    /// The step it started at, when it did not start at the first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_step: Option<String>,
    /// Step records, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepRecord>>,
}

impl RunRecord {
    /// Time from start to end, when both are known.
    pub fn duration(&self) -> Option<Duration> {
        let (s, f) = (self.started_at?, self.finished_at?);
        Some(Duration::from_micros(u64::try_from(f.0 - s.0).unwrap_or(0)))
    }

    /// What an endpoint's finished run answered, its HTTP status and body, as `response`
    /// gives them (the status of the `return` step it ended at). `None` for workflows and
    /// for runs not finished.
    pub fn response(&self) -> Option<(u16, Value)> {
        if !matches!(self.target, RunTarget::Endpoint(_)) || !self.status.is_finished() {
            return None;
        }
        let status = self
            .steps
            .as_deref()
            .unwrap_or_default()
            .iter()
            .rev()
            .find(|s| s.action == "return" && s.status == StepStatus::Succeeded)
            .and_then(|s| s.input.get("status"))
            .and_then(Value::as_u64)
            .and_then(|n| u16::try_from(n).ok());
        Some(response(
            self.id,
            self.status,
            status,
            self.output.as_ref(),
            self.error.as_deref(),
        ))
    }
}

/// The HTTP answer of an endpoint's run that ended with `status`: a success answers with
/// the `return` step's status (200 when it gives none) and its value; anything else with
/// 500 and `{"error", "run_id"}`, never a stack trace.
pub(crate) fn response(
    run_id: i64,
    status: RunStatus,
    http_status: Option<u16>,
    output: Option<&Value>,
    error: Option<&str>,
) -> (u16, Value) {
    match status {
        RunStatus::Succeeded => (
            http_status.unwrap_or(200),
            output.cloned().unwrap_or(Value::Null),
        ),
        _ => (
            500,
            serde_json::json!({ "error": error.unwrap_or_default(), "run_id": run_id }),
        ),
    }
}

/// The state of one step record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// The step did its work.
    Succeeded,
    /// The step failed (this attempt).
    Failed,
}

impl StepStatus {
    /// The stored and printed form.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
        }
    }
}

/// One executed step of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    /// Order of starting within the run, from 1.
    pub seq: u32,
    /// The step id.
    pub step: String,
    /// JSON pointer of the step in its definition (`/steps/1/then/0`).
    pub path: String,
    /// The action name.
    pub action: String,
    /// Succeeded or failed.
    pub status: StepStatus,
    /// The step's evaluated fields.
    pub input: Value,
    /// What the step produced.
    pub output: Value,
    /// Why it failed.
    pub error: Option<String>,
    /// `$var` after the step; `None` when unchanged since the previous record.
    pub vars: Option<Value>,
    /// When it started.
    pub started_at: Timestamp,
    /// How long it took, in microseconds (compound steps include their bodies).
    pub duration_us: u64,
    /// Which attempt this is, from 1.
    pub attempt: u32,
    /// For steps inside `foreach`: the item index of each enclosing loop, outermost first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub iteration: Vec<usize>,
}

/// `$var` as it was after the last of `records` (a run's records in order): records keep
/// `vars` only when they changed, so this is the newest one that has them; `{}` before any.
pub(crate) fn vars_after(records: &[StepRecord]) -> Value {
    records
        .iter()
        .rev()
        .find_map(|s| s.vars.clone())
        .unwrap_or_else(|| Value::Object(serde_json::Map::new()))
}

/// A listener of an event that did not run, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkipRecord {
    /// The event.
    pub event_id: i64,
    /// The workflow that did not run.
    pub workflow: String,
    /// Why, in words: `inactive`, `not deployed`, `loop: a → b → a`, `max depth`.
    pub reason: String,
}
