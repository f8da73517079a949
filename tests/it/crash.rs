//! The crash test (issue 2's must-show, DESIGN §9): the real binary ingests from several
//! clients, is killed with SIGKILL at a random moment mid-stream, restarts, and loses
//! nothing it acknowledged; after every cycle `kaledger verify` passes and
//! `kaledger rebuild` gives the digest of the live projections.
//!
//! `cargo test` runs [`CYCLES_DEFAULT`] cycles. `bench/crash_loop.sh` runs the same loop
//! with more cycles through these environment variables:
//!
//! | variable | default | what |
//! |---|---|---|
//! | `KALEDGER_CRASH_CYCLES` | 8 | kill/restart cycles |
//! | `KALEDGER_CRASH_SEED` | 1 | seed of the kill moments and of the generated lines |
//! | `KALEDGER_CRASH_RECHECK_ALL_EVERY` | 1 | every Nth cycle re-posts every batch acknowledged so far (the others re-post only their own cycle's); the last cycle always re-posts all |
//! | `KALEDGER_CRASH_KILL_MS` | `30..730` | the kill lands uniformly in this many milliseconds after the clients start |
//!
//! A failed check does not stop the loop: every cycle runs, each failure is printed with
//! its cycle, and the test fails at the end with all of them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{cli_token, http_client, http_get, http_post, run_cli, Server};

/// Kill/restart cycles under `cargo test`: enough to catch a crash that lands in different
/// phases of a group commit, few enough to stay well under a minute in a debug build.
const CYCLES_DEFAULT: u64 = 8;
/// Concurrent ingesting clients, so that groups hold several requests.
const CLIENTS: u64 = 4;
/// Accounts the sale lines are spread over.
const ACCOUNTS: &[&str] = &["crash-a", "crash-b", "crash-c"];
/// Tokens created before the test starts (admin).
const TOKENS: u64 = 1;
/// No client loops longer than this, whatever happens to the server.
const CLIENT_SECONDS_MAX: u64 = 30;
/// Batches per client in the stretch a restarted server ingests without being killed
/// (so the live projections hold events applied incrementally, not only replayed).
const STRETCH_BATCHES: u64 = 3;
/// Return lines posted in each stretch.
const STRETCH_RETURNS: usize = 3;

/// The loop's settings (see the module doc).
#[derive(Debug, Clone)]
struct Config {
    cycles: u64,
    seed: u64,
    recheck_all_every: u64,
    kill_ms: (u64, u64),
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a whole number")),
        Err(_) => default,
    }
}

impl Config {
    fn from_env() -> Config {
        let kill_ms = match std::env::var("KALEDGER_CRASH_KILL_MS") {
            Ok(v) => {
                let (lo, hi) = v
                    .split_once("..")
                    .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
                    .unwrap_or_else(|| panic!("KALEDGER_CRASH_KILL_MS={v:?} is not LO..HI"));
                assert!(lo < hi, "KALEDGER_CRASH_KILL_MS: {lo} is not below {hi}");
                (lo, hi)
            }
            Err(_) => (30, 730),
        };
        Config {
            cycles: env_u64("KALEDGER_CRASH_CYCLES", CYCLES_DEFAULT).max(1),
            seed: env_u64("KALEDGER_CRASH_SEED", 1),
            recheck_all_every: env_u64("KALEDGER_CRASH_RECHECK_ALL_EVERY", 1).max(1),
            kill_ms,
        }
    }
}

