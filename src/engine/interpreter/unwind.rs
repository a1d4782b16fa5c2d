//! How frames end: a failed step retried or unwound to the nearest `try` (or a compound step
//! with retries left), a `return`, and the records of compound steps whose frames closed.

use super::{Frame, Interpreter, Owner, OwnerKind, RunOutcome, backoff, max_attempts};
use crate::engine::actions::try_;
use crate::engine::program::{CStep, Op};
use crate::model::{StepRecord, StepStatus, Timestamp};
use serde_json::{Value, json};
use std::time::Instant;

impl Interpreter {
    /// The step at the top frame's pc failed (attempt `attempt`): record it, then retry it
    /// or unwind.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn step_failed(
        &mut self,
        step: &CStep,
        seq: u32,
        attempt: u32,
        started: (Instant, Timestamp),
        input: Value,
        message: String,
        records: &mut Vec<StepRecord>,
    ) {
        let r = self.record(
            step,
            seq,
            attempt,
            started,
            StepStatus::Failed,
            input,
            Value::Null,
            Some(message.clone()),
        );
        records.push(r);
        if attempt < max_attempts(step) {
            self.next_attempt = Some(attempt + 1);
            self.backoff = Some(backoff(step.retry, attempt));
            return;
        }
        self.unwind(message, step.id.clone(), records);
    }

    /// An error leaves the top frame: find a `try` to catch it or a compound step to retry;
    /// otherwise the run fails.
    pub(super) fn unwind(
        &mut self,
        message: String,
        failed_step: String,
        records: &mut Vec<StepRecord>,
    ) {
        loop {
            let Some(frame) = self.frames.pop() else {
                break;
            };
            let Some(owner) = frame.owner else {
                // the top-level list failed: so does the run
                self.frames.clear();
                self.outcome = Some(RunOutcome::Failed {
                    error: message,
                    step: Some(failed_step),
                });
                return;
            };
            let Some(parent) = self.frames.last() else {
                break;
            };
            let steps = parent.steps.clone();
            let step = &steps[parent.pc];
            if let (OwnerKind::TrySteps, Op::Try { catch, .. }) = (&owner.kind, &step.op) {
                let error = try_::error_value(&message, &failed_step);
                self.frames.push(Frame {
                    steps: catch.clone(),
                    pc: 0,
                    owner: Some(Owner {
                        kind: OwnerKind::TryCatch { error },
                        ..owner
                    }),
                });
                return;
            }
            let attempt = owner.attempt;
            let r = self.close(step, owner, Some(message.clone()));
            records.push(r);
            if attempt < max_attempts(step) {
                self.next_attempt = Some(attempt + 1);
                self.backoff = Some(backoff(step.retry, attempt));
                return;
            }
        }
        self.outcome = Some(RunOutcome::Failed {
            error: message,
            step: Some(failed_step),
        });
    }

    /// `return`: close every open compound step (succeeded) and end the run.
    pub(super) fn finish_with_return(
        &mut self,
        output: Value,
        status: Option<u16>,
        records: &mut Vec<StepRecord>,
    ) {
        while let Some(frame) = self.frames.pop() {
            if let Some(owner) = frame.owner
                && let Some(parent) = self.frames.last()
            {
                let steps = parent.steps.clone();
                let r = self.close(&steps[parent.pc], owner, None);
                records.push(r);
            }
        }
        self.outcome = Some(RunOutcome::Succeeded { output, status });
    }

    /// Close frames whose steps are done (writing their owners' records), start the next
    /// `foreach` iteration, and end the run when the top level is done.
    pub(super) fn settle(&mut self, records: &mut Vec<StepRecord>) {
        loop {
            if self.outcome.is_some() {
                return;
            }
            let Some(top) = self.frames.last() else {
                self.outcome = Some(RunOutcome::Succeeded {
                    output: Value::Null,
                    status: None,
                });
                return;
            };
            if top.pc < top.steps.len() {
                return;
            }
            let Some(frame) = self.frames.pop() else {
                return;
            };
            let Some(mut owner) = frame.owner else {
                self.outcome = Some(RunOutcome::Succeeded {
                    output: Value::Null,
                    status: None,
                });
                return;
            };
            let Some(parent) = self.frames.last() else {
                return;
            };
            let steps = parent.steps.clone();
            let step = &steps[parent.pc];
            if let (
                OwnerKind::Foreach { items, index },
                Op::Foreach {
                    item, steps: body, ..
                },
            ) = (&mut owner.kind, &step.op)
                && *index + 1 < items.len()
            {
                *index += 1;
                let (i, value) = (*index, items[*index].clone());
                self.bind_item(item, &value, i);
                self.frames.push(Frame {
                    steps: body.clone(),
                    pc: 0,
                    owner: Some(owner),
                });
                continue;
            }
            let r = self.close(step, owner, None);
            records.push(r);
            self.advance();
        }
    }
}

impl Interpreter {
    /// The record of a compound step whose frame ended: succeeded, or failed with `error`.
    pub(super) fn close(
        &mut self,
        step: &CStep,
        owner: Owner,
        error: Option<String>,
    ) -> StepRecord {
        let (status, output) = match &error {
            None => (StepStatus::Succeeded, owner_output(&owner.kind)),
            Some(_) => (StepStatus::Failed, Value::Null),
        };
        self.record(
            step,
            owner.seq,
            owner.attempt,
            (owner.started, owner.started_at),
            status,
            owner.input,
            output,
            error,
        )
    }
}

fn owner_output(kind: &OwnerKind) -> Value {
    match kind {
        OwnerKind::If { branch } => json!({ "branch": branch }),
        OwnerKind::Foreach { items, .. } => json!({ "count": items.len() }),
        OwnerKind::TrySteps => json!({ "caught": null }),
        OwnerKind::TryCatch { error } => json!({ "caught": error }),
    }
}
