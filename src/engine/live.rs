//! The live engine's effects: a step's side effects done for real, by the engine's services
//! (the data database, the HTTP client, the dispatcher, tokio's clock).

use super::core::Core;
use super::effects::{Effects, EmitRequest, HttpRequest, HttpResponse, StepRef};
use crate::model::Timestamp;
use crate::store::data::ExecResult;
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

    async fn exec(
        &self,
        _at: StepRef<'_>,
        sql: &str,
        args: &[Value],
    ) -> Result<ExecResult, String> {
        self.data().exec(sql, args).await.map_err(|e| e.to_string())
    }

    async fn http(&self, _at: StepRef<'_>, request: HttpRequest) -> Result<HttpResponse, String> {
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
