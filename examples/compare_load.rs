//! Load driver of `bench/compare.sh`: the same append workload against kaledger over HTTP
//! and against a hand-rolled PostgreSQL events table, then one comparison table.
//!
//! ```text
//! compare_load kaledger BASE_URL TOKEN OUT.tsv     # a running `kaledger serve`
//! compare_load postgres CONNINFO OUT.tsv           # a running PostgreSQL with bench/postgres_events.sql applied
//! compare_load report KALEDGER.tsv POSTGRES.tsv    # the table (plus `meta` lines the script appended)
//! ```
//!
//! Workloads, each with 1, 8 and 64 concurrent clients (`BENCH_CLIENTS`), a fixed number of
//! requests per client, every client on its own connection:
//! - `single`: one sale line per request. kaledger: `POST /v1/sales` with one line (acknowledged
//!   after the group's flush and `fdatasync`). PostgreSQL: one transaction that reads the
//!   stream's current version and inserts version + 1 (retried on a unique violation).
//! - `batch`: `BENCH_BATCH_LINES` (1,000) lines per request, one account. kaledger: one
//!   `POST /v1/sales`; PostgreSQL: one transaction that reads the version and inserts the
//!   1,000 rows with versions v+1…v+1000 in one statement.
//! - `entitlements` / `accruals`: queries while `BENCH_QUERY_INGESTERS` other clients append
//!   single lines. kaledger: `GET /v1/accounts/{id}/entitlements?as_of=2026-06-30` and
//!   `GET /v1/accounts/{id}/rebates?period=2026-Q2`. PostgreSQL has no such read model; the
//!   analog is what the same team would write first: the account's 12-month net revenue, cost
//!   and active months, and its quarter's net revenue, aggregated from the events table.
//!
//! Sale lines are identical for both systems (same accounts, invoices, amounts and dates);
//! client `c` writes to account `c % BENCH_ACCOUNTS`, so with the default 64 accounts no two
//! clients share a stream.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::sync::Barrier;

/// Workload sizes, from the environment (defaults keep `bench/compare.sh` near 5 minutes on
/// the 2-core reference machine).
#[derive(Debug, Clone)]
struct Config {
    clients: Vec<usize>,
    single_requests: usize,
    batch_requests: usize,
    batch_lines: usize,
    query_requests: usize,
    query_ingesters: usize,
    accounts: usize,
}

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, got {v:?}")),
        Err(_) => default,
    }
}

impl Config {
    fn from_env() -> Config {
        let clients = std::env::var("BENCH_CLIENTS")
            .unwrap_or_else(|_| "1,8,64".to_string())
            .split(',')
            .map(|c| {
                c.trim()
                    .parse()
                    .expect("BENCH_CLIENTS: comma-separated numbers")
            })
            .collect();
        let config = Config {
            clients,
            single_requests: env_usize("BENCH_SINGLE_REQUESTS", 400),
            batch_requests: env_usize("BENCH_BATCH_REQUESTS", 5),
            batch_lines: env_usize("BENCH_BATCH_LINES", 1000),
            query_requests: env_usize("BENCH_QUERY_REQUESTS", 200),
            query_ingesters: env_usize("BENCH_QUERY_INGESTERS", 4),
            accounts: env_usize("BENCH_ACCOUNTS", 64).max(1),
        };
        assert!(
            config.clients.iter().all(|&c| c > 0),
            "BENCH_CLIENTS: counts must be positive"
        );
        config
    }
}

fn account_id(i: usize) -> String {
    format!("BENCH-{i:03}")
}

