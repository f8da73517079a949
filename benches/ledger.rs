//! Benches of the ledger's two hot paths: durable group-commit appends and replay.
//!
//! Back-of-envelope: a group costs one sled batch (~1–2 µs per event), one flush and one
//! fdatasync (~1–5 ms on a VM disk). With 10,000-event groups that is ≈ 15–25 ms per
//! group, i.e. ≥ 400,000 events/s; 64 single-line writers give groups of ~64 events, so
//! ≈ 20,000 requests/s. Replay decodes and applies each event (~1–2 µs): ≥ 500,000/s.

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use kaledger::domain::commands::{OpenAccount, SaleLineInput};
use kaledger::domain::vocab::{Scope, Stage};
use kaledger::domain::Command;
use kaledger::engine::{replay, Engine, LineHome, WriteMeta};
use kaledger::ledger::{Actor, LogStore};

fn meta() -> WriteMeta {
    WriteMeta::new(
        Actor {
            name: "bench".into(),
            role: "admin".into(),
        },
        None,
        &[],
        "bench".into(),
    )
}

fn open_with_account(dir: &std::path::Path) -> Arc<Engine> {
    let engine = Arc::new(Engine::open(dir).expect("open"));
    let open = OpenAccount {
        account_id: "KA-1".into(),
        name: "Bench".into(),
        scope: Scope::Global,
        segment: None,
        manager: None,
        currency: "CNY".into(),
        stage: Stage::Basic,
    };
    engine
        .submit_blocking(Command::OpenAccount(open), meta())
        .expect("open account");
    engine
}

fn lines(prefix: &str, count: usize) -> Vec<SaleLineInput> {
    (0..count)
        .map(|i| SaleLineInput {
            account_id: Some("KA-1".into()),
            invoice_id: Some(format!("{prefix}-{}", i / 8)),
            line: Some((i % 8 + 1).to_string()),
            sku: Some("SKU-BEV-001".into()),
            category: Some("beverages".into()),
            quantity: Some("12".into()),
            net_amount: Some("345.60".into()),
            cost_amount: Some("250.00".into()),
            currency: None,
            occurred_on: Some("2026-05-01".into()),
        })
        .collect()
}

/// Submits `requests` (each a batch) from one thread per request and waits for all.
fn submit_concurrently(engine: &Arc<Engine>, requests: Vec<Vec<SaleLineInput>>) {
    std::thread::scope(|scope| {
        for batch in requests {
            let engine = engine.clone();
            scope.spawn(move || {
                engine
                    .submit_blocking(Command::RecordSales { lines: batch }, meta())
                    .expect("append")
            });
        }
    });
}

fn appends(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = open_with_account(dir.path());
    let mut round = 0u64;
    let mut group = c.benchmark_group("append");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));

    // 8 concurrent writers, 1,000-line batches: the ERP-feed shape.
    group.throughput(Throughput::Elements(8_000));
    group.bench_function("group_commit_8x1000_lines", |b| {
        b.iter_batched(
            || {
                round += 1;
                (0..8)
                    .map(|w| lines(&format!("B{round}-{w}"), 1000))
                    .collect::<Vec<_>>()
            },
            |requests| submit_concurrently(&engine, requests),
            BatchSize::PerIteration,
        )
    });

    // 64 concurrent writers, one line each: the point-of-sale shape; group commit is what
    // keeps this from costing one fsync per request.
    group.throughput(Throughput::Elements(64));
    group.bench_function("group_commit_64x1_line", |b| {
        b.iter_batched(
            || {
                round += 1;
                (0..64)
                    .map(|w| lines(&format!("S{round}-{w}"), 1))
                    .collect::<Vec<_>>()
            },
            |requests| submit_concurrently(&engine, requests),
            BatchSize::PerIteration,
        )
    });
    group.finish();
    engine.shutdown_blocking();
}

fn replays(c: &mut Criterion) {
    const EVENTS: usize = 100_000;
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let engine = open_with_account(dir.path());
        for chunk in 0..EVENTS / 10_000 {
            engine
                .submit_blocking(
                    Command::RecordSales {
                        lines: lines(&format!("R{chunk}"), 10_000),
                    },
                    meta(),
                )
                .expect("append");
        }
        engine.shutdown_blocking();
    }
    let store = LogStore::open(dir.path()).expect("open store");
    let mut group = c.benchmark_group("replay");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(EVENTS as u64 + 1));
    group.bench_function("replay_100k_events", |b| {
        // Each replay writes fresh derived stores, as a start with none would.
        b.iter(|| {
            let home = LineHome::temporary(dir.path()).expect("derived stores");
            replay(&store, &home).expect("replay").events
        })
    });
    group.finish();
}

criterion_group!(benches, appends, replays);
criterion_main!(benches);
