//! The crash test (issue 2's must-show, DESIGN §9): the real binary ingests from several
//! clients, is killed with SIGKILL mid-stream, restarts, and loses nothing it acknowledged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{cli_token, http_client, http_get, http_post, run_cli, Server};

/// Kill/restart cycles: enough to catch a crash that lands in different phases of a group
/// commit, few enough to stay well under a minute in a debug build.
const CYCLES: u64 = 8;
/// Concurrent ingesting clients, so that groups hold several requests.
const CLIENTS: u64 = 4;
/// Accounts the sale lines are spread over.
const ACCOUNTS: &[&str] = &["crash-a", "crash-b", "crash-c"];
/// Tokens created before the test starts (admin).
const TOKENS: u64 = 1;
/// No client loops longer than this, whatever happens to the server.
const CLIENT_SECONDS_MAX: u64 = 30;

/// One acknowledged (2xx) batch: what was sent and what the server answered.
#[derive(Clone)]
struct Acked {
    body: Value,
    lines: u64,
    idempotency_key: Option<String>,
    /// The parsed answer; `Null` if the connection died between headers and body.
    response: Value,
}

/// What one client thread saw.
#[derive(Default)]
struct ClientReport {
    acked: Vec<Acked>,
    /// Requests that failed because the server was being killed (in flight or refused).
    cut: u64,
    /// Anything else: a non-2xx status, an answer that does not add up, an error before the kill.
    unexpected: Vec<String>,
}

/// A small deterministic generator (xorshift), so every run sends the same shapes.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A batch of `lines` unique sale lines on invoice `invoice` (unique per cycle/client/batch).
fn sales_batch(rng: &mut Rng, invoice: &str, lines: u64) -> Value {
    let account = ACCOUNTS[rng.below(ACCOUNTS.len() as u64) as usize];
    let lines: Vec<Value> = (1..=lines)
        .map(|line| {
            let cents = 100 + rng.below(500_000);
            let category = ["beverages", "snacks", "dairy"][rng.below(3) as usize];
            json!({"account_id": account, "invoice_id": invoice, "line": line, "sku": format!("SKU-{}", rng.below(40)),
                "category": category, "quantity": (1 + rng.below(50)).to_string(),
                "net_amount": format!("{}.{:02}", cents / 100, cents % 100), "cost_amount": format!("{}.{:02}", cents * 8 / 1000, cents * 8 / 10 % 100),
                "occurred_on": format!("2026-0{}-{:02}", 1 + rng.below(9), 1 + rng.below(28))})
        })
        .collect();
    json!({ "lines": lines })
}

/// Posts batches as fast as it can until its requests fail after `killing` is set.
fn client(
    base: String,
    token: String,
    tag: String,
    seed: u64,
    killing: Arc<AtomicBool>,
    batches_max: Option<u64>,
) -> ClientReport {
    let http = http_client();
    let mut rng = Rng::new(seed);
    let mut report = ClientReport::default();
    let started = Instant::now();
    let mut batch = 0u64;
    while started.elapsed() < Duration::from_secs(CLIENT_SECONDS_MAX)
        && batches_max.is_none_or(|max| batch < max)
    {
        batch += 1;
        // Mostly single lines (many small requests per group), some 50–200 line batches.
        let lines = if rng.below(3) == 0 {
            50 + rng.below(151)
        } else {
            1
        };
        let body = sales_batch(&mut rng, &format!("INV-{tag}-{batch}"), lines);
        let idempotency_key = (batch % 3 == 0).then(|| format!("key-{tag}-{batch}"));
        let mut request = http
            .post(format!("{base}/v1/sales"))
            .bearer_auth(&token)
            .json(&body);
        if let Some(key) = &idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        match request.send() {
            Ok(response) => {
                let status = response.status().as_u16();
                // The answer comes only after the group is on disk: a 2xx status is an
                // acknowledgement even if the kill cuts the body off.
                let response = response
                    .text()
                    .ok()
                    .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                    .unwrap_or(Value::Null);
                if status != 201 {
                    report
                        .unexpected
                        .push(format!("{tag} batch {batch}: status {status}: {response}"));
                    break;
                }
                if !response.is_null()
                    && (response["recorded"] != json!(lines) || response["duplicates"] != json!(0))
                {
                    report.unexpected.push(format!(
                        "{tag} batch {batch} of {lines} lines answered {response}"
                    ));
                }
                report.acked.push(Acked {
                    body,
                    lines,
                    idempotency_key,
                    response,
                });
            }
            Err(e) => {
                if killing.load(Ordering::SeqCst) {
                    report.cut += 1;
                } else {
                    report.unexpected.push(format!("{tag} batch {batch}: {e}"));
                }
                break;
            }
        }
    }
    report
}

