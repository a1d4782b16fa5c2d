//! Percentiles of durations: exact over a set, or from a fixed-size histogram that takes any
//! number of samples in constant memory.

use serde::Serialize;
use std::time::Duration;

/// p50, p90, p99 and max, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub(crate) struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// The slowest.
    pub max: f64,
}

impl Percentiles {
    /// The percentiles of `samples` (sorted here); all zero when there are none. The exact
    /// reference the histogram's percentiles are tested against.
    #[cfg(test)]
    pub(crate) fn of(samples: &mut [Duration]) -> Percentiles {
        if samples.is_empty() {
            return Percentiles::default();
        }
        samples.sort_unstable();
        let at = |p: f64| {
            // nearest rank
            let rank = ((samples.len() as f64) * p).ceil() as usize;
            ms(samples[rank.clamp(1, samples.len()) - 1])
        };
        Percentiles {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

/// Buckets per doubling: a recorded duration is off by at most 1/64 (1.6%).
const PER_DOUBLING: f64 = 64.0;
/// Enough buckets for any duration up to 2^40 µs (12 days).
const BUCKETS: usize = 40 * 64 + 1;

/// Durations in logarithmic buckets (microseconds), with the exact maximum.
#[derive(Debug, Clone)]
pub(crate) struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: Duration,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
            max: Duration::ZERO,
        }
    }
}

impl Histogram {
    /// Count one duration.
    pub(crate) fn record(&mut self, d: Duration) {
        let us = d.as_micros() as f64;
        let i = ((us + 1.0).log2() * PER_DOUBLING) as usize;
        self.counts[i.min(BUCKETS - 1)] += 1;
        self.total += 1;
        self.max = self.max.max(d);
    }

    /// How many durations were counted.
    pub(crate) fn len(&self) -> u64 {
        self.total
    }

    /// What was counted after `earlier` (an earlier copy of this histogram): the counts of
    /// an interval. Its maximum is the whole run's so far (a bound: percentiles are capped
    /// by it).
    pub(crate) fn since(&self, earlier: &Histogram) -> Histogram {
        let counts = self
            .counts
            .iter()
            .zip(&earlier.counts)
            .map(|(now, then)| now.saturating_sub(*then))
            .collect();
        Histogram {
            counts,
            total: self.total.saturating_sub(earlier.total),
            max: self.max,
        }
    }

    /// Nearest-rank percentiles (each the upper edge of its bucket, never above the maximum).
    pub(crate) fn percentiles(&self) -> Percentiles {
        if self.total == 0 {
            return Percentiles::default();
        }
        let at = |p: f64| {
            let rank = ((self.total as f64 * p).ceil() as u64).clamp(1, self.total);
            let mut seen = 0;
            for (i, c) in self.counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    let upper_us = 2f64.powf((i + 1) as f64 / PER_DOUBLING) - 1.0;
                    return (upper_us / 1000.0).min(ms(self.max));
                }
            }
            ms(self.max)
        };
        Percentiles {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: ms(self.max),
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let p = Percentiles::of(&mut v);
        assert_eq!((p.p50, p.p90, p.p99, p.max), (50.0, 90.0, 99.0, 100.0));
        assert_eq!(Percentiles::of(&mut []), Percentiles::default());
        let mut one = vec![Duration::from_micros(1500)];
        assert_eq!(Percentiles::of(&mut one).p50, 1.5);
    }

    #[test]
    fn the_histogram_agrees_with_the_exact_percentiles_within_its_bucket_width() {
        let mut samples: Vec<Duration> = (0..100_000u64)
            .map(|i| Duration::from_micros(50 + (i * 7919) % 30_000))
            .collect();
        let mut h = Histogram::default();
        for d in &samples {
            h.record(*d);
        }
        let exact = Percentiles::of(&mut samples);
        let approx = h.percentiles();
        for (a, e) in [
            (approx.p50, exact.p50),
            (approx.p90, exact.p90),
            (approx.p99, exact.p99),
        ] {
            assert!(a >= e && a <= e * 1.02 + 0.001, "{a} vs {e}");
        }
        assert_eq!(approx.max, exact.max);
        assert_eq!(h.len(), 100_000);
        assert_eq!(Histogram::default().percentiles(), Percentiles::default());
    }

    #[test]
    fn an_interval_counts_only_what_came_after_it_began() {
        let mut h = Histogram::default();
        for _ in 0..1000 {
            h.record(Duration::from_millis(100));
        }
        let then = h.clone();
        for _ in 0..1000 {
            h.record(Duration::from_micros(500));
        }
        let interval = h.since(&then);
        assert_eq!(interval.len(), 1000);
        let p99 = interval.percentiles().p99;
        assert!((0.5..0.52).contains(&p99), "{p99}");
    }
}
