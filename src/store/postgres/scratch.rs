//! Scratch databases on a PostgreSQL server, for tests and benchmarks: each gets a database
//! of its own, made fresh and dropped when done, so that they run side by side.

use super::wait;
use crate::store::{Result, StoreError};
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable that gives the tests a PostgreSQL server (a URL whose user may
/// create databases); `.ci/run` starts one and sets it.
pub const TEST_SERVER_VAR: &str = "FLOWDECK_TEST_PG";

/// A database made for one test; dropped with this value.
#[derive(Debug)]
pub struct ScratchDatabase {
    server: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// A fresh, empty database on the server at `server` (its URL names a database to
    /// connect to while creating this one).
    pub fn create(server: &str) -> Result<ScratchDatabase> {
        static MADE: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "flowdeck_t_{}_{}_{nanos}",
            std::process::id(),
            MADE.fetch_add(1, Ordering::Relaxed)
        );
        admin(server, &format!("CREATE DATABASE {name}"))?;
        let mut url = url::Url::parse(server)
            .map_err(|e| StoreError::Postgres(format!("{TEST_SERVER_VAR} is not a URL: {e}")))?;
        url.set_path(&format!("/{name}"));
        Ok(ScratchDatabase {
            server: server.to_string(),
            name,
            url: url.to_string(),
        })
    }

    /// A fresh database on the server [`TEST_SERVER_VAR`] names; none when it names none,
    /// after saying on stderr that the test calling it was skipped, and why.
    pub fn for_test(test: &str) -> Option<ScratchDatabase> {
        let Ok(server) = std::env::var(TEST_SERVER_VAR) else {
            eprintln!(
                "skipped {test}: it needs a PostgreSQL server, and {TEST_SERVER_VAR} is not set \
                 (scripts/postgres-for-tests.sh starts one and prints the line to set it; .ci/run does both)"
            );
            return None;
        };
        match ScratchDatabase::create(&server) {
            Ok(db) => Some(db),
            Err(e) => panic!("{TEST_SERVER_VAR} is set but no database could be made there: {e}"),
        }
    }

    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let _ = admin(
            &self.server,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// Run one statement on its own connection to `server` (`CREATE DATABASE` cannot run in a
/// transaction, nor on a connection to the database it drops).
fn admin(server: &str, sql: &str) -> Result<()> {
    let config: tokio_postgres::Config = server
        .parse()
        .map_err(|e| StoreError::Postgres(format!("{TEST_SERVER_VAR}: {e}")))?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let statement = sql.to_string();
    super::runtime()?.spawn(async move {
        let done = async {
            let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
            let driver = tokio::spawn(connection);
            let out = client.batch_execute(&statement).await;
            drop(client);
            let _ = driver.await;
            out
        }
        .await;
        let _ = tx.send(done);
    });
    wait(rx)
        .map_err(|_| StoreError::Postgres("the PostgreSQL client stopped".into()))?
        .map_err(|e| StoreError::Postgres(format!("{sql}: {e}")))
}

/// Open a store on a fresh scratch database (for tests: the database goes with the guard).
pub fn scratch_store(test: &str) -> Option<(ScratchDatabase, crate::store::Store)> {
    let db = ScratchDatabase::for_test(test)?;
    let store = match crate::store::Store::open(std::path::Path::new(db.url())) {
        Ok(store) => store,
        Err(e) => panic!("cannot open a store on {}: {e}", db.url()),
    };
    Some((db, store))
}
