//! What names, ids, variables and routes may look like.

/// Rule for workflow names, as told to users.
pub(crate) const NAME_RULE: &str =
    "use letters, digits, `_`, `-` and `.`, starting with a letter or digit";
/// Rule for event names, as told to users.
pub(crate) const EVENT_RULE: &str =
    "use letters, digits, `_`, `-`, `.`, `:` and `/`, starting with a letter or digit";
/// Rule for step ids, as told to users.
pub(crate) const STEP_ID_RULE: &str = "use letters, digits, `_`, `-` and `.`";
/// Rule for variable names, as told to users.
pub(crate) const IDENT_RULE: &str =
    "use letters, digits and `_`, starting with a letter or `_`, so that `$var.<name>` works";

fn starts_alnum(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
}

/// A workflow name.
pub(crate) fn is_name(s: &str) -> bool {
    starts_alnum(s)
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// An event name.
pub(crate) fn is_event_name(s: &str) -> bool {
    starts_alnum(s)
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/'))
}

/// A step id.
pub(crate) fn is_step_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A variable name (`set.var`, `as`).
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Check an endpoint route such as `/orders/{id}`.
pub(crate) fn check_route(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("path {path:?} must start with `/`"));
    }
    let mut seen = Vec::new();
    for segment in path.split('/').skip(1) {
        if let Some(inner) = segment.strip_prefix('{') {
            let name = inner
                .strip_suffix('}')
                .ok_or_else(|| format!("path segment {segment:?} opens `{{` without closing it"))?;
            if !is_identifier(name) {
                return Err(format!("path parameter {{{name}}} is not a valid name"));
            }
            if seen.contains(&name) {
                return Err(format!("path parameter {{{name}}} appears twice"));
            }
            seen.push(name);
        } else if segment.contains(['{', '}', '?', '#', ' ']) {
            return Err(format!(
                "path segment {segment:?} has a character paths cannot hold"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_identifiers() {
        assert!(is_name("reorder_supply"));
        assert!(!is_name("_x"));
        assert!(!is_name("a b"));
        assert!(is_event_name("order.created:v2"));
        assert!(is_identifier("rows"));
        assert!(!is_identifier("2rows"));
        assert!(!is_identifier("a-b"));
    }

    #[test]
    fn routes() {
        assert!(check_route("/orders/{id}").is_ok());
        assert!(check_route("orders").is_err());
        assert!(check_route("/a/{id}/{id}").is_err());
        assert!(check_route("/a/{id").is_err());
    }
}
