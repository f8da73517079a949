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
use kaledger::api::auth::new_token;
use kaledger::domain::vocab::Role;
use kaledger::domain::Command as LedgerCommand;
use kaledger::engine::{Engine, WriteMeta};
use kaledger::ledger::Actor;
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
            let actor = Actor { name: "test-setup".into(), role: "admin".into() };
            engine
                .submit(LedgerCommand::IssueToken { name: format!("test-{role}"), role: *role, token_sha256 }, WriteMeta::new(actor, None, &[], "setup".into()))
                .await
                .expect("issue token");
            tokens.insert(*role, token);
        }
        let router = kaledger::api::router(engine.clone());
        TestApp { dir, engine, router, tokens }
    }

    /// The token of a role.
    pub fn token(&self, role: Role) -> &str {
        &self.tokens[&role]
    }

    /// Sends a request with optional bearer token, extra headers and body.
    pub async fn send(&self, method: Method, path: &str, token: Option<&str>, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            builder = builder.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let response = self.router.clone().oneshot(builder.body(Body::from(body)).expect("request")).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply { status, headers, body, text }
    }

    /// GET as a role.
    pub async fn get(&self, role: Role, path: &str) -> Reply {
        self.send(Method::GET, path, Some(self.token(role)), &[], Vec::new()).await
    }

    /// POST JSON as a role.
    pub async fn post(&self, role: Role, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(self.token(role)), &[("content-type", "application/json")], body.to_string().into_bytes()).await
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
    let out = Command::new(binary()).args(["token", "create", "--data"]).arg(data).args(["--name", name, "--role", role]).output().expect("run token create");
    assert!(out.status.success(), "token create failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf8").trim().to_string()
}

/// The real binary serving a data directory on 127.0.0.1 (a free port).
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    /// Starts `kaledger serve` and waits for its "listening" line.
    pub fn start(data: &Path) -> Server {
        let mut child = Command::new(binary())
            .args(["serve", "--data"])
            .arg(data)
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn server");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read listening line");
        let base = line.trim().strip_prefix("kaledger listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}")).to_string();
        Server { child, base }
    }

    /// SIGKILL, no chance to flush anything.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a graceful exit.
    pub fn stop(mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
