//! `sleep`: wait some milliseconds.

use super::{Done, Effect, Failure, LeafCx};
use crate::engine::effects::Effects;
use crate::expr::Template;
use serde_json::{Value, json};
use std::time::Duration;

pub(super) async fn run<E: Effects>(cx: &LeafCx<'_, E>, ms: &Template) -> Result<Done, Failure> {
    let v = cx.eval("ms", ms).map_err(Failure::new)?;
    let Some(ms) = v.as_f64().filter(|m| *m >= 0.0 && m.is_finite()) else {
        return Err(Failure::with_input(
            json!({ "ms": v }),
            format!("ms: must be a number of milliseconds, got {v}"),
        ));
    };
    cx.effects.sleep(Duration::from_secs_f64(ms / 1000.0)).await;
    Ok(Done {
        input: json!({ "ms": v }),
        output: Value::Null,
        effect: Effect::None,
    })
}
