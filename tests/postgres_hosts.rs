//! Three `serve` processes as three hosts on one PostgreSQL store: each in a network
//! namespace of its own (its own address, made by this test) and with a host name of its
//! own, so that none can tell whether another is alive but by its lease. 30,000 events are
//! posted across them; one is killed with SIGKILL under load; every event's run must run
//! exactly once, and the killed server's runs be finished by the others once its lease
//! expires. Needs `FLOWDECK_TEST_PG` and root (for the namespaces); says why it skipped
//! otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Sandbox;
use flowdeck::model::{RunStatus, Timestamp};
use flowdeck::store::Store;
use flowdeck::store::runs::RunFilter;
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// Network namespaces joined by a bridge on this host; removed when dropped.
struct Hosts {
    bridge: String,
    spaces: Vec<String>,
    /// The first three parts of the addresses (`10.231.N`).
    prefix: String,
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Hosts {
    /// `n` namespaces with addresses `prefix.11`, `.12`, … and this host at `prefix.1`;
    /// none (with a line saying why) when this process may not make them.
    fn make(n: usize) -> Option<Hosts> {
        let id = std::process::id() % 10_000;
        let prefix = format!("10.231.{}", 1 + id % 250);
        let hosts = Hosts {
            bridge: format!("fdbr{id}"),
            spaces: (0..n).map(|i| format!("fdns{id}x{i}")).collect(),
            prefix,
        };
        if !ip(&["link", "add", &hosts.bridge, "type", "bridge"]) {
            eprintln!(
                "skipped: cannot make network namespaces here (needs root and `ip`); the servers share a host in tests/postgres.rs"
            );
            return None;
        }
        let host_addr = format!("{}.1/24", hosts.prefix);
        let mut ok = ip(&["addr", "add", &host_addr, "dev", &hosts.bridge])
            && ip(&["link", "set", &hosts.bridge, "up"]);
        for (i, space) in hosts.spaces.iter().enumerate() {
            let outside = format!("fdv{id}x{i}");
            let inside = format!("fdp{id}x{i}");
            let addr = format!("{}/24", hosts.address(i));
            let gateway = format!("{}.1", hosts.prefix);
            ok = ok
                && ip(&["netns", "add", space])
                && ip(&[
                    "link", "add", &outside, "type", "veth", "peer", "name", &inside,
                ])
                && ip(&["link", "set", &inside, "netns", space])
                && ip(&["link", "set", &outside, "master", &hosts.bridge, "up"])
                && ip(&["-n", space, "addr", "add", &addr, "dev", &inside])
                && ip(&["-n", space, "link", "set", &inside, "up"])
                && ip(&["-n", space, "link", "set", "lo", "up"])
                && ip(&["-n", space, "route", "add", "default", "via", &gateway]);
        }
        assert!(ok, "could not set the namespaces up");
        Some(hosts)
    }

    fn address(&self, i: usize) -> String {
        format!("{}.{}", self.prefix, 11 + i)
    }

    /// `flowdeck serve` on `store` as host `i` (its own namespace and host name).
    fn serve(&self, i: usize, store: &str, s: &Sandbox) -> std::process::Child {
        let bind = format!("{}:8080", self.address(i));
        let script = format!(
            "hostname server-{i} && exec {} --db {store} serve --bind {bind}",
            env!("CARGO_BIN_EXE_flowdeck")
        );
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.spaces[i],
                "unshare",
                "--uts",
                "sh",
                "-c",
                &script,
            ])
            .current_dir(s.dir.path())
            .env("FLOWDECK_LOG_FILE", s.path(&format!("server-{i}.log")))
            .env("FLOWDECK_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for space in &self.spaces {
            ip(&["netns", "del", space]);
        }
        ip(&["link", "del", &self.bridge]);
    }
}

/// Post event `n` to the first live server from `first` on, with its idempotency key: a
/// server that does not answer is marked dead and the next one is asked. Whether the store
/// acknowledged it.
async fn post(
    client: &reqwest::Client,
    bases: &[String],
    alive: &[AtomicBool],
    first: usize,
    n: usize,
) -> bool {
    for k in 0..bases.len() {
        let i = (first + k) % bases.len();
        if !alive[i].load(Ordering::Relaxed) {
            continue;
        }
        let sent = client
            .post(format!("{}/events/job", bases[i]))
            .header("idempotency-key", format!("e{n}"))
            .json(&json!({ "n": n }))
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return true,
            Ok(r) if r.status().is_server_error() => {}
            Ok(r) => panic!("event {n}: {}", r.status()),
            Err(_) => alive[i].store(false, Ordering::Relaxed),
        }
    }
    false
}

