//! Checks that need a whole step once its shape is read: variable and event names, SQL
//! text, template syntax, retries.

use super::{HTTP_METHODS, ParseCx};
use crate::model::definition::DefinitionKind;
use crate::model::diagnostic::Diagnostic;
use crate::model::names;
use crate::model::step::*;
use crate::model::template;
use serde_json::Value;

impl ParseCx<'_> {
    /// Checks that need the whole step: names, SQL text, template syntax.
    pub(super) fn check_step(&mut self, step: &Step, kind: DefinitionKind) {
        let id = step.id.as_str();
        let at = self.locate_step(id);
        let mut faults: Vec<Diagnostic> = Vec::new();
        let mut fault = |field: &str, message: String, hint: &str| {
            let mut d = Diagnostic::new(self.file.clone(), message)
                .at_opt(at)
                .step(id)
                .field(field);
            if !hint.is_empty() {
                d = d.hint(hint);
            }
            faults.push(d);
        };
        if let Some(var) = step.action.result_var()
            && !names::is_identifier(var)
        {
            let field = if matches!(step.action, Action::Set(_)) {
                "var"
            } else {
                "as"
            };
            fault(
                field,
                format!("invalid variable name {var:?}"),
                names::IDENT_RULE,
            );
        }
        match &step.action {
            Action::Foreach(f) if !names::is_identifier(&f.item) => {
                fault(
                    "as",
                    format!("invalid variable name {:?}", f.item),
                    names::IDENT_RULE,
                );
            }
            Action::DbQuery(s) | Action::DbExec(s) => {
                if template::has_template(&s.sql) {
                    fault(
                        "sql",
                        "`{{` inside SQL text".into(),
                        "SQL is literal: write `?` in the SQL and pass the value in `args`, e.g. \"args\": [\"{{$param.sku}}\"]",
                    );
                }
                if s.sql.trim().is_empty() {
                    fault("sql", "empty SQL".into(), "");
                }
            }
            Action::Emit(e) => {
                if !names::is_event_name(&e.event) {
                    fault(
                        "event",
                        format!("invalid event name {:?}", e.event),
                        names::EVENT_RULE,
                    );
                }
                let whole_template = e.params.as_str().is_some_and(|s| {
                    matches!(
                        template::split(s).as_deref(),
                        Ok([template::Segment::Expr(_)])
                    )
                });
                if !e.params.is_object() && !whole_template {
                    fault(
                        "params",
                        "`params` must be an object (or one `{{ }}` template that yields an object)".into(),
                        "write \"params\": {\"sku\": \"{{$param.sku}}\"}",
                    );
                }
            }
            Action::Http(h) if !HTTP_METHODS.contains(&h.method.to_ascii_uppercase().as_str()) => {
                fault(
                    "method",
                    format!("unknown HTTP method {:?}", h.method),
                    "use GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS",
                );
            }
            Action::Return(r) if r.status.is_some() && kind == DefinitionKind::Workflow => {
                fault(
                    "status",
                    "`status` is only for endpoints".into(),
                    "a workflow's return gives its output only",
                );
            }
            _ => {}
        }
        step.action.for_each_template(|field, value| {
            check_template_syntax(value, &field, &mut |field, message| {
                fault(field, message, "close every `{{` with `}}`");
            });
        });
        self.diagnostics.extend(faults);
    }

    pub(super) fn check_retry(&mut self, retry: Option<&Retry>, step: Option<&str>) {
        if let Some(r) = retry
            && r.max_attempts == 0
        {
            let mut d = self
                .diag("`retry.max_attempts` must be at least 1 (it counts the first attempt)")
                .field("retry");
            if let Some(id) = step {
                d = d.step(id).at_opt(self.locate_step(id));
            }
            self.push(d);
        }
    }
}

/// Walk a template-bearing value and report `{{ }}` syntax faults with the field path.
fn check_template_syntax(value: &Value, field: &str, report: &mut impl FnMut(&str, String)) {
    match value {
        Value::String(s) if template::has_template(s) => {
            if let Err(e) = template::split(s) {
                report(field, format!("bad template {s:?}: {e}"));
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                check_template_syntax(v, &format!("{field}[{i}]"), report);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                check_template_syntax(v, &format!("{field}.{k}"), report);
            }
        }
        _ => {}
    }
}