/// One sale line, the same JSON for both systems; `seq` spreads the business dates over the
/// twelve months before 2026-07-01 and the SKUs over fifty codes.
fn sale_line(account: &str, invoice: &str, line: usize, seq: usize) -> Value {
    let day = chrono::NaiveDate::from_ymd_opt(2025, 7, 1).expect("date")
        + chrono::Days::new((seq % 365) as u64);
    json!({"account_id": account, "invoice_id": invoice, "line": line, "sku": format!("SKU-{:03}", seq % 50),
        "category": "beverages", "quantity": "12", "net_amount": "345.60", "cost_amount": "250.00",
        "occurred_on": day.format("%Y-%m-%d").to_string()})
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Query {
    Entitlements,
    Accruals,
}

/// Where the load goes.
#[derive(Clone)]
enum Target {
    Http {
        client: reqwest::Client,
        base: Arc<str>,
        token: Arc<str>,
    },
    Postgres {
        conninfo: Arc<str>,
    },
}

/// One client's connection.
enum Conn {
    Http {
        client: reqwest::Client,
        base: Arc<str>,
        token: Arc<str>,
    },
    Postgres(Box<PgConn>),
}

struct PgConn {
    client: tokio_postgres::Client,
    current_version: tokio_postgres::Statement,
    insert_one: tokio_postgres::Statement,
    insert_many: tokio_postgres::Statement,
    entitlements: tokio_postgres::Statement,
    accruals: tokio_postgres::Statement,
}

/// The stream's current version (0 when empty), through the unique (stream, version) index.
const PG_CURRENT_VERSION: &str =
    "SELECT coalesce(max(version), 0)::bigint FROM events WHERE stream = $1";
const PG_INSERT_ONE: &str = "INSERT INTO events (stream, version, type, payload, recorded_at) \
     VALUES ($1, $2, 'SaleRecorded', $3, now())";
const PG_INSERT_MANY: &str = "INSERT INTO events (stream, version, type, payload, recorded_at) \
     SELECT $1, $2 + t.i, 'SaleRecorded', t.p, now() FROM unnest($3::jsonb[]) WITH ORDINALITY AS t(p, i)";
/// The entitlement inputs of one account (12-month window ending 2026-06-30): net revenue,
/// cost and active months, from the account's events.
const PG_ENTITLEMENTS: &str = "SELECT coalesce(sum((payload->>'net_amount')::numeric), 0)::text, \
     coalesce(sum((payload->>'cost_amount')::numeric), 0)::text, \
     count(DISTINCT substr(payload->>'occurred_on', 1, 7)) \
     FROM events WHERE stream = $1 AND type = 'SaleRecorded' \
     AND payload->>'occurred_on' BETWEEN '2025-07-01' AND '2026-06-30'";
/// The rebate basis of one account for 2026-Q2.
const PG_ACCRUALS: &str = "SELECT coalesce(sum((payload->>'net_amount')::numeric), 0)::text \
     FROM events WHERE stream = $1 AND type = 'SaleRecorded' \
     AND payload->>'occurred_on' BETWEEN '2026-04-01' AND '2026-06-30'";

impl Target {
    async fn connect(&self) -> Conn {
        match self {
            Target::Http {
                client,
                base,
                token,
            } => {
                // Opens this client's keep-alive connection before the clock starts.
                let r = client
                    .get(format!("{base}/healthz"))
                    .send()
                    .await
                    .expect("healthz");
                assert!(r.status().is_success());
                let _ = r.bytes().await;
                Conn::Http {
                    client: client.clone(),
                    base: base.clone(),
                    token: token.clone(),
                }
            }
            Target::Postgres { conninfo } => {
                let (client, connection) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls)
                    .await
                    .expect("connect to PostgreSQL");
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        eprintln!("postgres connection: {e}");
                    }
                });
                let current_version = client.prepare(PG_CURRENT_VERSION).await.expect("prepare");
                let insert_one = client.prepare(PG_INSERT_ONE).await.expect("prepare");
                let insert_many = client.prepare(PG_INSERT_MANY).await.expect("prepare");
                let entitlements = client.prepare(PG_ENTITLEMENTS).await.expect("prepare");
                let accruals = client.prepare(PG_ACCRUALS).await.expect("prepare");
                Conn::Postgres(Box::new(PgConn {
                    client,
                    current_version,
                    insert_one,
                    insert_many,
                    entitlements,
                    accruals,
                }))
            }
        }
    }
}

