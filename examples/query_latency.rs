//! Entitlement query latency over HTTP on a loaded ledger: starts `kaledger serve` on an
//! existing data directory (127.0.0.1), publishes the demo tier policy if none is in force,
//! then times `GET /v1/accounts/{id}/entitlements` for random accounts from 4 clients,
//! first idle, then while 4 other clients ingest single sale lines. Prints p50/p99/max.
//!
//! `cargo run --release --example query_latency -- DATA_DIR [PATH_TO_KALEDGER]`
//! (for 1M lines: `kaledger fixtures generate --accounts 500 --lines 1000000 --seed 1 --out /tmp/big`
//! then `kaledger import --data /tmp/big-ledger /tmp/big/*.csv`).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// Queries per client per phase.
const QUERIES_PER_CLIENT: usize = 1000;
/// Concurrent query clients.
const QUERY_CLIENTS: usize = 4;
/// Concurrent ingest clients in the second phase.
const INGEST_CLIENTS: usize = 4;

fn main() {
    let data = std::env::args()
        .nth(1)
        .expect("usage: query_latency DATA_DIR [KALEDGER]");
    let binary = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "target/release/kaledger".to_string());
    let name = format!("latency-{}", std::process::id());
    let token = Command::new(&binary)
        .args([
            "token", "create", "--data", &data, "--name", &name, "--role", "admin",
        ])
        .output()
        .expect("token create");
    assert!(
        token.status.success(),
        "token create failed: {}",
        String::from_utf8_lossy(&token.stderr)
    );
    let token = String::from_utf8(token.stdout)
        .expect("utf8")
        .trim()
        .to_string();
    let started = Instant::now();
    let mut server = Command::new(&binary)
        .args(["serve", "--data", &data, "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start server");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    println!(
        "server ready after {:.2} s",
        started.elapsed().as_secs_f64()
    );
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
        let get = |path: String| {
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            async move { client.get(format!("{base}{path}")).bearer_auth(token).send().await.expect("get").json::<Value>().await.expect("json") }
        };
        let policy = get("/v1/tier-policy".to_string()).await;
        if policy["versions"].as_array().is_none_or(|v| v.is_empty()) {
            let versions: Vec<Value> = serde_json::from_str(&std::fs::read_to_string("fixtures/demo/tier-policy.json").expect("demo policy")).expect("policy json");
            for v in versions {
                let r = client.post(format!("{base}/v1/tier-policy")).bearer_auth(&token).json(&v).send().await.expect("publish");
                assert!(r.status().is_success(), "publish: {}", r.text().await.unwrap_or_default());
            }
        }
        let mut ids = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let path = match &after { Some(a) => format!("/v1/accounts?limit=1000&after={a}"), None => "/v1/accounts?limit=1000".to_string() };
            let page = get(path).await;
            ids.extend(page["accounts"].as_array().expect("accounts").iter().map(|a| a["account_id"].as_str().unwrap_or_default().to_string()));
            match page["next_after"].as_str() {
                Some(next) => after = Some(next.to_string()),
                None => break,
            }
        }
        // A quarterly program with every account enrolled, for the accrual queries.
        let program = get("/v1/rebate-programs/LAT-VOL".to_string()).await;
        if program["program_id"].is_null() {
            let define = json!({"program_id": "LAT-VOL", "name": "Latency volume rebate", "currency": "CNY", "period": "quarterly",
                "starts_on": "2024-01-01", "ends_on": "2027-12-31", "basis": "net_revenue", "method": "incremental",
                "tiers": [{"from": "0", "rate": "1"}, {"from": "100000", "rate": "2"}, {"from": "500000", "rate": "3"}]});
            let r = client.post(format!("{base}/v1/rebate-programs")).bearer_auth(&token).json(&define).send().await.expect("define");
            assert!(r.status().is_success(), "define: {}", r.text().await.unwrap_or_default());
            for id in &ids {
                let r = client
                    .post(format!("{base}/v1/rebate-programs/LAT-VOL/enrollments"))
                    .bearer_auth(&token)
                    .json(&json!({"account_id": id, "effective_from": "2024-01-01"}))
                    .send()
                    .await
                    .expect("enroll");
                assert!(r.status().is_success(), "enroll: {}", r.text().await.unwrap_or_default());
            }
        }
        let ids = Arc::new(ids);
        println!("{} accounts, head {}", ids.len(), get("/v1/audit/head".to_string()).await["position"]);
        println!("| query | phase | queries | p50 ms | p99 ms | max ms | queries/s |");
        println!("|---|---|---:|---:|---:|---:|---:|");
        for (query, per_client) in [("entitlements", QUERIES_PER_CLIENT), ("account rebates", QUERIES_PER_CLIENT), ("program accruals (all accounts)", QUERIES_PER_CLIENT / 10)] {
        for phase in ["idle", "while ingesting"] {
            let stop = Arc::new(AtomicBool::new(false));
            let mut ingesters = Vec::new();
            if phase != "idle" {
                for c in 0..INGEST_CLIENTS {
                    let (client, base, token, ids, stop) = (client.clone(), base.clone(), token.clone(), ids.clone(), stop.clone());
                    ingesters.push(tokio::spawn(async move {
                        let mut n = 0u64;
                        while !stop.load(Ordering::Relaxed) {
                            n += 1;
                            let account = &ids[(n as usize * 7 + c) % ids.len()];
                            let line = json!({"account_id": account, "invoice_id": format!("LAT-{c}-{n}-{}", std::process::id()), "line": 1, "sku": "SKU-BEV-001",
                                "category": "beverages", "quantity": "3", "net_amount": "99.00", "cost_amount": "70.00", "occurred_on": "2026-10-15"});
                            let _ = client.post(format!("{base}/v1/sales")).bearer_auth(&token).json(&json!({"lines": [line]})).send().await;
                        }
                        n
                    }));
                }
            }
            let began = Instant::now();
            let mut tasks = Vec::new();
            for c in 0..QUERY_CLIENTS {
                let (client, base, token, ids) = (client.clone(), base.clone(), token.clone(), ids.clone());
                tasks.push(tokio::spawn(async move {
                    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(c as u64);
                    let mut latencies = Vec::with_capacity(per_client);
                    for _ in 0..per_client {
                        let account = &ids[rng.random_range(0..ids.len())];
                        let path = match query {
                            "entitlements" => format!("/v1/accounts/{account}/entitlements?as_of=2026-10-31"),
                            "account rebates" => format!("/v1/accounts/{account}/rebates?period=2026-Q2"),
                            _ => "/v1/rebate-programs/LAT-VOL/accruals?period=2026-Q2".to_string(),
                        };
                        let sent = Instant::now();
                        let r = client.get(format!("{base}{path}")).bearer_auth(&token).send().await.expect("query");
                        assert!(r.status().is_success());
                        let _ = r.bytes().await;
                        latencies.push(sent.elapsed());
                    }
                    latencies
                }));
            }
            let mut latencies = Vec::new();
            for t in tasks {
                latencies.extend(t.await.expect("client"));
            }
            let seconds = began.elapsed().as_secs_f64();
            stop.store(true, Ordering::Relaxed);
            let mut ingested = 0;
            for i in ingesters {
                ingested += i.await.unwrap_or(0);
            }
            latencies.sort();
            let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)].as_secs_f64() * 1e3;
            println!("| {query} | {phase} | {} | {:.2} | {:.2} | {:.2} | {:.0} |", latencies.len(), at(0.5), at(0.99), at(1.0), latencies.len() as f64 / seconds);
            if ingested > 0 {
                eprintln!("(ingested {ingested} single-line requests meanwhile)");
            }
        }
        }
    });
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(server.id().to_string())
        .status();
    let _ = server.wait();
}
