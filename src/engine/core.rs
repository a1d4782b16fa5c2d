//! The engine's shared services and the life of a run: load its program, execute it step by
//! step, record every step as it completes, finish it once.
//!
//! Just over the size of most rooms: the services and the run's life share the `Core` they
//! are methods of; the run's end (`run_end`), its log (`runlog`), dispatch, the worker and the
//! side effects (`live`) are rooms of their own.

use super::context::{EventContext, Inputs, RunContext};
use super::dispatch::{self, Dispatched};
use super::effects::EmitRequest;
use super::error::EngineError;
use super::interpreter::Interpreter;
use super::probe::Probe;
use super::program::{self, Origin, Program};
use super::run_end::RunEnd;
use super::runlog::RunLog;
use super::secrets::Secrets;
use super::tracker::{Membership, Tracker};
use crate::model::project::EngineSettings;
use crate::model::{
    DefinitionKind, LazyJson, RunMode, Timestamp, json_text, names, parse_definition,
};
use crate::store::{DataDb, Store, StoreError, Writer};
use rustc_hash::FxHashMap;
use serde_json::{Map, Value};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;
use tokio::sync::Semaphore;

/// The project's settings as the engine uses them.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The engine's limits and timeouts (`[engine]`).
    pub engine: EngineSettings,
    /// `$env`.
    pub env: Arc<Value>,
    /// Values to mask.
    pub secrets: Secrets,
}

impl Settings {
    /// Build from the stored project and the process environment.
    pub fn from_project(config: &crate::model::ProjectConfig) -> Settings {
        let mut env = Map::new();
        let mut secret_values = Vec::new();
        for (name, default) in &config.env {
            let value = std::env::var(name).unwrap_or_else(|_| default.clone());
            env.insert(name.clone(), Value::String(value));
        }
        for name in &config.secrets {
            let value = std::env::var(name)
                .ok()
                .or_else(|| config.env.get(name).cloned());
            if let Some(v) = value {
                secret_values.push(v.clone());
                env.insert(name.clone(), Value::String(v));
            }
        }
        Settings {
            engine: config.engine,
            env: Arc::new(Value::Object(env)),
            secrets: Secrets::new(secret_values),
        }
    }

    /// Default timeout of `http` steps.
    pub fn http_timeout(&self) -> Duration {
        Duration::from_millis(self.engine.http_timeout_ms)
    }

    /// Time limit of one expression.
    pub fn expr_limit(&self) -> Duration {
        Duration::from_millis(self.engine.expr_timeout_ms)
    }
}

/// A run to execute.
#[derive(Debug, Clone)]
pub struct RunJob {
    /// Store id.
    pub run_id: i64,
    /// The definition.
    pub definition_id: i64,
    /// Workflow or endpoint.
    pub kind: DefinitionKind,
    /// Its name.
    pub name: String,
    /// Version (`None`: the draft).
    pub version: Option<i64>,
    /// Live, debug or replay.
    pub mode: RunMode,
    /// The params, `$event` and request the run reads.
    pub inputs: Inputs,
    /// The event (workflows).
    pub event: Option<EventContext>,
    /// The cascade.
    pub tracker: Option<Tracker>,
    /// Taken up again after its process died.
    pub resumed: bool,
}

