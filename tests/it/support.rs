//! Shared test helpers: an in-process app driven with `oneshot`, and the real binary.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use kaledger::domain::vocab::Role;
use kaledger::domain::Command as LedgerCommand;
use kaledger::engine::{Engine, WriteMeta};
use kaledger::kernel::token::new_token;
use kaledger::ledger::{Actor, LedgerError};
use serde_json::Value;
use tower::ServiceExt;

/// An engine in a temporary directory, its router, and one token per role.
pub struct TestApp {
    pub dir: tempfile::TempDir,
    pub engine: Arc<Engine>,
    pub router: Router,
    tokens: HashMap<Role, String>,
}

/// A response: status, headers and the body parsed as JSON (Null when empty or not JSON).
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// The problem+json `code`, when the body is a problem.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    /// A fresh ledger with tokens `test-{role}` for every role.
    pub async fn new() -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = Arc::new(Engine::open(dir.path()).expect("open engine"));
        let mut tokens = HashMap::new();
        for role in Role::ALL {
            let (token, token_sha256) = new_token().expect("randomness");
            let actor = Actor {
                name: "test-setup".into(),
                role: "admin".into(),
            };
            engine
                .submit(
                    LedgerCommand::IssueToken {
                        name: format!("test-{role}"),
                        role: *role,
                        token_sha256,
                    },
                    WriteMeta::new(actor, None, &[], "setup".into()),
                )
                .await
                .expect("issue token");
            tokens.insert(*role, token);
        }
        let router = kaledger::api::router(engine.clone());
        TestApp {
            dir,
            engine,
            router,
            tokens,
        }
    }

    /// The token of a role.
    pub fn token(&self, role: Role) -> &str {
        &self.tokens[&role]
    }

    /// Sends a request with optional bearer token, extra headers and body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            builder = builder.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let response = self
            .router
            .clone()
            .oneshot(builder.body(Body::from(body)).expect("request"))
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    /// GET as a role.
    pub async fn get(&self, role: Role, path: &str) -> Reply {
        self.send(Method::GET, path, Some(self.token(role)), &[], Vec::new())
            .await
    }

    /// POST JSON as a role.
    pub async fn post(&self, role: Role, path: &str, body: Value) -> Reply {
        self.send(
            Method::POST,
            path,
            Some(self.token(role)),
            &[("content-type", "application/json")],
            body.to_string().into_bytes(),
        )
        .await
    }

    /// Opens an account (as manager) and asserts it worked.
    pub async fn open_account(&self, id: &str, currency: &str) {
        let reply = self
            .post(Role::Manager, "/v1/accounts", serde_json::json!({"account_id": id, "name": format!("Account {id}"), "scope": "national", "currency": currency}))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    }

    /// The head position.
    pub fn head(&self) -> u64 {
        self.engine.read().head_position()
    }
}

/// A sale line as JSON.
pub fn sale(account: &str, invoice: &str, line: u32, net: &str) -> Value {
    serde_json::json!({"account_id": account, "invoice_id": invoice, "line": line, "sku": "SKU-1", "category": "beverages",
        "quantity": "10", "net_amount": net, "cost_amount": "1.00", "occurred_on": "2026-03-15"})
}

/// The path of the built binary.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kaledger"))
}

