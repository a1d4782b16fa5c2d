//! Shared set-up for the integration tests: temporary stores and projects, the real binary,
//! an engine on a real SQLite file.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

pub mod studio;
pub mod tmux;

use flowdeck::engine::Engine;
use flowdeck::engine::import::import_project;
use flowdeck::model::project;
use flowdeck::store::Store;
use flowdeck::store::postgres::scratch::ScratchDatabase;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary folder with a store path inside (or a scratch PostgreSQL database); dropped
/// at the end of the test.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    /// The store's database when it is on PostgreSQL.
    pub pg: Option<ScratchDatabase>,
}

impl Sandbox {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            pg: None,
        }
    }

    /// A sandbox whose store is a fresh database on the PostgreSQL server of
    /// `FLOWDECK_TEST_PG`; none (and a line saying `test` was skipped) without one.
    pub fn on_postgres(test: &str) -> Option<Self> {
        let pg = ScratchDatabase::for_test(test)?;
        Some(Self {
            dir: tempfile::tempdir().expect("temp dir"),
            pg: Some(pg),
        })
    }

    /// The store: `<dir>/flowdeck.db`, or the URL of its PostgreSQL database.
    pub fn db(&self) -> PathBuf {
        match &self.pg {
            Some(pg) => PathBuf::from(pg.url()),
            None => self.dir.path().join("flowdeck.db"),
        }
    }

    /// `<dir>/<rel>`
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Write a file under the sandbox, creating folders.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Run the real `flowdeck` binary with `--db <sandbox db>` and the given arguments, in
    /// the sandbox folder, with logs kept out of the user's folders.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run flowdeck")
    }

    /// The command [`Sandbox::cli`] runs, to add to (environment variables, say). `CI` is
    /// removed: commands that behave differently under CI are tested with it set on purpose.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_flowdeck"));
        c.arg("--db")
            .arg(self.db())
            .args(args)
            .current_dir(self.dir.path())
            .env("FLOWDECK_LOG_FILE", self.path("flowdeck.log"))
            .env_remove("FLOWDECK_DB")
            .env_remove("SUPPLIER_URL")
            .env_remove("CI");
        c
    }

    /// [`Sandbox::cli`] with `--json`, parsed; panics with stderr when the output is not JSON.
    pub fn cli_json(&self, args: &[&str]) -> (i32, Value) {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.cli(&all);
        let code = out.status.code().unwrap_or(-1);
        let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}); stdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (code, value)
    }

    /// Write a project: `flowdeck.toml` (given text or a default), `schema.sql` (optional)
    /// and definition files `(relative path, JSON text)`.
    pub fn project(&self, name: &str, schema: Option<&str>, files: &[(&str, &str)]) -> PathBuf {
        let root = self.path(name);
        std::fs::create_dir_all(root.join("workflows")).unwrap();
        std::fs::create_dir_all(root.join("endpoints")).unwrap();
        std::fs::write(root.join("flowdeck.toml"), format!("name = \"{name}\"\n")).unwrap();
        if let Some(s) = schema {
            std::fs::write(root.join("schema.sql"), s).unwrap();
        }
        for (rel, text) in files {
            std::fs::write(root.join(rel), text).unwrap();
        }
        root
    }

    /// A fresh sandbox where the command line has run `init <init…>`, `import <folder>` and
    /// `deploy --all`, as a new user would; panics when one fails.
    pub fn deployed(init: &[&str], folder: &str) -> Self {
        let s = Sandbox::new();
        s.init_import_deploy(init, folder);
        s
    }

    /// `init <init…>`, `import <folder>` and `deploy --all` in this sandbox; panics when one
    /// fails.
    pub fn init_import_deploy(&self, init: &[&str], folder: &str) {
        let s = self;
        let init: Vec<&str> = std::iter::once("init")
            .chain(init.iter().copied())
            .collect();
        for args in [&init[..], &["import", folder], &["deploy", "--all"]] {
            let out = s.cli(args);
            assert!(out.status.success(), "{args:?}: {}", text(&out));
        }
    }

    /// Import a project folder into the sandbox store and deploy everything; panics on faults.
    pub fn import_and_deploy(&self, root: &Path) {
        let loaded = project::load(root).unwrap();
        let mut store = Store::open(&self.db()).unwrap();
        let report = import_project(&mut store, &loaded).unwrap();
        assert!(
            report.is_clean(),
            "import faults: {:#?}",
            report.diagnostics
        );
        for row in store.list_definitions().unwrap() {
            store.deploy(row.id).unwrap();
        }
    }

    /// An engine on the sandbox store.
    pub fn engine(&self) -> Engine {
        Engine::open(&self.db(), 16).unwrap()
    }

    /// `flowdeck serve` on the sandbox store, on a free loopback port, with `extra`
    /// arguments; it listens when this returns, and is killed when the handle is dropped.
    pub fn serve(&self, extra: &[&str]) -> Serving {
        self.serve_with(extra, &[])
    }

    /// [`Sandbox::serve`] with environment variables set.
    pub fn serve_with(&self, extra: &[&str], env: &[(&str, &str)]) -> Serving {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let bind = format!("127.0.0.1:{port}");
        let mut args = vec!["serve", "--bind", &bind];
        args.extend_from_slice(extra);
        let child = self
            .command(&args)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // dropped (killed and waited for) however this ends
        let serving = Serving { child, port };
        for _ in 0..1000 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return serving;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("serve did not listen");
    }
}

/// A `flowdeck serve` process of a test, killed and waited for when dropped.
pub struct Serving {
    pub child: std::process::Child,
    pub port: u16,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The bundled example project's folder in the repository.
pub fn example_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/example")
}

/// Stdout and stderr of a command as text, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
