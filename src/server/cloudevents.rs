//! CloudEvents 1.0 over HTTP: structured mode (`application/cloudevents+json`, the event is
//! the body) and binary mode (`ce-*` headers, the body is the data). The CloudEvent `type`
//! is the event name, `data` its params, and `source` + `id` its idempotency key.

use axum::http::HeaderMap;
use serde_json::{Map, Value};

/// A CloudEvent as flowdeck records it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct CloudEvent {
    /// `type`: the event name.
    pub name: String,
    /// `data`: the params.
    pub params: Value,
    /// `source`.
    pub source: String,
    /// `id`.
    pub id: String,
}

impl CloudEvent {
    /// The idempotency key: the same source and id record one event.
    pub(super) fn dedup_key(&self) -> String {
        format!("ce:{}\u{1f}{}", self.source, self.id)
    }
}

/// Why a request is not a CloudEvent flowdeck takes: the status and the message.
pub(super) type Refusal = (u16, String);

fn required<'a>(get: &impl Fn(&str) -> Option<&'a str>, name: &str) -> Result<String, Refusal> {
    match get(name) {
        Some(v) if !v.is_empty() => Ok(v.to_string()),
        _ => Err((
            400,
            format!("the CloudEvent has no `{name}` (required: specversion, id, source, type)"),
        )),
    }
}

fn check_version(v: &str) -> Result<(), Refusal> {
    if v == "1.0" {
        Ok(())
    } else {
        Err((
            400,
            format!("specversion {v:?} is not supported: send CloudEvents 1.0"),
        ))
    }
}

fn params(data: Option<Value>) -> Result<Value, Refusal> {
    match data {
        None | Some(Value::Null) => Ok(Value::Object(Map::new())),
        Some(v @ Value::Object(_)) => Ok(v),
        Some(other) => Err((
            400,
            format!(
                "the CloudEvent's data must be a JSON object (the event's params), got {other}"
            ),
        )),
    }
}

/// Read a CloudEvent from a request's headers and body.
pub(super) fn parse(headers: &HeaderMap, body: &[u8]) -> Result<CloudEvent, Refusal> {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("application/cloudevents-batch") {
        return Err((
            415,
            "batched CloudEvents are not supported: send one event per request".into(),
        ));
    }
    if content_type.starts_with("application/cloudevents") {
        let event: Value =
            serde_json::from_slice(body).map_err(|e| (400, format!("malformed JSON: {e}")))?;
        let Value::Object(mut map) = event else {
            return Err((400, "a structured CloudEvent must be a JSON object".into()));
        };
        if map.contains_key("data_base64") {
            return Err((
                415,
                "data_base64 is not supported: send the params as JSON `data`".into(),
            ));
        }
        let get = |k: &str| map.get(k).and_then(Value::as_str);
        check_version(&required(&get, "specversion")?)?;
        let (id, source, name) = (
            required(&get, "id")?,
            required(&get, "source")?,
            required(&get, "type")?,
        );
        let data = map.remove("data");
        return Ok(CloudEvent {
            name,
            params: params(data)?,
            source,
            id,
        });
    }
    let get = |k: &str| headers.get(format!("ce-{k}")).and_then(|v| v.to_str().ok());
    if get("specversion").is_none() {
        return Err((
            400,
            "not a CloudEvent: send application/cloudevents+json, or ce-specversion, ce-id, ce-source and ce-type headers (or POST /events/NAME with the params)".into(),
        ));
    }
    check_version(&required(&get, "specversion")?)?;
    let (id, source, name) = (
        required(&get, "id")?,
        required(&get, "source")?,
        required(&get, "type")?,
    );
    let data = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(serde_json::from_slice(body).map_err(|e| (400, format!("malformed JSON data: {e}")))?)
    };
    Ok(CloudEvent {
        name,
        params: params(data)?,
        source,
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde_json::json;

    #[test]
    fn structured_and_binary() {
        let mut h = HeaderMap::new();
        h.insert(
            "content-type",
            HeaderValue::from_static("application/cloudevents+json"),
        );
        let body = json!({"specversion": "1.0", "id": "1", "source": "/shop", "type": "sku_reorder", "data": {"sku": 1}});
        let e = parse(&h, body.to_string().as_bytes()).unwrap();
        assert_eq!(
            (e.name.as_str(), e.params.clone()),
            ("sku_reorder", json!({"sku": 1}))
        );
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("ce-specversion", "1.0"),
            ("ce-id", "2"),
            ("ce-source", "/s"),
            ("ce-type", "t"),
        ] {
            h.insert(k, HeaderValue::from_static(v));
        }
        let e = parse(&h, b"{\"a\": 1}").unwrap();
        assert_eq!(e.params, json!({"a": 1}));
        assert_eq!(parse(&h, b"").unwrap().params, json!({}));
    }

    #[test]
    fn refusals_say_what_is_missing() {
        let mut h = HeaderMap::new();
        h.insert(
            "content-type",
            HeaderValue::from_static("application/cloudevents+json"),
        );
        let (status, m) =
            parse(&h, br#"{"specversion": "1.0", "id": "1", "type": "t"}"#).unwrap_err();
        assert_eq!(status, 400);
        assert!(m.contains("`source`"), "{m}");
        let (status, _) = parse(
            &h,
            br#"{"specversion": "0.3", "id": "1", "source": "s", "type": "t"}"#,
        )
        .unwrap_err();
        assert_eq!(status, 400);
        let (status, _) = parse(&HeaderMap::new(), b"{}").unwrap_err();
        assert_eq!(status, 400);
    }
}
