//! What-if: a workflow's draft run against events that really came in, with its side effects
//! held back, and compared with what the live version's run of each event did. Nothing is
//! written, and the draft sees the world as the live run saw it, as far as the record
//! tells: a `db.query` or `db.exec` that the live run made at the same step with the same
//! SQL and values is answered from its record (the data has changed since); another reads
//! the data database now, or writes in a transaction that is rolled back (so the run's own
//! reads see its writes). `http` is answered from the live run's record of the same step
//! (or fails the step, saying so), `emit` is noted, not dispatched, and `sleep` takes no
//! time.

use super::Engine;
use super::compare::{changes, object};
use super::context::{EventContext, Inputs, RunContext};
use super::core::event_value;
use super::effects::{Effects, EmitRequest, HttpRequest, HttpResponse, StepRef};
use super::error::EngineError;
use super::interpreter::{Interpreter, RunOutcome};
use crate::model::{
    DefinitionKind, RunMode, RunRecord, RunStatus, StepRecord, StepStatus, Timestamp,
};
use crate::store::data::{ExecResult, Scratch};
use crate::store::events::{EventFilter, StoredEvent};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Which events a what-if replays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Events {
    /// The newest `n` events of the workflow's event.
    Last(u32),
    /// These events.
    Ids(Vec<i64>),
}

/// One difference between the live run and the draft.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// Where, as a JSON pointer into `{status, output, emits, writes, requests}`.
    pub pointer: String,
    /// What the live run did there.
    pub live: Value,
    /// What the draft did there.
    pub draft: Value,
}

/// The draft against one event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventResult {
    /// The event.
    pub event_id: i64,
    /// The live version's run of it (`null`: it did not run then).
    pub live_run: Option<i64>,
    /// Whether the draft did the same.
    pub same: bool,
    /// Where it did not.
    pub differences: Vec<Difference>,
}

/// A what-if's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhatIfReport {
    /// The workflow.
    pub workflow: String,
    /// Its live version.
    pub live_version: Option<i64>,
    /// Each event, oldest first.
    pub events: Vec<EventResult>,
    /// How many the draft handled the same way.
    pub same: usize,
    /// How many differently.
    pub different: usize,
}

impl Engine {
    /// Run `workflow`'s draft against recorded events with its side effects held back, and
    /// compare each with the live run of the same event. Writes nothing.
    pub async fn what_if(
        &self,
        workflow: &str,
        events: Events,
    ) -> Result<WhatIfReport, EngineError> {
        let row = self.workflow(workflow)?;
        let program = self.core().program(row.id, None)?;
        let Some(on) = row.on_event.clone() else {
            return Err(EngineError::BadInput(format!(
                "{workflow} listens to no event"
            )));
        };
        let recorded = self.recorded(&on, &events)?;
        let mut results = Vec::with_capacity(recorded.len());
        for (event, live) in recorded {
            // a deployed version's run (a replay to drafts ran the draft: not what went live)
            let live = live
                .into_iter()
                .find(|r| r.target.name() == row.name && r.version.is_some());
            let draft = self
                .dry_run(&row, program.clone(), &event, live.as_ref())
                .await?;
            let live_doc = live.as_ref().map_or_else(
                || object([("status", json!("did not run"))]),
                document_of_record,
            );
            let differences: Vec<Difference> = changes(&live_doc, &draft)
                .into_iter()
                .map(|c| Difference {
                    pointer: c.pointer,
                    live: c.a,
                    draft: c.b,
                })
                .collect();
            results.push(EventResult {
                event_id: event.record.id,
                live_run: live.map(|r| r.id),
                same: differences.is_empty(),
                differences,
            });
        }
        let same = results.iter().filter(|r| r.same).count();
        Ok(WhatIfReport {
            workflow: row.name,
            live_version: row.live_version,
            different: results.len() - same,
            same,
            events: results,
        })
    }

