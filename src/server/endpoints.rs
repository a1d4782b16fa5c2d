//! The endpoints' routes, served by axum Routers built from the store's definitions (one per
//! HTTP method, laid out by `server::endpoint_table`) and built again whenever the
//! definitions' generation moves: a deploy, a rollback or an import, by this process or
//! another. Each request that reaches the endpoints has that generation read after it
//! arrived (`server::generation`: one row, by a thread of the server's own, shared by the
//! requests that arrive together); the Routers are rebuilt only when it has moved, so a
//! deploy takes effect on the next request without a restart.

use super::App;
use super::blocking::{ReadError, read};
use super::endpoint_table::{EndpointTarget, MethodRoutes, RouteTable};
use super::fixed::BUILT_IN;
use super::generation::GenerationReader;
use super::payload::JsonPayload;
use super::reply::{error, failed, internal, json_reply};
use crate::engine::EndpointRequest;
use crate::engine::Engine;
use crate::engine::routes::match_route;
use axum::extract::rejection::{QueryRejection, RawPathParamsRejection};
use axum::extract::{OriginalUri, Query, RawPathParams, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::response::Response;
use axum::routing::{MethodRouter, any};
use axum::{Extension, Router};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use tower::ServiceExt;

/// The Routers of the definitions as last read, shared by every request.
pub(crate) struct Live {
    current: RwLock<Arc<Table>>,
    /// Reads the generation for many requests at once (`None`: its thread could not
    /// start, and each request reads it on a blocking thread).
    generation: Option<GenerationReader>,
}

/// The endpoints' Routers at one generation of the definitions.
#[derive(Default)]
pub(super) struct Table {
    /// The generation they were built at (`None`: not read yet).
    generation: Option<i64>,
    /// A Router per method (as the endpoints spell it).
    methods: HashMap<String, Router>,
    /// For a method no endpoint answers: the 404 or 405 only.
    none: Router,
}

/// Every request that no built-in route takes: the endpoint of its method and path, or the
/// 404 (with the routes there are) or 405 (with `Allow`).
pub(super) async fn dispatch(State(app): State<Arc<App>>, request: Request) -> Response {
    let table = match app.endpoints.fresh(&app).await {
        Ok(table) => table,
        Err(e) => return failed(&e),
    };
    let method = request.method().as_str().to_ascii_uppercase();
    match table.router(&method).oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// On a store that announces definitions changes (PostgreSQL's `LISTEN`), rebuild `app`'s
/// Routers as soon as another process deploys, so that the first request after a deploy does
/// not pay for the rebuild. Each batch of requests still reads the generation, so a deploy
/// committed before a request is seen by it either way.
pub(crate) fn rebuild_when_heard(app: &Arc<App>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let Some(heard) = app.engine.store().definitions_heard() else {
        return;
    };
    let app = Arc::downgrade(app);
    runtime.spawn(async move {
        loop {
            heard.notified().await;
            let Some(app) = app.upgrade() else {
                return;
            };
            if let Err(e) = app.endpoints.fresh(&app).await {
                tracing::warn!(error = ?e, "cannot rebuild the routes after a deploy");
            }
        }
    });
}

impl Live {
    /// No Routers yet; the generation is read on `engine`.
    pub(crate) fn new(engine: &Engine) -> Live {
        Live {
            current: RwLock::default(),
            generation: GenerationReader::start(engine.clone()),
        }
    }

    /// The Routers for the definitions as they are now: those last built, unless the
    /// generation has moved since.
    async fn fresh(&self, app: &App) -> Result<Arc<Table>, ReadError> {
        let current = Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner));
        let generation = match &self.generation {
            Some(reader) => reader.read().await.map_err(ReadError::Generation)?,
            None => read(&app.engine, |store| store.generation()).await?,
        };
        if current.generation == Some(generation) {
            return Ok(current);
        }
        // rows newer than `generation` only make the next request build again
        let rows = read(&app.engine, |store| store.list_definitions()).await?;
        let table = Arc::new(Table::build(generation, &RouteTable::new(&rows, &BUILT_IN)));
        let mut slot = self.current.write().unwrap_or_else(PoisonError::into_inner);
        // two requests may rebuild at once: the newer definitions stay
        if slot.generation.is_none_or(|g| g < generation) {
            *slot = Arc::clone(&table);
        }
        Ok(table)
    }
}

impl Table {
    fn build(generation: i64, routes: &RouteTable) -> Table {
        let listed = &routes.listed;
        let methods = routes
            .methods
            .iter()
            .map(|m| (m.method.clone(), method_router(m, listed)))
            .collect();
        Table {
            generation: Some(generation),
            methods,
            none: Router::new().fallback_service(handler(Reach::Nothing, listed)),
        }
    }

    /// The Router for `method` (upper case, as the engine compares).
    fn router(&self, method: &str) -> Router {
        self.methods.get(method).unwrap_or(&self.none).clone()
    }
}

