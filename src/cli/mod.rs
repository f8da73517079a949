//! The command line (DESIGN §7): one file per subcommand; this file parses and routes.

pub mod backup;
pub mod demo;
pub mod fixtures;
pub mod import;
pub mod offline;
pub mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::domain::vocab::Role;

/// Event-sourced incentive and rebate ledger for key accounts.
#[derive(Debug, Parser)]
#[command(name = "kaledger", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Commands,
}

/// Where the ledger's data lives.
#[derive(Debug, clap::Args)]
pub struct DataArgs {
    /// Data directory (one sled database; one process at a time).
    #[arg(long, env = "KALEDGER_DATA", default_value = "kaledger-data")]
    pub data: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Serve the HTTP API.
    Serve {
        #[command(flatten)]
        data: DataArgs,
        /// Address to listen on.
        #[arg(long, env = "KALEDGER_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        #[command(flatten)]
        transport: serve::TransportArgs,
    },
    /// Load the demo data set into a fresh data directory, print a token per role and
    /// example requests, and serve.
    Demo {
        /// Data directory for the demo (emptied first if it holds an earlier demo).
        #[arg(long, default_value = "kaledger-demo")]
        data: PathBuf,
        #[arg(long, env = "KALEDGER_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Directory with accounts.csv, sales.csv and returns.csv (generated when missing).
        #[arg(long, default_value = "fixtures/demo")]
        fixtures: PathBuf,
        /// Load and print, but do not serve (for scripts and tests).
        #[arg(long)]
        no_serve: bool,
        #[command(flatten)]
        transport: serve::TransportArgs,
    },
    /// Import accounts, sales or returns from CSV or JSONL files, with the API's validation
    /// and dedupe (each chunk of 10,000 lines is one atomic batch).
    Import {
        #[command(flatten)]
        data: DataArgs,
        /// What the files hold; guessed from the columns when not given.
        #[arg(long, value_enum)]
        kind: Option<import::Kind>,
        /// Files to import, in order (.csv or .jsonl).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Recompute the hash chain; exit 1 and name the first bad position when it is broken.
    Verify {
        #[command(flatten)]
        data: DataArgs,
        /// Check a backup file instead of a data directory (chain, trailer, and the
        /// projections digest by replaying it in memory); writes nothing.
        #[arg(long, value_name = "FILE")]
        backup: Option<PathBuf>,
    },
    /// Write a backup file as of one position: of a stopped ledger (--data), or of a
    /// running server (--url and an admin --token) while it keeps writing.
    Backup {
        /// Data directory of a stopped ledger.
        #[arg(long, required_unless_present = "url", conflicts_with = "url")]
        data: Option<PathBuf>,
        /// Base URL of a running server, e.g. http://127.0.0.1:8080.
        #[arg(long, requires = "token")]
        url: Option<String>,
        /// An admin bearer token (with --url).
        #[arg(long, env = "KALEDGER_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// The backup file (written beside it first, renamed when complete).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Restore a backup into a new data directory: the same positions, event ids, hashes
    /// and projections digest; a damaged or cut-short file is refused and nothing written.
    Restore {
        /// The backup file.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// The new data directory (absent or empty).
        #[arg(long, value_name = "NEWDIR")]
        data: PathBuf,
    },
    /// Rebuild every projection from the log and print its digest (compare with
    /// GET /v1/audit/projections of a live server).
    Rebuild {
        #[command(flatten)]
        data: DataArgs,
        /// Replay only the positions up to this one (the ledger as it stood then, e.g. at
        /// a backup's position).
        #[arg(long, value_name = "POSITION")]
        through: Option<u64>,
    },
    /// Write the whole log as JSONL (one audit event per line).
    Export {
        #[command(flatten)]
        data: DataArgs,
        /// Output file (standard output when absent).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Reports from the ledger (offline; the server must be stopped).
    Report {
        #[command(subcommand)]
        action: ReportAction,
    },
    /// Manage bearer tokens offline (the server must be stopped).
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Generate deterministic data sets.
    Fixtures {
        #[command(subcommand)]
        action: FixturesAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Issue a token; prints only the token on standard output.
    Create {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// List tokens (never the tokens themselves).
    List {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Revoke a token by name.
    Revoke {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        name: String,
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReportAction {
    /// Rebate liability: per program, account and period, entitlement, approved, pending,
    /// outstanding; totals per currency with clawbacks due.
    Liability {
        #[command(flatten)]
        data: DataArgs,
        /// Periods starting on or before this day (default today, UTC).
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
        /// json or csv.
        #[arg(long, default_value = "json")]
        format: String,
    },
    /// Net revenue by account with cumulative shares: the 20/80 report.
    Pareto {
        #[command(flatten)]
        data: DataArgs,
        /// Last day of the window (default today, UTC).
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
        /// Months in the window (1–36).
        #[arg(long, default_value_t = 12)]
        window_months: u32,
        /// Required when accounts trade in several currencies.
        #[arg(long)]
        currency: Option<String>,
        /// json or csv.
        #[arg(long, default_value = "json")]
        format: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum FixturesAction {
    /// Write accounts.csv, sales.csv and returns.csv for benches and load tests.
    Generate {
        #[arg(long, default_value_t = 500)]
        accounts: usize,
        #[arg(long, default_value_t = 1_000_000)]
        lines: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// First day of sales.
        #[arg(long, default_value = "2024-11-01")]
        start: chrono::NaiveDate,
        /// Calendar months covered.
        #[arg(long, default_value_t = 24)]
        months: u32,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    text.parse()
}

/// Errors of a command, printed with their whole cause chain.
pub type CliResult = Result<ExitCode, Box<dyn std::error::Error>>;

/// Parses the command line and runs it; `serve` is the HTTP server of `serve` and `demo`
/// (the binary passes the API's).
pub fn main(serve: serve::Serve) -> ExitCode {
    let cli = Cli::parse();
    match run(cli, serve) {
        Ok(code) => code,
        Err(e) => {
            let mut message = format!("kaledger: {e}");
            let mut source = e.source();
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli, serve: serve::Serve) -> CliResult {
    // A server logs from `info`; an offline command (import, verify, rebuild, backup …)
    // only what went wrong, such as a checkpoint passed over or derived stores rebuilt.
    if !matches!(cli.command, Commands::Serve { .. } | Commands::Demo { .. }) {
        init_tracing_from("warn");
    }
    match cli.command {
        Commands::Serve {
            data,
            listen,
            transport,
        } => serve::run(&data.data, &listen, &transport, serve),
        Commands::Demo {
            data,
            listen,
            fixtures,
            no_serve,
            transport,
        } => demo::run(&data, &listen, &fixtures, no_serve, &transport, serve),
        Commands::Import { data, kind, files } => import::run(&data.data, kind, &files),
        Commands::Verify { data, backup } => match backup {
            Some(file) => backup::verify_backup(&file),
            None => offline::verify(&data.data),
        },
        Commands::Backup {
            data,
            url,
            token,
            out,
        } => {
            let source = match (&data, &url, &token) {
                (Some(data), _, _) => backup::Source::Data(data),
                (None, Some(url), Some(token)) => backup::Source::Server { url, token },
                _ => return Err("give --data DIR, or --url URL with --token TOKEN".into()),
            };
            backup::backup(source, &out)
        }
        Commands::Restore { from, data } => backup::restore(&from, &data),
        Commands::Rebuild { data, through } => offline::rebuild(&data.data, through),
        Commands::Export { data, output } => offline::export(&data.data, output.as_deref()),
        Commands::Report { action } => match action {
            ReportAction::Liability {
                data,
                as_of,
                format,
            } => offline::report_liability(&data.data, as_of, &format),
            ReportAction::Pareto {
                data,
                as_of,
                window_months,
                currency,
                format,
            } => offline::report_pareto(
                &data.data,
                as_of,
                window_months,
                currency.as_deref(),
                &format,
            ),
        },
        Commands::Token { action } => match action {
            TokenAction::Create { data, name, role } => {
                offline::token_create(&data.data, &name, role)
            }
            TokenAction::List { data } => offline::token_list(&data.data),
            TokenAction::Revoke { data, name, reason } => {
                offline::token_revoke(&data.data, &name, reason)
            }
        },
        Commands::Fixtures { action } => match action {
            FixturesAction::Generate {
                accounts,
                lines,
                seed,
                start,
                months,
                out,
            } => {
                let spec = fixtures::FixtureSpec {
                    accounts,
                    lines,
                    seed,
                    start,
                    months,
                };
                let summary = fixtures::generate(&spec, &out)?;
                println!(
                    "wrote {} accounts, {} sale lines, {} return lines to {}",
                    summary.accounts,
                    summary.sales,
                    summary.returns,
                    out.display()
                );
                Ok(ExitCode::SUCCESS)
            }
        },
    }
}

/// Logs to standard error, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    init_tracing_from("info");
}

/// Logs to standard error, filtered by `RUST_LOG` (default `level`).
fn init_tracing_from(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // Colours only on a terminal: a log file or a pipe gets plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .try_init();
}
