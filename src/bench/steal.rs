//! CPU time the host took from this machine while a benchmark ran (Linux `steal`): on a
//! shared virtual machine it is why the same command gives other figures minute to minute,
//! so a report that states it can be read for what it is.

/// The machine's CPU time counters (all CPUs, in clock ticks), from `/proc/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CpuTimes {
    /// Every state summed (user, nice, system, idle, iowait, irq, softirq, steal).
    total: u64,
    /// Time a runnable virtual CPU waited for the host.
    steal: u64,
}

impl CpuTimes {
    /// The counters now; `None` where the system has no `/proc/stat`.
    pub(crate) fn now() -> Option<CpuTimes> {
        parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// The share of CPU time stolen between `self` and `later`, in percent.
    pub(crate) fn steal_pct_until(&self, later: &CpuTimes) -> Option<f64> {
        let total = later.total.checked_sub(self.total)?;
        let steal = later.steal.checked_sub(self.steal)?;
        (total > 0).then(|| steal as f64 * 100.0 / total as f64)
    }
}

/// Read the `cpu` line (the sum over CPUs) of `/proc/stat`'s text.
fn parse(stat: &str) -> Option<CpuTimes> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // guest time (fields 9 and 10) is already counted in user and nice
    Some(CpuTimes {
        total: fields.iter().sum(),
        steal: *fields.get(7)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_line_gives_total_and_steal() {
        let stat = "cpu  100 0 50 800 10 0 5 35 0 0\ncpu0 50 0 25 400 5 0 3 17 0 0\nintr 1\n";
        let t = parse(stat).unwrap();
        assert_eq!(t.total, 1000);
        assert_eq!(t.steal, 35);
    }

    #[test]
    fn the_share_is_taken_over_the_interval() {
        let before = CpuTimes {
            total: 1000,
            steal: 35,
        };
        let after = CpuTimes {
            total: 1200,
            steal: 85,
        };
        assert_eq!(before.steal_pct_until(&after), Some(25.0));
        assert_eq!(before.steal_pct_until(&before), None, "no time passed");
        assert_eq!(after.steal_pct_until(&before), None, "counters went back");
    }

    #[test]
    fn a_kernel_without_steal_gives_nothing() {
        assert_eq!(parse("cpu  100 0 50 800\n"), None);
        assert_eq!(parse("intr 1\n"), None);
    }

    #[test]
    fn this_machine_can_be_read() {
        if std::path::Path::new("/proc/stat").exists() {
            assert!(CpuTimes::now().is_some());
        }
    }
}
