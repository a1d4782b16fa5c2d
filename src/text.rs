//! Text helpers the front ends share (the command line and the studio).

use serde_json::Value;
use std::time::Duration;

/// A duration in the unit that reads best: `850 µs`, `1.5 ms`, `2.31 s`.
pub fn duration(d: Duration) -> String {
    let us = d.as_micros();
    if us < 1_000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// Compact JSON cut to `max` characters (with `…` when cut).
pub fn short(v: &Value, max: usize) -> String {
    let text = v.to_string();
    if text.chars().count() <= max {
        text
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// A run's status as one mark: `✓` succeeded, `✗` failed, `⊘` cancelled, `…` running,
/// `‖` paused, `○` queued.
pub fn status_mark(status: crate::model::RunStatus) -> &'static str {
    use crate::model::RunStatus;
    match status {
        RunStatus::Succeeded => "✓",
        RunStatus::Failed => "✗",
        RunStatus::Cancelled => "⊘",
        RunStatus::Running => "…",
        RunStatus::Paused => "‖",
        RunStatus::Queued => "○",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_short_json() {
        assert_eq!(duration(Duration::from_micros(850)), "850 µs");
        assert_eq!(duration(Duration::from_micros(1500)), "1.5 ms");
        assert_eq!(duration(Duration::from_millis(2310)), "2.31 s");
        assert_eq!(short(&serde_json::json!("abcdef"), 5), "\"abc…");
    }
}