impl Conn {
    /// Appends the lines (all of one account) durably; returns the number of retries.
    async fn append(&mut self, account: &str, lines: &[Value]) -> u64 {
        match self {
            Conn::Http {
                client,
                base,
                token,
            } => {
                let body = serde_json::to_vec(&json!({ "lines": lines })).expect("encode");
                let r = client
                    .post(format!("{base}/v1/sales"))
                    .bearer_auth(&**token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("POST /v1/sales");
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                assert_eq!(status, 201, "POST /v1/sales: {text}");
                0
            }
            Conn::Postgres(pg) => {
                let stream = format!("account/{account}");
                let mut retries = 0;
                loop {
                    let tx = pg.client.transaction().await.expect("BEGIN");
                    let version: i64 = tx
                        .query_one(&pg.current_version, &[&stream])
                        .await
                        .expect("read version")
                        .get(0);
                    let inserted = if lines.len() == 1 {
                        tx.execute(&pg.insert_one, &[&stream, &(version + 1), &lines[0]])
                            .await
                    } else {
                        tx.execute(&pg.insert_many, &[&stream, &version, &lines])
                            .await
                    };
                    match inserted {
                        Ok(n) => {
                            assert_eq!(n as usize, lines.len());
                            tx.commit().await.expect("COMMIT");
                            return retries;
                        }
                        Err(e)
                            if e.code()
                                == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) =>
                        {
                            retries += 1;
                            tx.rollback().await.expect("ROLLBACK");
                        }
                        Err(e) => panic!("insert: {e}"),
                    }
                }
            }
        }
    }

    async fn query(&mut self, query: Query, account: &str) {
        match self {
            Conn::Http {
                client,
                base,
                token,
            } => {
                let path = match query {
                    Query::Entitlements => {
                        format!("/v1/accounts/{account}/entitlements?as_of=2026-06-30")
                    }
                    Query::Accruals => format!("/v1/accounts/{account}/rebates?period=2026-Q2"),
                };
                let r = client
                    .get(format!("{base}{path}"))
                    .bearer_auth(&**token)
                    .send()
                    .await
                    .expect("GET");
                let status = r.status().as_u16();
                let body = r.bytes().await.expect("body");
                assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
            }
            Conn::Postgres(pg) => {
                let stream = format!("account/{account}");
                let statement = match query {
                    Query::Entitlements => &pg.entitlements,
                    Query::Accruals => &pg.accruals,
                };
                let row = pg
                    .client
                    .query_one(statement, &[&stream])
                    .await
                    .expect("query");
                let _basis: String = row.get(0);
            }
        }
    }
}

/// One measured row.
#[derive(Debug, Clone, Default)]
struct Row {
    workload: String,
    clients: usize,
    requests: usize,
    /// Events written (append rows) or queries answered (query rows).
    units: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
    retries: u64,
    /// Events/s appended in the background during a query row.
    background_per_s: f64,
}

impl Row {
    fn per_second(&self) -> f64 {
        self.units as f64 / self.seconds
    }
    fn tsv(&self) -> String {
        format!(
            "row\t{}\t{}\t{}\t{}\t{:.6}\t{:.4}\t{:.4}\t{}\t{:.1}",
            self.workload,
            self.clients,
            self.requests,
            self.units,
            self.seconds,
            self.p50_ms,
            self.p99_ms,
            self.retries,
            self.background_per_s
        )
    }
    fn parse(line: &str) -> Option<Row> {
        let f: Vec<&str> = line.split('\t').collect();
        if f.first() != Some(&"row") || f.len() < 10 {
            return None;
        }
        Some(Row {
            workload: f[1].to_string(),
            clients: f[2].parse().ok()?,
            requests: f[3].parse().ok()?,
            units: f[4].parse().ok()?,
            seconds: f[5].parse().ok()?,
            p50_ms: f[6].parse().ok()?,
            p99_ms: f[7].parse().ok()?,
            retries: f[8].parse().ok()?,
            background_per_s: f[9].parse().ok()?,
        })
    }
}

/// Nearest-rank percentile of sorted latencies, in milliseconds.
fn percentile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}

