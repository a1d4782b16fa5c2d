//! Steps and their actions: the contract of docs/file-format.md.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One step of a workflow or endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Unique within its file; breakpoints and traces name steps by it.
    pub id: String,
    /// Free text shown in the studio.
    pub description: Option<String>,
    /// Retry policy of this step (overrides the definition's).
    pub retry: Option<Retry>,
    /// What the step does.
    pub action: Action,
}

/// Retry policy: attempts in all, and the pause before the second (doubling after).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Attempts in all, counting the first (1 means no retry).
    pub max_attempts: u32,
    /// Pause before the second attempt, in milliseconds; doubles for each further one.
    #[serde(default)]
    pub backoff_ms: u64,
}

/// The action of a step, with its fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `set`: bind `$var.<var>`.
    Set(SetStep),
    /// `if`: run one of two branches.
    If(IfStep),
    /// `foreach`: run steps once per item.
    Foreach(ForeachStep),
    /// `emit`: create an event (the Create Event action).
    Emit(EmitStep),
    /// `db.query`: read rows from the data database.
    DbQuery(DbStep),
    /// `db.exec`: change the data database.
    DbExec(DbStep),
    /// `http`: call an HTTP service.
    Http(HttpStep),
    /// `log`: write a message to the trace.
    Log(LogStep),
    /// `sleep`: wait.
    Sleep(SleepStep),
    /// `try`: run steps, and `catch` on error.
    Try(TryStep),
    /// `fail`: fail the run.
    Fail(FailStep),
    /// `return`: end the run with an output.
    Return(ReturnStep),
}

/// Fields of `set`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetStep {
    /// Variable name, read back as `$var.<var>`.
    pub var: String,
    /// Template of the value.
    pub value: Value,
}

/// Fields of `if`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IfStep {
    /// Template of the condition (jq truthiness: all but `false` and `null` are true).
    pub cond: Value,
    /// Steps when true.
    #[serde(skip)]
    pub then: Vec<Step>,
    /// Steps when false.
    #[serde(skip)]
    pub otherwise: Vec<Step>,
}

/// Fields of `foreach`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForeachStep {
    /// Template of the array to walk.
    #[serde(rename = "in")]
    pub items: Value,
    /// Name of the item variable (`$var.<as>`, index `$var.<as>_index`).
    #[serde(rename = "as")]
    pub item: String,
    /// Steps run for each item.
    #[serde(skip)]
    pub steps: Vec<Step>,
}

/// Fields of `emit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmitStep {
    /// The event name (literal).
    pub event: String,
    /// Template of the params: an object of templates, or one template yielding an object.
    #[serde(default = "empty_object", skip_serializing_if = "is_empty_object")]
    pub params: Value,
    /// Variable for the result `{event_id}`.
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// Fields of `db.query` and `db.exec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbStep {
    /// SQL text, literal; values enter only through `args`.
    pub sql: String,
    /// Templates bound to the `?` parameters in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Value>,
    /// Variable for the result.
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// Fields of `http`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpStep {
    /// HTTP method (GET when absent).
    #[serde(default = "default_method")]
    pub method: String,
    /// Template of the URL.
    pub url: Value,
    /// Templates of request headers.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub headers: Map<String, Value>,
    /// Template of the JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Template of the timeout in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<Value>,
    /// Variable for the result `{status, headers, body}`.
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// Fields of `log`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogStep {
    /// Template of the message.
    pub message: Value,
}

/// Fields of `sleep`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SleepStep {
    /// Template of the pause in milliseconds.
    pub ms: Value,
}

/// Fields of `try`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TryStep {
    /// Steps to try.
    #[serde(skip)]
    pub steps: Vec<Step>,
    /// Steps run when one of `steps` fails, with `$error`.
    #[serde(skip)]
    pub catch: Vec<Step>,
}

/// Fields of `fail`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailStep {
    /// Template of the error message.
    pub message: Value,
}

/// Fields of `return`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnStep {
    /// Template of the output (the response body for endpoints).
    #[serde(default)]
    pub value: Value,
    /// Template of the HTTP status (endpoints only; 200 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

fn is_empty_object(v: &Value) -> bool {
    v.as_object().is_some_and(Map::is_empty)
}

fn default_method() -> String {
    "GET".to_string()
}

/// Every action name, as written in files.
pub(crate) const ACTION_NAMES: [&str; 12] = [
    "set", "if", "foreach", "emit", "db.query", "db.exec", "http", "log", "sleep", "try", "fail",
    "return",
];

