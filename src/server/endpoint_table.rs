//! Which endpoint answers a request, laid out for axum's `Router`: the endpoints of each
//! HTTP method, in the store's order, and one route pattern per shape of path they answer.
//!
//! Precedence is the engine's (`engine::routes`): among the endpoints of the request's method
//! whose route matches, the one with the most literal segments, then the first in the
//! store's order. A Router prefers a literal segment to a parameter from the left instead;
//! the two agree unless routes cross (`/a/{x}/c` and `/{y}/b/c` both match `/a/b/c`, and
//! the Router would pick the first, the engine the second). A method whose routes cross is
//! resolved by [`MethodRoutes::resolve`], the engine's rule, rather than by a Router.

use crate::engine::routes::{match_route, specificity};
use crate::model::DefinitionKind;
use crate::store::definitions::DefinitionRow;
use serde_json::{Map, Value};
use std::sync::Arc;

/// An endpoint a request can reach.
#[derive(Debug)]
pub(super) struct EndpointTarget {
    /// Its definition (a `None` live version: imported, never deployed).
    pub row: DefinitionRow,
    /// Its route (`/skus/{id}`).
    pub route: String,
    /// The names of its route's `{name}` segments, in order.
    pub params: Vec<String>,
}

impl EndpointTarget {
    /// Its `{name}` segments bound to `values`, the path's segments in the same order
    /// (percent-decoded).
    pub(super) fn bind<'a>(&self, values: impl Iterator<Item = &'a str>) -> Map<String, Value> {
        self.params
            .iter()
            .zip(values)
            .map(|(name, value)| (name.clone(), Value::String(value.to_string())))
            .collect()
    }
}

/// The endpoints of one method.
#[derive(Debug)]
pub(super) struct MethodRoutes {
    /// The method, as the endpoints spell it.
    pub method: String,
    /// Its endpoints, in the store's order.
    targets: Vec<Arc<EndpointTarget>>,
    /// A Router pattern per shape of route (`/skus/{p2}`), with the endpoint that answers
    /// it: the first in the store's order among those of that shape.
    pub patterns: Vec<(String, Arc<EndpointTarget>)>,
    /// Whether a Router's precedence and the engine's differ for some path: [`resolve`]
    /// then answers for this method.
    ///
    /// [`resolve`]: MethodRoutes::resolve
    pub crossed: bool,
}

impl MethodRoutes {
    /// The endpoint that answers `path`, by the engine's rule, with its `{name}` segments
    /// bound.
    pub(super) fn resolve(&self, path: &str) -> Option<(Arc<EndpointTarget>, Map<String, Value>)> {
        let mut best: Option<(usize, &Arc<EndpointTarget>, Map<String, Value>)> = None;
        for target in &self.targets {
            let Some(bound) = match_route(&target.route, path) else {
                continue;
            };
            let rank = specificity(&target.route);
            if best.as_ref().is_none_or(|(r, _, _)| rank > *r) {
                best = Some((rank, target, bound));
            }
        }
        best.map(|(_, target, bound)| (Arc::clone(target), bound))
    }
}

/// Every endpoint route of the store, by method, and the routes a 404 lists.
#[derive(Debug)]
pub(super) struct RouteTable {
    /// The endpoints of each method, methods in the order first met.
    pub methods: Vec<Arc<MethodRoutes>>,
    /// `METHOD /path` of the built-in routes, then of every live endpoint.
    pub listed: Arc<[String]>,
}

impl RouteTable {
    /// The table of `rows` (the store's definitions, in its order); `built_in` leads the
    /// listed routes.
    pub(super) fn new(rows: &[DefinitionRow], built_in: &[&str]) -> RouteTable {
        let endpoints: Vec<&DefinitionRow> = rows
            .iter()
            .filter(|r| r.kind == DefinitionKind::Endpoint)
            .collect();
        let listed: Arc<[String]> = built_in
            .iter()
            .map(|s| (*s).to_string())
            .chain(
                endpoints
                    .iter()
                    .filter(|r| r.live_version.is_some())
                    .map(|r| r.name.clone()),
            )
            .collect();
        let mut methods: Vec<MethodRoutes> = Vec::new();
        for row in endpoints {
            let (Some(method), Some(route)) = (&row.method, &row.path) else {
                continue;
            };
            let target = Arc::new(EndpointTarget {
                row: row.clone(),
                route: route.clone(),
                params: crate::engine::routes::route_params(route)
                    .into_iter()
                    .map(String::from)
                    .collect(),
            });
            let index = match methods.iter().position(|m| &m.method == method) {
                Some(i) => i,
                None => {
                    methods.push(MethodRoutes {
                        method: method.clone(),
                        targets: Vec::new(),
                        patterns: Vec::new(),
                        crossed: false,
                    });
                    methods.len() - 1
                }
            };
            methods[index].targets.push(target);
        }
        for m in &mut methods {
            lay_out(m);
        }
        RouteTable {
            methods: methods.into_iter().map(Arc::new).collect(),
            listed,
        }
    }
}

/// A segment of a route: a literal, or a `{name}` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment<'a> {
    Literal(&'a str),
    Parameter,
}

/// The segments of `route` as the engine splits it (trailing slashes do not count).
fn segments(route: &str) -> Vec<Segment<'_>> {
    route
        .trim_end_matches('/')
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
                Some(_) => Segment::Parameter,
                None => Segment::Literal(s),
            },
        )
        .collect()
}

