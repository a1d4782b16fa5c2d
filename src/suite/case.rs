//! Running one test case in a world of its own: the data database from `schema.sql` and
//! the suite's and case's rows, the mocks, the virtual clock; then the workflow, the
//! event's listeners or the endpoint, and (when asked) the cascade, dispatched by the
//! engine's own rule.

use super::catalog::{Catalog, Entry};
use super::world::{Happened, Setup, World, env_of};
use crate::engine::context::{EventContext, Inputs, RunContext};
use crate::engine::core::event_value;
use crate::engine::dispatch::ListenerFacts;
use crate::engine::interpreter::Interpreter;
use crate::engine::program::Program;
use crate::engine::run_end::RunEnd;
use crate::engine::secrets::Secrets;
use crate::model::test_suite::{DEFAULT_NOW, SuiteTarget, TestCase, TestSuite, VersionChoice};
use crate::model::{
    DefinitionKind, EventRecord, RunMode, RunRecord, RunTarget, SkipRecord, StepRecord, Timestamp,
};
use crate::store::data::Scratch;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

/// How long a case may take before it is stopped (an expression's own limit stops most
/// runaway work long before).
pub(crate) const CASE_LIMIT: Duration = Duration::from_secs(30);

/// What a case did.
#[derive(Debug, Clone, Default)]
pub(crate) struct CaseRun {
    /// Every run, in the order they started; the case's own run first (workflow and
    /// endpoint suites).
    pub runs: Vec<RunRecord>,
    /// Listeners that did not run, with why.
    pub skipped: Vec<SkipRecord>,
    /// Requests, the requests no mock answered, events.
    pub happened: Happened,
    /// The endpoint's answer.
    pub response: Option<(u16, Value)>,
    /// Tables the case's expectations read, after the runs (or why one could not be read).
    pub tables: BTreeMap<String, Result<Vec<Value>, String>>,
    /// Why the case could not run at all (its data, its program).
    pub setup_error: Option<String>,
    /// The first run is the case's own (a workflow's or an endpoint's case).
    pub has_root: bool,
}

/// Run `case` of `suite`. `tables` are read from the data database after the runs.
pub(crate) async fn run_case(
    catalog: &Catalog,
    suite: &TestSuite,
    case: &TestCase,
    tables: &[String],
) -> CaseRun {
    let world = match world_of(catalog, suite, case) {
        Ok(w) => w,
        Err(e) => {
            return CaseRun {
                setup_error: Some(e),
                ..CaseRun::default()
            };
        }
    };
    let secrets = secrets_of(catalog, &world);
    let version = case.version.unwrap_or(suite.version);
    let mut cx = CaseCx {
        catalog,
        world: &world,
        secrets,
        out: CaseRun::default(),
        dispatched: 0,
    };
    let limited = tokio::time::timeout(CASE_LIMIT, cx.run(suite, case, version)).await;
    let mut out = cx.out;
    if limited.is_err() {
        out.setup_error = Some(format!(
            "the case did not finish in {} s",
            CASE_LIMIT.as_secs()
        ));
    } else if let Err(e) = limited.unwrap_or(Ok(())) {
        out.setup_error = Some(e);
    }
    out.happened = world.happened();
    for t in tables {
        out.tables.insert(
            t.clone(),
            world.data().table_rows(t).map_err(|e| e.to_string()),
        );
    }
    out
}

/// The case's world: its data database ready, its mocks, clock and `$env`.
fn world_of(catalog: &Catalog, suite: &TestSuite, case: &TestCase) -> Result<World, String> {
    let data = Scratch::in_memory().map_err(|e| format!("cannot open a data database: {e}"))?;
    if let Some(schema) = &catalog.schema {
        data.run_script(schema)
            .map_err(|e| format!("schema.sql: {e}"))?;
    }
    for (what, rows) in [("data", &suite.data), ("the case's data", &case.data)] {
        for (table, list) in rows {
            let list = list.as_array().map(Vec::as_slice).unwrap_or_default();
            data.insert_rows(table, list)
                .map_err(|e| format!("{what}: {table}: {e}"))?;
        }
    }
    let mocks = suite.mocks.overlaid(&case.mocks);
    let settings = catalog.config.engine;
    Ok(World::new(Setup {
        data,
        start: case.now.or(suite.now).unwrap_or(DEFAULT_NOW),
        http_mocks: mocks.http,
        step_mocks: mocks.steps,
        env: env_of(&catalog.config.env, &[&suite.env, &case.env]),
        expr_limit: Duration::from_millis(settings.expr_timeout_ms),
        http_timeout: Duration::from_millis(settings.http_timeout_ms),
    }))
}

