//! HTTP ingestion load: starts `kaledger serve` on a temporary data directory on
//! 127.0.0.1, drives `POST /v1/sales` from 1, 8 and 64 concurrent clients (single lines)
//! and 8 clients of 1,000-line batches, a fixed number of requests each, and prints
//! lines/s with p50/p99 latency. Stops the server when done.
//!
//! `cargo build --release && cargo run --release --example load_http [-- PATH_TO_KALEDGER]`

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

/// (clients, lines per request, requests per client): a fixed amount of work per row.
const WORKLOADS: &[(usize, usize, usize)] =
    &[(1, 1, 500), (8, 1, 500), (64, 1, 100), (8, 1000, 10)];

fn main() {
    let binary = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/release/kaledger".to_string());
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("ledger");
    let token = Command::new(&binary)
        .args(["token", "create", "--data"])
        .arg(&data)
        .args(["--name", "load", "--role", "admin"])
        .output()
        .expect("token create");
    assert!(token.status.success(), "token create failed");
    let token = String::from_utf8(token.stdout)
        .expect("utf8")
        .trim()
        .to_string();
    let mut server = Command::new(&binary)
        .args(["serve", "--data"])
        .arg(&data)
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start server");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    let base = line
        .trim()
        .trim_start_matches("kaledger listening on ")
        .to_string();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).no_proxy().build().expect("client");
        let opened = client
            .post(format!("{base}/v1/accounts"))
            .bearer_auth(&token)
            .json(&json!({"account_id": "load", "name": "Load", "scope": "global", "currency": "CNY"}))
            .send()
            .await
            .expect("open account");
        assert!(opened.status().is_success());
        println!("| clients | lines/request | requests | lines | seconds | lines/s | p50 ms | p99 ms |");
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (row, &(clients, lines, requests)) in WORKLOADS.iter().enumerate() {
            let started = Instant::now();
            let mut tasks = Vec::new();
            for c in 0..clients {
                let client = client.clone();
                let (base, token) = (base.clone(), token.clone());
                tasks.push(tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(requests);
                    for r in 0..requests {
                        let batch: Vec<_> = (0..lines)
                            .map(|l| json!({"account_id": "load", "invoice_id": format!("W{row}-C{c}-R{r}"), "line": l + 1, "sku": "SKU-BEV-001",
                                "category": "beverages", "quantity": "12", "net_amount": "345.60", "cost_amount": "250.00", "occurred_on": "2026-05-01"}))
                            .collect();
                        let sent = Instant::now();
                        let response = client.post(format!("{base}/v1/sales")).bearer_auth(&token).json(&json!({"lines": batch})).send().await.expect("post");
                        assert_eq!(response.status().as_u16(), 201, "{}", response.text().await.unwrap_or_default());
                        latencies.push(sent.elapsed());
                    }
                    latencies
                }));
            }
            let mut latencies = Vec::new();
            for task in tasks {
                latencies.extend(task.await.expect("client"));
            }
            let seconds = started.elapsed().as_secs_f64();
            latencies.sort();
            let pick = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)].as_secs_f64() * 1e3;
            let total = clients * lines * requests;
            println!("| {clients} | {lines} | {} | {total} | {seconds:.2} | {:.0} | {:.2} | {:.2} |", clients * requests, total as f64 / seconds, pick(0.50), pick(0.99));
        }
        let metrics = client.get(format!("{base}/metrics")).send().await.expect("metrics").text().await.unwrap_or_default();
        for line in metrics.lines().filter(|l| l.starts_with("kaledger_group_events_sum") || l.starts_with("kaledger_group_events_count")) {
            println!("{line}");
        }
    });
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(server.id().to_string())
        .status();
    let _ = server.wait();
    let size: u64 = std::fs::read_dir(&data)
        .expect("data dir")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!("data directory: {size} bytes");
}
