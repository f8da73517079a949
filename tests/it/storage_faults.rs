//! Storage faults (DESIGN §9 "disk full or unwritable: writes fail with 503 and nothing
//! half-written; reads continue"), with the real binary on a small filesystem the test
//! mounts itself: a 16 MiB tmpfs, and a 16 MiB ext4 image on a loop device. A filler file
//! takes the free space; then writes must answer 503 `storage_unavailable` problem+json,
//! the head must not move, reads must keep working; once the space is back and the
//! server restarted, writes resume, nothing of the refused writes is there, and the chain
//! verifies.
//!
//! Mounting needs root (CI runs as root). Without it — or where `mount` is refused, or
//! `mkfs.ext4` is missing for the ext4 case — each test prints `SKIPPED …` on the
//! terminal (not into the captured output) and passes; with
//! `KALEDGER_REQUIRE_FAULT_TESTS=1` it fails instead. Every mount is undone by a guard,
//! also when the test fails.
//!
//! Known bugs found here (the two ignored tests at the end): after sled reports an IO
//! error it refuses every write until the process restarts (its error is sticky), and the
//! refused group stays in sled's memory, visible to the live `GET /v1/audit/verify` and to
//! natural-key dedupe, so a retry of a refused batch is acknowledged as "duplicates"
//! although its lines are not on disk.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::support::{cli_token, http_client, http_get, run_cli, Server};

/// Size of the test filesystems.
const FS_MIB: u64 = 16;
/// Lines per batch while filling sled's segments.
const BATCH_LINES: u32 = 500;
/// Batches tried before giving up on seeing the disk full.
const BATCHES_MAX: u32 = 60;

/// A filesystem mounted for one test; unmounted on drop (lazily if still busy).
struct Mounted {
    dir: PathBuf,
}

impl Mounted {
    fn tmpfs(dir: &Path) -> Result<Mounted, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={FS_MIB}m"),
                "tmpfs",
                path_str(dir),
            ],
        )?;
        Ok(Mounted {
            dir: dir.to_path_buf(),
        })
    }

    fn ext4(dir: &Path, image: &Path) -> Result<Mounted, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        std::fs::File::create(image)
            .and_then(|f| f.set_len(FS_MIB << 20))
            .map_err(|e| e.to_string())?;
        // No blocks reserved for root (the test runs as root and would use them).
        run("mkfs.ext4", &["-q", "-F", "-m", "0", path_str(image)])?;
        run("mount", &["-o", "loop", path_str(image), path_str(dir)])?;
        Ok(Mounted {
            dir: dir.to_path_buf(),
        })
    }

    fn remount(&self, options: &str) -> Result<(), String> {
        run(
            "mount",
            &["-o", &format!("remount,{options}"), path_str(&self.dir)],
        )
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if run("umount", &[path_str(&self.dir)]).is_err() {
            let _ = run("umount", &["-l", path_str(&self.dir)]);
        }
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// Runs a system command; Err with its output when it fails or cannot start.
fn run(program: &str, args: &[&str]) -> Result<(), String> {
    match Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )),
        Err(e) => Err(format!("{program}: {e}")),
    }
}

