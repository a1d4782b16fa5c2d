//! This process's CPU time (user and system, every thread), from `/proc/self/stat`. Over a
//! benchmark, per event it is what one event cost, and against the wall time how many
//! cores the run kept busy. Events/s is about the one over the other, so a slower run
//! either kept fewer cores busy (it waited) or paid more per event (a slower path, or a
//! slower host).

use std::time::Duration;

/// Clock ticks per second of `/proc`'s times (`USER_HZ`, 100 on every Linux architecture
/// flowdeck builds for).
const TICKS_PER_S: u64 = 100;

/// The process's CPU time so far; `None` where the system has no `/proc/self/stat`.
pub(crate) fn process_cpu() -> Option<Duration> {
    parse(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// `utime + stime` of a `/proc/PID/stat` line. The command name (field 2) is in brackets
/// and may hold spaces or brackets itself, so the fields are counted after its last `)`.
fn parse(stat: &str) -> Option<Duration> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // after the name: state (3), …, utime (14), stime (15)
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime.checked_add(stime)?;
    Some(Duration::from_millis(
        ticks.checked_mul(1000 / TICKS_PER_S)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_and_system_time_are_summed() {
        let stat = "4242 (flowdeck) R 1 2 3 4 5 6 7 8 9 10 150 25 0 0 20 0 9 0 100 0 0";
        assert_eq!(parse(stat), Some(Duration::from_millis(1750)));
    }

    #[test]
    fn a_name_with_spaces_and_brackets_is_skipped_whole() {
        let stat = "7 (a) b (c) S 1 2 3 4 5 6 7 8 9 10 3 4 0 0";
        assert_eq!(parse(stat), Some(Duration::from_millis(70)));
    }

    #[test]
    fn a_short_or_garbled_line_gives_nothing() {
        assert_eq!(parse("7 (a) S 1 2"), None);
        assert_eq!(parse("no brackets here"), None);
        assert_eq!(parse("7 (a) S 1 2 3 4 5 6 7 8 9 10 x 4"), None);
    }

    #[test]
    fn this_process_can_be_read() {
        if std::path::Path::new("/proc/self/stat").exists() {
            let before = process_cpu().expect("readable");
            // burn a little CPU: the counter never goes back
            let mut x = 0u64;
            for i in 0..1_000_000u64 {
                x = x.wrapping_mul(31).wrapping_add(i);
            }
            assert!(x != 1);
            assert!(process_cpu().expect("readable") >= before);
        }
    }
}
