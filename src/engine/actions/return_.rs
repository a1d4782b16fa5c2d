//! `return`: end the run with an output (and, for endpoints, an HTTP status).

use super::{Done, Effect, Failure, LeafCx};
use crate::expr::Template;
use serde_json::{Value, json};

pub(super) fn run<E>(
    cx: &LeafCx<'_, E>,
    value: &Template,
    status: Option<&Template>,
) -> Result<Done, Failure> {
    let v = cx.eval("value", value).map_err(Failure::new)?;
    let status = match status {
        None => None,
        Some(t) => {
            let s = cx
                .eval("status", t)
                .map_err(|m| Failure::with_input(json!({ "value": v }), m))?;
            match s
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| (100..=599).contains(n))
            {
                Some(n) => Some(n),
                None => {
                    return Err(Failure::with_input(
                        json!({ "value": v, "status": s }),
                        format!("status: must be an HTTP status from 100 to 599, got {s}"),
                    ));
                }
            }
        }
    };
    let mut input = json!({ "value": v });
    if let Some(s) = status {
        input["status"] = Value::from(s);
    }
    Ok(Done {
        input,
        output: v.clone(),
        effect: Effect::Return { value: v, status },
    })
}
