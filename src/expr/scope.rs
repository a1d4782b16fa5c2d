//! The `$` variables of templates (docs/file-format.md) and which of them a template may use where.

use std::fmt;

/// A variable a template can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Global {
    /// `$param`: the event's parameters (workflows).
    Param,
    /// `$body`: the request body (endpoints).
    Body,
    /// `$query`: the query string as an object (endpoints).
    Query,
    /// `$headers`: request headers, lower-case names (endpoints).
    Headers,
    /// `$path`: `{name}` segments of the route (endpoints).
    Path,
    /// `$var`: results of earlier steps and `set` variables.
    Var,
    /// `$env`: the project's `[env]`, overridden by the process environment.
    Env,
    /// `$event`: `{id, name, source, depth, emitted_at}` (workflows).
    Event,
    /// `$error`: `{message, step}` inside `catch`.
    Error,
}

impl Global {
    /// Every variable.
    pub const ALL: [Global; 9] = [
        Global::Param,
        Global::Body,
        Global::Query,
        Global::Headers,
        Global::Path,
        Global::Var,
        Global::Env,
        Global::Event,
        Global::Error,
    ];

    /// The name with `$`.
    pub fn name(self) -> &'static str {
        match self {
            Global::Param => "$param",
            Global::Body => "$body",
            Global::Query => "$query",
            Global::Headers => "$headers",
            Global::Path => "$path",
            Global::Var => "$var",
            Global::Env => "$env",
            Global::Event => "$event",
            Global::Error => "$error",
        }
    }

    /// Look a name (with `$`) up.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.name() == name)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// Index into a bindings array.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Global {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The variables a template may use at its place in a definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scope(u16);

impl Scope {
    /// Templates of a workflow.
    pub const WORKFLOW: Scope =
        Scope::of(&[Global::Param, Global::Var, Global::Env, Global::Event]);
    /// Templates of an endpoint.
    pub const ENDPOINT: Scope = Scope::of(&[
        Global::Body,
        Global::Query,
        Global::Headers,
        Global::Path,
        Global::Var,
        Global::Env,
    ]);
    /// Every variable (for ad-hoc evaluation, such as the debugger's prompt).
    pub const ALL: Scope = Scope::of(&Global::ALL);

    const fn of(globals: &[Global]) -> Scope {
        let mut bits = 0;
        let mut i = 0;
        while i < globals.len() {
            bits |= 1 << (globals[i] as u16);
            i += 1;
        }
        Scope(bits)
    }

    /// This scope with `$error` (inside `catch`).
    #[must_use]
    pub fn with_error(self) -> Scope {
        Scope(self.0 | Global::Error.bit())
    }

    /// Whether `g` may be used.
    pub fn contains(self, g: Global) -> bool {
        self.0 & g.bit() != 0
    }

    /// The variables of this scope, in order.
    pub fn globals(self) -> impl Iterator<Item = Global> {
        Global::ALL.into_iter().filter(move |g| self.contains(*g))
    }

    /// The variables of this scope as a sentence: `$param, $var, $env, $event`.
    pub fn describe(self) -> String {
        self.globals()
            .map(Global::name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The `$names` a jq program mentions (a superset of those it reads: `as $x` locals too).
pub(crate) fn mentioned_variables(code: &str) -> Vec<&str> {
    let bytes = code.as_bytes();
    let mut out: Vec<&str> = Vec::new();
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' if bytes.get(i + 1) == Some(&b'(') => {
                    // interpolation: variables inside count; keep scanning as code
                    in_string = false;
                    i += 2;
                    continue;
                }
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if b == b'$' {
            let start = i;
            i += 1;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let name = &code[start..i];
            if name.len() > 1 && !out.contains(&name) {
                out.push(name);
            }
            continue;
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        assert!(Scope::WORKFLOW.contains(Global::Param));
        assert!(!Scope::WORKFLOW.contains(Global::Body));
        assert!(!Scope::WORKFLOW.contains(Global::Error));
        assert!(Scope::WORKFLOW.with_error().contains(Global::Error));
        assert_eq!(Scope::WORKFLOW.describe(), "$param, $var, $env, $event");
    }

    #[test]
    fn finds_mentioned_variables() {
        assert_eq!(
            mentioned_variables(r#"$param.a + ($var.b | . as $x | $x) | "$no \($env.k)""#),
            vec!["$param", "$var", "$x", "$env"]
        );
    }
}
