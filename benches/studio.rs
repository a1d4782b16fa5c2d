//! The studio on a large store: 1,000,000 events and 100,000 runs (with 300,000 step
//! records). Prints the time to the first frame with data, the time per frame, the time of a
//! filter typed a key at a time, the time from the key that emits to the new run's first step
//! on screen, the idle CPU and the memory. A benchmark, not a test: it prints figures and asserts nothing.
//!
//! Run: `cargo bench --bench studio` (add `-- --events N --runs M` to change the size).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use flowdeck::engine::Engine;
use flowdeck::store::Store;
use flowdeck::tui::config::ThemeConfig;
use flowdeck::tui::effects::Services;
use flowdeck::tui::keymap::Keymap;
use flowdeck::tui::runtime::Runtime;
use flowdeck::tui::state::State;
use flowdeck::tui::theme::Theme;
use flowdeck::tui::update::Msg;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rusqlite::{Connection, params};
use std::path::Path;
use std::time::{Duration, Instant};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn cpu_ms() -> u64 {
    // utime + stime in clock ticks (100 per second on Linux)
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    ticks * 10
}

/// Fill the store with `events` events and `runs` runs (three step records each).
fn generate(db: &Path, events: u64, runs: u64) {
    flowdeck::example::seed(db).unwrap();
    let mut conn = Connection::open(db).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;")
        .unwrap();
    let defs: Vec<(i64, String, String)> = conn
        .prepare(
            "SELECT id, name, on_event FROM definitions WHERE kind = 'workflow' AND active = 1",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let start = Instant::now();
    let t0: i64 = 1_780_000_000_000_000;
    let every = (events / runs.max(1)).max(1);
    let tx = conn.transaction().unwrap();
    {
        let mut ev = tx
            .prepare("INSERT INTO events (id, name, params, source, depth, emitted_at) VALUES (?1, ?2, ?3, 'bench', 0, ?4)")
            .unwrap();
        let mut run = tx
            .prepare(
                "INSERT INTO runs (id, definition_id, kind, target, version, event_id, mode, status, params, output,
                    queued_at, started_at, finished_at) VALUES (?1, ?2, 'workflow', ?3, 1, ?4, 'live', 'succeeded', ?5, '{}', ?6, ?6, ?7)",
            )
            .unwrap();
        let mut step = tx
            .prepare(
                "INSERT INTO steps (run_id, seq, step, path, action, status, input, output, attempt, started_at, duration_us)
                 VALUES (?1, ?2, ?3, ?4, 'set', 'succeeded', '{}', '1', 1, ?5, 12)",
            )
            .unwrap();
        let mut run_id = 0i64;
        for i in 1..=events as i64 {
            let (def, name, on) = &defs[(i as usize) % defs.len()];
            let p = format!("{{\"sku\":{}}}", i % 1000);
            ev.execute(params![i, on, p, t0 + i * 1000]).unwrap();
            if (i as u64).is_multiple_of(every) && (run_id as u64) < runs {
                run_id += 1;
                run.execute(params![
                    run_id,
                    def,
                    name,
                    i,
                    p,
                    t0 + i * 1000,
                    t0 + i * 1000 + 900
                ])
                .unwrap();
                for seq in 1..=3 {
                    step.execute(params![
                        run_id,
                        seq,
                        format!("s{seq}"),
                        format!("/steps/{}", seq - 1),
                        t0 + i * 1000
                    ])
                    .unwrap();
                }
            }
        }
    }
    tx.commit().unwrap();
    println!(
        "generated {events} events, {runs} runs, {} step records in {:.1} s",
        runs * 3,
        start.elapsed().as_secs_f64()
    );
}

