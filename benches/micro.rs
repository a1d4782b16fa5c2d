//! Micro-benchmarks (criterion): template evaluation, the interpreter's cost per step, and
//! store writes per record. Run: `cargo bench --bench micro`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use flowdeck::engine::Engine;
use flowdeck::engine::context::{Inputs, RunContext};
use flowdeck::engine::interpreter::Interpreter;
use flowdeck::engine::program::{self, Origin};
use flowdeck::expr::{Bindings, Global, Scope, Template};
use flowdeck::model::{DefinitionKind, RunMode, RunStatus, StepRecord, StepStatus, Timestamp};
use flowdeck::model::{LazyJson, parse_definition};
use flowdeck::store::events::NewEvent;
use flowdeck::store::runs::NewRun;
use flowdeck::store::steps::EncodedSteps;
use flowdeck::store::{HotWrites, Store};
use serde_json::{Value, json};
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(1);

fn templates(c: &mut Criterion) {
    let param = json!({"sku": 42, "name": "beans"});
    let var = json!({"n": 7, "rows": [{"stock": 40}]});
    let bindings = Bindings::new()
        .with(Global::Param, &param)
        .with(Global::Var, &var);
    let mut group = c.benchmark_group("template");
    for (name, text) in [
        ("path $param.sku", json!("{{$param.sku}}")),
        ("path $var.rows[0].stock", json!("{{$var.rows[0].stock}}")),
        ("arithmetic $var.n * 2 + 1", json!("{{ $var.n * 2 + 1 }}")),
        (
            "interpolation",
            json!("order {{$param.sku}} ({{$param.name}}) for {{$var.n}} units"),
        ),
        (
            "object of paths",
            json!({"sku": "{{$param.sku}}", "n": "{{$var.n}}"}),
        ),
    ] {
        let t = Template::compile(&text, Scope::WORKFLOW).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| black_box(t.eval(black_box(&bindings), LIMIT).unwrap()));
        });
    }
    group.finish();
}

/// A workflow of `n` `set` steps.
fn set_steps(n: usize) -> String {
    let steps: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"id": "s{i}", "action": "set", "var": "v{}", "value": "{{{{$param.sku}}}}"}}"#,
                i % 4
            )
        })
        .collect();
    format!(
        r#"{{"name": "w", "on": "e", "steps": [{}]}}"#,
        steps.join(",")
    )
}

