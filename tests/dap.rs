//! `flowdeck dap` spoken to over its real stdin/stdout, with Content-Length framing, as an
//! editor would: launch, breakpoints by line, stop, stack, scopes, variables, evaluate,
//! setVariable, step, continue, terminated.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Sandbox;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

const WORKFLOW: &str = r#"{
  "name": "dbg",
  "on": "go",
  "steps": [
    {"id": "start", "action": "set", "var": "n", "value": "{{$param.n}}"},
    {"id": "loop", "action": "foreach", "in": "{{ [range($var.n)] }}", "as": "item", "steps": [
      {"id": "body", "action": "set", "var": "last", "value": "{{ $var.item * 10 }}"}
    ]},
    {"id": "check", "action": "if", "cond": "{{ $var.n > 5 }}",
     "then": [{"id": "big", "action": "set", "var": "size", "value": "big"}],
     "else": [{"id": "small", "action": "set", "var": "size", "value": "small"}]},
    {"id": "note", "action": "log", "message": "size is {{$var.size}}"},
    {"id": "done", "action": "return", "value": {"size": "{{$var.size}}"}}
  ]
}
"#;

struct Client {
    child: Child,
    stdin: ChildStdin,
    messages: Receiver<Value>,
    seq: i64,
    /// Messages read while waiting for something else.
    pending: Vec<Value>,
}

