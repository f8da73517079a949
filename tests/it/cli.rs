//! The command line against the real binary (DESIGN §7): tokens, the data-directory lock,
//! import, export, verify, rebuild, fixtures and the demo.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::support::{cli_token, http_client, http_get, http_post, run_cli, CliOutput, Server};

/// `kaledger <command> --data DIR <rest…>`.
fn on_data(command: &[&str], data: &Path, rest: &[&str]) -> CliOutput {
    let mut args: Vec<std::ffi::OsString> = command.iter().map(Into::into).collect();
    args.push("--data".into());
    args.push(data.into());
    args.extend(rest.iter().map(Into::into));
    run_cli(args)
}

/// The `rebuild` report of a stopped ledger (events, through_position, head_hash, digest…).
fn rebuild(data: &Path) -> Value {
    let out = on_data(&["rebuild"], data, &[]);
    assert!(out.success(), "rebuild failed: {}", out.stderr);
    out.json()
}

/// Writes `text` to `dir/name` and returns the path.
fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

/// Token names and roles from `token list`, with the REVOKED column.
fn token_rows(data: &Path) -> Vec<(String, String, String)> {
    let out = on_data(&["token", "list"], data, &[]);
    assert!(out.success(), "token list failed: {}", out.stderr);
    assert!(out.stdout.starts_with("NAME"), "{}", out.stdout);
    out.stdout
        .lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            (
                cells[0].to_string(),
                cells[1].to_string(),
                cells.last().expect("revoked column").to_string(),
            )
        })
        .collect()
}

// Proves that tokens created offline work, are listed without their secret, and that a token
// revoked offline is refused (401) by a server started afterwards while the others still work.
#[test]
fn token_create_list_revoke_round_trip() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let admin = cli_token(&data, "ops-admin", "admin");
    let auditor = cli_token(&data, "night-auditor", "auditor");
    assert!(
        admin.len() >= 32 && !admin.contains(char::is_whitespace),
        "token {admin:?}"
    );
    assert_ne!(admin, auditor);

    let mut rows = token_rows(&data);
    rows.sort();
    let fresh = |name: &str, role: &str| (name.to_string(), role.to_string(), "-".to_string());
    assert_eq!(
        rows,
        vec![
            fresh("night-auditor", "auditor"),
            fresh("ops-admin", "admin")
        ]
    );
    let listing = on_data(&["token", "list"], &data, &[]).stdout;
    assert!(
        !listing.contains(&admin) && !listing.contains(&auditor),
        "token list shows a secret: {listing}"
    );

    let bad_role = on_data(
        &["token", "create"],
        &data,
        &["--name", "x", "--role", "superuser"],
    );
    assert!(
        !bad_role.success() && bad_role.stdout.is_empty(),
        "a bad role was accepted: {}",
        bad_role.stdout
    );

    let again = on_data(
        &["token", "create"],
        &data,
        &["--name", "ops-admin", "--role", "admin"],
    );
    assert!(
        !again.success() && again.stdout.is_empty(),
        "a second token named ops-admin was issued"
    );
    assert!(again.stderr.contains("ops-admin"), "{}", again.stderr);

    let revoked = on_data(
        &["token", "revoke"],
        &data,
        &["--name", "night-auditor", "--reason", "left the company"],
    );
    assert!(revoked.success(), "revoke failed: {}", revoked.stderr);
    let unknown = on_data(&["token", "revoke"], &data, &["--name", "nobody"]);
    assert!(
        !unknown.success(),
        "revoking an unknown token succeeded: {}",
        unknown.stderr
    );
    let rows = token_rows(&data);
    let night = rows
        .iter()
        .find(|r| r.0 == "night-auditor")
        .expect("revoked token still listed");
    assert_ne!(night.2, "-", "revocation not shown: {rows:?}");
    assert_eq!(
        rows.iter()
            .find(|r| r.0 == "ops-admin")
            .map(|r| r.2.as_str()),
        Some("-")
    );

    let server = Server::start(&data);
    let http = http_client();
    let (status, body) = http_get(&http, &server.base, &auditor, "/v1/audit/head");
    assert_eq!(status, 401, "the revoked token was accepted: {body}");
    let (status, body) = http_get(&http, &server.base, &admin, "/v1/audit/head");
    assert_eq!(status, 200, "{body}");
    let (status, _) = http_get(&http, &server.base, "not-a-token", "/v1/audit/head");
    assert_eq!(status, 401);
    server.stop();
}

