//! The `flowdeck` binary: parse the arguments, run, map errors to exit codes.
#![forbid(unsafe_code)]

/// mimalloc: runs allocate and free many small values on several threads at once, where it
/// is measurably faster than the system allocator (see the README's figures).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    flowdeck::cli::main()
}
