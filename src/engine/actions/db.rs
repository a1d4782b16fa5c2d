//! `db.query` and `db.exec` on the project's data database; values enter only as bound
//! parameters.

use super::{Done, Failure, LeafCx, store_as};
use crate::expr::Template;
use serde_json::{Value, json};

fn args(cx: &LeafCx<'_>, sql: &str, args: &[Template]) -> Result<Vec<Value>, Failure> {
    args.iter()
        .enumerate()
        .map(|(i, t)| cx.eval(&format!("args[{i}]"), t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| Failure::with_input(json!({ "sql": sql }), m))
}

pub(super) async fn query(
    cx: &LeafCx<'_>,
    sql: &str,
    arg_templates: &[Template],
    result: Option<&String>,
) -> Result<Done, Failure> {
    let values = args(cx, sql, arg_templates)?;
    let input = json!({ "sql": sql, "args": values });
    match cx.core.data().query(sql, &values) {
        Ok(rows) => {
            let output = Value::Array(rows);
            Ok(Done {
                effect: store_as(result, &output),
                input,
                output,
            })
        }
        Err(e) => Err(Failure::with_input(input, e.to_string())),
    }
}

pub(super) async fn exec(
    cx: &LeafCx<'_>,
    sql: &str,
    arg_templates: &[Template],
    result: Option<&String>,
) -> Result<Done, Failure> {
    let values = args(cx, sql, arg_templates)?;
    let input = json!({ "sql": sql, "args": values });
    match cx.core.data().exec(sql, &values).await {
        Ok(r) => {
            let output = json!({ "changes": r.changes, "last_id": r.last_id });
            Ok(Done {
                effect: store_as(result, &output),
                input,
                output,
            })
        }
        Err(e) => Err(Failure::with_input(input, e.to_string())),
    }
}
