//! The command line (clap): every command of docs/contracts.md.
//!
//! Exit codes: 0 ok, 1 the thing failed (validation, a failed run), 2 usage.
//!
//! Longer than most rooms on purpose: clap's table of every command and its flags, and the
//! dispatch of each to its room in `cli/`, read as one list; the commands live in those rooms.

/// `print!` that hands back the write's error instead of panicking: a closed pipe
/// (`flowdeck list --json | head`) ends the command quietly (see [`main`]).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// `println!` that hands back the write's error instead of panicking (see [`out!`]).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

mod args;
mod bench;
mod definitions;
mod history;
mod logging;
mod migrate;
mod project;
mod render;
mod retention;
mod runs;
mod second_goes;
mod serving;
mod testing;
mod versions;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// flowdeck: a terminal debugging studio for event-based workflows.
#[derive(Debug, Parser)]
#[command(name = "flowdeck", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// The store: a SQLite file (created if missing), or a PostgreSQL database as
    /// postgres://USER:PASSWORD@HOST:PORT/DATABASE (password and port optional)
    /// (default: ./flowdeck.db)
    #[arg(long, global = true, env = "FLOWDECK_DB", value_name = "PATH|URL")]
    pub db: Option<PathBuf>,
    /// Print one JSON document on stdout
    #[arg(long, global = true)]
    pub json: bool,
    /// Studio: do not capture the mouse (the terminal can select text)
    #[arg(long, global = true)]
    pub no_mouse: bool,
    /// What to do (no command: open the studio)
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// Active: runs on its event.
    On,
    /// Inactive: skipped.
    Off,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the studio on the bundled example project, seeded and deployed
    Demo {
        /// Seed the store and print its listing instead of opening the studio
        #[arg(long)]
        no_studio: bool,
    },
    /// Write the example project as files, to start from
    Init {
        /// Folder to create (must not exist or be empty)
        dir: PathBuf,
        /// Which example: `shop` (orders, stock, reorders) or `bench` (one event, two
        /// listeners of three steps, for `flowdeck bench`)
        #[arg(long, default_value = "shop", value_name = "NAME")]
        example: String,
    },
    /// Load definitions as drafts (and run schema.sql)
    Import {
        /// A project folder or one definition file
        path: PathBuf,
    },
    /// Write the store's definitions back as files
    Export {
        /// Folder to write into
        dir: PathBuf,
    },
    /// List workflows and endpoints
    List,
    /// Switch a workflow on or off
    Toggle {
        /// Workflow name
        name: String,
        /// on or off
        state: Switch,
    },
    /// Publish drafts as the live versions
    #[command(group(clap::ArgGroup::new("what").required(true).args(["name", "all"])))]
    Deploy {
        /// Workflow name, or endpoint as "METHOD /path"
        name: Option<String>,
        /// Deploy every changed draft
        #[arg(long)]
        all: bool,
    },
    /// Create an event and run its listeners (and the cascade) to the end
    Emit {
        /// Event name
        event: String,
        /// Params as JSON, or @FILE
        #[arg(long, value_name = "JSON|@FILE")]
        params: Option<String>,
        /// Run listeners' drafts (active ones, deployed or not)
        #[arg(long)]
        draft: bool,
        /// Only record and queue; a running server or studio takes the runs up
        #[arg(long)]
        queue: bool,
    },
    /// Run an endpoint's live version (or its draft) once, as a request would
    Call {
        /// HTTP method
        method: String,
        /// Path, with an optional ?query
        path: String,
        /// Body as JSON, or @FILE
        #[arg(long, value_name = "JSON|@FILE")]
        body: Option<String>,
        /// A request header, `Name: value` (repeat for more)
        #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
        headers: Vec<String>,
        /// Run the endpoint's draft (a debug run; its events run their listeners' drafts)
        #[arg(long)]
        draft: bool,
    },
    /// Run one workflow's draft once and print its trace
    Debug {
        /// Workflow name
        name: String,
        /// Params as JSON, or @FILE
        #[arg(long, value_name = "JSON|@FILE")]
        params: Option<String>,
    },
    /// List runs, newest first
    Runs {
        /// Only runs of this workflow (or endpoint "METHOD /path")
        #[arg(long)]
        workflow: Option<String>,
        /// Only runs in this state
        #[arg(long, value_parser = ["queued", "running", "paused", "succeeded", "failed", "cancelled"])]
        status: Option<String>,
        /// At most this many
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// One run with every step record
    Show {
        /// Run id
        run_id: i64,
    },
    /// Emit a burst of events into the live workflows and measure throughput, latency and memory
    Bench {
        /// Event name
        event: String,
        /// How many events
        #[arg(long, default_value_t = 10_000, value_name = "N")]
        events: usize,
        /// Events per second, or `max`
        #[arg(long, default_value = "max", value_name = "R|max")]
        rate: crate::bench::Rate,
        /// Params of every event, as JSON or @FILE
        #[arg(long, value_name = "JSON|@FILE")]
        params: Option<String>,
        /// Also measure the store's ceiling: the same rows written by a bare loop of inserts (SQLite), or of bulk inserts (PostgreSQL)
        #[arg(long)]
        baseline: bool,
        /// Emit for this long instead of --events (a soak, e.g. 10m), sampling the store's size, memory and latency
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, conflicts_with = "events")]
        duration: Option<std::time::Duration>,
        /// Retention while it runs
        #[command(flatten)]
        retention: RetentionFlags,
    },
    /// Serve the endpoints' live versions and event ingestion over HTTP, and run queued runs
    Serve {
        /// Address to listen on (loopback by default)
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: std::net::SocketAddr,
        /// Require `Authorization: Bearer TOKEN` on every request but /healthz
        #[arg(long, env = "FLOWDECK_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Largest request body in bytes
        #[arg(long, default_value_t = 1024 * 1024)]
        body_limit: usize,
        /// Connections held at once; more wait until one ends
        #[arg(long, default_value_t = 1024)]
        max_connections: usize,
        /// Time for a request's head, and for its body, to arrive (e.g. 10s, 500ms)
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
        read_timeout: std::time::Duration,
        /// Retention while serving
        #[command(flatten)]
        retention: RetentionFlags,
    },
    /// Import a project, watch its files, serve its endpoints and open the studio, in one process
    Dev {
        /// The project folder
        dir: PathBuf,
        /// Address to serve the endpoints on
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: std::net::SocketAddr,
        /// Retention while serving
        #[command(flatten)]
        retention: RetentionFlags,
    },
    /// The deployed versions of a workflow or endpoint
    Versions {
        /// Workflow name, or endpoint as "METHOD /path"
        name: String,
    },
    /// What changed between two versions, step by step
    Diff {
        /// Workflow name, or endpoint as "METHOD /path"
        name: String,
        /// The older side (default: the live version)
        #[arg(long)]
        from: Option<i64>,
        /// The newer side: a version number or `draft` (default: the draft)
        #[arg(long)]
        to: Option<String>,
    },
    /// Make an earlier version live again
    Rollback {
        /// Workflow name, or endpoint as "METHOD /path"
        name: String,
        /// The version to make live
        #[arg(value_name = "VERSION")]
        target: i64,
    },
    /// Debug Adapter Protocol on stdin/stdout, for editors
    Dap,
    /// The studio's configuration file
    Config {
        /// Print the default configuration (every key, colour and setting)
        #[arg(long)]
        print_default: bool,
    },
    /// List events, newest first
    Events {
        /// Only events of this name
        #[arg(long)]
        name: Option<String>,
        /// At most this many
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Run a recorded run again: its params or new ones, from its start or from a step
    Rerun {
        /// The run
        run_id: i64,
        /// Start at this step (the last time the run came to it), with the variables the
        /// record had before it; the steps before it do not run again
        #[arg(long, value_name = "STEP")]
        from: Option<String>,
        /// Params (an endpoint's request) instead of the recorded ones, as JSON or @FILE
        #[arg(long, value_name = "JSON|@FILE")]
        params: Option<String>,
        /// Run the draft instead of the run's version
        #[arg(long)]
        draft: bool,
    },
    /// Emit recorded events again, with their cascades
    #[command(group(clap::ArgGroup::new("which").required(true).args(["event_ids", "event"])))]
    Replay {
        /// The events, by id
        event_ids: Vec<i64>,
        /// The newest events of this name
        #[arg(long, value_name = "NAME")]
        event: Option<String>,
        /// With --event: only events since a time ago (`1h`, `30m`) or a time (RFC 3339)
        #[arg(long, value_name = "AGO|TIME", requires = "event")]
        since: Option<String>,
        /// With --event: at most this many
        #[arg(long, default_value_t = 10, requires = "event")]
        limit: u32,
        /// Run the listeners' drafts instead of their live versions
        #[arg(long)]
        draft: bool,
    },
    /// Run a workflow's draft against recorded events, side effects held back, and compare
    /// with what its live version did
    WhatIf {
        /// Workflow name
        workflow: String,
        /// The newest N events of its event
        #[arg(long, default_value_t = 10, value_name = "N")]
        last: u32,
        /// These events instead (repeat for more)
        #[arg(long = "event-id", value_name = "ID")]
        event_ids: Vec<i64>,
        /// Exit 1 when the draft did anything differently
        #[arg(long)]
        check: bool,
    },
    /// Compare two runs step by step
    DiffRuns {
        /// The first run
        a: i64,
        /// The second run
        b: i64,
    },
    /// Everything an event caused, as a tree: listeners, runs, skips, the events they emitted
    Trace {
        /// The event
        event_id: i64,
    },
    /// Why an event did or did not run a workflow, in one sentence
    Why {
        /// The event
        event_id: i64,
        /// The workflow
        workflow: String,
    },
    /// Remove old events and runs (with their step records and skips) and give the space back
    Prune {
        /// Remove events and runs older than this (e.g. 7d, 12h, 30m)
        #[arg(long, value_name = "AGE", value_parser = humantime::parse_duration)]
        older_than: Option<std::time::Duration>,
        /// Keep the newest N events (and the newest N runs that no event started)
        #[arg(long, value_name = "N")]
        keep_last: Option<u64>,
        /// Remove the oldest until the store's pages in use fit in this size (e.g. 2GB, 500MiB)
        #[arg(long, value_name = "SIZE", conflicts_with = "dry_run")]
        max_size: Option<bytesize::ByteSize>,
        /// Count what would be removed; change nothing
        #[arg(long)]
        dry_run: bool,
        /// Rewrite the store file afterwards; an older store gives freed space back from then on
        #[arg(long)]
        vacuum: bool,
    },
    /// Copy a store file into PostgreSQL: definitions with drafts and versions (and, with
    /// --history, events, runs and step records), for a team's servers to share
    Migrate {
        /// The store file to copy [default: --db]
        #[arg(long, value_name = "PATH")]
        from: Option<PathBuf>,
        /// The PostgreSQL database to copy into (empty): postgres://USER:PASSWORD@HOST:PORT/DATABASE
        #[arg(long, value_name = "URL")]
        to: String,
        /// Copy the events, runs and step records too
        #[arg(long)]
        history: bool,
    },
    /// Keep a run whatever the retention (prune never removes a pinned run)
    Pin {
        /// The run
        run_id: i64,
    },
    /// Let retention remove a pinned run again
    Unpin {
        /// The run
        run_id: i64,
    },
    /// Run the project's tests (tests/*.test.json), or write one from a recorded run
    Test {
        /// The project folder (default: the tests and drafts imported into the store)
        dir: Option<PathBuf>,
        /// Only the cases whose file, workflow, event, endpoint or name contains this
        #[arg(long, value_name = "TEXT")]
        filter: Option<String>,
        /// Write the snapshots of cases whose trace changed
        #[arg(long)]
        update: bool,
        /// Also write the results as JUnit XML to FILE
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Write a case from this recorded run instead (params, rows read, HTTP answers, outcome)
        #[arg(long, value_name = "RUN_ID", conflicts_with_all = ["filter", "update", "junit", "dir"])]
        record: Option<i64>,
        /// With --record: the test file to add the case to [default: tests/NAME.test.json in the project]
        #[arg(long, value_name = "FILE", requires = "record")]
        out: Option<PathBuf>,
    },
}

