//! The seam between a run's logic and the world: every side effect a step can have goes
//! through [`Effects`], which the interpreter is handed. The live engine performs them
//! ([`super::core::Core`]); what-if holds writes back and answers from the record
//! ([`super::what_if`]); tests of workflows mock them. The interpreter knows nothing else
//! of the engine.

use super::context::RunContext;
use crate::model::Timestamp;
use crate::store::data::ExecResult;
use serde_json::{Map, Value};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Which step of which run asks: what makes an effect identifiable (a what-if answers a
/// step's request from the same step's record; an effect done once is known by it).
#[derive(Debug, Clone, Copy)]
pub struct StepRef<'a> {
    /// The run.
    pub run: &'a RunContext,
    /// The step's id.
    pub step: &'a str,
    /// The step's JSON pointer in its definition.
    pub path: &'a str,
    /// Item indexes of the enclosing `foreach` loops, outermost first.
    pub iteration: &'a [usize],
    /// Which attempt of the step this is, from 1.
    pub attempt: u32,
    /// Attempts of the enclosing compound steps (`foreach`, `try`, `if`), outermost first:
    /// a compound step's retry runs its body again, a new execution of the same steps.
    pub rounds: &'a [u32],
}

impl StepRef<'_> {
    /// What identifies this execution of the step within its run, the same on every attempt
    /// of the step and when the run resumes after a crash: the run, the step's path, the
    /// item index of each enclosing loop (`#i`), and the rounds of enclosing compound steps
    /// retried (`@a.b`, only when one was).
    pub fn identity(&self) -> String {
        use std::fmt::Write;
        let mut id = format!("{}{}", self.run.run_id, self.path);
        for i in self.iteration {
            let _ = write!(id, "#{i}");
        }
        if self.rounds.iter().any(|r| *r > 1) {
            let rounds: Vec<String> = self.rounds.iter().map(u32::to_string).collect();
            let _ = write!(id, "@{}", rounds.join("."));
        }
        id
    }
}

/// The run whose `emit` step creates an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Parent {
    /// The emitting run.
    pub run_id: i64,
    /// Workflows that led to the new event, the emitting one last.
    pub chain: Vec<String>,
    /// Depth of the new event.
    pub depth: u32,
}

/// An event to emit.
#[derive(Debug, Clone, PartialEq)]
pub struct EmitRequest {
    /// Event name.
    pub name: String,
    /// Params (an object).
    pub params: Value,
    /// The params as compact JSON text of an object, when the sender has them only as text
    /// (`params` is then `null`): recorded as they are, and parsed only for listeners that
    /// run in this process, so that a large payload is not held as values to be stored.
    pub params_text: Option<String>,
    /// Who emits it (`cli`, `studio`, `workflow:<name>`, …).
    pub source: String,
    /// The emitting run, for events from `emit` steps.
    pub parent: Option<Parent>,
    /// Run listeners' drafts (active ones, deployed or not) instead of live versions.
    pub draft: bool,
    /// Idempotency key.
    pub dedup_key: Option<String>,
    /// Only record and queue: a worker (serve, the studio) takes the runs up.
    pub queue_only: bool,
    /// The recorded event this one replays.
    pub replay_of: Option<i64>,
    /// Emitted by a run that is a replay (a rerun, or a replayed event's): its runs are too.
    pub in_replay: bool,
}

impl EmitRequest {
    /// An event from outside (the command line, the studio, a test).
    pub fn new(name: impl Into<String>, params: Value, source: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            params,
            params_text: None,
            source: source.into(),
            parent: None,
            draft: false,
            dedup_key: None,
            queue_only: false,
            replay_of: None,
            in_replay: false,
        }
    }

    /// An event from outside whose params are compact JSON text of an object (see
    /// [`compact_object`]).
    pub fn with_text(name: impl Into<String>, params: String, source: impl Into<String>) -> Self {
        let mut request = Self::new(name, Value::Null, source);
        request.params_text = Some(params);
        request
    }

    /// The mode of the runs this event queues: `debug` for listeners' drafts, `replay` for
    /// the live versions in a replay (a replayed event, or what a rerun emits), `live`
    /// otherwise.
    pub fn run_mode(&self) -> crate::model::RunMode {
        use crate::model::RunMode;
        if self.draft {
            RunMode::Debug
        } else if self.replay_of.is_some() || self.in_replay {
            RunMode::Replay
        } else {
            RunMode::Live
        }
    }
}

