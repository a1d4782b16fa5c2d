//! `mocks`: answers in place of HTTP requests (matched by method and URL) and of steps (by id).

use super::{HTTP_MOCK_KEYS, STEP_MOCK_KEYS, SuiteCx};
use crate::model::names;
use crate::model::parse::HTTP_METHODS;
use crate::model::test_suite::{HttpAnswer, HttpMock, Mocks, StepMock};
use serde_json::{Map, Value};

impl SuiteCx<'_> {
    pub(super) fn mocks(&mut self, v: Option<&Value>, field: &str) -> Mocks {
        let mut mocks = Mocks::default();
        let Some(v) = v else {
            return mocks;
        };
        let Some(obj) = v.as_object() else {
            self.fault(
                field,
                "mocks",
                "`mocks` is an object: {\"http\": [...], \"steps\": {...}}",
            );
            return mocks;
        };
        self.unknown_keys(obj, &["http", "steps"], field);
        if let Some(http) = obj.get("http") {
            match http.as_array() {
                Some(list) => {
                    for (i, m) in list.iter().enumerate() {
                        if let Some(m) = self.http_mock(m, &format!("{field}.http[{i}]")) {
                            mocks.http.push(m);
                        }
                    }
                }
                None => {
                    self.fault(
                        &format!("{field}.http"),
                        "http",
                        "`mocks.http` is an array of {\"method\", \"url\", \"status\", \"body\"}",
                    );
                }
            }
        }
        if let Some(steps) = obj.get("steps") {
            match steps.as_object() {
                Some(by_id) => {
                    for (id, m) in by_id {
                        let at = format!("{field}.steps.{id}");
                        if let Some(m) = self.step_mock(m, &at, id) {
                            mocks.steps.insert(id.clone(), m);
                        }
                    }
                }
                None => {
                    self.fault(
                        &format!("{field}.steps"),
                        "steps",
                        "`mocks.steps` maps step ids to {\"output\": …} or {\"error\": \"…\"}",
                    );
                }
            }
        }
        mocks
    }

    pub(super) fn http_mock(&mut self, v: &Value, field: &str) -> Option<HttpMock> {
        let Some(obj) = v.as_object() else {
            self.fault(field, "http", "an http mock is an object: {\"method\": \"POST\", \"url\": \"…\", \"status\": 201, \"body\": {…}}");
            return None;
        };
        self.unknown_keys(obj, &HTTP_MOCK_KEYS, field);
        let url = match obj.get("url").and_then(Value::as_str) {
            Some(u) if !u.is_empty() => u.to_string(),
            _ => {
                self.fault(
                    &format!("{field}.url"),
                    "url",
                    "an http mock needs `url` (exact, or ending in * for every URL that starts so)",
                );
                return None;
            }
        };
        let method = match obj.get("method") {
            None => None,
            Some(Value::String(m)) if HTTP_METHODS.contains(&m.to_ascii_uppercase().as_str()) => {
                Some(m.to_ascii_uppercase())
            }
            Some(other) => {
                self.fault(
                    &format!("{field}.method"),
                    "method",
                    format!("unknown method {other}"),
                )
                .hint = Some(format!("one of {}", HTTP_METHODS.join(", ")));
                return None;
            }
        };
        let times = match obj.get("times") {
            None => None,
            Some(t) => match t
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0)
            {
                Some(n) => Some(n),
                None => {
                    self.fault(
                        &format!("{field}.times"),
                        "times",
                        format!("`times` is a count of 1 or more, not {t}"),
                    );
                    return None;
                }
            },
        };
        let answer = if let Some(error) = obj.get("error") {
            let Some(error) = error.as_str() else {
                self.fault(
                    &format!("{field}.error"),
                    "error",
                    "`error` is the failure as text (\"connection refused\")",
                );
                return None;
            };
            if obj.contains_key("status") || obj.contains_key("body") {
                self.fault(&format!("{field}.error"), "error", "a mock answers with `error` (no response) or with `status` and `body`, not both");
                return None;
            }
            HttpAnswer::Error(error.to_string())
        } else {
            let status = match obj.get("status") {
                None => 200,
                Some(s) => match s
                    .as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .filter(|n| (100..=599).contains(n))
                {
                    Some(n) => n,
                    None => {
                        self.fault(
                            &format!("{field}.status"),
                            "status",
                            format!("`status` is an HTTP status (100–599), not {s}"),
                        );
                        return None;
                    }
                },
            };
            let headers = match obj.get("headers") {
                None => Map::new(),
                Some(Value::Object(h)) => h
                    .iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                    .collect(),
                Some(_) => {
                    self.fault(
                        &format!("{field}.headers"),
                        "headers",
                        "`headers` maps names to text",
                    );
                    return None;
                }
            };
            HttpAnswer::Response {
                status,
                headers,
                body: obj.get("body").cloned().unwrap_or(Value::Null),
            }
        };
        Some(HttpMock {
            method,
            url,
            answer,
            times,
        })
    }

    pub(super) fn step_mock(&mut self, v: &Value, field: &str, id: &str) -> Option<StepMock> {
        if !names::is_step_id(id) {
            self.fault(field, id, format!("{id:?} is not a step id"));
            return None;
        }
        let Some(obj) = v.as_object() else {
            self.fault(
                field,
                id,
                "a step mock is {\"output\": …} or {\"error\": \"…\"}",
            );
            return None;
        };
        self.unknown_keys(obj, &STEP_MOCK_KEYS, field);
        match (obj.get("output"), obj.get("error")) {
            (Some(output), None) => Some(StepMock::Output(output.clone())),
            (None, Some(Value::String(e))) => Some(StepMock::Error(e.clone())),
            (None, Some(_)) => {
                self.fault(
                    &format!("{field}.error"),
                    "error",
                    "`error` is the failure as text",
                );
                None
            }
            _ => {
                self.fault(
                    field,
                    id,
                    "a step mock gives `output` or `error`, one of them",
                );
                None
            }
        }
    }
}
