//! Event ingestion on arbitrary requests: `server::ingest::event_request`, what the HTTP
//! handler does with `POST /events/NAME` (the body as params) and `POST /events` (a CloudEvent
//! in structured mode, `application/cloudevents+json`, or binary mode, `ce-*` headers), and
//! `server::ingest::json_body`, what it does with an endpoint's body.
//!
//! Input, HTTP-like so that seeds and crashes read as requests: the first line is the path
//! (`/events/NAME` names the event; anything else is `POST /events`), then `name: value`
//! header lines (values as bytes: not always UTF-8) up to an empty line, then the body.
#![no_main]

use flowdeck::server::ingest::{event_request, json_body};
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The path, the headers the HTTP layer would let through, and the body.
fn request(data: &[u8]) -> (Option<String>, HeaderMap, &[u8]) {
    let mut rest = data;
    let mut line = || {
        let here: &[u8] = rest;
        let end = here.iter().position(|&b| b == b'\n').unwrap_or(here.len());
        rest = here.get(end + 1..).unwrap_or_default();
        let l = &here[..end];
        l.strip_suffix(b"\r").unwrap_or(l)
    };
    let path = String::from_utf8_lossy(line()).into_owned();
    let name = path.strip_prefix("/events/").map(str::to_string);
    let mut headers = HeaderMap::new();
    loop {
        let l = line();
        if l.is_empty() {
            break;
        }
        let Some(colon) = l.iter().position(|&b| b == b':') else {
            continue;
        };
        let value = l[colon + 1..].trim_ascii();
        // what the HTTP layer would refuse never reaches the handler
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(l[..colon].trim_ascii()),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(n, v);
        }
    }
    (name, headers, rest)
}

fuzz_target!(|data: &[u8]| {
    let (name, headers, body) = request(data);
    let input_event = name.as_deref();
    match event_request(input_event, &headers, body) {
        Ok(request) => {
            match input_event {
                Some(name) => {
                    // the params as the compact text of an object, equal to the body's value
                    let text = request.params_text.as_deref().expect("params as text");
                    let params: Value = serde_json::from_str(text).expect("recorded text parses");
                    assert!(params.is_object(), "{text}");
                    if let Ok(Value::Object(body)) = json_body(body) {
                        assert_eq!(params, Value::Object(body));
                    }
                    assert_eq!(request.name, name);
                    assert_eq!(request.source, "http");
                    // a key only from an Idempotency-Key header
                    assert_eq!(
                        request.dedup_key.is_some(),
                        headers
                            .get("idempotency-key")
                            .and_then(|v| v.to_str().ok())
                            .is_some_and(|k| !k.is_empty())
                    );
                }
                None => {
                    assert!(request.params.is_object(), "{}", request.params);
                    assert!(!request.name.is_empty());
                    assert!(request.source.starts_with("cloudevents:"));
                    assert!(
                        request
                            .dedup_key
                            .as_deref()
                            .is_some_and(|k| k.starts_with("ce:"))
                    );
                }
            }
        }
        Err(refused) => {
            assert!(matches!(refused.status, 400 | 415), "{refused:?}");
            assert!(!refused.message.is_empty());
        }
    }
    match json_body(body) {
        Ok(Value::Null) => {}
        Ok(v) => assert_eq!(serde_json::from_slice::<Value>(body).ok(), Some(v)),
        Err(refused) => assert_eq!(refused.status, 400),
    }
});