/// `clients` clients, each sending `requests` appends of `lines` lines to its own account.
async fn run_appends(
    target: &Target,
    config: &Config,
    workload: &str,
    clients: usize,
    requests: usize,
    lines: usize,
) -> Row {
    let barrier = Arc::new(Barrier::new(clients + 1));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (target, barrier) = (target.clone(), barrier.clone());
        let account = account_id(c % config.accounts);
        let workload = workload.to_string();
        tasks.push(tokio::spawn(async move {
            let mut conn = target.connect().await;
            // Request bodies are prepared before the clock starts; encoding is timed.
            let batches: Vec<Vec<Value>> = (0..requests)
                .map(|r| {
                    let invoice = format!("{workload}-{clients}-C{c}-R{r}");
                    (0..lines)
                        .map(|l| sale_line(&account, &invoice, l + 1, c * 7 + r * 31 + l))
                        .collect()
                })
                .collect();
            let mut latencies = Vec::with_capacity(requests);
            let mut retries = 0;
            barrier.wait().await;
            for batch in &batches {
                let sent = Instant::now();
                retries += conn.append(&account, batch).await;
                latencies.push(sent.elapsed());
            }
            (latencies, retries)
        }));
    }
    barrier.wait().await;
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(clients * requests);
    let mut retries = 0;
    for t in tasks {
        let (l, r) = t.await.expect("client task");
        latencies.extend(l);
        retries += r;
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort();
    Row {
        workload: workload.to_string(),
        clients,
        requests: clients * requests,
        units: clients * requests * lines,
        seconds,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        retries,
        background_per_s: 0.0,
    }
}

