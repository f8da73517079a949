//! `kaledger backup`, `kaledger restore` and `kaledger verify --backup` (file format:
//! `ledger::backup`; what goes in it: `engine::backup`).

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::offline::existing_ledger;
use super::CliResult;
use crate::engine::backup::BACKUP_POSITION_HEADER;
use crate::engine::backup::{
    check_backup, restore_backup, write_backup, BackupPoint, CheckedBackup,
};
use crate::engine::{replay, LineHome};
use crate::ledger::backup::{BackupCounts, BackupError, BackupHeader, BackupReader};
use crate::ledger::envelope::hash_hex;
use crate::ledger::LogStore;

/// How long `backup --url` waits for the server to accept the connection.
const CONNECT_SECONDS_MAX: u64 = 10;

/// Where a backup comes from.
pub enum Source<'a> {
    /// A stopped ledger's data directory.
    Data(&'a Path),
    /// A running server and an admin token.
    Server { url: &'a str, token: &'a str },
}

/// A sibling of `path` named `.{name}.{what}-{pid}`: written first, renamed into place
/// only when complete, so `path` never holds half of anything.
fn staging_path(path: &Path, what: &str) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let name = path
        .file_name()
        .ok_or_else(|| format!("\"{}\" names no file or directory", path.display()))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(format!(
            "the directory {} does not exist; create it first",
            parent.display()
        )
        .into());
    }
    Ok(parent.join(format!(
        ".{}.{what}-{}",
        name.to_string_lossy(),
        std::process::id()
    )))
}

/// Creates (or truncates) a file only its owner can read: a backup holds every account,
/// sale and token hash of the ledger.
fn create_private(path: &Path) -> Result<File, Box<dyn std::error::Error>> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()).into())
}

/// Syncs the directory holding `path`, so a rename into it survives a power cut.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => File::open(p)?.sync_all(),
        _ => File::open(".")?.sync_all(),
    }
}

/// The summary printed by `backup` and `restore`.
fn summary(
    header: &BackupHeader,
    counts: &BackupCounts,
    digest: Option<&str>,
    elapsed: Duration,
    path_key: &str,
    path: &Path,
) -> serde_json::Value {
    serde_json::json!({
        "position": header.position,
        "head_hash": hash_hex(&header.head_hash),
        "digest": digest,
        "events": counts.events,
        "chunks": counts.chunks,
        "idempotency_records": counts.idempotency_records,
        "bytes": counts.bytes,
        "elapsed_ms": elapsed.as_millis() as u64,
        path_key: path.display().to_string(),
    })
}

/// `kaledger backup`: writes the backup beside `out`, checks it, and renames it into place.
pub fn backup(source: Source<'_>, out: &Path) -> CliResult {
    let started = Instant::now();
    let staging = staging_path(out, "partial")?;
    let written = match source {
        Source::Data(data) => backup_offline(data, &staging),
        Source::Server { url, token } => backup_from_server(url, token, &staging),
    };
    let (header, counts) = match written {
        Ok(done) => done,
        Err(e) => {
            let _ = std::fs::remove_file(&staging);
            return Err(format!(
                "backup failed, nothing was written to {}: {e}",
                out.display()
            )
            .into());
        }
    };
    std::fs::rename(&staging, out)
        .map_err(|e| format!("cannot move the backup to {}: {e}", out.display()))?;
    sync_parent(out)?;
    let digest = header.digest.clone();
    println!(
        "{}",
        summary(
            &header,
            &counts,
            digest.as_deref(),
            started.elapsed(),
            "file",
            out
        )
    );
    Ok(ExitCode::SUCCESS)
}

/// A backup of a stopped ledger: replayed first, for the digest at its head.
fn backup_offline(
    data: &Path,
    staging: &Path,
) -> Result<(BackupHeader, BackupCounts), Box<dyn std::error::Error>> {
    existing_ledger(data)?;
    let store = LogStore::open(data)?;
    let point = BackupPoint::of(&replay(&store, &LineHome::of_data_dir(&store)?)?);
    let mut file = BufWriter::new(create_private(staging)?);
    write_backup(&store, &point, &mut file)?;
    file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    read_through(staging)
}

/// Reads a written backup through (chain, trailer), without replaying it.
fn read_through(path: &Path) -> Result<(BackupHeader, BackupCounts), Box<dyn std::error::Error>> {
    let mut reader = BackupReader::open(BufReader::new(File::open(path)?))?;
    while reader.next_record()?.is_some() {}
    Ok((reader.header().clone(), reader.counts()))
}

