//! `kaledger import`: accounts, sales and returns from CSV or JSONL files, through the
//! same decoding, validation and dedupe as the HTTP API. Each chunk of up to 10,000
//! lines is one atomic batch; a refused chunk stops the import with every bad line named
//! (earlier chunks stay recorded, and re-running the fixed file skips them as duplicates).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};

use super::offline::cli_actor;
use super::CliResult;
use crate::domain::commands::{OpenAccount, ReturnLineInput, SaleLineInput};
use crate::domain::limits::BATCH_LINES_MAX;
use crate::domain::{Command, DomainError, FieldError};
use crate::engine::{Engine, EngineError, WriteMeta};
use crate::input::accounts::{account_from_row, OpenAccountRequest, ACCOUNT_COLUMNS};
use crate::input::csv_rows::CsvRows;
use crate::input::json::parse_json;
use crate::input::sales::{
    return_from_row, sale_from_row, ReturnLineJson, SaleLineJson, RETURN_COLUMNS, SALE_COLUMNS,
};
use crate::input::InputError;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Accounts,
    Sales,
    Returns,
}

/// Counts of one import.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportSummary {
    pub recorded: u64,
    pub duplicates: u64,
}

/// `kaledger import`.
pub fn run(data: &Path, kind: Option<Kind>, files: &[std::path::PathBuf]) -> CliResult {
    let engine = Engine::open(data)?;
    let mut total = ImportSummary::default();
    let mut failure = None;
    for file in files {
        match import_file(&engine, kind, file, true) {
            Ok(summary) => {
                eprintln!(
                    "{}: {} recorded, {} duplicates",
                    file.display(),
                    summary.recorded,
                    summary.duplicates
                );
                total.recorded += summary.recorded;
                total.duplicates += summary.duplicates;
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    engine.shutdown_blocking();
    if let Some(e) = failure {
        return Err(e);
    }
    eprintln!(
        "imported: {} recorded, {} duplicates",
        total.recorded, total.duplicates
    );
    Ok(ExitCode::SUCCESS)
}

/// Guesses the kind from column or field names.
fn guess_kind(names: &[String]) -> Option<Kind> {
    let has = |n: &str| names.iter().any(|x| x == n);
    if has("return_id") {
        Some(Kind::Returns)
    } else if has("scope") || has("name") {
        Some(Kind::Accounts)
    } else if has("invoice_id") {
        Some(Kind::Sales)
    } else {
        None
    }
}

fn first_line_names(path: &Path, jsonl: bool) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut first = String::new();
    BufReader::new(File::open(path)?).read_line(&mut first)?;
    if jsonl {
        let value: serde_json::Value = serde_json::from_str(first.trim())
            .map_err(|e| format!("{}: line 1: {e}", path.display()))?;
        Ok(value
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default())
    } else {
        Ok(first
            .trim()
            .split(',')
            .map(|s| s.trim().trim_matches('"').to_string())
            .collect())
    }
}

/// Imports one file; `progress` draws a progress bar on standard error.
pub fn import_file(
    engine: &Engine,
    kind: Option<Kind>,
    path: &Path,
    progress: bool,
) -> Result<ImportSummary, Box<dyn std::error::Error>> {
    let jsonl = path
        .extension()
        .is_some_and(|e| e == "jsonl" || e == "ndjson" || e == "json");
    let kind = match kind {
        Some(k) => k,
        None => guess_kind(&first_line_names(path, jsonl)?).ok_or_else(|| {
            format!(
                "{}: cannot tell accounts, sales or returns apart; pass --kind",
                path.display()
            )
        })?,
    };
    let size = std::fs::metadata(path)?.len();
    let bar = if progress {
        ProgressBar::new(size)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(path.display().to_string());
    let source = Source::open(path, jsonl, kind)?;
    let mut summary = ImportSummary::default();
    let mut first_row = 1usize;
    std::thread::scope(|scope| -> Result<(), Box<dyn std::error::Error>> {
        // One chunk is parsed while the one before it is written; chunks are still
        // submitted one at a time, in file order, each after the previous one's answer.
        let (sender, chunks) = std::sync::mpsc::sync_channel(1);
        scope.spawn(move || read_ahead(source, kind, path, sender));
        for parsed in chunks {
            let Parsed {
                chunk,
                rows,
                bytes_read,
            } = parsed?;
            let outcome = submit(engine, kind, chunk, path, first_row)?;
            summary.recorded += outcome.recorded;
            summary.duplicates += outcome.duplicates;
            first_row += rows;
            bar.set_position(bytes_read);
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    Ok(summary)
}

/// One chunk as the reader thread hands it over, with how far into the file it ends.
struct Parsed {
    chunk: Chunk,
    rows: usize,
    bytes_read: u64,
}

/// The reader thread: parses `source` chunk by chunk into `sender` until the file ends, a
/// chunk does not parse (sent as the error that stops the import) or the importer stopped
/// listening (a refused chunk).
fn read_ahead(
    mut source: Source,
    kind: Kind,
    path: &Path,
    sender: std::sync::mpsc::SyncSender<Result<Parsed, String>>,
) {
    loop {
        let parsed = match source.next_chunk(kind) {
            Ok(None) => return,
            Ok(Some((chunk, rows))) => Ok(Parsed {
                chunk,
                rows,
                bytes_read: source.bytes_read(),
            }),
            Err(e) => Err(format!("{}: {e}", path.display())),
        };
        let stop = parsed.is_err();
        if sender.send(parsed).is_err() || stop {
            return;
        }
    }
}

fn meta() -> WriteMeta {
    WriteMeta::new(cli_actor(), None, &[], uuid::Uuid::new_v4().to_string())
}

fn submit(
    engine: &Engine,
    kind: Kind,
    command: Chunk,
    path: &Path,
    first_row: usize,
) -> Result<ImportSummary, Box<dyn std::error::Error>> {
    match command {
        Chunk::Accounts(accounts) => {
            let mut summary = ImportSummary::default();
            for (offset, account) in accounts.into_iter().enumerate() {
                match account {
                    Err(message) => {
                        return Err(format!(
                            "{}: row {}: {message}",
                            path.display(),
                            first_row + offset
                        )
                        .into())
                    }
                    Ok(open) => match engine.submit_blocking(Command::OpenAccount(open), meta()) {
                        Ok(_) => summary.recorded += 1,
                        Err(EngineError::Domain(DomainError::AccountExists(_))) => {
                            summary.duplicates += 1
                        }
                        Err(e) => {
                            return Err(format!(
                                "{}: row {}: {}",
                                path.display(),
                                first_row + offset,
                                refusal(&e).0
                            )
                            .into())
                        }
                    },
                }
            }
            Ok(summary)
        }
        Chunk::Lines(command) => match engine.submit_blocking(*command, meta()) {
            Ok(outcome) => Ok(ImportSummary {
                recorded: outcome.recorded,
                duplicates: outcome.duplicates,
            }),
            Err(e) => {
                let (refused, errors) = refusal(&e);
                let mut message = format!(
                    "{}: {kind:?} rows {first_row}.. refused: {refused}",
                    path.display()
                );
                for error in errors.iter().take(20) {
                    let row = error
                        .index
                        .map(|i| (first_row + i).to_string())
                        .unwrap_or_default();
                    message.push_str(&format!(
                        "\n  row {row}: {} {}: {}",
                        error.field, error.code, error.message
                    ));
                }
                if errors.len() > 20 {
                    message.push_str(&format!("\n  … and {} more", errors.len() - 20));
                }
                Err(message.into())
            }
        },
    }
}

enum Chunk {
    Accounts(Vec<Result<OpenAccount, String>>),
    Lines(Box<Command>),
}

/// Rows of a CSV or JSONL file, in chunks.
enum Source {
    Csv(CsvRows<BufReader<File>>),
    Jsonl {
        lines: std::io::Lines<BufReader<File>>,
        bytes: u64,
        /// Lines read so far (blank ones included), to name a line that does not parse.
        line_number: usize,
    },
}

impl Source {
    fn open(path: &Path, jsonl: bool, kind: Kind) -> Result<Source, Box<dyn std::error::Error>> {
        let reader = BufReader::new(File::open(path)?);
        if jsonl {
            return Ok(Source::Jsonl {
                lines: reader.lines(),
                bytes: 0,
                line_number: 0,
            });
        }
        let columns = match kind {
            Kind::Accounts => ACCOUNT_COLUMNS,
            Kind::Sales => SALE_COLUMNS,
            Kind::Returns => RETURN_COLUMNS,
        };
        Ok(Source::Csv(
            CsvRows::new(reader, columns).map_err(|e| format!("{}: {e}", path.display()))?,
        ))
    }

    fn bytes_read(&self) -> u64 {
        match self {
            Source::Csv(rows) => rows.bytes_read(),
            Source::Jsonl { bytes, .. } => *bytes,
        }
    }

    /// Up to [`BATCH_LINES_MAX`] rows as one command, and how many rows it holds.
    fn next_chunk(
        &mut self,
        kind: Kind,
    ) -> Result<Option<(Chunk, usize)>, Box<dyn std::error::Error>> {
        let mut sales: Vec<SaleLineInput> = Vec::new();
        let mut returns: Vec<ReturnLineInput> = Vec::new();
        let mut accounts: Vec<Result<OpenAccount, String>> = Vec::new();
        let mut rows = 0;
        while rows < BATCH_LINES_MAX {
            match self {
                Source::Csv(csv) => {
                    let Some(row) = csv.next_row()? else { break };
                    match kind {
                        Kind::Sales => sales.push(sale_from_row(row)),
                        Kind::Returns => returns.push(return_from_row(row)),
                        Kind::Accounts => accounts.push(account_from_row(row)),
                    }
                }
                Source::Jsonl {
                    lines,
                    bytes,
                    line_number,
                } => {
                    let Some(line) = lines.next() else { break };
                    let line = line?;
                    *bytes += line.len() as u64 + 1;
                    *line_number += 1;
                    if line.trim().is_empty() {
                        continue;
                    }
                    // serde's "line 1 column N" is within this one line: name the file's line.
                    let at_line = |e: InputError| format!("line {line_number}: {e}");
                    match kind {
                        Kind::Sales => sales.push(
                            parse_json::<SaleLineJson>(line.as_bytes())
                                .map_err(at_line)?
                                .into(),
                        ),
                        Kind::Returns => returns.push(
                            parse_json::<ReturnLineJson>(line.as_bytes())
                                .map_err(at_line)?
                                .into(),
                        ),
                        Kind::Accounts => accounts.push(account_from_json(&line)),
                    }
                }
            }
            rows += 1;
        }
        if rows == 0 {
            return Ok(None);
        }
        let chunk = match kind {
            Kind::Sales => Chunk::Lines(Box::new(Command::RecordSales { lines: sales })),
            Kind::Returns => Chunk::Lines(Box::new(Command::RecordReturns { lines: returns })),
            Kind::Accounts => Chunk::Accounts(accounts),
        };
        Ok(Some((chunk, rows)))
    }
}

fn account_from_json(line: &str) -> Result<OpenAccount, String> {
    serde_json::from_str::<OpenAccountRequest>(line)
        .map(Into::into)
        .map_err(|e| e.to_string())
}

/// The words of a refused write: the domain's message and code with its per-line field
/// errors, or the engine's own message when the write could not be made at all.
fn refusal(e: &EngineError) -> (String, &[FieldError]) {
    match e {
        EngineError::Domain(d) => (format!("{d} ({})", d.code()), d.field_errors()),
        other => (other.to_string(), &[]),
    }
}