    /// The events to replay with the runs each had (steps included), oldest first.
    fn recorded(
        &self,
        on: &str,
        which: &Events,
    ) -> Result<Vec<(StoredEvent, Vec<RunRecord>)>, EngineError> {
        let store = self.store();
        let ids: Vec<i64> = match which {
            Events::Ids(ids) => ids.clone(),
            Events::Last(n) => store
                .list_events(&EventFilter {
                    name: Some(on.to_string()),
                    limit: *n,
                    before: None,
                })?
                .into_iter()
                .rev()
                .map(|e| e.id)
                .collect(),
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(event) = store.event(id)? else {
                return Err(EngineError::BadInput(format!("no event #{id}")));
            };
            if event.record.name != on {
                return Err(EngineError::BadInput(format!(
                    "event #{id} is {:?}, not {on:?}, the event the workflow listens to",
                    event.record.name
                )));
            }
            let runs = store
                .runs_of_event(id)?
                .into_iter()
                .map(|r| store.run_with_steps(r.id).map(|full| full.unwrap_or(r)))
                .collect::<crate::store::Result<Vec<_>>>()?;
            out.push((event, runs));
        }
        Ok(out)
    }

    /// Run the draft for `event` with effects held back; what it did, as compared.
    async fn dry_run(
        &self,
        row: &crate::store::definitions::DefinitionRow,
        program: Arc<super::program::Program>,
        event: &StoredEvent,
        live: Option<&RunRecord>,
    ) -> Result<Value, EngineError> {
        let core = self.core();
        let held = HeldBack {
            core,
            live: live.and_then(|r| r.steps.clone()).unwrap_or_default(),
            scratch: core
                .data()
                .scratch()
                .map_err(|e| EngineError::Setup(format!("cannot open the data database: {e}")))?,
            noted: Mutex::new(Noted::default()),
        };
        let inputs = Inputs::workflow(event.record.params.clone(), event_value(&event.record));
        let context = RunContext {
            run_id: 0,
            version: None,
            kind: DefinitionKind::Workflow,
            name: row.name.clone(),
            mode: RunMode::Debug,
            event: Some(EventContext {
                id: Some(event.record.id),
                chain: event.chain.clone(),
                depth: event.record.depth,
            }),
            tracker: None,
            resumed: false,
        };
        let mut interpreter = Interpreter::new(program, inputs, held.env(), held.expr_limit());
        while !interpreter.is_finished() {
            interpreter.step(&held, &context).await;
        }
        let noted = held.noted.lock().map(|n| n.clone()).unwrap_or_default();
        let (status, output) = match interpreter.outcome() {
            Some(RunOutcome::Succeeded { output, .. }) => ("succeeded", output.clone()),
            Some(RunOutcome::Failed { error, step }) => (
                "failed",
                json!({ "error": match step {
                    Some(s) => format!("step {s}: {error}"),
                    None => error.clone(),
                } }),
            ),
            Some(RunOutcome::Cancelled { reason }) => ("cancelled", json!({ "error": reason })),
            None => ("failed", Value::Null),
        };
        let mut doc = object([
            ("status", json!(status)),
            ("output", output),
            ("emits", Value::Array(noted.emits)),
            ("writes", Value::Array(noted.writes)),
            ("requests", Value::Array(noted.requests)),
        ]);
        core.settings().secrets.mask(&mut doc);
        Ok(doc)
    }
}

/// What a live run did, as a what-if compares it: from its record.
fn document_of_record(run: &RunRecord) -> Value {
    let steps = run.steps.as_deref().unwrap_or_default();
    let done = |action: &str| -> Vec<&StepRecord> {
        steps
            .iter()
            .filter(|s| s.action == action && s.status == StepStatus::Succeeded)
            .collect()
    };
    let status = match run.status {
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed => "failed",
        RunStatus::Cancelled => "cancelled",
        _ => "unfinished",
    };
    let output = match run.status {
        RunStatus::Succeeded => run.output.clone().unwrap_or(Value::Null),
        _ => json!({ "error": run.error }),
    };
    object([
        ("status", json!(status)),
        ("output", output),
        (
            "emits",
            done("emit").iter().map(|s| s.input.clone()).collect(),
        ),
        (
            "writes",
            done("db.exec").iter().map(|s| s.input.clone()).collect(),
        ),
        (
            "requests",
            done("http").iter().map(|s| s.input.clone()).collect(),
        ),
    ])
}

