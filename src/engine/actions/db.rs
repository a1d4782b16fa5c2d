//! `db.query` and `db.exec` on the project's data database; values enter only as bound
//! parameters.

use super::{Done, Failure, LeafCx, store_as};
use crate::engine::effects::Effects;
use crate::expr::Template;
use serde_json::{Value, json};

fn args<E>(cx: &LeafCx<'_, E>, sql: &str, args: &[Template]) -> Result<Vec<Value>, Failure> {
    args.iter()
        .enumerate()
        .map(|(i, t)| cx.eval(&format!("args[{i}]"), t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| Failure::with_input(json!({ "sql": sql }), m))
}

pub(super) async fn query<E: Effects>(
    cx: &LeafCx<'_, E>,
    sql: &str,
    arg_templates: &[Template],
    result: Option<&String>,
) -> Result<Done, Failure> {
    let values = args(cx, sql, arg_templates)?;
    let input = json!({ "sql": sql, "args": values });
    match cx.effects.query(cx.at(), sql, &values).await {
        Ok(rows) => {
            let output = Value::Array(rows);
            Ok(Done {
                effect: store_as(result, &output),
                input,
                output,
            })
        }
        Err(e) => Err(Failure::with_input(input, e)),
    }
}

pub(super) async fn exec<E: Effects>(
    cx: &LeafCx<'_, E>,
    sql: &str,
    arg_templates: &[Template],
    result: Option<&String>,
) -> Result<Done, Failure> {
    let values = args(cx, sql, arg_templates)?;
    let input = json!({ "sql": sql, "args": values });
    match cx.effects.exec(cx.at(), sql, &values).await {
        Ok(r) => {
            let output = json!({ "changes": r.changes, "last_id": r.last_id });
            Ok(Done {
                effect: store_as(result, &output),
                input,
                output,
            })
        }
        Err(e) => Err(Failure::with_input(input, e)),
    }
}
