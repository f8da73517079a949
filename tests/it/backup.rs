//! Backup and restore: `kaledger backup` (offline and over HTTP while the server writes),
//! `kaledger restore`, `kaledger verify --backup`, and `GET /v1/admin/backup`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use kaledger::domain::vocab::Role;
use kaledger::ledger::backup::BackupReader;
use kaledger::ledger::store::chunk_entries;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::support::{
    cli_token, http_client, http_get, http_post, run_cli, sale, CliOutput, Server, TestApp,
};

/// Sale lines per request of the write load.
const LOAD_BATCH_LINES: u32 = 20;
/// Writers of the load.
const LOAD_CLIENTS: usize = 4;
/// The number of the keyed request sent before the load (its invoice no client reaches).
const FIRST_REQUEST: u64 = 1_000_000;

fn cli(args: &[&std::ffi::OsStr]) -> CliOutput {
    run_cli(args.iter().copied())
}

/// `kaledger rebuild --data DIR [--through N]` as JSON.
fn rebuild(data: &Path, through: Option<u64>) -> Value {
    let through = through.map(|n| n.to_string());
    let mut args: Vec<&std::ffi::OsStr> =
        vec!["rebuild".as_ref(), "--data".as_ref(), data.as_ref()];
    if let Some(n) = &through {
        args.push("--through".as_ref());
        args.push(n.as_ref());
    }
    let out = cli(&args);
    assert!(out.success(), "rebuild failed: {}", out.stderr);
    out.json()
}

/// `kaledger export --data DIR` lines (one audit event each, with position, event id, hashes).
fn export(data: &Path) -> Vec<String> {
    let out = cli(&["export".as_ref(), "--data".as_ref(), data.as_ref()]);
    assert!(out.success(), "export failed: {}", out.stderr);
    out.stdout.lines().map(str::to_string).collect()
}

fn verify_data(data: &Path) -> CliOutput {
    cli(&["verify".as_ref(), "--data".as_ref(), data.as_ref()])
}

fn verify_backup(file: &Path) -> CliOutput {
    cli(&["verify".as_ref(), "--backup".as_ref(), file.as_ref()])
}

fn restore(file: &Path, data: &Path) -> CliOutput {
    cli(&[
        "restore".as_ref(),
        "--from".as_ref(),
        file.as_ref(),
        "--data".as_ref(),
        data.as_ref(),
    ])
}

fn backup_offline(data: &Path, out: &Path) -> Value {
    let run = cli(&[
        "backup".as_ref(),
        "--data".as_ref(),
        data.as_ref(),
        "--out".as_ref(),
        out.as_ref(),
    ]);
    assert!(run.success(), "backup failed: {}", run.stderr);
    run.json()
}

/// A stopped ledger of 20 accounts and a few thousand sale and return lines, imported
/// with the real binary; returns its data directory.
fn small_ledger(dir: &Path) -> PathBuf {
    let fixtures = dir.join("fixtures");
    let data = dir.join("source");
    let generate = cli(&[
        "fixtures".as_ref(),
        "generate".as_ref(),
        "--accounts".as_ref(),
        "20".as_ref(),
        "--lines".as_ref(),
        "3000".as_ref(),
        "--seed".as_ref(),
        "7".as_ref(),
        "--out".as_ref(),
        fixtures.as_ref(),
    ]);
    assert!(generate.success(), "{}", generate.stderr);
    for file in ["accounts.csv", "sales.csv", "returns.csv"] {
        let path = fixtures.join(file);
        let import = cli(&[
            "import".as_ref(),
            "--data".as_ref(),
            data.as_ref(),
            path.as_ref(),
        ]);
        assert!(import.success(), "import {file}: {}", import.stderr);
    }
    data
}

/// The names in a directory (to see that a refused restore left nothing behind).
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn an_offline_backup_restores_the_same_log_and_projections() {
    // Proves backup → restore of a stopped ledger gives the same positions, event ids,
    // hashes (the whole export), head hash and projections digest, and that the restored
    // chain verifies; the file is readable by its owner only; `verify --backup` accepts
    // it and names its position.
    let dir = tempfile::tempdir().expect("temp dir");
    let data = small_ledger(dir.path());
    let source = rebuild(&data, None);
    let file = dir.path().join("nightly.backup");
    let made = backup_offline(&data, &file);
    assert_eq!(made["position"], source["through_position"], "{made}");
    assert_eq!(made["head_hash"], source["head_hash"], "{made}");
    assert_eq!(made["digest"], source["digest"], "{made}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file)
            .expect("backup file")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "a backup is readable by its owner only"
        );
    }

    let checked = verify_backup(&file);
    assert!(checked.success(), "{}", checked.stderr);
    assert_eq!(checked.json()["ok"], json!(true));
    assert_eq!(
        checked.json()["verified_through"],
        source["through_position"]
    );

    let restored = dir.path().join("restored");
    let run = restore(&file, &restored);
    assert!(run.success(), "restore failed: {}", run.stderr);
    assert_eq!(run.json()["digest"], source["digest"]);
    let again = rebuild(&restored, None);
    for field in ["through_position", "head_hash", "digest", "state_digest"] {
        assert_eq!(again[field], source[field], "{field}");
    }
    assert_eq!(export(&restored), export(&data));
    let verified = verify_data(&restored);
    assert!(verified.success(), "{}", verified.stderr);
    assert_eq!(
        verified.json()["verified_through"],
        source["through_position"]
    );
    assert_eq!(
        entries(dir.path()),
        ["fixtures", "nightly.backup", "restored", "source"],
        "no staging file or directory is left behind"
    );
}

