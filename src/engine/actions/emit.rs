//! `emit`: the Create Event action. The event is recorded (durably) and dispatched to its
//! listeners before the step completes; their runs join this run's cascade.

use super::{Done, Failure, LeafCx, store_as};
use crate::engine::effects::{Effects, EmitRequest, Parent};
use crate::expr::Template;
use serde_json::json;

pub(super) async fn run<E: Effects>(
    cx: &LeafCx<'_, E>,
    event: &str,
    params: &Template,
    result: Option<&String>,
) -> Result<Done, Failure> {
    let params = cx.eval("params", params).map_err(Failure::new)?;
    let input = json!({ "event": event, "params": params });
    if !params.is_object() {
        return Err(Failure::with_input(
            input,
            format!("params: must be an object, got {params}"),
        ));
    }
    let run = cx.run;
    let mut chain = run
        .event
        .as_ref()
        .map(|e| e.chain.clone())
        .unwrap_or_default();
    if run.kind == crate::model::DefinitionKind::Workflow {
        chain.push(run.name.clone());
    }
    let request = EmitRequest {
        name: event.to_string(),
        params: params.clone(),
        params_text: None,
        source: format!("{}:{}", run.kind.as_str(), run.name),
        parent: Some(Parent {
            run_id: run.run_id,
            chain,
            depth: run.event.as_ref().map_or(0, |e| e.depth + 1),
        }),
        draft: run.version.is_none(),
        dedup_key: Some(format!(
            "run:{}:{}:{:?}",
            run.run_id, cx.step.path, cx.iteration
        )),
        queue_only: false,
        replay_of: None,
        in_replay: run.mode == crate::model::RunMode::Replay,
    };
    match cx.effects.emit(cx.at(), request).await {
        Ok(event_id) => {
            let output = json!({ "event_id": event_id });
            Ok(Done {
                effect: store_as(result, &output),
                input,
                output,
            })
        }
        Err(e) => Err(Failure::with_input(
            input,
            format!("cannot emit {event}: {e}"),
        )),
    }
}
