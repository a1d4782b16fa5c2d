//! The `flowdeck` binary: parse the arguments, run, map errors to exit codes.
#![forbid(unsafe_code)]

/// mimalloc: runs allocate and free many small values on several threads at once, where it
/// is faster than the system allocator (docs/performance.md). Wrapped to count each thread's
/// allocations: an expression's memory budget is measured by them.
#[global_allocator]
static ALLOCATOR: alloc_metrics::MetricAlloc<mimalloc::MiMalloc> =
    alloc_metrics::MetricAlloc::new(mimalloc::MiMalloc);

fn main() -> std::process::ExitCode {
    flowdeck::cli::main()
}