/// Prints a skip on the terminal (bypassing the test harness's capture), or fails when
/// `KALEDGER_REQUIRE_FAULT_TESTS` is set.
fn skip(test: &str, why: &str) {
    if std::env::var_os("KALEDGER_REQUIRE_FAULT_TESTS").is_some() {
        panic!("{test}: cannot run: {why}");
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED storage_faults::{test}: {why} (needs root and mount; set KALEDGER_REQUIRE_FAULT_TESTS=1 to make this a failure)"
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Mounts the requested kind under `base`, or prints why not and returns None.
fn mount(test: &str, base: &Path, kind: &str) -> Option<Mounted> {
    if !is_root() {
        skip(test, "not running as root");
        return None;
    }
    let dir = base.join("mnt");
    let mounted = match kind {
        "tmpfs" => Mounted::tmpfs(&dir),
        _ => {
            if Command::new("mkfs.ext4").arg("-V").output().is_err() {
                skip(test, "mkfs.ext4 is not installed (e2fsprogs)");
                return None;
            }
            Mounted::ext4(&dir, &base.join("fs.img"))
        }
    };
    match mounted {
        Ok(m) => Some(m),
        Err(e) => {
            skip(test, &format!("mounting {kind} failed: {e}"));
            None
        }
    }
}

/// Fills the filesystem holding `path` with a file until writes fail.
fn fill(path: &Path) -> u64 {
    let mut file = std::fs::File::create(path).expect("create filler");
    let mut written = 0u64;
    for size in [1 << 20, 4096, 512] {
        let block = vec![0x5au8; size];
        while file.write_all(&block).is_ok() {
            written += size as u64;
        }
    }
    let _ = file.sync_all();
    written
}

/// A batch of `BATCH_LINES` unique sale lines on invoice `invoice`.
fn batch(invoice: &str) -> Value {
    let lines: Vec<Value> = (1..=BATCH_LINES)
        .map(|line| crate::support::sale("fault", invoice, line, "12.34"))
        .collect();
    json!({ "lines": lines })
}

/// POST JSON; returns status, content type and body (Null when not JSON).
fn post(base: &str, token: &str, path: &str, body: &Value) -> (u16, String, Value) {
    let response = http_client()
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(body)
        .send()
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = response.text().unwrap_or_default();
    (
        status,
        content_type,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

#[track_caller]
fn assert_storage_unavailable(what: &str, (status, content_type, body): &(u16, String, Value)) {
    assert_eq!(
        (*status, content_type.as_str(), body["code"].as_str()),
        (503, "application/problem+json", Some("storage_unavailable")),
        "{what} on a full disk: {body}"
    );
    assert_eq!(body["status"], 503, "{body}");
}

fn head(base: &str, token: &str) -> u64 {
    let (status, head) = http_get(&http_client(), base, token, "/v1/audit/head");
    assert_eq!(status, 200, "reads must keep working: {head}");
    head["position"].as_u64().expect("position")
}

/// A server whose disk just filled up: what it acknowledged and what it refused.
struct Full {
    /// Dropped after the server (fields drop in order): the mount outlives the process.
    server: Option<Server>,
    data: PathBuf,
    filler: PathBuf,
    token: String,
    /// Head after the last acknowledged write.
    head: u64,
    /// Sale lines acknowledged (before and while filling).
    acked_lines: u64,
    /// The batch that got the first 503.
    refused: Value,
    _mounted: Mounted,
    _dir: tempfile::TempDir,
}

/// Starts a server on a fresh ledger on `kind`, fills the disk, and posts batches until
/// the first 503. Every answer before it must be 201.
fn fill_until_refused(test: &str, kind: &str) -> Option<Full> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mounted = mount(test, dir.path(), kind)?;
    let data = mounted.dir.join("data");
    let token = cli_token(&data, "fault-admin", "admin");
    let server = Server::start(&data);
    let (status, _, body) = post(
        &server.base,
        &token,
        "/v1/accounts",
        &json!({"account_id": "fault", "name": "Fault Ltd", "scope": "national", "currency": "CNY"}),
    );
    assert_eq!(status, 201, "{body}");
    let (status, _, body) = post(&server.base, &token, "/v1/sales", &batch("INV-BEFORE"));
    assert_eq!(status, 201, "{body}");
    let mut acked_lines = u64::from(BATCH_LINES);
    let filler = mounted.dir.join("filler");
    let filled = fill(&filler);
    assert!(filled > 0, "the filler wrote nothing");

    let mut last_head = head(&server.base, &token);
    for n in 1..=BATCHES_MAX {
        let body = batch(&format!("INV-FULL-{n}"));
        let answer = post(&server.base, &token, "/v1/sales", &body);
        match answer.0 {
            201 => {
                // sled still had room in its current segment.
                assert_eq!(answer.2["recorded"], BATCH_LINES, "{}", answer.2);
                last_head = answer.2["last_position"].as_u64().expect("last_position");
                acked_lines += u64::from(BATCH_LINES);
            }
            _ => {
                assert_storage_unavailable("the first refused batch", &answer);
                let _ = writeln!(
                    std::io::stderr(),
                    "storage_faults::{test}: {kind} full ({filled} filler bytes) after {} more batches; first refusal at head {last_head}",
                    n - 1
                );
                return Some(Full {
                    server: Some(server),
                    data,
                    filler,
                    token,
                    head: last_head,
                    acked_lines,
                    refused: body,
                    _mounted: mounted,
                    _dir: dir,
                });
            }
        }
    }
    panic!("{kind}: {BATCHES_MAX} batches of {BATCH_LINES} lines all succeeded on a full disk");
}

/// The checks that hold while the disk is full, then space back, restart, and the checks
/// after it. Shared by the tmpfs and ext4 tests.
fn disk_full_scenario(test: &str, kind: &str) {
    let Some(mut full) = fill_until_refused(test, kind) else {
        return;
    };
    let server = full.server.take().expect("server");
    let base = server.base.clone();
    let token = full.token.clone();

    // Writes keep failing cleanly: sales, an account, a token; never a 500.
    assert_storage_unavailable(
        "a single line",
        &post(
            &base,
            &token,
            "/v1/sales",
            &json!({"lines": [crate::support::sale("fault", "INV-ONE", 1, "1.00")]}),
        ),
    );
    assert_storage_unavailable(
        "opening an account",
        &post(
            &base,
            &token,
            "/v1/accounts",
            &json!({"account_id": "fault-2", "name": "Fault 2", "scope": "national", "currency": "CNY"}),
        ),
    );
    // Nothing half-written: the head did not move, the account did not appear.
    assert_eq!(
        head(&base, &token),
        full.head,
        "the head moved on a refused write"
    );
    // Reads keep working and show only what was acknowledged.
    let http = http_client();
    let (status, account) = http_get(&http, &base, &token, "/v1/accounts/fault");
    assert_eq!(status, 200, "{account}");
    assert_eq!(account["sale_lines"], full.acked_lines, "{account}");
    let (status, missing) = http_get(&http, &base, &token, "/v1/accounts/fault-2");
    assert_eq!(status, 404, "{missing}");
    let (status, events) = http_get(
        &http,
        &base,
        &token,
        &format!("/v1/audit/events?after={}&limit=10", full.head),
    );
    assert_eq!(status, 200, "{events}");
    assert_eq!(events["events"], json!([]), "refused events are visible");
    let (status, _) = http_get(&http, &base, &token, "/healthz");
    assert_eq!(status, 200);

    // Space back. sled keeps its IO error until the process restarts, so restart.
    std::fs::remove_file(&full.filler).expect("remove filler");
    server.stop();
    let verify = run_cli(["verify".as_ref(), "--data".as_ref(), full.data.as_os_str()]);
    assert!(verify.success(), "{} {}", verify.stdout, verify.stderr);
    assert_eq!(
        verify.json()["verified_through"],
        full.head,
        "offline verify after the disk-full episode"
    );
    let server = Server::start(&full.data);
    assert_eq!(
        head(&server.base, &token),
        full.head,
        "after the restart the head is the last acknowledged write"
    );
    // The refused batch was not half-recorded: all of it records now.
    let (status, _, body) = post(&server.base, &token, "/v1/sales", &full.refused);
    assert_eq!(
        (
            status,
            body["recorded"].as_u64(),
            body["duplicates"].as_u64()
        ),
        (201, Some(u64::from(BATCH_LINES)), Some(0)),
        "{body}"
    );
    let (status, verify) = http_get(&http, &server.base, &token, "/v1/audit/verify");
    assert_eq!(status, 200);
    assert_eq!(
        (verify["ok"].as_bool(), verify["verified_through"].as_u64()),
        (Some(true), Some(full.head + u64::from(BATCH_LINES))),
        "{verify}"
    );
    server.stop();
}

// Proves on a full tmpfs: 503 storage_unavailable problem+json, head unchanged, reads
// working; after space returns and a restart, writes resume, nothing refused was kept,
// and the chain verifies.
#[test]
fn disk_full_on_tmpfs_refuses_writes_and_keeps_reads() {
    disk_full_scenario("disk_full_on_tmpfs_refuses_writes_and_keeps_reads", "tmpfs");
}

// The same on ext4 (loop device): block allocation, not page reservation, runs out.
#[test]
fn disk_full_on_ext4_refuses_writes_and_keeps_reads() {
    disk_full_scenario("disk_full_on_ext4_refuses_writes_and_keeps_reads", "ext4");
}

// Proves that on a read-only data directory the server refuses to start with a clear
// error (not a panic), and starts once it is writable again. (A live read-only remount is
// refused by the kernel while sled holds its file open for writing: "mount point is busy".)
#[test]
fn read_only_data_directory_is_refused_clearly_at_start() {
    let test = "read_only_data_directory_is_refused_clearly_at_start";
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(mounted) = mount(test, dir.path(), "tmpfs") else {
        return;
    };
    let data = mounted.dir.join("data");
    let token = cli_token(&data, "ro-admin", "admin");
    mounted.remount("ro").expect("remount read-only");
    let out = run_cli([
        "serve".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
    ]);
    assert!(
        !out.success(),
        "served a read-only directory: {}",
        out.stdout
    );
    assert!(
        out.stderr.contains("Read-only file system"),
        "unclear refusal: {}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    mounted.remount("rw").expect("remount read-write");
    let server = Server::start(&data);
    assert_eq!(head(&server.base, &token), 1);
    server.stop();
}

// After a failed flush sled 0.34 keeps a sticky global IO error (`Config::global_error`,
// reset only when the database is opened again), so the writer cannot remove the refused
// group from sled's in-memory tree. The writer then stops deciding writes (503) instead of
// answering from a state that holds the refused group, and reopens the store once the
// directory accepts writes again (`engine::writer::Writer::recover`). These two tests were written
// against the first version, which acknowledged a retried refused batch as duplicates.

// Proves a refused batch retried while the disk is still full is refused again (503), never
// acknowledged as duplicates of lines that are not on disk; after a restart it records.
#[test]
fn a_refused_batch_retried_on_a_full_disk_is_not_acknowledged() {
    let test = "a_refused_batch_retried_on_a_full_disk_is_not_acknowledged";
    let Some(mut full) = fill_until_refused(test, "tmpfs") else {
        return;
    };
    let server = full.server.take().expect("server");
    let (retry_status, _, retry) = post(&server.base, &full.token, "/v1/sales", &full.refused);
    let (_, verify) = http_get(
        &http_client(),
        &server.base,
        &full.token,
        "/v1/audit/verify",
    );
    server.stop();
    std::fs::remove_file(&full.filler).expect("remove filler");
    let server = Server::start(&full.data);
    let (after_status, _, after) = post(&server.base, &full.token, "/v1/sales", &full.refused);
    server.stop();
    assert_eq!(
        (after_status, after["recorded"].as_u64()),
        (201, Some(u64::from(BATCH_LINES))),
        "after the restart: {after}"
    );
    assert_eq!(
        retry_status, 503,
        "retrying the refused batch on the full disk answered {retry_status} {retry} \
         (live verify then said {verify}, head {}); after a restart the same batch answered \
         {after_status} {after}",
        full.head
    );
}

// Proves that while the disk is full the live `GET /v1/audit/verify` never counts the
// refused group, and once space is back writes resume without a restart (a client retrying
// on 503 gets its 201 within a few seconds), the refused batch then records whole, and the
// chain verifies through it.
#[test]
fn disk_full_recovers_without_restart() {
    let test = "disk_full_recovers_without_restart";
    let Some(mut full) = fill_until_refused(test, "tmpfs") else {
        return;
    };
    let server = full.server.take().expect("server");
    let (_, verify) = http_get(
        &http_client(),
        &server.base,
        &full.token,
        "/v1/audit/verify",
    );
    std::fs::remove_file(&full.filler).expect("remove filler");
    let one = json!({"lines": [crate::support::sale("fault", "INV-AFTER", 1, "1.00")]});
    let mut answer = post(&server.base, &full.token, "/v1/sales", &one);
    for _ in 0..50 {
        if answer.0 != 503 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        answer = post(&server.base, &full.token, "/v1/sales", &one);
    }
    let (status, _, body) = answer;
    let (refused_status, _, refused) = post(&server.base, &full.token, "/v1/sales", &full.refused);
    let (_, after) = http_get(
        &http_client(),
        &server.base,
        &full.token,
        "/v1/audit/verify",
    );
    server.stop();
    assert_eq!(
        status, 201,
        "with space back: a new line answered {status} {body}"
    );
    // While the disk was full the live verify either could not read sled (503, sled keeps
    // its IO error for reads too) or verified exactly the acknowledged log; never more.
    assert!(
        verify["verified_through"].as_u64() == Some(full.head)
            || verify["code"] == "storage_unavailable",
        "the live verify said {verify} at head {}",
        full.head
    );
    assert_eq!(
        (refused_status, refused["recorded"].as_u64()),
        (201, Some(u64::from(BATCH_LINES))),
        "{refused}"
    );
    assert_eq!(after["ok"], true, "{after}");
}
