//! `log`: a message in the trace (and the studio's log, and the log file).

use super::{Done, Effect, Failure, LeafCx};
use crate::expr::Template;
use serde_json::{Value, json};

pub(super) fn run<E>(cx: &LeafCx<'_, E>, message: &Template) -> Result<Done, Failure> {
    let m = cx.eval("message", message).map_err(Failure::new)?;
    let text = match &m {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    // the engine writes the line to its log once the record is masked
    // (`Core::mask_records`): here it may hold a secret
    Ok(Done {
        input: json!({ "message": m }),
        output: Value::String(text),
        effect: Effect::None,
    })
}
