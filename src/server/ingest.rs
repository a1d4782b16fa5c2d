//! What a request's bytes become before the engine sees them: the event that `POST
//! /events/NAME` (params as the body) or `POST /events` (a CloudEvent) asks to emit, and the
//! JSON body of an endpoint's request. Pure functions of the request's parts: the handler
//! calls them, and so do the fuzz targets (`fuzz/fuzz_targets/ingest.rs`).

use super::cloudevents;
use crate::engine::EmitRequest;
use crate::engine::effects::{CompactError, compact_object};
use axum::http::HeaderMap;
use serde_json::{Value, json};

/// Why a request is refused: the HTTP status, the message and details for the reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// HTTP status (400 malformed, 415 an unsupported kind of CloudEvent).
    pub status: u16,
    /// What is wrong.
    pub message: String,
    /// More for the reply (`{line, column}` of a JSON fault), `{}` when nothing more.
    pub details: Value,
}

impl Refused {
    fn new(status: u16, message: impl Into<String>) -> Self {
        Refused {
            status,
            message: message.into(),
            details: json!({}),
        }
    }
}

/// A body as JSON: `null` when it is empty (or only whitespace).
pub fn json_body(bytes: &[u8]) -> Result<Value, Refused> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let message = e.to_string();
        let message = message
            .rfind(" at line ")
            .map_or(message.clone(), |i| message[..i].to_string());
        Refused {
            status: 400,
            message: format!("malformed JSON: {message}"),
            details: json!({ "line": e.line(), "column": e.column() }),
        }
    })
}

/// A body as the compact JSON text of an object (`{}` when empty), never built into values:
/// an event's params are recorded as text (docs/reliability.md, large payloads).
fn params_text(body: &[u8]) -> Result<String, Refused> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok("{}".to_string());
    }
    // not UTF-8: the JSON parser says where, as for any malformed body
    let text = std::str::from_utf8(body).map_err(|_| match json_body(body) {
        Err(refused) => refused,
        Ok(_) => Refused::new(400, "malformed JSON: not UTF-8"),
    })?;
    match compact_object(text) {
        Ok(compact) => Ok(compact),
        Err(CompactError::Json(_)) => Err(json_body(body)
            .err()
            .unwrap_or_else(|| Refused::new(400, "malformed JSON"))),
        Err(CompactError::NotAnObject) => {
            // named in short: the body may be large
            let shown = json_body(body)
                .map(|v| crate::text::short(&v, 60))
                .unwrap_or_default();
            Err(Refused::new(
                400,
                format!("the params must be a JSON object, got {shown}"),
            ))
        }
    }
}

/// The event a request asks to emit: `name` from `POST /events/NAME` with the body as its
/// params (a JSON object, or nothing), or, without `name`, the CloudEvent of `POST /events`
/// (structured or binary mode; `source` + `id` become its idempotency key).
pub fn event_request(
    name: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<EmitRequest, Refused> {
    if let Some(name) = name {
        let mut request = EmitRequest::with_text(name, params_text(body)?, "http");
        // a client that retries after a lost answer sends the same key: one event
        if let Some(key) = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .filter(|k| !k.is_empty())
        {
            request.dedup_key = Some(format!("idempotency-key:{name}:{key}"));
        }
        return Ok(request);
    }
    let ce = cloudevents::parse(headers, body).map_err(|(status, m)| Refused::new(status, m))?;
    let mut request = EmitRequest::new(
        ce.name.clone(),
        ce.params.clone(),
        format!("cloudevents:{}", ce.source),
    );
    request.dedup_key = Some(ce.dedup_key());
    Ok(request)
}