/// Creates a token offline with the real binary.
pub fn cli_token(data: &Path, name: &str, role: &str) -> String {
    let out = Command::new(binary())
        .args(["token", "create", "--data"])
        .arg(data)
        .args(["--name", name, "--role", role])
        .output()
        .expect("run token create");
    assert!(
        out.status.success(),
        "token create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_string()
}

/// The real binary serving a data directory on 127.0.0.1 (a free port).
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    /// Starts `kaledger serve` and waits for its "listening" line.
    pub fn start(data: &Path) -> Server {
        Server::start_with(data, &[])
    }

    /// Starts `kaledger serve` with extra arguments (e.g. timeouts) and waits for its
    /// "listening" line.
    pub fn start_with(data: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(binary())
            .args(["serve", "--data"])
            .arg(data)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("KALEDGER_TEST_SERVER_LOGS").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .expect("spawn server");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read listening line");
        let base = line
            .trim()
            .strip_prefix("kaledger listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server { child, base }
    }

    /// SIGKILL, no chance to flush anything.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a graceful exit.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- Helpers for the real-binary tests (crash.rs, cli.rs) ----

/// How long one CLI command may run before the test kills it and fails.
pub const CLI_SECONDS_MAX: u64 = 120;
/// Timeout of every HTTP request a real-binary test makes.
pub const HTTP_SECONDS_MAX: u64 = 5;

/// What a finished CLI command printed and how it exited.
pub struct CliOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    /// True when the command exited with status 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Standard output parsed as one JSON value (panics with both streams when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs the real binary with `args`; kills it and panics after [`CLI_SECONDS_MAX`].
pub fn run_cli<I, S>(args: I) -> CliOutput
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    use std::io::Read;
    let args: Vec<std::ffi::OsString> = args
        .into_iter()
        .map(|a| a.as_ref().to_os_string())
        .collect();
    let mut child = Command::new(binary())
        .args(&args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kaledger");
    // Drain both pipes on their own threads so a chatty command never blocks on a full pipe.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(CLI_SECONDS_MAX);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for kaledger") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kaledger {args:?} ran longer than {CLI_SECONDS_MAX} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let stdout = String::from_utf8_lossy(&out_reader.join().expect("stdout reader")).to_string();
    let stderr = String::from_utf8_lossy(&err_reader.join().expect("stderr reader")).to_string();
    CliOutput {
        code: status.code(),
        stdout,
        stderr,
    }
}

/// A blocking HTTP client for 127.0.0.1: short timeouts, never through a proxy.
pub fn http_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(HTTP_SECONDS_MAX))
        .connect_timeout(std::time::Duration::from_secs(HTTP_SECONDS_MAX))
        .no_proxy()
        .build()
        .expect("http client")
}