#[test]
fn damaged_backups_are_refused_and_nothing_is_written() {
    // Proves a backup cut short, one with a flipped byte in an event, and one with a
    // flipped byte in its trailer are refused by `verify --backup` (exit 1, the first bad
    // position named when there is one) and by `restore` (non-zero exit), which leaves the
    // target absent or empty and no staging directory behind; and that a restore into a
    // non-empty directory is refused without touching it.
    let dir = tempfile::tempdir().expect("temp dir");
    let data = small_ledger(dir.path());
    let good = dir.path().join("good.backup");
    let made = backup_offline(&data, &good);
    let position = made["position"].as_u64().expect("position");
    let bytes = std::fs::read(&good).expect("read backup");

    let cut = dir.path().join("cut.backup");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 3] ^= 0x01;
    let flip = dir.path().join("flip.backup");
    std::fs::write(&flip, &flipped).expect("write");
    let mut tail = bytes.clone();
    let last = tail.len() - 1;
    tail[last] ^= 0x80;
    let trailer = dir.path().join("trailer.backup");
    std::fs::write(&trailer, &tail).expect("write");
    let short_tail = dir.path().join("no-trailer.backup");
    std::fs::write(&short_tail, &bytes[..bytes.len() - 10]).expect("write");

    for (file, names_position) in [
        (&cut, true),
        (&flip, true),
        (&trailer, false),
        (&short_tail, false),
    ] {
        let checked = verify_backup(file);
        assert_eq!(checked.code, Some(1), "{file:?}: {}", checked.stdout);
        let report = checked.json();
        assert_eq!(report["ok"], json!(false), "{report}");
        if names_position {
            let bad = report["first_bad_position"].as_u64().expect("a position");
            assert!((1..=position).contains(&bad), "{report}");
            assert!(
                checked
                    .stderr
                    .contains(&format!("backup broken at position {bad}")),
                "{}",
                checked.stderr
            );
        } else {
            assert!(
                checked.stderr.contains("backup damaged"),
                "{}",
                checked.stderr
            );
        }

        let absent = dir.path().join("absent");
        let run = restore(file, &absent);
        assert!(!run.success(), "{file:?} was restored");
        assert!(run.stderr.contains("refused to restore"), "{}", run.stderr);
        assert!(run.stderr.contains("nothing was written"), "{}", run.stderr);
        assert!(!absent.exists(), "{file:?} left {absent:?}");
        let empty = dir.path().join("empty");
        std::fs::create_dir_all(&empty).expect("mkdir");
        let run = restore(file, &empty);
        assert!(!run.success(), "{file:?} was restored");
        assert!(entries(&empty).is_empty(), "{file:?} wrote into {empty:?}");
    }
    assert_eq!(
        entries(dir.path()),
        [
            "cut.backup",
            "empty",
            "fixtures",
            "flip.backup",
            "good.backup",
            "no-trailer.backup",
            "source",
            "trailer.backup"
        ],
        "no staging directory is left behind"
    );

    let full = dir.path().join("full");
    std::fs::create_dir(&full).expect("mkdir");
    std::fs::write(full.join("keep.txt"), "mine").expect("write");
    let run = restore(&good, &full);
    assert!(!run.success(), "restored into a non-empty directory");
    assert!(run.stderr.contains("is not empty"), "{}", run.stderr);
    assert_eq!(entries(&full), ["keep.txt"]);
    let run = restore(&good, &dir.path().join("empty"));
    assert!(
        run.success(),
        "restore into an empty directory: {}",
        run.stderr
    );
}

/// The stored chunks of a stopped data directory's log, read through sled: (key, bytes).
fn stored_chunks(data: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let db = sled::Config::new().path(data).open().expect("open sled");
    let log = db.open_tree("log").expect("log tree");
    log.iter()
        .map(|item| {
            let (key, chunk) = item.expect("read chunk");
            (key.to_vec(), chunk.to_vec())
        })
        .collect()
}