/// Runs `CLIENTS` clients until the server dies (`kill_after` set) or each sent `batches`.
fn ingest(
    server: Option<Server>,
    base: &str,
    token: &str,
    cycle: u64,
    kill_after: Option<Duration>,
    batches: Option<u64>,
) -> ClientReport {
    let killing = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..CLIENTS)
        .map(|thread| {
            let (base, token, killing) = (base.to_string(), token.to_string(), killing.clone());
            std::thread::spawn(move || {
                client(
                    base,
                    token,
                    format!("c{cycle}-t{thread}"),
                    cycle * 100 + thread + 1,
                    killing,
                    batches,
                )
            })
        })
        .collect();
    if let (Some(server), Some(delay)) = (server, kill_after) {
        std::thread::sleep(delay);
        killing.store(true, Ordering::SeqCst);
        server.kill9();
    }
    let mut all = ClientReport::default();
    for handle in handles {
        let report = handle.join().expect("client thread");
        all.acked.extend(report.acked);
        all.cut += report.cut;
        all.unexpected.extend(report.unexpected);
    }
    all
}

/// Re-posts every acknowledged batch: without a key each must come back all duplicates;
/// with its original key it must replay the original answer.
fn check_acknowledged(base: &str, token: &str, acked: &[Acked]) {
    let chunk = acked.len().div_ceil(CLIENTS as usize).max(1);
    std::thread::scope(|scope| {
        for part in acked.chunks(chunk) {
            scope.spawn(move || {
                let http = http_client();
                for batch in part {
                    let (status, body) = http_post(&http, base, token, "/v1/sales", &batch.body);
                    assert_eq!(status, 200, "re-posting an acknowledged batch: {body}");
                    assert_eq!(
                        (body["recorded"].as_u64(), body["duplicates"].as_u64()),
                        (Some(0), Some(batch.lines)),
                        "an acknowledged line is missing after the crash: {body}"
                    );
                    if let Some(key) = &batch.idempotency_key {
                        let response = http
                            .post(format!("{base}/v1/sales"))
                            .bearer_auth(token)
                            .header("Idempotency-Key", key)
                            .json(&batch.body)
                            .send()
                            .expect("replay with key");
                        assert_eq!(
                            response
                                .headers()
                                .get("idempotent-replayed")
                                .and_then(|v| v.to_str().ok()),
                            Some("true"),
                            "key {key} not replayed"
                        );
                        let replayed: Value = response.json().expect("replayed body");
                        assert_eq!(
                            replayed["recorded"],
                            json!(batch.lines),
                            "key {key}: {replayed}"
                        );
                        if !batch.response.is_null() {
                            assert_eq!(
                                replayed, batch.response,
                                "key {key}: the replayed answer differs from the acknowledged one"
                            );
                        }
                    }
                }
            });
        }
    });
}

fn head_position(base: &str, token: &str) -> u64 {
    let (status, head) = http_get(&http_client(), base, token, "/v1/audit/head");
    assert_eq!(status, 200, "{head}");
    head["position"].as_u64().expect("head position")
}