fn measure(db: &Path) {
    let rss_before = status_kb("VmRSS:");
    // the studio's own runtime (`flowdeck::tui::run` builds the same)
    let rt = flowdeck::engine::runtime::build(
        "flowdeck-studio",
        flowdeck::engine::runtime::Workers::PerCore,
    )
    .unwrap();
    rt.block_on(async {
        let start = Instant::now();
        let engine = Engine::open(db, 8).unwrap();
        let store = Store::open(db).unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        flowdeck::tui::watch::spawn(db, tx.clone()).unwrap();
        flowdeck::tui::watch::follow(engine.core().writer(), tx.clone());
        let services = Services::new(engine, store, tx);
        let mut state = State::new(
            Keymap::defaults(),
            Theme::new(&ThemeConfig::default(), false),
            true,
            "bench".into(),
        );
        state.size = (120, 40);
        let terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
        let mut studio = Runtime::new(terminal, state, services, rx, Box::new(|_| {}));
        let ready = studio
            .pump_until(Duration::from_secs(60), |r| {
                !r.state().activity.is_empty() && !r.state().steps.is_empty() && r.frames > 0
            })
            .await;
        let first = start.elapsed();
        assert!(ready, "the studio did not load");
        println!(
            "time to first frame with data: {:.1} ms",
            first.as_secs_f64() * 1000.0
        );

        // each frame: the whole screen drawn from the state
        let state = studio.state().clone();
        let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
        let mut times = Vec::new();
        for _ in 0..500 {
            let t = Instant::now();
            terminal
                .draw(|f| flowdeck::tui::view::draw(f, &state))
                .unwrap();
            times.push(t.elapsed());
        }
        times.sort();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "render per frame (120×40, 500 frames): p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
            us(times[times.len() / 2]),
            us(times[times.len() * 99 / 100]),
            us(times[times.len() - 1])
        );

        // a reload after a store change: the queries behind each refresh
        let mut reloads = Vec::new();
        let s = Store::open(db).unwrap();
        for _ in 0..20 {
            let t = Instant::now();
            let _ = flowdeck::tui::data::definitions(&s).unwrap();
            let _ = flowdeck::tui::data::activity(&s, "", flowdeck::tui::data::ACTIVITY_WINDOW)
                .unwrap();
            reloads.push(t.elapsed());
        }
        reloads.sort();
        println!(
            "reload after a store change (workflows + activity window): p50 {:.1} ms",
            reloads[10].as_secs_f64() * 1000.0
        );

        // the filter, typed a key at a time: each prefix read from the whole store
        for word in ["reorder", "po_created", "zzz"] {
            let mut each = Vec::new();
            let mut found = 0;
            for end in 1..=word.len() {
                let t = Instant::now();
                let (rows, _) = flowdeck::tui::data::activity(
                    &s,
                    &word[..end],
                    flowdeck::tui::data::ACTIVITY_WINDOW,
                )
                .unwrap();
                each.push(t.elapsed());
                found = rows.len();
            }
            each.sort();
            println!(
                "filter {word:?} typed a key at a time: max {:.1} ms per key, p50 {:.1} ms ({found} rows at the end)",
                each[each.len() - 1].as_secs_f64() * 1000.0,
                each[each.len() / 2].as_secs_f64() * 1000.0
            );
        }

        // the debug loop: the key that emits → the new run's first step on screen
        let mut loops = Vec::new();
        for _ in 0..20 {
            let before = studio.state().run.as_ref().map(|r| r.id);
            let frames = studio.frames;
            let t = Instant::now();
            studio.handle(Msg::Input(Event::Key(KeyEvent::new(
                KeyCode::Char('x'),
                KeyModifiers::NONE,
            ))));
            let shown = studio
                .pump_until(Duration::from_secs(10), |r| {
                    r.frames > frames
                        && r.state().run.as_ref().is_some_and(|run| {
                            Some(run.id) != before
                                && run.steps.as_ref().is_some_and(|s| !s.is_empty())
                        })
                })
                .await;
            assert!(shown, "the emitted run did not show");
            loops.push(t.elapsed());
            // let the cascade end before the next key
            studio
                .pump_until(Duration::from_millis(100), |_| false)
                .await;
        }
        loops.sort();
        println!(
            "key that emits → first step on screen (20 emits): p50 {:.1} ms, max {:.1} ms",
            loops[loops.len() / 2].as_secs_f64() * 1000.0,
            loops[loops.len() - 1].as_secs_f64() * 1000.0
        );

        let cpu0 = cpu_ms();
        studio.pump_until(Duration::from_secs(3), |_| false).await;
        println!("idle for 3 s: {} ms of CPU", cpu_ms().saturating_sub(cpu0));
    });
    println!(
        "memory: peak RSS {} MB (RSS before opening the studio {} MB)",
        status_kb("VmHWM:") / 1024,
        rss_before / 1024
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--measure") {
        measure(Path::new(&args[i + 1]));
        return;
    }
    let events = arg("--events", 1_000_000);
    let runs = arg("--runs", 100_000);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("flowdeck.db");
    generate(&db, events, runs);
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(db.with_extension("db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    println!("store: {} MB", size / (1024 * 1024));
    // measure in a fresh process, so the memory figures are the studio's own
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--measure")
        .arg(&db)
        .status()
        .unwrap();
    assert!(status.success());
}