#[test]
fn a_backup_of_a_log_mixing_chunk_formats_restores_and_verifies() {
    // Proves a data directory whose chunks are partly format 1 (as earlier versions stored
    // them) and partly format 2 (compressed) verifies, backs up, passes `verify --backup`,
    // and restores to the same log, byte for byte and chunk for chunk, and projections.
    let dir = tempfile::tempdir().expect("temp dir");
    let data = small_ledger(dir.path());
    let chunks = stored_chunks(&data);
    let compressed = chunks.iter().filter(|(_, c)| c[0] == 2).count();
    assert!(
        compressed * 10 > chunks.len() * 9,
        "imports store format 2 ({compressed} of {} chunks)",
        chunks.len()
    );
    {
        // Every other chunk rewritten as format 1: [1] ‖ (len u32 LE ‖ envelope)*.
        let db = sled::Config::new().path(&data).open().expect("open sled");
        let log = db.open_tree("log").expect("log tree");
        for (key, chunk) in chunks.iter().step_by(2) {
            let first = u64::from_be_bytes(key.as_slice().try_into().expect("8-byte key"));
            let mut plain = vec![1u8];
            for (_, envelope) in &chunk_entries(first, chunk).expect("chunk decodes") {
                plain.extend_from_slice(&(envelope.len() as u32).to_le_bytes());
                plain.extend_from_slice(envelope);
            }
            log.insert(key, plain).expect("rewrite chunk");
        }
        db.flush().expect("flush");
    }
    let mixed = stored_chunks(&data);
    let formats: Vec<u8> = mixed.iter().map(|(_, c)| c[0]).collect();
    assert!(formats.len() > 2 && formats.contains(&1) && formats.contains(&2));
    let verified = verify_data(&data);
    assert!(verified.success(), "{}", verified.stderr);
    let source = rebuild(&data, None);

    let file = dir.path().join("mixed.backup");
    let made = backup_offline(&data, &file);
    assert_eq!(made["head_hash"], source["head_hash"], "{made}");
    let checked = verify_backup(&file);
    assert!(checked.success(), "{}", checked.stderr);
    let restored = dir.path().join("restored");
    let run = restore(&file, &restored);
    assert!(run.success(), "restore failed: {}", run.stderr);
    assert_eq!(
        stored_chunks(&restored),
        mixed,
        "chunks are restored as stored"
    );
    let again = rebuild(&restored, None);
    for field in ["through_position", "head_hash", "digest", "state_digest"] {
        assert_eq!(again[field], source[field], "{field}");
    }
    assert_eq!(export(&restored), export(&data));
    let verified = verify_data(&restored);
    assert!(verified.success(), "{}", verified.stderr);
}

/// POSTs sale lines with an Idempotency-Key; returns the status, the replay header and body.
fn post_sales_keyed(
    client: &reqwest::blocking::Client,
    base: &str,
    token: &str,
    key: &str,
    body: &Value,
) -> Result<(u16, bool, Value), String> {
    let response = client
        .post(format!("{base}/v1/sales"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let replayed = response.headers().get("idempotent-replayed").is_some();
    let body = response.json::<Value>().map_err(|e| e.to_string())?;
    Ok((status, replayed, body))
}

/// The body of request `n` of load client `client`: new invoice lines for its account.
fn load_body(client: usize, n: u64) -> Value {
    let lines: Vec<Value> = (1..=LOAD_BATCH_LINES)
        .map(|line| {
            sale(
                &format!("LOAD-{client}"),
                &format!("INV-{client}-{n}"),
                line,
                "12.34",
            )
        })
        .collect();
    json!({ "lines": lines })
}

/// Starts the load: every client posts keyed batches until `stop`, counting acknowledged
/// requests in `acked`.
fn start_load(
    base: &str,
    token: &str,
    stop: &Arc<AtomicBool>,
    acked: &Arc<AtomicU64>,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..LOAD_CLIENTS)
        .map(|client| {
            let (base, token) = (base.to_string(), token.to_string());
            let (stop, acked) = (stop.clone(), acked.clone());
            std::thread::spawn(move || {
                let http = http_client();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let key = format!("load-{client}-{n}");
                    let (status, _, body) =
                        post_sales_keyed(&http, &base, &token, &key, &load_body(client, n))
                            .unwrap_or_else(|e| panic!("load client {client}: {e}"));
                    assert_eq!(status, 201, "load client {client}: {body}");
                    acked.fetch_add(1, Ordering::SeqCst);
                    n += 1;
                }
            })
        })
        .collect()
}