/// The engine's services, shared by every run.
pub struct Core {
    me: Weak<Core>,
    writer: Writer,
    reader: Mutex<Store>,
    data: DataDb,
    http: OnceLock<reqwest::Client>,
    programs: Mutex<FxHashMap<(i64, i64), Arc<Program>>>,
    settings: Settings,
    owner: String,
    identity: super::owner::ProcessIdentity,
    token: String,
    working: std::sync::atomic::AtomicBool,
    max_held: std::sync::atomic::AtomicUsize,
    lease: Duration,
    workers: Arc<Semaphore>,
    worker_count: usize,
    concurrency: Mutex<FxHashMap<i64, Arc<Semaphore>>>,
    /// Every run this process has started and not finished.
    inflight: Tracker,
    /// How to stop each of them.
    tasks: Mutex<FxHashMap<i64, tokio::task::AbortHandle>>,
    /// Told when records are committed (measurements only).
    probe: OnceLock<Arc<dyn Probe>>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

/// Runs a process holds in memory (started or waiting for a worker) before the runs of new
/// events wait in the store instead, when a worker takes queued runs up in this process.
pub(crate) const MAX_HELD_RUNS: usize = 10_000;

/// The lease a project asks for (`[engine] lease_ms`), at least a second.
fn lease_of(config: &crate::model::ProjectConfig) -> Duration {
    Duration::from_millis(config.engine.lease_ms.max(1000))
}

impl Core {
    /// Open the store at `path` and start the writer.
    pub fn open(path: &Path, workers: usize) -> Result<Arc<Core>, EngineError> {
        let reader = Store::open(path)?;
        let project = reader.project()?;
        let writer = Writer::spawn(path)?;
        let data = DataDb::open(&reader.data_path())?.paced_by(writer.load());
        let identity = super::owner::ProcessIdentity::current();
        let owner = identity.owner();
        let token = reader.identity_token()?;
        Ok(Arc::new_cyclic(|me| Core {
            me: me.clone(),
            writer,
            reader: Mutex::new(reader),
            data,
            http: OnceLock::new(),
            programs: Mutex::new(FxHashMap::default()),
            settings: Settings::from_project(&project.config),
            owner,
            identity,
            token,
            working: std::sync::atomic::AtomicBool::new(false),
            max_held: std::sync::atomic::AtomicUsize::new(MAX_HELD_RUNS),
            lease: lease_of(&project.config),
            workers: Arc::new(Semaphore::new(workers.max(1))),
            worker_count: workers.max(1),
            concurrency: Mutex::new(FxHashMap::default()),
            inflight: Tracker::new(),
            tasks: Mutex::new(FxHashMap::default()),
            probe: OnceLock::new(),
        }))
    }

    /// How many runs execute steps at once.
    pub fn worker_count(&self) -> usize {
        self.worker_count
    }

    /// The write side of the store.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// A read connection to the store.
    pub fn reader(&self) -> MutexGuard<'_, Store> {
        self.reader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The project's data database.
    pub fn data(&self) -> &DataDb {
        &self.data
    }

    /// The HTTP client of `http` steps, built on the first one: building it reads the
    /// system's root certificates, two thirds of the instructions of a whole `flowdeck emit`.
    pub fn http(&self) -> Result<&reqwest::Client, String> {
        if let Some(client) = self.http.get() {
            return Ok(client);
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("flowdeck/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                format!(
                    "cannot build the HTTP client: {e} (it reads the system's root \
                     certificates: check that they are installed and readable)"
                )
            })?;
        // two first steps may race: one client is kept, the other dropped
        Ok(self.http.get_or_init(|| client))
    }

    /// The project's settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// How long this process's leases last.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Tell `probe` when runs' records are committed, from now on (once per engine; a
    /// second probe is refused).
    pub fn set_probe(&self, probe: Arc<dyn Probe>) -> bool {
        self.probe.set(probe).is_ok()
    }

    /// The probe told about commits, when something measures.
    pub fn probe(&self) -> Option<&Arc<dyn Probe>> {
        self.probe.get()
    }

    /// Runs this process has started and not finished.
    pub fn inflight(&self) -> &Tracker {
        &self.inflight
    }

    /// This process, as it judges other lease owners dead or alive.
    pub fn identity(&self) -> &super::owner::ProcessIdentity {
        &self.identity
    }

