//! The example projects, built into the binary: `flowdeck init` writes one, `flowdeck demo`
//! seeds a store from the shop (and tests and benchmarks start from them).

use crate::engine::import::import_project;
use crate::model::project;
use crate::store::Store;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

/// Every file of the shop example, by path relative to the project folder.
pub const FILES: &[(&str, &str)] = &[
    (
        "flowdeck.toml",
        include_str!("../assets/example/flowdeck.toml"),
    ),
    ("schema.sql", include_str!("../assets/example/schema.sql")),
    (
        "endpoints/create_order.json",
        include_str!("../assets/example/endpoints/create_order.json"),
    ),
    (
        "endpoints/get_sku.json",
        include_str!("../assets/example/endpoints/get_sku.json"),
    ),
    (
        "workflows/reorder_supply.json",
        include_str!("../assets/example/workflows/reorder_supply.json"),
    ),
    (
        "workflows/notify_buyer.json",
        include_str!("../assets/example/workflows/notify_buyer.json"),
    ),
    (
        "workflows/receive_stock.json",
        include_str!("../assets/example/workflows/receive_stock.json"),
    ),
    (
        "workflows/slack_alert.json",
        include_str!("../assets/example/workflows/slack_alert.json"),
    ),
    (
        "tests/create_order.test.json",
        include_str!("../assets/example/tests/create_order.test.json"),
    ),
    (
        "tests/get_sku.test.json",
        include_str!("../assets/example/tests/get_sku.test.json"),
    ),
    (
        "tests/notify_buyer.test.json",
        include_str!("../assets/example/tests/notify_buyer.test.json"),
    ),
    (
        "tests/receive_stock.test.json",
        include_str!("../assets/example/tests/receive_stock.test.json"),
    ),
    (
        "tests/reorder_supply.test.json",
        include_str!("../assets/example/tests/reorder_supply.test.json"),
    ),
    (
        "tests/sku_reorder.test.json",
        include_str!("../assets/example/tests/sku_reorder.test.json"),
    ),
    (
        "tests/__snapshots__/create_order.the_whole_cascade_of_a_low_stock_order.json",
        include_str!(
            "../assets/example/tests/__snapshots__/create_order.the_whole_cascade_of_a_low_stock_order.json"
        ),
    ),
    (
        "tests/__snapshots__/reorder_supply.the_whole_trace_offline.json",
        include_str!(
            "../assets/example/tests/__snapshots__/reorder_supply.the_whole_trace_offline.json"
        ),
    ),
];

/// Every file of the benchmark project (one event, two listeners of three steps).
pub const BENCH_FILES: &[(&str, &str)] = &[
    (
        "flowdeck.toml",
        include_str!("../assets/bench/flowdeck.toml"),
    ),
    ("schema.sql", include_str!("../assets/bench/schema.sql")),
    (
        "endpoints/hit.json",
        include_str!("../assets/bench/endpoints/hit.json"),
    ),
    (
        "workflows/tally.json",
        include_str!("../assets/bench/workflows/tally.json"),
    ),
    (
        "workflows/audit.json",
        include_str!("../assets/bench/workflows/audit.json"),
    ),
    // params of a realistic size for `flowdeck bench hit --params @bench/order.json`
    ("order.json", include_str!("../assets/bench/order.json")),
];

/// A project's files: path within the project, contents.
pub type Files = &'static [(&'static str, &'static str)];

/// The examples `flowdeck init --example` writes: name, what it is, files.
pub const EXAMPLES: &[(&str, &str, Files)] = &[
    ("shop", "orders, stock and reorders (the demo)", FILES),
    (
        "bench",
        "one event with two listeners of three steps, for `flowdeck bench`",
        BENCH_FILES,
    ),
];

/// The files of the example called `name`.
pub fn files(name: &str) -> anyhow::Result<&'static [(&'static str, &'static str)]> {
    match EXAMPLES.iter().find(|(n, _, _)| *n == name) {
        Some((_, _, files)) => Ok(files),
        None => bail!(
            "no example called {name:?}; choose one of: {}",
            EXAMPLES
                .iter()
                .map(|(n, what, _)| format!("{n} ({what})"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Params (an endpoint's request) the demo starts each definition's editor with.
pub const DEMO_PARAMS: &[(&str, &str)] = &[
    ("reorder_supply", "{\n  \"sku\": 1\n}"),
    ("notify_buyer", "{\n  \"sku\": 1\n}"),
    (
        "receive_stock",
        "{\n  \"sku\": 1,\n  \"po\": 1,\n  \"qty\": 100\n}",
    ),
    ("slack_alert", "{\n  \"sku\": 1,\n  \"stock\": 40\n}"),
    // the endpoints' requests, for Debug Mode
    (
        "POST /orders",
        "{\n  \"body\": {\n    \"sku\": {\n      \"id\": 1\n    },\n    \"quantity\": 60\n  },\n  \"query\": {},\n  \"headers\": {},\n  \"path\": {}\n}",
    ),
    (
        "GET /skus/{id}",
        "{\n  \"body\": null,\n  \"query\": {},\n  \"headers\": {},\n  \"path\": {\n    \"id\": \"1\"\n  }\n}",
    ),
];

/// Write an example's `files` into `dir`, which must not exist or be empty.
pub fn write(dir: &Path, files: &[(&str, &str)]) -> anyhow::Result<()> {
    if dir.exists()
        && dir
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!(
            "{} already exists and is not empty; choose a new folder (nothing was written)",
            dir.display()
        );
    }
    overwrite(dir, files)
}

/// Write an example's `files` into `dir`, replacing files of the same names.
pub fn overwrite(dir: &Path, files: &[(&str, &str)]) -> anyhow::Result<()> {
    for (path, text) in files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&target, text)
            .with_context(|| format!("cannot write {}", target.display()))?;
    }
    Ok(())
}

/// Seed the store at `db` with the example: write its files beside the store (in
/// `demo-project/`), import them, deploy everything, and give each workflow starting params.
pub fn seed(db: &Path) -> anyhow::Result<()> {
    let folder = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        .join("demo-project");
    overwrite(&folder, FILES)?;
    let loaded = project::load(&folder)?;
    let mut store = Store::open(db)?;
    let report = import_project(&mut store, &loaded)?;
    if !report.is_clean() {
        bail!(
            "the bundled example does not import: {}",
            report
                .diagnostics
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    for row in store.list_definitions()? {
        store.deploy(row.id)?;
    }
    for (workflow, params) in DEMO_PARAMS {
        let key = crate::tui::data::params_key(workflow);
        if store.ui_get(&key)?.is_none() {
            store.ui_set(&key, params)?;
        }
    }
    Ok(())
}