/// GET `path` on a real server with a bearer token; returns the status and JSON body.
pub fn http_get(
    client: &reqwest::blocking::Client,
    base: &str,
    token: &str,
    path: &str,
) -> (u16, Value) {
    let response = client
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = response.status().as_u16();
    let text = response
        .text()
        .unwrap_or_else(|e| panic!("GET {path} body: {e}"));
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// POST JSON to `path` on a real server with a bearer token; returns the status and JSON body.
pub fn http_post(
    client: &reqwest::blocking::Client,
    base: &str,
    token: &str,
    path: &str,
    body: &Value,
) -> (u16, Value) {
    let response = client
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(body)
        .send()
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    let status = response.status().as_u16();
    let text = response
        .text()
        .unwrap_or_else(|e| panic!("POST {path} body: {e}"));
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

// ---- Helpers for the in-process HTTP tests (http_ingest.rs, http_accounts.rs, http_auth_audit.rs) ----

impl TestApp {
    /// POST raw bytes with a content type (and optional extra headers) as a role.
    pub async fn post_bytes(
        &self,
        role: Role,
        path: &str,
        content_type: &str,
        extra: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let mut headers = vec![("content-type", content_type)];
        headers.extend_from_slice(extra);
        self.send(Method::POST, path, Some(self.token(role)), &headers, body)
            .await
    }

    /// POST JSON with extra headers (e.g. Idempotency-Key) as a role.
    pub async fn post_with(
        &self,
        role: Role,
        path: &str,
        extra: &[(&str, &str)],
        body: Value,
    ) -> Reply {
        self.post_bytes(
            role,
            path,
            "application/json",
            extra,
            body.to_string().into_bytes(),
        )
        .await
    }

    /// PATCH JSON as a role.
    pub async fn patch(&self, role: Role, path: &str, body: Value) -> Reply {
        self.send(
            Method::PATCH,
            path,
            Some(self.token(role)),
            &[("content-type", "application/json")],
            body.to_string().into_bytes(),
        )
        .await
    }

    /// Every audit event matching `query` (e.g. "type=SaleReturned"), read as an auditor,
    /// following `next_after` to the end.
    pub async fn audit_events(&self, query: &str) -> Vec<Value> {
        let mut events = Vec::new();
        let mut after = 0u64;
        loop {
            let reply = self
                .get(
                    Role::Auditor,
                    &format!("/v1/audit/events?limit=1000&after={after}&{query}"),
                )
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
            events.extend(
                reply.body["events"]
                    .as_array()
                    .expect("events")
                    .iter()
                    .cloned(),
            );
            match reply.body["next_after"].as_u64() {
                Some(next) => after = next,
                None => return events,
            }
        }
    }
}

/// Asserts a problem+json answer with this status and stable code (and a matching
/// `status` and `type` in the body).
#[track_caller]
pub fn assert_problem(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(
        reply.status, status,
        "expected {status} {code}, got {}",
        reply.text
    );
    assert_eq!(reply.code(), code, "body: {}", reply.text);
    assert_eq!(
        reply
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "body: {}",
        reply.text
    );
    assert_eq!(
        reply.body["status"],
        status.as_u16(),
        "body: {}",
        reply.text
    );
    assert_eq!(
        reply.body["type"],
        format!("urn:kaledger:error:{code}"),
        "body: {}",
        reply.text
    );
}

/// The (index, field, code) triples of a problem's `errors`, in order.
pub fn error_triples(reply: &Reply) -> Vec<(Option<u64>, String, String)> {
    reply.body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    (
                        e["index"].as_u64(),
                        e["field"].as_str().unwrap_or("").to_string(),
                        e["code"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

// ---- Helpers for the tier and entitlement tests (tiers.rs, tiers_property.rs) ----

impl TestApp {
    /// An in-process app over an existing ledger directory `ledger` (e.g. one made by
    /// `kaledger demo`), with fresh tokens `test-tiers-{role}`; `dir` is kept alive with it.
    pub async fn open_at(dir: tempfile::TempDir, ledger: &Path) -> TestApp {
        TestApp::open_with_tokens(dir, ledger, "test-tiers").await
    }

    /// [`TestApp::open_at`] with tokens named `{prefix}-{role}` (a ledger opened again
    /// needs new names: token names are unique).
    pub async fn open_with_tokens(dir: tempfile::TempDir, ledger: &Path, prefix: &str) -> TestApp {
        let engine =
            Arc::new(until_unlocked(ledger, || Engine::open(ledger)).expect("open engine"));
        let mut tokens = HashMap::new();
        for role in Role::ALL {
            let (token, token_sha256) = new_token().expect("randomness");
            let actor = Actor {
                name: "test-setup".into(),
                role: "admin".into(),
            };
            engine
                .submit(
                    LedgerCommand::IssueToken {
                        name: format!("{prefix}-{role}"),
                        role: *role,
                        token_sha256,
                    },
                    WriteMeta::new(actor, None, &[], "setup".into()),
                )
                .await
                .expect("issue token");
            tokens.insert(*role, token);
        }
        let router = kaledger::api::router(engine.clone());
        TestApp {
            dir,
            engine,
            router,
            tokens,
        }
    }
}

/// How long [`until_unlocked`] waits for a data directory's lock.
pub const UNLOCK_SECONDS_MAX: u64 = 10;

/// Runs `open` on the data directory `ledger` again while it answers `Locked`, for up to
/// [`UNLOCK_SECONDS_MAX`]. A ledger closed in this process can stay locked for a moment:
/// the tests run in parallel, and a child process another test is starting holds a copy
/// of every open file (the lock's included) until it executes its program.
pub fn until_unlocked<T>(
    ledger: &Path,
    mut open: impl FnMut() -> Result<T, LedgerError>,
) -> Result<T, LedgerError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(UNLOCK_SECONDS_MAX);
    loop {
        match open() {
            Err(LedgerError::Locked { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(LedgerError::Locked { .. }) => {
                panic!(
                    "{} stayed locked for {UNLOCK_SECONDS_MAX} s",
                    ledger.display()
                )
            }
            other => return other,
        }
    }
}

/// A sale line with its own amounts, cost and day.
pub fn sale_on(
    account: &str,
    invoice: &str,
    line: u32,
    net: &str,
    cost: &str,
    occurred_on: &str,
) -> Value {
    serde_json::json!({"account_id": account, "invoice_id": invoice, "line": line, "sku": "SKU-1",
        "category": "beverages", "quantity": "10", "net_amount": net, "cost_amount": cost,
        "occurred_on": occurred_on})
}

/// Records sale lines as ingest and asserts they were all recorded.
pub async fn sell(app: &TestApp, lines: Vec<Value>) {
    let count = lines.len();
    let reply = app
        .post(
            Role::Ingest,
            "/v1/sales",
            serde_json::json!({ "lines": lines }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["recorded"], count as u64, "{}", reply.text);
}

/// Records return lines as ingest and asserts they were all recorded.
pub async fn give_back(app: &TestApp, lines: Vec<Value>) {
    let count = lines.len();
    let reply = app
        .post(
            Role::Ingest,
            "/v1/returns",
            serde_json::json!({ "lines": lines }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["recorded"], count as u64, "{}", reply.text);
}