impl Client {
    fn start(s: &Sandbox) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flowdeck"))
            .arg("dap")
            .env("FLOWDECK_LOG_FILE", s.path("dap.log"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("Content-Length:") {
                        length = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                if tx.send(serde_json::from_slice(&body).unwrap()).is_err() {
                    return;
                }
            }
        });
        Client {
            child,
            stdin,
            messages,
            seq: 0,
            pending: Vec::new(),
        }
    }

    fn send(&mut self, command: &str, arguments: Value) -> i64 {
        self.seq += 1;
        let body = json!({ "seq": self.seq, "type": "request", "command": command, "arguments": arguments })
            .to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
        self.seq
    }

    /// The next message matching `want` (others are kept for later).
    fn wait(&mut self, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.pending.iter().position(&want) {
            return self.pending.remove(i);
        }
        loop {
            let m = self
                .messages
                .recv_timeout(Duration::from_secs(15))
                .unwrap_or_else(|_| panic!("no {what}; seen: {:#?}", self.pending));
            if want(&m) {
                return m;
            }
            self.pending.push(m);
        }
    }

    /// Send a request and return its successful response's body.
    fn request(&mut self, command: &str, arguments: Value) -> Value {
        let response = self.call(command, arguments);
        assert_eq!(response["success"], true, "{command}: {response:#}");
        response["body"].clone()
    }

    /// Send a request and return its response.
    fn call(&mut self, command: &str, arguments: Value) -> Value {
        let seq = self.send(command, arguments);
        self.wait(command, |m| {
            m["type"] == "response" && m["request_seq"] == seq
        })
    }

    fn event(&mut self, name: &str) -> Value {
        self.wait(name, |m| m["type"] == "event" && m["event"] == name)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn project() -> (Sandbox, std::path::PathBuf) {
    project_in(Sandbox::new())
}

/// The debugged workflow's project imported into `s`'s store.
fn project_in(s: Sandbox) -> (Sandbox, std::path::PathBuf) {
    let root = s.project("p", None, &[("workflows/dbg.json", WORKFLOW)]);
    let out = s.cli(&["import", "p"]);
    assert!(out.status.success(), "{}", common::text(&out));
    (s, root.join("workflows/dbg.json"))
}

#[test]
fn a_whole_dap_session() {
    let (s, file) = project();
    whole_session(&s, &file);
}

#[test]
fn a_whole_dap_session_on_postgresql() {
    let Some(s) = Sandbox::on_postgres("a_whole_dap_session_on_postgresql") else {
        return;
    };
    let (s, file) = project_in(s);
    whole_session(&s, &file);
}

/// An editor's session on the store of `s`: breakpoints, stepping, variables, the end.
fn whole_session(s: &Sandbox, file: &std::path::Path) {
    let mut c = Client::start(s);
    let caps = c.request(
        "initialize",
        json!({ "adapterID": "flowdeck", "linesStartAt1": true }),
    );
    assert_eq!(caps["supportsConditionalBreakpoints"], true);
    assert_eq!(caps["exceptionBreakpointFilters"][0]["filter"], "failure");
    c.event("initialized");
    c.request(
        "launch",
        json!({ "db": s.db(), "workflow": "dbg", "params": { "n": 3 } }),
    );
    // a line maps to the innermost step on it: 9 is `check`, 10 `big` (inside check), 2 none
    let bps = c.request(
        "setBreakpoints",
        json!({ "source": { "path": file }, "breakpoints": [{ "line": 9 }, { "line": 2 }] }),
    );
    assert_eq!(bps["breakpoints"][0]["verified"], true);
    assert_eq!(bps["breakpoints"][0]["line"], 9);
    assert_eq!(
        bps["breakpoints"][1]["verified"], false,
        "line 2 holds no step"
    );
    c.request("setExceptionBreakpoints", json!({ "filters": [] }));
    c.request("configurationDone", json!({}));

    let stopped = c.event("stopped");
    assert_eq!(stopped["body"]["reason"], "breakpoint");
    let thread = stopped["body"]["threadId"].as_i64().unwrap();
    let threads = c.request("threads", json!({}));
    assert_eq!(threads["threads"][0]["id"], thread);
    assert!(
        threads["threads"][0]["name"]
            .as_str()
            .unwrap()
            .contains("dbg")
    );

    let stack = c.request("stackTrace", json!({ "threadId": thread }));
    let top = &stack["stackFrames"][0];
    assert_eq!(top["name"], "check (if)");
    assert_eq!(top["line"], 9);
    assert!(
        top["source"]["path"]
            .as_str()
            .unwrap()
            .ends_with("workflows/dbg.json")
    );

    let scopes = c.request("scopes", json!({ "frameId": top["id"] }));
    let var = scopes["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "$var")
        .unwrap()
        .clone();
    let vars = c.request(
        "variables",
        json!({ "variablesReference": var["variablesReference"] }),
    );
    let value = |vars: &Value, name: &str| {
        vars["variables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap()["value"]
            .clone()
    };
    assert_eq!(value(&vars, "n"), "3");
    assert_eq!(value(&vars, "last"), "20");

    let ev = c.request(
        "evaluate",
        json!({ "expression": "$var.n * 2", "frameId": top["id"], "context": "repl" }),
    );
    assert_eq!(ev["result"], "6");
    let bad = c.call(
        "evaluate",
        json!({ "expression": "$var.n +", "frameId": top["id"] }),
    );
    assert_eq!(bad["success"], false);
    assert!(bad["message"].as_str().unwrap().contains("jq syntax"));

    let set = c.request(
        "setVariable",
        json!({ "variablesReference": var["variablesReference"], "name": "n", "value": "10" }),
    );
    assert_eq!(set["value"], "10");

    // into the branch the edit chose
    c.request("stepIn", json!({ "threadId": thread }));
    let stopped = c.event("stopped");
    assert_eq!(stopped["body"]["reason"], "step");
    let stack = c.request("stackTrace", json!({ "threadId": thread }));
    assert_eq!(stack["stackFrames"][0]["name"], "big (set)");
    assert_eq!(stack["stackFrames"][0]["line"], 10);
    assert_eq!(
        stack["stackFrames"][1]["name"], "check (if)",
        "the enclosing step"
    );
    // over the rest of the branch: back at the top level
    c.request("next", json!({ "threadId": thread }));
    c.event("stopped");
    let stack = c.request("stackTrace", json!({ "threadId": thread }));
    assert_eq!(stack["stackFrames"][0]["name"], "note (log)");

    c.request("continue", json!({ "threadId": thread }));
    let out = c.wait("the log line", |m| {
        m["event"] == "output"
            && m["body"]["output"]
                .as_str()
                .is_some_and(|o| o.contains("size is big"))
    });
    assert_eq!(out["body"]["category"], "console");
    c.event("terminated");
    c.request("disconnect", json!({}));
}

#[test]
fn program_launch_function_breakpoints_and_failures() {
    let (s, file) = project();
    let failing = s.write(
        "p/workflows/failing.json",
        "{\"name\": \"failing\", \"on\": \"oops\", \"steps\": [\n  {\"id\": \"boom\", \"action\": \"fail\", \"message\": \"bad\"}\n]}\n",
    );
    // a workflow file debugged as a draft (imported into the project's store first)
    let mut c = Client::start(&s);
    c.request("initialize", json!({ "adapterID": "flowdeck" }));
    c.request("launch", json!({ "program": failing, "db": s.db() }));
    c.request("setExceptionBreakpoints", json!({ "filters": ["failure"] }));
    c.request("configurationDone", json!({}));
    let stopped = c.event("stopped");
    assert_eq!(stopped["body"]["reason"], "exception");
    assert!(
        stopped["body"]["text"]
            .as_str()
            .unwrap()
            .contains("boom failed: bad")
    );
    let thread = stopped["body"]["threadId"].as_i64().unwrap();
    c.request("continue", json!({ "threadId": thread }));
    c.event("terminated");
    drop(c);

    // function breakpoints by step id, and stop on entry
    let mut c = Client::start(&s);
    c.request("initialize", json!({}));
    c.request(
        "launch",
        json!({ "db": s.db(), "workflow": "dbg", "params": { "n": 1 }, "stopOnEntry": true }),
    );
    let fb = c.request(
        "setFunctionBreakpoints",
        json!({ "breakpoints": [{ "name": "done" }, { "name": "nope" }] }),
    );
    assert_eq!(fb["breakpoints"][0]["verified"], true);
    assert_eq!(fb["breakpoints"][1]["verified"], false);
    c.request("configurationDone", json!({}));
    assert_eq!(c.event("stopped")["body"]["reason"], "entry");
    c.request("continue", json!({}));
    let stopped = c.event("stopped");
    assert_eq!(stopped["body"]["reason"], "breakpoint");
    let stack = c.request(
        "stackTrace",
        json!({ "threadId": stopped["body"]["threadId"] }),
    );
    assert_eq!(stack["stackFrames"][0]["name"], "done (return)");
    let _ = file;
    c.request("terminate", json!({}));
    c.event("terminated");
}

#[test]
fn bad_launches_say_what_is_wrong() {
    let (s, _) = project();
    let mut c = Client::start(&s);
    c.request("initialize", json!({}));
    let r = c.call(
        "launch",
        json!({ "db": s.path("nope.db"), "workflow": "dbg" }),
    );
    assert_eq!(r["success"], false);
    assert!(r["message"].as_str().unwrap().contains("does not exist"));
    let r = c.call("launch", json!({ "db": s.db(), "workflow": "dgb" }));
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("did you mean \"dbg\""),
        "{r}"
    );
    let r = c.call("launch", json!({ "db": s.db() }));
    assert!(r["message"].as_str().unwrap().contains("give \"workflow\""));
    let r = c.call("stepBack", json!({}));
    assert_eq!(r["success"], false);
}

/// Found with VS Code's own DAP test client: an editor's first F5 on a project never
/// imported. VS Code's order: initialize; launch without waiting for its answer; breakpoints
/// when `initialized` arrives; configurationDone. The launch loads the whole project (schema,
/// `[env]`, the other definitions), so the run reaches its breakpoint instead of failing at
/// once with "no such table".
#[test]
fn an_editors_first_launch_of_a_workflow_file_loads_its_project() {
    let s = Sandbox::new();
    assert!(s.cli(&["init", "shop"]).status.success());
    let file = s.path("shop/workflows/reorder_supply.json");
    let text = std::fs::read_to_string(&file).unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("\"id\": \"load\""))
        .unwrap()
        + 1;
    let mut c = Client::start(&s);
    c.request(
        "initialize",
        json!({ "adapterID": "flowdeck", "linesStartAt1": true, "columnsStartAt1": true }),
    );
    let launch = c.send("launch", json!({ "program": file, "params": { "sku": 1 } }));
    c.event("initialized");
    let bps = c.send(
        "setBreakpoints",
        json!({ "source": { "path": file }, "breakpoints": [{ "line": line }] }),
    );
    let exceptions = c.send("setExceptionBreakpoints", json!({ "filters": [] }));
    let done = c.send("configurationDone", json!({}));
    for (what, seq) in [
        ("launch", launch),
        ("setBreakpoints", bps),
        ("setExceptionBreakpoints", exceptions),
        ("configurationDone", done),
    ] {
        let r = c.wait(what, |m| m["type"] == "response" && m["request_seq"] == seq);
        assert_eq!(r["success"], true, "{what}: {r:#}");
        if what == "setBreakpoints" {
            assert_eq!(r["body"]["breakpoints"][0]["verified"], true, "{r:#}");
        }
    }
    let stopped = c.event("stopped");
    assert_eq!(stopped["body"]["reason"], "breakpoint", "{stopped:#}");
    let thread = stopped["body"]["threadId"].as_i64().unwrap();
    let stack = c.request("stackTrace", json!({ "threadId": thread }));
    let top = &stack["stackFrames"][0];
    assert_eq!(top["name"], "load (db.query)");
    assert_eq!(top["line"], line);
    let ev = c.request(
        "evaluate",
        json!({ "expression": "$param.sku", "frameId": top["id"], "context": "repl" }),
    );
    assert_eq!(ev["result"], "1");
    c.request("next", json!({ "threadId": thread }));
    c.event("stopped");
    let scopes = c.request("scopes", json!({ "frameId": top["id"] }));
    let var = scopes["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "$var")
        .unwrap()
        .clone();
    let vars = c.request(
        "variables",
        json!({ "variablesReference": var["variablesReference"] }),
    );
    let rows = vars["variables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "rows")
        .expect("load read the SKU: schema.sql ran")
        .clone();
    assert_eq!(rows["value"], "array[1]", "{rows}");
    c.request("continue", json!({ "threadId": thread }));
    c.event("terminated");
    c.request("disconnect", json!({}));
    // the run succeeded, in the project's own store, with the other definitions beside it
    let store = flowdeck::store::Store::open(&s.path("shop/flowdeck.db")).unwrap();
    let run = store.run(1).unwrap().unwrap();
    assert_eq!(run.status, flowdeck::model::RunStatus::Succeeded, "{run:?}");
    assert_eq!(store.list_definitions().unwrap().len(), 6);
}