// Proves that every offline command refuses a directory held by a running server with a
// message saying so (and a non-zero exit), and works again once the server has stopped.
#[test]
fn offline_commands_refuse_a_directory_held_by_a_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    cli_token(&data, "admin", "admin");
    let accounts = write(dir.path(), "accounts.csv", "account_id,name,scope,segment,manager,currency,relationship_stage\nheld,Held,local,,,CNY,\n");
    let server = Server::start(&data);
    let accounts = accounts.to_str().expect("utf8 path");
    let commands: &[(&[&str], &[&str])] = &[
        (&["verify"], &[]),
        (&["rebuild"], &[]),
        (&["export"], &[]),
        (&["import"], &[accounts]),
        (
            &["token", "create"],
            &["--name", "late", "--role", "auditor"],
        ),
        (&["token", "list"], &[]),
        (&["token", "revoke"], &["--name", "admin"]),
    ];
    for (command, rest) in commands {
        let out = on_data(command, &data, rest);
        assert!(
            !out.success(),
            "{command:?} succeeded on a held directory: {}",
            out.stdout
        );
        assert!(
            out.stderr.contains("in use by another process"),
            "{command:?} said: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{command:?} printed {}", out.stdout);
    }
    server.stop();
    let verify = on_data(&["verify"], &data, &[]);
    assert!(verify.success(), "{}", verify.stderr);
    assert_eq!(
        verify.json()["verified_through"],
        json!(1),
        "the refused commands wrote something"
    );
}

const ACCOUNTS_CSV: &str = "account_id,name,scope,segment,manager,currency,relationship_stage
carrefour,Carrefour,global,economic,li.wei,CNY,interdependent
lianhua,Lianhua,national,,wang.fang,CNY,
";
const ACCOUNTS_JSONL: &str = r#"{"account_id":"suguo","name":"Suguo","scope":"local","currency":"CNY","relationship_stage":"basic"}
"#;
const SALES_CSV: &str =
    "account_id,invoice_id,line,sku,category,quantity,net_amount,cost_amount,currency,occurred_on
carrefour,INV-C-1,1,SKU-BEV-001,beverages,12,345.60,250.00,CNY,2026-01-10
carrefour,INV-C-1,2,SKU-SNK-003,snacks,5,80.00,,,2026-01-10
lianhua,INV-L-1,1,SKU-BEV-001,beverages,40,1000.00,800.00,CNY,2026-02-01
";
const SALES_JSONL: &str = r#"{"account_id":"suguo","invoice_id":"INV-S-1","line":1,"sku":"SKU-DRY-002","category":"dairy","quantity":"3","net_amount":"19.90","cost_amount":"12.00","occurred_on":"2026-02-03"}

{"account_id":"suguo","invoice_id":"INV-S-1","line":2,"sku":"SKU-DRY-004","category":"dairy","quantity":7,"net_amount":"70.00","occurred_on":"2026-02-03"}
"#;
const RETURNS_CSV: &str =
    "account_id,return_id,invoice_id,line,quantity,net_amount,cost_amount,occurred_on
carrefour,RET-C-1,INV-C-1,1,2,57.60,41.67,2026-01-20
";
const RETURNS_JSONL: &str = r#"{"account_id":"suguo","return_id":"RET-S-1","invoice_id":"INV-S-1","line":2,"quantity":"1","net_amount":"10.00","occurred_on":"2026-02-10"}
"#;

/// Writes the small import set and returns the paths in load order.
fn import_files(dir: &Path) -> Vec<PathBuf> {
    vec![
        write(dir, "accounts.csv", ACCOUNTS_CSV),
        write(dir, "more-accounts.jsonl", ACCOUNTS_JSONL),
        write(dir, "sales.csv", SALES_CSV),
        write(dir, "sales.jsonl", SALES_JSONL),
        write(dir, "returns.csv", RETURNS_CSV),
        write(dir, "returns.jsonl", RETURNS_JSONL),
    ]
}