#[test]
fn three_hosts_share_one_queue_and_finish_a_killed_servers_runs() {
    let Some(s) =
        Sandbox::on_postgres("three_hosts_share_one_queue_and_finish_a_killed_servers_runs")
    else {
        return;
    };
    let Some(hosts) = Hosts::make(3) else {
        return;
    };
    // the store as the hosts reach it: this host's address on their bridge
    let mut url = url::Url::parse(s.pg.as_ref().unwrap().url()).unwrap();
    url.set_host(Some(&format!("{}.1", hosts.prefix))).unwrap();
    let store_url = url.to_string();
    // the data database too, where each run notes its event once (db.exec, exactly once)
    let data = flowdeck::store::postgres::scratch::ScratchDatabase::for_test("data").unwrap();
    let mut data_url = url::Url::parse(data.url()).unwrap();
    data_url
        .set_host(Some(&format!("{}.1", hosts.prefix)))
        .unwrap();
    let job = r#"{"name": "job", "on": "job", "steps": [
        {"id": "n", "action": "set", "var": "n", "value": "{{$param.n}}"},
        {"id": "hit", "action": "db.exec", "sql": "INSERT INTO hits (event, n) VALUES (?, ?)",
         "args": ["{{$event.id}}", "{{$var.n}}"]},
        {"id": "pause", "action": "sleep", "ms": 5},
        {"id": "done", "action": "return", "value": "{{$var.n}}"}]}"#;
    let root = s.project(
        "p",
        Some("CREATE TABLE IF NOT EXISTS hits (event BIGINT NOT NULL, n BIGINT NOT NULL);"),
        &[("workflows/job.json", job)],
    );
    std::fs::write(
        root.join("flowdeck.toml"),
        format!("name = \"p\"\n[engine]\nlease_ms = 3000\n[data]\nurl = \"{data_url}\"\n"),
    )
    .unwrap();
    s.import_and_deploy(&root);

    let mut servers: Vec<_> = (0..3).map(|i| hosts.serve(i, &store_url, &s)).collect();
    let bases: Vec<String> = (0..3)
        .map(|i| format!("http://{}:8080", hosts.address(i)))
        .collect();
    for base in &bases {
        let addr = base.trim_start_matches("http://").to_string();
        let listening = (0..500).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            std::net::TcpStream::connect(&addr).is_ok()
        });
        assert!(listening, "{base} did not listen");
    }

    let events = 30_000;
    let killed = 2;
    let store = Store::open(&s.db()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let alive: Arc<Vec<AtomicBool>> = Arc::new((0..3).map(|_| AtomicBool::new(true)).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(AtomicUsize::new(0));
    let mut held_by_the_killed = false;
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let bases = Arc::new(bases.clone());
        let posters: Vec<_> = (0..24)
            .map(|_| {
                let (client, bases, alive, next, acked) = (
                    client.clone(),
                    bases.clone(),
                    alive.clone(),
                    next.clone(),
                    acked.clone(),
                );
                tokio::spawn(async move {
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= events {
                            return;
                        }
                        if post(&client, &bases, &alive, n % 3, n).await {
                            acked.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        // a third of the way in, the third server dies without a word
        while next.load(Ordering::Relaxed) < events / 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        servers[killed].kill().unwrap();
        servers[killed].wait().unwrap();
        held_by_the_killed = store
            .lease_owners(Timestamp::now())
            .unwrap()
            .iter()
            .any(|o| o.starts_with(&format!("server-{killed}/")));
        for p in posters {
            p.await.unwrap();
        }
    });
    assert_eq!(
        acked.load(Ordering::Relaxed),
        events,
        "every event acknowledged"
    );

    let all = RunFilter {
        limit: 100_000,
        ..Default::default()
    };
    let mut finished = false;
    for _ in 0..1200 {
        let runs = store.list_runs(&all).unwrap();
        if runs.len() >= events && runs.iter().all(|r| r.status == RunStatus::Succeeded) {
            finished = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for (i, child) in servers.iter_mut().enumerate() {
        if i != killed {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
        }
        let _ = child.wait();
    }
    let runs = store.list_runs(&all).unwrap();
    assert!(finished, "{} runs, not all succeeded", runs.len());
    let mut outputs: Vec<i64> = runs
        .iter()
        .map(|r| r.output.as_ref().and_then(Value::as_i64).unwrap())
        .collect();
    outputs.sort_unstable();
    assert_eq!(
        outputs,
        (0..events as i64).collect::<Vec<_>>(),
        "each event's run ran to its end exactly once"
    );
    // every event's db.exec happened once, taken-over runs included
    let hits = flowdeck::store::DataDb::open(std::path::Path::new(data_url.as_str()))
        .unwrap()
        .query(
            "SELECT count(*) AS rows, count(DISTINCT event) AS events FROM hits",
            &[],
        )
        .unwrap();
    assert_eq!(hits[0]["rows"], json!(events), "{hits:?}");
    assert_eq!(hits[0]["events"], json!(events), "{hits:?}");
    let taken_over = runs.iter().filter(|r| r.attempt > 1).count();
    if held_by_the_killed {
        assert!(taken_over > 0, "the killed server's runs were taken over");
    }
    eprintln!("{taken_over} runs of the killed server finished by the others");
}