/// A backup streamed from `GET /v1/admin/backup` of a running server.
fn backup_from_server(
    url: &str,
    token: &str,
    staging: &Path,
) -> Result<(BackupHeader, BackupCounts), Box<dyn std::error::Error>> {
    let base = url.trim_end_matches('/');
    if !base.starts_with("http://") {
        return Err(format!(
            "--url \"{url}\" must start with http:// (the server speaks plain HTTP; from another machine, use an SSH tunnel)"
        )
        .into());
    }
    let client = reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(CONNECT_SECONDS_MAX))
        // A large backup takes as long as it takes; a broken connection still ends it.
        .timeout(None)
        .no_proxy()
        .build()?;
    let mut response = client
        .get(format!("{base}/v1/admin/backup"))
        .bearer_auth(token)
        .send()
        .map_err(|e| format!("cannot reach {base}: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().unwrap_or_default();
        let detail = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|p| p["detail"].as_str().map(str::to_string))
            .unwrap_or(text);
        return Err(
            format!("the server answered {status}: {detail} (an admin token is needed)").into(),
        );
    }
    let announced = response
        .headers()
        .get(BACKUP_POSITION_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut file = BufWriter::new(create_private(staging)?);
    response
        .copy_to(&mut file)
        .map_err(|e| format!("the download broke off: {e}"))?;
    file.flush()?;
    file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    let (header, counts) = read_through(staging)?;
    if announced != Some(header.position) {
        return Err(format!(
            "the server announced position {announced:?}, the file holds {}",
            header.position
        )
        .into());
    }
    Ok((header, counts))
}

/// Refuses a restore target that holds anything.
fn empty_target(data: &Path) -> Result<(), Box<dyn std::error::Error>> {
    if !data.exists() {
        return Ok(());
    }
    if !data.is_dir() {
        return Err(format!(
            "{} exists and is not a directory; restore into a new directory",
            data.display()
        )
        .into());
    }
    if std::fs::read_dir(data)?.next().is_some() {
        return Err(format!(
            "{} is not empty; restore into a new or empty directory (nothing was written)",
            data.display()
        )
        .into());
    }
    Ok(())
}

/// `kaledger restore`: builds the ledger in a sibling directory and renames it to `data`
/// only when the whole backup was checked, written, replayed and matched its digest.
pub fn restore(from: &Path, data: &Path) -> CliResult {
    let started = Instant::now();
    empty_target(data)?;
    let file =
        File::open(from).map_err(|e| format!("cannot open the backup {}: {e}", from.display()))?;
    let staging = staging_path(data, "restoring")?;
    std::fs::create_dir(&staging)
        .map_err(|e| format!("cannot create {}: {e}", staging.display()))?;
    let restored = LogStore::open(&staging)
        .map_err(BackupError::from)
        .and_then(|store| restore_backup(BufReader::new(file), &store));
    let checked = match restored {
        Ok(checked) => checked,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(format!(
                "refused to restore {}: {e}; nothing was written to {}",
                from.display(),
                data.display()
            )
            .into());
        }
    };
    if let Err(e) = std::fs::rename(&staging, data) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(format!("cannot move the restored ledger to {}: {e}", data.display()).into());
    }
    sync_parent(data)?;
    print_checked(&checked, started.elapsed(), "data", data);
    Ok(ExitCode::SUCCESS)
}

fn print_checked(checked: &CheckedBackup, elapsed: Duration, key: &str, path: &Path) {
    let mut report = summary(
        &checked.header,
        &checked.counts,
        Some(&checked.digest),
        elapsed,
        key,
        path,
    );
    report["digest_checked"] = checked.header.digest.is_some().into();
    println!("{report}");
}

/// `kaledger verify --backup`: reads the file through and replays it in memory; exit 1
/// naming the first bad position (or the damage) when anything does not check.
pub fn verify_backup(path: &Path) -> CliResult {
    let started = Instant::now();
    let file =
        File::open(path).map_err(|e| format!("cannot open the backup {}: {e}", path.display()))?;
    match check_backup(BufReader::new(file)) {
        Ok(checked) => {
            let mut report = summary(
                &checked.header,
                &checked.counts,
                Some(&checked.digest),
                started.elapsed(),
                "file",
                path,
            );
            report["ok"] = true.into();
            report["verified_through"] = checked.header.position.into();
            report["digest_checked"] = checked.header.digest.is_some().into();
            println!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            // A broken chain names its first bad position; damage elsewhere has none.
            let (first_bad_position, verified_through, reason) = match &error {
                BackupError::Broken {
                    first_bad_position,
                    verified_through,
                    reason,
                } => (Some(*first_bad_position), *verified_through, reason),
                BackupError::Damaged {
                    verified_through,
                    reason,
                } => (None, *verified_through, reason),
                other => {
                    return Err(
                        format!("cannot check the backup {}: {other}", path.display()).into(),
                    )
                }
            };
            eprintln!("kaledger: {error}");
            println!(
                "{}",
                serde_json::json!({"ok": false, "verified_through": verified_through,
                "first_bad_position": first_bad_position, "reason": reason, "file": path.display().to_string()})
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
