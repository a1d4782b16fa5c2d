//! The `flowdeck` binary: parse the arguments, run, map errors to exit codes.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    flowdeck::cli::main()
}