fn import(data: &Path, files: &[PathBuf], extra: &[&str]) -> CliOutput {
    let mut args: Vec<std::ffi::OsString> = vec!["import".into(), "--data".into(), data.into()];
    args.extend(extra.iter().map(Into::into));
    args.extend(files.iter().map(Into::into));
    run_cli(args)
}

// Proves that CSV and JSONL files of accounts, sales and returns import (kind guessed from the
// columns), and that importing them again records nothing: all duplicates, head unchanged.
#[test]
fn import_csv_and_jsonl_then_reimport_is_all_duplicates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let files = import_files(dir.path());
    let first = import(&data, &files, &[]);
    assert!(first.success(), "import failed: {}", first.stderr);
    // 3 accounts, 5 sale lines, 2 return lines.
    assert!(
        first.stderr.contains("imported: 10 recorded, 0 duplicates"),
        "{}",
        first.stderr
    );
    let before = rebuild(&data);
    assert_eq!(before["events"], json!(10), "{before}");

    let again = import(&data, &files, &[]);
    assert!(again.success(), "re-import failed: {}", again.stderr);
    assert!(
        again.stderr.contains("imported: 0 recorded, 10 duplicates"),
        "{}",
        again.stderr
    );
    let after = rebuild(&data);
    assert_eq!(
        (
            &after["through_position"],
            &after["head_hash"],
            &after["digest"]
        ),
        (
            &before["through_position"],
            &before["head_hash"],
            &before["digest"]
        ),
        "re-import changed the ledger"
    );

    // An explicit --kind gives the same answer as the guess.
    let sales = import(&data, &files[2..4], &["--kind", "sales"]);
    assert!(
        sales.success() && sales.stderr.contains("imported: 0 recorded, 5 duplicates"),
        "{}",
        sales.stderr
    );

    // What was imported is what a server reads.
    let token = cli_token(&data, "reader", "auditor");
    let server = Server::start(&data);
    let (status, account) = http_get(&http_client(), &server.base, &token, "/v1/accounts/suguo");
    assert_eq!(status, 200, "{account}");
    assert_eq!(account["scope"], json!("local"), "{account}");
    server.stop();
}

// Proves that a file with a bad line is refused with the row and the error code named, and
// that nothing of the refused chunk is recorded (CSV and JSONL).
#[test]
fn import_with_a_bad_line_names_it_and_records_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let accounts = write(dir.path(), "accounts.csv", ACCOUNTS_CSV);
    assert!(import(&data, &[accounts], &[]).success());
    let head = rebuild(&data)["through_position"].clone();

    let bad_csv = write(
        dir.path(),
        "bad-sales.csv",
        "account_id,invoice_id,line,sku,category,quantity,net_amount,cost_amount,currency,occurred_on
carrefour,INV-B-1,1,SKU-1,beverages,1,10.00,,,2026-01-10
carrefour,INV-B-1,2,SKU-1,beverages,1,-5.00,,,2026-01-10
carrefour,INV-B-1,3,SKU-1,beverages,1,10.00,,,2026-01-10
",
    );
    let out = import(&data, &[bad_csv], &[]);
    assert!(!out.success(), "a bad line was accepted: {}", out.stderr);
    assert!(
        out.stderr.contains("row 2: net_amount negative_amount"),
        "the bad row is not named: {}",
        out.stderr
    );
    assert_eq!(
        rebuild(&data)["through_position"],
        head,
        "part of a refused chunk was recorded"
    );

    let bad_jsonl = write(
        dir.path(),
        "bad-sales.jsonl",
        r#"{"account_id":"carrefour","invoice_id":"INV-B-2","line":1,"sku":"S","category":"snacks","quantity":"1","net_amount":"1.00","occurred_on":"2026-01-10"}
{"account_id":"carrefour","invoice_id":"INV-B-2","line":2,"sku":"S","category":"snacks","quantity":"1","net_amount":"1.00","occurred_on":"2026-13-45"}
"#,
    );
    let out = import(&data, &[bad_jsonl], &[]);
    assert!(!out.success(), "a bad date was accepted: {}", out.stderr);
    assert!(
        out.stderr.contains("row 2: occurred_on invalid_date"),
        "the bad row is not named: {}",
        out.stderr
    );
    assert_eq!(
        rebuild(&data)["through_position"],
        head,
        "part of a refused chunk was recorded"
    );

    let unparsable = write(
        dir.path(),
        "unparsable-sales.jsonl",
        r#"{"account_id":"carrefour","invoice_id":"INV-B-3","line":1,"sku":"S","category":"snacks","quantity":"1","net_amount":"1.00","occurred_on":"2026-01-10"}
{"account_id":"carrefour","invoice_id":"INV-B-3","line":2,"colour":"red"}
"#,
    );
    let out = import(&data, &[unparsable], &[]);
    assert!(
        !out.success(),
        "an unknown field was accepted: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("unparsable-sales.jsonl: line 2"),
        "the bad line is not named: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("colour"),
        "the bad field is not named: {}",
        out.stderr
    );
    assert_eq!(
        rebuild(&data)["through_position"],
        head,
        "part of a refused chunk was recorded"
    );
}

