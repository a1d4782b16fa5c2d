//! Tests of workflows (`flowdeck test`): test files of a project run without a server, each
//! case in a world of its own (a data database in memory, mocks at the side-effect seam, a
//! virtual clock), checked against its expectations and snapshots. Above the engine, beside
//! the server, the studio and the command line, which use it.

pub mod case;
pub mod catalog;
pub mod check;
pub mod junit;
pub mod load;
pub mod matcher;
pub mod record;
pub mod runner;
pub mod snapshot;
pub mod verdict;
pub mod world;

pub use load::Loaded;
pub use runner::{CaseResult, CaseStatus, Options, Outcome, Report, SuiteFile, run_all};
