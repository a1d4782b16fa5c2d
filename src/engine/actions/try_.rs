//! `try`: the interpreter runs `steps`; an error that leaves them is caught here and the
//! `catch` steps run with `$error`.

use serde_json::{Value, json};

/// `$error` inside `catch`: `{message, step}`.
pub(crate) fn error_value(message: &str, failed_step: &str) -> Value {
    json!({ "message": message, "step": failed_step })
}
