#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use serde_json::json;

fn request(command: &str, arguments: Option<Value>) -> Value {
    let mut m = json!({ "seq": 7, "type": "request", "command": command });
    if let Some(a) = arguments {
        m["arguments"] = a;
    }
    m
}

fn parsed(command: &str, arguments: Value) -> DapRequest {
    let (header, request) = parse(request(command, Some(arguments)));
    assert_eq!(
        header,
        Header {
            seq: 7,
            command: command.into()
        }
    );
    request.unwrap_or_else(|e| panic!("{command}: {e}"))
}

fn failure(command: &str, arguments: Value) -> String {
    let (_, request) = parse(request(command, Some(arguments)));
    request.expect_err(command).to_string()
}

/// Each request as VS Code sends it, with the fields it adds that the adapter does not use.
#[test]
fn the_requests_vs_code_sends_parse() {
    let initialize = parsed(
        "initialize",
        json!({
            "clientID": "vscode", "clientName": "Visual Studio Code", "adapterID": "flowdeck",
            "pathFormat": "path", "linesStartAt1": true, "columnsStartAt1": true,
            "supportsVariableType": true, "supportsVariablePaging": true,
            "supportsRunInTerminalRequest": true, "locale": "en",
            "supportsProgressReporting": true, "supportsInvalidatedEvent": true,
            "supportsMemoryReferences": true, "supportsArgsCanBeInterpretedByShell": true,
            "supportsMemoryEvent": true, "supportsStartDebuggingRequest": true,
            "supportsANSIStyling": true
        }),
    );
    assert_eq!(
        initialize,
        DapRequest::Initialize(InitializeArguments {
            client_name: Some("Visual Studio Code".into()),
            adapter_id: Some("flowdeck".into()),
        })
    );
    let launch = parsed(
        "launch",
        json!({
            "type": "flowdeck", "request": "launch", "name": "reorder_supply",
            "db": "/w/flowdeck.db", "workflow": "reorder_supply", "params": { "sku": 1 },
            "stopOnEntry": true, "__configurationTarget": 6, "__sessionId": "5f1c"
        }),
    );
    assert_eq!(
        launch,
        DapRequest::Launch(LaunchArguments {
            db: Some("/w/flowdeck.db".into()),
            workflow: Some("reorder_supply".into()),
            params: Some(json!({ "sku": 1 })),
            stop_on_entry: true,
            ..LaunchArguments::default()
        })
    );
    let DapRequest::Launch(program) = parsed(
        "launch",
        json!({ "type": "flowdeck", "request": "launch", "name": "this file",
                "program": "/w/workflows/a.json", "version": null, "noDebug": false }),
    ) else {
        panic!("not a launch")
    };
    assert_eq!(program.program, Some("/w/workflows/a.json".into()));
    assert_eq!(program.version, None);
    assert!(!program.stop_on_entry);

    assert_eq!(
        parsed(
            "setBreakpoints",
            json!({
                "source": { "name": "a.json", "path": "/w/workflows/a.json" },
                "lines": [9, 12],
                "breakpoints": [{ "line": 9 }, { "line": 12, "condition": "$var.n > 1" }],
                "sourceModified": false
            }),
        ),
        DapRequest::SetBreakpoints(SetBreakpointsArguments {
            source: Source {
                name: Some("a.json".into()),
                path: Some("/w/workflows/a.json".into()),
                source_reference: None,
            },
            breakpoints: vec![
                SourceBreakpoint {
                    line: 9,
                    condition: None
                },
                SourceBreakpoint {
                    line: 12,
                    condition: Some("$var.n > 1".into())
                },
            ],
        })
    );
    assert_eq!(
        parsed(
            "setFunctionBreakpoints",
            json!({ "breakpoints": [{ "name": "done" }, { "name": "emit:order" }] }),
        ),
        DapRequest::SetFunctionBreakpoints(SetFunctionBreakpointsArguments {
            breakpoints: vec![
                FunctionBreakpoint {
                    name: "done".into(),
                    condition: None
                },
                FunctionBreakpoint {
                    name: "emit:order".into(),
                    condition: None
                },
            ],
        })
    );
    assert_eq!(
        parsed(
            "setExceptionBreakpoints",
            json!({ "filters": ["failure"], "filterOptions": [{ "filterId": "failure" }] }),
        ),
        DapRequest::SetExceptionBreakpoints(SetExceptionBreakpointsArguments {
            filters: vec!["failure".into()],
        })
    );
    // requests whose arguments are optional parse with none, `{}` or `null`
    for arguments in [None, Some(json!({})), Some(Value::Null)] {
        for (command, want) in [
            ("configurationDone", DapRequest::ConfigurationDone),
            ("threads", DapRequest::Threads),
            ("disconnect", DapRequest::Disconnect),
            ("terminate", DapRequest::Terminate),
            ("continue", DapRequest::Continue(ThreadArguments::default())),
        ] {
            let (_, got) = parse(request(command, arguments.clone()));
            assert_eq!(got, Ok(want), "{command} {arguments:?}");
        }
    }
    assert_eq!(
        parsed(
            "stackTrace",
            json!({ "threadId": 1, "startFrame": 0, "levels": 20 })
        ),
        DapRequest::StackTrace(StackTraceArguments { thread_id: 1 })
    );
    assert_eq!(
        parsed("scopes", json!({ "frameId": 1002 })),
        DapRequest::Scopes(ScopesArguments { frame_id: 1002 })
    );
    assert_eq!(
        parsed(
            "variables",
            json!({ "variablesReference": 3, "filter": "named", "start": 0, "count": 100 })
        ),
        DapRequest::Variables(VariablesArguments {
            variables_reference: 3
        })
    );
    assert_eq!(
        parsed(
            "setVariable",
            json!({ "variablesReference": 1, "name": "n", "value": "10" })
        ),
        DapRequest::SetVariable(SetVariableArguments {
            variables_reference: 1,
            name: "n".into(),
            value: "10".into(),
        })
    );
    for context in ["repl", "hover", "watch", "clipboard"] {
        assert_eq!(
            parsed(
                "evaluate",
                json!({ "expression": "$var.n", "frameId": 1000, "context": context })
            ),
            DapRequest::Evaluate(EvaluateArguments {
                expression: "$var.n".into(),
                frame_id: Some(1000),
            })
        );
    }
    let one = ThreadArguments { thread_id: Some(1) };
    for (command, want) in [
        ("continue", DapRequest::Continue(one.clone())),
        ("next", DapRequest::Next(one.clone())),
        ("stepIn", DapRequest::StepIn(one.clone())),
        ("stepOut", DapRequest::StepOut(one.clone())),
        ("pause", DapRequest::Pause(one.clone())),
    ] {
        assert_eq!(
            parsed(
                command,
                json!({ "threadId": 1, "singleThread": false, "granularity": "statement" })
            ),
            want
        );
    }
    assert_eq!(
        parsed(
            "source",
            json!({ "source": { "name": "a.json", "sourceReference": 1 }, "sourceReference": 1 })
        ),
        DapRequest::Source
    );
    assert_eq!(
        parsed(
            "disconnect",
            json!({ "restart": false, "terminateDebuggee": true, "suspendDebuggee": false })
        ),
        DapRequest::Disconnect
    );
    assert_eq!(parsed("attach", json!({ "port": 1 })), DapRequest::Attach);
}