/// The Router pattern of a route's segments: parameters named by position (`{p2}`), so
/// that routes of one shape are one pattern whatever their parameters' names; `None` when
/// the route is not one a Router can hold as is (it does not start with `/`, or a literal
/// holds a brace, which validation refuses at import).
fn pattern(segments: &[Segment<'_>]) -> Option<String> {
    let (first, rest) = segments.split_first()?;
    if *first != Segment::Literal("") {
        return None;
    }
    if rest.is_empty() {
        return Some("/".to_string());
    }
    let mut out = String::new();
    for (i, s) in rest.iter().enumerate() {
        out.push('/');
        match s {
            Segment::Parameter => out.push_str(&format!("{{p{}}}", i + 1)),
            Segment::Literal(text) if text.contains(['{', '}']) => return None,
            Segment::Literal(text) => out.push_str(text),
        }
    }
    Some(out)
}

/// Fill `m.patterns` and `m.crossed` from `m.targets`.
fn lay_out(m: &mut MethodRoutes) {
    // (pattern, segments, index of the first target of that shape)
    let mut shapes: Vec<(String, Vec<Segment<'_>>, usize)> = Vec::new();
    let mut crossed = false;
    for (i, target) in m.targets.iter().enumerate() {
        let segs = segments(&target.route);
        let Some(p) = pattern(&segs) else {
            crossed = true;
            continue;
        };
        if !shapes.iter().any(|(q, _, _)| *q == p) {
            shapes.push((p, segs, i));
        }
    }
    'pairs: for (a, rest) in shapes
        .iter()
        .enumerate()
        .filter_map(|(i, a)| shapes.get(i + 1..).map(|rest| (a, rest)))
    {
        for b in rest {
            if router_and_engine_differ(m, a, b) {
                crossed = true;
                break 'pairs;
            }
        }
    }
    m.patterns = shapes
        .iter()
        .map(|(p, _, i)| (p.clone(), Arc::clone(&m.targets[*i])))
        .collect();
    m.crossed = crossed;
}

/// Whether, for a path both shapes match, a Router and the engine would pick different
/// ones.
fn router_and_engine_differ(
    m: &MethodRoutes,
    (_, a, ai): &(String, Vec<Segment<'_>>, usize),
    (_, b, bi): &(String, Vec<Segment<'_>>, usize),
) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let disjoint = a
        .iter()
        .zip(b)
        .any(|pair| matches!(pair, (Segment::Literal(x), Segment::Literal(y)) if x != y));
    if disjoint {
        return false;
    }
    // a Router tries literal segments before parameters, from the left
    let Some((first, _)) = a
        .iter()
        .zip(b)
        .find(|(x, y)| (**x == Segment::Parameter) != (**y == Segment::Parameter))
    else {
        return false;
    };
    let router_picks_a = *first != Segment::Parameter;
    let (sa, sb) = (
        specificity(&m.targets[*ai].route),
        specificity(&m.targets[*bi].route),
    );
    let engine_picks_a = sa > sb || (sa == sb && ai < bi);
    router_picks_a != engine_picks_a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Timestamp;

    fn endpoint(id: i64, method: &str, path: &str) -> DefinitionRow {
        DefinitionRow {
            id,
            kind: DefinitionKind::Endpoint,
            name: format!("{method} {path}"),
            on_event: None,
            method: Some(method.to_string()),
            path: Some(path.to_string()),
            active: true,
            live_version: Some(1),
            draft_changed: false,
            source_file: None,
            updated_at: Timestamp(0),
        }
    }

    fn table(routes: &[(&str, &str)]) -> RouteTable {
        let rows: Vec<DefinitionRow> = routes
            .iter()
            .enumerate()
            .map(|(i, (m, p))| endpoint(i as i64, m, p))
            .collect();
        RouteTable::new(&rows, &["GET /healthz"])
    }

    #[test]
    fn routes_of_one_shape_are_one_pattern_named_by_position() {
        let t = table(&[
            ("GET", "/skus/{id}"),
            ("GET", "/skus/{sku}/"),
            ("GET", "/skus/new"),
            ("POST", "/"),
        ]);
        let get = &t.methods[0];
        let patterns: Vec<&str> = get.patterns.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(patterns, ["/skus/{p2}", "/skus/new"]);
        assert_eq!(
            get.patterns[0].1.route, "/skus/{id}",
            "the first of its shape"
        );
        assert!(!get.crossed);
        assert_eq!(t.methods[1].patterns[0].0, "/");
        assert_eq!(
            &*t.listed,
            [
                "GET /healthz",
                "GET /skus/{id}",
                "GET /skus/{sku}/",
                "GET /skus/new",
                "POST /"
            ]
        );
    }

    #[test]
    fn crossing_routes_are_told_apart_and_resolved_by_the_engines_rule() {
        // the engine: two literals beat one; a Router: `a` before `{x}` at the first segment
        let t = table(&[("GET", "/a/{y}/{z}"), ("GET", "/{x}/b/c")]);
        assert!(t.methods[0].crossed);
        let (target, bound) = t.methods[0].resolve("/a/b/c").unwrap();
        assert_eq!(target.route, "/{x}/b/c");
        assert_eq!(Value::Object(bound), serde_json::json!({"x": "a"}));
        // equal literals: the store's order, which here agrees with a Router's
        let t = table(&[("GET", "/a/{x}"), ("GET", "/{y}/b")]);
        assert!(!t.methods[0].crossed);
        let t = table(&[("GET", "/{y}/b"), ("GET", "/a/{x}")]);
        assert!(t.methods[0].crossed);
        // routes that never match one path together do not cross
        let t = table(&[
            ("GET", "/a/{y}/{z}"),
            ("GET", "/{x}/b/c/d"),
            ("GET", "/b/{q}"),
        ]);
        assert!(!t.methods[0].crossed);
    }
}