/// What a held-back run did that the world did not see.
#[derive(Debug, Clone, Default)]
struct Noted {
    emits: Vec<Value>,
    writes: Vec<Value>,
    requests: Vec<Value>,
}

/// Effects held back: reads are real, nothing else reaches the world.
struct HeldBack<'a> {
    core: &'a super::Core,
    /// The live run's records, to answer from.
    live: Vec<StepRecord>,
    scratch: Scratch,
    noted: Mutex<Noted>,
}

impl HeldBack<'_> {
    fn note(&self, f: impl FnOnce(&mut Noted)) {
        if let Ok(mut n) = self.noted.lock() {
            f(&mut n);
        }
    }

    /// The live run's record of a `db.*` step at the same place with the same SQL and values.
    fn same_as_recorded(
        &self,
        at: &StepRef<'_>,
        action: &str,
        sql: &str,
        args: &[Value],
    ) -> Option<&StepRecord> {
        self.recorded(at, action).filter(|r| {
            r.input["sql"] == sql && r.input["args"].as_array().map(Vec::as_slice) == Some(args)
        })
    }

    /// The live run's record of the same step at the same place (its last attempt).
    fn recorded(&self, at: &StepRef<'_>, action: &str) -> Option<&StepRecord> {
        self.live.iter().rev().find(|s| {
            s.path == at.path
                && s.iteration == at.iteration
                && s.action == action
                && s.status == StepStatus::Succeeded
        })
    }
}

impl Effects for HeldBack<'_> {
    async fn query(
        &self,
        at: StepRef<'_>,
        sql: &str,
        args: &[Value],
    ) -> Result<Vec<Value>, String> {
        if let Some(rows) = self
            .same_as_recorded(&at, "db.query", sql, args)
            .and_then(|r| r.output.as_array().cloned())
        {
            return Ok(rows);
        }
        self.scratch.query(sql, args).map_err(|e| e.to_string())
    }

    async fn exec(&self, at: StepRef<'_>, sql: &str, args: &[Value]) -> Result<ExecResult, String> {
        self.note(|n| n.writes.push(json!({ "sql": sql, "args": args })));
        // run either way: a statement that would fail now fails the draft's step
        let now = self.scratch.exec(sql, args).map_err(|e| e.to_string())?;
        Ok(self
            .same_as_recorded(&at, "db.exec", sql, args)
            .and_then(|r| {
                Some(ExecResult {
                    changes: r.output["changes"].as_u64()?,
                    last_id: r.output["last_id"].as_i64()?,
                })
            })
            .unwrap_or(now))
    }

    async fn http(&self, at: StepRef<'_>, request: HttpRequest) -> Result<HttpResponse, String> {
        let mut noted = json!({ "method": request.method, "url": request.url });
        if !request.headers.is_empty() {
            noted["headers"] = Value::Object(request.headers.clone());
        }
        if let Some(b) = &request.body {
            noted["body"] = b.clone();
        }
        self.note(|n| n.requests.push(noted));
        let Some(record) = self.recorded(&at, "http") else {
            return Err(format!(
                "what-if answers http steps from the live run's record, and it has no answer \
                 for step {} (the live run did not get there)",
                at.step
            ));
        };
        let answer = &record.output;
        Ok(HttpResponse {
            status: answer["status"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(200),
            headers: answer["headers"]
                .as_object()
                .cloned()
                .unwrap_or_else(Map::new),
            body: answer.get("body").cloned().unwrap_or(Value::Null),
        })
    }

    async fn emit(&self, at: StepRef<'_>, request: EmitRequest) -> Result<Option<i64>, String> {
        self.note(|n| {
            n.emits
                .push(json!({ "event": request.name, "params": request.params }))
        });
        // the id the live run's event got, so that what the draft does with it compares
        Ok(self
            .recorded(&at, "emit")
            .and_then(|r| r.output["event_id"].as_i64()))
    }

    async fn sleep(&self, _duration: Duration) {}

    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn env(&self) -> Arc<Value> {
        self.core.env()
    }

    fn expr_limit(&self) -> Duration {
        self.core.expr_limit()
    }

    fn http_timeout(&self) -> Duration {
        self.core.http_timeout()
    }
}
