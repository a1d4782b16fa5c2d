//! `{{ }}` templates over jq (the `jaq` crates): compiled once when a definition loads,
//! evaluated with a time limit, with a fast path for plain variable lookups.

pub mod expression;
pub mod jq;
pub mod path;
pub mod scope;
pub mod template;
pub mod value;

pub use expression::{Bindings, EvalError, Expr};
pub use scope::{Global, Scope};
pub use template::{CompileError, Template};
