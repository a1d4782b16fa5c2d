//! `serve` and `dev`.

use super::CommandResult;
use crate::engine::{DEFAULT_WORKERS, Engine};
use crate::server::{self, ServeOptions};
use crate::tui::update::Msg;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    super::runtime()
}

/// `flowdeck serve`
pub(super) fn serve(db: &Path, options: ServeOptions) -> CommandResult {
    let bind = options.bind;
    if !bind.ip().is_loopback() && options.token.is_none() {
        eprintln!(
            "warning: serving on {bind} without --token: anyone who can reach it can emit events and call endpoints"
        );
    }
    let engine = Engine::open(db, DEFAULT_WORKERS)?;
    runtime()?.block_on(async move {
        let running = server::start(engine.clone(), options).await?;
        let routes: Vec<String> = engine
            .store()
            .list_definitions()?
            .into_iter()
            .filter(|r| r.kind == crate::model::DefinitionKind::Endpoint && r.live_version.is_some())
            .map(|r| r.name)
            .collect();
        eprintln!("flowdeck serves {} on http://{}", db.display(), running.addr);
        eprintln!("  endpoints: {}", if routes.is_empty() { "(none deployed)".into() } else { routes.join(", ") });
        eprintln!("  events:    POST /events/NAME, POST /events (CloudEvents); GET /runs/ID, /events/ID, /healthz");
        eprintln!("  ctrl-c stops (in-flight runs finish, or go back to the queue)");
        server::signal().await;
        eprintln!("stopping…");
        running.stop().await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `flowdeck dev DIR`
pub(super) fn dev(
    db: &Path,
    dir: &Path,
    bind: SocketAddr,
    retention: crate::model::project::StoreSettings,
    no_mouse: bool,
) -> CommandResult {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        anyhow::bail!("flowdeck dev opens the studio and needs a terminal");
    }
    let first = crate::dev::import(dir, db).map_err(anyhow::Error::msg)?;
    if !first.is_clean() {
        for d in &first.diagnostics {
            eprintln!("  {d}");
        }
    }
    let engine = Engine::open(db, DEFAULT_WORKERS)?;
    runtime()?.block_on(async move {
        let running = server::start(
            engine.clone(),
            ServeOptions {
                bind,
                retention,
                ..ServeOptions::default()
            },
        )
        .await?;
        let addr = running.addr;
        let mut watcher = None;
        let options = crate::tui::StudioOptions {
            mouse: no_mouse.then_some(false),
        };
        let result = crate::tui::run_with(engine, db, &options, |tx| {
            let _ = tx.send(Msg::Notice(format!(
                "dev: watching {}, serving on http://{addr}",
                dir.display()
            )));
            if !first.is_clean() {
                let _ = tx.send(problems(&first.diagnostics));
            }
            let reporter = tx.clone();
            let dir_owned = dir.to_path_buf();
            match crate::dev::watch(dir, db, move |r| {
                let names: Vec<String> = r
                    .changed
                    .iter()
                    .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .collect();
                match &r.result {
                    Ok(report) if report.is_clean() => {
                        // the tests of what changed run on the new drafts; their notice
                        // says the re-import too
                        let drafts = report.changed.len() + report.created.len();
                        let what = if drafts > 0 {
                            format!("reimported {} ({drafts} changed)", names.join(", "))
                        } else {
                            format!("reimported {}", names.join(", "))
                        };
                        let scope = crate::dev::tests_of(&dir_owned, &r.changed);
                        let _ = reporter.send(Msg::StoreChanged);
                        let _ = reporter.send(Msg::Changed { what, scope });
                    }
                    Ok(report) => {
                        let _ = reporter.send(problems(&report.diagnostics));
                        let _ = reporter.send(Msg::StoreChanged);
                    }
                    Err(e) => {
                        let _ = reporter.send(Msg::Failure(format!("cannot reimport: {e}")));
                    }
                }
            }) {
                Ok(h) => watcher = Some(h),
                Err(e) => {
                    let _ = tx.send(Msg::Failure(e));
                }
            }
        })
        .await;
        drop(watcher);
        running.stop().await?;
        result
    })?;
    Ok(ExitCode::SUCCESS)
}

fn problems(diagnostics: &[crate::model::Diagnostic]) -> Msg {
    let first = diagnostics
        .first()
        .map(ToString::to_string)
        .unwrap_or_default();
    let more = if diagnostics.len() > 1 {
        format!(" (and {} more)", diagnostics.len() - 1)
    } else {
        String::new()
    };
    Msg::Failure(format!("{first}{more}; the last good draft is kept"))
}
