//! Reading JSON arguments (`--params`, `--body`): inline or `@FILE`, with errors that say
//! where the JSON is wrong.

use anyhow::{Context, bail};
use serde_json::Value;
use std::borrow::Cow;

/// A JSON object argument as compact text, not parsed into values (a large payload is
/// recorded as text); the same errors as [`json_object_arg_within`]. `None` gives `{}`.
pub(super) fn json_object_text_within(
    flag: &str,
    arg: Option<&str>,
    limit: u64,
) -> anyhow::Result<String> {
    let Some(arg) = arg else {
        return Ok("{}".to_string());
    };
    let (text, from) = read_within(flag, arg, limit)?;
    match crate::engine::effects::compact_object(&text) {
        Ok(compact) => Ok(compact),
        Err(crate::engine::effects::CompactError::Json(e)) => Err(invalid(flag, &from, &e)),
        Err(crate::engine::effects::CompactError::NotAnObject) => {
            // a short value to name: parsed only when it is not an object
            let shown = serde_json::from_str::<Value>(&text)
                .map(|v| crate::text::short(&v, 60))
                .unwrap_or_default();
            bail!("{flag}: must be a JSON object like '{{\"sku\": 1}}', got {shown}")
        }
    }
}

/// Parse a JSON argument; `@path` reads a file. `None` gives `default`.
pub(super) fn json_arg(flag: &str, arg: Option<&str>, default: Value) -> anyhow::Result<Value> {
    json_arg_within(flag, arg, default, u64::MAX)
}

/// [`json_arg`], refusing text longer than `limit` bytes before it is read or parsed (a
/// parsed value takes several times the memory of its text).
pub(super) fn json_arg_within(
    flag: &str,
    arg: Option<&str>,
    default: Value,
    limit: u64,
) -> anyhow::Result<Value> {
    let Some(arg) = arg else { return Ok(default) };
    let (text, from) = read_within(flag, arg, limit)?;
    serde_json::from_str::<Value>(&text).map_err(|e| invalid(flag, &from, &e))
}

/// A JSON argument's text, inline or `@path` from a file, refused over `limit` bytes before
/// it is read; with where it came from, for errors.
fn read_within<'a>(flag: &str, arg: &'a str, limit: u64) -> anyhow::Result<(Cow<'a, str>, String)> {
    let too_big = |size: u64, from: &str| {
        anyhow::anyhow!(
            "{flag}: {size} bytes of JSON{from}, over the limit of {limit} bytes; \
             send less, or raise [engine] max_params_bytes in flowdeck.toml"
        )
    };
    match arg.strip_prefix('@') {
        Some(path) => {
            let from = format!(" in {path}");
            let size = std::fs::metadata(path)
                .with_context(|| format!("{flag}: cannot read {path}"))?
                .len();
            if size > limit {
                return Err(too_big(size, &from));
            }
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{flag}: cannot read {path}"))?;
            Ok((Cow::Owned(text), from))
        }
        None => {
            if arg.len() as u64 > limit {
                return Err(too_big(arg.len() as u64, ""));
            }
            // read where it is: a large argument is not copied first
            Ok((Cow::Borrowed(arg), String::new()))
        }
    }
}

/// The error for a JSON argument that does not parse: where, and how to write it.
fn invalid(flag: &str, from: &str, e: &serde_json::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "{flag}: invalid JSON{from} at line {} column {}: {} (write it like '{{\"sku\": 1}}', quoted for the shell)",
        e.line(),
        e.column(),
        strip_position(&e.to_string())
    )
}

/// Parse a JSON argument that must be an object.
pub(super) fn json_object_arg(flag: &str, arg: Option<&str>) -> anyhow::Result<Value> {
    json_object_arg_within(flag, arg, u64::MAX)
}

/// [`json_object_arg`], refusing text longer than `limit` bytes before it is parsed.
pub(super) fn json_object_arg_within(
    flag: &str,
    arg: Option<&str>,
    limit: u64,
) -> anyhow::Result<Value> {
    let v = json_arg_within(flag, arg, Value::Object(Default::default()), limit)?;
    if !v.is_object() {
        bail!("{flag}: must be a JSON object like '{{\"sku\": 1}}', got {v}");
    }
    Ok(v)
}

fn strip_position(message: &str) -> &str {
    message
        .rfind(" at line ")
        .map_or(message, |i| &message[..i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inline_file_and_errors() {
        assert_eq!(
            json_object_arg("--params", Some(r#"{"a":1}"#)).unwrap(),
            json!({"a": 1})
        );
        assert_eq!(json_object_arg("--params", None).unwrap(), json!({}));
        let e = json_object_arg("--params", Some("{a:1}"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--params: invalid JSON at line 1 column 2"),
            "{e}"
        );
        let e = json_object_arg("--params", Some("[1]"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("must be a JSON object"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.json");
        std::fs::write(&f, r#"{"sku": 2}"#).unwrap();
        let arg = format!("@{}", f.display());
        assert_eq!(
            json_object_arg("--params", Some(&arg)).unwrap(),
            json!({"sku": 2})
        );
        assert!(json_object_arg("--params", Some("@/nope/x.json")).is_err());
    }
}
