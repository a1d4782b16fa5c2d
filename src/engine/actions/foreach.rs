//! `foreach`: evaluate the array the interpreter walks, one body frame per item.

use super::Failure;
use crate::expr::{Bindings, Template};
use serde_json::{Value, json};
use std::time::Duration;

/// Evaluate `items`; it must yield an array.
pub(crate) fn items(
    items: &Template,
    bindings: &Bindings<'_>,
    limit: Duration,
) -> Result<Vec<Value>, Failure> {
    match items.eval(bindings, limit) {
        Ok(Value::Array(list)) => Ok(list),
        Ok(other) => {
            let kind = crate::expr::value::type_name(&other);
            Err(Failure::with_input(
                json!({ "in": other }),
                format!("in: must yield an array, got {kind}"),
            ))
        }
        Err(e) => Err(Failure::new(format!("in: {e}"))),
    }
}

/// The item variable's name and the index variable's (`<as>_index`).
pub(crate) fn index_var(item: &str) -> String {
    format!("{item}_index")
}
