//! Reading a test file: JSON text → [`TestSuite`] plus every fault found, each with the file,
//! the line, the case and the field, and a suggestion for a misspelt key. What needs the
//! project (do the steps named exist, does a jq predicate compile) is checked where the
//! project is known (`suite::check`).
//!
//! This file reads the suite, its target and its cases; `world` the world a case starts in
//! (`data`, `env`, `now`) and `mocks` what answers in place of steps and HTTP.
//!
//! Over 600 lines only with its tests, which stay beside the reader they pin down.

mod mocks;
mod world;

use super::diagnostic::{Diagnostic, suggest};
use super::names;
use super::parse::HTTP_METHODS;
use super::source_map;
use super::strict_json;
use super::test_suite::{SuiteTarget, TestCase, TestSuite, VersionChoice};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The result of reading one test file.
#[derive(Debug, Clone)]
pub struct ParsedSuite {
    /// The suite, when the file has no faults.
    pub suite: Option<TestSuite>,
    /// Every fault found.
    pub diagnostics: Vec<Diagnostic>,
}

const SUITE_KEYS: [&str; 11] = [
    "$schema",
    "description",
    "workflow",
    "event",
    "endpoint",
    "version",
    "data",
    "env",
    "now",
    "mocks",
    "cases",
];
const CASE_KEYS: [&str; 13] = [
    "name",
    "description",
    "params",
    "request",
    "data",
    "env",
    "mocks",
    "version",
    "now",
    "cascade",
    "snapshot",
    "expect",
    "skip",
];
const EXPECT_KEYS: [&str; 10] = [
    "status", "output", "error", "steps", "emits", "data", "http", "runs", "response", "logs",
];
const REQUEST_KEYS: [&str; 4] = ["body", "query", "headers", "path"];
const HTTP_MOCK_KEYS: [&str; 7] = [
    "method", "url", "status", "headers", "body", "error", "times",
];
const STEP_MOCK_KEYS: [&str; 2] = ["output", "error"];
const STATUSES: [&str; 3] = ["succeeded", "failed", "cancelled"];

/// Read one test file. `file` is the path to name in faults.
pub fn parse_suite(text: &str, file: &Path) -> ParsedSuite {
    let mut cx = SuiteCx {
        file: file.to_path_buf(),
        text,
        diagnostics: Vec::new(),
        case: None,
    };
    let suite = cx.suite();
    ParsedSuite {
        suite: suite.filter(|_| cx.diagnostics.is_empty()),
        diagnostics: cx.diagnostics,
    }
}

struct SuiteCx<'t> {
    file: PathBuf,
    text: &'t str,
    diagnostics: Vec<Diagnostic>,
    /// The case being read: its name and where its object starts.
    case: Option<(String, usize)>,
}

