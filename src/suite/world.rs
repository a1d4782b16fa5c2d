//! The world a test case runs in: its own data database in memory, a virtual clock (`sleep`
//! takes no time), mocks that answer `http` steps (a request no mock answers never leaves
//! the process: it fails the step and the case) and that replace steps' effects, and a
//! record of every request and event. It is the [`Effects`] the interpreter is handed.

use crate::engine::effects::{Effects, EmitRequest, HttpRequest, HttpResponse, StepRef};
use crate::model::test_suite::{HttpAnswer, HttpMock, StepMock};
use crate::model::{EventRecord, Timestamp};
use crate::store::data::{ExecResult, Scratch};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// An event a case's run emitted, waiting to be dispatched (when the case runs the
/// cascade) and kept for its expectations.
#[derive(Debug, Clone)]
pub(crate) struct Emitted {
    /// The event as recorded.
    pub record: EventRecord,
    /// Workflows that led to it, the emitting one last.
    pub chain: Vec<String>,
    /// It runs the listeners' drafts (a draft emitted it).
    pub draft: bool,
}

/// What happened in a case's world that its records do not say.
#[derive(Debug, Clone, Default)]
pub(crate) struct Happened {
    /// Every `http` request, in order: `{method, url, headers, body}`.
    pub requests: Vec<Value>,
    /// The requests no mock answered.
    pub unmatched: Vec<Value>,
    /// Every event emitted, in order.
    pub events: Vec<Emitted>,
}

/// A case's world.
pub(crate) struct World {
    data: Scratch,
    start: Timestamp,
    /// Virtual time passed (sleeps and retry pauses).
    slept: Mutex<Duration>,
    http_mocks: Vec<HttpMock>,
    /// How many requests each HTTP mock answered.
    used: Mutex<Vec<u32>>,
    step_mocks: BTreeMap<String, StepMock>,
    env: Arc<Value>,
    expr_limit: Duration,
    http_timeout: Duration,
    happened: Mutex<Happened>,
}

/// How a world is set up.
pub(crate) struct Setup {
    /// The data database, with its schema and rows.
    pub data: Scratch,
    /// The virtual clock's start.
    pub start: Timestamp,
    /// HTTP mocks, tried in order.
    pub http_mocks: Vec<HttpMock>,
    /// Step mocks by id.
    pub step_mocks: BTreeMap<String, StepMock>,
    /// `$env`.
    pub env: Value,
    /// Time limit of one expression.
    pub expr_limit: Duration,
    /// Default timeout of `http` steps.
    pub http_timeout: Duration,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl World {
    /// A world set up as `setup` says.
    pub(crate) fn new(setup: Setup) -> World {
        World {
            used: Mutex::new(vec![0; setup.http_mocks.len()]),
            data: setup.data,
            start: setup.start,
            slept: Mutex::new(Duration::ZERO),
            http_mocks: setup.http_mocks,
            step_mocks: setup.step_mocks,
            env: Arc::new(setup.env),
            expr_limit: setup.expr_limit,
            http_timeout: setup.http_timeout,
            happened: Mutex::new(Happened::default()),
        }
    }

    /// The data database.
    pub(crate) fn data(&self) -> &Scratch {
        &self.data
    }

    /// What happened so far.
    pub(crate) fn happened(&self) -> Happened {
        lock(&self.happened).clone()
    }

    /// Record an event from outside the runs (an event suite's case): its id.
    pub(crate) fn record_event(&self, name: &str, params: Value, source: &str) -> EventRecord {
        let mut h = lock(&self.happened);
        let record = EventRecord {
            id: i64::try_from(h.events.len()).unwrap_or(i64::MAX) + 1,
            name: name.to_string(),
            params: crate::model::LazyJson::shared(params),
            source: source.to_string(),
            parent_run: None,
            depth: 0,
            emitted_at: self.now(),
            replay_of: None,
        };
        h.events.push(Emitted {
            record: record.clone(),
            chain: Vec::new(),
            draft: true,
        });
        record
    }

    /// The step mock for `at`, if any.
    fn mocked(&self, at: &StepRef<'_>) -> Option<&StepMock> {
        self.step_mocks.get(at.step)
    }

    /// The first HTTP mock that matches and is not used up, counted as used.
    fn answer(&self, method: &str, url: &str) -> Option<HttpAnswer> {
        let mut used = lock(&self.used);
        for (i, m) in self.http_mocks.iter().enumerate() {
            if m.matches(method, url) && m.times.is_none_or(|t| used[i] < t) {
                used[i] += 1;
                return Some(m.answer.clone());
            }
        }
        None
    }
}

/// A mock's output as a `db.exec` result.
fn exec_result(v: &Value) -> ExecResult {
    ExecResult {
        changes: v.get("changes").and_then(Value::as_u64).unwrap_or(0),
        last_id: v.get("last_id").and_then(Value::as_i64).unwrap_or(0),
    }
}

/// A mock's output as an HTTP response.
fn http_response(v: &Value) -> HttpResponse {
    HttpResponse {
        status: v
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(200),
        headers: v
            .get("headers")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        body: v.get("body").cloned().unwrap_or(Value::Null),
    }
}

impl Effects for World {
    async fn query(
        &self,
        at: StepRef<'_>,
        sql: &str,
        args: &[Value],
    ) -> Result<Vec<Value>, String> {
        match self.mocked(&at) {
            Some(StepMock::Output(Value::Array(rows))) => Ok(rows.clone()),
            Some(StepMock::Output(other)) => Err(format!(
                "the mock of step {} gives {other}; a db.query step's output is an array of rows",
                at.step
            )),
            Some(StepMock::Error(e)) => Err(e.clone()),
            None => self.data.query(sql, args).map_err(|e| e.to_string()),
        }
    }

