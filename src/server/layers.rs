//! The tower layers around the routes: request logging (`TraceLayer` to `tracing`, which
//! writes to the log file), the bearer token, and the body's limits (`RequestBodyLimitLayer`
//! for `--body-limit`, `RequestBodyDeadlineLayer` for `--read-timeout`, a deadline for the
//! whole body rather than one per chunk, so that a client dripping a byte at a time is let
//! go too), with the answers users see when they are passed.

use super::App;
use super::payload::BodyRules;
use super::reply::error;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::TraceLayer;
use tracing::Span;

/// The request log: one line per answered request, with its method, path (never the query
/// string, which may hold secrets), status and time taken. At `debug` level (target
/// `flowdeck::http`: `FLOWDECK_LOG=info,flowdeck::http=debug`): a line per request costs a
/// busy server more than the request itself, so the default `info` log leaves it out.
pub(super) type RequestLog = TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    fn(&Request<Body>) -> Span,
    (),
    fn(&Response<Body>, Duration, &Span),
    (),
    (),
    (),
>;

/// The layer of [`RequestLog`].
pub(super) fn request_log() -> RequestLog {
    TraceLayer::new_for_http()
        .make_span_with(request_span as fn(&Request<Body>) -> Span)
        .on_request(())
        .on_response(answered as fn(&Response<Body>, Duration, &Span))
        .on_body_chunk(())
        .on_eos(())
        // a failed request is logged where it fails, with its cause
        .on_failure(())
}

fn request_span(request: &Request<Body>) -> Span {
    tracing::debug_span!(
        target: "flowdeck::http",
        "request",
        method = %request.method(),
        path = request.uri().path(),
    )
}

fn answered(response: &Response<Body>, latency: Duration, _span: &Span) {
    tracing::debug!(
        target: "flowdeck::http",
        status = response.status().as_u16(),
        micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
        "answered"
    );
}

/// Refuse a request without the bearer token (when the server has one): 401 with
/// `WWW-Authenticate: Bearer`.
pub(super) async fn authorize(
    State(app): State<Arc<App>>,
    request: Request,
    next: Next,
) -> Response {
    if authorized(&app, request.headers()) {
        return next.run(request).await;
    }
    let mut r = error(
        401,
        "missing or wrong bearer token: send Authorization: Bearer <token>",
        json!({}),
    );
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

fn authorized(app: &App, headers: &HeaderMap) -> bool {
    let Some(token) = &app.options.token else {
        return true;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `RequestBodyLimitLayer` refuses a body whose `Content-Length` is over the limit before
/// any handler runs, with a plain-text 413 of its own: answer it as every 413 is answered
/// (JSON with the `limit`, and the connection closes).
pub(super) async fn explain_too_large(request: Request, next: Next) -> Response {
    let rules = request.extensions().get::<BodyRules>().copied();
    let response = next.run(request).await;
    let ours = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/json");
    match rules {
        Some(rules) if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !ours => {
            rules.too_large()
        }
        _ => response,
    }
}
