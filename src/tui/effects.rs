//! Performing effects: store queries on blocking threads, engine calls on the runtime. Each
//! result comes back to the loop as a message.

use super::data;
use super::debugging::Action;
use super::update::{Effect, Msg};
use crate::engine::debug::{self, Session};
use crate::engine::{EmitRequest, Engine, Tracker};
use crate::store::Store;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
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
    /// The debug session the studio drives.
    session: Arc<Mutex<Option<Session>>>,
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
            session: Arc::new(Mutex::new(None)),
        }
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
    fn adopt(&self, session: Session, mut events: mpsc::UnboundedReceiver<debug::Event>) {
        if let Ok(mut slot) = self.session.lock() {
            *slot = Some(session);
        }
        let me = self.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                let done = matches!(event, debug::Event::Finished { .. });
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

    /// Perform one effect in the background.
    pub fn perform(&self, effect: Effect) {
        match effect {
            Effect::ReloadAll => {
                let (window, more) = (self.window.clone(), self.more.clone());
                self.query(move |s| {
                    let mut out = Vec::new();
                    match data::definitions(s) {
                        Ok(d) => out.push(Msg::Definitions(d)),
                        Err(e) => out.push(Msg::Failure(format!("cannot read the workflows: {e}"))),
                    }
                    match data::activity(s, window.load(Ordering::Relaxed)) {
                        Ok((rows, full)) => {
                            more.store(full, Ordering::Relaxed);
                            out.push(Msg::Activity(rows));
                        }
                        Err(e) => out.push(Msg::Failure(format!("cannot read the activity: {e}"))),
                    }
                    out
                });
            }
            Effect::LoadOlder => {
                if self.more.load(Ordering::Relaxed) {
                    self.window
                        .fetch_add(data::ACTIVITY_WINDOW, Ordering::Relaxed);
                    self.perform(Effect::ReloadAll);
                }
            }
            Effect::LoadSteps(id) => self.query(move |s| {
                let result = data::draft(s, id).map(|d| data::step_lines(&d));
                vec![Msg::Steps { def_id: id, result }]
            }),
            Effect::LoadRun(id) => self.query(move |s| match s.run_with_steps(id) {
                Ok(run) => vec![Msg::Run(run)],
                Err(e) => vec![Msg::Failure(format!("cannot read run #{id}: {e}"))],
            }),
            Effect::LoadLastRun(def) => self.query(move |s| {
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
            Effect::LoadParams { workflow, event } => self.query(move |s| {
                let text = data::params(s, &workflow, event.as_deref());
                vec![Msg::Params { workflow, text }]
            }),
            Effect::SaveParams { workflow, text } => {
                self.query(
                    move |s| match s.ui_set(&data::params_key(&workflow), &text) {
                        Ok(()) => Vec::new(),
                        Err(e) => vec![Msg::Failure(format!("cannot remember the params: {e}"))],
                    },
                )
            }
            Effect::Toggle {
                def_id,
                name,
                active,
            } => {
                let me = self.clone();
                self.query(move |s| match s.set_active(def_id, active) {
                    Ok(_) => {
                        me.perform(Effect::ReloadAll);
                        vec![Msg::Notice(format!(
                            "{name} is now {}",
                            if active { "on" } else { "off" }
                        ))]
                    }
                    Err(e) => vec![Msg::Failure(format!("cannot switch {name}: {e}"))],
                });
            }
            Effect::Emit {
                workflow: _,
                event,
                params,
            } => {
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
                            me.perform(Effect::ReloadAll);
                            tracker.wait().await;
                            me.send(Msg::StoreChanged);
                        }
                        Err(e) => me.send(Msg::Failure(format!("cannot emit {event}: {e}"))),
                    }
                });
            }
            Effect::StartDebug {
                workflow,
                params,
                breakpoints,
            } => {
                let me = self.clone();
                tokio::spawn(async move {
                    let options = debug::Options {
                        breakpoints,
                        stop_on_entry: false,
                    };
                    let (tx, rx) = mpsc::unbounded_channel();
                    match me
                        .engine
                        .debug_session(&workflow, params, None, options, tx)
                        .await
                    {
                        Ok(session) => me.adopt(session, rx),
                        Err(e) => me.send(Msg::Failure(format!("cannot run {workflow}: {e}"))),
                    }
                });
            }
            Effect::Replay { run_id, seq } => {
                let me = self.clone();
                tokio::spawn(async move {
                    let options = debug::Options {
                        breakpoints: Vec::new(),
                        stop_on_entry: true,
                    };
                    let (tx, rx) = mpsc::unbounded_channel();
                    match me.engine.replay_from(run_id, seq, options, tx).await {
                        Ok(session) => me.adopt(session, rx),
                        Err(e) => me.send(Msg::Failure(format!("cannot run #{run_id} again: {e}"))),
                    }
                });
            }
            Effect::Debug(action) => {
                if let Some(session) = self.session() {
                    match action {
                        Action::Resume(how) => session.resume(how),
                        Action::Pause => session.send(debug::Command::Pause),
                        Action::Abort => session.send(debug::Command::Abort),
                    }
                } else {
                    self.send(Msg::Failure("the debug run has ended".into()));
                }
            }
            Effect::SetVariable { scope, name, value } => {
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
            Effect::SetBreakpoint {
                workflow,
                breakpoint,
                on,
            } => {
                let session = self.session().filter(|s| s.workflow == workflow);
                self.query(move |s| {
                    let done = if on {
                        s.set_breakpoint(&workflow, &breakpoint)
                    } else {
                        s.remove_breakpoint(&workflow, &breakpoint).map(|_| ())
                    };
                    match done.and_then(|()| s.breakpoints_of(&workflow)) {
                        Ok(list) => {
                            if let Some(session) = session {
                                session.send(debug::Command::SetBreakpoints(list.clone()));
                            }
                            vec![Msg::Breakpoints { workflow, list }]
                        }
                        Err(e) => vec![Msg::Failure(format!("cannot change the breakpoint: {e}"))],
                    }
                });
            }
            Effect::LoadBreakpoints(workflow) => {
                self.query(move |s| match s.breakpoints_of(&workflow) {
                    Ok(list) => vec![Msg::Breakpoints { workflow, list }],
                    Err(e) => vec![Msg::Failure(format!("cannot read the breakpoints: {e}"))],
                })
            }
            Effect::LoadDiff(id) => self.query(move |s| {
                let result = data::draft(s, id).and_then(|draft| {
                    let live = data::live(s, id)?;
                    Ok(crate::engine::diff::diff(live.as_ref(), &draft)
                        .iter()
                        .map(ToString::to_string)
                        .collect())
                });
                vec![Msg::Diff { def_id: id, result }]
            }),
            Effect::Deploy { def_id, name } => {
                let me = self.clone();
                self.query(move |s| match s.deploy(def_id) {
                    Ok((v, true)) => {
                        me.perform(Effect::ReloadAll);
                        vec![Msg::Notice(format!("deployed {name} v{v}: it is live"))]
                    }
                    Ok((v, false)) => vec![Msg::Notice(format!("{name} v{v} is already live"))],
                    Err(e) => vec![Msg::Failure(format!("cannot deploy {name}: {e}"))],
                });
            }
            Effect::OpenTrace(id) => self.query(move |s| match s.run_with_steps(id) {
                Ok(Some(run)) => vec![Msg::Trace(Ok(run))],
                Ok(None) => vec![Msg::Trace(Err(format!("run #{id} is not in the store")))],
                Err(e) => vec![Msg::Trace(Err(format!("cannot read run #{id}: {e}")))],
            }),
            Effect::SetMouse(_) => {}
        }
    }
}
