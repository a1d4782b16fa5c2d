//! Performing effects: store queries on blocking threads, engine calls on the runtime. Each
//! result comes back to the loop as a message.

mod endpoint_call;

use super::data;
use super::message::{DebugTarget, Msg, SessionAction, UiEffect};
use crate::engine::debug::{self, Session};
use crate::engine::{EmitRequest, Engine, Tracker};
use crate::store::Store;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc::{self, UnboundedSender};

/// What effects need: the engine (for runs) and the studio's own read connection.
#[derive(Clone)]
pub struct Services {
    engine: Engine,
    store: Arc<Mutex<Store>>,
    tx: UnboundedSender<Msg>,
    /// How many events the activity log reads.
    window: Arc<AtomicU32>,
    /// Whether the last read filled the window (older events exist).
    more: Arc<AtomicBool>,
    /// The activity filter in force (empty: none): a filtered log is read from the whole
    /// store, not from the window already loaded.
    filter: Arc<Mutex<String>>,
    /// The debug session the studio drives.
    session: Arc<Mutex<Option<Session>>>,
    /// What that session's run set off, for saying so when it ends.
    cascade: Arc<Mutex<Option<(i64, Tracker)>>>,
}

impl Services {
    /// Services on `engine`, reading through `store`, answering on `tx`.
    pub fn new(engine: Engine, store: Store, tx: UnboundedSender<Msg>) -> Services {
        Services {
            engine,
            store: Arc::new(Mutex::new(store)),
            tx,
            window: Arc::new(AtomicU32::new(data::ACTIVITY_WINDOW)),
            more: Arc::new(AtomicBool::new(false)),
            filter: Arc::new(Mutex::new(String::new())),
            session: Arc::new(Mutex::new(None)),
            cascade: Arc::new(Mutex::new(None)),
        }
    }

