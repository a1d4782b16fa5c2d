//! The report as JUnit XML (`flowdeck test --junit FILE`), for CI systems: one test suite
//! per test file, one test case per case (its class the thing tested), failures with every
//! difference in their text.

use super::runner::{CaseStatus, Report};
use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
use std::collections::BTreeMap;
use std::time::Duration;

/// The report as JUnit XML.
pub(crate) fn to_junit(report: &Report) -> Result<String, quick_junit::SerializeError> {
    let mut out = quick_junit::Report::new("flowdeck test");
    out.set_time(Duration::from_secs_f64(report.duration_ms / 1000.0));
    let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
    for case in &report.cases {
        let status = match case.status {
            CaseStatus::Passed => TestCaseStatus::success(),
            CaseStatus::Skipped => TestCaseStatus::skipped(),
            CaseStatus::Failed => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let first = case.failures.first();
                s.set_message(
                    first.map_or_else(String::new, |f| format!("{}: {}", f.pointer, f.message)),
                );
                s.set_description(
                    case.failures
                        .iter()
                        .map(|f| {
                            format!(
                                "{}: {}\n  expected: {}\n  actual:   {}",
                                f.pointer, f.message, f.expected, f.actual
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n"),
                );
                s
            }
        };
        let mut tc = TestCase::new(case.name.clone(), status);
        tc.set_classname(case.target.clone());
        tc.set_time(Duration::from_secs_f64(case.duration_ms / 1000.0));
        suites
            .entry(case.file.as_str())
            .or_insert_with(|| TestSuite::new(case.file.clone()))
            .add_test_case(tc);
    }
    out.add_test_suites(suites.into_values());
    out.to_string()
}