// Proves that `export` writes one JSON line per event, positions 1..=head in order, each
// linked to the previous by its hash, the same to a file as to standard output.
#[test]
fn export_writes_one_line_per_event() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    assert!(import(&data, &import_files(dir.path()), &[]).success());
    let head = rebuild(&data);
    let file = dir.path().join("log.jsonl");
    let out = on_data(
        &["export"],
        &data,
        &["--output", file.to_str().expect("utf8 path")],
    );
    assert!(out.success(), "export failed: {}", out.stderr);
    let text = std::fs::read_to_string(&file).expect("export file");
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(
        events.len() as u64,
        head["events"].as_u64().expect("events")
    );
    let mut prev_hash: Option<&Value> = None;
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event["position"], json!(i as u64 + 1), "{event}");
        if let Some(prev) = prev_hash {
            assert_eq!(&event["prev_hash"], prev, "event {} does not link", i + 1);
        }
        assert!(
            event["type"].is_string()
                && event["stream"].is_string()
                && event["actor"] == json!("cli"),
            "{event}"
        );
        prev_hash = Some(&event["hash"]);
    }
    assert_eq!(prev_hash, Some(&head["head_hash"]));
    let stdout = on_data(&["export"], &data, &[]);
    assert!(stdout.success(), "{}", stdout.stderr);
    assert_eq!(
        stdout.stdout, text,
        "export to stdout differs from export to a file"
    );
}

// Proves that `fixtures generate` is deterministic: the same seed gives byte-identical
// files, another seed gives other data.
#[test]
fn fixtures_generate_is_deterministic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let generate = |seed: &str, out: &str| {
        let out_dir = dir.path().join(out);
        let result = run_cli([
            "fixtures".as_ref(),
            "generate".as_ref(),
            "--accounts".as_ref(),
            "25".as_ref(),
            "--lines".as_ref(),
            "2000".as_ref(),
            "--seed".as_ref(),
            seed.as_ref(),
            "--out".as_ref(),
            out_dir.as_os_str(),
        ]);
        assert!(
            result.success(),
            "fixtures generate failed: {}",
            result.stderr
        );
        out_dir
    };
    let (a, b, c) = (generate("7", "a"), generate("7", "b"), generate("8", "c"));
    for file in ["accounts.csv", "sales.csv", "returns.csv"] {
        let read = |d: &Path| std::fs::read(d.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            read(&a),
            read(&b),
            "{file} differs between two runs with the same seed"
        );
        assert!(!read(&a).is_empty(), "{file} is empty");
    }
    let sales = std::fs::read_to_string(a.join("sales.csv")).expect("sales.csv");
    assert_eq!(sales.lines().count(), 2001, "a header and 2000 lines");
    assert_ne!(
        std::fs::read(a.join("sales.csv")).expect("a"),
        std::fs::read(c.join("sales.csv")).expect("c"),
        "another seed gave the same sales"
    );

    // The generated set imports cleanly.
    let data = dir.path().join("data");
    let files: Vec<PathBuf> = ["accounts.csv", "sales.csv", "returns.csv"]
        .iter()
        .map(|f| a.join(f))
        .collect();
    let out = import(&data, &files, &[]);
    assert!(
        out.success(),
        "generated fixtures do not import: {}",
        out.stderr
    );
}