/// The Router of one method's endpoints: a route per pattern, and the 404 or 405 when
/// none matches; when the method's routes cross, the engine's rule instead.
fn method_router(m: &Arc<MethodRoutes>, listed: &Arc<[String]>) -> Router {
    if m.crossed {
        return Router::new().fallback_service(handler(Reach::Resolve(Arc::clone(m)), listed));
    }
    let mut router = Router::new().without_v07_checks();
    for (pattern, target) in &m.patterns {
        router = router.route(
            pattern,
            handler(Reach::Endpoint(Arc::clone(target)), listed),
        );
    }
    router.fallback_service(handler(Reach::Nothing, listed))
}

/// How a handler finds the endpoint of its request.
#[derive(Clone)]
enum Reach {
    /// The Router matched this endpoint's pattern.
    Endpoint(Arc<EndpointTarget>),
    /// By the engine's rule, among these.
    Resolve(Arc<MethodRoutes>),
    /// No endpoint matches.
    Nothing,
}

/// What an endpoint's run is given of its request, besides the path.
struct Incoming {
    method: String,
    path: String,
    query: Map<String, Value>,
    headers: Map<String, Value>,
    body: Value,
}

/// The handler of `reach`: the request through typed extractors, then [`endpoint`].
fn handler(reach: Reach, listed: &Arc<[String]>) -> MethodRouter {
    let listed = Arc::clone(listed);
    any(
        move |Extension(app): Extension<Arc<App>>,
              params: Result<RawPathParams, RawPathParamsRejection>,
              query: Result<Query<Vec<(String, String)>>, QueryRejection>,
              method: Method,
              OriginalUri(original): OriginalUri,
              uri: Uri,
              headers: HeaderMap,
              JsonPayload(body): JsonPayload| {
            let found = match &reach {
                Reach::Endpoint(target) => Some(bind(target, params.as_ref().ok(), &uri)),
                Reach::Resolve(routes) => routes.resolve(uri.path()),
                Reach::Nothing => None,
            };
            let incoming = Incoming {
                method: method.as_str().to_ascii_uppercase(),
                path: original.path().to_string(),
                // a query string that does not parse counts as none
                query: query
                    .map(|Query(pairs)| {
                        pairs
                            .into_iter()
                            .map(|(k, v)| (k, Value::String(v)))
                            .collect()
                    })
                    .unwrap_or_default(),
                headers: header_values(&headers),
                body,
            };
            endpoint(app, found, Arc::clone(&listed), incoming)
        },
    )
}

/// `target` with its `{name}` segments bound from the Router's match.
fn bind(
    target: &Arc<EndpointTarget>,
    params: Option<&RawPathParams>,
    uri: &Uri,
) -> (Arc<EndpointTarget>, Map<String, Value>) {
    let bound = match params {
        Some(params) => target.bind(params.iter().map(|(_, v)| v)),
        // not UTF-8 once decoded: decoded leniently instead, as the engine does
        None => match_route(&target.route, uri.path()).unwrap_or_default(),
    };
    (Arc::clone(target), bound)
}

/// A request's headers for its run: lower-case names, every one but `Authorization`.
fn header_values(headers: &HeaderMap) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, value) in headers {
        if name == header::AUTHORIZATION {
            continue;
        }
        out.insert(
            name.as_str().to_string(),
            Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()),
        );
    }
    out
}

/// Run the endpoint's live version for the request; 404 when it was never deployed, 404
/// or 405 when there is none.
async fn endpoint(
    app: Arc<App>,
    found: Option<(Arc<EndpointTarget>, Map<String, Value>)>,
    listed: Arc<[String]>,
    incoming: Incoming,
) -> Response {
    let Some((target, bound)) = found else {
        return unmatched(&listed, &incoming.method, &incoming.path);
    };
    if target.row.live_version.is_none() {
        let name = &target.row.name;
        return error(
            404,
            format!(
                "no endpoint answers {} {}: {name} is imported but was never deployed (run `flowdeck deploy \"{name}\"`)",
                incoming.method, incoming.path
            ),
            json!({ "routes": &*listed }),
        );
    }
    let request = EndpointRequest {
        method: incoming.method,
        path: incoming.path,
        query: incoming.query,
        headers: incoming.headers,
        body: incoming.body,
        draft: false,
    };
    match app
        .engine
        .answer_at(target.row.clone(), bound, request, None)
        .await
    {
        Ok(answer) => json_reply(answer.status, &answer.body),
        Err(e) => internal(&e),
    }
}

/// No endpoint answers: 405 with `Allow` when a route answers the path with other
/// methods, 404 with the routes otherwise.
fn unmatched(listed: &[String], method: &str, path: &str) -> Response {
    let allowed: Vec<&str> = listed
        .iter()
        .filter_map(|r| r.split_once(' '))
        .filter(|(_, route)| match_route(route, path).is_some())
        .map(|(m, _)| m)
        .collect();
    if !allowed.is_empty() {
        let allow = allowed.join(", ");
        let mut r = error(
            405,
            format!("{path} does not answer {method}; it answers {allow}"),
            json!({ "allow": allowed }),
        );
        if let Ok(v) = HeaderValue::from_str(&allow) {
            r.headers_mut().insert(header::ALLOW, v);
        }
        return r;
    }
    error(
        404,
        format!("no endpoint answers {method} {path}"),
        json!({ "routes": listed }),
    )
}
