//! `flowdeck migrate`: a project's store moved from a laptop's file to a team's PostgreSQL.

use super::{CommandResult, print_json};
use crate::store::Store;
use crate::store::copy::copy_store;
use crate::store::postgres::{is_postgres_url, shown_url};
use anyhow::{Context, bail};
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;

/// `flowdeck migrate --from FILE --to URL [--history]`
pub(super) fn migrate(from: &Path, to: &str, history: bool, json: bool) -> CommandResult {
    if !is_postgres_url(to) {
        bail!(
            "--to {to} is not a PostgreSQL URL: write it as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
        );
    }
    if from.to_str().is_some_and(is_postgres_url) {
        bail!(
            "--from names a PostgreSQL database: migrate copies from a SQLite file (--from flowdeck.db)"
        );
    }
    if !from.exists() {
        bail!(
            "no store at {}: give the file to copy with --from",
            from.display()
        );
    }
    let source = Store::open(from).with_context(|| format!("cannot open {}", from.display()))?;
    let target = Store::open(Path::new(to))?;
    let report = copy_store(&source, &target, history)?;
    let shown = shown_url(to);
    if json {
        let tables: serde_json::Map<String, serde_json::Value> = report
            .tables
            .iter()
            .map(|(t, n)| (t.clone(), json!(n)))
            .collect();
        print_json(&json!({ "from": from, "to": shown, "history": history, "rows": tables }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let count = |table: &str| {
        report
            .tables
            .iter()
            .find(|(t, _)| t == table)
            .map_or(0, |(_, n)| *n)
    };
    outln!(
        "Copied {} into {shown}: {} definitions with {} deployed versions{}.",
        from.display(),
        count("definitions"),
        count("versions"),
        if history {
            format!(
                ", {} events, {} runs and {} step records",
                count("events"),
                count("runs"),
                count("steps")
            )
        } else {
            " (add --history for events and runs)".into()
        }
    )?;
    outln!("Use it with --db {shown} (or FLOWDECK_DB).")?;
    Ok(ExitCode::SUCCESS)
}
