//! A request's body as extractors: [`Payload`] the bytes, read within the limits that the
//! server's layers put on it (`DefaultBodyLimit` for the size, `RequestBodyDeadlineLayer` for
//! the time; the rules come from the [`App`] in the request's extensions, for the answers),
//! and [`JsonPayload`] those bytes as JSON. Their
//! rejections are the answers users see: 413 (`limit`) past `--body-limit`, 408
//! (`timeout_ms`) when the body does not arrive within `--read-timeout`, both closing the
//! connection, and 400 for malformed JSON.

use super::ingest;
use super::reply::{closing, error, refused};
use super::{App, ServeOptions};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{FromRequest, Request};
use axum::response::Response;
use serde_json::{Value, json};
use std::error::Error;
use std::sync::Arc;

/// The limits a body is read within, for the answers that name them.
#[derive(Debug, Clone, Copy)]
pub(super) struct BodyRules {
    /// Largest body, in bytes.
    pub limit: usize,
    /// Time for the whole body to arrive.
    pub timeout: std::time::Duration,
}

impl BodyRules {
    /// The rules of `options`.
    pub(super) fn of(options: &ServeOptions) -> Self {
        BodyRules {
            limit: options.body_limit,
            timeout: options.read_timeout,
        }
    }

    /// The rules a request was read with: its server's.
    fn of_request(request: &Request) -> Self {
        match request.extensions().get::<Arc<App>>() {
            Some(app) => BodyRules::of(&app.options),
            None => BodyRules::of(&ServeOptions::default()),
        }
    }

    /// 413: the body is over the limit; the connection closes.
    pub(super) fn too_large(&self) -> Response {
        let limit = self.limit;
        closing(error(
            413,
            format!("the request body is larger than {limit} bytes"),
            json!({ "limit": limit }),
        ))
    }

    /// 408: the body did not arrive in time; the connection closes.
    pub(super) fn too_slow(&self) -> Response {
        let timeout = self.timeout;
        closing(error(
            408,
            format!(
                "the request body did not arrive within {} s; send it whole, or raise --read-timeout",
                timeout.as_secs_f64()
            ),
            json!({ "timeout_ms": timeout.as_millis() }),
        ))
    }
}

/// The whole body of a request.
#[derive(Debug, Clone)]
pub(super) struct Payload(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Payload {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let rules = BodyRules::of_request(&request);
        Bytes::from_request(request, state)
            .await
            .map(Payload)
            .map_err(|r| unread(&rules, &r))
    }
}

/// The body of an endpoint's request as JSON (`null` when empty).
#[derive(Debug, Clone)]
pub(super) struct JsonPayload(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonPayload {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let Payload(bytes) = Payload::from_request(request, state).await?;
        ingest::json_body(&bytes).map(JsonPayload).map_err(refused)
    }
}

/// Why a body could not be read: its limit (413) or its deadline (408); any other fault of
/// the body (the client went away) is answered 413 too, as the connection closes anyway.
fn unread(rules: &BodyRules, rejection: &BytesRejection) -> Response {
    let BytesRejection::FailedToBufferBody(failed) = rejection else {
        return rules.too_large();
    };
    if let FailedToBufferBody::UnknownBodyError(e) = failed
        && caused_by_deadline(e)
    {
        return rules.too_slow();
    }
    rules.too_large()
}

/// Whether the deadline of `RequestBodyDeadlineLayer` is somewhere in `e`'s causes.
fn caused_by_deadline(e: &(dyn Error + 'static)) -> bool {
    let mut cause: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = c.source();
    }
    false
}