    async fn exec(&self, at: StepRef<'_>, sql: &str, args: &[Value]) -> Result<ExecResult, String> {
        match self.mocked(&at) {
            Some(StepMock::Output(v)) => Ok(exec_result(v)),
            Some(StepMock::Error(e)) => Err(e.clone()),
            None => self.data.exec(sql, args).map_err(|e| e.to_string()),
        }
    }

    async fn http(&self, at: StepRef<'_>, request: HttpRequest) -> Result<HttpResponse, String> {
        let mut seen = json!({ "method": request.method, "url": request.url });
        if !request.headers.is_empty() {
            seen["headers"] = Value::Object(request.headers.clone());
        }
        if let Some(body) = &request.body {
            seen["body"] = body.clone();
        }
        lock(&self.happened).requests.push(seen.clone());
        match self.mocked(&at) {
            Some(StepMock::Output(v)) => return Ok(http_response(v)),
            Some(StepMock::Error(e)) => return Err(e.clone()),
            None => {}
        }
        match self.answer(&request.method, &request.url) {
            Some(HttpAnswer::Response {
                status,
                headers,
                body,
            }) => Ok(HttpResponse {
                status,
                headers,
                body,
            }),
            Some(HttpAnswer::Error(e)) => Err(e),
            None => {
                lock(&self.happened).unmatched.push(seen);
                Err(format!(
                    "no mock answers {} {} (a test sends no request out): add {{\"method\": \"{}\", \"url\": \"{}\", \"status\": 200, \"body\": …}} to mocks.http",
                    request.method, request.url, request.method, request.url
                ))
            }
        }
    }

    async fn emit(&self, at: StepRef<'_>, request: EmitRequest) -> Result<Option<i64>, String> {
        match self.mocked(&at) {
            Some(StepMock::Output(v)) => {
                return Ok(v.get("event_id").and_then(Value::as_i64));
            }
            Some(StepMock::Error(e)) => return Err(e.clone()),
            None => {}
        }
        let now = self.now();
        let mut h = lock(&self.happened);
        let (chain, depth, parent_run) = match request.parent {
            Some(p) => (p.chain, p.depth, Some(p.run_id)),
            None => (Vec::new(), 0, None),
        };
        let record = EventRecord {
            id: i64::try_from(h.events.len()).unwrap_or(i64::MAX) + 1,
            name: request.name,
            params: crate::model::LazyJson::shared(request.params),
            source: request.source,
            parent_run,
            depth,
            emitted_at: now,
            replay_of: None,
        };
        let id = record.id;
        h.events.push(Emitted {
            record,
            chain,
            draft: request.draft,
        });
        Ok(Some(id))
    }

    async fn sleep(&self, duration: Duration) {
        *lock(&self.slept) += duration;
        tokio::task::yield_now().await;
    }

    fn now(&self) -> Timestamp {
        let slept = i64::try_from(lock(&self.slept).as_micros()).unwrap_or(i64::MAX);
        Timestamp(self.start.0.saturating_add(slept))
    }

    fn env(&self) -> Arc<Value> {
        self.env.clone()
    }

    fn expr_limit(&self) -> Duration {
        self.expr_limit
    }

    fn http_timeout(&self) -> Duration {
        self.http_timeout
    }
}

/// `$env` for a case: the project's `[env]` defaults (never the process environment, so
/// that a test runs the same everywhere), then the suite's, then the case's.
pub(crate) fn env_of<'a>(
    defaults: impl IntoIterator<Item = (&'a String, &'a String)>,
    layers: &[&Map<String, Value>],
) -> Value {
    let mut env: Map<String, Value> = defaults
        .into_iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    for layer in layers {
        env.extend(layer.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    Value::Object(env)
}
