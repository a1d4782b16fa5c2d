//! The engine: the dispatcher (record an event, then queue or skip every listener), the
//! interpreter (a stack machine that can stop before any step), one file per action, and a
//! worker pool on tokio that runs the cascades that runs emit.

pub(crate) mod actions;
pub(crate) mod compare;
pub mod context;
pub(crate) mod core;
pub mod debug;
pub(crate) mod diff;
pub(crate) mod dispatch;
pub mod effects;
pub(crate) mod error;
pub(crate) mod http_client;
pub mod import;
pub mod interpreter;
mod live;
pub(crate) mod owner;
pub(crate) mod probe;
pub mod program;
pub mod rerun;
pub mod retention;
pub(crate) mod routes;
pub(crate) mod run_end;
pub(crate) mod runlog;
pub mod runtime;
pub mod secrets;
pub(crate) mod trace;
pub(crate) mod tracker;
pub mod what_if;
pub(crate) mod worker;

pub use self::core::{Core, RunJob};
pub use dispatch::Dispatched;
pub use effects::EmitRequest;
pub use error::EngineError;
pub use run_end::RunEnd;
pub use tracker::Tracker;

use self::context::{EventContext, Inputs};
use crate::model::diagnostic::suggest;
use crate::model::{DefinitionKind, EventRecord, RunMode, RunRecord, Timestamp, json_text};
use crate::store::HotWrites;
use crate::store::Store;
use crate::store::cascade::Cascade;
use crate::store::runs::NewRun;
use serde_json::{Map, Value, json};
use std::path::Path;
use std::sync::{Arc, MutexGuard};

/// Stack size for threads that run workflows (reserved address space; pages are used only
/// when touched). Template evaluation bounds its own recursion at 1 MiB; the rest is for
/// jq's native filters on deeply nested values.
pub const STACK_SIZE: usize = 64 * 1024 * 1024;

/// Runs executed at once by one process, by default.
pub const DEFAULT_WORKERS: usize = 64;

/// A running engine on one store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Engine {
    core: Arc<Core>,
}

/// An HTTP request for an endpoint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointRequest {
    /// The HTTP method, any case.
    pub method: String,
    /// Path (a query string after `?` is parsed into `query`).
    pub path: String,
    /// Query parameters.
    pub query: Map<String, Value>,
    /// Headers, lower-case names.
    pub headers: Map<String, Value>,
    /// Body (JSON).
    pub body: Value,
    /// Run the endpoint's draft (a debug run) instead of its live version.
    pub draft: bool,
}

/// What an emit did, once its cascade finished.
#[derive(Debug, Clone, PartialEq)]
pub struct EmitReport {
    /// The event.
    pub event: EventRecord,
    /// Everything its cascade recorded.
    pub cascade: Cascade,
}

/// What a debug run did, once its cascade finished.
#[derive(Debug, Clone, PartialEq)]
pub struct DebugReport {
    /// The run, with its steps.
    pub run: RunRecord,
    /// What its emits set off (the listeners' drafts, as the run is a draft).
    pub cascade: Cascade,
}

/// An endpoint's answer to a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Response body.
    pub body: Value,
    /// The endpoint's run.
    pub run_id: i64,
}

/// What an endpoint call did, once its cascade finished.
#[derive(Debug, Clone, PartialEq)]
pub struct CallReport {
    /// HTTP status of the response.
    pub status: u16,
    /// Response body.
    pub body: Value,
    /// The endpoint's run.
    pub run: RunRecord,
    /// The cascade of the events it emitted.
    pub cascade: Cascade,
}

impl Engine {
    /// Open the store at `path` (created when missing) with `workers` runs at once.
    pub fn open(path: &Path, workers: usize) -> Result<Engine, EngineError> {
        Ok(Engine {
            core: Core::open(path, workers)?,
        })
    }

