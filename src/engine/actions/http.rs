//! `http`: call an HTTP service (reqwest with rustls on tokio). Any response is a result
//! (`{status, headers, body}`, the body parsed when it is JSON); failing to get one (refused,
//! timed out, a bad URL) fails the step.

use super::{Done, Failure, LeafCx, store_as};
use crate::expr::Template;
use serde_json::{Map, Value, json};
use std::time::Duration;

/// Responses larger than this are cut off (the step fails rather than eat memory).
const MAX_BODY: usize = 16 * 1024 * 1024;

pub(super) struct Fields<'a> {
    pub method: &'a str,
    pub url: &'a Template,
    pub headers: &'a [(String, Template)],
    pub body: Option<&'a Template>,
    pub timeout_ms: Option<&'a Template>,
}

pub(super) async fn run(
    cx: &LeafCx<'_>,
    f: Fields<'_>,
    result: Option<&String>,
) -> Result<Done, Failure> {
    let url = cx.eval("url", f.url).map_err(Failure::new)?;
    let mut input = json!({ "method": f.method, "url": url });
    let fail = |input: &Value, m: String| Failure::with_input(input.clone(), m);
    let Some(url_text) = url.as_str() else {
        return Err(fail(&input, format!("url: must be a string, got {url}")));
    };
    let parsed = match reqwest::Url::parse(url_text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        Ok(u) => {
            return Err(fail(
                &input,
                format!(
                    "url: only http and https are supported, got {}:",
                    u.scheme()
                ),
            ));
        }
        Err(e) => {
            let hint = if url_text.starts_with('/') {
                " (is the base URL, such as $env.SUPPLIER_URL, empty?)"
            } else {
                ""
            };
            return Err(fail(
                &input,
                format!("url: {url_text:?} is not a URL: {e}{hint}"),
            ));
        }
    };
    let mut headers = Map::new();
    for (name, t) in f.headers {
        let v = cx
            .eval(&format!("headers.{name}"), t)
            .map_err(|m| fail(&input, m))?;
        let text = match v {
            Value::String(s) => s,
            Value::Null => continue,
            other => other.to_string(),
        };
        headers.insert(name.clone(), Value::String(text));
    }
    if !headers.is_empty() {
        input["headers"] = Value::Object(headers.clone());
    }
    let body = match f.body {
        Some(t) => Some(cx.eval("body", t).map_err(|m| fail(&input, m))?),
        None => None,
    };
    if let Some(b) = &body {
        input["body"] = b.clone();
    }
    let timeout = match f.timeout_ms {
        Some(t) => {
            let v = cx.eval("timeout_ms", t).map_err(|m| fail(&input, m))?;
            match v.as_f64().filter(|n| *n > 0.0 && n.is_finite()) {
                Some(ms) => Duration::from_secs_f64(ms / 1000.0),
                None => {
                    return Err(fail(
                        &input,
                        format!("timeout_ms: must be a positive number, got {v}"),
                    ));
                }
            }
        }
        None => cx.core.settings().http_timeout(),
    };
    let method = reqwest::Method::from_bytes(f.method.as_bytes())
        .map_err(|_| fail(&input, format!("unknown HTTP method {:?}", f.method)))?;
    let client = cx.core.http().map_err(|m| fail(&input, m))?;
    let mut request = client.request(method, parsed).timeout(timeout);
    for (name, v) in &headers {
        if let Value::String(s) = v {
            request = request.header(name.as_str(), s.as_str());
        }
    }
    match body {
        Some(Value::String(text)) => request = request.body(text),
        Some(other) => request = request.json(&other),
        None => {}
    }
    let response = request
        .send()
        .await
        .map_err(|e| fail(&input, transport_error(&e, f.method, url_text, timeout)))?;
    let status = response.status().as_u16();
    let mut response_headers = Map::new();
    for (name, value) in response.headers() {
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match response_headers.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&text);
            }
            _ => {
                response_headers.insert(name.as_str().to_string(), Value::String(text));
            }
        }
    }
    let bytes = read_body(response, MAX_BODY)
        .await
        .map_err(|e| fail(&input, e))?;
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice::<Value>(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    let output = json!({ "status": status, "headers": response_headers, "body": body });
    Ok(Done {
        effect: store_as(result, &output),
        input,
        output,
    })
}

async fn read_body(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("reading the response failed: {e}"))?
    {
        if out.len() + chunk.len() > limit {
            return Err(format!(
                "the response is larger than {} MiB",
                limit / (1024 * 1024)
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

fn transport_error(e: &reqwest::Error, method: &str, url: &str, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("{method} {url} timed out after {} ms", timeout.as_millis())
    } else if e.is_connect() {
        let cause = std::error::Error::source(e)
            .map(|s| {
                let mut text = s.to_string();
                let mut inner = s.source();
                while let Some(i) = inner {
                    text = i.to_string();
                    inner = i.source();
                }
                text
            })
            .unwrap_or_default();
        format!("{method} {url}: cannot connect ({cause})")
    } else {
        format!("{method} {url} failed: {e}")
    }
}
