//! Reading one definition file: JSON text → [`Definition`] plus every fault found.
//!
//! This module reads the file's shape (JSON, the fields of a definition and of each step,
//! with positions); [`checks`] holds the checks that need a whole step (names, SQL text,
//! template syntax, retries). Faults name the file, the line, the step id and the field.
//! Template *syntax* (balanced `{{ }}`) is checked here; the jq inside is compiled by `expr`.

mod checks;
mod fields;

use super::definition::{Definition, DefinitionKind, Endpoint, Workflow};
use super::diagnostic::{Diagnostic, suggest};
use super::names;
use super::step::*;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The result of reading one file: the definition when it is usable, and every fault.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The definition, when the file has no faults.
    pub definition: Option<Definition>,
    /// Every fault found, in file order as far as known.
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkflowHead {
    name: String,
    #[serde(default)]
    description: Option<String>,
    on: String,
    #[serde(default = "yes")]
    active: bool,
    #[serde(default)]
    allow_self_trigger: bool,
    #[serde(default)]
    retry: Option<Retry>,
    #[serde(default)]
    concurrency: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointHead {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    method: String,
    path: String,
    #[serde(default)]
    retry: Option<Retry>,
}

const WORKFLOW_FIELDS: [&str; 8] = [
    "name",
    "description",
    "on",
    "active",
    "allow_self_trigger",
    "retry",
    "concurrency",
    "steps",
];
const ENDPOINT_FIELDS: [&str; 6] = ["name", "description", "method", "path", "retry", "steps"];

fn yes() -> bool {
    true
}

/// HTTP methods an endpoint or `http` step may use.
pub(crate) const HTTP_METHODS: [&str; 7] =
    ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Parse one definition. `expected` is the kind implied by the folder the file is in
/// (`workflows/`, `endpoints/`); without it the kind is told from the fields.
pub fn parse_definition(text: &str, file: &Path, expected: Option<DefinitionKind>) -> Parsed {
    let mut cx = ParseCx {
        file: file.to_path_buf(),
        text,
        diagnostics: Vec::new(),
        ids: HashMap::new(),
        occurrences: HashMap::new(),
        open: Vec::new(),
    };
    let definition = cx.definition(expected);
    let definition = if cx.diagnostics.is_empty() {
        definition
    } else {
        None
    };
    Parsed {
        definition,
        diagnostics: cx.diagnostics,
    }
}

struct ParseCx<'t> {
    file: PathBuf,
    text: &'t str,
    diagnostics: Vec<Diagnostic>,
    /// step id → JSON path of its first use
    ids: HashMap<String, String>,
    /// step id → how many steps with it were met so far
    occurrences: HashMap<String, usize>,
    /// the steps being read, innermost last, with where each is in the text
    open: Vec<(String, Option<(usize, usize)>)>,
}

