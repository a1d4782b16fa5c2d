//! Definitions (workflows, endpoints, steps), loading them with validation, and the records
//! (events, runs, steps, skips) the engine writes. This layer depends on nothing else in the crate.

pub mod breakpoint;
pub mod definition;
pub mod diagnostic;
pub mod names;
pub mod parse;
pub mod project;
pub mod record;
pub mod source_map;
pub mod step;
pub mod strict_json;
pub mod template;
pub mod test_parse;
pub mod test_suite;

pub use definition::{Definition, Endpoint, Kind, Workflow, endpoint_key};
pub use diagnostic::Diagnostic;
pub use parse::{Parsed, parse_definition};
pub use project::{KeptFile, LoadedFile, LoadedProject, ProjectConfig, ProjectError, TestFile};
pub use record::{
    EventRecord, RunMode, RunRecord, RunStatus, SkipRecord, StepRecord, StepStatus, Target,
    Timestamp, json_text,
};
pub use step::{Action, Retry, Step};
pub use test_parse::{ParsedSuite, parse_suite};
pub use test_suite::{SuiteTarget, TestCase, TestSuite};
