//! Text helpers the front ends share (the command line and the studio).

use serde_json::Value;
use std::time::Duration;

/// A duration in the unit that reads best: `850 µs`, `1.5 ms`, `2.31 s`.
pub(crate) fn duration(d: Duration) -> String {
    let us = d.as_micros();
    if us < 1_000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// Compact JSON cut to `max` characters (with `…` when cut). Only as much is encoded as can
/// be shown: the start of a large value does not cost writing it all out.
pub(crate) fn short(v: &Value, max: usize) -> String {
    // a character is at most 4 bytes: max + 1 characters fit, so a cut is always seen
    let mut upto = Upto {
        out: Vec::new(),
        limit: max.saturating_add(1).saturating_mul(4),
    };
    let whole = serde_json::to_writer(&mut upto, v).is_ok();
    let text = String::from_utf8_lossy(&upto.out);
    if whole && text.chars().count() <= max {
        text.into_owned()
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// A writer that keeps the first `limit` bytes and then refuses more.
struct Upto {
    out: Vec<u8>,
    limit: usize,
}

impl std::io::Write for Upto {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = self.limit - self.out.len();
        if room == 0 && !buf.is_empty() {
            return Err(std::io::Error::other("enough to show"));
        }
        let n = buf.len().min(room);
        self.out.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A run's status as one mark: `✓` succeeded, `✗` failed, `⊘` cancelled, `…` running,
/// `‖` paused, `○` queued.
pub(crate) fn status_mark(status: crate::model::RunStatus) -> &'static str {
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

/// `n` and its noun, singular or plural: "1 run", "2 runs", "1 step record".
pub(crate) fn counted(n: u64, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {plural}")
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
        assert_eq!(short(&serde_json::json!("abc"), 5), "\"abc\"");
        assert_eq!(short(&serde_json::json!({"a": 1}), 7), "{\"a\":1}");
        assert_eq!(short(&serde_json::json!({"a": 12}), 7), "{\"a\":1…");
        assert_eq!(short(&serde_json::json!("日本語のテキスト"), 4), "\"日本…");
        let big = serde_json::json!({"pad": "x".repeat(1_000_000)});
        assert_eq!(short(&big, 10), "{\"pad\":\"x…");
    }
}
