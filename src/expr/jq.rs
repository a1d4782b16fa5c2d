//! jq over the jaq crates, with a time and depth budget on every evaluation.
//!
//! jaq has no cancellation hook, so the budget lives in the data that jaq hands to every
//! term it evaluates ([`HasLut::lut`]) and in our own `range/3`, the one generator that can
//! spin without evaluating terms. When the budget runs out we unwind with
//! [`std::panic::resume_unwind`] (which skips the panic hook, so nothing is printed and the
//! terminal is untouched) and catch it at the evaluation boundary: the evaluation fails,
//! the process lives on.
//!
//! Memory is budgeted too, where the binary counts each thread's allocations (the global
//! allocator of `main.rs`, [`alloc_metrics::MetricAlloc`]): an evaluation that holds more
//! than [`MEMORY_BUDGET`] beyond what its thread held when it began is stopped at its next
//! term. One operation can still overshoot by what it allocates at once (a string that
//! doubles), so the bound of a process is a few budgets per worker thread, not one.

use super::value::{from_val, to_val};
use jaq_core::data::{DataT, HasLut};
use jaq_core::load::{Arena, File, Loader};
use jaq_core::native::{Fun, v};
use jaq_core::{Ctx, Lut, Vars};
use jaq_json::Val;
use serde_json::Value;
use std::cell::Cell;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Stack an evaluation may use beyond its entry point before it fails as too deep.
const STACK_BUDGET: usize = 1 << 20;
/// Terms evaluated between two looks at the clock.
const CLOCK_EVERY: u32 = 256;
/// Bytes an evaluation may hold beyond what its thread held when it began.
pub const MEMORY_BUDGET: usize = 128 << 20;

/// The jaq data kind of flowdeck's evaluations: values plus a budget.
pub struct Guarded;

/// What jaq carries through an evaluation: the program and the budget.
#[derive(Clone)]
pub struct GuardedData<'a> {
    lut: &'a Lut<Guarded>,
    budget: &'a Budget,
}

impl DataT for Guarded {
    type V<'a> = Val;
    type Data<'a> = GuardedData<'a>;
}

impl<'a> HasLut<'a, Guarded> for GuardedData<'a> {
    fn lut(&self) -> &'a Lut<Guarded> {
        self.budget.tick();
        self.lut
    }
}

/// Why an evaluation was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// It ran past its time limit.
    TimedOut,
    /// It recursed too deeply.
    TooDeep,
    /// It held more memory than [`MEMORY_BUDGET`].
    TooBig,
}

struct Budget {
    ticks: Cell<u32>,
    deadline: Instant,
    stack_base: usize,
    memory_base: isize,
}

/// Bytes this thread holds, as the counting allocator sees them (0 where it is not the
/// global allocator, as in the library's own tests).
fn thread_bytes() -> isize {
    alloc_metrics::thread_metrics().allocated_bytes
}

fn stack_position() -> usize {
    let marker = 0u8;
    std::ptr::from_ref(std::hint::black_box(&marker)) as usize
}

impl Budget {
    fn new(limit: Duration) -> Self {
        Self {
            ticks: Cell::new(0),
            deadline: Instant::now() + limit,
            stack_base: stack_position(),
            memory_base: thread_bytes(),
        }
    }

    fn tick(&self) {
        if self.stack_base.abs_diff(stack_position()) > STACK_BUDGET {
            std::panic::resume_unwind(Box::new(Stop::TooDeep));
        }
        if thread_bytes().saturating_sub(self.memory_base) > MEMORY_BUDGET as isize {
            std::panic::resume_unwind(Box::new(Stop::TooBig));
        }
        let t = self.ticks.get().wrapping_add(1);
        self.ticks.set(t);
        if t.is_multiple_of(CLOCK_EVERY) && Instant::now() > self.deadline {
            std::panic::resume_unwind(Box::new(Stop::TimedOut));
        }
    }
}