impl ParseCx<'_> {
    fn diag(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(self.file.clone(), message)
    }

    fn push(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    fn definition(&mut self, expected: Option<DefinitionKind>) -> Option<Definition> {
        let value: Value = match super::strict_json::parse(self.text) {
            Ok(v) => v,
            Err(e) => {
                let column = super::source_map::char_column(self.text, e.line(), e.column());
                let message = fields::without_position(&e.to_string());
                let mut d = self
                    .diag(format!("invalid JSON: {message}"))
                    .at(e.line().max(1), column)
                    .hint("fix the JSON syntax; the file was not imported");
                if let Some(key) = message
                    .strip_prefix("duplicate key `")
                    .and_then(|k| k.split('`').next())
                {
                    let at = super::source_map::offset(self.text, e.line(), e.column());
                    d = d.field(key);
                    if let Some(id) = super::source_map::enclosing_id(self.text, at) {
                        d = d.step(id);
                    }
                    d.hint = Some("write each field once".into());
                }
                self.push(d);
                return None;
            }
        };
        let Value::Object(mut obj) = value else {
            let d = self
                .diag("a definition must be a JSON object")
                .at(1, 1)
                .hint("start the file with `{` and give `name`, `on` and `steps`");
            self.push(d);
            return None;
        };
        obj.remove("$schema");
        let kind = match expected {
            Some(k) => k,
            None if obj.contains_key("on") => DefinitionKind::Workflow,
            None if obj.contains_key("method") || obj.contains_key("path") => {
                DefinitionKind::Endpoint
            }
            None => {
                let d = self
                    .diag("cannot tell whether this is a workflow or an endpoint")
                    .at(1, 1)
                    .hint("a workflow has `on` (the event it listens to); an endpoint has `method` and `path`");
                self.push(d);
                return None;
            }
        };
        let steps_value = obj.remove("steps");
        let definition = match kind {
            DefinitionKind::Workflow => self.workflow_head(obj).map(|h| {
                Definition::Workflow(Workflow {
                    name: h.name,
                    description: h.description,
                    on: h.on,
                    active: h.active,
                    allow_self_trigger: h.allow_self_trigger,
                    retry: h.retry,
                    concurrency: h.concurrency,
                    steps: Vec::new(),
                })
            }),
            DefinitionKind::Endpoint => self.endpoint_head(obj).map(|h| {
                Definition::Endpoint(Endpoint {
                    name: h.name,
                    description: h.description,
                    method: h.method.to_ascii_uppercase(),
                    path: h.path,
                    retry: h.retry,
                    steps: Vec::new(),
                })
            }),
        };
        let steps = match steps_value {
            Some(v) => self.steps(&v, "steps", kind, false, None),
            None => {
                let d = self
                    .diag("missing field `steps`")
                    .at(1, 1)
                    .field("steps")
                    .hint("give the steps as an array, even an empty one");
                self.push(d);
                Vec::new()
            }
        };
        let mut definition = definition?;
        match &mut definition {
            Definition::Workflow(w) => w.steps = steps,
            Definition::Endpoint(e) => e.steps = steps,
        }
        Some(definition)
    }

    fn workflow_head(&mut self, obj: Map<String, Value>) -> Option<WorkflowHead> {
        let head: WorkflowHead = self.fields(obj, None, &WORKFLOW_FIELDS)?;
        if !names::is_name(&head.name) {
            let d = self
                .diag(format!("invalid workflow name {:?}", head.name))
                .at_opt(self.locate_key("name"))
                .field("name")
                .hint(names::NAME_RULE);
            self.push(d);
        }
        if !names::is_event_name(&head.on) {
            let d = self
                .diag(format!("invalid event name {:?}", head.on))
                .at_opt(self.locate_key("on"))
                .field("on")
                .hint(names::EVENT_RULE);
            self.push(d);
        }
        if head.concurrency == Some(0) {
            let d = self
                .diag("`concurrency` must be at least 1")
                .at_opt(self.locate_key("concurrency"))
                .field("concurrency");
            self.push(d);
        }
        self.check_retry(head.retry.as_ref(), None);
        Some(head)
    }

    fn endpoint_head(&mut self, obj: Map<String, Value>) -> Option<EndpointHead> {
        let head: EndpointHead = self.fields(obj, None, &ENDPOINT_FIELDS)?;
        if !HTTP_METHODS.contains(&head.method.to_ascii_uppercase().as_str()) {
            let d = self
                .diag(format!("unknown HTTP method {:?}", head.method))
                .at_opt(self.locate_key("method"))
                .field("method")
                .hint(format!("use one of {}", HTTP_METHODS.join(", ")));
            self.push(d);
        }
        if let Err(message) = names::check_route(&head.path) {
            let d = self
                .diag(message)
                .at_opt(self.locate_key("path"))
                .field("path")
                .hint("write a path like /orders/{id}");
            self.push(d);
        }
        self.check_retry(head.retry.as_ref(), None);
        Some(head)
    }

    /// Deserialize the remaining fields of an object, reporting serde's fault with a place.
    fn fields<T: DeserializeOwned>(
        &mut self,
        obj: Map<String, Value>,
        step: Option<&str>,
        known: &[&str],
    ) -> Option<T> {
        match fields::read::<T>(obj) {
            Ok(v) => Some(v),
            Err(fault) => {
                let field = fault.field().map(str::to_string);
                let position = match (step, &field) {
                    (Some(id), _) => self.locate_step(id),
                    (None, Some(f)) => self.locate_key(f.split('.').next().unwrap_or(f)),
                    (None, None) => None,
                };
                let mut d = self.diag(fault.to_string()).at_opt(position);
                if let Some(id) = step {
                    d = d.step(id);
                }
                if let Some(f) = &field {
                    d = d.field(f.clone());
                    if matches!(fault, fields::FieldFault::Unknown { .. })
                        && let Some(s) = suggest(f, known.iter().copied())
                    {
                        d = d.hint(format!("did you mean `{s}`?"));
                    }
                }
                self.push(d);
                None
            }
        }
    }

    fn steps(
        &mut self,
        value: &Value,
        path: &str,
        kind: DefinitionKind,
        in_catch: bool,
        owner: Option<&str>,
    ) -> Vec<Step> {
        let Value::Array(items) = value else {
            let field = last_segment(path);
            let mut d = self.diag(format!("`{field}` must be an array of steps"));
            d = match owner {
                Some(id) => d.at_opt(self.locate_step(id)).step(id).field(field),
                None => d.at_opt(self.locate_key(field)).field(field),
            };
            self.push(d);
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| self.step(v, &format!("{path}[{i}]"), kind, in_catch))
            .collect()
    }

    fn step(
        &mut self,
        value: &Value,
        path: &str,
        kind: DefinitionKind,
        in_catch: bool,
    ) -> Option<Step> {
        let depth = self.open.len();
        let step = self.step_inner(value, path, kind, in_catch);
        self.open.truncate(depth);
        step
    }

    fn step_inner(
        &mut self,
        value: &Value,
        path: &str,
        kind: DefinitionKind,
        in_catch: bool,
    ) -> Option<Step> {
        let Value::Object(obj) = value else {
            let d = self
                .diag(format!("{path} must be an object with `id` and `action`"))
                .field(path);
            self.push(d);
            return None;
        };
        let mut obj = obj.clone();
        let id = match obj.remove("id") {
            Some(Value::String(id)) if names::is_step_id(&id) => id,
            Some(Value::String(id)) => {
                let d = self
                    .diag(format!("invalid step id {id:?}"))
                    .at_opt(self.locate_step(&id))
                    .step(id)
                    .hint(names::STEP_ID_RULE);
                self.push(d);
                return None;
            }
            Some(_) => {
                let d = self.diag("a step id must be a string").field(path);
                self.push(d);
                return None;
            }
            None => {
                let d = self
                    .diag(format!("{path} has no `id`"))
                    .field(path)
                    .hint("give every step a unique `id`: breakpoints and traces name steps by it");
                self.push(d);
                return None;
            }
        };
        let nth = {
            let n = self.occurrences.entry(id.clone()).or_default();
            *n += 1;
            *n - 1
        };
        let here = self.locate_step_nth(&id, nth);
        self.open.push((id.clone(), here));
        if let Some(first) = self.ids.get(&id) {
            let d = self
                .diag(format!("duplicate step id (first used at {first})"))
                .at_opt(here)
                .step(&id)
                .hint("step ids must be unique within a file");
            self.push(d);
        } else {
            self.ids.insert(id.clone(), path.to_string());
        }
        let action_name = match obj.remove("action") {
            Some(Value::String(a)) => a,
            Some(_) => {
                let d = self
                    .diag("`action` must be a string")
                    .at_opt(self.locate_step(&id))
                    .step(&id)
                    .field("action");
                self.push(d);
                return None;
            }
            None => {
                let d = self
                    .diag("missing field `action`")
                    .at_opt(self.locate_step(&id))
                    .step(&id)
                    .field("action")
                    .hint(format!("use one of {}", ACTION_NAMES.join(", ")));
                self.push(d);
                return None;
            }
        };
        let description = match obj.remove("description") {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                let d = self
                    .diag("`description` must be a string")
                    .at_opt(self.locate_step(&id))
                    .step(&id)
                    .field("description");
                self.push(d);
                None
            }
        };
        let retry = match obj.remove("retry") {
            None => None,
            Some(v) => match serde_json::from_value::<Retry>(v) {
                Ok(r) => {
                    self.check_retry(Some(&r), Some(&id));
                    Some(r)
                }
                Err(e) => {
                    let d = self
                        .diag(format!(
                            "invalid `retry`: {}",
                            fields::without_position(&e.to_string())
                        ))
                        .at_opt(self.locate_step(&id))
                        .step(&id)
                        .field("retry")
                        .hint("write \"retry\": {\"max_attempts\": 3, \"backoff_ms\": 200}");
                    self.push(d);
                    None
                }
            },
        };
        let action = self.action(&action_name, obj, &id, path, kind, in_catch)?;
        let step = Step {
            id,
            description,
            retry,
            action,
        };
        self.check_step(&step, kind);
        Some(step)
    }

    fn action(
        &mut self,
        name: &str,
        mut obj: Map<String, Value>,
        id: &str,
        path: &str,
        kind: DefinitionKind,
        in_catch: bool,
    ) -> Option<Action> {
        let known = |fields: &[&'static str]| -> Vec<&'static str> {
            let mut v = fields.to_vec();
            v.extend(["id", "action", "description", "retry"]);
            v
        };
        let mut take_steps =
            |cx: &mut Self, field: &str, required: bool, catch: bool| match obj.remove(field) {
                Some(v) => cx.steps(&v, &format!("{path}.{field}"), kind, catch, Some(id)),
                None => {
                    if required {
                        let d = cx
                            .diag(format!("missing field `{field}`"))
                            .at_opt(cx.locate_step(id))
                            .step(id)
                            .field(field)
                            .hint("give the nested steps as an array");
                        cx.push(d);
                    }
                    Vec::new()
                }
            };
        let action = match name {
            "set" => Action::Set(self.fields(obj, Some(id), &known(&["var", "value"]))?),
            "if" => {
                let then = take_steps(self, "then", true, in_catch);
                let otherwise = take_steps(self, "else", false, in_catch);
                let mut s: IfStep =
                    self.fields(obj, Some(id), &known(&["cond", "then", "else"]))?;
                s.then = then;
                s.otherwise = otherwise;
                Action::If(s)
            }
            "foreach" => {
                let steps = take_steps(self, "steps", true, in_catch);
                let mut s: ForeachStep =
                    self.fields(obj, Some(id), &known(&["in", "as", "steps"]))?;
                s.steps = steps;
                Action::Foreach(s)
            }
            "try" => {
                let steps = take_steps(self, "steps", true, in_catch);
                let catch = take_steps(self, "catch", true, true);
                let mut s: TryStep = self.fields(obj, Some(id), &known(&["steps", "catch"]))?;
                s.steps = steps;
                s.catch = catch;
                Action::Try(s)
            }
            "emit" => {
                Action::Emit(self.fields(obj, Some(id), &known(&["event", "params", "as"]))?)
            }
            "db.query" => {
                Action::DbQuery(self.fields(obj, Some(id), &known(&["sql", "args", "as"]))?)
            }
            "db.exec" => {
                Action::DbExec(self.fields(obj, Some(id), &known(&["sql", "args", "as"]))?)
            }
            "http" => Action::Http(self.fields(
                obj,
                Some(id),
                &known(&["method", "url", "headers", "body", "timeout_ms", "as"]),
            )?),
            "log" => Action::Log(self.fields(obj, Some(id), &known(&["message"]))?),
            "sleep" => Action::Sleep(self.fields(obj, Some(id), &known(&["ms"]))?),
            "fail" => Action::Fail(self.fields(obj, Some(id), &known(&["message"]))?),
            "return" => Action::Return(self.fields(obj, Some(id), &known(&["value", "status"]))?),
            other => {
                let mut d = self
                    .diag(format!("unknown action {other:?}"))
                    .at_opt(self.locate_step(id))
                    .step(id)
                    .field("action");
                d = match suggest(other, ACTION_NAMES) {
                    Some(s) => d.hint(format!("did you mean `{s}`?")),
                    None => d.hint(format!("use one of {}", ACTION_NAMES.join(", "))),
                };
                self.push(d);
                return None;
            }
        };
        Some(action)
    }

    /// Where the step `id` being read is (the innermost open step with that id).
    fn locate_step(&self, id: &str) -> Option<(usize, usize)> {
        match self.open.iter().rev().find(|(open, _)| open == id) {
            Some((_, at)) => *at,
            None => self.locate_step_nth(id, 0),
        }
    }

    fn locate_step_nth(&self, id: &str, nth: usize) -> Option<(usize, usize)> {
        super::source_map::find_step(self.text, id, nth)
    }

    fn locate_key(&self, key: &str) -> Option<(usize, usize)> {
        super::source_map::find_key(self.text, key)
    }
}

fn last_segment(path: &str) -> &str {
    let tail = path.rsplit('.').next().unwrap_or(path);
    tail.split('[').next().unwrap_or(tail)
}
