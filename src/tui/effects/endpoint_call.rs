//! Calling an endpoint from the studio (`x` in Debug Mode): the pane's request made into the
//! engine's, the answer a notice and its run the selected one.

use super::Services;
use crate::engine::EndpointRequest;
use crate::tui::message::{Msg, UiEffect};
use serde_json::Value;

impl Services {
    /// Call an endpoint's live version with the pane's request, as a request would; the
    /// answer becomes a notice, and its run the selected one.
    pub(super) fn call(&self, endpoint: String, request: Value) {
        let me = self.clone();
        tokio::spawn(async move {
            let request = match http_request(&endpoint, &request) {
                Ok(r) => r,
                Err(e) => return me.send(Msg::Failure(format!("cannot call {endpoint}: {e}"))),
            };
            match me.engine.call(request).await {
                Ok(report) => {
                    let run = &report.run;
                    let text = format!(
                        "{endpoint} → {} {} · run #{} (v{})",
                        report.status,
                        crate::text::short(&report.body, 80),
                        run.id,
                        run.version.unwrap_or_default()
                    );
                    me.send(if report.status >= 500 {
                        Msg::Failure(text)
                    } else {
                        Msg::Notice(text)
                    });
                    me.send(Msg::Run(Some(report.run)));
                    me.perform(UiEffect::ReloadAll);
                }
                Err(e) => me.send(Msg::Failure(format!("cannot call {endpoint}: {e}"))),
            }
        });
    }
}

/// The engine's request for an endpoint (`METHOD /route`) and the pane's request.
fn http_request(endpoint: &str, request: &Value) -> Result<EndpointRequest, String> {
    let (method, route) = endpoint
        .split_once(' ')
        .ok_or_else(|| format!("{endpoint:?} is not METHOD /path"))?;
    let object = |name: &str| match request.get(name) {
        Some(Value::Object(m)) => m.clone(),
        _ => serde_json::Map::new(),
    };
    let path = crate::engine::routes::fill_route(route, &object("path"))?;
    let headers = object("headers")
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    Ok(EndpointRequest {
        method: method.to_string(),
        path,
        query: object("query"),
        headers,
        body: request.get("body").cloned().unwrap_or(Value::Null),
        draft: false,
    })
}
