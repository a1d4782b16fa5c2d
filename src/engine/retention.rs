//! Retention while a server runs (`serve`, `dev`): prune by the project's `[store]` rules,
//! or the flags that override them, a batch at a time through the store writer as background
//! work: each batch runs alone when no other write waits, so a write waits for one short
//! batch at most and never shares a commit with one.

use super::Engine;
use crate::model::Timestamp;
use crate::model::project::StoreSettings;
use crate::store::prune::{Cursor, Pruned, Retention};
use std::time::{Duration, Instant};

/// How often a round of pruning starts (and the project's rules are read again).
const ROUND: Duration = Duration::from_secs(1);

/// Batches in one round at most (100,000 events): a store that retention reaches for the first
/// time, with millions of old records, is pruned over several rounds, and a shutdown never
/// waits for more than one round.
const BATCHES_PER_ROUND: u32 = 5000;

/// Rounds between two starts from the oldest record again: a record the rules reached but
/// that was kept then (a run under way) is looked at again after this many.
const ROUNDS_PER_SWEEP: u32 = 60;

/// The rules in force: `flags` where given, else the project's.
pub fn rules_of(flags: StoreSettings, project: StoreSettings) -> StoreSettings {
    StoreSettings {
        retain: flags.retain.or(project.retain),
        max_size: flags.max_size.or(project.max_size),
    }
}

fn retention_at(settings: StoreSettings, now: Timestamp) -> Retention {
    Retention {
        before: settings.retain.map(|age| {
            let micros = i64::try_from(age.as_micros()).unwrap_or(i64::MAX);
            Timestamp(now.micros().saturating_sub(micros))
        }),
        keep_last: None,
        max_bytes: settings.max_size.map(|s| s.as_u64()),
    }
}

impl Engine {
    /// Prune by `flags` (over the project's `[store]` rules, read again every round) until
    /// `stop` resolves. Does nothing in a round where no rule is set.
    pub async fn keep_retention(
        &self,
        flags: StoreSettings,
        stop: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(stop);
        let mut cursor = Cursor::default();
        let mut rounds = 0u32;
        let mut removed = Pruned::default();
        let mut last_report = Instant::now();
        loop {
            tokio::select! {
                () = &mut stop => break,
                () = tokio::time::sleep(ROUND) => {}
            }
            let project = {
                let engine = self.clone();
                tokio::task::spawn_blocking(move || {
                    engine.store().project().map(|p| p.config.store)
                })
                .await
            };
            let settings = match project {
                Ok(Ok(project)) => rules_of(flags, project),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "retention: cannot read the project's [store] rules");
                    flags
                }
                Err(_) => break,
            };
            if settings.is_unset() {
                continue;
            }
            rounds += 1;
            if rounds.is_multiple_of(ROUNDS_PER_SWEEP) {
                cursor = Cursor::default();
            }
            let rules = retention_at(settings, Timestamp::now());
            match self.prune_round(&rules, &mut cursor).await {
                Ok(pruned) => removed.add(pruned),
                Err(e) => {
                    tracing::warn!(error = %e, "retention: a prune failed; trying again in the next round")
                }
            }
            if last_report.elapsed() >= Duration::from_secs(60) && !removed.is_nothing() {
                tracing::info!(
                    events = removed.events,
                    runs = removed.runs,
                    steps = removed.steps,
                    "retention removed records in the last minute"
                );
                removed = Pruned::default();
                last_report = Instant::now();
            }
        }
    }

    /// Batches until the rules reach nothing more, each through the writer.
    async fn prune_round(
        &self,
        rules: &Retention,
        cursor: &mut Cursor,
    ) -> Result<Pruned, super::EngineError> {
        let mut total = Pruned::default();
        for batches in 1.. {
            let rules = *rules;
            let from = *cursor;
            let (batch, next) = self
                .core()
                .writer()
                .call_in_background(move |s| s.prune_within(&rules, from))
                .await?;
            *cursor = next;
            total.add(batch.pruned);
            if !batch.more || batches >= BATCHES_PER_ROUND {
                if !total.is_nothing() {
                    self.core()
                        .writer()
                        .call_in_background(|s| s.give_back_piled_up())
                        .await?;
                }
                return Ok(total);
            }
            // let the writer's other callers in between two batches
            tokio::task::yield_now().await;
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_project_rule_by_rule() {
        let flags = StoreSettings {
            retain: Some(Duration::from_secs(60)),
            max_size: None,
        };
        let project = StoreSettings {
            retain: Some(Duration::from_secs(7 * 86_400)),
            max_size: Some(bytesize::ByteSize::gb(2)),
        };
        let rules = rules_of(flags, project);
        assert_eq!(rules.retain, Some(Duration::from_secs(60)));
        assert_eq!(rules.max_size, Some(bytesize::ByteSize::gb(2)));
        let r = retention_at(rules, Timestamp(100_000_000));
        assert_eq!(r.before, Some(Timestamp(40_000_000)));
        assert_eq!(r.max_bytes, Some(2_000_000_000));
    }
}
