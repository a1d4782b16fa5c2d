//! The definition loader on arbitrary text: `model::parse_definition` (JSON, fields, step ids,
//! template syntax, positions of faults), then, for an accepted definition, the compiler of its
//! templates (`engine::program::compile`) and a round trip through its canonical JSON.
//!
//! Input: the first byte picks the kind the file's folder implies (none, workflow, endpoint);
//! the rest is the file's text (as UTF-8, lossily).
#![no_main]

use flowdeck::engine::program::{self, Origin};
use flowdeck::model::{Definition, DefinitionKind, parse_definition};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let expected = match first % 3 {
        0 => None,
        1 => Some(DefinitionKind::Workflow),
        _ => Some(DefinitionKind::Endpoint),
    };
    let text = String::from_utf8_lossy(rest);
    let file = Path::new("workflows/fuzz.json");
    let parsed = parse_definition(&text, file, expected);
    for d in &parsed.diagnostics {
        // every fault renders and names the file
        assert!(d.to_string().starts_with("workflows/fuzz.json:"), "{d}");
    }
    let Some(definition) = parsed.definition else {
        assert!(
            !parsed.diagnostics.is_empty(),
            "a refused file must say why"
        );
        return;
    };
    assert!(
        parsed.diagnostics.is_empty(),
        "a definition with faults was accepted: {:?}",
        parsed.diagnostics
    );
    if let Some(kind) = expected {
        assert_eq!(definition.kind(), kind);
    }
    // the compiler of templates takes what the parser accepted, without panicking
    let _ = program::compile(
        &definition,
        Origin {
            file,
            text: Some(&text),
        },
        0,
        None,
    );
    // the canonical JSON (what the store keeps) reads back as the same definition
    let mut json = definition.canonical_json();
    if let (Definition::Workflow(w), Value::Object(map)) = (&definition, &mut json) {
        map.insert("active".into(), Value::Bool(w.active));
    }
    let written = serde_json::to_string_pretty(&json).expect("a Value always serializes");
    let again = parse_definition(&written, file, Some(definition.kind()));
    assert!(
        again.diagnostics.is_empty(),
        "its canonical JSON is refused: {:?}\n{written}",
        again.diagnostics
    );
    assert_eq!(again.definition.as_ref(), Some(&definition), "\n{written}");
});