/// Tokens printed by `demo`, by role.
fn demo_tokens(out: &CliOutput) -> Vec<(String, String)> {
    out.stdout
        .lines()
        .skip_while(|l| !l.starts_with("Tokens"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| {
            let mut cells = l.split_whitespace();
            (
                cells.next().unwrap_or("").to_string(),
                cells.next().unwrap_or("").to_string(),
            )
        })
        .collect()
}

// Proves that `demo --no-serve` loads the demo set into a fresh directory and prints one
// working token per role, that a second run on the same directory starts over, and that it
// refuses a non-empty directory it did not make.
#[test]
fn demo_loads_and_prints_a_token_per_role() {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo_dir = dir.path().join("demo");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    let run = || {
        let out = run_cli([
            "demo".as_ref(),
            "--no-serve".as_ref(),
            "--data".as_ref(),
            demo_dir.as_os_str(),
            "--fixtures".as_ref(),
            fixtures.as_os_str(),
        ]);
        assert!(out.success(), "demo failed: {}\n{}", out.stdout, out.stderr);
        out
    };
    let first = run();
    let tokens = demo_tokens(&first);
    let mut roles: Vec<&str> = tokens.iter().map(|(r, _)| r.as_str()).collect();
    roles.sort();
    assert_eq!(
        roles,
        ["admin", "auditor", "finance", "ingest", "manager", "planner"],
        "one token per role: {}",
        first.stdout
    );
    assert!(tokens.iter().all(|(_, t)| t.len() >= 32), "{tokens:?}");

    let second = run();
    let second_tokens = demo_tokens(&second);
    assert_eq!(second_tokens.len(), 6, "{}", second.stdout);
    assert_ne!(
        tokens, second_tokens,
        "a second demo printed the same tokens"
    );

    // The second demo's tokens work on its ledger; the data set is there.
    let ledger = demo_dir.join("ledger");
    let server = Server::start(&ledger);
    let token_of = |role: &str| {
        second_tokens
            .iter()
            .find(|(r, _)| r == role)
            .map(|(_, t)| t.clone())
            .expect("role")
    };
    let http = http_client();
    let (status, account) = http_get(
        &http,
        &server.base,
        &token_of("auditor"),
        "/v1/accounts/carrefour",
    );
    assert_eq!(status, 200, "{account}");
    let (status, head) = http_get(&http, &server.base, &token_of("admin"), "/v1/audit/head");
    assert_eq!(status, 200);
    assert!(
        head["position"].as_u64().expect("position") > 20_000,
        "the demo set is not loaded: {head}"
    );
    let (status, _) = http_get(&http, &server.base, &tokens[0].1, "/v1/audit/head");
    assert_eq!(status, 401, "a token of the emptied first demo still works");
    server.stop();

    let other = dir.path().join("not-a-demo");
    std::fs::create_dir_all(&other).expect("dir");
    std::fs::write(other.join("precious.txt"), b"keep me").expect("file");
    let out = run_cli([
        "demo".as_ref(),
        "--no-serve".as_ref(),
        "--data".as_ref(),
        other.as_os_str(),
        "--fixtures".as_ref(),
        fixtures.as_os_str(),
    ]);
    assert!(!out.success(), "demo took over a directory it did not make");
    assert!(other.join("precious.txt").exists());
}

// Proves that after events written over HTTP and a graceful stop, `verify` passes through
// the head, and `rebuild` reproduces the live projections digest.
#[test]
fn verify_and_rebuild_after_a_graceful_stop() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let token = cli_token(&data, "admin", "admin");
    let server = Server::start(&data);
    let http = http_client();
    let (status, body) = http_post(
        &http,
        &server.base,
        &token,
        "/v1/accounts",
        &json!({"account_id": "gome", "name": "Gome", "scope": "national", "currency": "CNY"}),
    );
    assert_eq!(status, 201, "{body}");
    let lines: Vec<Value> = (1..=20)
        .map(|i| crate::support::sale("gome", "INV-G-1", i, "99.99"))
        .collect();
    let (status, body) = http_post(
        &http,
        &server.base,
        &token,
        "/v1/sales",
        &json!({ "lines": lines }),
    );
    assert_eq!(
        (status, body["recorded"].as_u64()),
        (201, Some(20)),
        "{body}"
    );
    let (_, live) = http_get(&http, &server.base, &token, "/v1/audit/projections");
    server.stop();

    let verify = on_data(&["verify"], &data, &[]);
    assert!(verify.success(), "{}", verify.stderr);
    let report = verify.json();
    assert_eq!(
        (report["ok"].as_bool(), report["verified_through"].as_u64()),
        (Some(true), Some(22)),
        "{report}"
    );
    assert!(report["head_hash"].is_string(), "{report}");
    let rebuilt = rebuild(&data);
    assert_eq!(
        (&rebuilt["digest"], &rebuilt["through_position"]),
        (&live["digest"], &live["through_position"]),
        "{rebuilt} vs {live}"
    );
}

