//! `http`: call an HTTP service. The step's fields are evaluated and checked here; the call
//! itself is an effect. Any response is a result (`{status, headers, body}`, the body parsed
//! when it is JSON); failing to get one (refused, timed out, a bad URL) fails the step.

use super::{Done, Failure, LeafCx, store_as};
use crate::engine::effects::{Effects, HttpRequest};
use crate::expr::Template;
use serde_json::{Map, Value, json};
use std::time::Duration;

pub(super) struct Fields<'a> {
    pub method: &'a str,
    pub url: &'a Template,
    pub headers: &'a [(String, Template)],
    pub body: Option<&'a Template>,
    pub timeout_ms: Option<&'a Template>,
}

pub(super) async fn run<E: Effects>(
    cx: &LeafCx<'_, E>,
    f: Fields<'_>,
    result: Option<&String>,
) -> Result<Done, Failure> {
    let url = cx.eval("url", f.url).map_err(Failure::new)?;
    let mut input = json!({ "method": f.method, "url": url });
    let fail = |input: &Value, m: String| Failure::with_input(input.clone(), m);
    let Some(url_text) = url.as_str() else {
        return Err(fail(&input, format!("url: must be a string, got {url}")));
    };
    let parsed = match url::Url::parse(url_text) {
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
        None => cx.effects.http_timeout(),
    };
    let request = HttpRequest {
        method: f.method.to_string(),
        url: parsed.to_string(),
        headers,
        body,
        timeout,
    };
    let response = cx
        .effects
        .http(cx.at(), request)
        .await
        .map_err(|e| fail(&input, e))?;
    let output = json!({
        "status": response.status,
        "headers": response.headers,
        "body": response.body,
    });
    Ok(Done {
        effect: store_as(result, &output),
        input,
        output,
    })
}
