//! Engine errors: what the user asked for that cannot be done, and why.

use crate::model::Diagnostic;
use crate::store::StoreError;
use crate::store::data::DataError;

/// Something the engine cannot do.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The data database failed.
    #[error("data database: {0}")]
    Data(#[from] DataError),
    /// No workflow of that name.
    #[error("no workflow named {name:?}{hint}")]
    UnknownWorkflow {
        /// The name asked for.
        name: String,
        /// ` (did you mean …?)` or the list of workflows.
        hint: String,
    },
    /// No endpoint answers that method and path.
    #[error("no endpoint answers {method} {path}{hint}")]
    UnknownRoute {
        /// The request's method.
        method: String,
        /// The request's path.
        path: String,
        /// What routes exist, or why none does.
        hint: String,
    },
    /// Input that cannot be used (bad params, a bad event name).
    #[error("{0}")]
    BadInput(String),
    /// A stored definition that no longer compiles.
    #[error("{name} cannot run: {message}")]
    Program {
        /// The definition.
        name: String,
        /// What is wrong with it.
        message: String,
    },
    /// Definitions with faults.
    #[error("{} fault(s) in the definitions", .0.len())]
    Invalid(Vec<Diagnostic>),
    /// The runtime could not be set up.
    #[error("{0}")]
    Setup(String),
}
