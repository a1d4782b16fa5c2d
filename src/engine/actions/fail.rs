//! `fail`: fail the run with a message (a `try` around it catches it).

use super::{Done, Failure, LeafCx};
use crate::expr::Template;
use serde_json::{Value, json};

pub(super) fn run<E>(cx: &LeafCx<'_, E>, message: &Template) -> Result<Done, Failure> {
    let m = cx.eval("message", message).map_err(Failure::new)?;
    let text = match &m {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Err(Failure::with_input(json!({ "message": m }), text))
}
