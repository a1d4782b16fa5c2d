//! `launch`: what is debugged (a workflow of a store, a workflow file and its project, or an
//! event's listeners), its source for breakpoints, and starting the runs once the client's
//! configuration is done.

use super::{Reply, Server, Thread, empty};
use crate::dap::protocol::{Empty, Event, LaunchArguments, ThreadBody, ThreadReason};
use crate::engine::debug;
use crate::engine::{DEFAULT_WORKERS, Engine, import::import_project};
use crate::model::source_map::{StepSpan, step_spans};
use crate::model::{DefinitionKind, project};
use crate::store::Store;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWrite;

/// What `launch` asked for.
#[derive(Debug, Clone)]
pub(super) enum LaunchTarget {
    /// A workflow in a store (its draft, or a version).
    Workflow {
        name: String,
        params: Value,
        version: Option<i64>,
    },
    /// Every listener of an event, emitted with these params.
    Event { name: String, params: Value },
}

/// The workflow file breakpoints are set in.
#[derive(Debug, Clone)]
pub(super) struct Source {
    pub(super) path: Option<PathBuf>,
    pub(super) text: String,
    pub(super) spans: Vec<StepSpan>,
}

impl<W: AsyncWrite + Unpin> Server<W> {
    /// `launch`: load what is to be debugged; the runs start when the configuration is done.
    pub(super) async fn launch(&mut self, args: &LaunchArguments) -> Reply {
        self.stop_on_entry = args.stop_on_entry;
        let params = args.params.clone().unwrap_or_else(|| json!({}));
        if !params.is_object() {
            return Err(format!(
                "launch: params must be a JSON object, got {params}"
            ));
        }
        if let Some(program) = &args.program {
            return self.launch_program(program, args, params).await;
        }
        let db = args
            .db
            .clone()
            .unwrap_or_else(|| PathBuf::from("flowdeck.db"));
        if !crate::store::store_exists(&db) {
            return Err(format!(
                "launch: the store {} does not exist (give \"db\")",
                db.display()
            ));
        }
        let engine = Engine::open(&db, DEFAULT_WORKERS).map_err(|e| format!("launch: {e}"))?;
        if let Some(name) = &args.workflow {
            let row = engine.workflow(name).map_err(|e| format!("launch: {e}"))?;
            let version = args.version;
            let store = engine.store();
            let text = store
                .definition_source(row.id, version)
                .map_err(|e| e.to_string())?;
            let root = store.project().ok().and_then(|p| p.root);
            let path = match (root, &row.source_file) {
                (Some(root), Some(file)) => Some(Path::new(&root).join(file)),
                _ => None,
            };
            drop(store);
            self.source = Some(Source {
                path: path.map(|p| std::fs::canonicalize(&p).unwrap_or(p)),
                spans: step_spans(&text),
                text,
            });
            self.target = Some(LaunchTarget::Workflow {
                name: name.clone(),
                params,
                version,
            });
        } else if let Some(event) = &args.event {
            self.target = Some(LaunchTarget::Event {
                name: event.clone(),
                params,
            });
        } else {
            return Err("launch: give \"workflow\" (with \"db\"), \"program\" (a workflow file) or \"event\"".into());
        }
        self.engine = Some(engine);
        Ok(empty())
    }

    /// `launch {"program": FILE}`: the file's whole project is imported as `flowdeck import`
    /// would (its schema, `[env]` and other definitions), into the project's store unless
    /// `db` says otherwise, and the file's workflow is debugged as the draft. Faults of the
    /// project's other files are told, not in the way.
    async fn launch_program(
        &mut self,
        path: &Path,
        args: &LaunchArguments,
        params: Value,
    ) -> Reply {
        let root = project::project_of(path);
        let db = match (&args.db, &root) {
            (Some(db), _) => db.clone(),
            (None, Some(root)) => root.join("flowdeck.db"),
            (None, None) => path.with_file_name("flowdeck.db"),
        };
        let loaded = match &root {
            Some(root) => project::load(root),
            None => project::load_file(path),
        }
        .map_err(|e| format!("launch: {e}"))?;
        let wanted = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let base = loaded.root.clone().unwrap_or_default();
        let Some(file) = loaded.files.iter().find(|f| {
            let full = base.join(&f.path);
            std::fs::canonicalize(&full).unwrap_or(full) == wanted
        }) else {
            return Err(format!(
                "launch: {} is not a definition file of its project (workflows/*.json)",
                path.display()
            ));
        };
        if !file.diagnostics.is_empty() {
            return Err(format!(
                "launch: {} cannot be debugged: {}",
                path.display(),
                file.diagnostics
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        let Some(def) = file.definition.clone() else {
            return Err(format!("launch: {} holds no definition", path.display()));
        };
        if def.kind() != DefinitionKind::Workflow {
            return Err("launch: only workflows can be debugged (this file is an endpoint)".into());
        }
        let (text, source_path) = (file.text.clone(), wanted.clone());
        let mut store = Store::open(&db).map_err(|e| format!("launch: {e}"))?;
        let report = import_project(&mut store, &loaded).map_err(|e| format!("launch: {e}"))?;
        drop(store);
        for fault in &report.diagnostics {
            self.output(&format!("not imported: {fault}"))
                .await
                .map_err(|e| e.to_string())?;
        }
        self.source = Some(Source {
            path: Some(source_path),
            spans: step_spans(&text),
            text,
        });
        self.target = Some(LaunchTarget::Workflow {
            name: def.key(),
            params,
            version: None,
        });
        self.engine = Some(Engine::open(&db, DEFAULT_WORKERS).map_err(|e| format!("launch: {e}"))?);
        Ok(empty())
    }

    /// Start the runs once both `launch` and `configurationDone` came, the first time they have.
    pub(super) async fn start_when_ready(&mut self) -> std::io::Result<()> {
        if self.started || !self.configured {
            return Ok(());
        }
        let (Some(engine), Some(target)) = (self.engine.clone(), self.target.clone()) else {
            return Ok(());
        };
        self.started = true;
        let options = debug::DebugOptions {
            breakpoints: self.all_breakpoints(),
            stop_on_entry: self.stop_on_entry,
            cascade: None,
        };
        let tx = self.events.0.clone();
        let sessions = match target {
            LaunchTarget::Workflow {
                name,
                params,
                version,
            } => engine
                .debug_session(&name, params, version, options, tx)
                .await
                .map(|s| vec![s]),
            LaunchTarget::Event { name, params } => engine
                .debug_event(&name, params, options, tx)
                .await
                .map(|(_, s)| s),
        };
        match sessions {
            Ok(sessions) if sessions.is_empty() => {
                self.output("no workflow listens to that event").await?;
                self.emit(Event::Terminated(Empty {})).await?;
            }
            Ok(sessions) => {
                for s in sessions {
                    let id = s.run_id;
                    self.output(&format!("run #{id}: {}", s.workflow)).await?;
                    self.threads.insert(
                        id,
                        Thread {
                            session: s,
                            snapshot: None,
                        },
                    );
                    self.emit(Event::Thread(ThreadBody {
                        reason: ThreadReason::Started,
                        thread_id: id,
                    }))
                    .await?;
                }
            }
            Err(e) => {
                self.output(&format!("cannot start: {e}")).await?;
                self.emit(Event::Terminated(Empty {})).await?;
            }
        }
        Ok(())
    }
}