    /// The services shared by runs.
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// A read connection to the store.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.core.reader()
    }

    /// Record and dispatch an event; runs start at once and join `tracker`.
    pub async fn emit(
        &self,
        request: EmitRequest,
        tracker: Option<Tracker>,
    ) -> Result<Dispatched, EngineError> {
        self.core.emit(request, tracker).await
    }

    /// Emit and wait for the whole cascade (unless the request only queues).
    pub async fn emit_and_wait(&self, request: EmitRequest) -> Result<EmitReport, EngineError> {
        let tracker = Tracker::new();
        let dispatched = self.core.emit(request, Some(tracker.clone())).await?;
        tracker.wait().await;
        let event = dispatched.event.record;
        let cascade = self.store().cascade_of_recorded(&event)?;
        Ok(EmitReport { event, cascade })
    }

    /// Run an endpoint's live version (or its draft, with `request.draft`) once, as a request
    /// would, and wait for its cascade.
    pub async fn call(&self, request: EndpointRequest) -> Result<CallReport, EngineError> {
        let tracker = Tracker::new();
        let answer = self.answer(request, Some(tracker.clone())).await?;
        tracker.wait().await;
        let store = self.store();
        let run = store
            .run_with_steps(answer.run_id)?
            .ok_or_else(|| EngineError::Setup(format!("run {} vanished", answer.run_id)))?;
        let cascade = store.cascade_of_run(answer.run_id)?;
        Ok(CallReport {
            status: answer.status,
            body: answer.body,
            run,
            cascade,
        })
    }

    /// Run an endpoint's live version for a request and answer as soon as its run ends (the
    /// runs of the events it emitted go on; `tracker` follows them).
    pub async fn answer(
        &self,
        request: EndpointRequest,
        tracker: Option<Tracker>,
    ) -> Result<Answer, EngineError> {
        let method = request.method.to_ascii_uppercase();
        let (path, query_string) = match request.path.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (request.path.clone(), None),
        };
        let mut query = request.query.clone();
        if let Some(q) = query_string {
            for pair in q.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                query.insert(k.to_string(), Value::String(v.to_string()));
            }
        }
        let (row, bound) = self.route(&method, &path, request.draft)?;
        let request = EndpointRequest { query, ..request };
        self.answer_at(row, bound, request, tracker).await
    }

    /// Run `row`, the endpoint already found for `request` (its `{name}` segments bound in
    /// `bound`), as [`Engine::answer`] does after its lookup: for a caller that routes
    /// requests itself (the server's router), with `request.query` already parsed.
    pub async fn answer_at(
        &self,
        row: crate::store::definitions::DefinitionRow,
        bound: Map<String, Value>,
        request: EndpointRequest,
        tracker: Option<Tracker>,
    ) -> Result<Answer, EngineError> {
        let (version, mode) = if request.draft {
            (None, RunMode::Debug)
        } else {
            (row.live_version, RunMode::Live)
        };
        let inputs = Inputs {
            body: request.body,
            query: Value::Object(request.query),
            headers: Value::Object(request.headers),
            path: Value::Object(bound),
            ..Inputs::default()
        };
        let params = inputs.recorded(DefinitionKind::Endpoint);
        if request.draft {
            // compile first: a draft that does not compile is an error, not a failed run
            self.core.program(row.id, None)?;
        }
        let run_id = self
            .record_run(&row, DefinitionKind::Endpoint, version, mode, params, true)
            .await?;
        let end = self
            .core
            .execute(RunJob {
                run_id,
                definition_id: row.id,
                kind: DefinitionKind::Endpoint,
                name: row.name.clone(),
                version,
                mode,
                inputs,
                event: None,
                tracker,
                resumed: false,
            })
            .await;
        let (status, body) = crate::model::record::response(
            run_id,
            end.status,
            end.http_status,
            end.output.as_ref(),
            end.error.as_deref(),
        );
        Ok(Answer {
            status,
            body,
            run_id,
        })
    }

    /// Find the live endpoint (or, with `draft`, the endpoint whose draft) answers
    /// `method` and `path`.
    fn route(
        &self,
        method: &str,
        path: &str,
        draft: bool,
    ) -> Result<(crate::store::definitions::DefinitionRow, Map<String, Value>), EngineError> {
        let rows = self.store().list_definitions()?;
        let endpoints: Vec<_> = rows
            .into_iter()
            .filter(|r| r.kind == DefinitionKind::Endpoint)
            .collect();
        let mut matches: Vec<_> = endpoints
            .iter()
            .filter(|r| r.method.as_deref() == Some(method))
            .filter_map(|r| {
                let route = r.path.as_deref()?;
                routes::match_route(route, path).map(|b| (r, b, routes::specificity(route)))
            })
            .collect();
        matches.sort_by_key(|(_, _, s)| std::cmp::Reverse(*s));
        match matches.into_iter().next() {
            Some((row, bound, _)) if draft || row.live_version.is_some() => {
                Ok((row.clone(), bound))
            }
            Some((row, _, _)) => Err(EngineError::UnknownRoute {
                method: method.to_string(),
                path: path.to_string(),
                hint: format!(
                    ": {} is imported but was never deployed (run `flowdeck deploy \"{}\"`)",
                    row.name, row.name
                ),
            }),
            None => {
                let known: Vec<String> = endpoints.iter().map(|r| r.name.clone()).collect();
                let hint = if known.is_empty() {
                    " (the store has no endpoints; import a project first)".to_string()
                } else {
                    format!(" (endpoints: {})", known.join(", "))
                };
                Err(EngineError::UnknownRoute {
                    method: method.to_string(),
                    path: path.to_string(),
                    hint,
                })
            }
        }
    }

    /// What to tell whoever emitted `event` when no workflow listens to it (see
    /// [`Dispatched::unheard`]): the event is kept, and the name may be a typo of one that
    /// has listeners. Both fronts (`flowdeck emit`, `POST /events`) follow this one rule.
    pub fn unheard_warning(&self, event: &str, id: i64) -> String {
        let mut events: Vec<String> = self
            .store()
            .list_definitions()
            .map(|rows| {
                rows.into_iter()
                    .filter(|r| r.kind == DefinitionKind::Workflow)
                    .filter_map(|r| r.on_event)
                    .collect()
            })
            .unwrap_or_default();
        events.sort();
        events.dedup();
        let hint = match suggest(event, events.iter().map(String::as_str)) {
            Some(s) => format!(" (did you mean {s:?}?)"),
            None if events.is_empty() => " (the store has no workflows yet)".to_string(),
            None => format!(" (events with listeners: {})", events.join(", ")),
        };
        format!(
            "no workflow listens to {event:?}{hint}; event #{id} is recorded all the same, \
             for a workflow that listens to it later"
        )
    }

    /// Find a workflow by name, with a suggestion when there is none.
    pub fn workflow(
        &self,
        name: &str,
    ) -> Result<crate::store::definitions::DefinitionRow, EngineError> {
        let store = self.store();
        if let Some(row) = store.find_definition(DefinitionKind::Workflow, name)? {
            return Ok(row);
        }
        let names: Vec<String> = store
            .list_definitions()?
            .into_iter()
            .filter(|r| r.kind == DefinitionKind::Workflow)
            .map(|r| r.name)
            .collect();
        Err(EngineError::UnknownWorkflow {
            name: name.to_string(),
            hint: unknown_hint(name, &names),
        })
    }

    /// Run one workflow's draft once with `params` and wait for it and its cascade
    /// (events it emits run their listeners' drafts). Returns the run with its steps and
    /// everything it set off.
    pub async fn debug(&self, workflow: &str, params: Value) -> Result<DebugReport, EngineError> {
        if !params.is_object() {
            return Err(EngineError::BadInput(format!(
                "params must be a JSON object, got {params}"
            )));
        }
        let row = self.workflow(workflow)?;
        // compile first: a draft that does not compile is an error, not a failed run
        self.core.program(row.id, None)?;
        let run_id = self
            .record_run(
                &row,
                DefinitionKind::Workflow,
                None,
                RunMode::Debug,
                params.clone(),
                false,
            )
            .await?;
        let event = json!({
            "id": null,
            "name": row.on_event,
            "source": "debug",
            "depth": 0,
            "emitted_at": Timestamp::now(),
        });
        let tracker = Tracker::new();
        self.core
            .execute(RunJob {
                run_id,
                definition_id: row.id,
                kind: DefinitionKind::Workflow,
                name: row.name.clone(),
                version: None,
                mode: RunMode::Debug,
                inputs: Inputs::workflow(crate::model::LazyJson::shared(params), event),
                event: Some(EventContext {
                    id: None,
                    chain: Vec::new(),
                    depth: 0,
                }),
                tracker: Some(tracker.clone()),
                resumed: false,
            })
            .await;
        tracker.wait().await;
        let store = self.store();
        let run = store
            .run_with_steps(run_id)?
            .ok_or_else(|| EngineError::Setup(format!("run {run_id} vanished")))?;
        let cascade = store.cascade_of_run(run_id)?;
        Ok(DebugReport { run, cascade })
    }

    /// Record a run that this process executes at once (no event): an endpoint call or a
    /// debug run. `leased` marks it as this process's.
    pub(crate) async fn record_run(
        &self,
        row: &crate::store::definitions::DefinitionRow,
        kind: DefinitionKind,
        version: Option<i64>,
        mode: RunMode,
        params: Value,
        leased: bool,
    ) -> Result<i64, EngineError> {
        let (definition_id, target) = (row.id, row.name.clone());
        let owner = leased.then(|| self.core.owner().to_string());
        // the run executes with its real inputs; its record has secrets masked (a
        // request's header that carries one, say)
        let mut params = params;
        self.core.settings().secrets.mask(&mut params);
        let params_json = json_text(&params);
        Ok(self
            .core
            .writer()
            .call(move |s| {
                s.check_room()?;
                s.insert_run(&NewRun {
                    definition_id,
                    kind,
                    target: &target,
                    version,
                    event_id: None,
                    mode,
                    params_json: &params_json,
                    lease_owner: owner.as_deref(),
                    lease_expires: None,
                })
                .map(|(id, _)| id)
            })
            .await?)
    }

    /// Wait until every write sent so far is committed.
    pub async fn flush(&self) -> Result<(), EngineError> {
        Ok(self.core.writer().flush().await?)
    }
}

/// ` (did you mean "x"?)`, or the list of names.
pub fn unknown_hint(name: &str, names: &[String]) -> String {
    if let Some(s) = suggest(name, names.iter().map(String::as_str)) {
        format!(" (did you mean {s:?}?)")
    } else if names.is_empty() {
        " (the store has no workflows; import a project first)".to_string()
    } else {
        format!(" (workflows: {})", names.join(", "))
    }
}