    /// What tells this store's runs from any other's (see `Store::identity_token`).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Hold at most `runs` runs in memory (default `MAX_HELD_RUNS`).
    pub fn hold_at_most(&self, runs: usize) {
        self.max_held
            .store(runs.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether a worker takes queued runs up in this process (`work_queue` runs).
    pub fn working(&self) -> bool {
        self.working.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Say that a worker takes queued runs up in this process, or no longer does.
    pub fn set_working(&self, on: bool) {
        self.working.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// This process's lease owner id.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The compiled program of a version (cached) or the draft (compiled each time).
    pub fn program(
        &self,
        definition_id: i64,
        version: Option<i64>,
    ) -> Result<Arc<Program>, EngineError> {
        if let Some(v) = version
            && let Some(p) = self
                .programs
                .lock()
                .ok()
                .and_then(|c| c.get(&(definition_id, v)).cloned())
        {
            return Ok(p);
        }
        let (row, body) = {
            let reader = self.reader();
            (
                reader.definition(definition_id)?,
                reader.definition_body(definition_id, version)?,
            )
        };
        let file = format!("{} {}", row.kind, row.name);
        let parsed = parse_definition(&body, Path::new(&file), Some(row.kind));
        let def = parsed.definition.ok_or_else(|| EngineError::Program {
            name: row.name.clone(),
            message: parsed
                .diagnostics
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        })?;
        let origin = Origin {
            file: Path::new(&file),
            text: None,
        };
        let program = program::compile(&def, origin, definition_id, version).map_err(|d| {
            EngineError::Program {
                name: row.name.clone(),
                message: d
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            }
        })?;
        let program = Arc::new(program);
        if let Some(v) = version
            && let Ok(mut cache) = self.programs.lock()
        {
            cache.insert((definition_id, v), program.clone());
        }
        Ok(program)
    }

    /// Record an event and dispatch it: queued runs start at once (unless `queue_only`) and
    /// join `tracker`'s cascade.
    pub async fn emit(
        &self,
        mut req: EmitRequest,
        tracker: Option<Tracker>,
    ) -> Result<Dispatched, EngineError> {
        if !names::is_event_name(&req.name) {
            return Err(EngineError::BadInput(format!(
                "invalid event name {:?}: {}",
                req.name,
                names::EVENT_RULE
            )));
        }
        if req.params_text.is_none() && !req.params.is_object() {
            return Err(EngineError::BadInput(format!(
                "event params must be a JSON object, got {}",
                req.params
            )));
        }
        // runs held in this process are capped: beyond, they wait in the store for this
        // process's worker (or another's) to take them up
        let max_held = self.max_held.load(std::sync::atomic::Ordering::Relaxed);
        if !req.queue_only && self.working() && self.inflight.pending() >= max_held {
            req.queue_only = true;
        }
        let owner = (!req.queue_only).then(|| self.owner.clone());
        let (queue_only, mode) = (req.queue_only, req.run_mode());
        let dispatched = self.record_event(req, owner).await?;
        if !queue_only && dispatched.new {
            // one copy of the params and of `$event` for all the event's runs and the record
            let params = Arc::clone(&dispatched.event.record.params);
            let e = &dispatched.event;
            let event_value = Arc::new(event_value(&e.record));
            let chain = &e.chain;
            for run in &dispatched.runs {
                self.spawn(RunJob {
                    run_id: run.run_id,
                    definition_id: run.definition_id,
                    kind: DefinitionKind::Workflow,
                    name: run.name.to_string(),
                    version: run.version,
                    mode,
                    inputs: Inputs::workflow(Arc::clone(&params), Arc::clone(&event_value)),
                    event: Some(EventContext {
                        id: Some(e.record.id),
                        chain: chain.clone(),
                        depth: e.record.depth,
                    }),
                    tracker: tracker.clone(),
                    resumed: false,
                });
            }
        }
        Ok(dispatched)
    }

    /// Record an event and queue its listeners' runs for this process, without starting them
    /// (the debugger starts them, one session each).
    pub async fn dispatch_only(&self, req: EmitRequest) -> Result<Dispatched, EngineError> {
        if !names::is_event_name(&req.name) {
            return Err(EngineError::BadInput(format!(
                "invalid event name {:?}: {}",
                req.name,
                names::EVENT_RULE
            )));
        }
        self.record_event(req, Some(self.owner.clone())).await
    }

    /// Record the event and queue its listeners' runs (held by `owner`), in one write. The
    /// params are encoded here and kept out of the write, so that the writer thread neither
    /// encodes, copies nor frees them.
    async fn record_event(
        &self,
        mut req: EmitRequest,
        owner: Option<String>,
    ) -> Result<Dispatched, EngineError> {
        // recorded (and handed to its listeners) with secrets masked: a secret never
        // travels in an event, whoever emits it; a listener reads it from `$env`
        let secrets = &self.settings.secrets;
        let params = match req.params_text.take() {
            // text that cannot hold a secret is recorded as it came, never held as values;
            // checked before anything is written
            Some(text) if secrets.cannot_be_in(&text) => ParamsToRecord::Text(
                LazyJson::from_text(text)
                    .map_err(|e| EngineError::BadInput(format!("event params: {e}")))?,
            ),
            Some(text) => {
                let mut params: Value = serde_json::from_str(&text)
                    .map_err(|e| EngineError::BadInput(format!("event params: {e}")))?;
                drop(text);
                secrets.mask(&mut params);
                ParamsToRecord::masked(params)
            }
            None => {
                let mut params = std::mem::take(&mut req.params);
                secrets.mask(&mut params);
                ParamsToRecord::masked(params)
            }
        };
        let limit = self.settings.engine.max_params_bytes;
        let size = params.text().len();
        if size as u64 > limit {
            return Err(EngineError::BadInput(format!(
                "the params of {:?} are {size} bytes of JSON, over the limit of {limit} bytes; \
                 send less, or raise [engine] max_params_bytes in flowdeck.toml",
                req.name,
            )));
        }
        let lease_expires = Timestamp(Timestamp::now().0 + self.lease.as_micros() as i64);
        let max_depth = self.settings.engine.max_depth;
        // lent to the write, not shared: the write holds a weak handle, so that once it is
        // answered this is the only owner, and the strings (a large payload among them) are
        // freed here, on the core that made them, as soon as they are no longer wanted, not
        // whenever the writer's spent job is dropped
        let input = Arc::new((req, params, owner));
        let lent = Arc::downgrade(&input);
        let recorded = self
            .writer
            .call(move |s| {
                let Some(shared) = lent.upgrade() else {
                    return Err(StoreError::Abandoned);
                };
                let (req, params, owner) = &*shared;
                dispatch::dispatch(
                    s,
                    req,
                    &params.text(),
                    owner.as_deref(),
                    lease_expires,
                    max_depth,
                )
            })
            .await?;
        // the write only borrowed them: the params come back without a copy (text stays
        // text: its listeners build only the fields they read)
        let (req, params, _) = Arc::try_unwrap(input).unwrap_or_else(|shared| (*shared).clone());
        Ok(recorded.dispatched(&req, params.into_lazy()))
    }

    /// Run a job on the worker pool.
    pub fn spawn(&self, job: RunJob) {
        let Some(core) = self.me.upgrade() else {
            return;
        };
        let membership = Membership::join(job.tracker.clone());
        let inflight = Membership::join(Some(self.inflight.clone()));
        let run_id = job.run_id;
        // the task waits for its abort handle to be on file, so that its removal comes after
        let (go, ready) = tokio::sync::oneshot::channel::<()>();
        // boxed: tokio moves a task's future by value as it spawns it, and this one is
        // kilobytes (the interpreter's state machine); a box moves as a pointer
        let run = Box::pin(async move {
            let _membership = membership;
            let _inflight = inflight;
            let _ = ready.await;
            // a worker slot is held while steps execute, not while the end is committed
            let ran = {
                let _worker = core.workers.clone().acquire_owned().await;
                let limit = core.concurrency_limit(&job);
                let _slot = match limit {
                    Some(sem) => sem.acquire_owned().await.ok(),
                    None => None,
                };
                core.run_steps(job).await
            };
            if let Ok(mut tasks) = core.tasks.lock() {
                tasks.remove(&run_id);
            }
            if let Ok((interpreter, log)) = ran {
                // nobody waits for this end but the cascade and the claim room: they are
                // left once it is on disk, by the writer (no wake-up of this task for it)
                let end = RunEnd::of(run_id, interpreter.outcome(), &core.settings.secrets);
                let left = move || drop((_membership, _inflight));
                core.end_run(log, &end, left).await;
            }
        });
        let handle = tokio::spawn(run);
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.insert(run_id, handle.abort_handle());
        }
        let _ = go.send(());
    }

    /// Stop every run this process is executing (their leases are released next).
    pub fn abort_all(&self) -> usize {
        let Ok(mut tasks) = self.tasks.lock() else {
            return 0;
        };
        let n = tasks.len();
        for (_, handle) in tasks.drain() {
            handle.abort();
        }
        n
    }

    fn concurrency_limit(&self, job: &RunJob) -> Option<Arc<Semaphore>> {
        let program = self.program(job.definition_id, job.version).ok()?;
        let n = program.concurrency? as usize;
        let mut map = self.concurrency.lock().ok()?;
        Some(
            map.entry(job.definition_id)
                .or_insert_with(|| Arc::new(Semaphore::new(n)))
                .clone(),
        )
    }

    /// Load a run's program and mark it running: the interpreter at its first step, or, when
    /// the program cannot be had, the run already finished as failed.
    pub async fn begin(&self, job: RunJob) -> Result<(Interpreter, RunContext), RunEnd> {
        let run_id = job.run_id;
        let started = self.prepare(job).await?;
        let owner = self.owner.clone();
        let lease_expires = Timestamp(Timestamp::now().0 + self.lease.as_micros() as i64);
        self.writer
            .submit("start run", move |s| {
                s.start_run(run_id, &owner, lease_expires)
            })
            .await;
        Ok(started)
    }

    /// Load a run's program: the interpreter at its first step (nothing recorded yet), or,
    /// when the program cannot be had, the run already finished as failed.
    async fn prepare(&self, job: RunJob) -> Result<(Interpreter, RunContext), RunEnd> {
        let run_id = job.run_id;
        let program = match self.program(job.definition_id, job.version) {
            Ok(p) => p,
            Err(e) => {
                let end = RunEnd::failed(run_id, e.to_string());
                return Err(self.end_run_and_wait(RunLog::recorded(run_id), end).await);
            }
        };
        let context = RunContext {
            run_id,
            version: job.version,
            kind: job.kind,
            name: job.name.clone(),
            mode: job.mode,
            event: job.event.clone(),
            tracker: job.tracker.clone(),
            resumed: job.resumed,
        };
        let interpreter = Interpreter::new(
            program,
            job.inputs,
            self.settings.env.clone(),
            self.settings.expr_limit(),
        );
        Ok((interpreter, context))
    }

    /// Execute a run to its end, recording every step and its end; wait until the end is
    /// on disk.
    pub async fn execute(&self, job: RunJob) -> RunEnd {
        match self.run_steps(job).await {
            Ok((interpreter, log)) => {
                let end = RunEnd::of(log.run_id, interpreter.outcome(), &self.settings.secrets);
                self.end_run_and_wait(log, end).await
            }
            Err(end) => end,
        }
    }

    /// Execute a run's steps, logging each (see `RunLog`); the end is not recorded yet
    /// (`Err`: the run could not begin and is already finished).
    pub async fn run_steps(&self, job: RunJob) -> Result<(Interpreter, RunLog), RunEnd> {
        let (interpreter, context) = self.prepare(job).await?;
        Ok(self.drive(interpreter, &context).await)
    }

    /// Execute a run's steps from where its interpreter stands to the end, logging each
    /// (the end is not recorded yet).
    pub async fn drive(
        &self,
        mut interpreter: Interpreter,
        context: &RunContext,
    ) -> (Interpreter, RunLog) {
        let mut log = RunLog::new(context.run_id);
        while !interpreter.is_finished() {
            // before a step that waits, send what the run has recorded: the studio then
            // shows where it waits; before a commit of the data database too, unless the
            // writer is saturated (the records then go with the run's end, in fewer writes)
            if interpreter.may_wait()
                || (interpreter.next_commits()
                    && log.has_pending()
                    && !self.writer().is_saturated())
            {
                self.flush_log(&mut log).await;
            }
            let records = interpreter.step(self, context).await;
            self.log_steps(&mut log, records).await;
        }
        (interpreter, log)
    }
}

/// `$event` for a recorded event.
pub(crate) fn event_value(e: &crate::model::EventRecord) -> Value {
    serde_json::json!({
        "id": e.id,
        "name": e.name,
        "source": e.source,
        "depth": e.depth,
        "emitted_at": e.emitted_at,
    })
}

/// An event's params, ready to be recorded.
#[derive(Clone)]
enum ParamsToRecord {
    /// Text checked as JSON, recorded as it came (it cannot hold a secret).
    Text(LazyJson),
    /// Values with any secret masked, and the text they are recorded as.
    Masked(Value, String),
}

impl ParamsToRecord {
    /// Masked values, with the text they are recorded as.
    fn masked(params: Value) -> Self {
        let text = json_text(&params);
        Self::Masked(params, text)
    }

    /// The JSON text the event is recorded with.
    fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Self::Text(params) => params.json_text(),
            Self::Masked(_, text) => text.as_str().into(),
        }
    }

    /// The params its listeners read.
    fn into_lazy(self) -> LazyJson {
        match self {
            Self::Text(params) => params,
            Self::Masked(params, _) => params.into(),
        }
    }
}