#[test]
fn an_unknown_command_is_an_error_naming_it() {
    let (header, request) = parse(request("stepBack", Some(json!({ "threadId": 1 }))));
    assert_eq!(header.command, "stepBack");
    assert_eq!(
        request.unwrap_err().to_string(),
        "flowdeck does not support the request \"stepBack\""
    );
    // what is not a request at all still has an answer
    for (message, seq, text) in [
        (
            json!({ "seq": 3, "type": "request" }),
            3,
            "without a \"command\"",
        ),
        (
            json!({ "type": "request", "command": "threads" }),
            0,
            "without a numeric \"seq\"",
        ),
        (json!([1, 2]), 0, "without a \"command\""),
    ] {
        let (header, request) = parse(message.clone());
        assert_eq!(header.seq, seq, "{message}");
        let error = request.unwrap_err().to_string();
        assert!(error.contains(text), "{message}: {error}");
    }
}

/// A missing or mistyped field is an error that names it, never a 0 or an empty string.
#[test]
fn bad_arguments_are_errors_naming_the_field() {
    assert_eq!(
        failure("stackTrace", json!({})),
        "stackTrace: missing field `threadId`"
    );
    assert_eq!(
        failure("stackTrace", json!({ "threadId": "1" })),
        "stackTrace: threadId: invalid type: string \"1\", expected i64"
    );
    assert_eq!(
        failure("stackTrace", json!("1")),
        "stackTrace: invalid type: string \"1\", expected struct StackTraceArguments"
    );
    for (command, arguments, field) in [
        ("continue", json!({ "threadId": "one" }), "threadId"),
        ("next", json!({ "threadId": 1.5 }), "threadId"),
        ("pause", json!({ "threadId": [] }), "threadId"),
        ("scopes", json!({}), "frameId"),
        (
            "variables",
            json!({ "variablesReference": null }),
            "variablesReference",
        ),
        (
            "setVariable",
            json!({ "variablesReference": 1, "name": "n" }),
            "value",
        ),
        ("evaluate", json!({ "frameId": 1000 }), "expression"),
        (
            "evaluate",
            json!({ "expression": "1", "frameId": "top" }),
            "frameId",
        ),
        ("setBreakpoints", json!({ "breakpoints": [] }), "source"),
        (
            "setBreakpoints",
            json!({ "source": {}, "breakpoints": [{}] }),
            "line",
        ),
        (
            "setBreakpoints",
            json!({ "source": {}, "breakpoints": [{ "line": -1 }] }),
            "breakpoints[0].line",
        ),
        (
            "setFunctionBreakpoints",
            json!({ "breakpoints": [{ "name": 3 }] }),
            "breakpoints[0].name",
        ),
        (
            "setExceptionBreakpoints",
            json!({ "filters": "failure" }),
            "filters",
        ),
        ("launch", json!({ "program": 3 }), "program"),
        ("launch", json!({ "stopOnEntry": "yes" }), "stopOnEntry"),
        ("launch", json!({ "version": "2" }), "version"),
    ] {
        let error = failure(command, arguments.clone());
        assert!(
            error.starts_with(&format!("{command}: ")) && error.contains(field),
            "{command} {arguments}: {error}"
        );
    }
}

