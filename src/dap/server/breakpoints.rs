//! Breakpoints: on lines of the workflow file, on step ids and `emit:EVENT`, and on step
//! failures; whatever is set reaches the runs already going.

use super::{Body, Server};
use crate::dap::protocol::Breakpoint as Verified;
use crate::dap::protocol::{
    BreakpointsBody, SetBreakpointsArguments, SetFunctionBreakpointsArguments,
};
use crate::engine::debug::{self, Breakpoint};
use crate::model::source_map::step_at_line;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWrite;

impl<W: AsyncWrite + Unpin> Server<W> {
    /// Every breakpoint, as the debugger takes them.
    pub(super) fn all_breakpoints(&self) -> Vec<Breakpoint> {
        let mut all = self.line_breakpoints.clone();
        all.extend(self.function_breakpoints.iter().cloned());
        if self.failure {
            all.push(Breakpoint::Failure);
        }
        all
    }

    /// Give the runs going the breakpoints as they now are.
    pub(super) fn push_breakpoints(&self) {
        let all = self.all_breakpoints();
        for t in self.threads.values() {
            t.session
                .send(debug::DebugCommand::SetBreakpoints(all.clone()));
        }
    }

    /// `setBreakpoints`: a line maps to the innermost step on it. Lines of another file than
    /// the one debugged are not verified (and do not replace the debugged file's).
    pub(super) fn set_breakpoints(&mut self, args: &SetBreakpointsArguments) -> Body {
        let path = args.source.path.as_deref().map(PathBuf::from);
        let ours = match (&self.source, &path) {
            (Some(s), Some(p)) => same_file(s.path.as_deref(), p),
            (Some(_), None) => true,
            _ => false,
        };
        let mut verified = Vec::new();
        let mut list = Vec::new();
        for (i, b) in args.breakpoints.iter().enumerate() {
            let id = Some(i as i64 + 1);
            let line = b.line;
            let condition = b.condition.clone().filter(|c| !c.trim().is_empty());
            let step = ours
                .then(|| {
                    self.source
                        .as_ref()
                        .and_then(|s| step_at_line(&s.spans, line).cloned())
                })
                .flatten();
            match step {
                Some(span) => {
                    if let Some(c) = &condition
                        && let Err(e) = crate::expr::Expr::compile(c, crate::expr::Scope::ALL)
                    {
                        verified.push(Verified {
                            id,
                            verified: false,
                            line: Some(line),
                            message: Some(e),
                        });
                        continue;
                    }
                    list.push(Breakpoint::Step {
                        step: span.id.clone(),
                        condition,
                    });
                    verified.push(Verified {
                        id,
                        verified: true,
                        line: Some(span.id_line),
                        message: None,
                    });
                }
                None => verified.push(Verified {
                    id,
                    verified: false,
                    line: Some(line),
                    message: Some(
                        if ours {
                            "no step on this line"
                        } else {
                            "not the workflow being debugged"
                        }
                        .into(),
                    ),
                }),
            }
        }
        if ours {
            self.line_breakpoints = list;
            self.push_breakpoints();
        }
        Body::Breakpoints(BreakpointsBody {
            breakpoints: verified,
        })
    }

    /// `setFunctionBreakpoints`: `emit:NAME` stops before emitting NAME; anything else is a
    /// step id, verified against the debugged file when there is one.
    pub(super) fn set_function_breakpoints(
        &mut self,
        args: &SetFunctionBreakpointsArguments,
    ) -> Body {
        let mut verified = Vec::new();
        let mut list = Vec::new();
        for b in &args.breakpoints {
            let name = &b.name;
            let condition = b.condition.clone().filter(|c| !c.trim().is_empty());
            if let Some(event) = name.strip_prefix("emit:") {
                list.push(Breakpoint::Emit {
                    event: event.to_string(),
                });
                verified.push(Verified {
                    verified: true,
                    ..Verified::default()
                });
                continue;
            }
            let span = self
                .source
                .as_ref()
                .and_then(|s| s.spans.iter().find(|sp| sp.id == *name));
            let known = self.source.is_none() || span.is_some();
            if known {
                list.push(Breakpoint::Step {
                    step: name.clone(),
                    condition,
                });
            }
            verified.push(Verified {
                id: None,
                verified: known,
                line: span.map(|sp| sp.id_line),
                message: (!known).then(|| format!("no step {name:?} in this workflow")),
            });
        }
        self.function_breakpoints = list;
        self.push_breakpoints();
        Body::Breakpoints(BreakpointsBody {
            breakpoints: verified,
        })
    }
}

/// Whether the client's `theirs` is the debugged file `ours` (a workflow with no file takes
/// any).
fn same_file(ours: Option<&Path>, theirs: &Path) -> bool {
    match ours {
        Some(ours) => {
            let theirs = std::fs::canonicalize(theirs).unwrap_or_else(|_| theirs.to_path_buf());
            ours == theirs || ours.file_name() == theirs.file_name()
        }
        None => true,
    }
}
