//! Every request goes through one handler: built-in routes first (`/healthz`, `/events`,
//! `/runs/{id}`, `/events/{id}`), then the endpoints' live versions, looked up on each
//! request so that a deploy takes effect on the next one.

use super::App;
use super::ingest;
use super::reply::{error, json_reply};
use crate::engine::{EmitRequest, EngineError, Request as EngineRequest};
use crate::model::Kind;
use crate::store::StoreError;
use axum::body::{Body, to_bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Request, header};
use axum::response::Response;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Instant;

/// Routes flowdeck itself answers (endpoints cannot take them).
const BUILT_IN: [&str; 5] = [
    "GET /healthz",
    "POST /events/{name}",
    "POST /events",
    "GET /events/{id}",
    "GET /runs/{id}",
];

/// Handle one request, logging it.
pub async fn handle(State(app): State<Arc<App>>, request: Request<Body>) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = route(&app, request).await;
    tracing::info!(
        target: "flowdeck::http",
        %method,
        path,
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    response
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

fn parse_json(bytes: &[u8]) -> Result<Value, Box<Response>> {
    ingest::json_body(bytes).map_err(|r| Box::new(refused(r)))
}

fn refused(r: ingest::Refused) -> Response {
    error(r.status, r.message, r.details)
}

async fn route(app: &App, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let method = parts.method.clone();
    let path = parts.uri.path().to_string();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if method == Method::GET && path == "/healthz" {
        let unfinished = app.engine.store().count_unfinished().unwrap_or(-1);
        return json_reply(200, &json!({ "ok": true, "unfinished_runs": unfinished }));
    }
    if !authorized(app, &parts.headers) {
        let mut r = error(
            401,
            "missing or wrong bearer token: send Authorization: Bearer <token>",
            json!({}),
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        return r;
    }
    let limit = app.options.body_limit;
    let timeout = app.options.read_timeout;
    let bytes = match tokio::time::timeout(timeout, to_bytes(body, limit)).await {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => {
            return closing(error(
                413,
                format!("the request body is larger than {limit} bytes"),
                json!({ "limit": limit }),
            ));
        }
        Err(_) => {
            return closing(error(
                408,
                format!(
                    "the request body did not arrive within {} s; send it whole, or raise --read-timeout",
                    timeout.as_secs_f64()
                ),
                json!({ "timeout_ms": timeout.as_millis() }),
            ));
        }
    };
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["events", name]) => {
            match ingest::event_request(Some(name), &parts.headers, &bytes) {
                Ok(request) => emit(app, request).await,
                Err(r) => refused(r),
            }
        }
        ("POST", ["events"]) => match ingest::event_request(None, &parts.headers, &bytes) {
            Ok(request) => emit(app, request).await,
            Err(r) => refused(r),
        },
        ("GET", ["runs", id]) => match id.parse::<i64>() {
            Ok(id) => match app.engine.store().run_with_steps(id) {
                Ok(Some(run)) => {
                    json_reply(200, &serde_json::to_value(&run).unwrap_or(Value::Null))
                }
                Ok(None) => error(404, format!("no run #{id}"), json!({})),
                Err(e) => internal(&e.into()),
            },
            Err(_) => error(400, format!("{id:?} is not a run id"), json!({})),
        },
        ("GET", ["events", id]) => match id.parse::<i64>() {
            Ok(id) => event(app, id),
            Err(_) => error(400, format!("{id:?} is not an event id"), json!({})),
        },
        _ => endpoint(app, &parts, &bytes).await,
    }
}

/// The connection closes after this answer (the rest of a request body is not read).
fn closing(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    response
}

async fn emit(app: &App, request: EmitRequest) -> Response {
    let name = request.name.clone();
    match app.engine.emit(request, None).await {
        Ok(d) => {
            let mut body = json!({
                "id": d.event.record.id,
                "name": name,
                "duplicate": !d.new,
                "runs": d.runs.len(),
                "skipped": d.skipped,
            });
            if d.unheard() {
                body["warning"] = json!(app.engine.unheard_warning(&name, d.event.record.id));
            }
            json_reply(202, &body)
        }
        Err(EngineError::BadInput(message)) => error(400, message, json!({})),
        Err(e) => internal(&e),
    }
}

fn event(app: &App, id: i64) -> Response {
    let store = app.engine.store();
    match store.event(id) {
        Ok(Some(e)) => {
            let mut body = serde_json::to_value(&e.record).unwrap_or(Value::Null);
            if let (Ok(runs), Ok(skipped)) = (store.runs_of_event(id), store.skips_of_event(id)) {
                body["runs"] = json!(runs);
                body["skipped"] = json!(skipped);
            }
            json_reply(200, &body)
        }
        Ok(None) => error(404, format!("no event #{id}"), json!({})),
        Err(e) => internal(&e.into()),
    }
}

fn internal(e: &EngineError) -> Response {
    if let EngineError::Store(full @ StoreError::Full { .. }) = e {
        // 507 Insufficient Storage: nothing of the request was recorded; the same request
        // succeeds once the store has room
        tracing::warn!(error = %full, "request refused: the store is full");
        return error(507, full.to_string(), json!({ "store_full": true }));
    }
    tracing::error!(error = %e, "request failed");
    error(500, e.to_string(), json!({}))
}

/// The live routes, for 404s.
fn routes(app: &App) -> Vec<String> {
    let mut out: Vec<String> = BUILT_IN.iter().map(|s| (*s).to_string()).collect();
    if let Ok(rows) = app.engine.store().list_definitions() {
        out.extend(
            rows.into_iter()
                .filter(|r| r.kind == Kind::Endpoint && r.live_version.is_some())
                .map(|r| r.name),
        );
    }
    out
}

async fn endpoint(app: &App, parts: &axum::http::request::Parts, bytes: &[u8]) -> Response {
    let body = match parse_json(bytes) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let mut headers = Map::new();
    for (name, value) in &parts.headers {
        if name == header::AUTHORIZATION {
            continue;
        }
        headers.insert(
            name.as_str().to_string(),
            Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()),
        );
    }
    let mut query = Map::new();
    if let Some(q) = parts.uri.query() {
        for (k, v) in url_pairs(q) {
            query.insert(k, Value::String(v));
        }
    }
    let request = EngineRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query,
        headers,
        body,
        draft: false,
    };
    match app.engine.answer(request, None).await {
        Ok(answer) => json_reply(answer.status, &answer.body),
        Err(EngineError::UnknownRoute { method, path, hint }) => {
            let routes = routes(app);
            let allowed: Vec<String> = routes
                .iter()
                .filter_map(|r| r.split_once(' '))
                .filter(|(_, route)| crate::engine::routes::match_route(route, &path).is_some())
                .map(|(m, _)| m.to_string())
                .collect();
            if !allowed.is_empty() && !hint.contains("never deployed") {
                let mut r = error(
                    405,
                    format!(
                        "{path} does not answer {method}; it answers {}",
                        allowed.join(", ")
                    ),
                    json!({ "allow": allowed }),
                );
                if let Ok(v) = header::HeaderValue::from_str(&allowed.join(", ")) {
                    r.headers_mut().insert(header::ALLOW, v);
                }
                return r;
            }
            error(
                404,
                format!(
                    "no endpoint answers {method} {path}{}",
                    if hint.contains("never deployed") {
                        hint
                    } else {
                        String::new()
                    }
                ),
                json!({ "routes": routes }),
            )
        }
        Err(e) => internal(&e),
    }
}

/// `a=1&b=x%20y` as decoded pairs.
fn url_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default()
}