#[test]
fn a_backup_over_http_during_a_write_load_restores_exactly() {
    // Proves a backup taken with `kaledger backup --url` from the real server while 4
    // clients keep writing (requests are acknowledged during the backup and after it) is
    // consistent as of one position: it verifies, restores to a ledger whose `verify`
    // passes, whose export is the source's first N events, and whose projections digest
    // equals the one in the file and an independent `rebuild --through N` of the source;
    // a retried Idempotency-Key request from before the backup replays its answer on the
    // restored ledger.
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("source");
    let admin = cli_token(&data, "ops", "admin");
    let feed = cli_token(&data, "feed", "ingest");
    let server = Server::start(&data);
    let http = http_client();
    for client in 0..LOAD_CLIENTS {
        let (status, body) = http_post(
            &http,
            &server.base,
            &admin,
            "/v1/accounts",
            &json!({"account_id": format!("LOAD-{client}"), "name": "Load", "scope": "national", "currency": "CNY"}),
        );
        assert_eq!(status, 201, "{body}");
    }
    let (status, first, first_body) = post_sales_keyed(
        &http,
        &server.base,
        &feed,
        "first",
        &load_body(0, FIRST_REQUEST),
    )
    .expect("first");
    assert_eq!((status, first), (201, false), "{first_body}");
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let load = start_load(&server.base, &feed, &stop, &acked);
    while acked.load(Ordering::SeqCst) < 40 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let file = dir.path().join("live.backup");
    let before = acked.load(Ordering::SeqCst);
    let run = cli(&[
        "backup".as_ref(),
        "--url".as_ref(),
        server.base.as_ref(),
        "--token".as_ref(),
        admin.as_ref(),
        "--out".as_ref(),
        file.as_ref(),
    ]);
    let during = acked.load(Ordering::SeqCst) - before;
    std::thread::sleep(std::time::Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    for handle in load {
        handle.join().expect("load client");
    }
    assert!(run.success(), "backup --url failed: {}", run.stderr);
    let made = run.json();
    let position = made["position"].as_u64().expect("position");
    assert!(during > 0, "no write was acknowledged while the backup ran");
    let (_, head) = http_get(&http, &server.base, &admin, "/v1/audit/head");
    assert!(
        head["position"].as_u64().expect("head") > position,
        "the load did not go on after the backup position {position}: {head}"
    );
    server.stop();

    let checked = verify_backup(&file);
    assert!(checked.success(), "{}", checked.stderr);
    let restored = dir.path().join("restored");
    let run = restore(&file, &restored);
    assert!(run.success(), "restore failed: {}", run.stderr);
    let verified = verify_data(&restored);
    assert!(verified.success(), "{}", verified.stderr);
    assert_eq!(verified.json()["verified_through"], json!(position));
    let at_position = rebuild(&data, Some(position));
    let again = rebuild(&restored, None);
    assert_eq!(
        again["digest"], made["digest"],
        "digest of the restored ledger"
    );
    assert_eq!(
        at_position["digest"], made["digest"],
        "digest recomputed from the source"
    );
    assert_eq!(again["head_hash"], at_position["head_hash"]);
    assert_eq!(again["state_digest"], at_position["state_digest"]);
    let source_events = export(&data);
    assert!(source_events.len() as u64 > position);
    assert_eq!(export(&restored), source_events[..position as usize]);

    let server = Server::start(&restored);
    let (status, replayed, body) = post_sales_keyed(
        &http,
        &server.base,
        &feed,
        "first",
        &load_body(0, FIRST_REQUEST),
    )
    .expect("retry");
    assert_eq!((status, replayed), (201, true), "{body}");
    assert_eq!(
        body, first_body,
        "the retry after the restore replays the stored answer"
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backup_endpoint_streams_the_file_with_its_position() {
    // Proves GET /v1/admin/backup answers application/octet-stream with the position and
    // head hash in its headers, and a body that reads through as a backup of exactly that
    // head with the live projections digest.
    let app = TestApp::new().await;
    app.open_account("KA-1", "CNY").await;
    crate::support::sell(
        &app,
        (1..=40).map(|l| sale("KA-1", "INV-1", l, "3.00")).collect(),
    )
    .await;
    let live = app.get(Role::Auditor, "/v1/audit/projections").await;
    let response = app
        .router
        .clone()
        .oneshot(
            Request::get("/v1/admin/backup")
                .header(
                    "authorization",
                    format!("Bearer {}", app.token(Role::Admin)),
                )
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(header("content-type"), "application/octet-stream");
    assert_eq!(header("kaledger-backup-position"), app.head().to_string());
    let head_hash = header("kaledger-backup-head-hash");
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let mut reader = BackupReader::open(&bytes[..]).expect("a backup");
    while reader.next_record().expect("a sound record").is_some() {}
    assert!(reader.finished());
    assert_eq!(reader.header().position, app.head());
    assert_eq!(hex::encode(reader.header().head_hash), head_hash);
    assert_eq!(
        reader.header().digest.as_deref(),
        live.body["digest"].as_str()
    );
    assert_eq!(reader.counts().bytes, bytes.len() as u64);
}
