//! A test file of a project (`tests/*.test.json`): a suite of cases for one workflow, one event
//! (every active listener) or one endpoint, with the data, environment and mocks they run
//! with, and what each case expects (docs/testing-workflows.md).

use super::Timestamp;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// What a suite tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SuiteTarget {
    /// One workflow, run with each case's params.
    Workflow(String),
    /// An event: each case emits it, and every active listener runs.
    Event(String),
    /// An endpoint, called with each case's request.
    Endpoint {
        /// Upper-case method.
        method: String,
        /// The route, as its definition gives it (`/skus/{id}`).
        path: String,
    },
}

impl SuiteTarget {
    /// `workflow`, `event` or `endpoint`.
    pub fn kind(&self) -> &'static str {
        match self {
            SuiteTarget::Workflow(_) => "workflow",
            SuiteTarget::Event(_) => "event",
            SuiteTarget::Endpoint { .. } => "endpoint",
        }
    }
}

impl fmt::Display for SuiteTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SuiteTarget::Workflow(name) => write!(f, "{name}"),
            SuiteTarget::Event(name) => write!(f, "event {name}"),
            SuiteTarget::Endpoint { method, path } => write!(f, "{method} {path}"),
        }
    }
}

/// Which version of the definitions a case runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VersionChoice {
    /// The drafts (the files as they are).
    #[default]
    Draft,
    /// The deployed versions in the store.
    Live,
}

/// An `http` step's answer when its request matches.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpMock {
    /// Method to match (any when absent), upper case.
    pub method: Option<String>,
    /// URL to match: exactly, or every URL that starts with the text before a final `*`.
    pub url: String,
    /// What it answers: a response, or a failure to get one.
    pub answer: HttpAnswer,
    /// How many requests it answers before it is used up (without limit when absent).
    pub times: Option<u32>,
}

impl HttpMock {
    /// Whether a request to `method` `url` matches.
    pub fn matches(&self, method: &str, url: &str) -> bool {
        let method_ok = self
            .method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method));
        let url_ok = match self.url.strip_suffix('*') {
            Some(prefix) => url.starts_with(prefix),
            None => self.url == url,
        };
        method_ok && url_ok
    }
}

/// What a mocked request gets.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpAnswer {
    /// A response.
    Response {
        /// The HTTP status expected.
        status: u16,
        /// Headers expected (a subset).
        headers: Map<String, Value>,
        /// The body expected (a subset, `$jq` predicates allowed).
        body: Value,
    },
    /// No response: the step fails with this message (refused, timed out, …).
    Error(String),
}

/// A step's side effect replaced: the step still evaluates its fields (recorded as its
/// input), then gets this instead of doing its work.
#[derive(Debug, Clone, PartialEq)]
pub enum StepMock {
    /// The effect's result (rows for `db.query`, `{changes, last_id}` for `db.exec`,
    /// `{status, headers, body}` for `http`, `{event_id}` for `emit`).
    Output(Value),
    /// The effect fails with this message.
    Error(String),
}

/// Mocks of a suite or a case.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mocks {
    /// HTTP answers, tried in order.
    pub http: Vec<HttpMock>,
    /// Steps' effects by step id.
    pub steps: BTreeMap<String, StepMock>,
}

impl Mocks {
    /// These mocks with `over`'s on top: its HTTP mocks tried first, its step mocks
    /// replacing those of the same id.
    pub fn overlaid(&self, over: &Mocks) -> Mocks {
        let mut http = over.http.clone();
        http.extend(self.http.iter().cloned());
        let mut steps = self.steps.clone();
        steps.extend(over.steps.iter().map(|(k, v)| (k.clone(), v.clone())));
        Mocks { http, steps }
    }
}

/// One case of a suite.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCase {
    /// Its name, unique in the file.
    pub name: String,
    /// `$param` (workflow and event suites).
    pub params: Value,
    /// The request `{body, query, headers, path}` (endpoint suites).
    pub request: Value,
    /// Rows to add after the suite's, table by table.
    pub data: Map<String, Value>,
    /// `$env` values over the suite's.
    pub env: Map<String, Value>,
    /// Mocks over the suite's.
    pub mocks: Mocks,
    /// The version to run, over the suite's.
    pub version: Option<VersionChoice>,
    /// The virtual clock's start, over the suite's.
    pub now: Option<Timestamp>,
    /// Run the cascade: the events the runs emit run their listeners, to any depth.
    pub cascade: bool,
    /// Compare the whole trace with the case's snapshot file.
    pub snapshot: bool,
    /// Reported as skipped, not run.
    pub skip: bool,
    /// What the case expects, by field (`status`, `output`, `steps`, …).
    pub expect: Map<String, Value>,
    /// The line its object starts on, when known.
    pub line: Option<usize>,
}

/// A test file, read.
#[derive(Debug, Clone, PartialEq)]
pub struct TestSuite {
    /// What it tests.
    pub target: SuiteTarget,
    /// What it is about.
    pub description: Option<String>,
    /// The version its cases run unless one says otherwise.
    pub version: VersionChoice,
    /// Rows each case starts with (after `schema.sql`), table by table.
    pub data: Map<String, Value>,
    /// `$env` values over the project's `[env]`.
    pub env: Map<String, Value>,
    /// The virtual clock's start (a fixed moment when absent).
    pub now: Option<Timestamp>,
    /// Mocks of every case.
    pub mocks: Mocks,
    /// The cases.
    pub cases: Vec<TestCase>,
}

/// The virtual clock's start when a suite gives none: a fixed moment, so that runs are the
/// same on every machine and day.
pub(crate) const DEFAULT_NOW: Timestamp = Timestamp(1_767_225_600_000_000); // 2026-01-01T00:00:00Z

#[cfg(test)]
mod tests {
    use super::*;

    fn mock(method: Option<&str>, url: &str) -> HttpMock {
        HttpMock {
            method: method.map(str::to_string),
            url: url.to_string(),
            answer: HttpAnswer::Error("x".into()),
            times: None,
        }
    }

    #[test]
    fn http_mocks_match_method_and_url_or_its_prefix() {
        assert!(mock(Some("POST"), "http://s.test/orders").matches("post", "http://s.test/orders"));
        assert!(!mock(Some("GET"), "http://s.test/orders").matches("POST", "http://s.test/orders"));
        assert!(mock(None, "http://s.test/*").matches("DELETE", "http://s.test/orders/1"));
        assert!(!mock(None, "http://s.test/orders").matches("POST", "http://s.test/orders/1"));
    }

    #[test]
    fn case_mocks_come_first_and_replace_steps_of_the_same_id() {
        let mut suite = Mocks::default();
        suite.http.push(mock(None, "http://a.test"));
        suite
            .steps
            .insert("load".into(), StepMock::Output(Value::Null));
        let mut case = Mocks::default();
        case.http.push(mock(None, "http://b.test"));
        case.steps
            .insert("load".into(), StepMock::Error("down".into()));
        let both = suite.overlaid(&case);
        assert_eq!(both.http[0].url, "http://b.test");
        assert_eq!(both.http.len(), 2);
        assert_eq!(both.steps["load"], StepMock::Error("down".into()));
    }
}