thread_local! {
    static EVALUATING: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is inside a jq evaluation. A panic there is caught and becomes a
/// failed evaluation, so panic hooks (the studio's terminal restore) should ignore it.
pub fn evaluating() -> bool {
    EVALUATING.with(Cell::get)
}

struct Evaluating(bool);

impl Evaluating {
    fn enter() -> Self {
        Evaluating(EVALUATING.with(|e| e.replace(true)))
    }
}

impl Drop for Evaluating {
    fn drop(&mut self) {
        let previous = self.0;
        EVALUATING.with(|e| e.set(previous));
    }
}

/// Natives that replace jaq's own: a budgeted `range`, and no access to the process
/// (environment, exit, stderr) from templates.
fn overrides() -> Vec<Fun<Guarded>> {
    use jaq_core::native::run;
    vec![
        run(("range", v(3), |mut cv| {
            let by = cv.0.pop_var();
            let to = cv.0.pop_var();
            let from = cv.0.pop_var();
            let budget = cv.0.data().budget;
            Box::new(budgeted_range(from, to, by, budget))
        })),
        run(("env", v(0), |_| {
            Box::new(std::iter::once(Ok(Val::obj(Default::default()))))
        })),
        run(("halt", v(1), |_| {
            Box::new(std::iter::once(Err(jaq_core::Exn::from(
                jaq_core::Error::str("halt is not available in templates"),
            ))))
        })),
        run(("stderr_empty", v(0), |_| Box::new(std::iter::empty()))),
        run(("debug_empty", v(0), |_| Box::new(std::iter::empty()))),
    ]
}

fn budgeted_range<'a>(
    from: Val,
    to: Val,
    by: Val,
    budget: &'a Budget,
) -> impl Iterator<Item = jaq_core::ValX<'a, Val>> + 'a {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let direction = by.partial_cmp(&Val::from(0isize)).unwrap_or(Equal);
    let mut next = Some(from);
    std::iter::from_fn(move || {
        budget.tick();
        let x = next.take()?;
        let more = match direction {
            Greater => x < to,
            Less => x > to,
            Equal => x != to,
        };
        if !more {
            return None;
        }
        match x.clone() + by.clone() {
            Ok(n) => next = Some(n),
            Err(e) => return Some(Err(e.into())),
        }
        Some(Ok(x))
    })
}

type Def = jaq_core::load::parse::Def<&'static str>;

/// jq's standard definitions, parsed once per process.
fn standard_defs() -> &'static [Def] {
    static DEFS: OnceLock<Vec<Def>> = OnceLock::new();
    DEFS.get_or_init(|| {
        jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs())
            .collect()
    })
}

/// A compiled jq program and the global variables it expects, in order.
pub struct JqProgram {
    filter: jaq_core::Filter<Guarded>,
    globals: Vec<String>,
}

impl std::fmt::Debug for JqProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JqProgram")
            .field("globals", &self.globals)
            .finish_non_exhaustive()
    }
}

/// Whether `code` starts with module directives (`module`, `import`, `include`), which
/// templates cannot use: there are no module files, and data imports would need values.
fn uses_modules(code: &str) -> bool {
    use jaq_core::load::lex::{Lexer, Tok};
    match Lexer::new(code).lex() {
        Ok(tokens) => tokens
            .iter()
            .any(|t| matches!(t.1, Tok::Word) && matches!(t.0, "import" | "include" | "module")),
        Err(_) => false,
    }
}

/// Compile `code` with the given global variables (names with `$`).
pub fn compile(code: &str, globals: &[&str]) -> Result<JqProgram, String> {
    if uses_modules(code) {
        return Err("templates cannot use jq modules (import, include, module)".into());
    }
    let funs = overrides()
        .into_iter()
        .chain(jaq_core::funs())
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let loader = Loader::new(standard_defs().iter().cloned());
    let arena = Arena::default();
    let modules = loader
        .load(&arena, File { code, path: () })
        .map_err(|errs| describe_load_errors(&errs))?;
    let filter = jaq_core::Compiler::default()
        .with_funs(funs)
        .with_global_vars(globals.iter().copied())
        .compile(modules)
        .map_err(|errs| describe_compile_errors(&errs))?;
    Ok(JqProgram {
        filter,
        globals: globals.iter().map(|s| (*s).to_string()).collect(),
    })
}

/// The outcome of running a program: its outputs, a jq error, or a stop.
#[derive(Debug, Clone, PartialEq)]
pub enum JqOutcome {
    /// Every output value, in order.
    Values(Vec<Value>),
    /// jq raised an error (message as jq prints it).
    Error(String),
    /// The budget ran out.
    Stopped(Stop),
}