impl SuiteCx<'_> {
    /// A fault at `field` (a dotted path such as `mocks.http[0].url`), placed at the key
    /// `key` (the last part of the path) within the case being read, or in the file.
    fn fault(&mut self, field: &str, key: &str, message: impl Into<String>) -> &mut Diagnostic {
        let from = self.case.as_ref().map_or(0, |(_, at)| *at);
        let at = source_map::find_key_from(self.text, key, from).or_else(|| {
            self.case
                .as_ref()
                .map(|(_, at)| source_map::line_col(self.text, *at))
        });
        let mut d = Diagnostic::new(self.file.clone(), message).at_opt(at);
        if !field.is_empty() {
            d = d.field(field);
        }
        if let Some((name, _)) = &self.case {
            d = d.case(name.clone());
        }
        let at = self.diagnostics.len();
        self.diagnostics.push(d);
        &mut self.diagnostics[at]
    }

    /// Faults for keys of `obj` not in `known`, with a suggestion.
    fn unknown_keys(&mut self, obj: &Map<String, Value>, known: &[&str], within: &str) {
        for key in obj.keys() {
            if known.contains(&key.as_str()) {
                continue;
            }
            let field = join(within, key);
            let hint = match suggest(key, known.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("known: {}", known.join(", ")),
            };
            self.fault(&field, key, format!("unknown field `{key}`"))
                .hint = Some(hint);
        }
    }

    fn suite(&mut self) -> Option<TestSuite> {
        let value = match strict_json::parse(self.text) {
            Ok(v) => v,
            Err(e) => {
                let column = source_map::char_column(self.text, e.line(), e.column());
                let message = e.to_string();
                let message = message
                    .rfind(" at line ")
                    .map_or(message.as_str(), |i| &message[..i])
                    .to_string();
                self.diagnostics.push(
                    Diagnostic::new(self.file.clone(), format!("invalid JSON: {message}"))
                        .at(e.line().max(1), column)
                        .hint("fix the JSON syntax"),
                );
                return None;
            }
        };
        let Value::Object(obj) = value else {
            self.diagnostics.push(
                Diagnostic::new(self.file.clone(), "a test file must be a JSON object")
                    .at(1, 1)
                    .hint(
                        "start with `{` and give `workflow` (or `event`, `endpoint`) and `cases`",
                    ),
            );
            return None;
        };
        self.unknown_keys(&obj, &SUITE_KEYS, "");
        let target = self.target(&obj);
        let version = self
            .version(obj.get("version"), "version")
            .unwrap_or_default();
        let description = self.text_field(obj.get("description"), "description");
        let data = self.data(obj.get("data"), "data");
        let env = self.env(obj.get("env"), "env");
        let now = self.now(obj.get("now"), "now");
        let mocks = self.mocks(obj.get("mocks"), "mocks");
        let cases = self.cases(obj.get("cases"), target.as_ref());
        Some(TestSuite {
            target: target?,
            description,
            version,
            data,
            env,
            now,
            mocks,
            cases,
        })
    }

    fn target(&mut self, obj: &Map<String, Value>) -> Option<SuiteTarget> {
        let given: Vec<&str> = ["workflow", "event", "endpoint"]
            .into_iter()
            .filter(|k| obj.contains_key(*k))
            .collect();
        let kind = match given.as_slice() {
            [one] => *one,
            [] => {
                self.diagnostics.push(
                    Diagnostic::new(self.file.clone(), "the file does not say what it tests")
                        .at(1, 1)
                        .hint("give `workflow` (a name), `event` (a name) or `endpoint` (\"METHOD /path\")"),
                );
                return None;
            }
            [_, second, ..] => {
                self.fault(
                    second,
                    second,
                    format!(
                        "give one of `workflow`, `event` and `endpoint`, not {}",
                        given.join(" and ")
                    ),
                )
                .hint =
                    Some("a test file tests one thing; write another file for the other".into());
                return None;
            }
        };
        let Some(name) = obj.get(kind).and_then(Value::as_str) else {
            self.fault(kind, kind, format!("`{kind}` must be text"));
            return None;
        };
        match kind {
            "workflow" if names::is_name(name) => Some(SuiteTarget::Workflow(name.to_string())),
            "event" if names::is_event_name(name) => Some(SuiteTarget::Event(name.to_string())),
            "endpoint" => {
                let mut parts = name.split_whitespace();
                let (Some(method), Some(path), None) = (parts.next(), parts.next(), parts.next())
                else {
                    self.fault(kind, kind, format!("{name:?} is not \"METHOD /path\""))
                        .hint =
                        Some("write it as the route is listed, such as \"POST /orders\"".into());
                    return None;
                };
                let method = method.to_ascii_uppercase();
                if !HTTP_METHODS.contains(&method.as_str()) {
                    self.fault(kind, kind, format!("unknown method {method:?}"))
                        .hint = Some(format!("one of {}", HTTP_METHODS.join(", ")));
                    return None;
                }
                if let Err(e) = names::check_route(path) {
                    self.fault(kind, kind, e);
                    return None;
                }
                Some(SuiteTarget::Endpoint {
                    method,
                    path: path.to_string(),
                })
            }
            _ => {
                self.fault(kind, kind, format!("{name:?} is not a valid {kind} name"));
                None
            }
        }
    }

    fn version(&mut self, v: Option<&Value>, field: &str) -> Option<VersionChoice> {
        match v? {
            Value::String(s) if s == "draft" => Some(VersionChoice::Draft),
            Value::String(s) if s == "live" => Some(VersionChoice::Live),
            other => {
                self.fault(
                    field,
                    "version",
                    format!("`version` is \"draft\" or \"live\", not {other}"),
                );
                None
            }
        }
    }

    fn text_field(&mut self, v: Option<&Value>, field: &str) -> Option<String> {
        match v? {
            Value::String(s) => Some(s.clone()),
            _ => {
                self.fault(field, last(field), format!("`{field}` must be text"));
                None
            }
        }
    }

    fn bool_field(&mut self, v: Option<&Value>, field: &str) -> bool {
        match v {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                self.fault(
                    field,
                    last(field),
                    format!("`{field}` is true or false, not {other}"),
                );
                false
            }
        }
    }

    fn cases(&mut self, v: Option<&Value>, target: Option<&SuiteTarget>) -> Vec<TestCase> {
        let Some(list) = v.and_then(Value::as_array).filter(|l| !l.is_empty()) else {
            let d = Diagnostic::new(
                self.file.clone(),
                "a test file needs `cases`: a non-empty array",
            )
            .at_opt(source_map::find_key(self.text, "cases"))
            .field("cases")
            .hint(
                "add {\"name\": \"…\", \"params\": {…}, \"expect\": {\"status\": \"succeeded\"}}",
            );
            self.diagnostics.push(d);
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut search_from = 0;
        for (i, case) in list.iter().enumerate() {
            let field = format!("cases[{i}]");
            let Some(obj) = case.as_object() else {
                self.case = None;
                self.fault(
                    &field,
                    "cases",
                    "a case is an object with `name` and `expect`",
                );
                continue;
            };
            let Some(name) = obj.get("name").and_then(Value::as_str).map(str::to_string) else {
                self.case = None;
                self.fault(&field, "cases", format!("case {} has no `name`", i + 1))
                    .hint = Some("name each case: it is what the report and --filter show".into());
                continue;
            };
            let at = source_map::find_key_value(&self.text[search_from..], "name", &name)
                .map_or(search_from, |o| search_from + o);
            search_from = at + 1;
            self.case = Some((name.clone(), at));
            if names.contains(&name) {
                self.fault(
                    &format!("{field}.name"),
                    "name",
                    format!("a second case named {name:?}"),
                )
                .hint = Some("give each case its own name".into());
            }
            names.push(name.clone());
            if let Some(c) = self.case_of(obj, &field, name, target) {
                out.push(TestCase {
                    line: Some(source_map::line_col(self.text, at).0),
                    ..c
                });
            }
        }
        self.case = None;
        out
    }

    fn case_of(
        &mut self,
        obj: &Map<String, Value>,
        field: &str,
        name: String,
        target: Option<&SuiteTarget>,
    ) -> Option<TestCase> {
        self.unknown_keys(obj, &CASE_KEYS, field);
        let endpoint = matches!(target, Some(SuiteTarget::Endpoint { .. }));
        let params = match obj.get("params") {
            None => Value::Object(Map::new()),
            Some(p) if p.is_object() && !endpoint => p.clone(),
            Some(_) if endpoint => {
                self.fault(&format!("{field}.params"), "params", "an endpoint's case gives `request`, not `params`")
                    .hint = Some("{\"request\": {\"body\": {…}, \"query\": {…}, \"headers\": {…}, \"path\": {…}}}".into());
                Value::Null
            }
            Some(other) => {
                self.fault(
                    &format!("{field}.params"),
                    "params",
                    format!("`params` must be an object, not {other}"),
                );
                Value::Null
            }
        };
        let request = match obj.get("request") {
            None => Value::Object(Map::new()),
            Some(Value::Object(r)) if endpoint => {
                self.unknown_keys(r, &REQUEST_KEYS, &format!("{field}.request"));
                Value::Object(r.clone())
            }
            Some(_) if !endpoint => {
                self.fault(
                    &format!("{field}.request"),
                    "request",
                    "`request` is for endpoint suites; a workflow's or event's case gives `params`",
                );
                Value::Null
            }
            Some(other) => {
                self.fault(
                    &format!("{field}.request"),
                    "request",
                    format!("`request` must be an object, not {other}"),
                );
                Value::Null
            }
        };
        let data = self.data(obj.get("data"), &format!("{field}.data"));
        let env = self.env(obj.get("env"), &format!("{field}.env"));
        let mocks = self.mocks(obj.get("mocks"), &format!("{field}.mocks"));
        let version = self.version(obj.get("version"), &format!("{field}.version"));
        let now = self.now(obj.get("now"), &format!("{field}.now"));
        let cascade = self.bool_field(obj.get("cascade"), &format!("{field}.cascade"));
        let snapshot = self.bool_field(obj.get("snapshot"), &format!("{field}.snapshot"));
        let skip = self.bool_field(obj.get("skip"), &format!("{field}.skip"));
        let expect = match obj.get("expect") {
            None if snapshot => Map::new(),
            None => {
                self.fault(
                    field,
                    "name",
                    "the case checks nothing: give `expect` or `\"snapshot\": true`",
                );
                Map::new()
            }
            Some(Value::Object(e)) => {
                self.expect(e, &format!("{field}.expect"), target, cascade);
                e.clone()
            }
            Some(other) => {
                self.fault(
                    &format!("{field}.expect"),
                    "expect",
                    format!("`expect` must be an object, not {other}"),
                );
                Map::new()
            }
        };
        Some(TestCase {
            name,
            params,
            request,
            data,
            env,
            mocks,
            version,
            now,
            cascade,
            snapshot,
            skip,
            expect,
            line: None,
        })
    }

    fn expect(
        &mut self,
        e: &Map<String, Value>,
        field: &str,
        target: Option<&SuiteTarget>,
        cascade: bool,
    ) {
        self.unknown_keys(e, &EXPECT_KEYS, field);
        let kind = target.map(SuiteTarget::kind);
        for key in e.keys() {
            let at = format!("{field}.{key}");
            let misplaced = match (key.as_str(), kind) {
                ("response", Some(k)) if k != "endpoint" => {
                    Some("`response` is for endpoint suites; a workflow's case checks `output`")
                }
                ("status" | "output" | "error" | "steps", Some("event")) => Some(
                    "an event's case runs every listener: check each under `runs`, such as {\"runs\": {\"reorder_supply\": {\"status\": \"succeeded\"}}}",
                ),
                ("runs", Some(k)) if k != "event" && !cascade => Some(
                    "`runs` needs the cascade: add \"cascade\": true to the case, or test the event",
                ),
                _ => None,
            };
            if let Some(hint) = misplaced {
                self.fault(&at, key, format!("`expect.{key}` does not apply here"))
                    .hint = Some(hint.into());
            }
        }
        if let Some(status) = e.get("status")
            && !is_jq(status)
            && !status.as_str().is_some_and(|s| STATUSES.contains(&s))
        {
            self.fault(
                &format!("{field}.status"),
                "status",
                format!("`status` is one of {}, not {status}", STATUSES.join(", ")),
            );
        }
        for key in ["steps", "runs", "data"] {
            if let Some(v) = e.get(key)
                && !v.is_object()
                && !is_jq(v)
            {
                self.fault(
                    &format!("{field}.{key}"),
                    key,
                    format!(
                        "`expect.{key}` is an object (by {})",
                        match key {
                            "steps" => "step id",
                            "runs" => "workflow",
                            _ => "table",
                        }
                    ),
                );
            }
        }
        for key in ["emits", "http", "logs"] {
            if let Some(v) = e.get(key)
                && !v.is_array()
                && !is_jq(v)
            {
                self.fault(
                    &format!("{field}.{key}"),
                    key,
                    format!("`expect.{key}` is an array, in the order they happened"),
                );
            }
        }
    }
}