/// `clients` query clients on random accounts while `config.query_ingesters` other clients
/// append single lines.
async fn run_queries(target: &Target, config: &Config, query: Query, clients: usize) -> Row {
    let workload = match query {
        Query::Entitlements => "entitlements",
        Query::Accruals => "accruals",
    };
    let stop = Arc::new(AtomicBool::new(false));
    let appended = Arc::new(AtomicU64::new(0));
    let mut ingesters = Vec::new();
    for i in 0..config.query_ingesters {
        let (target, stop, appended) = (target.clone(), stop.clone(), appended.clone());
        let account = account_id(i % config.accounts);
        ingesters.push(tokio::spawn(async move {
            let mut conn = target.connect().await;
            let mut n = 0usize;
            let mut retries = 0;
            while !stop.load(Ordering::Relaxed) {
                let invoice = format!("{workload}-{clients}-I{i}-R{n}");
                retries += conn
                    .append(
                        &account,
                        &[sale_line(&account, &invoice, 1, i * 7 + n * 31)],
                    )
                    .await;
                appended.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
            retries
        }));
    }
    // Let the ingesters reach a steady rate first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let barrier = Arc::new(Barrier::new(clients + 1));
    let mut tasks = Vec::new();
    let per_client = config.query_requests;
    for c in 0..clients {
        let (target, barrier) = (target.clone(), barrier.clone());
        let accounts = config.accounts;
        tasks.push(tokio::spawn(async move {
            let mut conn = target.connect().await;
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(c as u64);
            let picks: Vec<String> = (0..per_client)
                .map(|_| account_id(rng.random_range(0..accounts)))
                .collect();
            let mut latencies = Vec::with_capacity(per_client);
            barrier.wait().await;
            for account in &picks {
                let sent = Instant::now();
                conn.query(query, account).await;
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    barrier.wait().await;
    let started = Instant::now();
    let appended_before = appended.load(Ordering::Relaxed);
    let mut latencies = Vec::with_capacity(clients * per_client);
    for t in tasks {
        latencies.extend(t.await.expect("query task"));
    }
    let seconds = started.elapsed().as_secs_f64();
    let background = appended.load(Ordering::Relaxed) - appended_before;
    stop.store(true, Ordering::Relaxed);
    let mut retries = 0;
    for i in ingesters {
        retries += i.await.expect("ingester");
    }
    latencies.sort();
    Row {
        workload: workload.to_string(),
        clients,
        requests: clients * per_client,
        units: clients * per_client,
        seconds,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        retries,
        background_per_s: background as f64 / seconds,
    }
}

/// Every workload in order; each row is printed to stderr and appended to `out`.
async fn run_all(target: &Target, config: &Config, out: &str) {
    let mut file = String::new();
    let record = |row: Row, file: &mut String| {
        eprintln!(
            "  {:<12} {:>3} clients  {:>8} units in {:>7.2} s  {:>9.0}/s  p50 {:>8.2} ms  p99 {:>8.2} ms  retries {}{}",
            row.workload,
            row.clients,
            row.units,
            row.seconds,
            row.per_second(),
            row.p50_ms,
            row.p99_ms,
            row.retries,
            if row.background_per_s > 0.0 { format!("  (background ingest {:.0} events/s)", row.background_per_s) } else { String::new() }
        );
        let _ = writeln!(file, "{}", row.tsv());
        std::fs::write(out, &*file).expect("write results");
    };
    for &clients in &config.clients {
        let row = run_appends(target, config, "single", clients, config.single_requests, 1).await;
        record(row, &mut file);
    }
    for &clients in &config.clients {
        let row = run_appends(
            target,
            config,
            "batch",
            clients,
            config.batch_requests,
            config.batch_lines,
        )
        .await;
        record(row, &mut file);
    }
    for query in [Query::Entitlements, Query::Accruals] {
        for &clients in &config.clients {
            let row = run_queries(target, config, query, clients).await;
            record(row, &mut file);
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

async fn http_json(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> Value {
    let mut request = client.request(method, &url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let r = request.send().await.expect("request");
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    assert!(status.is_success(), "{url}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn kaledger(base: &str, token: &str, out: &str) {
    let config = Config::from_env();
    eprintln!("kaledger at {base}: {config:?}");
    runtime().block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .no_proxy()
            .build()
            .expect("client");
        // Read models the queries need: the demo tier policy, the accounts, and a quarterly
        // volume program with every account enrolled.
        let policy: Vec<Value> = serde_json::from_str(
            &std::fs::read_to_string("fixtures/demo/tier-policy.json").expect("fixtures/demo/tier-policy.json"),
        )
        .expect("tier policy json");
        for version in policy {
            http_json(&client, reqwest::Method::POST, format!("{base}/v1/tier-policy"), token, Some(version)).await;
        }
        let define = json!({"program_id": "BENCH-VOL", "name": "Benchmark volume rebate", "currency": "CNY", "period": "quarterly",
            "starts_on": "2024-01-01", "ends_on": "2027-12-31", "basis": "net_revenue", "method": "incremental",
            "tiers": [{"from": "0", "rate": "1"}, {"from": "100000", "rate": "2"}, {"from": "500000", "rate": "3"}]});
        http_json(&client, reqwest::Method::POST, format!("{base}/v1/rebate-programs"), token, Some(define)).await;
        for i in 0..config.accounts {
            let id = account_id(i);
            http_json(&client, reqwest::Method::POST, format!("{base}/v1/accounts"), token,
                Some(json!({"account_id": id, "name": format!("Benchmark {i}"), "scope": "global", "currency": "CNY"}))).await;
            http_json(&client, reqwest::Method::POST, format!("{base}/v1/rebate-programs/BENCH-VOL/enrollments"), token,
                Some(json!({"account_id": id, "effective_from": "2024-01-01"}))).await;
        }
        let target = Target::Http {
            client: client.clone(),
            base: base.into(),
            token: token.into(),
        };
        run_all(&target, &config, out).await;
        let head = http_json(&client, reqwest::Method::GET, format!("{base}/v1/audit/head"), token, None).await;
        let events = head["position"].as_u64().expect("head position");
        let mut text = std::fs::read_to_string(out).expect("results");
        let _ = writeln!(text, "meta\tevents_total\t{events}");
        // Group commits and their durable syncs, from the server's own counters.
        let metrics = client.get(format!("{base}/metrics")).bearer_auth(token).send().await.expect("metrics").text().await.unwrap_or_default();
        for line in metrics.lines() {
            let mut f = line.split_whitespace();
            if let (Some(name), Some(value)) = (f.next(), f.next()) {
                let key = match name {
                    "kaledger_group_events_count" => "groups",
                    "kaledger_group_events_sum" => "group_events",
                    "kaledger_sync_data_seconds_sum" => "sync_seconds",
                    "kaledger_sync_data_seconds_count" => "syncs",
                    "kaledger_flush_seconds_sum" => "flush_seconds",
                    _ => continue,
                };
                let _ = writeln!(text, "meta\t{key}\t{value}");
            }
        }
        std::fs::write(out, text).expect("write results");
    });
}

fn postgres(conninfo: &str, out: &str) {
    let config = Config::from_env();
    eprintln!("PostgreSQL at {conninfo}: {config:?}");
    runtime().block_on(async {
        let target = Target::Postgres {
            conninfo: conninfo.into(),
        };
        run_all(&target, &config, out).await;
        let Conn::Postgres(pg) = target.connect().await else {
            unreachable!()
        };
        let events: i64 = pg
            .client
            .query_one("SELECT count(*) FROM events", &[])
            .await
            .expect("count")
            .get(0);
        let table: i64 = pg
            .client
            .query_one("SELECT pg_total_relation_size('events')", &[])
            .await
            .expect("size")
            .get(0);
        // WAL flushes (a commit's durable sync, shared by the commits waiting at that moment).
        let wal = pg
            .client
            .query_one(
                "SELECT wal_sync::float8, (wal_sync_time / 1000)::float8 FROM pg_stat_wal",
                &[],
            )
            .await
            .expect("pg_stat_wal");
        let (syncs, sync_seconds): (f64, f64) = (wal.get(0), wal.get(1));
        let mut text = std::fs::read_to_string(out).expect("results");
        let _ = writeln!(text, "meta\tevents_total\t{events}");
        let _ = writeln!(text, "meta\ttable_bytes\t{table}");
        let _ = writeln!(text, "meta\tsyncs\t{syncs}");
        let _ = writeln!(text, "meta\tsync_seconds\t{sync_seconds}");
        std::fs::write(out, text).expect("write results");
    });
}

/// Rows and `meta` key/values of one results file.
fn load(path: &str) -> (Vec<Row>, HashMap<String, String>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let rows = text.lines().filter_map(Row::parse).collect();
    let meta = text
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, '\t');
            (f.next() == Some("meta")).then(|| {
                (
                    f.next().unwrap_or("").to_string(),
                    f.next().unwrap_or("").trim().to_string(),
                )
            })
        })
        .collect();
    (rows, meta)
}

fn mib(kib: &str) -> String {
    kib.parse::<f64>()
        .map(|k| format!("{:.0} MiB", k / 1024.0))
        .unwrap_or_else(|_| "n/a".to_string())
}

fn report(kaledger_path: &str, postgres_path: &str) {
    let (k_rows, k_meta) = load(kaledger_path);
    let (p_rows, p_meta) = load(postgres_path);
    let label = |w: &str| {
        match w {
            "single" => "append, 1 line/request",
            "batch" => "append, 1,000-line batch",
            "entitlements" => "entitlements query, while ingesting",
            "accruals" => "accruals query, while ingesting",
            other => other,
        }
        .to_string()
    };
    println!("| workload | clients | requests | kaledger events/s | p50 ms | p99 ms | PostgreSQL events/s | p50 ms | p99 ms | kaledger ÷ PostgreSQL (throughput) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for k in &k_rows {
        let p = p_rows
            .iter()
            .find(|p| p.workload == k.workload && p.clients == k.clients);
        let unit = if k.workload == "single" || k.workload == "batch" {
            ""
        } else {
            " q"
        };
        let (p_rate, p_50, p_99, ratio) = match p {
            Some(p) => (
                format!("{:.0}{unit}", p.per_second()),
                format!("{:.2}", p.p50_ms),
                format!("{:.2}", p.p99_ms),
                format!("{:.1}×", k.per_second() / p.per_second()),
            ),
            None => ("n/a".into(), "n/a".into(), "n/a".into(), "n/a".into()),
        };
        println!(
            "| {} | {} | {} | {:.0}{unit} | {:.2} | {:.2} | {p_rate} | {p_50} | {p_99} | {ratio} |",
            label(&k.workload),
            k.clients,
            k.requests,
            k.per_second(),
            k.p50_ms,
            k.p99_ms
        );
    }
    println!();
    println!(
        "`q` = queries/s. Query rows ran while {} other clients appended single lines:",
        std::env::var("BENCH_QUERY_INGESTERS").unwrap_or_else(|_| "4".into())
    );
    for k in k_rows
        .iter()
        .filter(|r| r.workload != "single" && r.workload != "batch")
    {
        let p = p_rows
            .iter()
            .find(|p| p.workload == k.workload && p.clients == k.clients);
        println!(
            "- {} × {}: background ingest kaledger {:.0} events/s, PostgreSQL {} events/s",
            k.workload,
            k.clients,
            k.background_per_s,
            p.map(|p| format!("{:.0}", p.background_per_s))
                .unwrap_or_else(|| "n/a".into())
        );
    }
    let retries: u64 = p_rows.iter().map(|r| r.retries).sum();
    println!("- PostgreSQL version-conflict retries (unique violations): {retries}");
    println!();
    let per_event = |meta: &HashMap<String, String>, key: &str| -> String {
        match (
            meta.get(key).and_then(|v| v.parse::<f64>().ok()),
            meta.get("events_total").and_then(|v| v.parse::<f64>().ok()),
        ) {
            (Some(bytes), Some(events)) if events > 0.0 => format!("{:.0}", bytes / events),
            _ => "n/a".to_string(),
        }
    };
    let get = |meta: &HashMap<String, String>, key: &str| {
        meta.get(key).cloned().unwrap_or_else(|| "n/a".into())
    };
    println!("| | kaledger | PostgreSQL |");
    println!("|---|---:|---:|");
    println!(
        "| events in the log / table | {} | {} |",
        get(&k_meta, "events_total"),
        get(&p_meta, "events_total")
    );
    println!(
        "| data directory (`du -s --block-size=1`, allocated blocks) | {} B | {} B |",
        get(&k_meta, "disk_bytes"),
        get(&p_meta, "disk_bytes")
    );
    println!(
        "| disk bytes per event (allocated blocks ÷ events) | {} | {} |",
        per_event(&k_meta, "disk_bytes"),
        per_event(&p_meta, "disk_bytes")
    );
    println!(
        "| bytes per event, events table + indexes only (`pg_total_relation_size`) | | {} |",
        per_event(&p_meta, "table_bytes")
    );
    println!(
        "| bytes per event, WAL (`pg_wal`) only | | {} |",
        per_event(&p_meta, "wal_bytes")
    );
    let num = |meta: &HashMap<String, String>, key: &str| {
        meta.get(key).and_then(|v| v.parse::<f64>().ok())
    };
    if let (Some(groups), Some(events)) = (num(&k_meta, "groups"), num(&k_meta, "group_events")) {
        println!(
            "| group commits (kaledger) | {groups:.0}, {:.1} events each on average | |",
            events / groups.max(1.0)
        );
    }
    let mean_ms =
        |meta: &HashMap<String, String>| match (num(meta, "syncs"), num(meta, "sync_seconds")) {
            (Some(n), Some(s)) if n > 0.0 => format!("{n:.0}, mean {:.2} ms", s / n * 1e3),
            (Some(n), _) => format!("{n:.0}"),
            _ => "n/a".to_string(),
        };
    let flush = match (num(&k_meta, "flush_seconds"), num(&k_meta, "groups")) {
        (Some(s), Some(n)) if n > 0.0 => format!(
            " (after writing the group, mean {:.2} ms: its WAL frame, or sled's flush for a group too large for the WAL or one that fills a segment)",
            s / n * 1e3
        ),
        _ => String::new(),
    };
    println!("| durable syncs: kaledger `fdatasync` per group / PostgreSQL WAL syncs (`pg_stat_wal`) | {}{flush} | {} |", mean_ms(&k_meta), mean_ms(&p_meta));
    println!(
        "| peak memory: server VmHWM | {} | {} (postmaster) / {} (largest backend) |",
        mib(&get(&k_meta, "vmhwm_kib")),
        mib(&get(&p_meta, "vmhwm_kib")),
        mib(&get(&p_meta, "backend_vmhwm_kib"))
    );
    println!(
        "| peak memory: all server processes, PSS summed (sampled every 0.5 s) | {} | {} |",
        mib(&get(&k_meta, "peak_pss_kib")),
        mib(&get(&p_meta, "peak_pss_kib"))
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> &str {
        args.get(i).map(String::as_str).unwrap_or_else(|| {
            eprintln!("usage: compare_load kaledger BASE TOKEN OUT | postgres CONNINFO OUT | report KALEDGER.tsv POSTGRES.tsv");
            std::process::exit(2)
        })
    };
    match arg(0) {
        "kaledger" => kaledger(arg(1), arg(2), arg(3)),
        "postgres" => postgres(arg(1), arg(2)),
        "report" => report(arg(1), arg(2)),
        other => {
            eprintln!("unknown mode {other:?}");
            std::process::exit(2)
        }
    }
}
