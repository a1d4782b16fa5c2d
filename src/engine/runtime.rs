//! The async runtime runs execute on, sized to the machine.
//!
//! Besides its async workers the engine keeps a store writer thread that commits every
//! record; at full load it is the busiest thread and the one everything waits for. A
//! runtime with a worker per core leaves it competing with them for a core. So where
//! throughput counts (`serve`, `bench`, the command line) the runtime leaves it a core.
//! The studio and the debug adapter keep a worker per core: their screens and answers share
//! the workers with the runs, and fewer workers would make a key's answer wait.
//! The price on two cores: a step that computes for long holds the only worker meanwhile.
//! (The measurements behind this are in `docs/performance.md`.)
//! `TOKIO_WORKER_THREADS` still sets the count.

use super::STACK_SIZE;

/// How many async workers a runtime gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workers {
    /// One per core but one, left to the store writer (for throughput).
    BesideWriter,
    /// One per core (for an interactive front end that shares them with the runs).
    PerCore,
}

impl Workers {
    /// The count for a machine of `cores` cores; there is always one.
    pub fn count(self, cores: usize) -> usize {
        match self {
            Workers::BesideWriter => cores.saturating_sub(1).max(1),
            Workers::PerCore => cores.max(1),
        }
    }
}

/// A multi-threaded runtime whose threads are named `thread_name`, with stacks deep
/// enough for nested templates and `workers` workers (unless `TOKIO_WORKER_THREADS` says
/// otherwise).
pub fn build(thread_name: &str, workers: Workers) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder
        .enable_all()
        .thread_stack_size(STACK_SIZE)
        .thread_name(thread_name);
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        builder.worker_threads(workers.count(cores));
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_core_is_left_to_the_store_writer_and_there_is_always_a_worker() {
        assert_eq!(Workers::BesideWriter.count(0), 1);
        assert_eq!(Workers::BesideWriter.count(1), 1);
        assert_eq!(Workers::BesideWriter.count(2), 1);
        assert_eq!(Workers::BesideWriter.count(8), 7);
        assert_eq!(Workers::PerCore.count(0), 1);
        assert_eq!(Workers::PerCore.count(2), 2);
    }

    #[test]
    fn the_runtime_runs_tasks_on_named_workers() {
        let rt = build("flowdeck-test", Workers::BesideWriter).unwrap();
        let name = rt
            .block_on(rt.spawn(async { std::thread::current().name().map(str::to_string) }))
            .unwrap();
        assert_eq!(name.as_deref(), Some("flowdeck-test"));
    }
}
