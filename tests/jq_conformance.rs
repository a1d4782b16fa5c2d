//! jq's own test files (`../shared/conformance/jq/jq.test` and `man.test`) run through
//! flowdeck's template evaluator. The pass counts are figures that must not fall; the README
//! states them. When the folder is absent the test says so and passes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use flowdeck::expr::jq::{JqOutcome, compile};
use flowdeck::expr::value::from_val;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

/// Pass counts measured when the README was last updated; a change that lowers them fails.
const FLOOR_JQ_TEST: usize = 373;
const FLOOR_MAN_TEST: usize = 207;

struct Case {
    line: usize,
    program: String,
    input: String,
    expected: Vec<String>,
    must_fail: bool,
}

/// Groups of non-blank lines; `#` lines are comments.
fn cases(text: &str) -> Vec<Case> {
    let mut out = Vec::new();
    let mut group: Vec<(usize, &str)> = Vec::new();
    let flush = |group: &mut Vec<(usize, &str)>, out: &mut Vec<Case>| {
        if group.is_empty() {
            return;
        }
        let (line, first) = group[0];
        if first.starts_with("%%FAIL") {
            if let Some((_, program)) = group.get(1) {
                out.push(Case {
                    line,
                    program: (*program).to_string(),
                    input: String::new(),
                    expected: Vec::new(),
                    must_fail: true,
                });
            }
        } else if group.len() >= 2 {
            out.push(Case {
                line,
                program: first.to_string(),
                input: group[1].1.to_string(),
                expected: group[2..].iter().map(|(_, l)| (*l).to_string()).collect(),
                must_fail: false,
            });
        }
        group.clear();
    };
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            flush(&mut group, &mut out);
        } else if raw.starts_with('#') {
            continue;
        } else {
            group.push((i + 1, raw));
        }
    }
    flush(&mut group, &mut out);
    out
}

fn parse(text: &str) -> Option<Value> {
    let text = text.trim_start_matches('\u{feff}');
    jaq_json::read::parse_single(text.as_bytes())
        .ok()
        .map(|v| from_val(&v))
}

/// Whether flowdeck's evaluator gives jq's expected answer.
fn passes(case: &Case) -> bool {
    let program = compile(&case.program, &[]);
    if case.must_fail {
        return program.is_err();
    }
    let Ok(program) = program else { return false };
    let Some(input) =
        jaq_json::read::parse_single(case.input.trim_start_matches('\u{feff}').as_bytes()).ok()
    else {
        return false;
    };
    let expected: Option<Vec<Value>> = case.expected.iter().map(|l| parse(l)).collect();
    let Some(expected) = expected else {
        return false;
    };
    match program.run_val(input, Vec::new(), Duration::from_secs(2)) {
        JqOutcome::Values(got) => got == expected,
        _ => false,
    }
}

/// Run on a thread with a large stack, as flowdeck's engine threads have: some cases build
/// values thousands of levels deep, which jaq's native filters walk recursively.
fn run_file(name: &'static str) -> Option<(usize, usize)> {
    std::thread::Builder::new()
        .stack_size(256 * 1024 * 1024)
        .spawn(move || run_file_here(name))
        .expect("spawn")
        .join()
        .expect("join")
}

fn run_file_here(name: &str) -> Option<(usize, usize)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/conformance/jq")
        .join(name);
    let text = std::fs::read_to_string(&path).ok()?;
    let all = cases(&text);
    let mut passed = 0;
    let mut failed_lines = Vec::new();
    for case in &all {
        if std::env::var_os("JQ_TRACE").is_some() {
            eprintln!("case at line {}: {}", case.line, case.program);
        }
        if passes(case) {
            passed += 1;
        } else {
            failed_lines.push(case.line);
        }
    }
    println!(
        "{name}: {passed} of {} pass through flowdeck's evaluator (failing cases start on lines {:?})",
        all.len(),
        failed_lines
    );
    Some((passed, all.len()))
}

#[test]
fn jq_test_suite_pass_count_does_not_fall() {
    let Some((passed, total)) = run_file("jq.test") else {
        println!("skipped: ../shared/conformance/jq/jq.test is absent");
        return;
    };
    assert!(total > 300, "the file parsed into too few cases: {total}");
    assert!(
        passed >= FLOOR_JQ_TEST,
        "jq.test: {passed} pass, fewer than the recorded {FLOOR_JQ_TEST}"
    );
}

#[test]
fn jq_manual_examples_pass_count_does_not_fall() {
    let Some((passed, total)) = run_file("man.test") else {
        println!("skipped: ../shared/conformance/jq/man.test is absent");
        return;
    };
    assert!(total > 150, "the file parsed into too few cases: {total}");
    assert!(
        passed >= FLOOR_MAN_TEST,
        "man.test: {passed} pass, fewer than the recorded {FLOOR_MAN_TEST}"
    );
}

#[test]
fn the_case_reader_understands_the_format() {
    let text = "# comment\n.a\n{\"a\":1}\n1\n\n%%FAIL\n{(0):1}\njq: error\n\n.[]\n[1,2]\n1\n2\n";
    let c = cases(text);
    assert_eq!(c.len(), 3);
    assert_eq!(c[0].program, ".a");
    assert!(c[1].must_fail);
    assert_eq!(c[2].expected, vec!["1", "2"]);
    assert!(passes(&c[0]) && passes(&c[2]));
}
