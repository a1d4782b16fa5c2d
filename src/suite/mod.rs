//! Tests of workflows (`flowdeck test`): test files of a project run without a server, each
//! case in a world of its own (a data database in memory, mocks at the side-effect seam, a
//! virtual clock), checked against its expectations and snapshots. Above the engine, beside
//! the server, the studio and the command line, which use it.

pub(crate) mod case;
pub(crate) mod catalog;
pub(crate) mod check;
pub(crate) mod junit;
pub mod load;
pub(crate) mod matcher;
pub(crate) mod record;
pub(crate) mod runner;
pub(crate) mod snapshot;
pub(crate) mod verdict;
pub(crate) mod world;

pub use load::Loaded;
pub use runner::{CaseResult, CaseStatus, Report, SuiteFile, SuiteOptions, SuiteOutcome, run_all};