impl Action {
    /// The action name, as written in files.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Set(_) => "set",
            Action::If(_) => "if",
            Action::Foreach(_) => "foreach",
            Action::Emit(_) => "emit",
            Action::DbQuery(_) => "db.query",
            Action::DbExec(_) => "db.exec",
            Action::Http(_) => "http",
            Action::Log(_) => "log",
            Action::Sleep(_) => "sleep",
            Action::Try(_) => "try",
            Action::Fail(_) => "fail",
            Action::Return(_) => "return",
        }
    }

    /// The variable the step's result is stored under, if any.
    pub fn result_var(&self) -> Option<&str> {
        match self {
            Action::Set(s) => Some(&s.var),
            Action::Emit(s) => s.result.as_deref(),
            Action::DbQuery(s) | Action::DbExec(s) => s.result.as_deref(),
            Action::Http(s) => s.result.as_deref(),
            _ => None,
        }
    }

    /// The step lists nested in this action, with their field names.
    pub fn children(&self) -> Vec<(&'static str, &[Step])> {
        match self {
            Action::If(s) => vec![("then", &s.then), ("else", &s.otherwise)],
            Action::Foreach(s) => vec![("steps", &s.steps)],
            Action::Try(s) => vec![("steps", &s.steps), ("catch", &s.catch)],
            _ => Vec::new(),
        }
    }

    /// Call `f` with the name and value of every field that holds templates.
    pub fn for_each_template(&self, mut f: impl FnMut(String, &Value)) {
        match self {
            Action::Set(s) => f("value".into(), &s.value),
            Action::If(s) => f("cond".into(), &s.cond),
            Action::Foreach(s) => f("in".into(), &s.items),
            Action::Emit(s) => f("params".into(), &s.params),
            Action::DbQuery(s) | Action::DbExec(s) => {
                for (i, a) in s.args.iter().enumerate() {
                    f(format!("args[{i}]"), a);
                }
            }
            Action::Http(s) => {
                f("url".into(), &s.url);
                for (k, v) in &s.headers {
                    f(format!("headers.{k}"), v);
                }
                if let Some(b) = &s.body {
                    f("body".into(), b);
                }
                if let Some(t) = &s.timeout_ms {
                    f("timeout_ms".into(), t);
                }
            }
            Action::Log(s) => f("message".into(), &s.message),
            Action::Sleep(s) => f("ms".into(), &s.ms),
            Action::Fail(s) => f("message".into(), &s.message),
            Action::Return(s) => {
                f("value".into(), &s.value);
                if let Some(st) = &s.status {
                    f("status".into(), st);
                }
            }
            Action::Try(_) => {}
        }
    }

    /// The fields of the action as a JSON object (children included), without `action`.
    fn fields_json(&self) -> Map<String, Value> {
        let value = match self {
            Action::Set(s) => serde_json::to_value(s),
            Action::If(s) => serde_json::to_value(s),
            Action::Foreach(s) => serde_json::to_value(s),
            Action::Emit(s) => serde_json::to_value(s),
            Action::DbQuery(s) | Action::DbExec(s) => serde_json::to_value(s),
            Action::Http(s) => serde_json::to_value(s),
            Action::Log(s) => serde_json::to_value(s),
            Action::Sleep(s) => serde_json::to_value(s),
            Action::Try(s) => serde_json::to_value(s),
            Action::Fail(s) => serde_json::to_value(s),
            Action::Return(s) => serde_json::to_value(s),
        };
        let mut map = match value {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        for (name, steps) in self.children() {
            if name == "else" && steps.is_empty() {
                continue;
            }
            map.insert(name.to_string(), steps_json(steps));
        }
        map
    }
}

impl Step {
    /// The step as canonical JSON: `id`, `action`, the action's fields, then `description` and `retry`.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("id".into(), Value::String(self.id.clone()));
        map.insert("action".into(), Value::String(self.action.name().into()));
        map.extend(self.action.fields_json());
        if let Some(d) = &self.description {
            map.insert("description".into(), Value::String(d.clone()));
        }
        if let Some(r) = &self.retry {
            map.insert(
                "retry".into(),
                serde_json::to_value(r).unwrap_or(Value::Null),
            );
        }
        Value::Object(map)
    }

    /// Visit this step and every step nested in it, depth first, with its JSON-pointer path.
    pub fn walk<'a>(&'a self, path: &str, f: &mut impl FnMut(&'a Step, &str)) {
        f(self, path);
        for (field, steps) in self.action.children() {
            for (i, child) in steps.iter().enumerate() {
                child.walk(&format!("{path}/{field}/{i}"), f);
            }
        }
    }
}

/// A list of steps as a JSON array.
pub(crate) fn steps_json(steps: &[Step]) -> Value {
    Value::Array(steps.iter().map(Step::to_json).collect())
}

/// Visit every step of a list and their nested steps, with JSON-pointer paths under `base`.
pub(crate) fn walk_steps<'a>(steps: &'a [Step], base: &str, f: &mut impl FnMut(&'a Step, &str)) {
    for (i, step) in steps.iter().enumerate() {
        step.walk(&format!("{base}/{i}"), f);
    }
}