impl JqProgram {
    /// The globals (with `$`) this program expects, in order.
    pub fn globals(&self) -> &[String] {
        &self.globals
    }

    /// Run on `input`, with `globals` given in the order of [`JqProgram::globals`].
    pub fn run(&self, input: &Value, globals: &[&Value], limit: Duration) -> JqOutcome {
        self.run_val(
            to_val(input),
            globals.iter().map(|v| to_val(v)).collect(),
            limit,
        )
    }

    /// Run on jq values.
    pub fn run_val(&self, input: Val, globals: Vec<Val>, limit: Duration) -> JqOutcome {
        if globals.len() != self.globals.len() {
            return JqOutcome::Error(format!(
                "internal: {} global values for {} variables",
                globals.len(),
                self.globals.len()
            ));
        }
        let budget = Budget::new(limit);
        let _evaluating = Evaluating::enter();
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let data = GuardedData {
                lut: &self.filter.lut,
                budget: &budget,
            };
            let ctx = Ctx::<Guarded>::new(data, Vars::new(globals));
            let mut out = Vec::new();
            for item in self.filter.id.run((ctx, input)) {
                match item {
                    Ok(v) => out.push(from_val(&v)),
                    Err(exn) => {
                        return match exn.get_err() {
                            Ok(err) => JqOutcome::Error(describe_error(err)),
                            Err(_) => JqOutcome::Error("halt is not available in templates".into()),
                        };
                    }
                }
            }
            JqOutcome::Values(out)
        }));
        match run {
            Ok(outcome) => outcome,
            Err(payload) => match payload.downcast::<Stop>() {
                Ok(stop) => JqOutcome::Stopped(*stop),
                Err(other) => {
                    let text = other
                        .downcast_ref::<&str>()
                        .map(ToString::to_string)
                        .or_else(|| other.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    tracing::error!(panic = %text, "the jq engine panicked; the evaluation failed");
                    JqOutcome::Error(format!("internal error in the jq engine ({text})"))
                }
            },
        }
    }
}

fn describe_error(err: jaq_core::Error<Val>) -> String {
    // an error whose value is a string reads as that string, without quotes
    match err.into_val() {
        Val::TStr(b) | Val::BStr(b) => String::from_utf8_lossy(&b).into_owned(),
        other => other.to_string(),
    }
}

fn describe_load_errors(errs: &jaq_core::load::Errors<&str, ()>) -> String {
    use jaq_core::load::Error;
    let mut parts = Vec::new();
    for (_file, err) in errs {
        match err {
            Error::Io(items) => parts.extend(items.iter().map(|(p, e)| format!("{p}: {e}"))),
            Error::Lex(items) => parts.extend(items.iter().map(|(expect, found)| {
                format!("expected {} at {}", lex_expect(expect), place(found))
            })),
            Error::Parse(items) => parts.extend(items.iter().map(|(expect, found)| {
                format!("expected {} at {}", expect.as_str(), place(found))
            })),
        }
    }
    format!("jq syntax: {}", parts.join("; "))
}

fn lex_expect(expect: &jaq_core::load::lex::Expect<&str>) -> &'static str {
    use jaq_core::load::lex::Expect;
    match expect {
        Expect::Delim("(") => "closing parenthesis",
        Expect::Delim("[") => "closing bracket",
        Expect::Delim("{") => "closing brace",
        Expect::Delim("\"") => "closing quote",
        Expect::Delim(_) => "closing delimiter",
        Expect::Digit => "digit",
        Expect::Ident => "identifier",
        Expect::Escape => "string escape sequence",
        Expect::Unicode => "4-digit hexadecimal code point",
        Expect::Token => "token",
        _ => "something else",
    }
}

/// Describe where `found` (the rest of the code at the fault) is.
fn place(found: &str) -> String {
    if found.trim().is_empty() {
        "the end".to_string()
    } else {
        let token: String = found.chars().take(12).collect();
        format!("`{token}`")
    }
}

