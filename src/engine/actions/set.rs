//! `set`: bind `$var.<var>` to a value.

use super::{Done, Effect, Failure, LeafCx};
use crate::expr::Template;
use serde_json::json;

pub(super) fn run<E>(cx: &LeafCx<'_, E>, var: &str, value: &Template) -> Result<Done, Failure> {
    let v = cx.eval("value", value).map_err(Failure::new)?;
    Ok(Done {
        input: json!({ "var": var, "value": v }),
        output: v.clone(),
        effect: Effect::Set(var.to_string(), v),
    })
}
