//! JSON replies with the right status, and the error shapes users see.

use super::blocking::ReadError;
use super::ingest;
use crate::engine::EngineError;
use crate::store::StoreError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A JSON reply.
pub(super) fn json_reply(status: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// An error reply: `{"error": message}` plus any extra fields.
pub(super) fn error(status: u16, message: impl Into<String>, extra: Value) -> Response {
    let mut body = json!({ "error": message.into() });
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    json_reply(status, &body)
}

/// The connection closes after this answer (the rest of a request body is not read).
pub(super) fn closing(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    response
}

/// A request refused before the engine saw it (400, 415).
pub(super) fn refused(r: ingest::Refused) -> Response {
    error(r.status, r.message, r.details)
}

/// A failure of the engine or the store: 507 when the store is full, 500 otherwise.
pub(super) fn internal(e: &EngineError) -> Response {
    if let EngineError::Store(full @ StoreError::Full { .. }) = e {
        // 507 Insufficient Storage: nothing of the request was recorded; the same request
        // succeeds once the store has room
        tracing::warn!(error = %full, "request refused: the store is full");
        return error(507, full.to_string(), json!({ "store_full": true }));
    }
    tracing::error!(error = %e, "request failed");
    error(500, e.to_string(), json!({}))
}

/// A read of the store that failed, or did not finish: as [`internal`].
pub(super) fn failed(e: &ReadError) -> Response {
    match e {
        ReadError::Engine(e) => internal(e),
        ReadError::Stopped(_) | ReadError::Generation(_) => {
            tracing::error!(error = %e, "request failed");
            error(500, e.to_string(), json!({}))
        }
    }
}