#[test]
fn responses_have_the_fields_vs_code_reads() {
    let header = Header {
        seq: 4,
        command: "threads".into(),
    };
    let ok = Message::Response(Response::to(
        &header,
        Ok(Body::Threads(ThreadsBody {
            threads: vec![Thread {
                id: 1,
                name: "run #1 dbg".into(),
            }],
        })),
    ));
    let ok = serde_json::to_value(Numbered {
        seq: 9,
        message: &ok,
    })
    .unwrap();
    assert_eq!(
        ok,
        json!({
            "seq": 9, "type": "response", "request_seq": 4, "command": "threads",
            "success": true, "body": { "threads": [{ "id": 1, "name": "run #1 dbg" }] }
        })
    );
    let failed = Message::Response(Response::to(&header, Err("no such thread".into())));
    let failed = serde_json::to_value(Numbered {
        seq: 10,
        message: &failed,
    })
    .unwrap();
    assert_eq!(
        failed,
        json!({
            "seq": 10, "type": "response", "request_seq": 4, "command": "threads",
            "success": false, "message": "no such thread",
            "body": { "error": { "id": 1, "format": "no such thread" } }
        })
    );
    let empty = Message::Response(Response::to(&header, Ok(Body::Empty(Empty {}))));
    assert_eq!(
        serde_json::to_value(Numbered {
            seq: 11,
            message: &empty
        })
        .unwrap()["body"],
        json!({})
    );
}

#[test]
fn events_have_the_fields_vs_code_reads() {
    let stopped = Message::Event(Event::Stopped(StoppedBody {
        reason: StoppedReason::Exception,
        thread_id: 2,
        all_threads_stopped: false,
        description: Some("boom failed: bad".into()),
        text: Some("boom failed: bad".into()),
    }));
    assert_eq!(
        serde_json::to_value(Numbered {
            seq: 3,
            message: &stopped
        })
        .unwrap(),
        json!({
            "seq": 3, "type": "event", "event": "stopped",
            "body": {
                "reason": "exception", "threadId": 2, "allThreadsStopped": false,
                "description": "boom failed: bad", "text": "boom failed: bad"
            }
        })
    );
    for (event, name, body) in [
        (Event::Initialized(Empty {}), "initialized", json!({})),
        (Event::Terminated(Empty {}), "terminated", json!({})),
        (
            Event::Thread(ThreadBody {
                reason: ThreadReason::Started,
                thread_id: 1,
            }),
            "thread",
            json!({ "reason": "started", "threadId": 1 }),
        ),
        (
            Event::Continued(ContinuedBody {
                thread_id: 1,
                all_threads_continued: false,
            }),
            "continued",
            json!({ "threadId": 1, "allThreadsContinued": false }),
        ),
        (
            Event::Output(OutputBody {
                category: "console".into(),
                output: "hi\n".into(),
            }),
            "output",
            json!({ "category": "console", "output": "hi\n" }),
        ),
        (
            Event::Exited(ExitedBody { exit_code: 1 }),
            "exited",
            json!({ "exitCode": 1 }),
        ),
    ] {
        let message = Message::Event(event);
        assert_eq!(
            serde_json::to_value(Numbered {
                seq: 1,
                message: &message
            })
            .unwrap(),
            json!({ "seq": 1, "type": "event", "event": name, "body": body })
        );
    }
}
