//! `{{ }}` templates over jq (the `jaq` crates): compiled once when a definition loads,
//! evaluated with a time limit, with a fast path for plain variable lookups.

pub(crate) mod expression;
pub mod jq;
pub(crate) mod path;
pub(crate) mod scope;
pub(crate) mod template;
pub mod value;

pub use expression::{Bindings, EvalError, Expr};
pub use scope::{Global, Scope};
pub use template::{CompileError, Template};
