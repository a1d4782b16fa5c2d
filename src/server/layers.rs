//! The tower layers of our own around the routes: request logging (`TraceLayer` to
//! `tracing`, which writes to the log file) and the bearer token. (The body's limits are
//! tower-http's and axum's own, set in `server::router`, and answered in `payload`.)

use super::App;
use super::reply::error;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
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
