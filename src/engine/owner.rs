//! Who holds a run: a process names itself as lease owner by its machine and its process
//! identity, so that another process on the same machine can tell, at once, that the owner
//! of a lease is dead and take its runs over without waiting for the lease to expire. A lease
//! of another machine (or of a process whose identity cannot be read) still waits for expiry.
//!
//! The identity is `host/boot/pidns/pid/start`: the host name, the kernel's boot id (a reboot
//! ends every process), the PID namespace (containers on one kernel share the boot id but not
//! their PIDs), the PID, and the process's start time in clock ticks since boot (a PID used
//! again by a later process has a later start). Read from `/proc`; elsewhere a process is
//! never judged dead this way.

use std::path::Path;

/// A process as lease owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessIdentity {
    host: String,
    boot: String,
    pidns: String,
    pid: u32,
    start: String,
}

impl ProcessIdentity {
    /// This process.
    pub fn current() -> ProcessIdentity {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let pidns = std::fs::read_link("/proc/self/ns/pid")
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let pid = std::process::id();
        ProcessIdentity {
            host: clean(&read("/proc/sys/kernel/hostname")),
            boot: clean(&read("/proc/sys/kernel/random/boot_id")),
            pidns: clean(&pidns),
            pid,
            start: start_time(Path::new("/proc/self/stat")).unwrap_or_default(),
        }
    }

    /// As a lease owner is written in the store.
    pub fn owner(&self) -> String {
        let or_dash = |s: &str| {
            if s.is_empty() {
                "-".to_string()
            } else {
                s.to_string()
            }
        };
        format!(
            "{}/{}/{}/{}/{}",
            or_dash(&self.host),
            or_dash(&self.boot),
            or_dash(&self.pidns),
            self.pid,
            or_dash(&self.start)
        )
    }

    /// Read a lease owner back (`None`: not written by [`ProcessIdentity::owner`]).
    pub fn parse(owner: &str) -> Option<ProcessIdentity> {
        let mut parts = owner.rsplitn(5, '/');
        let start = parts.next()?;
        let pid = parts.next()?.parse().ok()?;
        let pidns = parts.next()?;
        let boot = parts.next()?;
        let host = parts.next()?;
        let field = |s: &str| {
            if s == "-" {
                String::new()
            } else {
                s.to_string()
            }
        };
        Some(ProcessIdentity {
            host: field(host),
            boot: field(boot),
            pidns: field(pidns),
            pid,
            start: field(start),
        })
    }

    /// Whether the process `owner` names is known to be dead, as seen from this process: it
    /// ran on this machine since its last boot, in this PID namespace, and its PID is gone,
    /// a zombie, or now another process's.
    pub fn knows_dead(&self, owner: &str) -> bool {
        let Some(other) = ProcessIdentity::parse(owner) else {
            return false;
        };
        let comparable = !self.host.is_empty()
            && !self.boot.is_empty()
            && !self.pidns.is_empty()
            && !self.start.is_empty()
            && !other.start.is_empty();
        if !comparable
            || other.host != self.host
            || other.boot != self.boot
            || other.pidns != self.pidns
        {
            return false;
        }
        if other.pid == self.pid {
            return other.start != self.start;
        }
        let stat = format!("/proc/{}/stat", other.pid);
        match std::fs::read_to_string(&stat) {
            Err(e) => e.kind() == std::io::ErrorKind::NotFound,
            Ok(text) => match parse_stat(&text) {
                Some((state, start)) => matches!(state, 'Z' | 'X') || start != other.start,
                None => false,
            },
        }
    }
}

/// Keep an identity part free of the separator.
fn clean(s: &str) -> String {
    s.replace('/', "_")
}

fn start_time(stat: &Path) -> Option<String> {
    let text = std::fs::read_to_string(stat).ok()?;
    parse_stat(&text).map(|(_, start)| start)
}

/// The state and start time of a `/proc/PID/stat` line. The command name (field 2) is in
/// parentheses and may hold spaces and parentheses: fields are counted after its last `)`.
fn parse_stat(text: &str) -> Option<(char, String)> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // state is field 3; starttime is field 22
    let start = fields.nth(18)?;
    Some((state, start.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_reads_back_as_written() {
        let me = ProcessIdentity::current();
        assert_eq!(ProcessIdentity::parse(&me.owner()), Some(me.clone()));
        assert_eq!(ProcessIdentity::parse("1234-1733350000"), None);
    }

    #[test]
    fn the_stat_line_is_read_after_the_command_name() {
        let line =
            "42 (a (weird) name) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(parse_stat(line), Some(('S', "987654".to_string())));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_living_process_is_not_dead_and_a_gone_or_reused_pid_is() {
        let me = ProcessIdentity::current();
        assert!(!me.knows_dead(&me.owner()), "this process lives");
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep runs");
        let stat = format!("/proc/{}/stat", child.id());
        let start = start_time(Path::new(&stat)).expect("the child's start time");
        let child_owner = ProcessIdentity {
            pid: child.id(),
            start: start.clone(),
            ..me.clone()
        }
        .owner();
        assert!(!me.knows_dead(&child_owner), "the child lives");
        // the same PID with another start time: a process that used the PID before
        let earlier = ProcessIdentity {
            pid: child.id(),
            start: "1".into(),
            ..me.clone()
        }
        .owner();
        assert!(me.knows_dead(&earlier));
        child.kill().expect("kill");
        // the signal is delivered on its own time: wait for the zombie it leaves
        let zombie = (0..500).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            me.knows_dead(&child_owner)
        });
        assert!(zombie, "killed, a zombie until reaped");
        child.wait().expect("reaped");
        assert!(me.knows_dead(&child_owner), "gone");
        // another machine's process is never judged from here
        let elsewhere = ProcessIdentity {
            host: "another-host".into(),
            ..ProcessIdentity::parse(&child_owner).expect("parses")
        };
        assert!(!me.knows_dead(&elsewhere.owner()));
    }
}