/// One acknowledged (2xx) batch: what was sent and what the server answered.
#[derive(Clone)]
struct Acked {
    /// `/v1/sales` or `/v1/returns`.
    path: &'static str,
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

/// A small deterministic generator (xorshift), so a seed gives the same shapes and moments.
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
                    path: "/v1/sales",
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
    tag: &str,
    seed: u64,
    kill_after: Option<Duration>,
    batches: Option<u64>,
) -> ClientReport {
    let killing = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..CLIENTS)
        .map(|thread| {
            let (base, token, killing) = (base.to_string(), token.to_string(), killing.clone());
            let tag = format!("{tag}-t{thread}");
            std::thread::spawn(move || {
                client(
                    base,
                    token,
                    tag,
                    seed.wrapping_mul(100) + thread + 1,
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

/// Re-posts acknowledged batches: without a key each must come back all duplicates; with
/// its original key it must replay the original answer. Returns what did not hold.
fn check_acknowledged(base: &str, token: &str, acked: &[Acked]) -> Vec<String> {
    let problems = Mutex::new(Vec::new());
    let chunk = acked.len().div_ceil(CLIENTS as usize).max(1);
    std::thread::scope(|scope| {
        for part in acked.chunks(chunk) {
            let problems = &problems;
            scope.spawn(move || {
                let http = http_client();
                let mut found = Vec::new();
                for batch in part {
                    let first = &batch.body["lines"][0];
                    let what = format!(
                        "{} {} ({} lines)",
                        batch.path, first["invoice_id"], batch.lines
                    );
                    let (status, body) = http_post(&http, base, token, batch.path, &batch.body);
                    if status != 200
                        || (body["recorded"].as_u64(), body["duplicates"].as_u64())
                            != (Some(0), Some(batch.lines))
                    {
                        found.push(format!(
                            "LOST: re-posting acknowledged {what} answered {status} {body}"
                        ));
                    }
                    let Some(key) = &batch.idempotency_key else {
                        continue;
                    };
                    let response = match http
                        .post(format!("{base}{}", batch.path))
                        .bearer_auth(token)
                        .header("Idempotency-Key", key)
                        .json(&batch.body)
                        .send()
                    {
                        Ok(r) => r,
                        Err(e) => {
                            found.push(format!("replaying key {key}: {e}"));
                            continue;
                        }
                    };
                    let replayed_header = response
                        .headers()
                        .get("idempotent-replayed")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    let replayed: Value = response.json().unwrap_or(Value::Null);
                    if replayed_header.as_deref() != Some("true")
                        || replayed["recorded"] != json!(batch.lines)
                        || (!batch.response.is_null() && replayed != batch.response)
                    {
                        found.push(format!(
                            "key {key} of {what} not replayed as acknowledged: header {replayed_header:?}, {replayed} vs {}",
                            batch.response
                        ));
                    }
                }
                problems.lock().expect("problems").extend(found);
            });
        }
    });
    problems.into_inner().expect("problems")
}

fn head_position(base: &str, token: &str) -> Result<u64, String> {
    let (status, head) = http_get(&http_client(), base, token, "/v1/audit/head");
    head["position"]
        .as_u64()
        .filter(|_| status == 200)
        .ok_or_else(|| format!("GET /v1/audit/head: {status} {head}"))
}

/// After a restart: a short stretch of sales and some returns that the server applies
/// incrementally. Returns the acknowledged batches, or what went wrong.
fn stretch(base: &str, token: &str, cycle: u64, seed: u64) -> Result<Vec<Acked>, Vec<String>> {
    let report = ingest(
        None,
        base,
        token,
        &format!("s{seed}c{cycle}s"),
        seed.wrapping_mul(1_000_003) ^ (cycle * 2 + 1),
        None,
        Some(STRETCH_BATCHES),
    );
    if !report.unexpected.is_empty() {
        return Err(report.unexpected);
    }
    let mut acked = report.acked;
    let returns: Vec<Value> = acked
        .iter()
        .take(STRETCH_RETURNS)
        .enumerate()
        .map(|(i, a)| {
            let line = &a.body["lines"][0];
            json!({"account_id": line["account_id"], "return_id": format!("RET-s{seed}c{cycle}-{i}"), "invoice_id": line["invoice_id"], "line": line["line"],
                "quantity": "1", "net_amount": "0.50", "cost_amount": "0.10", "occurred_on": "2026-10-01"})
        })
        .collect();
    let count = returns.len() as u64;
    let body = json!({ "lines": returns });
    let (status, response) = http_post(&http_client(), base, token, "/v1/returns", &body);
    if (status, response["recorded"].as_u64()) != (201, Some(count)) {
        return Err(vec![format!(
            "returns in the stretch answered {status} {response}"
        )]);
    }
    acked.push(Acked {
        path: "/v1/returns",
        body,
        lines: count,
        idempotency_key: None,
        response,
    });
    Ok(acked)
}

/// Stops the server gracefully, runs `kaledger verify` and `kaledger rebuild` on its data
/// directory, and compares them with the live head and digest taken just before.
fn offline_checks(server: Server, data: &std::path::Path, token: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let (status, live) = http_get(&http_client(), &server.base, token, "/v1/audit/projections");
    let head = head_position(&server.base, token);
    server.stop();
    let (head, live_through) = match (status, head) {
        (200, Ok(head)) => (head, live["through_position"].as_u64()),
        (status, head) => return vec![format!("live projections {status} {live} / head {head:?}")],
    };
    if live_through != Some(head) {
        problems.push(format!(
            "live projections {live} are not at the head {head}"
        ));
    }
    let verify = run_cli(["verify".as_ref(), "--data".as_ref(), data.as_os_str()]);
    let report: Value = serde_json::from_str(verify.stdout.trim()).unwrap_or(Value::Null);
    if !verify.success()
        || (report["ok"].as_bool(), report["verified_through"].as_u64()) != (Some(true), Some(head))
    {
        problems.push(format!(
            "kaledger verify (head {head}): exit {:?}, {} {}",
            verify.code, verify.stdout, verify.stderr
        ));
    }
    let rebuild = run_cli(["rebuild".as_ref(), "--data".as_ref(), data.as_os_str()]);
    let rebuilt: Value = serde_json::from_str(rebuild.stdout.trim()).unwrap_or(Value::Null);
    if !rebuild.success()
        || rebuilt["digest"] != live["digest"]
        || rebuilt["through_position"] != live["through_position"]
        || rebuilt["events"].as_u64() != Some(head)
    {
        problems.push(format!(
            "kaledger rebuild differs from the live projections: {} {} vs live {live}",
            rebuild.stdout.trim(),
            rebuild.stderr
        ));
    }
    problems
}

// Proves that every line acknowledged before a SIGKILL is present after a restart (over
// several kills at random moments), that the chain verifies offline after every cycle, and
// that a rebuild from the log equals the live projections after every cycle.
#[test]
fn kill_9_during_ingestion_loses_nothing_acknowledged() {
    let config = Config::from_env();
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
    let mut moments = Rng::new(config.seed ^ 0x5eed);
    let mut acked: Vec<Acked> = Vec::new();
    let (mut sale_lines, mut return_lines) = (0u64, 0u64);
    let mut last_acked_position = 0u64;
    let mut failures: Vec<String> = Vec::new();
    let mut cycles_without_ack = 0u64;
    let mut head = 0u64;
    eprintln!("crash loop: {config:?}");
    for cycle in 1..=config.cycles {
        let mut problems: Vec<String> = Vec::new();
        let delay = Duration::from_millis(
            config.kill_ms.0 + moments.below(config.kill_ms.1 - config.kill_ms.0),
        );
        let base = server.base.clone();
        let report = ingest(
            Some(server),
            &base,
            &token,
            &format!("s{}c{cycle}", config.seed),
            config.seed.wrapping_mul(7919) ^ cycle,
            Some(delay),
            None,
        );
        problems.extend(report.unexpected.iter().cloned());
        if report.acked.is_empty() {
            cycles_without_ack += 1;
        }
        let cycle_lines: u64 = report.acked.iter().map(|a| a.lines).sum();
        for a in &report.acked {
            if let Some(last) = a.response["last_position"].as_u64() {
                last_acked_position = last_acked_position.max(last);
            }
        }
        sale_lines += cycle_lines;
        let cycle_from = acked.len();
        acked.extend(report.acked.iter().cloned());

        let restarting = Instant::now();
        server = Server::start(&data);
        let restart_ms = restarting.elapsed().as_millis();
        match head_position(&server.base, &token) {
            Ok(h) => head = h,
            Err(e) => problems.push(e),
        }
        let expected = sale_lines + return_lines + ACCOUNTS.len() as u64 + TOKENS;
        if head < expected || head < last_acked_position {
            problems.push(format!(
                "LOST: head {head} < {expected} acknowledged events or < last acknowledged position {last_acked_position}"
            ));
        }
        let checking = Instant::now();
        let all = cycle % config.recheck_all_every == 0 || cycle == config.cycles;
        let recheck = if all {
            &acked[..]
        } else {
            &acked[cycle_from..]
        };
        let rechecked = recheck.len();
        problems.extend(check_acknowledged(&server.base, &token, recheck));
        let check_ms = checking.elapsed().as_millis();
        let (status, verify) = http_get(&http_client(), &server.base, &token, "/v1/audit/verify");
        if (
            status,
            verify["ok"].as_bool(),
            verify["verified_through"].as_u64(),
        ) != (200, Some(true), Some(head))
        {
            problems.push(format!(
                "GET /v1/audit/verify (head {head}): {status} {verify}"
            ));
        }

        match stretch(&server.base, &token, cycle, config.seed) {
            Ok(more) => {
                for a in &more {
                    match a.path {
                        "/v1/returns" => return_lines += a.lines,
                        _ => sale_lines += a.lines,
                    }
                }
                acked.extend(more);
            }
            Err(e) => problems.extend(e),
        }
        problems.extend(offline_checks(server, &data, &token));
        server = Server::start(&data);
        if let Ok(h) = head_position(&server.base, &token) {
            head = h;
        }
        eprintln!(
            "crash cycle {cycle}/{}: killed after {} ms; {} batches / {cycle_lines} lines acknowledged, {} requests cut; restart {restart_ms} ms; re-checked {} batches in {check_ms} ms; head {head}; verify + rebuild {}",
            config.cycles,
            delay.as_millis(),
            report.acked.len(),
            report.cut,
            rechecked,
            if problems.is_empty() { "ok".to_string() } else { format!("{} PROBLEMS", problems.len()) },
        );
        for p in &problems {
            eprintln!("  cycle {cycle}: {p}");
        }
        failures.extend(problems.into_iter().map(|p| format!("cycle {cycle}: {p}")));
    }
    server.stop();
    let lost = failures.iter().filter(|f| f.contains("LOST")).count();
    eprintln!(
        "crash loop summary: {} cycles, {} failures ({lost} about lost events), {} acknowledged batches / {sale_lines} sale lines + {return_lines} return lines, head {head}, {cycles_without_ack} cycles killed before any acknowledgement, seed {}, {:.1} s",
        config.cycles,
        failures.len(),
        acked.len(),
        config.seed,
        started.elapsed().as_secs_f64()
    );
    assert!(
        acked.len() as u64 > config.cycles,
        "too little was acknowledged for the loop to prove anything"
    );
    assert!(failures.is_empty(), "{failures:#?}");
}