/// Retention while serving, over the project's `[store]` rules.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct RetentionFlags {
    /// Prune events and runs older than this while running (e.g. 7d, 1h) [default: the project's `[store] retain`]
    #[arg(long, value_name = "AGE", value_parser = humantime::parse_duration)]
    retain: Option<std::time::Duration>,
    /// Prune the oldest while the store's pages in use exceed this (e.g. 2GB) [default: the project's `[store] max_size`]
    #[arg(long, value_name = "SIZE")]
    max_size: Option<bytesize::ByteSize>,
}

impl RetentionFlags {
    fn settings(self) -> crate::model::project::StoreSettings {
        crate::model::project::StoreSettings {
            retain: self.retain,
            max_size: self.max_size,
        }
    }
}

/// What a command produced: its exit code.
pub type CommandResult = anyhow::Result<ExitCode>;

/// Parse the process arguments and run; errors are printed, never panicked.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init();
    match run(cli) {
        Ok(code) => code,
        // whoever read the output has gone (`| head`): nothing is wrong, and there is
        // nobody left to tell
        Err(e) if closed_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Whether an error is a write to a pipe whose reader has gone.
fn closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The store path, with the default.
fn store_path(cli: &Cli) -> PathBuf {
    cli.db
        .clone()
        .unwrap_or_else(|| PathBuf::from("flowdeck.db"))
}

/// Run one parsed command line.
pub fn run(cli: Cli) -> CommandResult {
    let json = cli.json;
    let db = store_path(&cli);
    match cli.command {
        None => studio(&db, cli.no_mouse),
        Some(Command::Demo { no_studio }) => {
            let seeded = project::demo(cli.db.as_deref(), json || no_studio, json)?;
            if json || no_studio {
                return Ok(ExitCode::SUCCESS);
            }
            studio(&seeded, cli.no_mouse)
        }
        Some(Command::Bench {
            event,
            events,
            rate,
            params,
            baseline,
            duration,
            retention,
        }) => bench::bench(
            &db,
            &bench::BenchArgs {
                event: &event,
                events,
                rate,
                params: params.as_deref(),
                baseline,
                duration,
                retention: retention.settings(),
            },
            json,
        ),
        Some(Command::Serve {
            bind,
            token,
            body_limit,
            max_connections,
            read_timeout,
            retention,
        }) => serving::serve(
            &db,
            crate::server::ServeOptions {
                bind,
                token,
                body_limit,
                max_connections,
                read_timeout,
                retention: retention.settings(),
                ..crate::server::ServeOptions::default()
            },
        ),
        Some(Command::Dev {
            dir,
            bind,
            retention,
        }) => serving::dev(&db, &dir, bind, retention.settings(), cli.no_mouse),
        Some(Command::Versions { name }) => versions::versions(&db, &name, json),
        Some(Command::Diff { name, from, to }) => {
            versions::diff_cmd(&db, &name, from, to.as_deref(), json)
        }
        Some(Command::Rollback { name, target }) => versions::rollback(&db, &name, target, json),
        Some(Command::Dap) => {
            crate::dap::run_stdio()?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Config { print_default }) => {
            if print_default {
                out!("{}", crate::tui::config::default_text())?;
            } else {
                match crate::tui::config::path() {
                    Some(p) => outln!("{}", p.display())?,
                    None => outln!("(no configuration folder on this system)")?,
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Init { dir, example }) => project::init(&dir, &example, json),
        Some(Command::Import { path }) => project::import(&db, &path, json),
        Some(Command::Export { dir }) => project::export(&db, &dir, json),
        Some(Command::List) => definitions::list(&db, json),
        Some(Command::Toggle { name, state }) => {
            definitions::toggle(&db, &name, state == Switch::On, json)
        }
        Some(Command::Deploy { name, all }) => definitions::deploy(&db, name.as_deref(), all, json),
        Some(Command::Emit {
            event,
            params,
            draft,
            queue,
        }) => runs::emit(&db, &event, params.as_deref(), draft, queue, json),
        Some(Command::Call {
            method,
            path,
            body,
            headers,
            draft,
        }) => runs::call(
            &db,
            &runs::CallArgs {
                method: &method,
                path: &path,
                body: body.as_deref(),
                headers: &headers,
                draft,
            },
            json,
        ),
        Some(Command::Debug { name, params }) => runs::debug(&db, &name, params.as_deref(), json),
        Some(Command::Runs {
            workflow,
            status,
            limit,
        }) => history::runs(&db, workflow.as_deref(), status.as_deref(), limit, json),
        Some(Command::Show { run_id }) => history::show(&db, run_id, json),
        Some(Command::Events { name, limit }) => history::events(&db, name.as_deref(), limit, json),
        Some(Command::Rerun {
            run_id,
            from,
            params,
            draft,
        }) => second_goes::rerun(&db, run_id, from, params.as_deref(), draft, json),
        Some(Command::Replay {
            event_ids,
            event,
            since,
            limit,
            draft,
        }) => {
            let which = match event {
                Some(name) => second_goes::Which::Named { name, since, limit },
                None => second_goes::Which::Ids(event_ids),
            };
            second_goes::replay(&db, which, draft, json)
        }
        Some(Command::WhatIf {
            workflow,
            last,
            event_ids,
            check,
        }) => second_goes::what_if(&db, &workflow, last, event_ids, check, json),
        Some(Command::DiffRuns { a, b }) => second_goes::diff_runs(&db, a, b, json),
        Some(Command::Prune {
            older_than,
            keep_last,
            max_size,
            dry_run,
            vacuum,
        }) => retention::prune(
            &db,
            &retention::PruneArgs {
                older_than,
                keep_last,
                max_bytes: max_size.map(|s| s.as_u64()),
                dry_run,
                vacuum,
            },
            json,
        ),
        Some(Command::Migrate { from, to, history }) => {
            migrate::migrate(from.as_deref().unwrap_or(&db), &to, history, json)
        }
        Some(Command::Pin { run_id }) => retention::pin(&db, run_id, true, json),
        Some(Command::Unpin { run_id }) => retention::pin(&db, run_id, false, json),
        Some(Command::Trace { event_id }) => second_goes::trace(&db, event_id, json),
        Some(Command::Why { event_id, workflow }) => {
            second_goes::why(&db, event_id, &workflow, json)
        }
        Some(Command::Test {
            record: Some(run_id),
            out,
            ..
        }) => testing::record(&db, run_id, out.as_deref(), json),
        Some(Command::Test {
            dir,
            filter,
            update,
            junit,
            ..
        }) => testing::test(
            &db,
            &testing::TestArgs {
                dir: dir.as_deref(),
                filter,
                update,
                junit: junit.as_deref(),
            },
            json,
        ),
    }
}

/// Open the studio on `db`.
fn studio(db: &std::path::Path, no_mouse: bool) -> CommandResult {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        anyhow::bail!("the studio needs a terminal; use the commands (flowdeck --help) in scripts");
    }
    let options = crate::tui::StudioOptions {
        mouse: no_mouse.then_some(false),
    };
    crate::tui::run(db, &options)?;
    Ok(ExitCode::SUCCESS)
}

/// A tokio runtime for the commands that run workflows, with a core left to the store
/// writer ([`crate::engine::runtime`]). Worker threads get large stacks (reserved, not
/// used, until needed): jq's own filters walk deeply nested values recursively.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(crate::engine::runtime::build(
        "flowdeck-worker",
        crate::engine::runtime::Workers::BesideWriter,
    )?)
}

/// Print a value as pretty JSON on stdout.
fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    use std::io::Write as _;
    // written as it is encoded: a large record is not held as text first
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, value).map_err(std::io::Error::from)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
