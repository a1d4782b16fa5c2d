//! flowdeck: a terminal debugging studio for event-based workflows, with the engine and the
//! SQLite store that run them.
//!
//! The layers point one way: [`model`] (definitions, validation, records) ← [`expr`]
//! (`{{ }}` templates over jq) ← [`store`] (SQLite: definitions, versions, events, runs, step
//! records; the project's data database) ← [`engine`] (dispatcher, interpreter, worker pool)
//! ← the front ends: [`cli`], the studio ([`tui`]), the HTTP [`server`], the editor adapter
//! ([`dap`]) and `bench` (a burst emitter that measures the engine). Nothing below the
//! engine knows about a terminal or a socket.
#![forbid(unsafe_code)]

/// The binary's allocator in the library's own tests, so that they see memory budgets work.
#[cfg(test)]
#[global_allocator]
static ALLOCATOR: alloc_metrics::MetricAlloc<mimalloc::MiMalloc> =
    alloc_metrics::MetricAlloc::new(mimalloc::MiMalloc);

pub(crate) mod bench;
pub mod cli;
pub mod dap;
pub mod dev;
pub mod engine;
pub mod example;
pub mod expr;
pub mod model;
pub mod server;
pub mod store;
pub mod suite;
pub(crate) mod text;
pub mod tui;