    /// Send `msg` to the loop after `delay` (a notice's end, say).
    pub fn later(&self, delay: Duration, msg: Msg) {
        let tx = self.tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = tx.send(msg);
        });
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The debug session, while its run lasts.
    fn session(&self) -> Option<Session> {
        self.session
            .lock()
            .ok()
            .and_then(|s| s.clone())
            .filter(|s| !s.is_closed())
    }

    /// Drive `session`: its events become messages; it replaces any earlier one (which then
    /// runs on to its end without stopping).
    fn adopt(
        &self,
        session: Session,
        cascade: Tracker,
        mut events: mpsc::UnboundedReceiver<debug::DebugEvent>,
    ) {
        if let Ok(mut slot) = self.cascade.lock() {
            *slot = Some((session.run_id, cascade));
        }
        if let Ok(mut slot) = self.session.lock() {
            *slot = Some(session);
        }
        let me = self.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                let done = matches!(event, debug::DebugEvent::Finished { .. });
                me.send(Msg::Debug(event));
                if done {
                    break;
                }
            }
        });
    }

    fn send(&self, msg: Msg) {
        let _ = self.tx.send(msg);
    }

    /// Run `f` on the store on a blocking thread and send its messages.
    fn query(&self, f: impl FnOnce(&Store) -> Vec<Msg> + Send + 'static) {
        let store = self.store.clone();
        let tx = self.tx.clone();
        tokio::task::spawn_blocking(move || {
            let msgs = match store.lock() {
                Ok(s) => f(&s),
                Err(_) => vec![Msg::Failure(
                    "the studio's store connection is broken".into(),
                )],
            };
            for m in msgs {
                let _ = tx.send(m);
            }
        });
    }

    /// Run the tests in `scope` from the store's test files and drafts; snapshots written
    /// are kept in the store.
    fn run_tests(&self, of: String, scope: crate::suite::load::Scope, show: bool) {
        let (store, tx) = (self.store.clone(), self.tx.clone());
        tokio::spawn(async move {
            let loaded = {
                let store = store.clone();
                tokio::task::spawn_blocking(move || match store.lock() {
                    Ok(s) => crate::suite::load::from_store(&s).map_err(|e| e.to_string()),
                    Err(_) => Err("the studio's store connection is broken".to_string()),
                })
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r)
            };
            let result = match loaded {
                Err(e) => Err(e),
                Ok(loaded) => {
                    let files = scope.pick(&loaded);
                    // a file with faults may be anyone's (it may not even say whose)
                    let invalid = loaded.invalid.clone();
                    let outcome = crate::suite::run_all(
                        std::sync::Arc::new(loaded.catalog),
                        files,
                        &loaded.snapshots,
                        &crate::suite::SuiteOptions::default(),
                    )
                    .await;
                    if !outcome.snapshots.is_empty() {
                        let snapshots = outcome.snapshots.clone();
                        let _ = tokio::task::spawn_blocking(move || {
                            if let Ok(s) = store.lock() {
                                let _ = crate::suite::load::keep_in_store(&s, &snapshots);
                            }
                        })
                        .await;
                    }
                    Ok(super::state::TestResults {
                        report: outcome.report,
                        invalid,
                    })
                }
            };
            let _ = tx.send(Msg::Tests { of, result, show });
        });
    }

    /// Perform one effect in the background.
    pub fn perform(&self, effect: UiEffect) {
        match effect {
            UiEffect::ReloadAll => {
                let (window, more) = (self.window.clone(), self.more.clone());
                let filter = self.filter.clone();
                self.query(move |s| {
                    let mut out = Vec::new();
                    match data::definitions(s) {
                        Ok(d) => out.push(Msg::Definitions(d)),
                        Err(e) => out.push(Msg::Failure(format!("cannot read the workflows: {e}"))),
                    }
                    let wanted = current(&filter);
                    match data::activity(s, &wanted, window.load(Ordering::Relaxed)) {
                        // a result for a filter typed over since is dropped: the newer one's
                        // reload is on its way
                        Ok(_) if current(&filter) != wanted => {}
                        Ok((rows, full)) => {
                            more.store(full, Ordering::Relaxed);
                            out.push(Msg::Activity(rows));
                        }
                        Err(e) => out.push(Msg::Failure(format!("cannot read the activity: {e}"))),
                    }
                    out
                });
            }
            UiEffect::Filter(text) => {
                let changed = {
                    let mut now = self.filter.lock().unwrap_or_else(PoisonError::into_inner);
                    let changed = *now != text;
                    *now = text;
                    changed
                };
                if changed {
                    self.window.store(data::ACTIVITY_WINDOW, Ordering::Relaxed);
                    self.perform(UiEffect::ReloadAll);
                }
            }
            UiEffect::LoadOlder => {
                if self.more.load(Ordering::Relaxed) {
                    self.window
                        .fetch_add(data::ACTIVITY_WINDOW, Ordering::Relaxed);
                    self.perform(UiEffect::ReloadAll);
                }
            }
            UiEffect::LoadSteps(id) => self.query(move |s| {
                let result = data::draft(s, id).map(|d| data::step_lines(&d));
                vec![Msg::Steps { def_id: id, result }]
            }),
            UiEffect::LoadRun(id) => self.query(move |s| match s.run_with_steps(id) {
                Ok(run) => vec![Msg::Run(run)],
                Err(e) => vec![Msg::Failure(format!("cannot read run #{id}: {e}"))],
            }),
            UiEffect::LoadLastRun(def) => self.query(move |s| {
                let run = s.last_run_of(def).and_then(|r| {
                    r.map(|r| s.run_with_steps(r.id))
                        .transpose()
                        .map(Option::flatten)
                });
                match run {
                    Ok(run) => vec![Msg::Run(run)],
                    Err(e) => vec![Msg::Failure(format!("cannot read the last run: {e}"))],
                }
            }),
            UiEffect::LoadParams {
                definition,
                event,
                route,
            } => self.query(move |s| {
                let text = data::params(s, &definition, event.as_deref(), route.as_deref());
                vec![Msg::Params { definition, text }]
            }),
            UiEffect::SaveParams { definition, text } => {
                self.query(
                    move |s| match s.ui_set(&data::params_key(&definition), &text) {
                        Ok(()) => Vec::new(),
                        Err(e) => vec![Msg::Failure(format!("cannot remember the params: {e}"))],
                    },
                )
            }
            UiEffect::Toggle {
                def_id,
                name,
                active,
            } => {
                let me = self.clone();
                self.query(move |s| match s.set_active(def_id, active) {
                    Ok(_) => {
                        me.perform(UiEffect::ReloadAll);
                        vec![Msg::Toggled {
                            def_id,
                            name,
                            active,
                        }]
                    }
                    Err(e) => vec![Msg::Failure(format!("cannot switch {name}: {e}"))],
                });
            }
            UiEffect::Emit { event, params } => {
                let me = self.clone();
                tokio::spawn(async move {
                    let tracker = Tracker::new();
                    let request = EmitRequest::new(event.clone(), params, "studio");
                    match me.engine.emit(request, Some(tracker.clone())).await {
                        Ok(d) => {
                            me.send(Msg::Notice(format!(
                                "event #{} {event}: {} run(s), {} skipped",
                                d.event.record.id,
                                d.runs.len(),
                                d.skipped.len()
                            )));
                            me.perform(UiEffect::ReloadAll);
                            tracker.wait().await;
                            me.send(Msg::StoreChanged);
                        }
                        Err(e) => me.send(Msg::Failure(format!("cannot emit {event}: {e}"))),
                    }
                });
            }
            UiEffect::Call { endpoint, request } => self.call(endpoint, request),
            UiEffect::StartDebug {
                target,
                breakpoints,
            } => {
                let me = self.clone();
                tokio::spawn(async move {
                    let cascade = Tracker::new();
                    let options = debug::DebugOptions {
                        breakpoints,
                        stop_on_entry: false,
                        cascade: Some(cascade.clone()),
                    };
                    let (tx, rx) = mpsc::unbounded_channel();
                    let started = match &target {
                        DebugTarget::Workflow { name, params } => {
                            me.engine
                                .debug_session(name, params.clone(), None, options, tx)
                                .await
                        }
                        DebugTarget::Endpoint { name, request } => {
                            me.engine
                                .debug_endpoint(name, request.clone(), None, options, tx)
                                .await
                        }
                    };
                    match started {
                        Ok(session) => me.adopt(session, cascade, rx),
                        Err(e) => {
                            me.send(Msg::Failure(format!("cannot run {}: {e}", target.name())))
                        }
                    }
                });
            }
            UiEffect::DescribeEnd { run_id } => {
                let cascade = self
                    .cascade
                    .lock()
                    .ok()
                    .and_then(|c| c.clone())
                    .filter(|(id, _)| *id == run_id)
                    .map(|(_, t)| t);
                let me = self.clone();
                tokio::spawn(async move {
                    if let Some(t) = cascade {
                        // the runs it set off go on without the debugger: say what they did
                        // once they have (or what they are doing, when they take long)
                        let _ = tokio::time::timeout(Duration::from_secs(5), t.wait()).await;
                    }
                    me.query(move |s| {
                        let run = s.run_with_steps(run_id).ok().flatten();
                        let cascade = s.cascade_of_run(run_id).ok();
                        match (run, cascade) {
                            (Some(run), Some(cascade)) => {
                                let (text, failed) = super::debugging::describe_end(&run, &cascade);
                                vec![if failed {
                                    Msg::Failure(text)
                                } else {
                                    Msg::Notice(text)
                                }]
                            }
                            _ => Vec::new(),
                        }
                    });
                });
            }
            UiEffect::Rerun {
                run_id,
                from,
                params,
                stop_on_entry,
                breakpoints,
            } => {
                let me = self.clone();
                tokio::spawn(async move {
                    let cascade = Tracker::new();
                    let options = debug::DebugOptions {
                        breakpoints,
                        stop_on_entry,
                        cascade: Some(cascade.clone()),
                    };
                    let (tx, rx) = mpsc::unbounded_channel();
                    let rerun = crate::engine::rerun::Rerun {
                        run_id,
                        from,
                        params,
                        draft: false,
                    };
                    match me.engine.rerun_session(rerun, options, tx).await {
                        Ok(session) => me.adopt(session, cascade, rx),
                        Err(e) => me.send(Msg::Failure(format!("cannot run #{run_id} again: {e}"))),
                    }
                });
            }
            UiEffect::TogglePin { run_id } => self.query(move |s| {
                let toggled = s
                    .is_pinned(run_id)
                    .and_then(|pinned| s.set_pinned(run_id, !pinned).map(|found| (found, !pinned)));
                vec![match toggled {
                    Ok((true, true)) => Msg::Notice(format!(
                        "pinned run #{run_id}: prune and retention keep it (pin again to unpin)"
                    )),
                    Ok((true, false)) => Msg::Notice(format!(
                        "unpinned run #{run_id}: retention may remove it when it is old enough"
                    )),
                    Ok((false, _)) => {
                        Msg::Failure(format!("run #{run_id} is no longer in the store"))
                    }
                    Err(e) => Msg::Failure(format!("cannot pin run #{run_id}: {e}")),
                }]
            }),
            UiEffect::CompareRuns { a, b } => self.query(move |s| {
                let load = |id: i64| -> Result<crate::model::RunRecord, String> {
                    s.run_with_steps(id)
                        .map_err(|e| format!("cannot read run #{id}: {e}"))?
                        .ok_or_else(|| format!("run #{id} is not in the store"))
                };
                let view = load(a).and_then(|ra| {
                    let rb = load(b)?;
                    let diff = crate::engine::compare::diff_runs(&ra, &rb);
                    Ok(Box::new(super::state::RunDiffView {
                        a: ra,
                        b: rb,
                        diff,
                        selected: 0,
                    }))
                });
                vec![Msg::RunDiff(view)]
            }),
            UiEffect::WhatIf { def_id, name } => {
                let me = self.clone();
                tokio::spawn(async move {
                    let result = me
                        .engine
                        .what_if(&name, crate::engine::what_if::Events::Last(10))
                        .await
                        .map_err(|e| e.to_string());
                    me.send(Msg::WhatIf { def_id, result });
                });
            }
            UiEffect::OpenCascade(id) => {
                let engine = self.engine.clone();
                self.query(move |_| {
                    vec![Msg::Cascade(
                        engine.trace(id).map(Box::new).map_err(|e| e.to_string()),
                    )]
                });
            }
            UiEffect::Debug(action) => {
                if let Some(session) = self.session() {
                    match action {
                        SessionAction::Resume(how) => session.resume(how),
                        SessionAction::Pause => session.send(debug::DebugCommand::Pause),
                        SessionAction::Abort => session.send(debug::DebugCommand::Abort),
                    }
                } else {
                    self.send(Msg::Failure("the debug run has ended".into()));
                }
            }
            UiEffect::SetVariable { scope, name, value } => {
                let me = self.clone();
                tokio::spawn(async move {
                    let Some(session) = me.session() else {
                        me.send(Msg::Failure("the debug run has ended".into()));
                        return;
                    };
                    match session.set(scope, &name, value.clone()).await {
                        Ok(()) => {
                            if let Some(snapshot) = session.inspect().await {
                                me.send(Msg::Snapshot(Box::new(snapshot)));
                            }
                            me.send(Msg::Notice(format!(
                                "set {}.{name} = {} (recorded in the trace)",
                                match scope {
                                    debug::EditScope::Var => "$var",
                                    debug::EditScope::Param => "$param",
                                },
                                crate::text::short(&value, 80)
                            )));
                        }
                        Err(e) => me.send(Msg::Failure(format!("cannot set {name}: {e}"))),
                    }
                });
            }
            UiEffect::SetBreakpoint {
                definition,
                breakpoint,
                on,
            } => {
                let session = self.session().filter(|s| s.workflow == definition);
                self.query(move |s| {
                    let done = if on {
                        s.set_breakpoint(&definition, &breakpoint)
                    } else {
                        s.remove_breakpoint(&definition, &breakpoint).map(|_| ())
                    };
                    match done.and_then(|()| s.breakpoints_of(&definition)) {
                        Ok(list) => {
                            if let Some(session) = session {
                                session.send(debug::DebugCommand::SetBreakpoints(list.clone()));
                            }
                            vec![Msg::Breakpoints { definition, list }]
                        }
                        Err(e) => vec![Msg::Failure(format!("cannot change the breakpoint: {e}"))],
                    }
                });
            }
            UiEffect::LoadBreakpoints(definition) => {
                self.query(move |s| match s.breakpoints_of(&definition) {
                    Ok(list) => vec![Msg::Breakpoints { definition, list }],
                    Err(e) => vec![Msg::Failure(format!("cannot read the breakpoints: {e}"))],
                })
            }
            UiEffect::LoadDiff(id) => self.query(move |s| {
                let result = data::draft(s, id).and_then(|draft| {
                    let live = data::live(s, id)?;
                    Ok(crate::engine::diff::describe(live.as_ref(), &draft, 60))
                });
                vec![Msg::Diff { def_id: id, result }]
            }),
            UiEffect::Deploy { def_id, name } => {
                let me = self.clone();
                self.query(move |s| match s.deploy(def_id) {
                    Ok((v, true)) => {
                        me.perform(UiEffect::ReloadAll);
                        vec![Msg::Notice(format!("deployed {name} v{v}: it is live"))]
                    }
                    Ok((v, false)) => vec![Msg::Notice(format!("{name} v{v} is already live"))],
                    Err(e) => vec![Msg::Failure(format!("cannot deploy {name}: {e}"))],
                });
            }
            UiEffect::OpenTrace(id) => self.query(move |s| match s.run_with_steps(id) {
                Ok(Some(run)) => vec![Msg::Trace(Ok(run))],
                Ok(None) => vec![Msg::Trace(Err(format!("run #{id} is not in the store")))],
                Err(e) => vec![Msg::Trace(Err(format!("cannot read run #{id}: {e}")))],
            }),
            UiEffect::SetMouse(_) => {}
            UiEffect::RunTests { of, scope, show } => self.run_tests(of, scope, show),
            UiEffect::RecordTest(run_id) => {
                self.query(
                    move |s| match crate::suite::record::write_case(s, run_id, None) {
                        Ok(w) => vec![
                            Msg::Notice(format!(
                                "wrote case {:?} of {} to {}",
                                w.name,
                                w.target,
                                w.path.display()
                            )),
                            Msg::StoreChanged,
                        ],
                        Err(e) => vec![Msg::Failure(format!("cannot record run #{run_id}: {e}"))],
                    },
                )
            }
        }
    }
}

/// The filter in force, copied out of its lock.
fn current(filter: &Mutex<String>) -> String {
    filter
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}