// Proves that every line acknowledged before a SIGKILL is present after a restart (over
// several kills), that the chain verifies, and that a rebuild from the log equals the live
// projections.
#[test]
fn kill_9_during_ingestion_loses_nothing_acknowledged() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let token = cli_token(&data, "crash-admin", "admin");
    let mut server = Server::start(&data);
    let http = http_client();
    for account in ACCOUNTS {
        let (status, body) = http_post(
            &http,
            &server.base,
            &token,
            "/v1/accounts",
            &json!({"account_id": account, "name": format!("Account {account}"), "scope": "national", "currency": "CNY"}),
        );
        assert_eq!(status, 201, "{body}");
    }
    let mut acked: Vec<Acked> = Vec::new();
    let mut acked_lines = 0u64;
    let mut last_acked_position = 0u64;
    for cycle in 1..=CYCLES {
        // Vary the moment of the kill: 100–600 ms into the stream, fixed per cycle.
        let delay = Duration::from_millis(100 + (cycle * 211) % 500);
        let base = server.base.clone();
        let report = ingest(Some(server), &base, &token, cycle, Some(delay), None);
        assert!(
            report.unexpected.is_empty(),
            "cycle {cycle}: {:#?}",
            report.unexpected
        );
        assert!(
            !report.acked.is_empty(),
            "cycle {cycle}: nothing was acknowledged before the kill"
        );
        let cycle_lines: u64 = report.acked.iter().map(|a| a.lines).sum();
        for a in &report.acked {
            if let Some(last) = a.response["last_position"].as_u64() {
                last_acked_position = last_acked_position.max(last);
            }
        }
        acked_lines += cycle_lines;
        acked.extend(report.acked.iter().cloned());

        let restarting = Instant::now();
        server = Server::start(&data);
        let restart_ms = restarting.elapsed().as_millis();
        let head = head_position(&server.base, &token);
        assert!(
            head >= acked_lines + ACCOUNTS.len() as u64 + TOKENS,
            "cycle {cycle}: head {head} < {acked_lines} acknowledged lines + accounts + tokens"
        );
        assert!(
            head >= last_acked_position,
            "cycle {cycle}: head {head} < last acknowledged position {last_acked_position}"
        );
        let checking = Instant::now();
        check_acknowledged(&server.base, &token, &acked);
        let (status, verify) = http_get(&http_client(), &server.base, &token, "/v1/audit/verify");
        assert_eq!(status, 200, "{verify}");
        assert_eq!(
            (verify["ok"].as_bool(), verify["verified_through"].as_u64()),
            (Some(true), Some(head)),
            "cycle {cycle}: {verify}"
        );
        eprintln!(
            "crash cycle {cycle}: killed after {} ms; {} batches / {cycle_lines} lines acknowledged, {} requests cut; head {head}; restart {restart_ms} ms; re-checked {} batches / {acked_lines} lines in {} ms",
            delay.as_millis(),
            report.acked.len(),
            report.cut,
            acked.len(),
            checking.elapsed().as_millis()
        );
    }

    // A last stretch on the restarted server, so the live projections also hold events
    // applied incrementally (not only replayed at start), including returns.
    let report = ingest(None, &server.base, &token, CYCLES + 1, None, Some(10));
    assert!(
        report.unexpected.is_empty(),
        "final stretch: {:#?}",
        report.unexpected
    );
    let returns: Vec<Value> = report
        .acked
        .iter()
        .take(5)
        .enumerate()
        .map(|(i, a)| {
            let line = &a.body["lines"][0];
            json!({"account_id": line["account_id"], "return_id": format!("RET-{i}"), "invoice_id": line["invoice_id"], "line": line["line"],
                "quantity": "1", "net_amount": "0.50", "cost_amount": "0.10", "occurred_on": "2026-10-01"})
        })
        .collect();
    let (status, body) = http_post(
        &http_client(),
        &server.base,
        &token,
        "/v1/returns",
        &json!({ "lines": returns }),
    );
    assert_eq!(
        (status, body["recorded"].as_u64()),
        (201, Some(5)),
        "{body}"
    );
    acked_lines += report.acked.iter().map(|a| a.lines).sum::<u64>();
    acked.extend(report.acked.iter().cloned());
    // Duplicates and replays write nothing, so this leaves the projections as they are.
    check_acknowledged(&server.base, &token, &acked);

    let (status, live) = http_get(
        &http_client(),
        &server.base,
        &token,
        "/v1/audit/projections",
    );
    assert_eq!(status, 200, "{live}");
    let head = head_position(&server.base, &token);
    assert_eq!(live["through_position"].as_u64(), Some(head), "{live}");
    server.stop();

    let verify = run_cli(["verify".as_ref(), "--data".as_ref(), data.as_os_str()]);
    assert!(
        verify.success(),
        "verify failed: {}\n{}",
        verify.stdout,
        verify.stderr
    );
    let verify = verify.json();
    assert_eq!(
        (verify["ok"].as_bool(), verify["verified_through"].as_u64()),
        (Some(true), Some(head)),
        "{verify}"
    );
    let rebuild = run_cli(["rebuild".as_ref(), "--data".as_ref(), data.as_os_str()]);
    assert!(rebuild.success(), "rebuild failed: {}", rebuild.stderr);
    let rebuild = rebuild.json();
    assert_eq!(
        rebuild["through_position"], live["through_position"],
        "rebuild {rebuild} vs live {live}"
    );
    assert_eq!(
        rebuild["digest"], live["digest"],
        "the rebuild differs from the live projections: {rebuild} vs {live}"
    );
    assert_eq!(rebuild["events"].as_u64(), Some(head), "{rebuild}");
    eprintln!(
        "crash test: {CYCLES} kill -9 cycles, {} acknowledged batches / {acked_lines} lines checked, head {head}, verify ok, rebuild digest equal; {} ms in all",
        acked.len(),
        started.elapsed().as_millis()
    );
}