// Proves that offline reads of a directory that holds no ledger fail instead of reporting
// an empty, "verified" ledger (a mistyped --data must not look like a clean audit).
#[test]
fn offline_reads_of_a_missing_directory_fail() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("typo");
    for command in [
        &["verify"][..],
        &["rebuild"],
        &["export"],
        &["token", "list"],
    ] {
        let out = on_data(command, &missing, &[]);
        assert!(
            !out.success(),
            "{command:?} succeeded on a missing directory: {}",
            out.stdout
        );
        assert!(
            out.stderr.contains("typo"),
            "{command:?} does not name the directory: {}",
            out.stderr
        );
    }
    assert!(!missing.exists(), "an offline read created the directory");
}

#[test]
fn tokens_never_reach_the_logs() {
    // Proves that with every log level on (RUST_LOG=trace), a server that receives good,
    // unknown and revoked bearer tokens, issues a token over the API and serves requests
    // writes none of them, nor their SHA-256, to its log.
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("ledger");
    let admin = cli_token(&data, "log-admin", "admin");
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut child = std::process::Command::new(crate::support::binary())
        .args(["serve", "--data"])
        .arg(&data)
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "trace")
        .stdout(std::process::Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("spawn server");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("listening line");
    let base = line
        .trim()
        .strip_prefix("kaledger listening on ")
        .expect("listening line")
        .to_string();
    let client = http_client();
    let (status, issued) = http_post(
        &client,
        &base,
        &admin,
        "/v1/tokens",
        &json!({"name": "feed", "role": "ingest"}),
    );
    assert_eq!(status, 201, "{issued}");
    let feed = issued["token"].as_str().expect("token").to_string();
    let (status, _) = http_post(
        &client,
        &base,
        &feed,
        "/v1/sales",
        &json!({"lines": [{"account_id": "nobody"}]}),
    );
    assert_eq!(status, 422);
    let (status, _) = http_post(
        &client,
        &base,
        &admin,
        "/v1/tokens/feed/revoke",
        &json!({"reason": "rotated"}),
    );
    assert_eq!(status, 200);
    let unknown = format!("kal_{}", "7".repeat(64));
    for token in [feed.as_str(), unknown.as_str()] {
        let (status, _) = http_get(&client, &base, token, "/v1/accounts");
        assert_eq!(status, 401);
    }
    let (status, _) = http_get(&client, &base, &admin, "/v1/audit/head");
    assert_eq!(status, 200);
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log_path).expect("read log");
    assert!(
        text.len() > 200,
        "the trace log is suspiciously short: {text}"
    );
    for secret in [&admin, &feed, &unknown] {
        assert!(!text.contains(secret.as_str()), "a token is in the log");
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(secret.as_bytes()));
        assert!(!text.contains(&sha), "a token's SHA-256 is in the log");
    }
    assert!(
        !text.contains("kal_"),
        "something token-shaped is in the log"
    );
}

#[test]
fn an_offline_command_on_a_demo_directory_points_to_its_ledger() {
    // Proves `--data` naming a demo directory (whose ledger is in `ledger/`) is refused with
    // the path to use, not only "no ledger", and writes nothing there.
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = dir.path().join("ledger");
    cli_token(&ledger, "ops", "admin");
    let output = run_cli(["verify", "--data", dir.path().to_str().unwrap()]);
    assert!(!output.success(), "{}", output.stdout);
    assert!(
        output
            .stderr
            .contains(&format!("use --data {}", ledger.display())),
        "{}",
        output.stderr
    );
    assert!(!dir.path().join("db").exists());
}