/// JSON text of an object made compact (insignificant white space dropped, numbers written
/// as a parsed value would be) without building it as values: what
/// [`EmitRequest::with_text`] takes. An error says where the text is not JSON, or that it is
/// not an object.
pub fn compact_object(text: &str) -> Result<String, CompactError> {
    if text.trim_start().as_bytes().first() != Some(&b'{') {
        return Err(CompactError::NotAnObject);
    }
    let mut out = Vec::with_capacity(text.len());
    let mut from = serde_json::Deserializer::from_str(text);
    serde_transcode::transcode(&mut from, &mut serde_json::Serializer::new(&mut out))
        .map_err(CompactError::Json)?;
    from.end().map_err(CompactError::Json)?;
    // serde_json writes UTF-8 only
    String::from_utf8(out).map_err(|_| CompactError::NotAnObject)
}

/// Why [`compact_object`] refused a text.
#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    /// Not JSON, with where.
    #[error("{0}")]
    Json(serde_json::Error),
    /// JSON, but not an object.
    #[error("not a JSON object")]
    NotAnObject,
}

/// An `http` step's request, its fields evaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    /// Method, upper case.
    pub method: String,
    /// An absolute `http` or `https` URL.
    pub url: String,
    /// Header names as written, values as text.
    pub headers: Map<String, Value>,
    /// The body: a string is sent as it is, anything else as JSON.
    pub body: Option<Value>,
    /// How long to wait for the answer.
    pub timeout: Duration,
}

/// What an `http` step got back.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    /// The HTTP status.
    pub status: u16,
    /// Headers, lower-case names (repeated ones joined with `, `).
    pub headers: Map<String, Value>,
    /// The body, parsed when it is JSON, else text (`null` when empty).
    pub body: Value,
}

/// Every side effect of a step. Implementations decide what "doing it" means.
pub trait Effects: Sync {
    /// `db.query`: rows as objects.
    fn query(
        &self,
        at: StepRef<'_>,
        sql: &str,
        args: &[Value],
    ) -> impl Future<Output = Result<Vec<Value>, String>> + Send;

    /// `db.exec`: what changed.
    fn exec(
        &self,
        at: StepRef<'_>,
        sql: &str,
        args: &[Value],
    ) -> impl Future<Output = Result<ExecResult, String>> + Send;

    /// `http`: the response, or why there is none (refused, timed out, …).
    fn http(
        &self,
        at: StepRef<'_>,
        request: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, String>> + Send;

    /// `emit`: the event recorded (and dispatched, for real); its id when it has one.
    fn emit(
        &self,
        at: StepRef<'_>,
        request: EmitRequest,
    ) -> impl Future<Output = Result<Option<i64>, String>> + Send;

    /// `sleep`, and the pause before a retry.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;

    /// The time now, as step records give it.
    fn now(&self) -> Timestamp;

    /// `$env`, with the values of secrets.
    fn env(&self) -> Arc<Value>;

    /// How long one expression may run.
    fn expr_limit(&self) -> Duration;

    /// How long an `http` step waits when it does not say.
    fn http_timeout(&self) -> Duration;
}

#[cfg(test)]
mod tests {
    use super::{CompactError, compact_object};
    use serde_json::{Value, json};

    #[test]
    fn objects_are_made_compact_as_a_value_would_write_them() {
        let text =
            "{ \"b\": [1, 2.50, -0.0, 1e3],\n  \"a\": {\"x\": \"é \\u00e9 \\n\"}, \"n\": null }";
        let compact = compact_object(text).unwrap();
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(compact, serde_json::to_string(&value).unwrap());
        assert_eq!(
            compact,
            r#"{"b":[1,2.5,-0.0,1000.0],"a":{"x":"é é \n"},"n":null}"#
        );
        assert_eq!(compact_object("  {}  ").unwrap(), "{}");
    }

    #[test]
    fn what_is_not_a_json_object_is_refused_with_where() {
        for text in ["[1]", "1", "\"x\"", "", "  null"] {
            assert!(
                matches!(compact_object(text), Err(CompactError::NotAnObject)),
                "{text}"
            );
        }
        let Err(CompactError::Json(e)) = compact_object("{\"a\": 1,\n \"b\": }") else {
            panic!("not refused as JSON");
        };
        assert_eq!((e.line(), e.column()), (2, 7));
        assert!(matches!(
            compact_object("{\"a\": 1} x"),
            Err(CompactError::Json(_))
        ));
        let deep = format!("{{\"a\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(compact_object(&deep), Err(CompactError::Json(_))));
        assert_eq!(json!({}), serde_json::from_str::<Value>("{}").unwrap());
    }
}