fn describe_compile_errors(errs: &jaq_core::compile::Errors<&str, ()>) -> String {
    use jaq_core::compile::Undefined;
    let mut parts = Vec::new();
    for (_file, items) in errs {
        for (name, what) in items {
            parts.push(match what {
                Undefined::Var => format!("unknown variable {name}"),
                Undefined::Filter(arity) => format!("unknown function {name}/{arity}"),
                Undefined::Label => format!("unknown label {name}"),
                Undefined::Mod => format!("unknown module {name}"),
                _ => format!("undefined {name}"),
            });
        }
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(code: &str, input: Value) -> JqOutcome {
        compile(code, &[])
            .unwrap()
            .run(&input, &[], Duration::from_millis(200))
    }

    #[test]
    fn runs_jq() {
        assert_eq!(
            run(".a + 1, .b", json!({"a": 1, "b": "x"})),
            JqOutcome::Values(vec![json!(2), json!("x")])
        );
        assert_eq!(
            run("[.[] | select(. > 1)] | length", json!([1, 2, 3])),
            JqOutcome::Values(vec![json!(2)])
        );
    }

    #[test]
    fn globals_are_bound_in_order() {
        let p = compile("$param.sku + $var.n", &["$param", "$var"]).unwrap();
        let out = p.run(
            &Value::Null,
            &[&json!({"sku": 2}), &json!({"n": 3})],
            Duration::from_secs(1),
        );
        assert_eq!(out, JqOutcome::Values(vec![json!(5)]));
    }

    #[test]
    fn errors_are_values_not_panics() {
        assert_eq!(
            run("error(\"boom\")", Value::Null),
            JqOutcome::Error("boom".into())
        );
        assert!(matches!(run("1 + \"a\"", Value::Null), JqOutcome::Error(_)));
        assert!(matches!(
            run("halt_error(1)", Value::Null),
            JqOutcome::Error(_)
        ));
        assert_eq!(run("env", Value::Null), JqOutcome::Values(vec![json!({})]));
    }

    #[test]
    fn runaway_programs_stop() {
        assert_eq!(
            run("last(range(1e12))", Value::Null),
            JqOutcome::Stopped(Stop::TimedOut)
        );
        assert_eq!(
            run("def f: f; f", Value::Null),
            JqOutcome::Stopped(Stop::TimedOut)
        );
        assert_eq!(
            run("def f: 1 + f; f", Value::Null),
            JqOutcome::Stopped(Stop::TooDeep)
        );
        assert_eq!(
            run("[limit(3; repeat(1))]", Value::Null),
            JqOutcome::Values(vec![json!([1, 1, 1])])
        );
    }

    #[test]
    fn programs_that_allocate_without_end_stop_at_the_memory_budget() {
        let long = Duration::from_secs(60);
        let p = compile(r#"reduce range(40) as $i ("x"; . + .) | length"#, &[]).unwrap();
        assert_eq!(
            p.run(&Value::Null, &[], long),
            JqOutcome::Stopped(Stop::TooBig),
            "a string that doubles 40 times"
        );
        let p = compile("[range(1e9)] | length", &[]).unwrap();
        assert_eq!(
            p.run(&Value::Null, &[], long),
            JqOutcome::Stopped(Stop::TooBig)
        );
        // what stays within the budget runs
        let p = compile("[range(1e5)] | length", &[]).unwrap();
        assert_eq!(
            p.run(&Value::Null, &[], long),
            JqOutcome::Values(vec![json!(100000)])
        );
        // a later evaluation on the same thread starts from its own base
        let p = compile(r#"reduce range(20) as $i ("x"; . + .) | length"#, &[]).unwrap();
        assert_eq!(
            p.run(&Value::Null, &[], long),
            JqOutcome::Values(vec![json!(1 << 20)])
        );
    }

    #[test]
    fn compile_errors_say_what_is_wrong() {
        let e = compile("1 +", &[]).unwrap_err();
        assert!(e.starts_with("jq syntax"), "{e}");
        let e = compile("$nope", &[]).unwrap_err();
        assert_eq!(e, "unknown variable $nope");
        let e = compile("nosuch(1)", &[]).unwrap_err();
        assert_eq!(e, "unknown function nosuch/1");
        let e = compile("import \"data\" as $a; $a", &[]).unwrap_err();
        assert!(e.contains("modules"), "{e}");
    }
}
