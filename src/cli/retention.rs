//! `prune` and `pin`: keeping the record to what is wanted.

use super::{CommandResult, print_json};
use crate::model::Timestamp;
use crate::store::Store;
use crate::store::prune::{Cursor, Pruned, Retention};
use crate::text::counted;
use anyhow::bail;
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// What `flowdeck prune` was asked for.
#[derive(Debug, Clone, Copy)]
pub(super) struct PruneArgs {
    /// Remove what is older than this.
    pub older_than: Option<Duration>,
    /// Keep the newest N events (and N runs without an event).
    pub keep_last: Option<u64>,
    /// Remove the oldest until the pages in use fit in this many bytes.
    pub max_bytes: Option<u64>,
    /// Count only.
    pub dry_run: bool,
    /// Rewrite the file afterwards (and switch an older store to giving space back).
    pub vacuum: bool,
}

/// `flowdeck prune`
pub(super) fn prune(db: &Path, args: &PruneArgs, json: bool) -> CommandResult {
    if !crate::store::store_exists(db) {
        bail!(
            "no store at {}: nothing to prune (give the store with --db)",
            db.display()
        );
    }
    let rules = Retention {
        before: args.older_than.map(|age| {
            let micros = i64::try_from(age.as_micros()).unwrap_or(i64::MAX);
            Timestamp(Timestamp::now().micros().saturating_sub(micros))
        }),
        keep_last: args.keep_last,
        max_bytes: args.max_bytes,
    };
    if rules.is_empty() && !args.vacuum {
        bail!(
            "say what to remove: --older-than 7d, --keep-last 1000 or --max-size 2GB (or --vacuum alone to give free space back)"
        );
    }
    let store = Store::open(db)?;
    let file_before = store.file_bytes()?;
    let mut total = Pruned::default();
    let mut batches = 0u64;
    if !rules.is_empty() {
        let mut cursor = Cursor::default();
        loop {
            let batch = store.prune_batch(&rules, &mut cursor, args.dry_run)?;
            total.add(batch.pruned);
            batches += 1;
            if !args.dry_run {
                store.give_back_space(0)?;
            }
            if !batch.more {
                break;
            }
        }
    }
    let incremental = store.gives_back_space()?;
    if args.vacuum && !args.dry_run {
        store.vacuum()?;
    }
    let file_after = store.file_bytes()?;
    if json {
        print_json(&json!({
            "dry_run": args.dry_run,
            "removed": total,
            "batches": batches,
            "file_bytes": { "before": file_before, "after": file_after },
            "gives_back_space": incremental || args.vacuum,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if args.dry_run {
        "Would remove"
    } else {
        "Removed"
    };
    let kept = if total.kept > 0 {
        format!(
            "; kept {} the rules reached (unfinished, pinned, or their workflow's last)",
            counted(total.kept, "run", "runs")
        )
    } else {
        String::new()
    };
    outln!(
        "{verb} {}, {}, {} and {}{kept}.",
        counted(total.events, "event", "events"),
        counted(total.runs, "run", "runs"),
        counted(total.steps, "step record", "step records"),
        counted(total.skips, "skip", "skips"),
    )?;
    if !args.dry_run {
        outln!(
            "The store file: {} → {}.",
            bytesize::ByteSize::b(file_before),
            bytesize::ByteSize::b(file_after)
        )?;
        if !incremental && !args.vacuum {
            outln!(
                "This store was made before retention and keeps its freed pages for new records; `flowdeck prune --vacuum` gives them back to the file system once (and from then on after every prune)."
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `flowdeck pin RUN` and `flowdeck unpin RUN`
pub(super) fn pin(db: &Path, run_id: i64, pinned: bool, json: bool) -> CommandResult {
    let store = Store::open(db)?;
    if !store.set_pinned(run_id, pinned)? {
        bail!("no run #{run_id} (`flowdeck runs` lists the newest)");
    }
    if json {
        print_json(&json!({ "run": run_id, "pinned": pinned }))?;
    } else if pinned {
        outln!(
            "Pinned run #{run_id}: prune and retention keep it (`flowdeck unpin {run_id}` lets it go)."
        )?;
    } else {
        outln!("Unpinned run #{run_id}: retention may remove it when it is old enough.")?;
    }
    Ok(ExitCode::SUCCESS)
}
