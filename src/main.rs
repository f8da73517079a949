//! `kaledger` binary: parse the command line and run it.

/// mimalloc: replay and ingestion allocate and free millions of small strings; glibc's
/// malloc spent a quarter of replay time in its free lists.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    kaledger::cli::main()
}
