//! The live engine's effects: a step's side effects done for real, by the engine's services
//! (the data database, the HTTP client, the dispatcher, tokio's clock).

use super::core::Core;
use super::effects::{Effects, EmitRequest, HttpRequest, HttpResponse, StepRef};
use crate::model::Timestamp;
use crate::store::data::{ExecResult, Once};

/// The header an `http` step's request carries its identity in.
pub(super) const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

impl Effects for Core {
    async fn query(
        &self,
        _at: StepRef<'_>,
        sql: &str,
        args: &[Value],
    ) -> Result<Vec<Value>, String> {
        self.data().query(sql, args).map_err(|e| e.to_string())
    }

    async fn exec(&self, at: StepRef<'_>, sql: &str, args: &[Value]) -> Result<ExecResult, String> {
        // noted with its change, so that a run resumed after a crash does not do it again
        let once = Once {
            key: at.identity(),
            run: at.run.run_id,
            check: at.run.resumed,
        };
        self.data()
            .exec_once(sql, args, once)
            .await
            .map_err(|e| e.to_string())
    }

    async fn http(
        &self,
        at: StepRef<'_>,
        mut request: HttpRequest,
    ) -> Result<HttpResponse, String> {
        // the same key on every attempt and after a resume: the receiver can tell a request
        // it has seen (unless the step sets its own)
        let has_key = request
            .headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case(IDEMPOTENCY_KEY));
        if !has_key {
            let key = format!("{}-{}", self.token(), at.identity());
            request
                .headers
                .insert(IDEMPOTENCY_KEY.into(), Value::String(key));
        }
        super::http_client::send(self.http()?, request).await
    }

    async fn emit(&self, at: StepRef<'_>, request: EmitRequest) -> Result<Option<i64>, String> {
        // the events a run emits join the cascade its caller waits for
        let tracker = at.run.tracker.clone();
        Core::emit(self, request, tracker)
            .await
            .map(|d| Some(d.event.record.id))
            .map_err(|e| e.to_string())
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }

    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn env(&self) -> Arc<Value> {
        self.settings().env.clone()
    }

    fn expr_limit(&self) -> Duration {
        self.settings().expr_limit()
    }

    fn http_timeout(&self) -> Duration {
        self.settings().http_timeout()
    }
}