/// The values of the project's secrets in the case's `$env`, to mask in its records.
fn secrets_of(catalog: &Catalog, world: &World) -> Secrets {
    use crate::engine::effects::Effects as _;
    let env = world.env();
    Secrets::new(
        catalog
            .config
            .secrets
            .iter()
            .filter_map(|name| env.get(name).and_then(Value::as_str).map(str::to_string)),
    )
}

struct CaseCx<'a> {
    catalog: &'a Catalog,
    world: &'a World,
    secrets: Secrets,
    out: CaseRun,
    /// Events of the world already dispatched.
    dispatched: usize,
}

impl CaseCx<'_> {
    async fn run(
        &mut self,
        suite: &TestSuite,
        case: &TestCase,
        version: VersionChoice,
    ) -> Result<(), String> {
        match &suite.target {
            SuiteTarget::Workflow(name) => {
                let entry = self.entry(name)?;
                let program = entry.program(version)?;
                let on = entry.on.clone().unwrap_or_default();
                let event = self.world.record_event(&on, case.params.clone(), "test");
                self.dispatched = self.world.happened().events.len();
                self.out.has_root = true;
                self.run_workflow(program, &event, Vec::new()).await;
            }
            SuiteTarget::Endpoint { method, path } => {
                let key = crate::model::endpoint_key(method, path);
                let program = self.entry(&key)?.program(version)?;
                let inputs = Inputs::request(&case.request);
                let context = self.context(&program, DefinitionKind::Endpoint, None);
                let run = self.execute(program, inputs, context).await;
                self.out.has_root = true;
                self.out.response = run.response();
                self.out.runs.push(run);
            }
            SuiteTarget::Event(name) => {
                self.world.record_event(name, case.params.clone(), "test");
                // the event's own listeners always run; what they emit, with the cascade
                self.dispatch_pending(version == VersionChoice::Draft, true)
                    .await;
            }
        }
        if case.cascade {
            while self
                .dispatch_pending(version == VersionChoice::Draft, false)
                .await
            {}
        }
        Ok(())
    }

    fn entry(&self, key: &str) -> Result<&Entry, String> {
        self.catalog
            .entries
            .get(key)
            .ok_or_else(|| format!("{key} is not in the project"))
    }

    /// Dispatch the events recorded since the last call (one round); whether there were any.
    /// `first`: the case's own event, whose `draft` follows the case's version.
    async fn dispatch_pending(&mut self, draft: bool, first: bool) -> bool {
        let events = self.world.happened().events;
        let pending: Vec<_> = events[self.dispatched..].to_vec();
        self.dispatched = events.len();
        if pending.is_empty() {
            return false;
        }
        let mut queue: VecDeque<_> = pending.into();
        while let Some(e) = queue.pop_front() {
            let draft = if first { draft } else { e.draft };
            let max_depth = self.catalog.config.engine.max_depth;
            let listeners: Vec<Entry> = self.catalog.listeners(&e.record.name).cloned().collect();
            for l in listeners {
                let program = l.program(if draft {
                    VersionChoice::Draft
                } else {
                    VersionChoice::Live
                });
                let facts = ListenerFacts {
                    name: &l.key,
                    active: l.active,
                    deployed: draft || l.live.is_some(),
                    allow_self_trigger: l.allow_self_trigger,
                };
                if let Some(reason) = facts.skip_reason(&e.chain, e.record.depth, max_depth) {
                    self.out.skipped.push(SkipRecord {
                        event_id: e.record.id,
                        workflow: l.key.clone(),
                        reason,
                    });
                    continue;
                }
                match program {
                    Ok(program) => {
                        self.run_workflow(program, &e.record, e.chain.clone()).await;
                    }
                    Err(fault) => self
                        .out
                        .runs
                        .push(self.unrunnable(&l.key, &e.record, fault)),
                }
            }
        }
        true
    }

    /// A workflow's run of `event`.
    async fn run_workflow(
        &mut self,
        program: Arc<Program>,
        event: &EventRecord,
        chain: Vec<String>,
    ) {
        let inputs = Inputs::workflow(event.params.clone(), event_value(event));
        let context = self.context(
            &program,
            DefinitionKind::Workflow,
            Some(EventContext {
                id: Some(event.id),
                chain,
                depth: event.depth,
            }),
        );
        let mut run = self.execute(program, inputs, context).await;
        run.event_id = Some(event.id);
        self.out.runs.push(run);
    }

    fn context(
        &self,
        program: &Program,
        kind: DefinitionKind,
        event: Option<EventContext>,
    ) -> RunContext {
        RunContext {
            run_id: i64::try_from(self.out.runs.len()).unwrap_or(i64::MAX) + 1,
            version: program.version,
            kind,
            name: program.name.clone(),
            mode: if program.version.is_some() {
                RunMode::Live
            } else {
                RunMode::Debug
            },
            event,
            tracker: None,
            resumed: false,
        }
    }

    /// Run a program to its end in the world; its record.
    async fn execute(
        &self,
        program: Arc<Program>,
        inputs: Inputs,
        context: RunContext,
    ) -> RunRecord {
        use crate::engine::effects::Effects as _;
        let params = inputs.recorded(context.kind);
        let started = self.world.now();
        let mut interpreter =
            Interpreter::new(program, inputs, self.world.env(), self.world.expr_limit());
        let mut steps: Vec<StepRecord> = Vec::new();
        while !interpreter.is_finished() {
            steps.extend(interpreter.step(self.world, &context).await);
        }
        for s in &mut steps {
            self.secrets.mask(&mut s.input);
            self.secrets.mask(&mut s.output);
            if let Some(e) = &mut s.error {
                *e = self.secrets.mask_text(e);
            }
        }
        let end = RunEnd::of(context.run_id, interpreter.outcome(), &self.secrets);
        let target = match context.kind {
            DefinitionKind::Workflow => RunTarget::Workflow(context.name.clone()),
            DefinitionKind::Endpoint => RunTarget::Endpoint(context.name.clone()),
        };
        RunRecord {
            id: context.run_id,
            target,
            version: context.version,
            event_id: None,
            mode: context.mode,
            status: end.status,
            params: crate::model::LazyJson::shared(params),
            output: end.output,
            error: end.error,
            queued_at: started,
            started_at: Some(started),
            finished_at: Some(self.world.now()),
            attempt: 1,
            rerun_of: None,
            from_step: None,
            steps: Some(steps),
        }
    }

    /// A listener whose program has faults: a failed run saying so.
    fn unrunnable(&self, name: &str, event: &EventRecord, fault: String) -> RunRecord {
        let now = self.world_now();
        RunRecord {
            id: i64::try_from(self.out.runs.len()).unwrap_or(i64::MAX) + 1,
            target: RunTarget::Workflow(name.to_string()),
            version: None,
            event_id: Some(event.id),
            mode: RunMode::Debug,
            status: crate::model::RunStatus::Failed,
            params: event.params.clone(),
            output: None,
            error: Some(fault),
            queued_at: now,
            started_at: Some(now),
            finished_at: Some(now),
            attempt: 1,
            rerun_of: None,
            from_step: None,
            steps: Some(Vec::new()),
        }
    }

    fn world_now(&self) -> Timestamp {
        use crate::engine::effects::Effects as _;
        self.world.now()
    }
}

/// The tables a case's expectations read (`expect.data`).
pub(crate) fn tables_of(expect: &Map<String, Value>) -> Vec<String> {
    expect
        .get("data")
        .and_then(Value::as_object)
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}
