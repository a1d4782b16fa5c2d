//! The routes flowdeck itself answers, before any endpoint: event ingestion (`POST
//! /events/{name}`, `POST /events` for CloudEvents), the record (`GET /runs/{id}`, `GET
//! /events/{id}`) and the health check (`GET /healthz`, in `server::router`, outside the
//! token and the body limits). An endpoint cannot take these method and path pairs; every
//! other method on their paths goes on to the endpoints.

use super::App;
use super::blocking::{read, with_engine};
use super::endpoints;
use super::ingest;
use super::payload::Payload;
use super::reply::{error, failed, internal, json_reply, refused};
use crate::engine::{EmitRequest, EngineError};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::Arc;

/// The routes above, as listed in a 404's `routes` (endpoints' routes follow them).
pub(super) const BUILT_IN: [&str; 5] = [
    "GET /healthz",
    "POST /events/{name}",
    "POST /events",
    "GET /events/{id}",
    "GET /runs/{id}",
];

/// Ingestion and the record; other methods on these paths, and every other path, go to
/// the endpoints. (HEAD is routed there too: axum would otherwise answer it with GET's
/// handler, which today's routes never did.)
pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/events",
            post(emit_cloudevent).fallback(endpoints::dispatch),
        )
        .route(
            // one pattern for both: `POST` takes an event name, `GET` an event id
            "/events/{segment}",
            get(event)
                .head(endpoints::dispatch)
                .post(emit_named)
                .fallback(endpoints::dispatch),
        )
        .route(
            "/runs/{id}",
            get(run)
                .head(endpoints::dispatch)
                .fallback(endpoints::dispatch),
        )
        .fallback(endpoints::dispatch)
}

/// `GET /healthz`: alive, and how many runs are unfinished (`-1` when the store cannot say).
pub(super) async fn healthz(State(app): State<Arc<App>>) -> Response {
    let unfinished = read(&app.engine, |s| s.count_unfinished())
        .await
        .unwrap_or(-1);
    json_reply(200, &json!({ "ok": true, "unfinished_runs": unfinished }))
}

/// `POST /events/{name}`: the body is the event's params.
async fn emit_named(
    State(app): State<Arc<App>>,
    name: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let name = match name {
        Ok(Path(name)) => name,
        Err(e) => return error(400, e.body_text(), json!({})),
    };
    let (headers, body) = match headers_and_body(request, &app).await {
        Ok(read) => read,
        Err(refused) => return refused,
    };
    match ingest::event_request(Some(&name), &headers, &body) {
        Ok(request) => emit(&app, request).await,
        Err(r) => refused(r),
    }
}

/// `POST /events`: a CloudEvent, structured or binary.
async fn emit_cloudevent(State(app): State<Arc<App>>, request: Request) -> Response {
    let (headers, body) = match headers_and_body(request, &app).await {
        Ok(read) => read,
        Err(refused) => return refused,
    };
    match ingest::event_request(None, &headers, &body) {
        Ok(request) => emit(&app, request).await,
        Err(r) => refused(r),
    }
}

/// The request's headers (moved out, not copied as the `HeaderMap` extractor would) and its
/// whole body.
async fn headers_and_body(
    mut request: Request,
    app: &Arc<App>,
) -> Result<(HeaderMap, Bytes), Response> {
    let headers = std::mem::take(request.headers_mut());
    let Payload(body) = Payload::from_request(request, app).await?;
    Ok((headers, body))
}

async fn emit(app: &App, request: EmitRequest) -> Response {
    let name = request.name.clone();
    match app.engine.emit(request, None).await {
        Ok(d) => {
            let id = d.event.record.id;
            let mut body = json!({
                "id": id,
                "name": name,
                "duplicate": !d.new,
                "runs": d.runs.len(),
                "skipped": d.skipped,
            });
            if d.unheard() {
                // the warning reads the definitions: off the async workers
                match with_engine(&app.engine, move |e| e.unheard_warning(&name, id)).await {
                    Ok(warning) => body["warning"] = json!(warning),
                    Err(e) => return failed(&e),
                }
            }
            json_reply(202, &body)
        }
        Err(EngineError::BadInput(message)) => error(400, message, json!({})),
        Err(e) => internal(&e),
    }
}

/// `GET /runs/{id}`: a run with its steps. (The body is read, and refused past the limits,
/// as on every route but the health check.)
async fn run(
    State(app): State<Arc<App>>,
    id: Result<Path<String>, PathRejection>,
    _body: Payload,
) -> Response {
    let id = match record_id(id, "a run") {
        Ok(id) => id,
        Err(message) => return error(400, message, json!({})),
    };
    match read(&app.engine, move |s| s.run_with_steps(id)).await {
        Ok(Some(run)) => json_reply(200, &serde_json::to_value(&run).unwrap_or(Value::Null)),
        Ok(None) => error(404, format!("no run #{id}"), json!({})),
        Err(e) => failed(&e),
    }
}

/// `GET /events/{id}`: an event with its runs and skips.
async fn event(
    State(app): State<Arc<App>>,
    id: Result<Path<String>, PathRejection>,
    _body: Payload,
) -> Response {
    let id = match record_id(id, "an event") {
        Ok(id) => id,
        Err(message) => return error(400, message, json!({})),
    };
    let found = read(&app.engine, move |store| {
        let Some(e) = store.event(id)? else {
            return Ok::<_, crate::store::StoreError>(None);
        };
        let mut body = serde_json::to_value(&e.record).unwrap_or(Value::Null);
        if let (Ok(runs), Ok(skipped)) = (store.runs_of_event(id), store.skips_of_event(id)) {
            body["runs"] = json!(runs);
            body["skipped"] = json!(skipped);
        }
        Ok(Some(body))
    })
    .await;
    match found {
        Ok(Some(body)) => json_reply(200, &body),
        Ok(None) => error(404, format!("no event #{id}"), json!({})),
        Err(e) => failed(&e),
    }
}

/// The id in a record's path: `None` when the path segment is not text, `Err` with the
/// text when it is not a number.
/// The record id a path holds, or what is wrong with it, for a 400 (`what`: "a run",
/// "an event").
fn record_id(id: Result<Path<String>, PathRejection>, what: &str) -> Result<i64, String> {
    let Ok(Path(text)) = id else {
        return Err(format!("the path does not hold {what} id"));
    };
    text.parse::<i64>()
        .map_err(|_| format!("{text:?} is not {what} id"))
}

#[cfg(test)]
mod tests {
    use super::record_id;
    use axum::extract::Path;

    #[test]
    fn a_path_that_holds_no_number_is_said_so() {
        assert_eq!(record_id(Ok(Path("7".into())), "a run"), Ok(7));
        assert_eq!(
            record_id(Ok(Path("x".into())), "an event"),
            Err("\"x\" is not an event id".to_string())
        );
    }
}
