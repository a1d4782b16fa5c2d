//! Definitions (workflows, endpoints, steps), loading them with validation, and the records
//! (events, runs, steps, skips) the engine writes. This layer depends on nothing else in the crate.

pub mod breakpoint;
pub(crate) mod definition;
pub(crate) mod diagnostic;
pub(crate) mod lazy_json;
pub(crate) mod names;
pub(crate) mod parse;
pub mod project;
pub(crate) mod record;
pub(crate) mod source_map;
pub(crate) mod step;
pub(crate) mod strict_json;
pub(crate) mod template;
pub(crate) mod test_parse;
pub(crate) mod test_suite;

pub use definition::{Definition, DefinitionKind, Endpoint, Workflow, endpoint_key};
pub use diagnostic::Diagnostic;
pub use lazy_json::LazyJson;
pub use parse::{Parsed, parse_definition};
pub use project::{KeptFile, LoadedFile, LoadedProject, ProjectConfig, ProjectError, TestFile};
pub use record::{
    EventRecord, RunMode, RunRecord, RunStatus, RunTarget, SharedJson, SkipRecord, StepRecord,
    StepStatus, Timestamp, json_text,
};
pub use step::{Action, Retry, Step};
pub use test_parse::{ParsedSuite, parse_suite};
pub use test_suite::{SuiteTarget, TestCase, TestSuite};
