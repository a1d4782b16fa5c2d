//! The debugger's events as DAP events: a run paused, went on, printed, or ended.

use super::Server;
use crate::dap::protocol::{
    ContinuedBody, Empty, Event, ExitedBody, StoppedBody, StoppedReason, ThreadBody, ThreadReason,
};
use crate::engine::debug::{DebugEvent, StopReason};
use tokio::io::AsyncWrite;

impl<W: AsyncWrite + Unpin> Server<W> {
    /// Tell the client what a run did. A pause or a resume forgets the variables handed out
    /// (they were of the last pause).
    pub(super) async fn event(&mut self, event: DebugEvent) -> std::io::Result<()> {
        match event {
            DebugEvent::Stopped { reason, snapshot } => {
                let thread = snapshot.run_id;
                let (reason, text) = match &reason {
                    StopReason::Entry => (StoppedReason::Entry, None),
                    StopReason::Breakpoint { .. } | StopReason::Condition { .. } => {
                        (StoppedReason::Breakpoint, None)
                    }
                    StopReason::Emit { event } => (
                        StoppedReason::Breakpoint,
                        Some(format!("before emitting {event}")),
                    ),
                    StopReason::Failure { step, message } => (
                        StoppedReason::Exception,
                        Some(format!("{step} failed: {message}")),
                    ),
                    StopReason::Step => (StoppedReason::Step, None),
                    StopReason::Pause => (StoppedReason::Pause, None),
                };
                if let Some(t) = self.threads.get_mut(&thread) {
                    t.snapshot = Some(*snapshot);
                }
                self.refs.clear();
                self.emit(Event::Stopped(StoppedBody {
                    reason,
                    thread_id: thread,
                    all_threads_stopped: false,
                    description: text.clone(),
                    text,
                }))
                .await
            }
            DebugEvent::Resumed { run_id } => {
                self.refs.clear();
                if let Some(t) = self.threads.get_mut(&run_id) {
                    t.snapshot = None;
                }
                self.emit(Event::Continued(ContinuedBody {
                    thread_id: run_id,
                    all_threads_continued: false,
                }))
                .await
            }
            DebugEvent::Output { text, .. } => self.output(&text).await,
            DebugEvent::Finished {
                run_id,
                status,
                output,
                error,
            } => {
                let result = match (&error, &output) {
                    (Some(e), _) => format!("run #{run_id} {status}: {e}"),
                    (None, Some(o)) => format!("run #{run_id} {status}: {o}"),
                    (None, None) => format!("run #{run_id} {status}"),
                };
                self.output(&result).await?;
                self.threads.remove(&run_id);
                self.emit(Event::Thread(ThreadBody {
                    reason: ThreadReason::Exited,
                    thread_id: run_id,
                }))
                .await?;
                if self.threads.is_empty() {
                    self.emit(Event::Exited(ExitedBody {
                        exit_code: i32::from(error.is_some()),
                    }))
                    .await?;
                    self.emit(Event::Terminated(Empty {})).await?;
                }
                Ok(())
            }
        }
    }
}