fn steps(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(&dir.path().join("flowdeck.db"), 1).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    const N: usize = 100;
    let def = parse_definition(
        &set_steps(N),
        Path::new("w.json"),
        Some(DefinitionKind::Workflow),
    )
    .definition
    .unwrap();
    let program = Arc::new(
        program::compile(
            &def,
            Origin {
                file: Path::new("w.json"),
                text: None,
            },
            1,
            Some(1),
        )
        .unwrap(),
    );
    let context = RunContext {
        run_id: 1,
        version: Some(1),
        kind: DefinitionKind::Workflow,
        name: "w".into(),
        mode: RunMode::Live,
        event: None,
        tracker: None,
        resumed: false,
    };
    let env = Arc::new(json!({}));
    let mut group = c.benchmark_group("interpreter");
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("set step (per step, with its record)", |b| {
        b.iter_batched(
            || {
                Interpreter::new(
                    program.clone(),
                    Inputs::workflow(LazyJson::shared(json!({"sku": 42})), Value::Null),
                    env.clone(),
                    LIMIT,
                )
            },
            |mut interpreter| {
                rt.block_on(async {
                    while !interpreter.is_finished() {
                        black_box(interpreter.step(&**engine.core(), &context).await);
                    }
                });
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

fn record(seq: u32) -> StepRecord {
    StepRecord {
        seq,
        step: format!("s{seq}"),
        path: format!("/steps/{}", seq - 1),
        action: "set".into(),
        status: StepStatus::Succeeded,
        input: json!({"var": "n", "value": 42}),
        output: json!(42),
        error: None,
        vars: Some(json!({"n": 42})),
        started_at: Timestamp::now(),
        duration_us: 3,
        attempt: 1,
        iteration: Vec::new(),
    }
}

/// A store with the bench example imported and deployed; the ids of its two workflows.
fn bench_store(dir: &Path) -> (Store, [(i64, &'static str); 2]) {
    let project = dir.join("p");
    flowdeck::example::write(&project, flowdeck::example::BENCH_FILES).unwrap();
    let loaded = flowdeck::model::project::load(&project).unwrap();
    let mut store = Store::open(&dir.join("flowdeck.db")).unwrap();
    flowdeck::engine::import::import_project(&mut store, &loaded).unwrap();
    let mut ids = [(0, "tally"), (0, "audit")];
    for row in store.list_definitions().unwrap() {
        store.deploy(row.id).unwrap();
        for (id, name) in &mut ids {
            if row.name == *name {
                *id = row.id;
            }
        }
    }
    (store, ids)
}

fn store(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, workflows) = bench_store(dir.path());
    let params = json!({"n": 1});
    let params_json = params.to_string();
    let mut group = c.benchmark_group("store");
    const BATCH: u64 = 1000;
    // one run to hang the step records on
    let run = store
        .transaction(|s| {
            Ok(s.insert_run(&NewRun {
                definition_id: workflows[0].0,
                kind: DefinitionKind::Workflow,
                target: "tally",
                version: Some(1),
                event_id: None,
                mode: RunMode::Live,
                params_json: &params_json,
                lease_owner: None,
                lease_expires: None,
            })?
            .0)
        })
        .unwrap();
    let mut seq = 0u32;
    let mut encoded = EncodedSteps::default();
    for i in 1..=3 {
        encoded.push(&record(i));
    }
    group.throughput(Throughput::Elements(BATCH));
    group.bench_function("step record (per record, 1,000 per transaction)", |b| {
        b.iter(|| {
            store
                .transaction(|s| {
                    for _ in 0..BATCH {
                        seq += 1;
                        s.insert_step(run, &record(seq))?;
                    }
                    Ok(())
                })
                .unwrap();
        });
    });
    // an event with two listeners of three steps, written the way the engine writes it:
    // the event and two queued runs, then per run three step records and its end
    const EVENTS: u64 = 100;
    group.throughput(Throughput::Elements(EVENTS));
    group.bench_function(
        "event with two runs of three steps (per event, 100 per transaction)",
        |b| {
            b.iter(|| {
                store
                    .transaction(|s| {
                        for _ in 0..EVENTS {
                            let (event, _) = s.insert_event(&NewEvent {
                                name: "hit",
                                params: &params,
                                params_json: &params_json,
                                source: "bench",
                                parent_run: None,
                                depth: 0,
                                chain: &[],
                                draft: false,
                                dedup_key: None,
                            })?;
                            let mut runs = Vec::new();
                            for (definition_id, target) in workflows {
                                runs.push(
                                    s.insert_run(&NewRun {
                                        definition_id,
                                        kind: DefinitionKind::Workflow,
                                        target,
                                        version: Some(1),
                                        event_id: Some(event.record.id),
                                        mode: RunMode::Live,
                                        params_json: &params_json,
                                        lease_owner: Some("bench"),
                                        lease_expires: Some(Timestamp::now()),
                                    })?
                                    .0,
                                );
                            }
                            for run in runs {
                                s.insert_encoded_steps(run, &encoded)?;
                                s.finish_run_started(
                                    run,
                                    Some(Timestamp::now()),
                                    RunStatus::Succeeded,
                                    Some("{\"n\":1}"),
                                    None,
                                )?;
                            }
                        }
                        Ok(())
                    })
                    .unwrap();
            });
        },
    );
    group.finish();
}

criterion_group!(benches, templates, steps, store);
criterion_main!(benches);