/// Whether `v` is a `{"$jq": "…"}` predicate.
pub(crate) fn is_jq(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|o| o.len() == 1 && o.get("$jq").is_some_and(Value::is_string))
}

fn join(within: &str, key: &str) -> String {
    if within.is_empty() {
        key.to_string()
    } else {
        format!("{within}.{key}")
    }
}

fn last(field: &str) -> &str {
    field.rsplit('.').next().unwrap_or(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ParsedSuite {
        parse_suite(text, Path::new("tests/t.test.json"))
    }

    fn faults(text: &str) -> Vec<String> {
        parse(text)
            .diagnostics
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_workflow_suite_reads_whole() {
        let p = parse(
            r#"{
  "workflow": "reorder_supply",
  "data": {"skus": [{"id": 1, "name": "Beans", "stock": 10}]},
  "env": {"SUPPLIER_URL": "http://supplier.test"},
  "mocks": {"http": [{"method": "post", "url": "http://supplier.test/orders", "status": 201, "body": {"id": "S-1"}}],
            "steps": {"load": {"output": [{"id": 1}]}}},
  "cases": [
    {"name": "orders", "params": {"sku": 1}, "expect": {"status": "succeeded", "output": {"sku": 1}}},
    {"name": "snap", "params": {"sku": 1}, "snapshot": true, "cascade": true}
  ]
}"#,
        );
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        let s = p.suite.unwrap();
        assert_eq!(s.target, SuiteTarget::Workflow("reorder_supply".into()));
        assert_eq!(s.mocks.http[0].method.as_deref(), Some("POST"));
        assert_eq!(s.cases.len(), 2);
        assert_eq!(s.cases[0].line, Some(8));
        assert!(s.cases[1].snapshot && s.cases[1].cascade);
    }

    #[test]
    fn a_misspelt_key_names_the_file_line_case_and_field_with_a_suggestion() {
        let f = faults(
            r#"{
  "workflow": "w",
  "cases": [
    {"name": "first", "expect": {"status": "succeeded"}},
    {"name": "second",
     "expect": {"outptu": 1}}
  ]
}"#,
        );
        assert_eq!(
            f,
            [
                "tests/t.test.json:6:17: case \"second\": field \"cases[1].expect.outptu\": unknown field `outptu` (did you mean `output`?)"
            ]
        );
    }

    #[test]
    fn faults_say_what_to_do() {
        let f = faults(r#"{"cases": []}"#).join("\n");
        assert!(f.contains("does not say what it tests"), "{f}");
        assert!(f.contains("needs `cases`"), "{f}");
        let f = faults(
            r#"{"event": "e", "cases": [{"name": "a", "expect": {"status": "succeeded"}}]}"#,
        )
        .join("\n");
        assert!(f.contains("check each under `runs`"), "{f}");
        let f = faults(
            r#"{"workflow": "w", "cases": [{"name": "a", "expect": {"runs": {}}}, {"name": "a", "snapshot": true}]}"#,
        )
        .join("\n");
        assert!(f.contains("\"cascade\": true"), "{f}");
        assert!(f.contains("a second case named \"a\""), "{f}");
        let f = faults(
            r#"{"endpoint": "POST /orders", "cases": [{"name": "a", "params": {}, "expect": {"response": {"status": 201}}}]}"#,
        )
        .join("\n");
        assert!(f.contains("gives `request`"), "{f}");
        let f = faults(
            r#"{"workflow": "w", "mocks": {"http": [{"url": "http://x", "error": "down", "status": 500}], "steps": {"a": {}}}, "cases": [{"name": "a"}]}"#,
        )
        .join("\n");
        assert!(f.contains("not both"), "{f}");
        assert!(f.contains("gives `output` or `error`"), "{f}");
        assert!(f.contains("checks nothing"), "{f}");
        let f = faults("{\"workflow\": \"w\",\n \"cases\": [}").join("\n");
        assert!(f.starts_with("tests/t.test.json:2:"), "{f}");
        assert!(f.contains("invalid JSON"), "{f}");
    }
}
