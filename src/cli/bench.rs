//! `flowdeck bench EVENT`: a burst of events into the live workflows, measured.

use super::args::json_object_arg;
use super::{CommandResult, print_json, render, runtime};
use crate::bench::stats::Percentiles;
use crate::bench::{self, BenchOptions, Rate, Report};
use crate::engine::{DEFAULT_WORKERS, Engine};
use std::path::Path;
use std::process::ExitCode;

/// 1234567.8 → "1,234,568"
fn grouped(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn row(what: &str, p: &Percentiles) -> Vec<String> {
    let f = |x: f64| format!("{x:.2}");
    vec![what.to_string(), f(p.p50), f(p.p90), f(p.p99), f(p.max)]
}

fn text(r: &Report, rate: Rate) -> String {
    let rate = match rate {
        Rate::Max => "as fast as it takes them".to_string(),
        Rate::PerSecond(x) => format!("at {} events/s", grouped(x)),
    };
    let mut out = format!(
        "bench {}: {} events {rate} → {} runs ({} failed), {} step records in {:.2} s\n\n",
        r.event,
        grouped(r.events as f64),
        grouped(r.runs as f64),
        r.failed_runs,
        grouped(r.steps as f64),
        r.seconds
    );
    let mut rows = vec![
        vec!["events/s".into(), grouped(r.events_per_s)],
        vec!["runs/s".into(), grouped(r.runs_per_s)],
        vec!["step records/s".into(), grouped(r.steps_per_s)],
        vec!["record rows/s".into(), grouped(r.rows_per_s)],
    ];
    if let (Some(c), Some(ratio)) = (r.ceiling_rows_per_s, r.ratio) {
        let (name, how) = if r.store == "postgres" {
            (
                "PostgreSQL ceiling",
                "a bare loop of bulk inserts (one per table), 1,000 events per transaction, same server",
            )
        } else {
            (
                "SQLite ceiling",
                "a bare loop of prepared inserts, 1,000 events per transaction, same disk",
            )
        };
        rows.push(vec![
            name.into(),
            format!(
                "{} rows/s ({how}): flowdeck reaches {:.2} of it",
                grouped(c),
                ratio
            ),
        ]);
    }
    rows.push(vec![
        "peak memory".into(),
        format!("{:.1} MB", r.peak_rss_mb),
    ]);
    if let (Some(per_event), Some(cores)) = (r.cpu_us_per_event, r.cores_busy) {
        rows.push(vec![
            "CPU time".into(),
            format!("{per_event:.0} µs per event ({cores:.2} cores busy)"),
        ]);
    }
    if let Some(steal) = r.steal_pct {
        let ceiling = r
            .ceiling_steal_pct
            .map(|c| format!(", {c:.0}% while the ceiling ran"))
            .unwrap_or_default();
        let note = if steal.max(r.ceiling_steal_pct.unwrap_or(0.0)) >= 5.0 {
            ": the host was busy, so these figures are lower than this machine's own"
        } else {
            ""
        };
        rows.push(vec![
            "CPU taken by the host".into(),
            format!("{steal:.0}% of the machine's CPU time{ceiling}{note}"),
        ]);
    }
    out.push_str(
        &render::table(&["", ""], &rows, 2)
            .lines()
            .skip(1)
            .collect::<Vec<_>>()
            .join("\n"),
    );
    out.push_str("\n\n");
    let mut lat = vec![
        row("emit → run end on disk", &r.latency_ms),
        row("emit → first step on disk", &r.first_step_ms),
    ];
    for l in &r.listeners {
        lat.push(row(
            &format!("  {} ({} runs) end", l.workflow, l.runs),
            &l.latency_ms,
        ));
        lat.push(row(
            &format!("  {} first step", l.workflow),
            &l.first_step_ms,
        ));
    }
    out.push_str(&render::table(
        &["LATENCY (ms)", "p50", "p90", "p99", "max"],
        &lat,
        2,
    ));
    if !r.samples.is_empty() {
        let course: Vec<Vec<String>> = r
            .samples
            .iter()
            .map(|s| {
                vec![
                    format!("{:.0}", s.at_s),
                    grouped(s.events as f64),
                    format!("{:.1}", s.store_mb),
                    format!("{:.1}", s.wal_mb),
                    format!("{:.1}", s.rss_mb),
                    format!("{:.2}", s.first_step_p99_ms),
                ]
            })
            .collect();
        out.push('\n');
        out.push_str(&render::table(
            &[
                "AT (s)",
                "EVENTS",
                "STORE (MB)",
                "WAL (MB)",
                "MEMORY (MB)",
                "FIRST STEP p99 (ms)",
            ],
            &course,
            2,
        ));
    }
    if r.pruning {
        out.push_str(
            "\nretention pruned the store meanwhile: the record counts above are of what was left\n",
        );
    }
    out
}

/// What `flowdeck bench` was asked for.
pub(super) struct BenchArgs<'a> {
    /// The event.
    pub event: &'a str,
    /// How many events (without `duration`).
    pub events: usize,
    /// How fast.
    pub rate: Rate,
    /// Params of every event, as given.
    pub params: Option<&'a str>,
    /// Also measure the store's ceiling.
    pub baseline: bool,
    /// Emit for this long instead.
    pub duration: Option<std::time::Duration>,
    /// Retention over the project's rules.
    pub retention: crate::model::project::StoreSettings,
}

/// `flowdeck bench EVENT`
pub(super) fn bench(db: &Path, args: &BenchArgs<'_>, json: bool) -> CommandResult {
    let params = json_object_arg("--params", args.params)?;
    let engine = Engine::open(db, DEFAULT_WORKERS)?;
    let rate = args.rate;
    let options = BenchOptions {
        event: args.event.to_string(),
        events: args.events,
        rate,
        params,
        baseline: args.baseline,
        duration: args.duration,
        retention: args.retention,
    };
    let report = runtime()?.block_on(bench::run(&engine, db, &options))?;
    if json {
        print_json(&report)?;
    } else {
        out!("{}", text(&report, rate))?;
    }
    Ok(if report.failed_runs > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::grouped;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(grouped(0.4), "0");
        assert_eq!(grouped(999.0), "999");
        assert_eq!(grouped(1000.0), "1,000");
        assert_eq!(grouped(1_234_567.8), "1,234,568");
    }
}
