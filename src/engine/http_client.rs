//! The live engine's HTTP calls (reqwest with rustls on tokio): a step's request sent, its
//! response read (within a size limit) and parsed.

use super::effects::{HttpRequest, HttpResponse};
use serde_json::{Map, Value};
use std::time::Duration;

/// Responses larger than this are cut off (the step fails rather than eat memory).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Send `r` with `client` and read the answer.
pub(crate) async fn send(client: &reqwest::Client, r: HttpRequest) -> Result<HttpResponse, String> {
    let method = reqwest::Method::from_bytes(r.method.as_bytes())
        .map_err(|_| format!("unknown HTTP method {:?}", r.method))?;
    let mut request = client.request(method, r.url.as_str()).timeout(r.timeout);
    for (name, v) in &r.headers {
        if let Value::String(s) = v {
            request = request.header(name.as_str(), s.as_str());
        }
    }
    match r.body {
        Some(Value::String(text)) => request = request.body(text),
        Some(other) => request = request.json(&other),
        None => {}
    }
    let response = request
        .send()
        .await
        .map_err(|e| transport_error(&e, &r.method, &r.url, r.timeout))?;
    let status = response.status().as_u16();
    let mut headers = Map::new();
    for (name, value) in response.headers() {
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&text);
            }
            _ => {
                headers.insert(name.as_str().to_string(), Value::String(text));
            }
        }
    }
    let bytes = read_body(response, MAX_BODY).await?;
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice::<Value>(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
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
