//! Matching a request's method and path to an endpoint route (`/orders/{id}`).

use serde_json::{Map, Value};

/// Match `path` against `route`; on a match, the `{name}` segments bound.
pub(crate) fn match_route(route: &str, path: &str) -> Option<Map<String, Value>> {
    let path = path.split('?').next().unwrap_or(path);
    let route_parts: Vec<&str> = route.trim_end_matches('/').split('/').collect();
    let path_parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    if route_parts.len() != path_parts.len() {
        return None;
    }
    let mut bound = Map::new();
    for (r, p) in route_parts.iter().zip(&path_parts) {
        if let Some(name) = r.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
            if p.is_empty() {
                return None;
            }
            bound.insert(name.to_string(), Value::String(percent_decode(p)));
        } else if r != p {
            return None;
        }
    }
    Some(bound)
}

/// The `{name}` segments of a route, in order.
pub(crate) fn route_params(route: &str) -> Vec<&str> {
    route
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|n| n.strip_suffix('}')))
        .collect()
}

/// The path that `route` answers with `values` in its `{name}` segments (each
/// percent-encoded): the inverse of [`match_route`]. Names that `values` lacks, or gives an
/// empty value, are the error.
pub(crate) fn fill_route(route: &str, values: &Map<String, Value>) -> Result<String, String> {
    let mut missing = Vec::new();
    let parts: Vec<String> = route
        .split('/')
        .map(|segment| {
            let Some(name) = segment.strip_prefix('{').and_then(|n| n.strip_suffix('}')) else {
                return segment.to_string();
            };
            let text = match values.get(name) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            if text.is_empty() {
                missing.push(name);
            }
            percent_encode(&text)
        })
        .collect();
    if missing.is_empty() {
        Ok(parts.join("/"))
    } else {
        Err(format!(
            "the path needs {} (the route is {route})",
            missing
                .iter()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// How specific a route is: literal segments count more than parameters.
pub(crate) fn specificity(route: &str) -> usize {
    route
        .split('/')
        .filter(|s| !s.is_empty() && !s.starts_with('{'))
        .count()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_literal_and_parameter_segments() {
        assert_eq!(match_route("/orders", "/orders"), Some(Map::new()));
        assert_eq!(match_route("/orders", "/orders/"), Some(Map::new()));
        let m = match_route("/skus/{id}", "/skus/a%20b").unwrap();
        assert_eq!(Value::Object(m), json!({"id": "a b"}));
        assert_eq!(match_route("/skus/{id}", "/skus"), None);
        assert_eq!(match_route("/skus/{id}", "/orders/1"), None);
        assert!(specificity("/skus/new") > specificity("/skus/{id}"));
    }

    #[test]
    fn filled_routes_match_back_to_their_values() {
        let values = json!({"id": "a b/c", "n": 7});
        let Value::Object(values) = values else {
            unreachable!()
        };
        let path = fill_route("/skus/{id}/lines/{n}", &values).unwrap();
        assert_eq!(path, "/skus/a%20b%2Fc/lines/7");
        let bound = match_route("/skus/{id}/lines/{n}", &path).unwrap();
        assert_eq!(Value::Object(bound), json!({"id": "a b/c", "n": "7"}));
        assert_eq!(route_params("/skus/{id}/lines/{n}"), ["id", "n"]);
        let e = fill_route("/skus/{id}", &Map::new()).unwrap_err();
        assert!(e.contains("\"id\""), "{e}");
    }
}
